//! `docs/getting-started.md`'s time-service examples, run as the guide runs them: a
//! `tempora run` daemon publishing on a private path (a temporary directory, never
//! `/dev/shm/tempora`), the Rust example (`examples/read_time.rs`) and the C example
//! (`examples/c/read_time.c`, compiled with `cc` against the header) reading it, and
//! both saying so once the daemon has stopped. The guide shows both files whole: this
//! test fails if the guide's copy and the file part.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempora_core::clock::{ClockSource, ClockStatus};
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

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("tempora-guides-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The daemon this test started: ended by its pid, and reaped, whatever happens.
struct Daemon(Child);

impl Daemon {
    fn start(path: &Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_tempora"))
            .args(["run", "--interval", "200ms", "--duration", "60s"])
            .arg("--time-service")
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self(child)
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.0.id() as i32)
    }

    /// SIGTERM, then at most 10 s for a clean exit.
    fn stop(mut self) {
        kill(self.pid(), Signal::SIGTERM).unwrap();
        let start = Instant::now();
        while self.0.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "daemon did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (at most 10 s) until the daemon `pid` publishes on `path`.
fn wait_live(path: &Path, pid: Pid) {
    let start = Instant::now();
    loop {
        let live = Reader::open(path).ok().is_some_and(|r| {
            r.health()
                .is_ok_and(|h| h.is_live() && h.header.pid == pid.as_raw() as u32)
                && r.read().status != ClockStatus::Unknown
        });
        if live {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the daemon never published"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

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

fn build_c_example(dir: &Path) -> PathBuf {
    let exe = dir.join("read_time");
    let out = Command::new("cc")
        .args([
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-I",
        ])
        .arg(root().join("include"))
        .arg(root().join("examples/c/read_time.c"))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("a C compiler (cc)");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
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
    let dir = TempDir::new();
    let path = dir.0.join("time");
    let c_exe = build_c_example(&dir.0);
    let daemon = Daemon::start(&path);
    wait_live(&path, daemon.pid());
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
    daemon.stop();
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
