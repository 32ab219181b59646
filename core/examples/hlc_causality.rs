//! Two nodes whose physical clocks disagree by 40 ms exchange a message: the hybrid
//! logical clock still orders the reply after the request, and refuses a peer whose
//! clock is beyond the configured maximum offset.
//!
//! Run: `cargo run -p tempora-core --example hlc_causality`

use tempora_core::clock::ManualClock;
use tempora_core::hlc::Hlc;
use tempora_core::time::Utc;
use tempora_core::timestamp::NodeId;

fn main() {
    const SECOND: u64 = 1_000_000_000;
    // Node 1's clock runs 40 ms ahead of node 2's.
    let clock_1 = ManualClock::<Utc>::new(1_700_000_000 * SECOND + 40_000_000);
    let clock_2 = ManualClock::<Utc>::new(1_700_000_000 * SECOND);
    let node_1 = Hlc::new(&clock_1, NodeId(1));
    let node_2 = Hlc::new(&clock_2, NodeId(2));

    let request = node_1.now();
    println!("node 1 sends its request at       {request}");
    // 1 ms on the wire; node 2's own clock still reads 39 ms before the request.
    clock_1.advance(1_000_000);
    clock_2.advance(1_000_000);
    let received = node_2.update(request).expect("within the maximum offset");
    println!("node 2 receives it at             {received}");
    assert!(received > request, "the receipt is ordered after the send");
    let reply = node_2.now();
    println!("node 2 replies at                 {reply}");
    assert!(reply > received);
    let answered = node_1.update(reply).expect("within the maximum offset");
    println!("node 1 receives the reply at      {answered}");
    assert!(answered > reply);

    // A peer 2 s ahead is beyond the default 500 ms maximum offset: refused, and the
    // local clock is not dragged forward.
    let rogue_clock = ManualClock::<Utc>::new(1_700_000_002 * SECOND);
    let rogue = Hlc::new(&rogue_clock, NodeId(9)).now();
    match node_2.update(rogue) {
        Ok(t) => panic!("accepted a timestamp 2 s ahead: {t}"),
        Err(e) => println!("node 2 refuses a peer 2 s ahead:  {e}"),
    }
    assert!(node_2.now() < rogue);
}
