//! The load and soak tools' logic, run briefly and fed broken input: the checks must
//! catch what they claim to catch.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use tempora_benches::hlc_load::{self, Combined};
use tempora_benches::queue_load::{self, QueueLoad};
use tempora_benches::stats::{least_squares, min_median_max, percentile_sorted, Histogram};
use tempora_benches::verify::{cross_duplicates, Ledger, StampCheck, Tag};
use tempora_benches::{http, procfs, report};
use tempora_core::hlc::Hlc;
use tempora_core::timestamp::NodeId;
use tempora_std::SystemClock;

/// Three producers' messages 0..n each, as consumers would see them.
fn stream(producers: u32, n: u64) -> Vec<Tag> {
    (0..n)
        .flat_map(|s| (0..producers).map(move |p| Tag::new(p, s)))
        .collect()
}

fn sent(producers: usize, n: u64) -> (Vec<u64>, Vec<u64>) {
    let sums = (0..producers as u32)
        .map(|p| (0..n).fold(0u64, |a, s| a.wrapping_add(Tag::new(p, s).check)))
        .collect();
    (vec![n; producers], sums)
}

#[test]
fn a_complete_stream_is_clean() {
    let mut l = Ledger::new(3);
    for t in stream(3, 1000) {
        l.observe(t);
    }
    let (n, sums) = sent(3, 1000);
    let v = l.verdict(&n, &sums);
    assert!(v.is_clean(), "{v:?}");
    assert_eq!((v.sent, v.received), (3000, 3000));
}

#[test]
fn a_dropped_message_is_lost_by_count_and_by_checksum() {
    let mut l = Ledger::new(3);
    for t in stream(3, 1000)
        .into_iter()
        .filter(|t| *t != Tag::new(1, 517))
    {
        l.observe(t);
    }
    let (n, sums) = sent(3, 1000);
    let v = l.verdict(&n, &sums);
    assert!(!v.is_clean());
    assert_eq!(
        (v.lost, v.duplicated, v.checksum_mismatches),
        (1, 0, 1),
        "{v:?}"
    );
}

#[test]
fn the_last_message_dropped_is_lost_too() {
    // The tail of a producer's sequence: nothing after it to show the gap.
    let mut l = Ledger::new(1);
    for t in stream(1, 64).into_iter().take(63) {
        l.observe(t);
    }
    let (n, sums) = sent(1, 64);
    assert_eq!(l.verdict(&n, &sums).lost, 1);
}

#[test]
fn a_duplicate_is_found_in_one_consumer_and_across_two() {
    let (n, sums) = sent(2, 300);
    let mut one = Ledger::new(2);
    for t in stream(2, 300) {
        one.observe(t);
    }
    one.observe(Tag::new(0, 42));
    let v = one.verdict(&n, &sums);
    assert_eq!((v.duplicated, v.lost), (1, 0), "{v:?}");
    assert!(!v.is_clean());

    // Two consumers that both delivered message (1, 7).
    let (mut a, mut b) = (Ledger::new(2), Ledger::new(2));
    for (i, t) in stream(2, 300).into_iter().enumerate() {
        if i % 2 == 0 { &mut a } else { &mut b }.observe(t);
    }
    b.observe(Tag::new(1, 7));
    let mut ab = Ledger::new(2);
    ab.merge(&a);
    ab.merge(&b);
    let v = ab.verdict(&n, &sums);
    assert_eq!((v.duplicated, v.lost, v.received), (1, 0, 601), "{v:?}");
}

#[test]
fn a_duplicate_standing_in_for_a_loss_is_still_caught() {
    // Count alone would pass: 300 sent, 300 received.
    let (n, sums) = sent(1, 300);
    let mut l = Ledger::new(1);
    for t in stream(1, 300) {
        l.observe(if t.seq == 100 { Tag::new(0, 99) } else { t });
    }
    let v = l.verdict(&n, &sums);
    assert_eq!(v.received, v.sent);
    assert_eq!((v.lost, v.duplicated), (1, 1), "{v:?}");
    assert!(!v.is_clean());
}

#[test]
fn changed_content_and_strangers_are_caught() {
    let (n, sums) = sent(2, 100);
    let mut l = Ledger::new(2);
    for mut t in stream(2, 100) {
        if t == Tag::new(0, 5) {
            t.check ^= 1; // a flipped bit in the message
        }
        l.observe(t);
    }
    l.observe(Tag::new(9, 0)); // no such producer
    l.observe(Tag::new(1, 100)); // past producer 1's last
    let v = l.verdict(&n, &sums);
    assert_eq!((v.corrupted, v.unexpected), (1, 2), "{v:?}");
    assert_eq!(v.checksum_mismatches, 2, "{v:?}");
}

#[test]
fn stamp_check_counts_repeats_and_steps_back() {
    let mut c = StampCheck::new(0);
    for v in [10, 20, 20, 30, 25, 40] {
        c.observe(v);
    }
    assert_eq!((c.count, c.not_increasing), (6, 2));
    assert_eq!(c.sampled, vec![10, 20, 20, 30, 25, 40]);
}

#[test]
fn a_value_two_workers_got_is_sampled_by_both_and_found() {
    // Sampling by value: whatever the rate, a value is kept by every stream that got it
    // or by none. Two disjoint streams (even and odd values) share nothing...
    let (mut a, mut b) = (StampCheck::new(6), StampCheck::new(6));
    for v in (0..10_000u64).map(|i| i * 2) {
        a.observe(v);
        b.observe(v + 1);
    }
    assert_eq!(cross_duplicates(&[&a.sampled, &b.sampled]), 0);
    let kept = a.sampled.len() as f64 / a.count as f64;
    assert!((0.005..0.04).contains(&kept), "kept {kept}");
    // ...until both get the same value above what they had; find one the sample keeps.
    let shared = (20_000u64..)
        .find(|&v| {
            let mut c = StampCheck::new(6);
            c.observe(v);
            !c.sampled.is_empty()
        })
        .unwrap();
    a.observe(shared);
    b.observe(shared);
    assert_eq!(
        a.not_increasing + b.not_increasing,
        0,
        "still increasing in each"
    );
    assert_eq!(cross_duplicates(&[&a.sampled, &b.sampled]), 1);
}

#[test]
fn one_second_of_hlc_stamps_on_two_threads_is_clean() {
    let hlc = Hlc::new(SystemClock::new(), NodeId(1));
    let runs = hlc_load::threads(2, 1, 4, || hlc.now().raw());
    let c = Combined::of(&runs);
    assert_eq!(c.per_second.len(), 1);
    assert!(c.stamps > 100_000, "{c:?}");
    assert!(c.is_clean(), "{c:?}");
    assert!(c.sampled > 1_000);
    // And the same machinery flags a broken source: two workers on a counter that
    // hands every value out twice.
    let n = std::sync::atomic::AtomicU64::new(0);
    let broken = hlc_load::threads(2, 1, 4, || {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) / 2
    });
    let c = Combined::of(&broken);
    assert!(c.cross_duplicates + c.not_increasing > 0, "{c:?}");
}

#[test]
fn a_worker_report_survives_the_trip_from_a_child() {
    let run = hlc_load::stamp_for(1, 10, {
        let mut v = 0;
        move || {
            v += 3;
            v
        }
    });
    let dir = std::env::temp_dir().join(format!("tempora-load-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("samples");
    hlc_load::write_samples(&path, &run.check.sampled).unwrap();
    let back = hlc_load::decode(
        &hlc_load::encode(&run),
        hlc_load::read_samples(&path).unwrap(),
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let back = back.unwrap();
    assert_eq!(back.check.count, run.check.count);
    assert_eq!(back.check.sampled, run.check.sampled);
    assert_eq!(back.per_second, run.per_second);
    assert_eq!(back.elapsed, run.elapsed);
}

#[test]
fn a_tiny_queue_under_load_refuses_and_loses_nothing() {
    let load = QueueLoad {
        producers: 2,
        consumers: 2,
        duration: Duration::from_secs(1),
        batch: 4,
        depth_every: Duration::from_millis(50),
        drain_limit: Duration::from_secs(10),
    };
    let r = queue_load::run::<8>(&load);
    assert!(r.verdict.is_clean(), "{:?}", r.verdict);
    assert!(r.verdict.received > 1_000, "{:?}", r.verdict);
    assert!(
        r.refusals > 0,
        "a queue of 8 under two producers must refuse"
    );
    assert_eq!(r.latency.len(), r.verdict.received);
    assert!(r.depth.iter().all(|d| d.1 <= 8));
    assert!(r.depth.len() >= 10);
    assert_eq!(r.per_second.len(), 1);
    assert!(r.throughput() > 0.0);
}

#[test]
fn the_slope_fit_is_right_on_synthetic_lines() {
    // 4 KiB/min growth from 5000 KiB, sampled every second for 10 minutes.
    let points: Vec<(f64, f64)> = (0..600)
        .map(|s| {
            let m = f64::from(s) / 60.0;
            (m, 5000.0 + 4.0 * m)
        })
        .collect();
    let (slope, intercept) = least_squares(&points).unwrap();
    assert!((slope - 4.0).abs() < 1e-9 && (intercept - 5000.0).abs() < 1e-6);
    // Flat with one page of noise back and forth: flat.
    let flat: Vec<(f64, f64)> = (0..600)
        .map(|s| (f64::from(s) / 60.0, 5000.0 + 4.0 * f64::from(s % 2)))
        .collect();
    assert!(least_squares(&flat).unwrap().0.abs() < 0.1);
    // One step of 64 KiB halfway through 9 minutes: 64 * 1.5 / 9 KiB/min.
    let step: Vec<(f64, f64)> = (0..540)
        .map(|s| (f64::from(s) / 60.0, if s < 270 { 5000.0 } else { 5064.0 }))
        .collect();
    let s = least_squares(&step).unwrap().0;
    assert!((s - 64.0 * 1.5 / 9.0).abs() < 0.2, "{s}");
    assert!(least_squares(&[(1.0, 2.0)]).is_none());
    assert!(least_squares(&[(1.0, 2.0), (1.0, 3.0)]).is_none());
}

#[test]
fn proc_parsing_reads_this_process() {
    let pid = std::process::id();
    let rss = procfs::rss_kib(pid).unwrap();
    assert!(rss > 100, "{rss} KiB");
    // Touch 32 MiB: the resident set grows by about that.
    let mut big = vec![0u8; 32 << 20];
    for i in (0..big.len()).step_by(4096) {
        big[i] = 1;
    }
    let grown = procfs::rss_kib(pid).unwrap();
    assert!(grown >= rss + 30_000, "{rss} -> {grown} KiB");
    std::hint::black_box(&big);
    drop(big);

    let (rss, anon) = procfs::rss_and_anon_kib(pid).unwrap();
    assert!(anon > 0 && anon < rss, "{anon} of {rss} KiB");
    let mut s = procfs::Sampler::new(pid);
    s.sample().unwrap();
    // Spin until the kernel has counted at least 20 ticks of this process's CPU (at
    // most 20 s of wall time, on however loaded a machine): the sampler must then see
    // CPU in use, no more than the machine's cores can give, and agree with the ticks.
    let ticks0 = procfs::cpu_ticks(pid).unwrap();
    let started = Instant::now();
    let mut x = 0u64;
    while procfs::cpu_ticks(pid).unwrap() < ticks0 + 20
        && started.elapsed() < Duration::from_secs(20)
    {
        for _ in 0..100_000 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let used =
        (procfs::cpu_ticks(pid).unwrap() - ticks0) as f64 / procfs::ticks_per_second() as f64;
    let busy = s.sample().unwrap();
    assert!(used >= 0.2, "only {used} s of CPU counted in {wall} s");
    let cores = procfs::cpus() as f64;
    assert!(
        busy.cpu_pct > 0.0 && busy.cpu_pct <= 100.0 * cores + 10.0,
        "{busy:?}"
    );
    // The sampler's share is the ticks over the wall time, within a tick each side.
    let expected = 100.0 * used / wall;
    let tick = 100.0 / procfs::ticks_per_second() as f64 / wall;
    assert!(
        (busy.cpu_pct - expected).abs() <= 2.0 * tick + 0.05 * expected,
        "{busy:?} vs {expected}"
    );
    assert!(s.mean_cpu_pct() > 0.0);
    let (voluntary, _) = procfs::context_switches(pid).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert!(procfs::context_switches(pid).unwrap().0 > voluntary);
    assert!(procfs::comm(pid).is_some());
    assert!(procfs::rss_kib(u32::MAX).is_none());
}

#[test]
fn proc_texts_parse_the_awkward_cases() {
    // A command name with spaces and a parenthesis; utime 1234, stime 56.
    let stat = "42 (my (odd) cmd) S 1 42 42 0 -1 4194560 100 0 0 0 1234 56 0 0 20 0 3 0 99";
    assert_eq!(procfs::parse_stat_cpu_ticks(stat), Some(1290));
    assert_eq!(procfs::parse_stat_cpu_ticks("42 (x) S 1"), None);
    let status = "Name:\tptp4l\nVmPeak:\t  9000 kB\nVmRSS:\t    2548 kB\n\
                  RssAnon:\t     412 kB\nRssFile:\t    2136 kB\nThreads:\t1\n";
    assert_eq!(procfs::parse_vm_rss_kib(status), Some(2548));
    assert_eq!(procfs::parse_rss_anon_kib(status), Some(412));
    assert_eq!(procfs::parse_vm_rss_kib("Name:\tx\n"), None);
    let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n";
    assert_eq!(
        procfs::parse_cpu_model(cpuinfo).as_deref(),
        Some("AMD EPYC 7B13")
    );
    assert_eq!(
        procfs::parse_loadavg("1.50 0.75 0.25 2/345 6789\n"),
        Some([1.5, 0.75, 0.25])
    );
    assert!(procfs::loadavg().is_some());
}

#[test]
fn histogram_percentiles_are_within_three_percent() {
    let mut h = Histogram::new();
    for v in 1..=100_000u64 {
        h.record(v);
    }
    for (p, want) in [(0.5, 50_000.0), (0.99, 99_000.0), (0.999, 99_900.0)] {
        let got = h.percentile(p) as f64;
        assert!(got >= want && got <= want * 1.032, "p{p}: {got}");
    }
    assert_eq!(h.percentile(1.0), 100_000);
    let mut g = Histogram::new();
    g.record(7);
    g.merge(&h);
    assert_eq!((g.len(), g.percentile(0.0)), (100_001, 1));
    assert_eq!(Histogram::new().percentile(0.5), 0);
}

#[test]
fn small_statistics() {
    assert_eq!(min_median_max(&[3.0, 1.0, 2.0]), (1.0, 2.0, 3.0));
    assert!(min_median_max(&[]).0.is_nan());
    let s = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(percentile_sorted(&s, 0.5), 2.0);
    assert_eq!(percentile_sorted(&s, 1.0), 4.0);
    assert_eq!(percentile_sorted(&s, 0.0), 1.0);
    assert_eq!(report::civil_from_days(0), (1970, 1, 1));
    assert_eq!(report::civil_from_days(19_723), (2024, 1, 1));
    assert_eq!(report::civil_from_days(11_016), (2000, 2, 29));
}

#[test]
fn a_scrape_reads_a_metric_plain_and_chunked() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        for body in [
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n# HELP x\ntempora_clock_status{status=\"synchronized\"} 1\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nup 1\nx 2\n\r\n3\r\nx 3\r\n0\r\n\r\n",
        ] {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 512];
            while !req.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "the request ended early");
                req.extend_from_slice(&buf[..n]);
            }
            assert!(String::from_utf8_lossy(&req).starts_with("GET /metrics HTTP/1.1\r\n"));
            s.write_all(body.as_bytes()).unwrap();
        }
    });
    let r = http::get(addr, "/metrics", Duration::from_secs(5)).unwrap();
    assert_eq!(r.status, 200);
    let name = "tempora_clock_status{status=\"synchronized\"}";
    assert_eq!(http::metric(&r.body, name), Some(1.0));
    assert_eq!(http::metric(&r.body, "tempora_clock_status"), None);
    let r = http::get(addr, "/metrics", Duration::from_secs(5)).unwrap();
    assert_eq!(r.body, "up 1\nx 2\nx 3");
    assert_eq!(http::metric(&r.body, "x"), Some(2.0));
    server.join().unwrap();
    assert!(http::parse("HTTP/1.1 200 OK\r\n").is_err());
}

#[test]
fn a_markdown_table_and_block() {
    let mut t = report::Table::new(&["what", "n"]);
    t.row(vec!["a".into(), "1".into()]);
    assert_eq!(t.markdown(), "| what | n |\n| --- | ---: |\n| a | 1 |");
    let b = report::block("T", "0.5", &[&t], &["note".into()]);
    assert!(b.starts_with("#### T\n\n"));
    assert!(b.contains(&procfs::cpu_model()));
    assert!(b.contains("load average 0.5"));
    assert!(b.contains("| a | 1 |") && b.contains("- note\n"));
    assert_eq!(report::si(12_345_678.0), "12.35 M");
}

#[test]
fn this_process_threads_are_listed_with_their_names() {
    let pid = std::process::id();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let t = std::thread::Builder::new()
        .name("load-probe".into())
        .spawn(move || {
            // The thread names itself as it starts: list it only after that.
            started_tx.send(()).unwrap();
            rx.recv()
        })
        .unwrap();
    started.recv().unwrap();
    let threads = procfs::threads(pid);
    assert!(threads.iter().any(|t| t.tid == pid), "{threads:?}");
    assert!(
        threads.iter().any(|t| t.comm == "load-probe"),
        "{threads:?}"
    );
    // Other tests' threads come and go meanwhile: only that the sum is there.
    assert!(procfs::context_switches(pid).unwrap().0 > 0);
    tx.send(()).unwrap();
    t.join().unwrap().unwrap();
}

#[test]
fn host_cpu_time_parses_and_moves() {
    let stat = "cpu  100 5 50 1000 20 3 2 7 0 0\ncpu0 50 2 25 500 10 1 1 3 0 0\n";
    let c = procfs::parse_host_cpu(stat).unwrap();
    assert_eq!((c.busy, c.idle, c.steal), (160, 1020, 7));
    let later = procfs::HostCpu {
        busy: 260,
        idle: 1120,
        steal: 7,
    };
    assert_eq!(c.percent_until(&later), (50.0, 0.0));
    assert!(procfs::HostCpu::now().is_some());
}
