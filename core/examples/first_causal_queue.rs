//! A first causal queue: Carol receives Bob's answer before Alice's question, and the
//! queue holds the answer back until the question has been delivered.
//!
//! Run: `cargo run -p tempora-core --example first_causal_queue`

use std::io::Write;

use tempora_core::causal::{CausalQueue, Receipt};
use tempora_core::NodeId;

fn main() -> std::io::Result<()> {
    first_causal_queue(&mut std::io::stdout())
}

pub fn first_causal_queue(out: &mut impl Write) -> std::io::Result<()> {
    // A group of up to 4 nodes; each holds back at most 8 messages. Fixed capacity,
    // no allocation: the same code runs in firmware.
    let mut alice = CausalQueue::<&str, 4, 8>::new(NodeId(1));
    let mut bob = CausalQueue::<&str, 4, 8>::new(NodeId(2));
    let mut carol = CausalQueue::<&str, 4, 8>::new(NodeId(3));

    // Alice asks; Bob answers after seeing the question, so the answer depends on it.
    let question = alice.send("who has the lock?").unwrap();
    bob.receive(question.clone(), |_| {}).unwrap();
    let answer = bob.send("I do").unwrap();

    // The network delivers the answer to Carol first: it is held, not delivered.
    let mut delivered = Vec::new();
    let receipt = carol.receive(answer, |m| delivered.push(m)).unwrap();
    assert_eq!(receipt, Receipt::Held);
    let mut gaps = Vec::new();
    carol.missing(|gap| gaps.push(gap)); // what to ask the network to resend
    for gap in &gaps {
        writeln!(
            out,
            "carol holds the answer, missing message {} of node {}",
            gap.first, gap.node
        )?;
    }

    // The question arrives: both are delivered, question first.
    let receipt = carol.receive(question, |m| delivered.push(m)).unwrap();
    assert_eq!(receipt, Receipt::Delivered { count: 2 });
    for m in &delivered {
        writeln!(
            out,
            "carol delivers {:?}, message {} of node {}",
            m.payload,
            m.seq(),
            m.sender
        )?;
    }
    assert_eq!(delivered[0].payload, "who has the lock?");
    assert_eq!(carol.stats().delivered, 2);
    Ok(())
}
