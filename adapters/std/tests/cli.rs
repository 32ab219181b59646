//! The `tempora` binary as a user runs it: `now`, `run`, `serve`, `--help`, and bad
//! arguments, which must end in a clear message or a run that stops, never a panic.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempora_core::timestamp::Timestamp;
use tempora_core::Utc;
use tempora_std::daemon::{PtpState, Source};
use tempora_std::ptp::Timestamps;
use tempora_std::StatusLine;

fn tempora_bin() -> &'static str {
    env!("CARGO_BIN_EXE_tempora")
}

/// `args`, with `--no-time-service` for `run`: runs of the test suite must not take
/// over the host's time service at its default path (nor fight over it in parallel).
fn isolated<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    if v.contains(&"run") {
        v.push("--no-time-service");
    }
    v
}

fn tempora(args: &[&str]) -> std::process::Output {
    Command::new(tempora_bin())
        .args(isolated(args))
        .stdin(Stdio::null())
        .output()
        .expect("run tempora")
}

/// Every line of `text` as a status line.
fn status_lines(text: &str) -> Vec<StatusLine> {
    text.lines()
        .map(|l| l.parse().unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

/// Runs `tempora args`, sends it SIGTERM after `after` if still running, and returns
/// its output; fails the test if it outlives `after` by 10 s.
fn tempora_stopped_after(args: &[&str], after: Duration) -> std::process::Output {
    let child = Command::new(tempora_bin())
        .args(isolated(args))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    let start = Instant::now();
    while !waiter.is_finished() && start.elapsed() < after {
        std::thread::sleep(Duration::from_millis(20));
    }
    if !waiter.is_finished() {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }
    while !waiter.is_finished() {
        if start.elapsed() > after + Duration::from_secs(10) {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("tempora {args:?} ignored SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    waiter.join().unwrap()
}

fn assert_no_panic(args: &[&str], out: &std::process::Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(
        out.status.code().is_some(),
        "{args:?} died of a signal: {out:?}"
    );
}

#[test]
fn now_prints_a_timestamp_and_the_kernel_bound() {
    let out = tempora(&["now", "--node", "42"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let status: StatusLine = lines.next().unwrap().parse().expect("a status line");
    let ts = status.hlc;
    assert_eq!(ts.node().0, 42);
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let age = wall.saturating_sub(Duration::from_nanos(ts.physical().as_nanos()));
    assert!(age < Duration::from_secs(10), "timestamp is {age:?} old");
    assert_eq!(status.source, Source::System);
    assert_eq!(
        status.offset, None,
        "the system clock alone has no reference"
    );
    assert_eq!(status.ptp, None);
    let kernel = tempora_std::KernelEstimate::read().unwrap();
    assert_eq!(status.status, kernel.clock_status());
    assert!(text.contains(" UTC  source="), "civil time printed: {text}");
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
    let ts: Vec<Timestamp<Utc>> = status_lines(&text).iter().map(|l| l.hlc).collect();
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
        .args(["run", "--interval", "100ms", "--no-time-service"])
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
        // `now` reads a clock once: the system clock or a PHC, never a PTP port.
        (
            &["now", "--source", "ptp:lo"][..],
            "a PTP slave needs `tempora run --source ptp:IFACE`",
        ),
        (&["now", "--source", "phc:eth 0"][..], "names no PHC"),
        (
            &["phc", "sync", "--source", "system"][..],
            "phc sync needs a PHC",
        ),
        // One spelling of a PTP port: `--source ptp:IFACE`, for `run` and `serve`.
        (
            &["serve", "--iface", "lo"][..],
            "unexpected argument '--iface'",
        ),
        (
            &["serve", "--source", "system"][..],
            "serve needs a PTP port",
        ),
        (&["serve", "--source", "lo"][..], "unknown source 'lo'"),
        // Intervals a port refuses are refused here, with the port's own words.
        (
            &["run", "--ptp-sync-log2", "-128"][..],
            "logSyncInterval -128 is outside -7..=4",
        ),
        (
            &["serve", "--source", "ptp:lo", "--ptp-announce-log2=9"][..],
            "logAnnounceInterval 9 is outside -3..=4",
        ),
        (
            &["run", "--source", "ptp:lo", "--ptp-delay-log2", "7"][..],
            "logMinDelayReqInterval 7 is outside -7..=6",
        ),
        (
            &["run", "--ptp-announce-timeout", "1"][..],
            "announceReceiptTimeout 1 is below 2",
        ),
        (
            &["serve", "--source", "ptp:lo", "--offset", "300000000000y"][..],
            "too large",
        ),
        (&["run", "--utc-offset", "-40000"][..], "invalid value"),
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
    let lines = status_lines(&text);
    let status = lines.last().expect("a status line");
    assert_eq!(status.source, Source::Ptp("lo".into()));
    let ptp = status.ptp.as_ref().expect("PTP fields");
    assert_eq!(ptp.timestamps, Timestamps::Software, "{text}");
    // Nobody answers on loopback: no estimate, so no offset and no bound, never NaN.
    assert_ne!(ptp.state, PtpState::Slave);
    assert_eq!(status.offset, None);
    assert!(!text.contains("NaN"), "{text}");
    // One timescale: the PTP line's time is UTC, as the system clock reads it.
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let age = wall.saturating_sub(Duration::from_nanos(status.time.as_nanos()));
    assert!(
        age < Duration::from_secs(10),
        "PTP line {age:?} behind UTC: {text}"
    );
    assert!(
        Duration::from_nanos(status.time.as_nanos()) < wall + Duration::from_secs(1),
        "PTP line ahead of UTC (TAI?): {text}"
    );
    assert!(status.hlc.physical().as_nanos() > 0);
}

#[test]
fn help_offers_only_what_each_command_does() {
    let help = |cmd: &str| {
        let out = tempora(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd} --help");
        String::from_utf8(out.stdout).unwrap()
    };
    let now = help("now");
    assert!(
        now.contains("--source") && now.contains("phc:IFACE"),
        "{now}"
    );
    assert!(!now.contains("ptp:") && !now.contains("--ptp-"), "{now}");
    let phc = help("phc");
    assert!(phc.contains("list") && phc.contains("sync"), "{phc}");
    let run = help("run");
    assert!(
        run.contains("ptp:IFACE") && run.contains("--ptp-sync-log2"),
        "{run}"
    );
    let serve = help("serve");
    assert!(
        serve.contains("--source") && serve.contains("ptp:IFACE"),
        "{serve}"
    );
    assert!(!serve.contains("--iface"), "{serve}");
}

#[test]
fn negative_values_need_no_equals_sign() {
    for args in [
        &[
            "run",
            "--utc-offset",
            "-5",
            "--duration",
            "300ms",
            "--interval",
            "100ms",
        ][..],
        &["run", "--ptp-sync-log2", "-3", "--duration", "300ms"][..],
        &[
            "serve",
            "--source",
            "ptp:lo",
            "--offset",
            "-250us",
            "--duration",
            "500ms",
        ][..],
    ] {
        let out = tempora_stopped_after(args, Duration::from_secs(5));
        assert_no_panic(args, &out);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
}

/// Durations past any deadline (`300000000000y`, about 9.5e18 s) panicked on
/// `Instant + Duration`. They mean "never" now: a run with such an interval prints its
/// first line and stops at --duration; one with such a duration runs until SIGTERM.
#[test]
fn durations_beyond_any_deadline_never_panic() {
    const HUGE: &str = "300000000000y";
    for (args, lines) in [
        (
            &["run", "--interval", HUGE, "--duration", "500ms"][..],
            Some(1),
        ),
        (
            &["run", "--duration", HUGE, "--interval", "200ms"][..],
            None,
        ),
        (
            &["run", "--max-offset", HUGE, "--duration", "300ms"][..],
            None,
        ),
        (
            &["serve", "--source", "ptp:lo", "--duration", HUGE][..],
            None,
        ),
        (
            &[
                "run",
                "--source",
                "ptp:lo",
                "--duration",
                HUGE,
                "--interval",
                "200ms",
            ][..],
            None,
        ),
        (
            &[
                "run",
                "--source",
                "ptp:lo",
                "--interval",
                HUGE,
                "--duration",
                "1s",
            ][..],
            Some(1),
        ),
    ] {
        let out = tempora_stopped_after(args, Duration::from_millis(1500));
        assert_no_panic(args, &out);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let parsed = status_lines(&text);
        assert!(!parsed.is_empty(), "{args:?}: no status line");
        if let Some(n) = lines {
            assert_eq!(parsed.len(), n, "{args:?}: {text}");
        }
        if args[0] == "serve" {
            assert!(parsed.iter().all(|l| l.ptp.is_some()), "{text}");
        }
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("stopped after"), "{args:?}: {err}");
    }
}

/// Without the right to bind PTP's ports, the error names the capability to grant, not
/// a bare "Permission denied". Run as `nobody` with every capability dropped (setpriv
/// from util-linux), on loopback.
#[test]
fn ptp_without_privileges_names_the_capability() {
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
            tempora_bin(),
            "run",
            "--source",
            "ptp:lo",
            "--duration",
            "2s",
            "--no-time-service",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("setpriv (util-linux) runs tempora");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ran without privileges: {stderr}");
    assert!(
        stderr.contains("CAP_NET_BIND_SERVICE") && stderr.contains("deployment.md"),
        "the error should name the capability: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `tempora config check` says what a good file sets, and points at the line and column
/// of what is wrong in a bad one (exit code 2).
#[test]
fn config_check_reports_line_and_column() {
    let dir = std::env::temp_dir().join(format!("tempora-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "sources = [\"ptp:eth0\", \"system\"]\ninterval = \"250ms\"\n[ptp]\nsync_log2 = -3\n",
    )
    .expect("write");
    let out = tempora(&["config", "check", good.to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("sources ptp:eth0, system"), "{stdout}");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "interval = \"1s\"\n\n[ptp]\nsync_log2 = -9\n").expect("write");
    let out = tempora(&["config", "check", bad.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.toml:4:13: logSyncInterval -9 is outside -7..=4"),
        "{stderr}"
    );
    let typo = dir.join("typo.toml");
    std::fs::write(&typo, "intervall = \"1s\"\n").expect("write");
    let out = tempora(&["config", "check", typo.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("typo.toml:1:1") && stderr.contains("unknown field"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Under systemd (`Type=notify`) the daemon says when it is ready and when it stops:
/// `READY=1` after its first status line, `STOPPING=1` on its way out.
#[test]
fn run_notifies_systemd_when_ready_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let path = std::env::temp_dir().join(format!("tempora-notify-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).expect("bind a notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let out = Command::new(tempora_bin())
        .args([
            "run",
            "--duration",
            "1s",
            "--interval",
            "200ms",
            "--no-time-service",
        ])
        .env("NOTIFY_SOCKET", &path)
        .stdin(Stdio::null())
        .output()
        .expect("run tempora");
    assert!(out.status.success());
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    for _ in 0..2 {
        let n = socket.recv(&mut buf).expect("a notification within 10 s");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let _ = std::fs::remove_file(&path);
    assert!(got[0].starts_with("READY=1\nSTATUS="), "{got:?}");
    assert_eq!(got[1], "STOPPING=1", "{got:?}");
}

/// The example configuration in docs/deployment/ is one the daemon accepts.
#[test]
fn the_documented_example_configuration_checks() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/deployment/tempora.toml"
    );
    let out = tempora(&["config", "check", example]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn phc_commands_on_a_machine_without_phcs_say_so() {
    // The CI machine has no /dev/ptp*: listing says there are none, and a PHC source
    // fails naming the device, exit 1, never a panic.
    let out = tempora(&["phc", "list"]);
    assert!(out.status.success());
    let listed = String::from_utf8(out.stdout).unwrap();
    if std::path::Path::new("/sys/class/ptp")
        .read_dir()
        .map_or(true, |mut d| d.next().is_none())
    {
        assert!(listed.contains("no PTP hardware clocks"), "{listed}");
        let out = tempora(&["now", "--source", "phc:/dev/ptp-none"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("PHC /dev/ptp-none: /dev/ptp-none"), "{err}");
        let out = tempora(&["run", "--source", "phc:lo", "--duration", "1s"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("lo has no PTP hardware clock"), "{err}");
    } else {
        assert!(listed.starts_with("/dev/ptp"), "{listed}");
    }
}

/// `--source auto` probes the machine and ends in the system clock: a PHC only when a
/// PTP slave keeps it on TAI (this machine's, if any, runs free or on UTC), so here the
/// run reads the system clock and says what it chose.
#[test]
fn auto_reads_what_the_machine_has_and_says_so() {
    let out = tempora(&[
        "run",
        "--source",
        "auto",
        "--duration",
        "1s",
        "--interval",
        "250ms",
        "--log-level",
        "info",
    ]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = status_lines(&stdout);
    assert!(lines.len() >= 3, "{stdout}");
    let log = String::from_utf8_lossy(&out.stderr);
    let chosen = log
        .lines()
        .find_map(|l| l.split("reading sources=").nth(1))
        .unwrap_or_else(|| panic!("no choice logged:\n{log}"));
    assert!(chosen.trim_end().ends_with("system"), "{chosen}");
    // Every line comes from one of the chosen sources (a chain names its active one).
    for l in &lines {
        assert!(
            chosen.contains(&l.source.to_string()),
            "{l} not in {chosen}"
        );
    }
    // `auto` is offered where a source is refused.
    let bad = tempora(&["run", "--source", "nope", "--duration", "1s"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("available: auto, system"));
}
