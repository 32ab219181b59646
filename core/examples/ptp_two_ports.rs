//! The sans-IO PTP engine with no network at all: a master port and a slave port pass
//! their bytes through a simulated 2 µs link. The slave's clock starts 250 µs ahead and
//! runs 30 ppm fast; watch it select the master, lock, and find both.
//!
//! The simulation (`tempora_ptp_sim::sim`, in `tests/ptp-sim`) does what a platform
//! adapter does: deliver packets with receive timestamps, report send timestamps, fire
//! timers, and carry out the returned actions. This program only watches the actions.
//!
//! Run: `cargo run -p tempora-core --example ptp_two_ports`

use tempora_core::ptp::port::{Action, PortState};
use tempora_ptp_sim::sim::{Link, Simulation};
use tempora_ptp_sim::{config, stats, LocalClock, SECOND};

fn main() {
    // A 2 µs link without jitter; eight Syncs, Delay_Reqs and Announces a second.
    let mut sim = Simulation::new(0, Link::new(2_000, 0));
    let master = sim.add_node(config::fast(1, 10, false), LocalClock::new(0, 0));
    let slave = sim.add_node(config::fast(2, 128, true), LocalClock::new(250_000, 30_000));
    let mut next_report = 0;
    let mut locked_errors = Vec::new();
    sim.run_until(10 * SECOND, |seen| match seen.action {
        Action::State(s) => println!("{:6.3} s  node {}: {s}", seen.t as f64 / 1e9, seen.node),
        Action::Measure(m) if seen.node == slave => {
            // What the slave should find: its clock minus the master's when the Sync
            // it measured with arrived.
            let truth = seen.true_offset(master, m.at) as f64;
            let error = m.offset.as_f64() - truth;
            if m.locked {
                locked_errors.push(error);
            }
            if seen.t >= next_report {
                next_report += SECOND;
                println!(
                    "{:6.3} s  slave: offset {} (truth {truth:.0} ns, error {error:6.1} ns), \
                     frequency {:8.1} ppb, sigma {:6.1} ns, locked {}",
                    seen.t as f64 / 1e9,
                    m.offset,
                    m.frequency_ppb,
                    m.sigma_ns,
                    seen.port().locked()
                );
            }
        }
        _ => {}
    });
    let p99 = stats::percentile(locked_errors.iter().map(|e| e.abs()), 99.0);
    println!(
        "locked: {} measurements, error RMS {:.1} ns, 99th percentile {:.1} ns",
        locked_errors.len(),
        stats::rms(locked_errors.iter().copied()).unwrap_or(0.0),
        p99.unwrap_or(0.0)
    );
    assert_eq!(
        sim.port(slave).state(),
        PortState::Slave(sim.port(master).config().identity)
    );
    assert!(
        sim.port(slave).locked(),
        "the slave should have locked within 10 s"
    );
}
