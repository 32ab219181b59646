//! A daemon soak: a PTP master and a `tempora run --source ptp:IFACE` slave at 16 Hz Sync
//! in a namespace lab for `--minutes`, its metrics scraped every second and its time
//! service read continuously by a load process, ptp4l's slave beside it on the same
//! path as the reference. Every process's resident memory and CPU are sampled every
//! second into `OUT/<process>.csv` (`time_s,rss_kib,cpu_pct`); the report gives RSS
//! start/end/max, the least-squares memory slope after warm-up (exit code 1 if a
//! tempora process's exceeds `--max-slope`), mean CPU and wakeups per second.
//!
//! Needs root (namespaces) and ptp4l. Build the daemon first:
//! `cargo build --release -p tempora-std --bin tempora`, then
//! `cargo run --release -p tempora-benches --bin soak -- --minutes 10 --out-dir target/soak`.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use tempora_benches::lab::{enter_netns, ptp4l_config, Lab};
use tempora_benches::procfs::{self, Sampler, ThreadStat};
use tempora_benches::report::{self, MarkdownArgs, Table};
use tempora_benches::{http, stats};
use tempora_core::clock::ClockStatus;
use tempora_std::timeservice::Reader;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Master {
    /// `tempora serve` (sampled too).
    Tempora,
    /// ptp4l with `masterOnly 1` (sampled too).
    Ptp4l,
}

/// A soak of the tempora daemon as a PTP slave, beside ptp4l's.
#[derive(Parser, Debug)]
#[command(allow_negative_numbers = true)]
struct Args {
    /// How long to sample, in minutes.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Where the CSV files (and the processes' logs and the summary) go.
    #[arg(long, default_value = "target/soak")]
    out_dir: PathBuf,
    /// Which master serves the lab.
    #[arg(long, value_enum, default_value = "tempora")]
    master: Master,
    /// log2 of the Sync and Delay_Req intervals (-4: 16 per second).
    #[arg(long, default_value_t = -4)]
    sync_log2: i8,
    /// Seconds at the start left out of the memory slope (allocations of the start-up
    /// and of the first lock).
    #[arg(long, default_value_t = 60.0)]
    warmup_s: f64,
    /// The largest memory slope after warm-up, KiB per minute, a tempora process may
    /// show (exit code 1 beyond it).
    #[arg(long, default_value_t = 16.0)]
    max_slope: f64,
    /// Time service reads (each with an HLC stamp) per second by the load process.
    #[arg(long, default_value_t = 100_000)]
    load_rate: u64,
    /// The tempora binary (default: `tempora` beside this one, i.e. target/release).
    #[arg(long)]
    tempora: Option<PathBuf>,
    /// The slave's metrics port on its namespace's loopback.
    #[arg(long, default_value_t = 9898)]
    metrics_port: u16,
    /// Fail (exit code 1) unless the tempora slave's largest VmRSS is at most ptp4l
    /// slave's: the footprint check of tests/footprint/run.sh.
    #[arg(long)]
    rss_at_most_ptp4l: bool,
    #[command(flatten)]
    md: MarkdownArgs,
    /// (internal) Run as the load process on this time service for --load-seconds.
    #[arg(long, hide = true)]
    load_child: Option<PathBuf>,
    /// (internal) The load process's run time.
    #[arg(long, hide = true, default_value_t = 0.0)]
    load_seconds: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = &args.load_child {
        return load_child(path, args.load_seconds, args.load_rate);
    }
    match soak(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(2)
        }
    }
}

/// The load process: reads the time service at `rate` per second (bounded time and a
/// host-wide HLC stamp each) in 1 ms batches for `seconds`, checking what it reads,
/// and prints one `load:` line of counts.
fn load_child(path: &Path, seconds: f64, rate: u64) -> ExitCode {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let reader = loop {
        match Reader::open(path) {
            Ok(r) => break r,
            Err(e) if Instant::now() >= deadline => {
                eprintln!("load: {e}");
                return ExitCode::FAILURE;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let hlc = match reader.hlc() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("load: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The parent starts sampling this process once it runs here.
    println!("ready");
    let _ = std::io::stdout().flush();
    let per_tick = (rate / 1000).max(1);
    let (mut reads, mut synced, mut lost_sync, mut regress) = (0u64, 0u64, 0u64, 0u64);
    let mut last = 0u64;
    let start = Instant::now();
    let mut tick = 0u32;
    while Instant::now() < deadline {
        for _ in 0..per_tick {
            let r = reader.read();
            reads += 1;
            if r.status == ClockStatus::Synchronized {
                synced += 1;
            } else if synced > 0 {
                lost_sync += 1;
            }
            let t = hlc.now().raw();
            if t <= last {
                regress += 1;
            }
            last = t;
        }
        tick += 1;
        if let Some(left) =
            (start + Duration::from_millis(u64::from(tick))).checked_duration_since(Instant::now())
        {
            std::thread::sleep(left);
        }
    }
    println!(
        "load: reads={reads} synchronized={synced} unsynchronized_after_lock={lost_sync} \
         hlc_not_increasing={regress}"
    );
    ExitCode::SUCCESS
}

/// One sampled process.
struct Watched {
    name: &'static str,
    /// Whether the memory slope limit applies (tempora's own processes).
    judged: bool,
    sampler: Sampler,
    csv: std::io::BufWriter<std::fs::File>,
    /// (seconds since the start, RSS KiB, CPU %).
    samples: Vec<(f64, u64, f64)>,
    /// `RssAnon` KiB at each sample.
    anon: Vec<u64>,
    switches: Option<((u64, u64), (u64, u64))>,
    /// Its threads at the first sample and at the last (tempora's processes only).
    threads: Option<(Vec<ThreadStat>, Vec<ThreadStat>)>,
}

impl Watched {
    fn new(name: &'static str, judged: bool, pid: u32, dir: &Path) -> std::io::Result<Self> {
        let mut csv =
            std::io::BufWriter::new(std::fs::File::create(dir.join(format!("{name}.csv")))?);
        writeln!(csv, "time_s,rss_kib,cpu_pct")?;
        Ok(Self {
            name,
            judged,
            sampler: Sampler::new(pid),
            csv,
            samples: Vec::new(),
            anon: Vec::new(),
            switches: None,
            threads: None,
        })
    }

    /// Samples once; false once the process has gone.
    fn sample(&mut self, t: f64) -> std::io::Result<bool> {
        let Some(s) = self.sampler.sample() else {
            return Ok(false);
        };
        if let Some(cs) = procfs::context_switches(self.sampler.pid()) {
            let first = self.switches.map_or(cs, |(f, _)| f);
            self.switches = Some((first, cs));
        }
        if self.judged {
            let now = procfs::threads(self.sampler.pid());
            let first = self.threads.take().map_or_else(|| now.clone(), |(f, _)| f);
            self.threads = Some((first, now));
        }
        writeln!(self.csv, "{t:.3},{},{:.2}", s.rss_kib, s.cpu_pct)?;
        self.csv.flush()?;
        self.samples.push((t, s.rss_kib, s.cpu_pct));
        self.anon.push(s.anon_kib);
        Ok(true)
    }

    /// `VmRSS` KiB per minute from `from_s` on, least squares.
    fn slope(&self, from_s: f64) -> f64 {
        self.slope_of(from_s, |i| self.samples[i].1)
    }

    /// `RssAnon` KiB per minute from `from_s` on.
    fn anon_slope(&self, from_s: f64) -> f64 {
        self.slope_of(from_s, |i| self.anon[i])
    }

    fn slope_of(&self, from_s: f64, kib: impl Fn(usize) -> u64) -> f64 {
        let points: Vec<(f64, f64)> = (0..self.samples.len())
            .filter(|&i| self.samples[i].0 >= from_s)
            .map(|i| (self.samples[i].0 / 60.0, kib(i) as f64))
            .collect();
        stats::least_squares(&points).map_or(f64::NAN, |(m, _)| m)
    }

    /// Each thread's wakeups per second and CPU share over the run:
    /// `main: 49.8 wakeups/s, 0.08 %; 1234 (tempora-metrics): ...`.
    fn threads_text(&self) -> Option<String> {
        let (first, last) = self.threads.as_ref()?;
        let span = self.samples.last()?.0 - self.samples.first()?.0;
        let hz = procfs::ticks_per_second() as f64;
        let parts: Vec<String> = last
            .iter()
            .filter_map(|t| {
                let f = first.iter().find(|f| f.tid == t.tid)?;
                let who = if t.tid == self.sampler.pid() {
                    format!("main thread ({})", t.comm)
                } else {
                    format!("thread {} ({})", t.tid, t.comm)
                };
                Some(format!(
                    "{who}: {:.1} wakeups/s, {:.3} % CPU",
                    t.voluntary.saturating_sub(f.voluntary) as f64 / span,
                    t.cpu_ticks.saturating_sub(f.cpu_ticks) as f64 / hz / span * 100.0
                ))
            })
            .collect();
        Some(format!("{} threads: {}", self.name, parts.join("; ")))
    }

    /// Voluntary and involuntary context switches per second over the run.
    fn wakeups_per_s(&self) -> (f64, f64) {
        let span = match (self.samples.first(), self.samples.last()) {
            (Some(a), Some(b)) if b.0 > a.0 => b.0 - a.0,
            _ => return (f64::NAN, f64::NAN),
        };
        self.switches.map_or((f64::NAN, f64::NAN), |(a, b)| {
            ((b.0 - a.0) as f64 / span, (b.1 - a.1) as f64 / span)
        })
    }
}

/// What the scraper saw.
#[derive(Default, Debug)]
struct Scrapes {
    ok: u64,
    failed: u64,
    synchronized: u64,
    first_error: Option<String>,
    latencies_ms: Vec<f64>,
    first_bytes: usize,
    last_bytes: usize,
}

/// Scrapes `addr` in namespace `ns` every second until `stop`.
fn scrape(ns: String, addr: SocketAddr, stop: Arc<AtomicBool>) -> Scrapes {
    let mut s = Scrapes::default();
    if let Err(e) = enter_netns(&ns) {
        s.first_error = Some(format!("setns {ns}: {e}"));
        return s;
    }
    let start = Instant::now();
    let mut k = 0u32;
    // Bounded: one scrape a second for at most a day.
    while !stop.load(Ordering::SeqCst) && k < 86_400 {
        let t0 = Instant::now();
        match http::get(addr, "/metrics", Duration::from_secs(2)) {
            Ok(r) if r.status == 200 => {
                s.ok += 1;
                s.latencies_ms.push(t0.elapsed().as_secs_f64() * 1e3);
                if s.first_bytes == 0 {
                    s.first_bytes = r.body.len();
                }
                s.last_bytes = r.body.len();
                let name = "tempora_clock_status{status=\"synchronized\"}";
                if http::metric(&r.body, name) == Some(1.0) {
                    s.synchronized += 1;
                }
            }
            Ok(r) => {
                s.failed += 1;
                s.first_error.get_or_insert(format!("HTTP {}", r.status));
            }
            Err(e) => {
                s.failed += 1;
                s.first_error.get_or_insert(e.to_string());
            }
        }
        k += 1;
        let next = start + Duration::from_secs(u64::from(k));
        while !stop.load(Ordering::SeqCst) && Instant::now() < next {
            std::thread::sleep(Duration::from_millis(50).min(next - Instant::now()));
        }
    }
    s
}

/// Waits (bounded) until the slave's metrics answer 200, from its namespace.
fn wait_for_metrics(ns: &str, addr: SocketAddr, within: Duration) -> Result<(), String> {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter_netns(&ns).map_err(|e| format!("setns {ns}: {e}"))?;
        let until = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < until {
            match http::get(addr, "/metrics", Duration::from_secs(1)) {
                Ok(r) if r.status == 200 => return Ok(()),
                Ok(r) => last = format!("HTTP {}", r.status),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!("the slave's metrics never answered: {last}"))
    })
    .join()
    .map_err(|_| "the metrics wait panicked".to_string())?
}

fn soak(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let tempora = match &args.tempora {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("tempora"),
    };
    if !tempora.exists() {
        return Err(format!(
            "{} is missing: cargo build --release -p tempora-std --bin tempora, or pass --tempora",
            tempora.display()
        )
        .into());
    }
    let tempora = tempora.canonicalize()?;
    let tempora_s = tempora.to_string_lossy().into_owned();
    std::fs::create_dir_all(&args.out_dir)?;
    let out = args.out_dir.canonicalize()?;
    let seconds = (args.minutes * 60.0).round().max(1.0) as u64;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))?;
    }
    let load_start = report::loadavg_text();
    let host_start = procfs::HostCpu::now();
    let mut lab = Lab::new("sk")?;
    let (m_ns, s_ns) = (lab.master_ns.clone(), lab.slave_ns.clone());
    let (m_if, s_if) = (lab.master_if.clone(), lab.slave_if.clone());
    let run_for = format!("{}s", seconds + 60);
    let (log2, timeout) = (args.sync_log2.to_string(), "2".to_string());
    let ptp_flags = [
        "--ptp-timestamping=software",
        "--ptp-announce-log2=-3",
        "--ptp-announce-timeout",
        &timeout,
    ];
    let sync = format!("--ptp-sync-log2={log2}");
    let delay = format!("--ptp-delay-log2={log2}");

    // The master.
    let master_pid = match args.master {
        Master::Tempora => {
            let source = format!("ptp:{m_if}");
            let mut cmd = vec![
                tempora_s.as_str(),
                "serve",
                "--source",
                &source,
                "--priority1",
                "10",
                "--duration",
                &run_for,
                &sync,
                &delay,
            ];
            cmd.extend(ptp_flags);
            lab.spawn(&m_ns, &cmd, &out.join("tempora-serve.log"))?
        }
        Master::Ptp4l => {
            let cfg = ptp4l_config(
                &lab.dir,
                "master",
                args.sync_log2,
                "masterOnly 1\npriority1 10",
            )?;
            let cfg = cfg.to_string_lossy().into_owned();
            lab.spawn(
                &m_ns,
                &["ptp4l", "-f", &cfg, "-i", &m_if, "-S", "-4", "-m"],
                &out.join("ptp4l-master.log"),
            )?
        }
    };
    // Let the master win its election before the slaves join.
    std::thread::sleep(Duration::from_secs(1));

    // The reference: ptp4l's slave on the same path.
    let cfg = ptp4l_config(&lab.dir, "slave", args.sync_log2, "slaveOnly 1")?;
    let cfg = cfg.to_string_lossy().into_owned();
    let ptp4l_pid = lab.spawn(
        &s_ns,
        &["ptp4l", "-f", &cfg, "-i", &s_if, "-S", "-4", "-m"],
        &out.join("ptp4l-slave.log"),
    )?;

    // tempora's slave, publishing its time service on a private path.
    let ts_dir = lab.dir.join("ts");
    std::fs::create_dir_all(&ts_dir)?;
    let ts_path = ts_dir.join("time");
    let ts_s = ts_path.to_string_lossy().into_owned();
    let source = format!("ptp:{s_if}");
    let metrics_addr: SocketAddr = ([127, 0, 0, 1], args.metrics_port).into();
    let metrics_s = metrics_addr.to_string();
    let mut cmd = vec![
        tempora_s.as_str(),
        "run",
        "--source",
        &source,
        "--duration",
        &run_for,
        "--interval",
        "1s",
        "--metrics",
        &metrics_s,
        "--time-service",
        &ts_s,
        &sync,
        &delay,
    ];
    cmd.extend(ptp_flags);
    let slave_pid = lab.spawn(&s_ns, &cmd, &out.join("tempora-run.log"))?;

    wait_for_metrics(&s_ns, metrics_addr, Duration::from_secs(15))?;
    for (pid, want) in [(slave_pid, "tempora"), (ptp4l_pid, "ptp4l")] {
        let comm = procfs::comm(pid).unwrap_or_default();
        if comm != want {
            return Err(format!("pid {pid} is {comm:?}, not {want}").into());
        }
    }

    // The load process, in this namespace (the time service is a file); ended by its
    // pid if the soak stops early with an error.
    let mut load = Reaped(
        Command::new(std::env::current_exe()?)
            .args(["--load-child", &ts_s, "--load-seconds"])
            .arg((seconds + 2).to_string())
            .arg("--load-rate")
            .arg(args.load_rate.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?,
    );
    let load = &mut load.0;
    let mut load_out = BufReader::new(load.stdout.take().ok_or("no stdout")?);
    let mut ready = String::new();
    // Bounded: the load process prints `ready` or exits within its own deadline.
    load_out.read_line(&mut ready)?;
    if ready.trim() != "ready" {
        return Err(format!("the load process did not start: {ready:?}").into());
    }

    let mut watched = vec![
        Watched::new("tempora-run", true, slave_pid, &out)?,
        Watched::new("ptp4l-slave", false, ptp4l_pid, &out)?,
        match args.master {
            Master::Tempora => Watched::new("tempora-serve", true, master_pid, &out)?,
            Master::Ptp4l => Watched::new("ptp4l-master", false, master_pid, &out)?,
        },
        Watched::new("load", false, load.id(), &out)?,
    ];
    let scraper = {
        let stop = Arc::clone(&stop);
        let ns = s_ns.clone();
        std::thread::spawn(move || scrape(ns, metrics_addr, stop))
    };

    println!(
        "soak: {} min, lab {m_ns}/{s_ns}, slave pid {slave_pid}, ptp4l pid {ptp4l_pid}, \
         master pid {master_pid}, load pid {}, samples into {}",
        args.minutes,
        load.id(),
        out.display()
    );
    let mut loadavg_csv = std::fs::File::create(out.join("loadavg.csv"))?;
    writeln!(loadavg_csv, "time_s,load1")?;
    let mut load1 = Vec::new();
    let mut failure: Option<String> = None;
    let t0 = Instant::now();
    for k in 0..=seconds {
        let due = t0 + Duration::from_secs(k);
        while !stop.load(Ordering::SeqCst) && Instant::now() < due {
            std::thread::sleep(Duration::from_millis(100).min(due - Instant::now()));
        }
        if stop.load(Ordering::SeqCst) {
            failure = Some("stopped early (Ctrl-C)".into());
            break;
        }
        let t = t0.elapsed().as_secs_f64();
        for w in &mut watched {
            if !w.sample(t)? {
                failure.get_or_insert(format!("{} exited during the soak", w.name));
            }
        }
        if let Some([l1, _, _]) = procfs::loadavg() {
            writeln!(loadavg_csv, "{t:.3},{l1:.2}")?;
            load1.push(l1);
        }
        if let Some((pid, status)) = lab.exited() {
            failure.get_or_insert(format!("pid {pid} exited during the soak: {status}"));
        }
        if failure.is_some() {
            break;
        }
        if k % 60 == 0 {
            let w = &watched[0];
            let last = w.samples.last().map_or(0, |s| s.1);
            println!("soak: {k:>5} s  tempora-run RSS {last} KiB");
        }
    }
    stop.store(true, Ordering::SeqCst);
    let scrapes = scraper.join().map_err(|_| "the scraper panicked")?;
    let load_line = {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until && matches!(load.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        finish_load(load, load_out)
    };
    let load_end = report::loadavg_text();
    lab.stop_all(Duration::from_secs(5));
    let ptp4l_summaries = count_lines(&out.join("ptp4l-slave.log"), "master offset");
    let status_lines = count_lines(&out.join("tempora-run.log"), "synchronized");
    drop(lab);

    // The report.
    let mut table = Table::new(&[
        "process",
        "RSS start KiB",
        "RSS end KiB",
        "RSS max KiB",
        "slope after warm-up, KiB/min",
        "slope, last half",
        "RssAnon KiB start / end",
        "RssAnon slope after warm-up",
        "mean CPU % of a core",
        "wakeups/s (voluntary)",
        "preemptions/s",
    ]);
    let mut ok = failure.is_none();
    for w in &watched {
        let rss: Vec<u64> = w.samples.iter().map(|s| s.1).collect();
        let slope = w.slope(args.warmup_s);
        let half = w.samples.last().map_or(0.0, |s| s.0 / 2.0);
        let (vol, invol) = w.wakeups_per_s();
        table.row(vec![
            w.name.to_string(),
            rss.first().map_or("-".into(), u64::to_string),
            rss.last().map_or("-".into(), u64::to_string),
            rss.iter().max().map_or("-".into(), u64::to_string),
            format!("{slope:+.2}"),
            format!("{:+.2}", w.slope(half)),
            match (w.anon.first(), w.anon.last()) {
                (Some(a), Some(b)) => format!("{a} / {b}"),
                _ => "-".into(),
            },
            format!("{:+.2}", w.anon_slope(args.warmup_s)),
            format!("{:.3}", w.sampler.mean_cpu_pct()),
            format!("{vol:.1}"),
            format!("{invol:.1}"),
        ]);
        // A NaN slope (too few samples after warm-up) fails too.
        let flat = slope.abs() <= args.max_slope;
        if w.judged && !flat {
            ok = false;
            failure.get_or_insert(format!(
                "{}: memory slope {slope:+.2} KiB/min exceeds {} KiB/min",
                w.name, args.max_slope
            ));
        }
    }
    let (_, lat_med, lat_max) = stats::min_median_max(&scrapes.latencies_ms);
    let scraped = scrapes.ok + scrapes.failed;
    let (l_min, l_med, l_max) = stats::min_median_max(&load1);
    let mut notes = vec![
        format!(
            "{} s sampled once a second; memory slope by least squares over the samples after \
             the first {} s; the limit for tempora's processes is ±{} KiB/min on VmRSS (the \
             RssAnon slope, without file pages the kernel may drop and fault back in, is \
             reported beside it)",
            watched[0].samples.len().saturating_sub(1),
            args.warmup_s,
            args.max_slope
        ),
        format!(
            "master: {:?}; Sync and Delay_Req every 2^{} s; the slave's status line every 1 s",
            args.master, args.sync_log2
        ),
        format!(
            "metrics: {}/{} scrapes answered 200 (median {:.2} ms, max {:.2} ms), {} said \
             synchronized; body {} bytes first, {} last{}",
            scrapes.ok,
            scraped,
            lat_med,
            lat_max,
            scrapes.synchronized,
            scrapes.first_bytes,
            scrapes.last_bytes,
            scrapes
                .first_error
                .as_ref()
                .map_or(String::new(), |e| format!("; first failure: {e}"))
        ),
        format!(
            "time service load ({} reads+stamps/s): {}",
            args.load_rate,
            load_line.as_deref().unwrap_or("no report")
        ),
        format!(
            "tempora's slave printed {status_lines} synchronized status lines; ptp4l's slave \
             {ptp4l_summaries} `master offset` lines"
        ),
        format!(
            "load average (1 min) during the run: min {l_min:.2}, median {l_med:.2}, max \
             {l_max:.2} (start {load_start}, end {load_end})"
        ),
        report::host_cpu_note(host_start),
    ];
    notes.extend(watched.iter().filter_map(Watched::threads_text));
    let max_rss = |name: &str| {
        watched
            .iter()
            .find(|w| w.name == name)
            .and_then(|w| w.samples.iter().map(|s| s.1).max())
    };
    let (tempora_rss, ptp4l_rss) = (max_rss("tempora-run"), max_rss("ptp4l-slave"));
    notes.push(format!(
        "largest VmRSS: tempora's slave {} KiB, ptp4l's slave {} KiB",
        tempora_rss.map_or("-".into(), |r| r.to_string()),
        ptp4l_rss.map_or("-".into(), |r| r.to_string())
    ));
    if args.rss_at_most_ptp4l {
        match (tempora_rss, ptp4l_rss) {
            (Some(t), Some(p)) if t <= p => {}
            (t, p) => {
                ok = false;
                failure.get_or_insert(format!(
                    "tempora's slave took {t:?} KiB resident, more than ptp4l's {p:?} KiB"
                ));
            }
        }
    }
    if status_lines == 0 {
        ok = false;
        failure.get_or_insert("tempora's slave never printed a synchronized line".into());
    }
    if scraped == 0 || scrapes.ok * 100 < scraped * 99 {
        ok = false;
        failure.get_or_insert("fewer than 99 % of the scrapes answered".into());
    }
    match load_line.as_deref() {
        Some(l) if l.contains("hlc_not_increasing=0 ") || l.ends_with("hlc_not_increasing=0") => {}
        other => {
            ok = false;
            failure.get_or_insert(format!("the load process: {other:?}"));
        }
    }
    if let Some(f) = &failure {
        notes.push(format!("FAILED: {f}"));
        ok = false;
    }
    let load_during = format!("{l_med:.2} (median of the run's samples)");
    let block = report::block("Daemon soak", &load_during, &[&table], &notes);
    println!("\n{}", table.markdown());
    for n in &notes {
        println!("- {n}");
    }
    std::fs::write(out.join("summary.md"), &block)?;
    args.md.emit(&block)?;
    println!(
        "\nCSV in {} (time_s,rss_kib,cpu_pct per process; loadavg.csv), to be drawn by \
         `cargo run -p tempora-benches --bin plot -- ...`",
        out.display()
    );
    Ok(ok)
}

/// A child process ended (by its pid) and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// The load process's `load:` line (it is killed, by its pid, if still running).
fn finish_load(load: &mut Child, stdout: impl BufRead) -> Option<String> {
    if matches!(load.try_wait(), Ok(None)) {
        let _ = load.kill();
    }
    let _ = load.wait();
    stdout
        .lines()
        .map_while(Result::ok)
        .take(1000)
        .find_map(|l| l.strip_prefix("load: ").map(str::to_string))
}

fn count_lines(path: &Path, containing: &str) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| l.contains(containing)).count())
        .unwrap_or(0)
}
