//! `docs/getting-started.md`'s time-service examples, run as the guide runs them: a
//! `tempora run` daemon publishing on a private path (a temporary directory, never
//! `/dev/shm/tempora`), the Rust example (`examples/read_time.rs`) and the C example
//! (`examples/c/read_time.c`, compiled with `cc` against the header) reading it, and
//! both saying so once the daemon has stopped. The guide shows both files whole: this
//! test fails if the guide's copy and the file part.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use tempora_core::clock::ClockSource;
use tempora_core::time::Utc;
use tempora_core::timestamp::Timestamp;
use tempora_std::timeservice::Reader;
use tempora_std::{KernelEstimate, SystemClock};

#[allow(dead_code)] // its `main` is the binary's; the test calls `read_time`
#[path = "../examples/read_time.rs"]
mod read_time;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn guide() -> String {
    let path = root().join("../../docs/getting-started.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

mod service;
use service::{build_c, live_reader, TempDir};

/// The values of `key: VALUE` lines.
fn values<'a>(out: &'a str, key: &str) -> Vec<&'a str> {
    out.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
        .collect()
}

fn stamps(out: &str) -> Vec<Timestamp<Utc>> {
    values(out, "hlc")
        .iter()
        .map(|s| s.parse().unwrap_or_else(|e| panic!("{s:?}: {e:?}")))
        .collect()
}

fn rust_example(path: &Path) -> String {
    let mut out = Vec::new();
    read_time::read_time(path, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Runs the C example with `path` as its argument, or (None) with only the variable.
fn c_example(exe: &Path, arg: Option<&Path>, env: &Path) -> String {
    let mut cmd = Command::new(exe);
    cmd.args(arg).env("TEMPORA_TIME_SERVICE", env);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_guide_shows_the_examples_as_they_are() {
    let guide = guide();
    for file in [
        root().join("examples/read_time.rs"),
        root().join("examples/c/read_time.c"),
        root().join("../../core/examples/first_causal_queue.rs"),
    ] {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            guide.contains(&text),
            "docs/getting-started.md does not show {} as it is: copy the file into the guide",
            file.display()
        );
    }
}

#[test]
fn rust_and_c_examples_read_a_private_daemon_and_notice_it_stop() {
    let dir = TempDir::new("guides");
    let path = dir.0.join("time");
    let c_exe = build_c("read_time", &dir.0);
    let daemon = service::daemon(&path, &["--interval", "200ms", "--duration", "60s"]);
    live_reader(&path, daemon.pid());
    let kernel = KernelEstimate::read().unwrap().clock_status();

    // Rust: the daemon's source and status, a bound, two increasing stamps on the
    // host's node.
    let rust = rust_example(&path);
    assert_eq!(values(&rust, "source"), ["system"], "{rust}");
    assert_eq!(values(&rust, "status"), [kernel.as_str()], "{rust}");
    assert_eq!(values(&rust, "time").len(), 1, "{rust}");
    assert_eq!(values(&rust, "interval").len(), 1, "{rust}");
    let r = stamps(&rust);
    let node = Reader::open(&path).unwrap().node();
    assert!(r.len() == 2 && r[0] < r[1] && r[0].node() == node, "{rust}");

    // C, given the path as its argument: the same status, an interval around now, and
    // stamps after Rust's, on the same node (one HLC for the host).
    let before = SystemClock::new().time().as_nanos();
    let c = c_example(&c_exe, Some(&path), Path::new("/nonexistent"));
    let after = SystemClock::new().time().as_nanos();
    assert_eq!(values(&c, "status"), [kernel.as_str()], "{c}");
    let interval = values(&c, "interval");
    let bounds: Vec<u64> = interval[0]
        .trim_matches(|ch| ch == '[' || ch == ']')
        .split(", ")
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(bounds[0] <= after && before <= bounds[1], "{c}");
    let cs = stamps(&c);
    assert!(cs.len() == 2 && r[1] < cs[0] && cs[0] < cs[1], "{rust}{c}");
    assert_eq!(cs[0].node(), node);
    // ... and Rust stamps after C.
    assert!(stamps(&rust_example(&path))[0] > cs[1]);

    // C with only $TEMPORA_TIME_SERVICE.
    let by_env = c_example(&c_exe, None, &path);
    assert_eq!(values(&by_env, "status"), [kernel.as_str()], "{by_env}");

    // The daemon stops: both say so instead of printing a time.
    let stopped = daemon.stop(Signal::SIGTERM, Duration::from_secs(10));
    assert!(stopped.status.success(), "{stopped:?}");
    let rust = rust_example(&path);
    let c = c_example(&c_exe, Some(&path), &path);
    for out in [&rust, &c] {
        assert_eq!(values(out, "status"), ["unknown"], "{out}");
        assert!(
            out.contains("no live daemon: do not trust this time"),
            "{out}"
        );
        assert!(values(out, "hlc").is_empty(), "{out}");
    }

    // No daemon ever published here: an error, not a reading.
    let missing = dir.0.join("missing");
    assert!(read_time::read_time(&missing, &mut Vec::new()).is_err());
    let out = Command::new(&c_exe).arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
