//! The impairment forwarder itself (TAP devices in two namespaces, frames copied with a
//! per-direction delay, jitter and loss, from a seed), checked with UDP echoes: round trips take
//! the configured delays, and the configured loss is seen. PTP through it is the next step
//! (see docs/ptp.md). Needs root.

mod support;
use std::sync::atomic::Ordering;
use std::time::Duration;

use support::impair::{udp_in, Forwarder, Impairment};
use support::Lab;

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
            if let Ok(n) = a.recv(&mut buf) {
                if buf[..n] == k.to_be_bytes() {
                    rtts.push(start.elapsed().as_secs_f64() * 1e3);
                }
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
