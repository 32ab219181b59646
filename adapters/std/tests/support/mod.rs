//! The test lab shared by the PTP interop and impairment tests: namespaces, processes
//! started in them (and only those ended, by PID), ptp4l configs, and tempora's status
//! lines ([`StatusLine`], parsed, never picked apart by hand).
#![allow(dead_code)] // each test file uses its own subset

pub mod impair;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempora_core::clock::ClockStatus;
use tempora_std::StatusLine;

/// Two namespaces joined by a veth pair; removed on drop, with every process started in
/// them (only those, by PID).
pub struct Lab {
    pub master_ns: String,
    pub slave_ns: String,
    /// The master side's interface (veth labs: `vm<id>`).
    pub master_if: String,
    /// The slave side's interface (veth labs: `vs<id>`).
    pub slave_if: String,
    /// The PTP transport every process of the lab uses.
    transport: Transport,
    /// Peer-to-peer delay measurement instead of end-to-end, for every process.
    p2p: bool,
    /// Run the ptp4l baseline slave after tempora's run instead of beside it.
    baseline_after: bool,
    children: Vec<Child>,
    dir: std::path::PathBuf,
}

/// How the lab's PTP messages travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP over IPv4 (`ptp4l -4`, `--ptp-transport udpv4`).
    Udpv4,
    /// Ethernet frames, ethertype 0x88F7 (`ptp4l -2`, `--ptp-transport l2`).
    L2,
}

impl Transport {
    fn ptp4l_flag(self) -> &'static str {
        match self {
            Self::Udpv4 => "-4",
            Self::L2 => "-2",
        }
    }

    fn tempora_flag(self) -> &'static str {
        match self {
            Self::Udpv4 => "--ptp-transport=udpv4",
            Self::L2 => "--ptp-transport=l2",
        }
    }
}

/// A veth pair `m_if` (in `m`, 10.99.0.1) / `s_if` (in `s`, 10.99.0.2), up.
pub fn add_veth(m: &str, m_if: &str, s: &str, s_if: &str) {
    sh(&[
        "ip", "link", "add", m_if, "netns", m, "type", "veth", "peer", "name", s_if, "netns", s,
    ]);
    sh(&["ip", "-n", m, "addr", "add", "10.99.0.1/24", "dev", m_if]);
    sh(&["ip", "-n", s, "addr", "add", "10.99.0.2/24", "dev", s_if]);
    for (ns, dev) in [(m, m_if), (s, s_if)] {
        sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
    }
}

pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lab {
    /// Every process over this transport.
    pub fn over(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Every process measures the link peer to peer.
    pub fn peer_to_peer(mut self) -> Self {
        self.p2p = true;
        self
    }

    /// The ptp4l baseline slave runs after tempora's run instead of beside it.
    pub fn baseline_after(mut self) -> Self {
        self.baseline_after = true;
        self
    }

    /// Whether the baseline slave runs after tempora's (always so on a P2P link, which
    /// has two ends).
    /// The carrier every process uses.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether every process measures the link peer to peer.
    pub fn is_peer_to_peer(&self) -> bool {
        self.p2p
    }

    pub fn baseline_runs_after(&self) -> bool {
        self.p2p || self.baseline_after
    }

    /// How the lab runs, for printed figures: `Udpv4`, `L2 P2P`, `Udpv4 alone`.
    pub fn label(&self) -> String {
        format!(
            "{:?}{}{}",
            self.transport,
            if self.p2p { " P2P" } else { "" },
            if self.baseline_after { " alone" } else { "" }
        )
    }

    /// Two namespaces joined by a veth pair (`vm<id>` 10.99.0.1 / `vs<id>` 10.99.0.2).
    pub fn new(tag: &str) -> Self {
        let mut lab = Self::bare(tag);
        // Unique names: veth ends are created before they move into their namespaces, so
        // labs running in parallel must not both ask for the same name.
        let id = lab.master_ns.trim_start_matches("tpm").to_string();
        lab.master_if = format!("vm{id}");
        lab.slave_if = format!("vs{id}");
        add_veth(&lab.master_ns, &lab.master_if, &lab.slave_ns, &lab.slave_if);
        lab
    }

    /// Two namespaces with only loopback up (the impairment forwarder adds TAPs `tpa`
    /// and `tpb`).
    pub fn bare(tag: &str) -> Self {
        assert!(
            Command::new("ptp4l").arg("-v").output().is_ok(),
            "ptp4l is missing: apt-get install linuxptp (tests/run-all.sh does)"
        );
        let id = format!("{}{}", tag, std::process::id() % 100_000);
        let (m, s) = (format!("tpm{id}"), format!("tps{id}"));
        let dir = std::env::temp_dir().join(format!("tempora-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Self {
            master_ns: m.clone(),
            slave_ns: s.clone(),
            master_if: "tpa".into(),
            slave_if: "tpb".into(),
            transport: Transport::Udpv4,
            p2p: false,
            baseline_after: false,
            children: Vec::new(),
            dir,
        };
        sh(&["ip", "netns", "add", &m]);
        sh(&["ip", "netns", "add", &s]);
        for ns in [&m, &s] {
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        lab
    }

    pub fn spawn(&mut self, ns: &str, cmd: &[&str]) -> usize {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(cmd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn in namespace");
        self.children.push(child);
        self.children.len() - 1
    }

    /// Starts `tempora run --source ptp:IFACE` in `ns` for `seconds`, with the fast
    /// settings; returns the child's index.
    pub fn spawn_tempora_slave(&mut self, ns: &str, iface: &str, seconds: u64) -> usize {
        let (source, duration) = (format!("ptp:{iface}"), format!("{seconds}s"));
        let delay = self.delay_flag();
        let mut cmd = vec![
            env!("CARGO_BIN_EXE_tempora"),
            "run",
            "--source",
            &source,
            "--duration",
            &duration,
            self.transport.tempora_flag(),
            delay,
            "--no-time-service",
        ];
        cmd.extend(FAST);
        self.spawn(ns, &cmd)
    }

    /// The same with info-level logging, for tests that read what the daemon says.
    pub fn spawn_tempora_slave_logging(&mut self, ns: &str, iface: &str, seconds: u64) -> usize {
        let (source, duration) = (format!("ptp:{iface}"), format!("{seconds}s"));
        let (transport, delay) = (self.transport.tempora_flag(), self.delay_flag());
        self.spawn_tempora_run(
            ns,
            &[
                "--source",
                &source,
                "--duration",
                &duration,
                transport,
                delay,
            ],
        )
    }

    /// `tempora run` in `ns` with `args` after the fast PTP settings, info-level logging;
    /// without the time service unless `args` give it a (private) `--time-service` path.
    pub fn spawn_tempora_run(&mut self, ns: &str, args: &[&str]) -> usize {
        let mut cmd = vec![env!("CARGO_BIN_EXE_tempora"), "run"];
        cmd.extend(args);
        cmd.extend(FAST.iter().filter(|a| !a.starts_with("--log-level")));
        cmd.push("--log-level=info");
        if !args.contains(&"--time-service") {
            cmd.push("--no-time-service");
        }
        self.spawn(ns, &cmd)
    }

    /// The lab's own directory (removed with the lab).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Starts `tempora serve --source ptp:IFACE` in `ns` for `seconds` as the preferred master
    /// (priority1 10), with the fast intervals and `extra` arguments.
    pub fn spawn_tempora_master(&mut self, ns: &str, iface: &str, seconds: u64, extra: &[&str]) {
        let (source, duration) = (format!("ptp:{iface}"), format!("{seconds}s"));
        let delay = self.delay_flag();
        let mut cmd = vec![
            env!("CARGO_BIN_EXE_tempora"),
            "serve",
            "--source",
            &source,
            "--priority1",
            "10",
            "--duration",
            &duration,
            self.transport.tempora_flag(),
            delay,
        ];
        cmd.extend(extra);
        cmd.extend(&FAST[..5]);
        self.spawn(ns, &cmd);
    }

    fn delay_flag(&self) -> &'static str {
        if self.p2p {
            "--ptp-delay-mechanism=p2p"
        } else {
            "--ptp-delay-mechanism=e2e"
        }
    }

    /// Ends child `idx` (one this lab started) and waits for it.
    pub fn kill(&mut self, idx: usize) {
        let _ = self.children[idx].kill();
        let _ = self.children[idx].wait();
    }

    /// Starts `ptp4l` with config `cfg` on `iface` in `ns`, over the lab's transport,
    /// printing every sample; returns the child's index.
    pub fn spawn_ptp4l(&mut self, ns: &str, cfg: &str, iface: &str) -> usize {
        let flag = self.transport.ptp4l_flag();
        self.spawn(ns, &["ptp4l", "-f", cfg, "-i", iface, "-S", flag, "-m"])
    }

    /// A ptp4l config: fast announce settings, and never touching the host clock.
    pub fn ptp4l_config(&self, name: &str, role: &str) -> String {
        let path = self.dir.join(format!("{name}.cfg"));
        let uds = self.dir.join(format!("{name}.sock"));
        std::fs::write(
            &path,
            format!(
                "[global]\nfree_running 1\nkernel_leap 0\ntime_stamping software\ndelay_mechanism {}\n\
                 logSyncInterval -3\nlogMinDelayReqInterval -3\nlogMinPdelayReqInterval -3\n\
                 logAnnounceInterval -3\n\
                 announceReceiptTimeout 2\nsummary_interval -3\nfreq_est_interval 0\n\
                 uds_address {}\n{role}\n",
                // ptp4l 3.1.1 flushes its Pdelay_Req when its port changes state, takes a
                // response still in flight as "rogue" and faults; recover at once.
                if self.p2p {
                    "P2P\nfault_reset_interval ASAP"
                } else {
                    "E2E"
                },
                uds.display()
            ),
        )
        .unwrap();
        path.display().to_string()
    }

    /// A child's stdout lines and its stderr lines (the log), until `limit`.
    pub fn lines_and_log(&mut self, idx: usize, limit: Duration) -> (Vec<String>, Vec<String>) {
        let stderr = self.children[idx].stderr.take().expect("stderr");
        let log = std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .take(100_000)
                .collect::<Vec<_>>()
        });
        let lines = self.lines(idx, limit);
        let _ = self.children[idx].kill();
        let _ = self.children[idx].wait();
        (lines, log.join().unwrap_or_default())
    }

    /// Collects the child's stdout lines until it exits or `limit` passes.
    pub fn lines(&mut self, idx: usize, limit: Duration) -> Vec<String> {
        let child = &mut self.children[idx];
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + limit;
        let mut out = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(l) => out.push(l),
                Err(_) => break,
            }
        }
        out
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.master_ns])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.slave_ns])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub const FAST: [&str; 8] = [
    "--ptp-announce-log2=-3",
    "--ptp-sync-log2=-3",
    "--ptp-delay-log2=-3",
    "--ptp-announce-timeout",
    "2",
    "--interval",
    "250ms",
    "--log-level=warn",
];

/// Two ptp4l masters for a chain: A on the lab's veth pair, B on a second pair into the
/// same namespaces; over Layer 2 (the second pair has no addresses).
pub struct TwoMasters {
    /// A's child index, to stop it.
    pub a: usize,
    /// A's config, to start it again.
    pub cfg_a: String,
    /// The slave's `ptp:IFACE` sources towards A and B.
    pub source_a: String,
    pub source_b: String,
    /// The slave-side interfaces towards A and B.
    pub slave_a: String,
    pub slave_b: String,
}

impl Lab {
    /// Starts masters A and B (priority1 10 each) and gives them a second to serve.
    pub fn two_masters(&mut self) -> TwoMasters {
        let (m, s) = (self.master_ns.clone(), self.slave_ns.clone());
        let (ma, sa) = (self.master_if.clone(), self.slave_if.clone());
        let (mb, sb) = (format!("{ma}b"), format!("{sa}b"));
        add_veth(&m, &mb, &s, &sb);
        let cfg_a = self.ptp4l_config("master-a", "masterOnly 1\npriority1 10");
        let cfg_b = self.ptp4l_config("master-b", "masterOnly 1\npriority1 10");
        let a = self.spawn_ptp4l(&m, &cfg_a, &ma);
        self.spawn_ptp4l(&m, &cfg_b, &mb);
        std::thread::sleep(Duration::from_secs(1));
        TwoMasters {
            a,
            cfg_a,
            source_a: format!("ptp:{sa}"),
            source_b: format!("ptp:{sb}"),
            slave_a: sa,
            slave_b: sb,
        }
    }

    /// `tempora run` in the slave namespace reading A, then B, then `extra` sources (as
    /// `--source` values) over L2 for `seconds`, failing over past a 3 µs bound and back
    /// after 3 s of health; `args` after those.
    pub fn spawn_chain(
        &mut self,
        masters: &TwoMasters,
        extra: &[&str],
        seconds: u64,
        args: &[&str],
    ) -> usize {
        let s = self.slave_ns.clone();
        let duration = format!("{seconds}s");
        let mut cmd = vec!["--source", &masters.source_a, "--source", &masters.source_b];
        for e in extra {
            cmd.extend(["--source", e]);
        }
        cmd.extend([
            "--ptp-transport",
            "l2",
            "--duration",
            &duration,
            "--max-bound",
            "3us",
            "--failback-after",
            "3s",
        ]);
        cmd.extend(args);
        self.spawn_tempora_run(&s, &cmd)
    }

    /// Starts master A again (after [`Lab::kill`]), returning its new index.
    pub fn restart_master_a(&mut self, masters: &TwoMasters) -> usize {
        let (m, ma) = (self.master_ns.clone(), self.master_if.clone());
        self.spawn_ptp4l(&m, &masters.cfg_a, &ma)
    }
}

/// Asserts what every run of the daemon owes its readers: time never goes back, and
/// HLC timestamps strictly increase, line after line.
pub fn assert_monotone(status: &[StatusLine]) {
    for w in status.windows(2) {
        assert!(
            w[1].time >= w[0].time,
            "time went back: {} then {}",
            w[0].time,
            w[1].time
        );
        assert!(
            w[1].hlc > w[0].hlc,
            "HLC went back: {} then {}",
            w[0].hlc,
            w[1].hlc
        );
    }
}

/// The daemon's status lines among `lines` (the rest, log lines, skipped).
pub fn status_lines(lines: &[String]) -> Vec<StatusLine> {
    lines.iter().filter_map(|l| l.parse().ok()).collect()
}

pub struct SlaveRun {
    pub lock_after: Option<f64>,
    /// (offset ns, bound ns) of every synchronized line.
    pub samples: Vec<(f64, f64)>,
}

pub fn slave_run(lines: &[StatusLine], interval_s: f64) -> SlaveRun {
    let mut run = SlaveRun {
        lock_after: None,
        samples: Vec::new(),
    };
    for (i, l) in lines.iter().enumerate() {
        if l.status != ClockStatus::Synchronized {
            continue;
        }
        run.lock_after.get_or_insert(i as f64 * interval_s);
        if let Some(o) = l.offset_ns() {
            run.samples.push((o, l.bound_ns()));
        }
    }
    run
}

/// Lock defined by the error, not by the filter's own view of itself: the time of the
/// first status line from which the error (offset minus the known `truth`, both ns) stays
/// within `threshold_ns` for `n` lines in a row. The lab knows the truth: one shared
/// clock, so the true offset is 0 (or what a test injects).
pub fn lock_by_error(
    lines: &[StatusLine],
    truth: f64,
    threshold_ns: f64,
    n: usize,
    interval_s: f64,
) -> Option<f64> {
    let within: Vec<bool> = lines
        .iter()
        .map(|l| {
            l.offset_ns()
                .is_some_and(|o| (o - truth).abs() <= threshold_ns)
        })
        .collect();
    (0..within.len().saturating_sub(n - 1))
        .find(|&i| within[i..i + n].iter().all(|w| *w))
        .map(|i| i as f64 * interval_s)
}

/// How tight the bound is: of the steady-state synchronized lines, the median bound,
/// the median path delay (the part of the bound that covers an asymmetry PTP cannot
/// see: a path's one-way delays may differ by up to twice the mean delay, which moves
/// the estimate by up to the mean delay) and what is left over it.
pub struct Tightness {
    pub bound_ns: f64,
    pub delay_ns: f64,
    /// `bound - delay`: the statistical part (three standard deviations of the
    /// estimate, and its growth since the last exchange).
    pub excess_ns: f64,
}

pub fn tightness(lines: &[StatusLine], skip: usize) -> Tightness {
    let synced: Vec<&StatusLine> = lines
        .iter()
        .filter(|l| l.status == ClockStatus::Synchronized)
        .skip(skip)
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let bound_ns = median(synced.iter().map(|l| l.bound_ns()).collect());
    let delay_ns = median(
        synced
            .iter()
            .filter_map(|l| l.ptp.as_ref()?.delay.map(|d| d.as_f64().abs()))
            .collect(),
    );
    Tightness {
        bound_ns,
        delay_ns,
        excess_ns: bound_ns - delay_ns,
    }
}

pub fn stats(errors: &[f64]) -> (f64, f64, f64) {
    let mut abs: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
    abs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rms = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt();
    let p99 = abs[((abs.len() as f64 * 0.99) as usize).min(abs.len() - 1)];
    (rms, *abs.last().unwrap(), p99)
}

/// A ptp4l master on the master side; on the slave side a tempora slave and, on the same
/// path, a ptp4l slave whose per-sample offsets are the baseline: in the same run for
/// E2E, right after tempora's for P2P (a P2P link has two ends). Returns
/// tempora's status lines (one per 250 ms for `seconds`) and ptp4l's offsets (ns).
pub fn ptp4l_master_two_slaves(lab: &mut Lab, seconds: u64) -> (Vec<String>, Vec<f64>) {
    let (m, s) = (lab.master_ns.clone(), lab.slave_ns.clone());
    let (mi, si) = (lab.master_if.clone(), lab.slave_if.clone());
    let cfg = lab.ptp4l_config("master", "masterOnly 1\npriority1 10");
    lab.spawn_ptp4l(&m, &cfg, &mi);
    // Peer-to-peer links have exactly two ends: a second slave on the link would answer
    // the master's Pdelay_Req too, which ptp4l takes as a fault. P2P runs go without
    // the baseline slave.
    let peer = (!lab.baseline_runs_after()).then(|| {
        let scfg = lab.ptp4l_config("slave", "slaveOnly 1");
        lab.spawn_ptp4l(&s, &scfg, &si)
    });
    // A slave joins a network whose master is already serving: give ptp4l a second to
    // start and win its election, so tempora's lock time is its own and its first
    // samples are not taken while three processes start on two cores.
    std::thread::sleep(Duration::from_secs(1));
    let ours = lab.spawn_tempora_slave(&s, &si, seconds);
    let lines = lab.lines(ours, Duration::from_secs(seconds + 10));
    let baseline = match peer {
        Some(peer) => ptp4l_offsets(&lab.lines(peer, Duration::from_millis(100))),
        // P2P (or by choice): once tempora has stopped the link has a free end again,
        // and the baseline slave runs there, on the same path right after.
        // A ptp4l slave that never gets its Pdelay answered (ptp4l 3.1.1 faults on a
        // response it takes as rogue) prints placeholder offsets with no path: one more
        // slave gets a fresh start, and the comparison needs a measured baseline.
        None => {
            let scfg = lab.ptp4l_config("slave", "slaveOnly 1");
            let mut tried = Vec::new();
            let mut baseline = Vec::new();
            for _ in 0..2 {
                let peer = lab.spawn_ptp4l(&s, &scfg, &si);
                let out = lab.lines(peer, Duration::from_secs(seconds));
                lab.kill(peer);
                baseline = ptp4l_offsets(&out);
                if baseline.len() > 10 {
                    break;
                }
                tried.extend(out);
            }
            if baseline.len() <= 10 {
                eprintln!("ptp4l baseline slaves:\n{}", tried.join("\n"));
            }
            baseline
        }
    };
    (lines, baseline)
}

/// ptp4l's offsets from the samples where it had measured its path. Until its delay
/// (E2E) or peer delay (P2P) is known, a free-running ptp4l prints `master offset 0`
/// with `path delay 0`: a placeholder, not a measurement.
pub fn ptp4l_offsets(lines: &[String]) -> Vec<f64> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = l.split("master offset").nth(1)?;
            let offset: f64 = rest.split_whitespace().next()?.parse().ok()?;
            let delay: f64 = rest
                .split("path delay")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            (delay != 0.0).then_some(offset)
        })
        .collect()
}
