//! The selector: failover, failback with hysteresis, the detector's responses seen end
//! to end, its hooks, and (proptest) a monotone output whose bound covers the active
//! source's interval across arbitrary readings and switch sequences.
#![cfg(not(loom))]

use std::cell::{Cell, RefCell};
use std::time::Duration;

use proptest::prelude::*;
use tempora_core::clock::{Anomaly, ClockReading, ClockSource, ClockStatus};
use tempora_core::hooks::{Fault, FaultHook, Metric, MetricsHook, SwitchReason};
use tempora_core::select::{Response, Selector, SelectorConfig};
use tempora_core::time::{Instant, Tai};

const MS: u64 = 1_000_000;
const SECOND: u64 = 1_000 * MS;
/// Start far from the epoch, so steps back have room.
const START: u64 = 1_700_000_000 * SECOND;

/// A source on the true time `truth` (shared by all, and their elapsed reference) with
/// a scripted error, bound and status.
struct Scripted<'a> {
    truth: &'a Cell<u64>,
    error: Cell<i64>,
    bound: Cell<u64>,
    status: Cell<ClockStatus>,
    /// While set, the source shows this time, whatever the truth.
    frozen: Cell<Option<u64>>,
}

impl<'a> Scripted<'a> {
    fn new(truth: &'a Cell<u64>, bound: u64, status: ClockStatus) -> Self {
        Self {
            truth,
            error: Cell::new(0),
            bound: Cell::new(bound),
            status: Cell::new(status),
            frozen: Cell::new(None),
        }
    }

    fn time(&self) -> u64 {
        self.frozen
            .get()
            .unwrap_or_else(|| self.truth.get().saturating_add_signed(self.error.get()))
    }
}

impl ClockSource for Scripted<'_> {
    type Scale = Tai;
    fn read(&self) -> ClockReading<Tai> {
        ClockReading {
            time: Instant::from_nanos(self.time()),
            bound: Duration::from_nanos(self.bound.get()),
            status: self.status.get(),
        }
    }
    fn elapsed_reference(&self) -> Option<u64> {
        Some(self.truth.get())
    }
}

type Dyn<'a> = &'a dyn ClockSource<Scale = Tai>;

#[derive(Default)]
struct Counting {
    faults: RefCell<Vec<Fault>>,
    switches: Cell<u32>,
    selections: Cell<u32>,
    last_selection: Cell<Option<Metric>>,
}

impl FaultHook for Counting {
    fn fault(&self, fault: Fault) {
        self.faults.borrow_mut().push(fault);
    }
}

impl MetricsHook for Counting {
    fn record(&self, metric: Metric) {
        match metric {
            Metric::SourceSwitch { .. } => self.switches.set(self.switches.get() + 1),
            Metric::Selection { .. } => {
                self.selections.set(self.selections.get() + 1);
                self.last_selection.set(Some(metric));
            }
            _ => {}
        }
    }
}

const CONFIG: SelectorConfig = SelectorConfig {
    max_bound: Duration::from_millis(1),
    failback_after: Duration::from_secs(30),
    ..SelectorConfig::DEFAULT
};

#[test]
fn fails_over_and_back_only_after_the_hysteresis() {
    let truth = Cell::new(START);
    let ptp = Scripted::new(&truth, 10_000, ClockStatus::Synchronized);
    let system = Scripted::new(&truth, 500_000, ClockStatus::Synchronized);
    let hooks = Counting::default();
    let mut s = Selector::with_hooks([&ptp as Dyn, &system], CONFIG, &hooks);
    let tick = |s: &mut Selector<Dyn, 2, &Counting>| {
        truth.set(truth.get() + SECOND);
        s.check()
    };
    assert_eq!(tick(&mut s).active, 0);
    ptp.status.set(ClockStatus::Unknown);
    let r = tick(&mut s);
    assert_eq!(r.active, 1);
    let switch = r.switch.expect("a switch");
    assert_eq!((switch.from, switch.to), (0, 1));
    assert_eq!(switch.reason, SwitchReason::Status(ClockStatus::Unknown));

    // PTP comes back, but flaps: healthy 20 s, then lost for a check, three times.
    for _ in 0..3 {
        ptp.status.set(ClockStatus::Synchronized);
        for _ in 0..20 {
            assert_eq!(tick(&mut s).active, 1, "failed back before the hysteresis");
        }
        ptp.status.set(ClockStatus::Holdover);
        ptp.bound.set(2 * MS); // holdover past the threshold: not healthy
        assert_eq!(tick(&mut s).active, 1);
        ptp.bound.set(10_000);
    }
    // Healthy for good: failback once 30 s of its own time have passed.
    ptp.status.set(ClockStatus::Synchronized);
    let mut checks = 0;
    let r = loop {
        checks += 1;
        let r = tick(&mut s);
        if r.switch.is_some() || checks > 100 {
            break r;
        }
    };
    assert_eq!(checks, 31, "healthy at the first, 30 s later at the 31st");
    assert_eq!(r.active, 0);
    assert_eq!(r.switch.unwrap().reason, SwitchReason::Failback);
    // Two switches, each reported through both hooks, and a selection per check.
    assert_eq!(hooks.switches.get(), 2);
    let reported: Vec<_> = hooks
        .faults
        .borrow()
        .iter()
        .filter_map(|f| match f {
            Fault::SourceSwitched { from, to, reason } => Some((*from, *to, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        reported,
        [
            (0, 1, SwitchReason::Status(ClockStatus::Unknown)),
            (1, 0, SwitchReason::Failback)
        ]
    );
    assert_eq!(hooks.selections.get(), 2 + 3 * 21 + 31);
}

#[test]
fn a_bound_beyond_the_threshold_fails_over_when_something_better_exists() {
    let truth = Cell::new(START);
    let ptp = Scripted::new(&truth, 10_000, ClockStatus::Synchronized);
    let system = Scripted::new(&truth, 16 * SECOND, ClockStatus::FreeRunning);
    let phc = Scripted::new(&truth, 100, ClockStatus::Holdover);
    phc.status.set(ClockStatus::Unknown);
    let mut s = Selector::new([&phc as Dyn, &ptp, &system], CONFIG);
    assert_eq!(s.check().active, 1);
    // PTP in holdover past the threshold, nothing healthy: it stays (the free-running
    // system clock is only usable).
    ptp.status.set(ClockStatus::Holdover);
    ptp.bound.set(5 * MS);
    truth.set(truth.get() + SECOND);
    let r = s.check();
    assert_eq!((r.active, r.switch, r.healthy.is_empty()), (1, None, true));
    // The PHC becomes healthy: PTP is left for it at once, as it is not healthy.
    phc.status.set(ClockStatus::Synchronized);
    truth.set(truth.get() + SECOND);
    let r = s.check();
    assert_eq!(r.active, 0);
    assert_eq!(
        r.switch.unwrap().reason,
        SwitchReason::Bound(Duration::from_millis(5))
    );
    // Everything unknown but the system clock: it is taken.
    phc.status.set(ClockStatus::Unknown);
    ptp.status.set(ClockStatus::Unknown);
    truth.set(truth.get() + SECOND);
    let r = s.check();
    assert_eq!(r.active, 2);
    assert_eq!(
        r.switch.unwrap().reason,
        SwitchReason::Status(ClockStatus::Unknown)
    );
    assert_eq!(s.read().status, ClockStatus::FreeRunning);
}

/// Runs checks a second apart until the first anomaly on source 0; returns how many
/// checks after `anomaly_at` it was seen, and the checks' reports.
fn each_anomaly(
    break_it: impl Fn(&Scripted, u64),
    backup_status: ClockStatus,
) -> (Vec<Fault>, Vec<tempora_core::select::CheckReport>) {
    let truth = Cell::new(START);
    let a = Scripted::new(&truth, 10_000, ClockStatus::Synchronized);
    let b = Scripted::new(&truth, 100_000, backup_status);
    let hooks = Counting::default();
    let mut s = Selector::with_hooks([&a as Dyn, &b], CONFIG, &hooks);
    let mut reports = Vec::new();
    for k in 0..20u64 {
        truth.set(START + k * SECOND);
        break_it(&a, k);
        reports.push(s.check());
    }
    let faults = hooks.faults.borrow().clone();
    (faults, reports)
}

#[test]
fn each_anomaly_gets_its_response_within_one_check() {
    // Forward step of 50 ms at check 10: resync asked, source kept.
    let (faults, reports) = each_anomaly(
        |a, k| {
            if k == 10 {
                a.error.set(50 * MS as i64)
            }
        },
        ClockStatus::Synchronized,
    );
    let anomaly = Anomaly::SteppedForward {
        by: Duration::from_millis(50),
    };
    assert_eq!(Response::to(anomaly), Response::Resync);
    assert_eq!(faults[0], Fault::SourceAnomaly { source: 0, anomaly });
    assert!(reports[10].resync.contains(0));
    assert!(reports.iter().all(|r| r.active == 0 && r.switch.is_none()));

    // Backward step: demoted, the healthy backup takes over at that check.
    let (faults, reports) = each_anomaly(
        |a, k| {
            if k == 10 {
                a.error.set(-(50 * MS as i64))
            }
        },
        ClockStatus::Synchronized,
    );
    let anomaly = Anomaly::SteppedBack {
        by: Duration::from_millis(50),
    };
    assert_eq!(Response::to(anomaly), Response::Demote);
    assert_eq!(faults[0], Fault::SourceAnomaly { source: 0, anomaly });
    assert_eq!(reports[9].active, 0);
    assert_eq!(reports[10].active, 1);
    assert_eq!(
        reports[10].switch.unwrap().reason,
        SwitchReason::Anomaly(anomaly)
    );
    // Demoted, not failed: with only a free-running backup, the source stays.
    let (_, reports) = each_anomaly(
        |a, k| {
            if k == 10 {
                a.error.set(-(50 * MS as i64))
            }
        },
        ClockStatus::FreeRunning,
    );
    assert!(reports.iter().all(|r| r.active == 0));

    // Frozen: failed over even to a merely usable backup.
    let (faults, reports) = each_anomaly(
        |a, k| {
            if k == 10 {
                a.frozen.set(Some(a.time()))
            }
        },
        ClockStatus::FreeRunning,
    );
    let anomaly = Anomaly::Frozen {
        for_: Duration::from_secs(1),
    };
    assert_eq!(Response::to(anomaly), Response::FailOver);
    assert_eq!(faults[0], Fault::SourceAnomaly { source: 0, anomaly });
    assert_eq!(reports[10].active, 0); // the first frozen reading looks like any
    assert_eq!(reports[11].active, 1);
    assert_eq!(
        reports[11].switch.unwrap().reason,
        SwitchReason::Anomaly(anomaly)
    );

    // A rate of 2 000 ppm (2 ms a check, below the step): demoted when the first rate
    // window (4 s) closes.
    let (faults, reports) = each_anomaly(
        |a, k| a.error.set((k * 2 * MS) as i64),
        ClockStatus::Synchronized,
    );
    let anomaly = Anomaly::Rate { ppm: 2_000 };
    assert_eq!(Response::to(anomaly), Response::Demote);
    assert_eq!(faults[0], Fault::SourceAnomaly { source: 0, anomaly });
    assert_eq!(reports[3].active, 0);
    assert_eq!(reports[4].active, 1);
}

/// A (preferred) freezes and is failed over to B; then B's status turns unknown. While
/// A is still frozen the selector stays on B (a frozen clock is never taken); once A
/// moves again, A, still under its penalty, beats an unknown B.
#[test]
fn a_thawed_source_under_penalty_beats_one_whose_status_is_unknown() {
    let run = |thaw_at: Option<u64>| {
        let truth = Cell::new(START);
        let a = Scripted::new(&truth, 10_000, ClockStatus::Synchronized);
        let b = Scripted::new(&truth, 100_000, ClockStatus::Synchronized);
        let hooks = Counting::default();
        let mut s = Selector::with_hooks([&a as Dyn, &b], CONFIG, &hooks);
        let mut reports = Vec::new();
        for k in 0..20u64 {
            truth.set(START + k * SECOND);
            if k == 5 {
                a.frozen.set(Some(a.time()));
            }
            if Some(k) == thaw_at {
                a.frozen.set(None);
            }
            if k == 12 {
                b.status.set(ClockStatus::Unknown);
            }
            reports.push(s.check());
        }
        (reports, s.read())
    };

    let (reports, last) = run(None);
    assert_eq!(reports[6].active, 1, "failed over when the freeze was seen");
    assert!(
        reports[6..].iter().all(|r| r.active == 1),
        "never back to a source that is still frozen"
    );
    assert_eq!(last.status, ClockStatus::Unknown);

    let (reports, last) = run(Some(9));
    assert_eq!(reports[6].active, 1);
    assert!(
        reports[6..12].iter().all(|r| r.active == 1),
        "B stays while usable"
    );
    let back = reports[12].switch.expect("B unknown: a switch");
    assert_eq!((back.from, back.to), (1, 0));
    assert_eq!(back.reason, SwitchReason::Status(ClockStatus::Unknown));
    assert!(reports[12..].iter().all(|r| r.active == 0));
    assert_eq!(last.status, ClockStatus::Synchronized);
}

#[test]
fn a_switch_to_a_source_behind_slews_instead_of_stepping_back() {
    let truth = Cell::new(START);
    let ahead = Scripted::new(&truth, 10_000, ClockStatus::Synchronized);
    ahead.error.set(3 * MS as i64);
    let right = Scripted::new(&truth, 20_000, ClockStatus::Synchronized);
    let hooks = Counting::default();
    let config = SelectorConfig {
        slew_ppm: 1_000, // 1 ms a second
        ..CONFIG
    };
    let mut s = Selector::with_hooks([&ahead as Dyn, &right], config, &hooks);
    s.check();
    let before = s.read();
    ahead.status.set(ClockStatus::Unknown);
    s.check();
    let after = s.read();
    assert!(after.time >= before.time);
    assert_eq!(after.bound, Duration::from_nanos(20_000 + 3 * MS));
    let Some(Metric::Selection {
        active, offset_ns, ..
    }) = hooks.last_selection.get()
    else {
        panic!("no selection recorded");
    };
    assert_eq!((active, offset_ns), (1, 3 * MS as i64));
    // The carry decays at 1 ms per second of the source: gone after 3 s.
    let mut last = after.time;
    for k in 1..=4u64 {
        truth.set(START + k * SECOND);
        let r = s.read();
        assert!(r.time > last);
        last = r.time;
        let lead = 3 * MS - (k * MS).min(3 * MS);
        assert_eq!(r.time.as_nanos(), truth.get() + lead, "at {k} s");
        assert_eq!(r.bound, Duration::from_nanos(20_000 + lead));
    }
}

#[derive(Clone, Debug)]
enum Op {
    Advance(u64),
    Error(usize, i64),
    Bound(usize, u64),
    Status(usize, ClockStatus),
    Freeze(usize, bool),
    Check,
    Read,
}

fn op() -> impl Strategy<Value = Op> {
    let status = prop_oneof![
        Just(ClockStatus::Synchronized),
        Just(ClockStatus::Holdover),
        Just(ClockStatus::FreeRunning),
        Just(ClockStatus::Unknown),
    ];
    prop_oneof![
        3 => (0..3 * SECOND).prop_map(Op::Advance),
        2 => (0..3usize, -(2 * SECOND as i64)..2 * SECOND as i64).prop_map(|(i, e)| Op::Error(i, e)),
        2 => (0..3usize, 0..3 * MS).prop_map(|(i, b)| Op::Bound(i, b)),
        2 => (0..3usize, status).prop_map(|(i, s)| Op::Status(i, s)),
        1 => (0..3usize, any::<bool>()).prop_map(|(i, f)| Op::Freeze(i, f)),
        3 => Just(Op::Check),
        3 => Just(Op::Read),
    ]
}

proptest! {
    /// Whatever the sources do, the output never goes back, and its interval holds the
    /// active source's interval, so the truth is inside whenever that source is right.
    #[test]
    fn output_is_monotone_and_covers_the_active_source(
        ops in proptest::collection::vec(op(), 1..200),
        slew_ppm in prop_oneof![Just(0u32), 1..2_000u32, Just(1_000_000u32)],
    ) {
        let truth = Cell::new(START);
        let sources = [
            Scripted::new(&truth, 10_000, ClockStatus::Synchronized),
            Scripted::new(&truth, 100_000, ClockStatus::Synchronized),
            Scripted::new(&truth, 16 * SECOND, ClockStatus::FreeRunning),
        ];
        let config = SelectorConfig {
            failback_after: Duration::from_secs(5),
            slew_ppm,
            ..CONFIG
        };
        let hooks = Counting::default();
        let mut s = Selector::with_hooks(
            [&sources[0] as Dyn, &sources[1], &sources[2]],
            config,
            &hooks,
        );
        let mut last = Instant::<Tai>::EPOCH;
        for op in ops {
            match op {
                Op::Advance(d) => truth.set(truth.get() + d),
                Op::Error(i, e) => sources[i].error.set(e),
                Op::Bound(i, b) => sources[i].bound.set(b),
                Op::Status(i, st) => sources[i].status.set(st),
                Op::Freeze(i, f) => {
                    let t = sources[i].time();
                    sources[i].frozen.set(f.then_some(t));
                }
                Op::Check => {
                    let r = s.check();
                    prop_assert_eq!(usize::from(r.active), s.active());
                }
                Op::Read => {}
            }
            let out = s.read();
            let active = sources[s.active()].read();
            prop_assert!(out.time >= last, "went back: {:?} after {:?}", out.time, last);
            last = out.time;
            let (o, a) = (out.interval(), active.interval());
            prop_assert!(
                o.earliest <= a.earliest && a.latest <= o.latest,
                "output {:?} does not hold the active source's {:?}", o, a
            );
            prop_assert_eq!(out.status, active.status);
            // The truth is covered whenever the active source vouches for it.
            let truth_now = Instant::<Tai>::from_nanos(truth.get());
            if a.contains(truth_now) {
                prop_assert!(o.contains(truth_now));
            }
        }
        // Every switch was reported through both hooks.
        let switched = hooks.faults.borrow().iter()
            .filter(|f| matches!(f, Fault::SourceSwitched { .. }))
            .count();
        prop_assert_eq!(switched, hooks.switches.get() as usize);
    }
}
