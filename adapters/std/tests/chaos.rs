//! Chaos with real peers: 100 threads in 4 processes take host-wide HLC timestamps and
//! bounded time from the daemon's time service while its chain of sources fails over
//! (its `ptp4l` master A stopped mid-run, to master B) and back (A returns).
//!
//! The master shares the host's clock, so `CLOCK_REALTIME` is the truth: every reading a
//! process takes through the segment must contain it, across both switches. Needs root,
//! `ip` and `ptp4l` (`free_running 1`: nothing writes the host clock).

mod support;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tempora_core::clock::ClockStatus;
use tempora_std::daemon::Source;
use tempora_std::timeservice::Reader;

use support::*;

const HAMMER_ENV: &str = "TEMPORA_TEST_CHAOS_HAMMER";
const PROCESSES: usize = 4;
const THREADS: usize = 25;
/// Per thread: a cap, so a fast machine writes no more than 4 MB of stamps a process.
const MAX_STAMPS: usize = 20_000;
/// Stamps taken back to back, then a pause: a hammer that still leaves the daemon and
/// ptp4l the CPU they need to fail over on time on two cores.
const BURST: usize = 20;
const PAUSE: Duration = Duration::from_millis(20);

fn realtime_ns() -> u64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(d.as_nanos()).unwrap()
}

/// One process's share: `THREADS` threads stamping for `seconds`; thread 0 also follows
/// the published source and checks every bounded reading against `CLOCK_REALTIME`.
/// Writes `THREAD STAMP` lines to `out` and `source NAME` / `checked N M` lines to
/// `out.log`.
fn hammer(path: &Path, out: &Path, seconds: u64) {
    let opened = Instant::now();
    let reader = loop {
        let why = match Reader::open(path) {
            Ok(r) => match r.health() {
                Ok(h) if h.is_live() => break r,
                Ok(h) => format!("not live: {h:?}"),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        assert!(
            opened.elapsed() < Duration::from_secs(10),
            "the daemon at {} never went live: {why}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let until = Instant::now() + Duration::from_secs(seconds);
    let (stamps, (sources, checked, outside)) = std::thread::scope(|s| {
        let stampers: Vec<_> = (0..THREADS)
            .map(|_| {
                let hlc = reader.hlc().expect("root may take host-wide stamps");
                s.spawn(move || {
                    let mut stamps = Vec::with_capacity(MAX_STAMPS);
                    while stamps.len() < MAX_STAMPS && Instant::now() < until {
                        for _ in 0..BURST {
                            stamps.push(hlc.now().raw());
                        }
                        std::thread::sleep(PAUSE);
                    }
                    stamps
                })
            })
            .collect();
        let watcher = s.spawn(|| {
            let (mut sources, mut checked, mut outside) = (Vec::<String>::new(), 0u64, Vec::new());
            while Instant::now() < until {
                let name = reader.source();
                if sources.last() != Some(&name) {
                    sources.push(name);
                }
                let before = realtime_ns();
                let r = reader.read();
                let after = realtime_ns();
                if r.status != ClockStatus::Unknown {
                    checked += 1;
                    let i = r.interval();
                    let (earliest, latest) = (i.earliest.as_nanos(), i.latest.as_nanos());
                    if latest < before || earliest > after {
                        outside.push(format!("{r:?} at [{before}, {after}]"));
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (sources, checked, outside)
        });
        let stamps: Vec<Vec<u64>> = stampers.into_iter().map(|h| h.join().unwrap()).collect();
        (stamps, watcher.join().unwrap())
    });
    let mut text = String::new();
    for (t, stamps) in stamps.iter().enumerate() {
        for s in stamps {
            text.push_str(&format!("{t} {s}\n"));
        }
    }
    std::fs::write(out, text).unwrap();
    let mut log = std::fs::File::create(out.with_extension("log")).unwrap();
    for s in &sources {
        writeln!(log, "source {s}").unwrap();
    }
    writeln!(log, "checked {checked} {}", outside.len()).unwrap();
    for o in outside.iter().take(5) {
        writeln!(log, "outside {o}").unwrap();
    }
}

#[test]
fn host_wide_hlc_and_bounded_time_hold_while_the_chain_fails_over_and_back() {
    // In a child (this test binary started again below): one process's share.
    if let Ok(job) = std::env::var(HAMMER_ENV) {
        let mut parts = job.splitn(3, '|');
        let (path, out, seconds) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap().parse().unwrap(),
        );
        hammer(Path::new(path), Path::new(out), seconds);
        return;
    }
    let mut lab = Lab::new("q").over(Transport::L2);
    let masters = lab.two_masters();
    let (a, b) = (masters.source_a.clone(), masters.source_b.clone());
    let (sa, sb) = (masters.slave_a.clone(), masters.slave_b.clone());
    let segment = lab.dir().join("time");
    let segment_arg = segment.display().to_string();
    let ours = lab.spawn_chain(&masters, &[], 30, &["--time-service", &segment_arg]);
    // The hammer runs from about 1 s to 27 s of the daemon's 30.
    let mut children = Vec::new();
    let mut outputs = Vec::new();
    for p in 0..PROCESSES {
        let out = lab.dir().join(format!("stamps-{p}"));
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "host_wide_hlc_and_bounded_time_hold_while_the_chain_fails_over_and_back",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(
                HAMMER_ENV,
                format!("{}|{}|26", segment.display(), out.display()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        children.push(child);
        outputs.push(out);
    }
    // Master A stops at 9 s and returns at 16 s.
    std::thread::sleep(Duration::from_secs(8));
    lab.kill(masters.a);
    std::thread::sleep(Duration::from_secs(7));
    lab.restart_master_a(&masters);
    let (lines, log) = lab.lines_and_log(ours, Duration::from_secs(25));
    // No deadlock: every hammer ends (its own 26 s are over by now, give 20 s more).
    let deadline = Instant::now() + Duration::from_secs(20);
    for mut c in children {
        loop {
            match c.try_wait().unwrap() {
                Some(status) => {
                    let mut err = String::new();
                    if let Some(mut e) = c.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    assert!(
                        status.success(),
                        "a hammer failed: {err}\ndaemon:\n{}\n{}",
                        lines.join("\n"),
                        log.join("\n")
                    );
                    break;
                }
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                None => {
                    let _ = c.kill();
                    panic!("a hammer process is stuck: deadlock?");
                }
            }
        }
    }

    // The daemon failed over from A to B and back to A.
    let status = status_lines(&lines);
    let on = |l: &tempora_std::StatusLine, iface: &str| l.source == Source::Ptp(iface.into());
    let first_a = status.iter().position(|l| on(l, &sa));
    let to_b = first_a.and_then(|i| status[i..].iter().position(|l| on(l, &sb)).map(|j| i + j));
    let back = to_b.and_then(|i| status[i..].iter().position(|l| on(l, &sa)).map(|j| i + j));
    assert!(
        back.is_some(),
        "no failover and failback (A at line {first_a:?}, B at {to_b:?}):\n{}",
        log.join("\n")
    );

    // Every thread's stamps strictly increase; no stamp is issued twice on the host.
    let mut all = Vec::new();
    for out in &outputs {
        let text = std::fs::read_to_string(out).unwrap();
        let mut last = [0u64; THREADS];
        for line in text.lines() {
            let (t, s) = line.split_once(' ').unwrap();
            let (t, s): (usize, u64) = (t.parse().unwrap(), s.parse().unwrap());
            assert!(s > last[t], "thread {t} went from {} to {s}", last[t]);
            last[t] = s;
            all.push(s);
        }
    }
    let taken = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), taken, "{} duplicate stamps", taken - all.len());

    // Every process saw the published source follow the chain, and every reading it
    // took contained the true time.
    let mut checked_total = 0;
    for out in &outputs {
        let log = std::fs::read_to_string(out.with_extension("log")).unwrap();
        let sources: Vec<&str> = log
            .lines()
            .filter_map(|l| l.strip_prefix("source "))
            .collect();
        let (checked, outside) = log
            .lines()
            .find_map(|l| l.strip_prefix("checked "))
            .and_then(|c| c.split_once(' '))
            .map(|(n, m)| (n.parse::<u64>().unwrap(), m.parse::<u64>().unwrap()))
            .unwrap();
        let on_a = sources.iter().position(|s| *s == a);
        let on_b = on_a.and_then(|i| sources[i..].iter().position(|s| *s == b).map(|j| i + j));
        let again = on_b.and_then(|i| sources[i..].iter().position(|s| *s == a));
        assert!(again.is_some(), "the segment named {sources:?}");
        assert_eq!(outside, 0, "readings outside their bound:\n{log}");
        assert!(checked >= 1_000, "only {checked} readings checked");
        checked_total += checked;
    }
    // The journal tells an operator what happened, after the daemon stopped too.
    let report = Command::new(env!("CARGO_BIN_EXE_tempora"))
        .args(["status", "--time-service", &segment_arg, "--lines", "48"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(report.contains(" stopped,"), "{report}");
    let switches = report
        .lines()
        .filter(|l| l.contains("source switched"))
        .count();
    assert!(
        switches >= 2,
        "{switches} switches in the journal:\n{report}"
    );
    assert!(report.contains(&format!("source: {a}")), "{report}");
    let synchronized = report
        .lines()
        .filter(|l| l.contains(" synchronized "))
        .count();
    // The last 48 lines (18-30 s) are on B, synchronized, then on A again after it
    // synchronized and its hysteresis: every one synchronized.
    assert_eq!(
        synchronized, 48,
        "{synchronized} of 48 lines synchronized:\n{report}"
    );

    println!(
        "chaos: {taken} host-wide stamps from {} threads in {PROCESSES} processes, all unique and \
         increasing per thread; {checked_total} bounded readings through failover and failback, \
         all containing the true time",
        PROCESSES * THREADS
    );
}
