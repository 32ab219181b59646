//! A master and a slave port under a hostile network, driven by proptest: packets are
//! dropped, duplicated, reordered, corrupted, stamped with any time at all (the epoch,
//! [`Instant::MAX`], any offset from now), mixed with arbitrary bytes, and send reports
//! come late, after state changes, with any time; the local clock itself jumps to the
//! ends of its range. Neither port may panic, and the slave's estimate and bound, when
//! it has them, stay finite with a non-negative uncertainty, never NaN. Both delay
//! mechanisms, one- and two-step masters.
#![cfg(all(feature = "p2p", not(loom)))]

use proptest::prelude::*;
use tempora_core::ptp::port::{
    Action, DelayMechanism, Packet, Port, PortConfig, SendContext, Timer,
};
use tempora_core::time::{Instant, Offset, Tai};

/// A time chosen by the test: near now, or anywhere.
#[derive(Clone, Copy, Debug)]
enum When {
    /// Now plus this offset (saturating at the ends of the range).
    Near(i64),
    /// The epoch.
    Epoch,
    /// The last representable instant.
    Max,
    /// Anywhere.
    Any(u64),
}

impl When {
    fn at(self, now: Instant<Tai>) -> Instant<Tai> {
        match self {
            Self::Near(o) => now.saturating_add_offset(Offset::from_nanos(o)),
            Self::Epoch => Instant::EPOCH,
            Self::Max => Instant::MAX,
            Self::Any(n) => Instant::from_nanos(n),
        }
    }
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        3 => (-1_000_000i64..1_000_000).prop_map(When::Near),
        2 => any::<i64>().prop_map(When::Near),
        1 => Just(When::Epoch),
        1 => Just(When::Max),
        1 => any::<u64>().prop_map(When::Any),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    /// Advance time and fire this timer on this port.
    Timer {
        slave: bool,
        timer: u8,
        advance: u32,
    },
    /// The local clock jumps (to an end of its range, back, anywhere).
    Jump(When),
    /// Deliver the queued packet at this index (mod length) to its peer, corrupting one
    /// byte if `flip` is non-zero, with this receive timestamp (or none).
    Deliver {
        index: usize,
        flip: u8,
        at: usize,
        stamp: Option<When>,
        keep: bool,
    },
    /// Arbitrary bytes to one port, stamped with any time.
    Garbage {
        slave: bool,
        bytes: Vec<u8>,
        stamp: When,
    },
    /// Hold back the send context of the next event message instead of reporting it
    /// at once.
    HoldNext,
    /// Report a held-back send context now, with any send time.
    Sent { index: usize, time: When },
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
            prop_oneof![12 => Just(Some(When::Near(0))), 1 => Just(None), 2 => when().prop_map(Some)],
            prop_oneof![6 => Just(false), 1 => Just(true)],
        )
            .prop_map(|(index, flip, at, stamp, keep)| Op::Deliver { index, flip, at, stamp, keep }),
        1 => (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..80), when())
            .prop_map(|(slave, bytes, stamp)| Op::Garbage { slave, bytes, stamp }),
        1 => Just(Op::HoldNext),
        1 => (any::<usize>(), when()).prop_map(|(index, time)| Op::Sent { index, time }),
        1 => prop_oneof![3 => when(), 1 => Just(When::Near(-60_000_000_000))].prop_map(Op::Jump),
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
    let mut c = tempora_ptp_sim::config::fast(id, priority1, slave_only);
    if p2p {
        c = c.with_delay_mechanism(DelayMechanism::P2P);
    }
    c.two_step = two_step;
    c
}

/// The network and the platform around the two ports.
struct World {
    ports: [Port; 2],
    now: Instant<Tai>,
    queue: Vec<(usize, Packet)>,
    /// Send contexts held back, with the port they belong to.
    held: Vec<(usize, SendContext)>,
    hold_next: bool,
}

impl World {
    /// Carries out `actions` of port `from`: packets join the queue; event ones get a
    /// send report at once (whose actions are carried out too), unless held back.
    fn carry_out(
        &mut self,
        from: usize,
        actions: impl IntoIterator<Item = Action>,
    ) -> Result<(), TestCaseError> {
        let mut work: Vec<Action> = actions.into_iter().collect();
        let mut rounds = 0;
        while let Some(a) = work.pop() {
            rounds += 1;
            prop_assert!(rounds < 1_000, "actions never settle");
            match a {
                Action::Send { packet, context } => {
                    if let Some(context) = context {
                        if std::mem::take(&mut self.hold_next) {
                            self.held.push((from, context));
                        } else {
                            work.extend(self.ports[from].on_sent(context, self.now));
                        }
                    }
                    if self.queue.len() < 64 {
                        self.queue.push((from, packet));
                    }
                }
                Action::Measure(m) => {
                    prop_assert!(m.sigma_ns >= 0.0, "{m:?}"); // also false for NaN
                    prop_assert!(m.frequency_ppb.is_finite(), "{m:?}");
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check(&self, i: usize) -> Result<(), TestCaseError> {
        let port = &self.ports[i];
        if let Some(e) = port.estimate() {
            prop_assert!(
                e.offset_ns.is_finite() && e.frequency_ppb.is_finite(),
                "{e:?}"
            );
            prop_assert!(e.offset_sigma_ns >= 0.0 && e.noise_sigma_ns >= 0.0, "{e:?}");
        }
        for t in [self.now, Instant::EPOCH, Instant::MAX] {
            if let Some(p) = port.predict(t) {
                prop_assert!(
                    p.offset_ns.is_finite() && p.sigma_ns >= 0.0,
                    "{p:?} at {t:?}"
                );
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn ports_survive_a_hostile_network(
        p2p in any::<bool>(),
        two_step in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..400),
    ) {
        let mut w = World {
            ports: [
                Port::<4>::new(config(1, 10, false, p2p, two_step)),
                Port::<4>::new(config(2, 128, true, p2p, true)),
            ],
            now: Instant::from_nanos(1_700_000_000_000_000_000),
            queue: Vec::new(),
            held: Vec::new(),
            hold_next: false,
        };
        let ms = |n: u64| core::time::Duration::from_millis(n);
        for i in 0..2 {
            let a = w.ports[i].start(w.now);
            w.carry_out(i, a)?;
        }
        // Bring-up on a clean network, so that most cases start from a master and a
        // slave following it and the hostile part reaches the exchanges and the filter.
        w.now = w.now.saturating_add(ms(250));
        let a = w.ports[0].on_timer(Timer::AnnounceReceipt, w.now);
        w.carry_out(0, a)?;
        for _ in 0..3 {
            w.now = w.now.saturating_add(ms(125));
            let a = w.ports[0].on_timer(Timer::Announce, w.now);
            w.carry_out(0, a)?;
            for (from, p) in std::mem::take(&mut w.queue) {
                let to = 1 - from;
                let at = w.now.saturating_add(core::time::Duration::from_micros(2));
                if let Ok(a) = w.ports[to].on_receive(&p.bytes, Some(at), at) {
                    w.carry_out(to, a)?;
                }
            }
        }
        for op in ops {
            match op {
                Op::Timer { slave, timer: t, advance } => {
                    w.now = w.now.saturating_add(core::time::Duration::from_nanos(advance.into()));
                    let i = usize::from(slave);
                    let a = w.ports[i].on_timer(timer(t), w.now);
                    w.carry_out(i, a)?;
                }
                Op::Jump(to) => w.now = to.at(w.now),
                Op::Deliver { index, flip, at, stamp, keep } => {
                    if w.queue.is_empty() {
                        continue;
                    }
                    let k = index % w.queue.len();
                    // Kept packets arrive again later (duplicates).
                    let (from, p) = if keep { w.queue[k].clone() } else { w.queue.remove(k) };
                    let mut bytes = p.bytes.to_vec();
                    if flip != 0 && !bytes.is_empty() {
                        let n = bytes.len();
                        bytes[at % n] ^= flip;
                    }
                    w.now = w.now.saturating_add(core::time::Duration::from_micros(2));
                    let received = stamp.map(|s| s.at(w.now));
                    let to = 1 - from;
                    if let Ok(a) = w.ports[to].on_receive(&bytes, received, w.now) {
                        w.carry_out(to, a)?;
                    }
                }
                Op::Garbage { slave, bytes, stamp } => {
                    let i = usize::from(slave);
                    if let Ok(a) = w.ports[i].on_receive(&bytes, Some(stamp.at(w.now)), w.now) {
                        w.carry_out(i, a)?;
                    }
                }
                Op::HoldNext => w.hold_next = true,
                Op::Sent { index, time } => {
                    if w.held.is_empty() {
                        continue;
                    }
                    let (i, context) = w.held.remove(index % w.held.len());
                    let a = w.ports[i].on_sent(context, time.at(w.now));
                    w.carry_out(i, a)?;
                }
            }
            w.check(0)?;
            w.check(1)?;
        }
    }
}
