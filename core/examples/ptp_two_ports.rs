//! The sans-IO PTP engine with no network at all: a master port and a slave port pass
//! their bytes through a simulated 2 µs link. The slave's clock starts 250 µs ahead and
//! runs 30 ppm fast; watch it select the master, lock, and find both.
//!
//! The loop below is what a platform adapter does: deliver packets with receive
//! timestamps, report send timestamps, fire timers, and carry out the returned actions.
//!
//! Run: `cargo run -p tempora-core --example ptp_two_ports`

use std::collections::BTreeMap;

use tempora_core::ptp::port::{Action, Port, PortConfig, PortState, Timer};
use tempora_core::ptp::wire::ClockIdentity;
use tempora_core::time::{Instant, Tai};

const LINK_NS: i128 = 2_000;
const START: i128 = 1_700_000_000 * 1_000_000_000;

/// Local time of node `i` at true time `t` (ns): node 1 is 250 µs ahead, 30 ppm fast.
fn local_ns(i: usize, t: i128) -> i128 {
    match i {
        0 => START + t,
        _ => START + 250_000 + t + t * 30 / 1_000_000,
    }
}

/// The same as the port sees it: an instant on the PTP timescale.
fn local(i: usize, t: i128) -> Instant<Tai> {
    Instant::from_nanos(u64::try_from(local_ns(i, t)).expect("after 1970"))
}

/// True time at which node `i`'s clock reads `l` (inverse of `local`).
fn true_time(i: usize, l: Instant<Tai>) -> i128 {
    let l = i128::from(l.as_nanos());
    match i {
        0 => l - START,
        _ => (l - START - 250_000) * 1_000_000 / 1_000_030,
    }
}

fn config(id: u8, priority1: u8, slave_only: bool) -> PortConfig {
    // Eight Syncs, Delay_Reqs and Announces a second.
    PortConfig::ordinary(ClockIdentity([id; 8]), priority1, slave_only)
        .with_intervals(-3, -3, -3, 2)
}

enum Event {
    Timer(usize, Timer),
    Deliver(usize, Vec<u8>, bool),
}

fn main() {
    let mut ports = [
        Port::<4>::new(config(1, 10, false)),
        Port::<4>::new(config(2, 128, true)),
    ];
    // Pending events by (true time, sequence); armed timers by (node, timer).
    let mut queue: BTreeMap<(i128, u64), Event> = BTreeMap::new();
    let mut armed: BTreeMap<(usize, u8), i128> = BTreeMap::new();
    let mut seq = 0u64;
    let mut work: Vec<(usize, i128, Action)> = Vec::new();
    for (i, p) in ports.iter_mut().enumerate() {
        work.extend(p.start(local(i, 0)).into_iter().map(|a| (i, 0, a)));
    }
    let mut next_report = 0i128;
    loop {
        while let Some((i, t, action)) = work.pop() {
            match action {
                Action::Send { packet, context } => {
                    seq += 1;
                    let stamped = packet.message_type.is_event();
                    let event = Event::Deliver(1 - i, packet.bytes.to_vec(), stamped);
                    queue.insert((t + LINK_NS, seq), event);
                    // An event message: the "hardware" timestamps the send at once, and
                    // the port gets it back with the message's context.
                    if let Some(context) = context {
                        let more = ports[i].on_sent(context, local(i, t));
                        work.extend(more.into_iter().map(|a| (i, t, a)));
                    }
                }
                Action::SetTimer { timer, at } => {
                    let when = true_time(i, at).max(t);
                    seq += 1;
                    armed.insert((i, timer as u8), when);
                    queue.insert((when, seq), Event::Timer(i, timer));
                }
                Action::CancelTimer(timer) => {
                    armed.remove(&(i, timer as u8));
                }
                Action::State(s) => println!("{:6.3} s  node {i}: {s}", t as f64 / 1e9),
                Action::Event(e) => println!("{:6.3} s  node {i}: {e:?}", t as f64 / 1e9),
                Action::Measure(m) => {
                    if t >= next_report {
                        next_report += 1_000_000_000;
                        let truth = (local_ns(1, t) - local_ns(0, t)) as f64;
                        println!(
                            "{:6.3} s  slave: offset {} (truth {truth:.0} ns, error {:6.1} ns), \
                             frequency {:8.1} ppb, sigma {:6.1} ns, locked {}",
                            t as f64 / 1e9,
                            m.offset,
                            m.offset.as_f64() - truth,
                            m.frequency_ppb,
                            m.sigma_ns,
                            ports[1].locked()
                        );
                    }
                }
            }
        }
        let Some(((t, _), event)) = queue.pop_first() else {
            break;
        };
        if t > 10_000_000_000 {
            break;
        }
        match event {
            Event::Timer(i, timer) => {
                // A re-armed or cancelled timer leaves a stale entry behind: skip it.
                if armed.get(&(i, timer as u8)) == Some(&t) {
                    armed.remove(&(i, timer as u8));
                    let actions = ports[i].on_timer(timer, local(i, t));
                    work.extend(actions.into_iter().map(|a| (i, t, a)));
                }
            }
            Event::Deliver(i, bytes, event) => {
                let now = local(i, t);
                if let Ok(actions) = ports[i].on_receive(&bytes, event.then_some(now), now) {
                    work.extend(actions.into_iter().map(|a| (i, t, a)));
                }
            }
        }
    }
    assert_eq!(
        ports[1].state(),
        PortState::Slave(ports[0].config().identity)
    );
    assert!(
        ports[1].locked(),
        "the slave should have locked within 10 s"
    );
}
