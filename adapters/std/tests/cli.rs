//! The `tempora` binary as a user runs it: `now`, `run`, `--help`, and bad arguments.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempora_core::timestamp::Timestamp;
use tempora_core::Utc;

fn tempora_bin() -> &'static str {
    env!("CARGO_BIN_EXE_tempora")
}

fn tempora(args: &[&str]) -> std::process::Output {
    Command::new(tempora_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run tempora")
}

/// Pulls `key=value` out of a status line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

#[test]
fn now_prints_a_timestamp_and_the_kernel_bound() {
    let out = tempora(&["now", "--node", "42"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let status = lines.next().unwrap();
    let ts: Timestamp<Utc> = field(status, "hlc").parse().expect("hlc field parses");
    assert_eq!(ts.node().0, 42);
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let age = wall.saturating_sub(Duration::from_nanos(ts.physical().as_nanos()));
    assert!(age < Duration::from_secs(10), "timestamp is {age:?} old");
    assert_eq!(field(status, "source"), "system");
    let kernel = tempora_std::KernelEstimate::read().unwrap();
    assert_eq!(field(status, "status"), kernel.clock_status().as_str());
    assert!(status.contains(" UTC "), "civil time printed: {status}");
    let k = lines.next().unwrap();
    assert!(k.starts_with("kernel: maxerror="), "{k}");
}

#[test]
fn run_prints_a_line_per_interval_with_increasing_timestamps_and_stops() {
    let start = Instant::now();
    let out = tempora(&[
        "run",
        "--duration",
        "1200ms",
        "--interval",
        "200ms",
        "--node",
        "7",
    ]);
    let took = start.elapsed();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let ts: Vec<Timestamp<Utc>> = text
        .lines()
        .map(|l| field(l, "hlc").parse().unwrap())
        .collect();
    // 1.2 s at 200 ms: lines at 0, 0.2, ... 1.0 s; scheduling may cost one.
    assert!((5..=7).contains(&ts.len()), "{} lines: {text}", ts.len());
    assert!(ts.windows(2).all(|w| w[0] < w[1]));
    let gap = Duration::from_nanos(ts[1].physical().as_nanos() - ts[0].physical().as_nanos());
    assert!(
        gap >= Duration::from_millis(150) && gap < Duration::from_millis(600),
        "{gap:?}"
    );
    assert!(took >= Duration::from_millis(1200) && took < Duration::from_secs(10));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("stopped after"), "{err}");
}

#[test]
fn run_stops_cleanly_on_sigterm() {
    let mut child = Command::new(tempora_bin())
        .args(["run", "--interval", "100ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "tempora ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).lines().count() >= 2);
}

#[test]
fn bad_arguments_fail_with_a_clear_message() {
    for (args, expect) in [
        (&["run", "--source", "gps"][..], "unknown source 'gps'"),
        (&["run", "--duration", "soon"][..], "is not a duration"),
        (&["run", "--interval", "0s"][..], "greater than zero"),
        (&["now", "--node", "4294967296"][..], "invalid value"),
        (&["now", "--max-offset", "-5ms"][..], "unexpected argument"),
        (&["launch"][..], "unrecognized subcommand"),
    ] {
        let out = tempora(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}

#[test]
fn help_explains_each_option() {
    let out = tempora(&["run", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for opt in [
        "--source",
        "--node",
        "--max-offset",
        "--duration",
        "--interval",
        "--log-level",
    ] {
        assert!(help.contains(opt), "{opt} missing from help");
    }
    assert!(help.contains("adjtimex"));
}

#[test]
fn a_piped_log_is_plain_text_and_names_the_timestamps_chosen() {
    // A PTP slave on loopback for a second: nothing answers, but it opens its sockets,
    // asks the driver what it can timestamp and logs its choice. Loopback has software
    // timestamps only, so `auto` takes those.
    let out = tempora(&[
        "--log-level",
        "info",
        "run",
        "--source",
        "ptp:lo",
        "--duration",
        "1s",
        "--interval",
        "500ms",
    ]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a piped log: {log:?}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("PTP timestamps") && l.contains("timestamps=software")),
        "{log}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let status = text.lines().last().expect("a status line");
    assert_eq!(field(status, "timestamps"), "software", "{status}");
}
