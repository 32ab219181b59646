//! Support for the tests that run a `tempora run` daemon on a private time service
//! (`timeservice.rs`, `guides.rs`): temporary directories, children ended by their pid
//! whatever happens, bounded waits, and C programs built against the header.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempora_core::clock::ClockStatus;
use tempora_std::timeservice::Reader;

/// A fresh directory under the system's temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tempora-ts-{name}-{}", std::process::id()));
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

/// A child process, killed (by its pid) and reaped if the test ends early.
pub struct Process(pub Option<Child>);

impl Process {
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.0.as_ref().unwrap().id() as i32)
    }

    /// Signals it, then waits at most `limit` for it to exit.
    pub fn stop(mut self, signal: Signal, limit: Duration) -> std::process::Output {
        kill(self.pid(), signal).unwrap();
        wait_bounded(self.0.take().unwrap(), limit)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits at most `limit` for `child` to exit (then SIGKILLs it and fails).
pub fn wait_bounded(child: Child, limit: Duration) -> std::process::Output {
    let pid = Pid::from_raw(child.id() as i32);
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    let start = Instant::now();
    while !waiter.is_finished() {
        if start.elapsed() > limit {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waiter.join();
            panic!("process {pid} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    waiter.join().unwrap()
}

/// `tempora run` publishing on `path`, with `args` after `run`; its stderr kept.
pub fn daemon(path: &Path, args: &[&str]) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_tempora"))
        .arg("run")
        .args(args)
        .arg("--time-service")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Process(Some(child))
}

/// Polls `f` every 10 ms until it returns `Some`, for at most `limit`.
pub fn within<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> (T, Duration) {
    let start = Instant::now();
    loop {
        if let Some(t) = f() {
            return (t, start.elapsed());
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A reader of the daemon `pid` once it publishes on `path` (at most 10 s).
pub fn live_reader(path: &Path, pid: Pid) -> Reader {
    within(Duration::from_secs(10), "the daemon publishes", || {
        let r = Reader::open(path).ok()?;
        let h = r.health().ok()?;
        (h.is_live()
            && h.header.pid == pid.as_raw() as u32
            && r.read().status != ClockStatus::Unknown)
            .then_some(r)
    })
    .0
}

/// Builds `examples/c/<name>.c` against the header into `dir`, warnings as errors.
pub fn build_c(name: &str, dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = dir.join(name);
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
        .arg(root.join("include"))
        .arg(root.join(format!("examples/c/{name}.c")))
        .arg("-o")
        .arg(&exe)
        .arg("-lpthread")
        .output()
        .expect("a C compiler (cc)");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}
