//! The impairment forwarder itself (TAP devices in two namespaces, frames copied with a
//! per-direction delay, jitter and loss, from a seed), checked with UDP echoes: round trips take
//! the configured delays, and the configured loss is seen. PTP through it is the next step
//! (see docs/ptp.md). Needs root.

mod support;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tempora_core::clock::ClockStatus;

use support::impair::{udp_in, Burst, Forwarder, Impairment};
use support::*;

/// Round trips (ms) of `count` UDP echoes from the master side to the slave side; the
/// number answered is the length.
fn echo(m: &str, s: &str, count: u32) -> Vec<f64> {
    let a = udp_in(m, "10.99.0.1:5000");
    let b = udp_in(s, "10.99.0.2:5001");
    a.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    b.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut rtts = Vec::new();
    for k in 0..count {
        let start = std::time::Instant::now();
        a.send_to(&k.to_be_bytes(), "10.99.0.2:5001").unwrap();
        let mut buf = [0u8; 16];
        if let Ok((n, from)) = b.recv_from(&mut buf) {
            b.send_to(&buf[..n], from).unwrap();
        }
        // Replies to earlier echoes that came late are skipped, not taken for this one.
        while let Ok(n) = a.recv(&mut buf) {
            if buf[..n] == k.to_be_bytes() {
                rtts.push(start.elapsed().as_secs_f64() * 1e3);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    rtts
}

#[test]
fn forwarder_applies_delay_jitter_and_loss() {
    let lab = Lab::bare("f");
    let (m, s) = (lab.master_ns.clone(), lab.slave_ns.clone());
    // 1 ms out, 1.5 ms back, ±100 µs each: round trips between 2.3 and 2.7 ms (plus the
    // forwarder's own scheduling, under 0.3 ms here).
    let out = Impairment {
        delay: Duration::from_millis(1),
        jitter: Duration::from_micros(100),
        loss_percent: 0,
    };
    let back = Impairment {
        delay: Duration::from_micros(1500),
        jitter: Duration::from_micros(100),
        loss_percent: 0,
    };
    let fwd = Forwarder::start(&m, &s, out, back, 7);
    let _ = echo(&m, &s, 3); // ARP first
    let rtts = echo(&m, &s, 40);
    assert_eq!(rtts.len(), 40, "lossless path lost echoes");
    let mean = rtts.iter().sum::<f64>() / rtts.len() as f64;
    let (lo, hi) = rtts
        .iter()
        .fold((f64::MAX, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
    println!("delay 1.0/1.5 ms +-0.1 ms: rtt mean {mean:.3} ms, min {lo:.3}, max {hi:.3}");
    assert!(
        lo >= 2.3,
        "round trip {lo} ms shorter than the configured 2.5 - 0.2 ms"
    );
    assert!((2.4..3.0).contains(&mean), "mean round trip {mean} ms");
    drop(fwd);
}

#[test]
fn forwarder_drops_the_configured_share() {
    let lab = Lab::bare("g");
    let (m, s) = (lab.master_ns.clone(), lab.slave_ns.clone());
    let lossy = Impairment {
        delay: Duration::from_micros(100),
        jitter: Duration::ZERO,
        loss_percent: 20,
    };
    let fwd = Forwarder::start(&m, &s, lossy, lossy, 11);
    // Warm ARP up first, so that losses below are of echoes alone.
    let _ = echo(&m, &s, 10);
    let before: u64 = fwd
        .counts
        .iter()
        .map(|c| c.dropped.load(Ordering::Relaxed))
        .sum();
    let replies = echo(&m, &s, 100).len();
    let dropped: u64 = fwd
        .counts
        .iter()
        .map(|c| c.dropped.load(Ordering::Relaxed))
        .sum::<u64>()
        - before;
    // Each echo crosses twice: it survives with probability 0.8² = 0.64.
    println!("20% loss each way: {replies}/100 echoes answered, {dropped} frames dropped");
    assert!((50..=78).contains(&replies), "{replies} of 100 answered");
    assert!(dropped >= 20, "only {dropped} frames dropped");
}

struct Scenario {
    name: &'static str,
    a_to_b: Impairment,
    b_to_a: Impairment,
    /// What a symmetric-path estimator must read: half the asymmetry (ns).
    expected_bias: f64,
    /// The steady-state error's limits, as multiples of the path's configured jitter, on
    /// top of [`FORWARDER_ALLOWANCE`] (RMS) or twice it (p99, max)
    /// (RMS, p99, max): see each scenario for the recorded figures they come from.
    limits: (f64, f64, f64),
}

/// What the forwarder itself may add: its two threads do not wake equally fast, and in
/// single runs that asymmetry biased both slaves (ptp4l's as much as tempora's) by up to
/// 130 µs with 200 µs of jitter and 41 µs with 20 µs (2026-11-30; up to ±50 µs in the
/// runs of 2026-11-28). No two-way protocol can tell it from an offset.
const FORWARDER_ALLOWANCE: f64 = 150_000.0;

impl Scenario {
    fn jitter_ns(&self) -> f64 {
        self.a_to_b.jitter.max(self.b_to_a.jitter).as_nanos() as f64
    }
}

/// A ptp4l master and a tempora slave (with a ptp4l slave beside it for the baseline)
/// through the forwarder: the slave locks, stays locked, and stays inside its bound.
fn ptp_through(tag: &str, sc: Scenario) {
    let mut lab = Lab::bare(tag);
    let (m, s) = (lab.master_ns.clone(), lab.slave_ns.clone());
    let fwd = Forwarder::start(&m, &s, sc.a_to_b, sc.b_to_a, 42);
    let (lines, baseline) = ptp4l_master_two_slaves(&mut lab, 30);
    let status = status_lines(&lines);
    let run = slave_run(&status, 0.25);
    let name = sc.name;
    let lock = run
        .lock_after
        .unwrap_or_else(|| panic!("{name}: never synchronized:\n{}", lines.join("\n")));
    let after_lock = status
        .iter()
        .skip((lock / 0.25) as usize)
        .filter(|l| l.ptp.is_some())
        .count();
    let synced = run.samples.len();
    let steady: Vec<(f64, f64)> = run.samples.iter().copied().skip(8).collect();
    assert!(steady.len() >= 30, "{name}: {} samples", steady.len());
    let errors: Vec<f64> = steady.iter().map(|(o, _)| o - sc.expected_bias).collect();
    let inside = steady.iter().filter(|(o, b)| o.abs() <= *b).count();
    let (rms, max, p99) = stats(&errors);
    let mean = steady.iter().map(|(o, _)| o).sum::<f64>() / steady.len() as f64;
    let dropped: u64 = fwd
        .counts
        .iter()
        .map(|c| c.dropped.load(Ordering::Relaxed))
        .sum();
    println!(
        "{name}: lock {lock:.2} s, synchronized {synced}/{after_lock} lines, offset mean {mean:.0} ns (expected {:.0}), \
         error RMS {rms:.0} ns, max {max:.0}, p99 {p99:.0}, {inside}/{} inside the bound, {dropped} frames dropped",
        sc.expected_bias,
        steady.len()
    );
    if baseline.len() > 5 {
        let (brms, bmax, bp99) = stats(
            &baseline
                .iter()
                .map(|o| o - sc.expected_bias)
                .collect::<Vec<_>>(),
        );
        let bmean = baseline.iter().sum::<f64>() / baseline.len() as f64;
        println!("{name}: ptp4l slave, same path: offset mean {bmean:.0} ns, error RMS {brms:.0} ns, max {bmax:.0}, p99 {bp99:.0} ({} samples)", baseline.len());
    }
    let jitter = sc.jitter_ns();
    let (rms_factor, p99_factor, max_factor) = sc.limits;
    let rms_limit = rms_factor * jitter + FORWARDER_ALLOWANCE;
    let p99_limit = p99_factor * jitter + 2.0 * FORWARDER_ALLOWANCE;
    let max_limit = max_factor * jitter + 2.0 * FORWARDER_ALLOWANCE;
    // Lock by the error (the truth is known: one clock): inside the envelope the max is
    // held to, for 8 lines (2 s) in a row.
    let settled = lock_by_error(&status, sc.expected_bias, max_limit, 8, 0.25);
    let tight = tightness(&status, 8);
    println!(
        "{name}: lock by the error (within {:.0} us for 8 lines) {settled:?} s; bound median {:.0} ns = delay {:.0} ns + {:.0} ns",
        max_limit / 1e3,
        tight.bound_ns,
        tight.delay_ns,
        tight.excess_ns
    );
    // Lock within 10 s of start with the fast announce settings, held under impairment
    // too (the simulation locks in 4-6 s under 1 ms jitter).
    assert!(lock <= 10.0, "{name}: locked only after {lock} s");
    // By the error, measured 2.25-8.75 s over the runs recorded (2026-11-30): held to
    // 12 s, the 10 s target of the status's lock plus a lost exchange or two of margin
    // (under 5% loss a run of losses delays the first stretch of 8 good lines).
    let settled = settled.unwrap_or_else(|| panic!("{name}: the error never settled"));
    assert!(
        settled <= 12.0,
        "{name}: the error settled only after {settled} s"
    );
    // The bound is the mean path delay (the asymmetry PTP cannot see may be that large:
    // the asymmetry scenario shows it) plus a statistical part, three standard deviations
    // of the filtered offset, which must stay within 3x the path's configured jitter
    // (recorded 0.4-2.0x: 10-83 µs against 20-200 µs). Measured against the RMS instead,
    // the ratio swings with a lucky run (29 µs over an RMS of 5 µs once).
    assert!(
        tight.excess_ns <= 3.0 * jitter,
        "{name}: the bound's statistical part {:.0} ns is over 3x the jitter {jitter:.0} ns",
        tight.excess_ns
    );
    assert!(
        rms <= rms_limit,
        "{name}: error RMS {rms:.0} ns over {rms_limit:.0} ns ({rms_factor} x the jitter + the forwarder's allowance)"
    );
    assert!(
        p99 <= p99_limit,
        "{name}: error p99 {p99:.0} ns over {p99_limit:.0} ns"
    );
    assert!(
        max <= max_limit,
        "{name}: error max {max:.0} ns over {max_limit:.0} ns"
    );
    // ptp4l's error through the same impairment, for the record (printed above); the
    // forwarder's scheduling asymmetry moves both slaves from run to run, so a per-run
    // ranking is not asserted here (the veth lab asserts it).
    assert!(
        baseline.len() > 5,
        "{name}: {} ptp4l samples",
        baseline.len()
    );
    assert!(
        synced as f64 >= 0.9 * after_lock as f64,
        "{name}: lost lock: {synced}/{after_lock}"
    );
    assert!(
        inside as f64 >= 0.99 * steady.len() as f64,
        "{name}: {inside}/{} inside the bound",
        steady.len()
    );
}

const MS: Duration = Duration::from_millis(1);

#[test]
fn ptp_locked_under_1ms_delay_with_200us_jitter() {
    let imp = Impairment {
        delay: MS,
        jitter: Duration::from_micros(200),
        loss_percent: 0,
    };
    ptp_through(
        "d",
        Scenario {
            name: "delay 1 ms +-200 us",
            a_to_b: imp,
            b_to_a: imp,
            expected_bias: 0.0,
            // Recorded RMS 9.9-141 µs (the worst with a 130 µs forwarder bias), max up
            // to 212 µs, against 200 µs of jitter: the filter averages the jitter down.
            limits: (0.25, 0.75, 0.75),
        },
    );
}

#[test]
fn ptp_locked_under_5_percent_loss() {
    let imp = Impairment {
        delay: Duration::from_micros(100),
        jitter: Duration::from_micros(20),
        loss_percent: 5,
    };
    ptp_through(
        "l",
        Scenario {
            name: "5% loss",
            a_to_b: imp,
            b_to_a: imp,
            expected_bias: 0.0,
            // Recorded RMS 4.0-46.6 µs (the worst with a 41 µs forwarder bias), max
            // 11-98 µs, against 20 µs of configured jitter.
            limits: (1.0, 3.0, 3.0),
        },
    );
}

#[test]
fn ptp_asymmetry_shows_as_bias_inside_the_bound() {
    // 1.0 ms master to slave, 1.5 ms back: a two-way measurement sees the system clock
    // 250 µs behind the master although they are one clock. The bound must cover it.
    let fast = Impairment {
        delay: MS,
        jitter: Duration::from_micros(20),
        loss_percent: 0,
    };
    let slow = Impairment {
        delay: Duration::from_micros(1500),
        jitter: Duration::from_micros(20),
        loss_percent: 0,
    };
    ptp_through(
        "y",
        Scenario {
            name: "asymmetry 1.0/1.5 ms",
            a_to_b: fast,
            b_to_a: slow,
            expected_bias: -250_000.0,
            // Around the expected bias: recorded RMS 7.1-19.1 µs, max 19-31 µs, against
            // 20 µs of jitter each way; limits as for the loss case.
            limits: (1.0, 3.0, 3.0),
        },
    );
}

/// Impairment bursts from the forwarder: a clean path, then 3 s of 40% loss with 1 ms
/// of jitter, then a 2 s outage. The daemon keeps printing (no line lost), its time and
/// HLC never go back, every reading keeps the truth inside its bound, the outage is
/// ridden out in holdover with a growing bound, and the slave is synchronized again
/// within 5 s of each burst's end.
#[test]
fn ptp_rides_out_impairment_bursts() {
    let mut lab = Lab::bare("u");
    let (m, s) = (lab.master_ns.clone(), lab.slave_ns.clone());
    let clean = Impairment {
        delay: Duration::from_micros(100),
        jitter: Duration::from_micros(20),
        loss_percent: 0,
    };
    let secs = Duration::from_secs;
    // From the forwarder's start; the slave starts about 1 s later.
    let (lossy_from, lossy_until, out_from, out_until) = (11, 14, 19, 21);
    let bursts = [
        Burst {
            from: secs(lossy_from),
            until: secs(lossy_until),
            impairment: Impairment {
                delay: MS,
                jitter: MS,
                loss_percent: 40,
            },
        },
        Burst {
            from: secs(out_from),
            until: secs(out_until),
            impairment: Impairment {
                loss_percent: 100,
                ..clean
            },
        },
    ];
    let fwd = Forwarder::start_with_bursts(&m, &s, clean, clean, &bursts, 7);
    let cfg = lab.ptp4l_config("master", "masterOnly 1\npriority1 10");
    lab.spawn_ptp4l(&m, &cfg, "tpa");
    std::thread::sleep(Duration::from_secs(1));
    let ours = lab.spawn_tempora_slave(&s, "tpb", 30);
    let lines = lab.lines(ours, Duration::from_secs(40));
    let status = status_lines(&lines);
    let dropped: u64 = fwd
        .counts
        .iter()
        .map(|c| c.dropped.load(Ordering::Relaxed))
        .sum();
    drop(fwd);
    // No line lost: one every 250 ms for 30 s.
    assert!(
        status.len() >= 118,
        "{} status lines:\n{}",
        status.len(),
        lines.join("\n")
    );
    assert_monotone(&status);
    // The line index at `t` s of the forwarder's clock (the slave started ~1 s in).
    let line_at = |t: u64| ((t as f64 - 1.0) / 0.25) as usize;
    let lock = status
        .iter()
        .position(|l| l.status == ClockStatus::Synchronized)
        .expect("never synchronized");
    assert!(lock < line_at(lossy_from), "locked only at line {lock}");
    // Bounds honest throughout, bursts included.
    let judged: Vec<_> = status[lock..]
        .iter()
        .filter(|l| l.offset.is_some() && l.bound.is_some())
        .collect();
    let outside: Vec<String> = judged
        .iter()
        .filter(|l| l.offset_ns().unwrap_or(0.0).abs() > l.bound_ns())
        .map(|l| l.to_string())
        .collect();
    assert!(
        outside.is_empty(),
        "{} of {} readings outside their bound:\n{}",
        outside.len(),
        judged.len(),
        outside.join("\n")
    );
    // The outage: holdover, never unknown, with the bound growing.
    let outage = &status[line_at(out_from) + 6..line_at(out_until)];
    assert!(
        outage.iter().any(|l| l.status == ClockStatus::Holdover),
        "no holdover during the outage"
    );
    assert!(
        outage.iter().all(|l| l.status != ClockStatus::Unknown),
        "went unknown during the outage"
    );
    let bounds: Vec<f64> = outage
        .iter()
        .filter(|l| l.status == ClockStatus::Holdover)
        .map(|l| l.bound_ns())
        .collect();
    assert!(
        bounds.windows(2).all(|w| w[1] >= w[0]),
        "the holdover bound shrank: {bounds:?}"
    );
    // Synchronized again within 5 s of each burst's end.
    for end in [lossy_until, out_until] {
        let back = status[line_at(end)..]
            .iter()
            .position(|l| l.status == ClockStatus::Synchronized)
            .map(|i| i as f64 * 0.25);
        println!("bursts: synchronized again {back:?} s after the burst ending at {end} s");
        assert!(
            back.is_some_and(|b| b <= 5.0),
            "not synchronized within 5 s of the burst ending at {end} s"
        );
    }
    let worst = judged
        .iter()
        .map(|l| l.offset_ns().unwrap_or(0.0).abs() / l.bound_ns())
        .fold(0.0, f64::max);
    println!(
        "bursts: {} lines, {} readings judged, all inside their bound (worst |error|/bound {worst:.2}), \
         {dropped} frames dropped, max holdover bound {:.0} ns",
        status.len(),
        judged.len(),
        bounds.iter().copied().fold(0.0, f64::max)
    );
}
