//! Interoperation with linuxptp's `ptp4l`, the real peer, over a veth pair between two
//! network namespaces that each test creates and deletes.
//!
//! Both ends share the host's clock, so the true offset between them is exactly zero (or
//! the offset a tempora master injects): what a slave reports *is* its error. Every
//! `ptp4l` runs with `free_running 1`, so nothing writes the host clock, and tempora
//! only ever disciplines its virtual clock. Needs root, `ip` and `ptp4l`
//! (`apt-get install linuxptp`; the README's test command installs it).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Two namespaces joined by a veth pair; removed on drop, with every process started in
/// them (only those, by PID).
struct Lab {
    master_ns: String,
    slave_ns: String,
    children: Vec<Child>,
    dir: std::path::PathBuf,
}

fn sh(args: &[&str]) {
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
    fn new(tag: &str) -> Self {
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
            children: Vec::new(),
            dir,
        };
        sh(&["ip", "netns", "add", &m]);
        sh(&["ip", "netns", "add", &s]);
        sh(&[
            "ip", "link", "add", "vm0", "netns", &m, "type", "veth", "peer", "name", "vs0",
            "netns", &s,
        ]);
        sh(&["ip", "-n", &m, "addr", "add", "10.99.0.1/24", "dev", "vm0"]);
        sh(&["ip", "-n", &s, "addr", "add", "10.99.0.2/24", "dev", "vs0"]);
        for (ns, dev) in [(&m, "vm0"), (&s, "vs0")] {
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        lab
    }

    fn spawn(&mut self, ns: &str, cmd: &[&str]) -> usize {
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

    /// A ptp4l config: fast announce settings, and never touching the host clock.
    fn ptp4l_config(&self, name: &str, role: &str) -> String {
        let path = self.dir.join(format!("{name}.cfg"));
        let uds = self.dir.join(format!("{name}.sock"));
        std::fs::write(
            &path,
            format!(
                "[global]\nfree_running 1\nkernel_leap 0\ntime_stamping software\ndelay_mechanism E2E\n\
                 logSyncInterval -3\nlogMinDelayReqInterval -3\nlogAnnounceInterval -3\n\
                 announceReceiptTimeout 2\nsummary_interval -3\nfreq_est_interval 0\n\
                 uds_address {}\n{role}\n",
                uds.display()
            ),
        )
        .unwrap();
        path.display().to_string()
    }

    /// Collects the child's stdout lines until it exits or `limit` passes, then ends it.
    fn lines(&mut self, idx: usize, limit: Duration) -> Vec<String> {
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

const FAST: [&str; 8] = [
    "--ptp-announce-log2=-3",
    "--ptp-sync-log2=-3",
    "--ptp-delay-log2=-3",
    "--ptp-announce-timeout",
    "2",
    "--interval",
    "250ms",
    "--log-level=warn",
];

/// `key=value` of a status line, with a unit suffix stripped.
fn field(line: &str, key: &str) -> Option<f64> {
    let v = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))?;
    let v = v.trim_end_matches("ns").trim_end_matches('s');
    v.parse().ok()
}

struct SlaveRun {
    lock_after: Option<f64>,
    /// (offset ns, bound ns) of every synchronized line.
    samples: Vec<(f64, f64)>,
}

fn slave_run(lines: &[String], interval_s: f64) -> SlaveRun {
    let mut run = SlaveRun {
        lock_after: None,
        samples: Vec::new(),
    };
    for (i, l) in lines.iter().enumerate() {
        if !l.contains("status=synchronized") {
            continue;
        }
        run.lock_after.get_or_insert(i as f64 * interval_s);
        if let (Some(o), Some(b)) = (field(l, "offset"), field(l, "bound")) {
            run.samples.push((o, b * 1e9));
        }
    }
    run
}

fn stats(errors: &[f64]) -> (f64, f64, f64) {
    let mut abs: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
    abs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rms = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt();
    let p99 = abs[((abs.len() as f64 * 0.99) as usize).min(abs.len() - 1)];
    (rms, *abs.last().unwrap(), p99)
}

fn ptp4l_offsets(lines: &[String]) -> Vec<f64> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = l.split("master offset").nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

#[test]
fn ptp4l_master_to_tempora_slave() {
    let mut lab = Lab::new("a");
    let cfg = lab.ptp4l_config("master", "masterOnly 1\npriority1 10");
    let (m, s) = (lab.master_ns.clone(), lab.slave_ns.clone());
    lab.spawn(&m, &["ptp4l", "-f", &cfg, "-i", "vm0", "-S", "-4", "-m"]);
    // ptp4l as a second slave on the same path, in the same run: its per-sample offsets
    // are the baseline tempora's are compared with.
    let scfg = lab.ptp4l_config("slave", "slaveOnly 1");
    let peer = lab.spawn(&s, &["ptp4l", "-f", &scfg, "-i", "vs0", "-S", "-4", "-m"]);
    let mut cmd = vec![
        env!("CARGO_BIN_EXE_tempora"),
        "run",
        "--source",
        "ptp:vs0",
        "--duration",
        "20s",
    ];
    cmd.extend(FAST);
    let ours = lab.spawn(&s, &cmd);
    let lines = lab.lines(ours, Duration::from_secs(30));
    let baseline = ptp4l_offsets(&lab.lines(peer, Duration::from_millis(100)));
    let run = slave_run(&lines, 0.25);
    let lock = run
        .lock_after
        .unwrap_or_else(|| panic!("never synchronized:\n{}", lines.join("\n")));
    assert!(lock <= 10.0, "locked only after {lock} s");
    let steady: Vec<(f64, f64)> = run.samples.iter().copied().skip(8).collect();
    assert!(
        steady.len() >= 30,
        "{} samples:\n{}",
        steady.len(),
        lines.join("\n")
    );
    let inside = steady.iter().filter(|(o, b)| o.abs() <= *b).count();
    let errors: Vec<f64> = steady.iter().map(|s| s.0).collect();
    let (rms, max, p99) = stats(&errors);
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    println!("tempora slave: lock {lock:.2} s, error RMS {rms:.0} ns, mean {mean:.0} ns, max {max:.0} ns, p99 {p99:.0} ns, {inside}/{} inside its bound", steady.len());
    if baseline.len() > 10 {
        let (brms, bmax, bp99) = stats(&baseline);
        let bmean = baseline.iter().sum::<f64>() / baseline.len() as f64;
        println!("ptp4l slave, same path: RMS {brms:.0} ns, mean {bmean:.0} ns, max {bmax:.0} ns, p99 {bp99:.0} ns, {} samples", baseline.len());
    }
    assert!(
        inside as f64 >= 0.99 * steady.len() as f64,
        "{inside}/{} inside the bound",
        steady.len()
    );
    assert!(max < 10_000.0, "error up to {max} ns");
}

#[test]
fn tempora_slave_finds_an_injected_master_offset() {
    let mut lab = Lab::new("b");
    let (m, s) = (lab.master_ns.clone(), lab.slave_ns.clone());
    let mut serve = vec![
        env!("CARGO_BIN_EXE_tempora"),
        "serve",
        "--iface",
        "vm0",
        "--offset",
        "250us",
        "--priority1",
        "10",
        "--duration",
        "25s",
    ];
    serve.extend(&FAST[..5]);
    lab.spawn(&m, &serve);
    let mut cmd = vec![
        env!("CARGO_BIN_EXE_tempora"),
        "run",
        "--source",
        "ptp:vs0",
        "--duration",
        "15s",
    ];
    cmd.extend(FAST);
    let ours = lab.spawn(&s, &cmd);
    let lines = lab.lines(ours, Duration::from_secs(25));
    let run = slave_run(&lines, 0.25);
    assert!(
        run.lock_after.is_some(),
        "never synchronized:\n{}",
        lines.join("\n")
    );
    let steady: Vec<(f64, f64)> = run.samples.iter().copied().skip(8).collect();
    assert!(steady.len() >= 20, "{} samples", steady.len());
    // The master runs 250 µs ahead, so the system clock is 250 µs behind it.
    let errors: Vec<f64> = steady.iter().map(|(o, _)| o + 250_000.0).collect();
    let inside = steady
        .iter()
        .zip(&errors)
        .filter(|((_, b), e)| e.abs() <= *b)
        .count();
    let (rms, max, _) = stats(&errors);
    println!(
        "injected +250 us: error RMS {rms:.0} ns, max {max:.0} ns, {inside}/{} inside the bound",
        steady.len()
    );
    assert!(inside as f64 >= 0.99 * steady.len() as f64);
}

#[test]
fn tempora_master_to_ptp4l_slave() {
    let mut lab = Lab::new("c");
    let (m, s) = (lab.master_ns.clone(), lab.slave_ns.clone());
    let mut serve = vec![
        env!("CARGO_BIN_EXE_tempora"),
        "serve",
        "--iface",
        "vm0",
        "--priority1",
        "10",
        "--duration",
        "20s",
    ];
    serve.extend(&FAST[..5]);
    lab.spawn(&m, &serve);
    let scfg = lab.ptp4l_config("slave", "slaveOnly 1");
    let peer = lab.spawn(&s, &["ptp4l", "-f", &scfg, "-i", "vs0", "-S", "-4", "-m"]);
    let lines = lab.lines(peer, Duration::from_secs(12));
    // With free_running 1 ptp4l's servo never locks, so its port stays UNCALIBRATED
    // (RS_SLAVE: it follows that master) rather than reaching SLAVE.
    let selected = lines
        .iter()
        .any(|l| l.contains("selected best master clock 027e"))
        && lines.iter().any(|l| l.contains("UNCALIBRATED on RS_SLAVE"));
    assert!(
        selected,
        "ptp4l never selected tempora as its master:\n{}",
        lines.join("\n")
    );
    let offsets = ptp4l_offsets(&lines);
    assert!(
        offsets.len() >= 5,
        "ptp4l reported {} offsets:\n{}",
        offsets.len(),
        lines.join("\n")
    );
    let steady = &offsets[offsets.len() / 2..];
    let (rms, max, _) = stats(steady);
    println!(
        "ptp4l slave of tempora: offset RMS {rms:.0} ns, max {max:.0} ns over {} samples",
        steady.len()
    );
    assert!(
        max < 10_000.0,
        "ptp4l sees offsets up to {max} ns from tempora"
    );
}
