//! Many seeds of the whole system, each with zero violations of every invariant, and
//! a seed replays exactly.

use tempora_sim::system::{self, SystemConfig};
use tempora_sim::trace;

/// 8 nodes for 12 s of simulated time: long enough for the warm-up, a grandmaster
/// outage and a few faults per node, short enough for 100 seeds in debug.
fn small(seed: u64) -> SystemConfig {
    SystemConfig {
        nodes: 8,
        duration_ns: 12_000_000_000,
        ..SystemConfig::new(seed)
    }
}

#[test]
fn a_hundred_seeds_break_no_invariant() {
    let (mut switches, mut faults, mut parent_changes, mut judged, mut matches) = (0, 0, 0, 0, 0);
    for seed in 0..100 {
        let (report, _) = system::run(small(seed));
        let inv = &report.invariants;
        let replay =
            format!("cargo run --release -p tempora-sim -- --seed {seed} --nodes 8 --duration 12s");
        for (name, tally) in inv.each() {
            assert_eq!(
                tally.violations, 0,
                "seed {seed}: {name}: {:?}\nreplay: {replay}",
                tally.examples
            );
        }
        // Nothing lost: every message reached the 7 other nodes.
        assert_eq!(
            report.delivered,
            report.sent * 7,
            "seed {seed}; replay: {replay}"
        );
        assert_eq!(inv.nothing_lost.checked, report.sent);
        assert!(report.net.lost > 0 && report.net.duplicated > 0 && report.net.held > 0);
        switches += report.switches;
        faults += report.faults;
        parent_changes += report.parent_changes;
        judged += inv.bounds_honest.checked;
        matches += report.matches;
    }
    // The faults happened and the components reacted: not a run where nothing moved.
    assert!(faults > 300, "{faults} faults");
    assert!(switches > 100, "{switches} selector switches");
    assert!(
        parent_changes > 1_000,
        "{parent_changes} PTP parent changes"
    );
    assert!(judged > 100_000, "{judged} readings judged");
    assert!(matches > 10_000, "{matches} pattern matches");
}

#[test]
fn a_seed_replays_exactly_and_another_differs() {
    let (a, trace_a) = system::run(small(7));
    let (b, trace_b) = system::run(small(7));
    assert_eq!(trace_a, trace_b);
    assert_eq!(a, b);
    assert_eq!(a.digest, trace::digest(&trace_b));
    let (c, _) = system::run(small(8));
    assert_ne!(a.digest, c.digest);
}
