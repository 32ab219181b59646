//! Interoperation with linuxptp's `ptp4l`, the real peer, over a veth pair between two
//! network namespaces that each test creates and deletes.
//!
//! Both ends share the host's clock, so the true offset between them is exactly zero (or
//! the offset a tempora master injects): what a slave reports *is* its error. Every
//! `ptp4l` runs with `free_running 1`, so nothing writes the host clock, and tempora
//! only ever disciplines its virtual clock. Needs root, `ip` and `ptp4l`
//! (`apt-get install linuxptp`; the README's test command installs it).

mod support;
use std::time::Duration;

use tempora_core::clock::ClockStatus;
use tempora_std::daemon::Source;

use support::*;

#[test]
fn ptp4l_master_to_tempora_slave() {
    ptp4l_master_to_tempora_slave_in(Lab::new("a"));
}

#[test]
fn ptp4l_master_to_tempora_slave_over_l2() {
    ptp4l_master_to_tempora_slave_in(Lab::new("d").over(Transport::L2));
}

/// tempora alone on the slave side, the ptp4l slave right after on the same path. A
/// second slave process on the link, woken by the same Syncs, makes the slave's own
/// send path slower and less steady (measured: Delay_Req transits with a 10th
/// percentile of 0.43-0.45 µs alone, 0.64-2.3 µs beside ptp4l's slave), so this is the
/// accuracy a lone slave sees; the test above is the same-run comparison.
#[test]
fn ptp4l_master_to_tempora_slave_alone() {
    ptp4l_master_to_tempora_slave_in(Lab::new("i").baseline_after());
}

/// Peer-to-peer delay measurement: every process runs P2P (ptp4l's `delay_mechanism
/// P2P`), so the tempora slave measures the link with Pdelay messages that ptp4l's
/// master answers, and answers ptp4l's in turn.
#[test]
fn ptp4l_master_to_tempora_slave_peer_to_peer() {
    ptp4l_master_to_tempora_slave_in(Lab::new("f").peer_to_peer());
}

/// The same over Layer 2, where peer-delay messages go to 01-80-C2-00-00-0E.
#[test]
fn ptp4l_master_to_tempora_slave_peer_to_peer_over_l2() {
    ptp4l_master_to_tempora_slave_in(Lab::new("h").over(Transport::L2).peer_to_peer());
}

/// How long the slave runs: 20 s, or `TEMPORA_LAB_SECONDS` for a longer measurement.
fn lab_seconds() -> u64 {
    std::env::var("TEMPORA_LAB_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

/// What each scenario's steady-state error RMS must stay under: three times the worst
/// RMS recorded for it in docs/ptp.md (UDP/IPv4 E2E 541 ns, Layer 2 E2E 274 ns, UDP P2P
/// 428 ns, Layer 2 P2P 375 ns; AMD EPYC VM), rounded up. A regression of 20x, which the
/// old "max < 10 us" check let through, fails here; so does losing to ptp4l (below).
fn rms_ceiling_ns(lab: &Lab) -> f64 {
    match (lab.transport(), lab.is_peer_to_peer()) {
        (Transport::Udpv4, false) => 1_700.0,
        (Transport::L2, false) => 850.0,
        (Transport::Udpv4, true) => 1_300.0,
        (Transport::L2, true) => 1_150.0,
    }
}

/// Lock, by the error: inside 1 µs (the ceiling's order) for 8 status lines (2 s) in a
/// row. The filter's own lock (`status=synchronized`) comes from its learnt noise, so
/// "synchronized within 10 s" would hold by construction; this is measured.
const LOCK_THRESHOLD_NS: f64 = 1_000.0;
const LOCK_LINES: usize = 8;

/// The bound's statistical part (over the path delay it must carry for asymmetry) may be
/// at most this many times the observed RMS error. Recorded (2026-11-30, AMD EPYC VM,
/// all five scenarios): the part over the delay was 0.5-2.1x the RMS, the whole bound
/// 2.5-8.7x (0.5-1.3 µs against 133-450 ns); 4x leaves room for a noisy run without
/// letting a bound a hundred times the error through. The RMS is floored at 100 ns for
/// this, so a lucky quiet run does not fail a bound that is honest.
const EXCESS_OVER_RMS: f64 = 4.0;

fn ptp4l_master_to_tempora_slave_in(mut lab: Lab) {
    let label = lab.label();
    let ceiling = rms_ceiling_ns(&lab);
    let (lines, baseline) = ptp4l_master_two_slaves(&mut lab, lab_seconds());
    let status = status_lines(&lines);
    let run = slave_run(&status, 0.25);
    let lock = run
        .lock_after
        .unwrap_or_else(|| panic!("never synchronized:\n{}", lines.join("\n")));
    assert!(lock <= 10.0, "locked only after {lock} s");
    let steady: Vec<(f64, f64)> = run.samples.iter().copied().skip(8).collect();
    assert!(
        steady.len() >= 30,
        "{} samples:\n{}",
        steady.len(),
        lines.join("\n")
    );
    let inside = steady.iter().filter(|(o, b)| o.abs() <= *b).count();
    let errors: Vec<f64> = steady.iter().map(|s| s.0).collect();
    let (rms, max, p99) = stats(&errors);
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    println!("{label}: tempora slave: lock {lock:.2} s, error RMS {rms:.0} ns, mean {mean:.0} ns, max {max:.0} ns, p99 {p99:.0} ns, {inside}/{} inside its bound", steady.len());
    // Once the frequency has settled (its uncertainty falls for the first ~10 s): the
    // samples from 15 s after the lock on, when the run is long enough to have them.
    let settled: Vec<f64> = errors.iter().copied().skip(4 * 13).collect();
    if settled.len() >= 20 {
        let (srms, smax, _) = stats(&settled);
        let smean = settled.iter().sum::<f64>() / settled.len() as f64;
        println!("{label}: tempora slave from 15 s after the lock: error RMS {srms:.0} ns, mean {smean:.0} ns, max {smax:.0} ns over {} samples", settled.len());
    }
    if baseline.len() > 10 {
        let (brms, bmax, bp99) = stats(&baseline);
        let bmean = baseline.iter().sum::<f64>() / baseline.len() as f64;
        let when = if lab.baseline_runs_after() {
            "right after"
        } else {
            "same run"
        };
        println!("{label}: ptp4l slave, same path, {when}: RMS {brms:.0} ns, mean {bmean:.0} ns, max {bmax:.0} ns, p99 {bp99:.0} ns, {} samples", baseline.len());
    }
    let lock_by_error = lock_by_error(&status, 0.0, LOCK_THRESHOLD_NS, LOCK_LINES, 0.25);
    let tight = tightness(&status, 8);
    println!(
        "{label}: lock by the error (within {LOCK_THRESHOLD_NS} ns for {LOCK_LINES} lines) {lock_by_error:?} s; \
         bound median {:.0} ns = delay {:.0} ns + {:.0} ns ({:.1}x the RMS)",
        tight.bound_ns,
        tight.delay_ns,
        tight.excess_ns,
        tight.excess_ns / rms
    );
    assert!(
        inside as f64 >= 0.99 * steady.len() as f64,
        "{inside}/{} inside the bound",
        steady.len()
    );
    assert!(
        rms <= ceiling,
        "{label}: error RMS {rms:.0} ns over the ceiling {ceiling} ns"
    );
    let lock_by_error = lock_by_error.unwrap_or_else(|| {
        panic!("{label}: the error never settled within {LOCK_THRESHOLD_NS} ns")
    });
    assert!(
        lock_by_error <= 10.0,
        "{label}: error settled only after {lock_by_error} s"
    );
    assert!(
        tight.excess_ns <= EXCESS_OVER_RMS * rms.max(100.0),
        "{label}: the bound's statistical part {:.0} ns is over {EXCESS_OVER_RMS}x the RMS {rms:.0} ns",
        tight.excess_ns
    );
    // Better than ptp4l on the same path, asserted, not just printed. In the same run
    // both slaves see the same path at once: at most ptp4l's RMS. Where ptp4l's slave
    // runs right after tempora's (alone, P2P), the two windows see different moments of
    // a path whose send-path asymmetry wanders by hundreds of ns between runs (one run:
    // tempora +743 ns mean, ptp4l -692 ns, right after): at most 1.25x ptp4l's there.
    if baseline.len() > 10 {
        let (brms, _, _) = stats(&baseline);
        let allowed = if lab.baseline_runs_after() { 1.25 } else { 1.0 };
        assert!(
            rms <= allowed * brms,
            "{label}: tempora's RMS {rms:.0} ns is over {allowed} x ptp4l's {brms:.0} ns on the same path"
        );
    } else {
        panic!(
            "{label}: only {} ptp4l samples for the comparison",
            baseline.len()
        );
    }
}

#[test]
fn tempora_slave_finds_an_injected_master_offset() {
    let mut lab = Lab::new("b");
    let (m, s) = (lab.master_ns.clone(), lab.slave_ns.clone());
    let (mi, si) = (lab.master_if.clone(), lab.slave_if.clone());
    lab.spawn_tempora_master(&m, &mi, 25, &["--offset", "250us"]);
    let ours = lab.spawn_tempora_slave(&s, &si, 15);
    let lines = lab.lines(ours, Duration::from_secs(25));
    let status = status_lines(&lines);
    let run = slave_run(&status, 0.25);
    assert!(
        run.lock_after.is_some(),
        "never synchronized:\n{}",
        lines.join("\n")
    );
    let steady: Vec<(f64, f64)> = run.samples.iter().copied().skip(8).collect();
    assert!(steady.len() >= 20, "{} samples", steady.len());
    // The master runs 250 µs ahead, so the system clock is 250 µs behind it.
    let errors: Vec<f64> = steady.iter().map(|(o, _)| o + 250_000.0).collect();
    let inside = steady
        .iter()
        .zip(&errors)
        .filter(|((_, b), e)| e.abs() <= *b)
        .count();
    let (rms, max, _) = stats(&errors);
    println!(
        "injected +250 us: error RMS {rms:.0} ns, max {max:.0} ns, {inside}/{} inside the bound",
        steady.len()
    );
    assert!(inside as f64 >= 0.99 * steady.len() as f64);
}

#[test]
fn tempora_master_to_ptp4l_slave() {
    tempora_master_to_ptp4l_slave_in(Lab::new("c"));
}

#[test]
fn tempora_master_to_ptp4l_slave_over_l2() {
    tempora_master_to_ptp4l_slave_in(Lab::new("e").over(Transport::L2));
}

/// ptp4l as a P2P slave measures its link against tempora's Pdelay responder.
#[test]
fn tempora_master_to_ptp4l_slave_peer_to_peer() {
    tempora_master_to_ptp4l_slave_in(Lab::new("g").peer_to_peer());
}

fn tempora_master_to_ptp4l_slave_in(mut lab: Lab) {
    let label = lab.label();
    let (m, s) = (lab.master_ns.clone(), lab.slave_ns.clone());
    let (mi, si) = (lab.master_if.clone(), lab.slave_if.clone());
    lab.spawn_tempora_master(&m, &mi, 20, &[]);
    let scfg = lab.ptp4l_config("slave", "slaveOnly 1");
    let peer = lab.spawn_ptp4l(&s, &scfg, &si);
    let lines = lab.lines(peer, Duration::from_secs(12));
    // With free_running 1 ptp4l's servo never locks, so its port stays UNCALIBRATED
    // (RS_SLAVE: it follows that master) rather than reaching SLAVE.
    let selected = lines
        .iter()
        .any(|l| l.contains("selected best master clock 027e"))
        && lines.iter().any(|l| l.contains("UNCALIBRATED on RS_SLAVE"));
    assert!(
        selected,
        "ptp4l never selected tempora as its master:\n{}",
        lines.join("\n")
    );
    let offsets = ptp4l_offsets(&lines);
    assert!(
        offsets.len() >= 5,
        "ptp4l reported {} offsets:\n{}",
        offsets.len(),
        lines.join("\n")
    );
    let steady = &offsets[offsets.len() / 2..];
    let (rms, max, _) = stats(steady);
    println!(
        "{label}: ptp4l slave of tempora: offset RMS {rms:.0} ns, max {max:.0} ns over {} samples",
        steady.len()
    );
    assert!(
        max < 10_000.0,
        "ptp4l sees offsets up to {max} ns from tempora"
    );
    // Its path delay comes from tempora's Delay_Resp (E2E) or Pdelay responder (P2P):
    // a veth link's is a few microseconds, never negative.
    let delays: Vec<f64> = lines
        .iter()
        .filter_map(|l| {
            l.split("path delay")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(delays.len() >= 5, "{} path delays", delays.len());
    let steady = &delays[delays.len() / 2..];
    assert!(
        steady.iter().all(|d| (0.0..10_000.0).contains(d)),
        "ptp4l's path delays: {steady:?}"
    );
    // The only fault allowed is ptp4l's own race: on a state change it drops its
    // outstanding Pdelay_Req, and a response already on its way counts as "rogue".
    let unexplained = lines.iter().enumerate().any(|(i, l)| {
        l.contains("FAULTY") && (i == 0 || !lines[i - 1].contains("rogue peer delay response"))
    });
    assert!(!unexplained, "ptp4l saw a fault:\n{}", lines.join("\n"));
}

/// The link between master and slave disappears for 4 s (the veth pair is deleted, as
/// when a NIC is unplugged) and comes back under the same names: the daemon carries on
/// without a restart. While the link is gone its status leaves `synchronized` and the
/// bound grows (holdover); its transport, bound to an interface that no longer exists,
/// is reopened once the silence lasts, and the slave is synchronized again within 10 s of
/// the link's return. The log says what happened.
#[test]
fn tempora_slave_resumes_after_its_link_goes_away() {
    let mut lab = Lab::new("k");
    let (m, s) = (lab.master_ns.clone(), lab.slave_ns.clone());
    let (mi, si) = (lab.master_if.clone(), lab.slave_if.clone());
    let cfg = lab.ptp4l_config("master", "masterOnly 1\npriority1 10");
    let master = lab.spawn_ptp4l(&m, &cfg, &mi);
    std::thread::sleep(Duration::from_secs(1));
    let ours = lab.spawn_tempora_slave_logging(&s, &si, 40);
    // Gone from 10 s to 14 s after the slave starts. ptp4l's own socket dies with the
    // interface, so it is restarted on the new one.
    let relink = {
        let (m, mi, s, si) = (m.clone(), mi.clone(), s.clone(), si.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(10));
            sh(&["ip", "-n", &m, "link", "del", &mi]);
            std::thread::sleep(Duration::from_secs(4));
            add_veth(&m, &mi, &s, &si);
        })
    };
    std::thread::sleep(Duration::from_secs(15));
    relink.join().expect("relink");
    lab.kill(master);
    lab.spawn_ptp4l(&m, &cfg, &mi);
    let (lines, log) = lab.lines_and_log(ours, Duration::from_secs(35));
    let status = status_lines(&lines);
    assert!(
        status.len() >= 150,
        "the daemon stopped early ({} lines):\n{}\n{}",
        status.len(),
        lines.join("\n"),
        log.join("\n")
    );
    let synced = |l: &tempora_std::StatusLine| l.status == ClockStatus::Synchronized;
    assert!(
        status[..40].iter().any(synced),
        "never synchronized before the outage"
    );
    // One line per 250 ms: the link is gone over lines 40..56; give the freshness
    // window (1 s) to pass.
    let outage = &status[46..56];
    assert!(
        outage.iter().all(|l| l.status == ClockStatus::Holdover),
        "not in holdover while the link was gone:\n{}",
        lines[46..56].join("\n")
    );
    assert!(
        outage
            .windows(2)
            .all(|w| w[1].bound_ns() >= w[0].bound_ns()),
        "the bound did not grow while the link was gone"
    );
    let back = status[56..]
        .iter()
        .position(synced)
        .map(|i| i as f64 * 0.25)
        .unwrap_or_else(|| panic!("never synchronized again:\n{}", log.join("\n")));
    let reopened = log
        .iter()
        .filter(|l| l.contains("transport_restored"))
        .count();
    println!(
        "link gone 4 s: synchronized again {back:.2} s after it came back; transport reopened {reopened} time(s)"
    );
    assert!(
        back <= 10.0,
        "synchronized again only {back} s after the link came back"
    );
    let said = |what: &str| log.iter().any(|l| l.contains(what));
    assert!(
        said("transport_lost") && said("transport_restored"),
        "the log does not say what happened:\n{}",
        log.join("\n")
    );
    assert!(!said("panicked"), "{}", log.join("\n"));
}

/// A chain of two PTP slaves, each on its own link to its own ptp4l master (Layer 2),
/// then the system clock: `--source ptp:A --source ptp:B --source system`. When master A
/// stops, the chain fails over to B once A's holdover bound passes `--max-bound`; when A
/// returns it fails back after the hysteresis. The served time never goes back, and every
/// switch is logged with its reason. (With only the system clock behind it, an
/// unsynchronized one on these machines, the chain rightly stays on PTP's holdover: the
/// selector fails over to a healthy source, not to a worse one.)
#[test]
fn a_chain_fails_over_and_back_when_a_master_stops_and_returns() {
    let mut lab = Lab::new("n").over(Transport::L2);
    let masters = lab.two_masters();
    let (sa, sb) = (masters.slave_a.clone(), masters.slave_b.clone());
    let ours = lab.spawn_chain(&masters, &["system"], 40, &[]);
    // Master A stops at 15 s and returns at 25 s.
    std::thread::sleep(Duration::from_secs(15));
    lab.kill(masters.a);
    std::thread::sleep(Duration::from_secs(10));
    lab.restart_master_a(&masters);
    let (lines, log) = lab.lines_and_log(ours, Duration::from_secs(25));
    let status = status_lines(&lines);
    assert!(
        status.len() >= 140,
        "{} lines:\n{}",
        status.len(),
        log.join("\n")
    );
    let on = |l: &tempora_std::StatusLine, iface: &str| l.source == Source::Ptp(iface.into());
    let at = |i: usize| i as f64 * 0.25;
    let on_a = status
        .iter()
        .position(|l| on(l, &sa))
        .unwrap_or_else(|| panic!("never read A:\n{}", log.join("\n")));
    let to_b = status[60..]
        .iter()
        .position(|l| on(l, &sb))
        .map(|i| i + 60)
        .unwrap_or_else(|| panic!("never failed over to B:\n{}", log.join("\n")));
    let back = status[100..]
        .iter()
        .position(|l| on(l, &sa))
        .map(|i| i + 100)
        .unwrap_or_else(|| panic!("never failed back to A:\n{}", log.join("\n")));
    println!(
        "chain: on A at {:.2} s; master A stopped at 15 s, on B at {:.2} s; \
         A back at 25 s, on A again at {:.2} s",
        at(on_a),
        at(to_b),
        at(back)
    );
    assert!(at(on_a) <= 10.0, "read A only at {} s", at(on_a));
    assert!(
        status[on_a..60].iter().all(|l| on(l, &sa)),
        "left A before its master stopped"
    );
    // Freshness (1 s), then the holdover bound grows at 1 ppm from about 1 µs past 3 µs.
    assert!(
        (15.0..=20.0).contains(&at(to_b)),
        "failed over at {} s",
        at(to_b)
    );
    // A synchronizes again within 10 s, then 3 s of hysteresis (the line count is the
    // clock here, so allow half a second of slack on the early side).
    assert!(
        (27.0..=38.0).contains(&at(back)),
        "failed back at {} s",
        at(back)
    );
    assert_monotone(&status);
    let switches = log.iter().filter(|l| l.contains("source switched")).count();
    assert!(
        switches >= 2,
        "{switches} switches logged:\n{}",
        log.join("\n")
    );
}
