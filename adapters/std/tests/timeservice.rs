//! The host-wide time service end to end: the `tempora` daemon publishes, this process
//! (Rust) and a C program read bounded time and take HLC timestamps through shared
//! memory; a killed daemon is noticed, a restarted one takes over, a stopped one says so.
//! And many threads in several processes (Rust and C) hammer the one HLC word.
//!
//! Every segment lives in a temporary directory of its own, never at the default path.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
use tempora_core::time::{Instant as UtcInstant, Utc};
use tempora_core::timestamp::NodeId;
use tempora_std::timeservice::{
    word, LayoutError, OpenError, Publisher, PublisherOptions, Reader, LAYOUT_VERSION,
};
use tempora_std::{KernelEstimate, SystemClock};

mod service;
use service::{build_c, live_reader, wait_bounded, within, Process, TempDir};

const INTERVAL: Duration = Duration::from_millis(200);

fn daemon(path: &Path) -> Process {
    service::daemon(path, &["--interval", "200ms", "--max-offset", "20ms"])
}

fn build_c_reader(dir: &Path) -> std::path::PathBuf {
    build_c("tempora_reader", dir)
}

/// What the C reader printed: status, time, earliest, latest, and the HLC stamp.
#[derive(Debug)]
struct CReading {
    status: String,
    time: u64,
    earliest: u64,
    latest: u64,
    hlc: Option<(u64, u32)>,
}

fn c_read(exe: &Path, path: &Path) -> CReading {
    let out = Command::new(exe).arg(path).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in {text:?}"))
            .to_string()
    };
    let hlc = field("hlc");
    CReading {
        status: field("status"),
        time: field("time").parse().unwrap(),
        earliest: field("earliest").parse().unwrap(),
        latest: field("latest").parse().unwrap(),
        hlc: hlc
            .split_once('@')
            .map(|(t, n)| (t.parse().unwrap(), n.parse().unwrap())),
    }
}

fn realtime() -> u64 {
    SystemClock::new().time().as_nanos()
}

#[test]
fn daemon_serves_rust_and_c_is_noticed_when_killed_and_stops_cleanly() {
    let dir = TempDir::new("e2e");
    let path = dir.0.join("time");
    let c_reader = build_c_reader(&dir.0);

    // 1. The daemon publishes.
    let first = daemon(&path);
    let reader = live_reader(&path, first.pid());
    let health = reader.health().unwrap();
    let generation = health.header.generation;
    assert_eq!(health.header.interval, INTERVAL);
    assert_eq!(reader.source(), "system");

    // 2. This process reads bounded time: the system clock with the kernel's bound.
    let before = realtime();
    let r = reader.read();
    let after = realtime();
    let kernel = KernelEstimate::read().unwrap();
    assert_eq!(r.status, kernel.clock_status());
    assert!(r.bound >= kernel.max_error && r.bound < kernel.max_error + Duration::from_millis(5));
    assert!(r.time.as_nanos() >= before && r.time.as_nanos() <= after);
    // ... and takes host-wide HLC timestamps on the host's node.
    let hlc = reader.hlc().expect("this user created the segment");
    let stamps: Vec<_> = (0..1_000).map(|_| hlc.now()).collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(stamps[0].node(), reader.node());
    // The daemon's --max-offset guards every process's host-wide HLC: a remote 1 s
    // ahead is refused, one 5 ms ahead taken.
    assert_eq!(health.header.max_offset, Some(Duration::from_millis(20)));
    let remote = |ahead_ns: u64| {
        let at = UtcInstant::from_nanos(realtime() + ahead_ns);
        tempora_core::timestamp::Timestamp::new(at, 0, NodeId(77))
    };
    assert!(hlc.update(remote(1_000_000_000)).is_err());
    let taken = hlc
        .update(remote(5_000_000))
        .expect("within the max offset");
    assert!(taken > stamps[999]);

    // A third process, in C, reads the same and stamps after this one.
    let c = c_read(&c_reader, &path);
    assert_eq!(c.status, r.status.as_str());
    assert!(c.earliest <= c.time && c.time <= c.latest);
    let c_bound = c.latest - c.time;
    assert!(
        c_bound.abs_diff(r.bound.as_nanos() as u64) < 5_000_000,
        "{c:?} vs {r:?}"
    );
    let (c_stamp, c_node) = c.hlc.expect("the C reader may stamp");
    assert_eq!(c_node, reader.node().0);
    assert!(
        c_stamp > stamps.last().unwrap().raw(),
        "C stamped after Rust"
    );
    assert!(hlc.now().raw() > c_stamp, "Rust stamps after C");

    // A second daemon on the same segment is refused, naming the first.
    let second = daemon(&path).0.take().unwrap();
    let out = wait_bounded(second, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "another running tempora daemon (pid {})",
            first.pid()
        )),
        "{err}"
    );
    assert_eq!(reader.health().unwrap().header.generation, generation);

    // 3. SIGKILL: no goodbye. Readers say unknown once the last publication expires,
    // two intervals after it at most.
    let killed_at = Instant::now();
    first.stop(Signal::SIGKILL, Duration::from_secs(10));
    let (last, took) = within(Duration::from_secs(5), "unknown after SIGKILL", || {
        let r = reader.read();
        (r.status == ClockStatus::Unknown).then_some(r)
    });
    let limit = INTERVAL * 2 + Duration::from_millis(250);
    assert!(
        took + killed_at.elapsed() - killed_at.elapsed() <= limit,
        "{took:?}"
    );
    assert_eq!(last.bound, Duration::MAX);
    assert_eq!(c_read(&c_reader, &path).status, "unknown");
    let health = reader.health().unwrap();
    assert!(!health.pid_alive && !health.is_live());
    // The HLC word outlives its daemon.
    let while_dead = hlc.now();
    assert!(while_dead.raw() > c_stamp);

    // 4. A restart takes over: next generation, the same HLC word, fresh readings.
    let restarted = daemon(&path);
    let _ = live_reader(&path, restarted.pid());
    let health = reader.health().unwrap();
    assert_eq!(health.header.generation, generation + 1);
    assert_ne!(reader.read().status, ClockStatus::Unknown);
    assert!(hlc.now() > while_dead);
    assert!(c_read(&c_reader, &path).hlc.unwrap().0 > while_dead.raw());

    // SIGTERM: a clean exit, and readers are told at once.
    let out = restarted.stop(Signal::SIGTERM, Duration::from_secs(10));
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped after"));
    assert_eq!(reader.read().status, ClockStatus::Unknown);
    assert!(!reader.health().unwrap().header.running);
    assert_eq!(c_read(&c_reader, &path).status, "unknown");
}

const HAMMER_ENV: &str = "TEMPORA_TEST_HLC_HAMMER";
const PROCESSES: usize = 4;
const THREADS: usize = 25;
const STAMPS: usize = 2_000;

/// Takes `STAMPS` host-wide stamps on each of `THREADS` threads and writes them as
/// `THREAD RAW` lines to `out`: one process's share of the hammer.
fn hammer(path: &Path, out: &Path) {
    let reader = Reader::open(path).unwrap();
    let per_thread: Vec<Vec<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let hlc = reader.hlc().unwrap();
                s.spawn(move || (0..STAMPS).map(|_| hlc.now().raw()).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut text = String::new();
    for (t, stamps) in per_thread.iter().enumerate() {
        for s in stamps {
            text.push_str(&format!("{t} {s}\n"));
        }
    }
    std::fs::write(out, text).unwrap();
}

#[test]
fn host_wide_hlc_is_unique_and_increasing_across_processes() {
    // In a child (this test binary started again by the parent below): its share only.
    if let Ok(job) = std::env::var(HAMMER_ENV) {
        let (path, out) = job.split_once('|').unwrap();
        hammer(Path::new(path), Path::new(out));
        return;
    }
    let dir = TempDir::new("hammer");
    let path = dir.0.join("time");
    let options = PublisherOptions::new(Duration::from_secs(1), NodeId(5), "system");
    let _daemon = Publisher::open(&path, &options).unwrap();
    let c_reader = build_c_reader(&dir.0);
    // Three Rust processes and one C process, 25 threads each, all at once.
    let mut children = Vec::new();
    let mut outputs = Vec::new();
    for p in 0..PROCESSES {
        let out = dir.0.join(format!("stamps-{p}"));
        let mut cmd = if p + 1 < PROCESSES {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.args([
                "--exact",
                "host_wide_hlc_is_unique_and_increasing_across_processes",
                "--test-threads=1",
            ])
            .env(HAMMER_ENV, format!("{}|{}", path.display(), out.display()));
            cmd
        } else {
            let mut cmd = Command::new(&c_reader);
            cmd.arg(&path)
                .args(["hammer", &THREADS.to_string(), &STAMPS.to_string()])
                .arg(&out);
            cmd
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        children.push(Process(Some(child)));
        outputs.push(out);
    }
    // No deadlock: every process ends within the limit.
    for mut c in children {
        let out = wait_bounded(c.0.take().unwrap(), Duration::from_secs(120));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut all = HashSet::new();
    for out in &outputs {
        let text = std::fs::read_to_string(out).unwrap();
        let mut last = [0u64; THREADS];
        let mut count = 0;
        for line in text.lines() {
            let (t, s) = line.split_once(' ').unwrap();
            let (t, s): (usize, u64) = (t.parse().unwrap(), s.parse().unwrap());
            assert!(
                s > last[t],
                "{}: thread {t} went from {} to {s}",
                out.display(),
                last[t]
            );
            last[t] = s;
            assert!(all.insert(s), "{s} issued twice");
            count += 1;
        }
        assert_eq!(count, THREADS * STAMPS, "{}", out.display());
    }
    assert_eq!(all.len(), PROCESSES * THREADS * STAMPS);
    // Physical time, not a runaway counter: within a second of the clock.
    let max = *all.iter().max().unwrap();
    assert!(max.abs_diff(realtime()) < 1_000_000_000);
}

#[test]
fn one_publisher_per_segment_and_the_hlc_word_survives_restarts() {
    let dir = TempDir::new("owner");
    let path = dir.0.join("time");
    let options = PublisherOptions::new(Duration::from_secs(1), NodeId(3), "ptp:eth9");
    let first = Publisher::open(&path, &options).unwrap();
    match Publisher::open(&path, &options) {
        Err(OpenError::Owned { pid, .. }) => assert_eq!(pid, std::process::id()),
        other => panic!("expected Owned, got {other:?}"),
    }
    let reader = Reader::open(&path).unwrap();
    assert_eq!(reader.source(), "ptp:eth9");
    assert_eq!(reader.node(), NodeId(3));
    // Open, but nothing published yet: unknown, never a stale reading.
    assert_eq!(reader.read().status, ClockStatus::Unknown);
    let stamp = reader.hlc().unwrap().now();
    drop(first);
    let second = Publisher::open(&path, &options).unwrap();
    assert_eq!(second.generation(), 2);
    assert!(reader.hlc().unwrap().now() > stamp);
    assert_eq!(reader.hlc_last().map(|t| t.raw() > stamp.raw()), Some(true));
}

#[test]
fn a_correction_expires_and_a_clean_stop_is_unknown_at_once() {
    let dir = TempDir::new("expiry");
    let path = dir.0.join("time");
    let mut options = PublisherOptions::new(Duration::from_millis(25), NodeId(1), "system");
    options.stale_after = Duration::from_millis(50);
    let mut daemon = Publisher::open(&path, &options).unwrap();
    let reader = Reader::open(&path).unwrap();
    let truth = || ClockReading::<Utc> {
        time: UtcInstant::from_nanos(realtime() - 1_000),
        bound: Duration::from_nanos(300),
        status: ClockStatus::Synchronized,
    };
    daemon.publish_reading(truth, 0, 1_000);
    let r = reader.read();
    assert_eq!(r.status, ClockStatus::Synchronized);
    // The published clock is 1 µs behind CLOCK_REALTIME, known to 300 ns.
    let lag = realtime() - r.time.as_nanos();
    assert!((1_000..1_000_000).contains(&lag), "{lag}");
    assert!(r.bound >= Duration::from_nanos(300) && r.bound < Duration::from_micros(50));
    assert!(reader.health().unwrap().is_live());
    let (_, took) = within(Duration::from_secs(5), "expiry", || {
        (reader.read().status == ClockStatus::Unknown).then_some(())
    });
    assert!(
        took <= Duration::from_millis(50) + Duration::from_millis(100),
        "{took:?}"
    );
    assert!(
        !reader.health().unwrap().is_live(),
        "heartbeat older than stale_after"
    );
    daemon.publish_reading(truth, 0, 1_000);
    assert_eq!(reader.read().status, ClockStatus::Synchronized);
    drop(daemon);
    assert_eq!(reader.read().status, ClockStatus::Unknown);
}

#[test]
fn other_layouts_are_refused_by_readers_and_replaced_by_the_daemon() {
    let dir = TempDir::new("layout");
    let path = dir.0.join("time");
    // A segment from a future layout version.
    let mut page = vec![0u8; 4096];
    page[..8].copy_from_slice(&u64::from_le_bytes(*b"TEMPORAt").to_ne_bytes());
    page[word::VERSION * 8..word::VERSION * 8 + 8]
        .copy_from_slice(&(LAYOUT_VERSION + 1).to_ne_bytes());
    page[word::SIZE * 8..word::SIZE * 8 + 8].copy_from_slice(&4096u64.to_ne_bytes());
    std::fs::write(&path, &page).unwrap();
    match Reader::open(&path) {
        Err(OpenError::Layout { source, .. }) => {
            assert_eq!(source, LayoutError::Version(LAYOUT_VERSION + 1))
        }
        other => panic!("expected a layout error, got {other:?}"),
    }
    // Not a segment at all, and too short to map.
    std::fs::write(dir.0.join("short"), b"TEMPORAt").unwrap();
    assert!(matches!(
        Reader::open(&dir.0.join("short")),
        Err(OpenError::Io { .. })
    ));
    let options = PublisherOptions::new(Duration::from_secs(1), NodeId(1), "system");
    let _daemon = Publisher::open(&path, &options).unwrap();
    assert_eq!(
        Reader::open(&path)
            .unwrap()
            .health()
            .unwrap()
            .header
            .generation,
        1
    );
}

#[test]
fn the_journal_keeps_the_latest_lines_and_warnings_across_a_restart() {
    use tempora_core::time::Offset;
    use tempora_std::timeservice::{Event, EventQueue, HistoryEntry, EVENTS_LEN, HISTORY_LEN};
    let dir = TempDir::new("journal");
    let path = dir.0.join("time");
    let options = PublisherOptions::new(INTERVAL, NodeId(3), "system");
    let entry = |i: u64| HistoryEntry {
        time: UtcInstant::from_nanos(1_000_000_000 * i),
        status: ClockStatus::Synchronized,
        offset: Some(Offset::from_nanos(i as i64 - 30)),
        bound: Some(Duration::from_nanos(1_000 + i)),
    };
    let queue = EventQueue::new();
    {
        let mut daemon = Publisher::open(&path, &options).unwrap();
        daemon.journal_events_from(queue.clone());
        for i in 0..30 {
            if i % 3 == 0 {
                queue.push(Event {
                    time: UtcInstant::from_nanos(i),
                    text: format!("warning {i}"),
                });
            }
            daemon.record(&entry(i));
        }
    }
    // A second daemon continues the journal where the first left it.
    let mut daemon = Publisher::open(&path, &options).unwrap();
    for i in 30..70 {
        daemon.record(&entry(i));
    }
    let reader = Reader::open(&path).unwrap();
    let history = reader.history();
    assert_eq!(history.len(), HISTORY_LEN);
    let expected: Vec<_> = (70 - HISTORY_LEN as u64..70).map(entry).collect();
    assert_eq!(history, expected);
    let events = reader.events();
    assert_eq!(events.len(), 10.min(EVENTS_LEN));
    assert_eq!(events[0].text, "warning 0");
    assert_eq!(events[9].text, "warning 27");
}
