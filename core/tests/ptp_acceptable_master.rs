//! Who may be master, and what a slave says about its master: an acceptable-master
//! list keeps a rogue announcing priority1 0 from taking the port; every parent change
//! is reported with the old and new parent; a master announcing other intervals than
//! the slave's is reported, and followed for the receipt timeout.
//!
//! A small event simulation over real PTP bytes: perfect clocks, 2 µs links, three
//! ports (master, slave, and a rogue that only announces).
#![cfg(not(loom))]

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use tempora_core::hooks::{Metric, MetricsHook};
use tempora_core::ptp::port::{
    Action, IntervalKind, Port, PortConfig, PortEvent, PortState, Timer,
};
use tempora_core::ptp::wire::{ClockIdentity, MessageType, PortIdentity};
use tempora_core::time::{Instant, Tai};

const SECOND: u64 = 1_000_000_000;
const EPOCH: u64 = 1_700_000_000 * SECOND;
const MASTER: usize = 0;
const SLAVE: usize = 1;
const ROGUE: usize = 2;

/// Counts what the slave's port reports through its metrics hook.
#[derive(Default)]
struct Counts(RefCell<HashMap<String, u32>>);

impl MetricsHook for Counts {
    fn record(&self, metric: Metric) {
        let key = match metric {
            Metric::PtpReceived { message } => format!("rx {message}"),
            Metric::PtpSent { message } => format!("tx {message}"),
            Metric::PtpIgnored { reason } => format!("ignored {reason}"),
            Metric::PtpState { state } => format!("state {state}"),
            Metric::PtpParentChanged => "parent".into(),
            Metric::PtpMeasurement { .. } => "measurement".into(),
            _ => return,
        };
        *self.0.borrow_mut().entry(key).or_default() += 1;
    }
}

impl Counts {
    fn get(&self, key: &str) -> u32 {
        self.0.borrow().get(key).copied().unwrap_or(0)
    }
}

type SlavePort<'a> = Port<4, 16, 2, &'a Counts>;

enum Ev {
    Timer(usize, Timer, u64),
    Deliver(usize, Vec<u8>),
}

struct Run {
    /// Every event the slave's port reported, with its time.
    events: Vec<(u64, PortEvent)>,
    /// The slave's states, with their times.
    states: Vec<(u64, PortState)>,
}

fn id(n: u8) -> PortIdentity {
    PortIdentity {
        clock: ClockIdentity([n; 8]),
        port: 1,
    }
}

/// Runs `seconds`; the rogue announces from `rogue_from` on. The master runs with
/// `master_intervals` (log2 Announce, Sync) and follows only `master_accepts` (empty:
/// anyone); the slave with -3, -3.
fn simulate(
    seconds: u64,
    rogue_from: u64,
    master_intervals: (i8, i8),
    master_accepts: &[ClockIdentity],
    slave: &mut SlavePort,
) -> Run {
    let config = |n: u8, priority1: u8, slave_only: bool, (announce, sync): (i8, i8)| {
        PortConfig::ordinary(ClockIdentity([n; 8]), priority1, slave_only)
            .with_intervals(announce, sync, -3, 2)
    };
    let mut master = Port::<4>::new(config(1, 10, false, master_intervals));
    master.accept_only(master_accepts).expect("within capacity");
    let mut rogue = Port::<4>::new(config(3, 0, false, (-3, -3)));
    let mut queue: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let mut pending: HashMap<u64, Ev> = HashMap::new();
    let mut next = 0;
    let mut generation: HashMap<(usize, Timer), u64> = HashMap::new();
    let mut run = Run {
        events: Vec::new(),
        states: Vec::new(),
    };
    let at = |t: u64| Instant::<Tai>::from_nanos(EPOCH + t);
    let mut work: Vec<(usize, u64, Vec<Action>)> = vec![
        (MASTER, 0, master.start(at(0)).into_iter().collect()),
        (SLAVE, 0, slave.start(at(0)).into_iter().collect()),
    ];
    let mut rogue_started = false;
    loop {
        while let Some((i, t, actions)) = work.pop() {
            for a in actions {
                match a {
                    Action::Send { packet, context } => {
                        if i == ROGUE && packet.message_type != MessageType::Announce {
                            continue;
                        }
                        for to in (0..3).filter(|&to| to != i) {
                            next += 1;
                            pending.insert(next, Ev::Deliver(to, packet.bytes.to_vec()));
                            queue.push(Reverse((t + 2_000, next)));
                        }
                        if let Some(c) = context {
                            let more = match i {
                                MASTER => master.on_sent(c, at(t)),
                                SLAVE => slave.on_sent(c, at(t)),
                                _ => rogue.on_sent(c, at(t)),
                            };
                            work.push((i, t, more.into_iter().collect()));
                        }
                    }
                    Action::SetTimer { timer, at: when } => {
                        let g = generation.entry((i, timer)).or_insert(0);
                        *g += 1;
                        next += 1;
                        pending.insert(next, Ev::Timer(i, timer, *g));
                        queue.push(Reverse(((when.as_nanos() - EPOCH).max(t), next)));
                    }
                    Action::CancelTimer(timer) => {
                        *generation.entry((i, timer)).or_insert(0) += 1;
                    }
                    Action::State(s) if i == SLAVE => run.states.push((t, s)),
                    Action::Event(e) if i == SLAVE => run.events.push((t, e)),
                    Action::State(_) | Action::Event(_) | Action::Measure(_) => {}
                }
            }
        }
        let Some(Reverse((t, key))) = queue.pop() else {
            break;
        };
        if t > seconds * SECOND {
            break;
        }
        if !rogue_started && t >= rogue_from {
            rogue_started = true;
            work.push((ROGUE, t, rogue.start(at(t)).into_iter().collect()));
        }
        match pending.remove(&key).expect("scheduled") {
            Ev::Timer(i, timer, g) if generation.get(&(i, timer)) == Some(&g) => {
                let a = match i {
                    MASTER => master.on_timer(timer, at(t)),
                    SLAVE => slave.on_timer(timer, at(t)),
                    _ => rogue.on_timer(timer, at(t)),
                };
                work.push((i, t, a.into_iter().collect()));
            }
            Ev::Timer(..) => {}
            Ev::Deliver(ROGUE, _) if !rogue_started => {}
            Ev::Deliver(i, bytes) => {
                let r = match i {
                    MASTER => master.on_receive(&bytes, Some(at(t)), at(t)),
                    SLAVE => slave.on_receive(&bytes, Some(at(t)), at(t)),
                    _ => rogue.on_receive(&bytes, Some(at(t)), at(t)),
                };
                if let Ok(a) = r {
                    work.push((i, t, a.into_iter().collect()));
                }
            }
        }
    }
    run
}

fn parents(run: &Run) -> Vec<(Option<PortIdentity>, Option<PortIdentity>)> {
    run.events
        .iter()
        .filter_map(|(_, e)| match *e {
            PortEvent::ParentChanged { old, new } => Some((old, new)),
            _ => None,
        })
        .collect()
}

fn slave_port(counts: &Counts) -> SlavePort<'_> {
    let config =
        PortConfig::ordinary(ClockIdentity([2; 8]), 128, true).with_intervals(-3, -3, -3, 2);
    Port::with_hooks(config, counts)
}

#[test]
fn without_a_list_the_rogue_takes_the_slave_and_every_change_is_reported() {
    let counts = Counts::default();
    let mut slave = slave_port(&counts);
    let run = simulate(10, 3 * SECOND, (-3, -3), &[], &mut slave);
    assert_eq!(
        parents(&run),
        [(None, Some(id(1))), (Some(id(1)), Some(id(3)))],
        "standard BMCA: the rogue's priority1 0 wins"
    );
    assert_eq!(slave.state(), PortState::Slave(id(3)));
    assert_eq!(counts.get("parent"), 2);
    assert_eq!(counts.get("ignored unacceptable-master"), 0);
}

#[test]
fn with_a_list_a_rogue_announcing_priority1_0_is_ignored() {
    let counts = Counts::default();
    let mut slave = slave_port(&counts);
    assert_eq!(slave.acceptable_masters(), []);
    slave
        .accept_only(&[ClockIdentity([1; 8]), ClockIdentity([9; 8])])
        .unwrap();
    // Beyond the capacity (2): refused whole, the first extra handed back.
    let three = [
        ClockIdentity([1; 8]),
        ClockIdentity([8; 8]),
        ClockIdentity([7; 8]),
    ];
    assert_eq!(
        slave.accept_only(&three).unwrap_err().into_inner(),
        ClockIdentity([7; 8])
    );
    assert_eq!(slave.acceptable_masters().len(), 2);

    // The master must refuse the rogue too, or it would follow it and stop serving:
    // it accepts only its backup grandmaster (absent here).
    let backup = ClockIdentity([4; 8]);
    let run = simulate(10, 3 * SECOND, (-3, -3), &[backup], &mut slave);
    assert_eq!(parents(&run), [(None, Some(id(1)))], "one parent, kept");
    assert_eq!(slave.state(), PortState::Slave(id(1)));
    assert!(run
        .states
        .iter()
        .all(|(_, s)| *s != PortState::Slave(id(3))));
    // The rogue announced 8 a second for 7 s: every Announce counted as refused.
    let refused = counts.get("ignored unacceptable-master");
    assert!((50..=60).contains(&refused), "{refused}");
    // And the slave kept measuring its master.
    assert!(counts.get("measurement") > 50, "{:?}", counts.0.borrow());
    assert_eq!(counts.get("state slave"), 1);
    assert!(counts.get("rx Sync") > 70 && counts.get("tx Delay_Req") > 50);
}

#[test]
fn a_master_on_other_intervals_is_followed_and_reported() {
    // The master announces every 2 s and syncs every second; the slave is configured
    // for 8 a second of each. Before, the slave never qualified the master (two
    // Announces within four of its own intervals, 0.5 s) and stayed listening, silently.
    let counts = Counts::default();
    let mut slave = slave_port(&counts);
    let run = simulate(30, u64::MAX, (1, 0), &[], &mut slave);
    let (became, _) = run
        .states
        .iter()
        .find(|(_, s)| *s == PortState::Slave(id(1)))
        .copied()
        .expect("the slave never chose the master");
    // The master takes over after its own receipt timeout (2 x 2 s) and announces at
    // once and 2 s later: the second Announce qualifies it.
    assert!(became <= 7 * SECOND, "slave after {became} ns");
    // It stays slave: the receipt timeout follows the master's 2 s Announces.
    assert_eq!(parents(&run), [(None, Some(id(1)))]);
    assert_eq!(slave.master_log_announce_interval(), Some(1));
    let mismatches: Vec<_> = run
        .events
        .iter()
        .filter_map(|(_, e)| match *e {
            PortEvent::IntervalMismatch {
                master,
                kind,
                ours,
                theirs,
            } => Some((master, kind, ours, theirs)),
            _ => None,
        })
        .collect();
    assert_eq!(
        mismatches,
        [
            (id(1), IntervalKind::Announce, -3, 1),
            (id(1), IntervalKind::Sync, -3, 0)
        ],
        "each reported once"
    );
}

#[test]
fn another_domain_is_named_in_the_refusal() {
    let counts = Counts::default();
    let mut slave = slave_port(&counts);
    let mut master = Port::<4>::new(PortConfig {
        domain: 24,
        ..PortConfig::ordinary(ClockIdentity([1; 8]), 10, false)
    });
    let t = Instant::<Tai>::from_nanos(EPOCH);
    master.start(t);
    // Nobody else announces: master after the receipt timeout, then its first Announce.
    let later = t.saturating_add(std::time::Duration::from_secs(6));
    master.on_timer(Timer::AnnounceReceipt, later);
    let sent = master
        .on_timer(Timer::Announce, later)
        .into_iter()
        .find_map(|a| match a {
            Action::Send { packet, .. } => Some(packet.bytes),
            _ => None,
        })
        .expect("an Announce");
    assert_eq!(
        slave.on_receive(&sent, None, t),
        Err(tempora_core::ptp::port::Ignored::OtherDomain {
            domain: 24,
            sdo_id: 0
        })
    );
    assert_eq!(counts.get("ignored other-domain"), 1);
}
