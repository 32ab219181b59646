//! A master and a slave port under a hostile network, driven by proptest: packets are
//! dropped, duplicated, reordered, corrupted, answered with wild timestamps, and mixed
//! with arbitrary bytes and stray send reports. Neither port may panic, and the
//! slave's estimate, when it has one, stays finite with a non-negative uncertainty.
//! Both delay mechanisms, one- and two-step masters.
#![cfg(all(feature = "p2p", not(loom)))]

use proptest::prelude::*;
use tempora_core::ptp::port::{Action, DelayMechanism, Packet, Port, PortConfig, Timer};
use tempora_core::ptp::wire::{ClockIdentity, MessageType};

/// Platform times stay within ±2^100 ns (far beyond any clock); wire timestamps are
/// bounded by the format.
const TIME_LIMIT: i128 = 1 << 100;

#[derive(Clone, Debug)]
enum Op {
    /// Advance time and fire this timer on this port.
    Timer {
        slave: bool,
        timer: u8,
        advance: u32,
    },
    /// Deliver the queued packet at this index (mod length) to its peer, corrupting one
    /// byte if `flip` is non-zero, with this receive timestamp mode.
    Deliver {
        index: usize,
        flip: u8,
        at: usize,
        stamp: u8,
        keep: bool,
    },
    /// Arbitrary bytes to one port.
    Garbage {
        slave: bool,
        bytes: Vec<u8>,
        time: i64,
    },
    /// A send report for a message the port may or may not have sent.
    Sent {
        slave: bool,
        kind: u8,
        seq: u16,
        time: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), prop_oneof![1 => 0u8..4, 2 => 1u8..3], 0u32..300_000_000)
            .prop_map(|(slave, timer, advance)| Op::Timer { slave, timer, advance }),
        // Mostly in order, intact and sanely stamped, so that exchanges complete and
        // the filter runs; often enough otherwise to hit every odd path.
        8 => (
            prop_oneof![4 => Just(0usize), 1 => any::<usize>()],
            prop_oneof![4 => Just(0u8), 1 => any::<u8>()],
            any::<usize>(),
            prop_oneof![6 => Just(1u8), 1 => any::<u8>()],
            prop_oneof![6 => Just(false), 1 => Just(true)],
        )
            .prop_map(|(index, flip, at, stamp, keep)| Op::Deliver { index, flip, at, stamp, keep }),
        1 => (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..80), any::<i64>())
            .prop_map(|(slave, bytes, time)| Op::Garbage { slave, bytes, time }),
        1 => (any::<bool>(), 0u8..4, any::<u16>(), any::<i64>())
            .prop_map(|(slave, kind, seq, time)| Op::Sent { slave, kind, seq, time }),
    ]
}

fn timer(i: u8) -> Timer {
    match i % 4 {
        0 => Timer::Announce,
        1 => Timer::Sync,
        2 => Timer::DelayReq,
        _ => Timer::AnnounceReceipt,
    }
}

fn config(id: u8, priority1: u8, slave_only: bool, p2p: bool, two_step: bool) -> PortConfig {
    let mut c = PortConfig::ordinary(ClockIdentity([id; 8]), priority1, slave_only)
        .with_intervals(-3, -3, -3, 2);
    if p2p {
        c = c.with_delay_mechanism(DelayMechanism::P2P);
    }
    c.two_step = two_step;
    c
}

/// Carries out `actions` of port `from`: packets join the queue (event ones get a
/// send report at once, whose actions are carried out too).
fn carry_out(
    ports: &mut [Port; 2],
    from: usize,
    actions: impl IntoIterator<Item = Action>,
    now: i128,
    queue: &mut Vec<(usize, Packet)>,
) {
    let mut work: Vec<Action> = actions.into_iter().collect();
    let mut rounds = 0;
    while let Some(a) = work.pop() {
        rounds += 1;
        assert!(rounds < 1_000, "actions never settle");
        if let Action::Send(p) = a {
            if p.message_type.is_event() {
                work.extend(ports[from].on_sent(p.message_type, p.sequence_id, now));
            }
            if queue.len() < 64 {
                queue.push((from, p));
            }
        }
    }
}

fn check(port: &Port, now: i128) -> Result<(), TestCaseError> {
    if let Some(e) = port.estimate() {
        prop_assert!(e.offset.is_finite() && e.frequency.is_finite(), "{e:?}");
        prop_assert!(e.offset_sigma >= 0.0 && e.noise_sigma >= 0.0, "{e:?}");
    }
    if let Some((offset, sigma)) = port.predict(now) {
        prop_assert!(offset.is_finite() && sigma >= 0.0);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn ports_survive_a_hostile_network(
        p2p in any::<bool>(),
        two_step in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..400),
    ) {
        let mut ports = [
            Port::<4>::new(config(1, 10, false, p2p, two_step)),
            Port::<4>::new(config(2, 128, true, p2p, true)),
        ];
        let mut now: i128 = 1_700_000_000_000_000_000;
        let mut queue: Vec<(usize, Packet)> = Vec::new();
        for i in 0..2 {
            let a = ports[i].start(now);
            carry_out(&mut ports, i, a, now, &mut queue);
        }
        // Bring-up on a clean network, so that most cases start from a master and a
        // slave following it and the hostile part reaches the exchanges and the filter.
        now += 250_000_000;
        let a = ports[0].on_timer(Timer::AnnounceReceipt, now);
        carry_out(&mut ports, 0, a, now, &mut queue);
        for _ in 0..3 {
            now += 125_000_000;
            let a = ports[0].on_timer(Timer::Announce, now);
            carry_out(&mut ports, 0, a, now, &mut queue);
            for (from, p) in std::mem::take(&mut queue) {
                let to = 1 - from;
                if let Ok(a) = ports[to].on_receive(&p.bytes, Some(now + 2_000), now + 2_000) {
                    carry_out(&mut ports, to, a, now, &mut queue);
                }
            }
        }
        for op in ops {
            match op {
                Op::Timer { slave, timer: t, advance } => {
                    now += i128::from(advance);
                    let i = usize::from(slave);
                    let a = ports[i].on_timer(timer(t), now);
                    carry_out(&mut ports, i, a, now, &mut queue);
                }
                Op::Deliver { index, flip, at, stamp, keep } => {
                    if queue.is_empty() {
                        continue;
                    }
                    let k = index % queue.len();
                    // Kept packets arrive again later (duplicates).
                    let (from, p) = if keep { queue[k].clone() } else { queue.remove(k) };
                    let mut bytes = p.bytes.to_vec();
                    if flip != 0 && !bytes.is_empty() {
                        let n = bytes.len();
                        bytes[at % n] ^= flip;
                    }
                    now += 2_000;
                    let received = match stamp % 4 {
                        0 => None,
                        1 => Some(now),
                        2 => Some(now + i128::from(stamp) * 1_000_000_000_000),
                        _ => Some(-now),
                    };
                    let to = 1 - from;
                    if let Ok(a) = ports[to].on_receive(&bytes, received, now) {
                        carry_out(&mut ports, to, a, now, &mut queue);
                    }
                }
                Op::Garbage { slave, bytes, time } => {
                    let i = usize::from(slave);
                    let t = i128::from(time) << 36;
                    prop_assert!(t.abs() <= TIME_LIMIT);
                    if let Ok(a) = ports[i].on_receive(&bytes, Some(t), now) {
                        carry_out(&mut ports, i, a, now, &mut queue);
                    }
                }
                Op::Sent { slave, kind, seq, time } => {
                    let i = usize::from(slave);
                    let t = i128::from(time) << 36;
                    let kind = match kind {
                        0 => MessageType::Sync,
                        1 => MessageType::DelayReq,
                        2 => MessageType::PdelayReq,
                        _ => MessageType::PdelayResp,
                    };
                    let a = ports[i].on_sent(kind, seq, t);
                    carry_out(&mut ports, i, a, now, &mut queue);
                }
            }
            check(&ports[0], now)?;
            check(&ports[1], now)?;
        }
    }
}
