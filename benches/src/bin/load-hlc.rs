//! Sustained HLC timestamps per second: the in-process [`Hlc`] on `--threads` threads,
//! and the host-wide HLC of the time service (`Reader::hlc`) from `--processes` processes
//! (this binary run again as children) on a segment published here on a private path.
//! Every worker checks its stamps strictly increase; sampled values are checked for
//! duplicates across workers. Exit code 1 on any repeat or duplicate.
//!
//! `cargo run --release -p tempora-benches --bin load-hlc -- --seconds 30 --markdown`

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Parser;
use tempora_benches::hlc_load::{self, Combined, WorkerRun};
use tempora_benches::procfs::HostCpu;
use tempora_benches::report::{self, si, MarkdownArgs, Table};
use tempora_benches::stats;
use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
use tempora_core::hlc::Hlc;
use tempora_core::timestamp::NodeId;
use tempora_std::timeservice::{Publisher, PublisherOptions, Reader};
use tempora_std::SystemClock;

/// Sustained HLC timestamp rates, checked for uniqueness.
#[derive(Parser, Debug)]
struct Args {
    /// Seconds per configuration (whole seconds).
    #[arg(long, default_value_t = 30)]
    seconds: u32,
    /// Thread counts for the in-process HLC (comma-separated; empty for none).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    /// Process counts for the time service's host-wide HLC (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "2")]
    processes: Vec<usize>,
    /// Keep one stamp value in 2^N for the cross-worker duplicate check.
    #[arg(long, default_value_t = 6)]
    sample_shift: u32,
    #[command(flatten)]
    md: MarkdownArgs,
    /// (internal) Run as a child stamping from the time service at this path.
    #[arg(long, hide = true)]
    child: Option<PathBuf>,
    /// (internal) Where the child writes its sampled values.
    #[arg(long, hide = true)]
    samples_out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match (&args.child, &args.samples_out) {
        (Some(path), Some(out)) => child(&args, path, out).map(|()| true),
        _ => parent(&args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("load-hlc: {e}");
            ExitCode::from(2)
        }
    }
}

type Error = Box<dyn std::error::Error>;

/// A child: opens the host-wide HLC, says `ready`, waits for `go` on stdin, stamps for
/// `--seconds`, prints its `run` line and writes its samples.
fn child(args: &Args, path: &Path, out: &Path) -> Result<(), Error> {
    let reader = Reader::open(path)?;
    let hlc = reader.hlc()?;
    println!("ready");
    std::io::stdout().flush()?;
    let mut go = String::new();
    std::io::stdin().read_line(&mut go)?;
    if go.trim() != "go" {
        return Err(format!("expected go, got {go:?}").into());
    }
    let run = hlc_load::stamp_for(args.seconds, args.sample_shift, || hlc.now().raw());
    hlc_load::write_samples(out, &run.check.sampled)?;
    println!("{}", hlc_load::encode(&run));
    Ok(())
}

/// `processes` children stamping from a segment this process publishes.
fn processes(args: &Args, processes: usize, dir: &Path) -> Result<Vec<WorkerRun>, Error> {
    let path = dir.join("time");
    let options = PublisherOptions::new(Duration::from_secs(1), NodeId(7), "system");
    let mut publisher = Publisher::open(&path, &options)?;
    let clock = SystemClock::new();
    publisher.publish_reading(
        || ClockReading {
            time: clock.read().time,
            bound: Duration::from_micros(100),
            status: ClockStatus::Synchronized,
        },
        0,
        10_000,
    );
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for i in 0..processes {
        let samples = dir.join(format!("samples-{i}"));
        let mut c = Command::new(&exe)
            .arg("--seconds")
            .arg(args.seconds.to_string())
            .arg("--sample-shift")
            .arg(args.sample_shift.to_string())
            .arg("--child")
            .arg(&path)
            .arg("--samples-out")
            .arg(&samples)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut out = BufReader::new(c.stdout.take().ok_or("no stdout")?);
        let mut ready = String::new();
        out.read_line(&mut ready)?; // bounded: the child says ready or exits
        if ready.trim() != "ready" {
            let _ = c.kill();
            let _ = c.wait();
            return Err(format!("child {i} did not start: {ready:?}").into());
        }
        children.push((c, out, samples));
    }
    // Start them together.
    for (c, _, _) in &mut children {
        writeln!(c.stdin.as_mut().ok_or("no stdin")?, "go")?;
    }
    let mut runs = Vec::new();
    for (mut c, mut out, samples) in children {
        let mut line = String::new();
        out.read_line(&mut line)?;
        let status = c.wait()?;
        let sampled = hlc_load::read_samples(&samples)?;
        let run = hlc_load::decode(line.trim(), sampled)
            .ok_or_else(|| format!("child said {line:?} and {status}"))?;
        runs.push(run);
    }
    drop(publisher);
    Ok(runs)
}

fn parent(args: &Args) -> Result<bool, Error> {
    let load_start = report::loadavg_text();
    let host_start = HostCpu::now();
    let mut results: Vec<(String, Combined)> = Vec::new();
    for &n in args.threads.iter().filter(|&&n| n > 0) {
        let hlc = Hlc::new(SystemClock::new(), NodeId(1));
        let runs = hlc_load::threads(n, args.seconds, args.sample_shift, || hlc.now().raw());
        let c = Combined::of(&runs);
        print_one("in-process", "thread", &c);
        results.push(("in-process `Hlc`".into(), c));
    }
    for &n in args.processes.iter().filter(|&&n| n > 0) {
        let dir = std::env::temp_dir().join(format!("tempora-load-hlc-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let runs = processes(args, n, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        let c = Combined::of(&runs?);
        print_one("time service", "process", &c);
        results.push(("time service `Reader::hlc`".into(), c));
    }
    let load_end = report::loadavg_text();

    let mut table = Table::new(&[
        "HLC",
        "workers",
        "stamps",
        "mean per s",
        "per-second min",
        "median",
        "max",
        "ns per stamp per worker",
        "repeats or steps back",
        "duplicates across workers (sampled)",
    ]);
    let mut clean = true;
    for (name, c) in &results {
        let per: Vec<f64> = c.per_second.iter().map(|&v| v as f64).collect();
        let (lo, med, hi) = stats::min_median_max(&per);
        table.row(vec![
            name.clone(),
            c.workers.to_string(),
            si(c.stamps as f64),
            si(c.mean_rate),
            si(lo),
            si(med),
            si(hi),
            format!("{:.1}", c.workers as f64 * 1e9 / c.mean_rate),
            c.not_increasing.to_string(),
            format!("{} (of {})", c.cross_duplicates, si(c.sampled as f64)),
        ]);
        clean &= c.is_clean();
    }
    let notes = vec![
        format!(
            "{} s per row; every stamp checked against its worker's previous one; one value \
             in {} (chosen by a hash of the value, so a value two workers both got is kept \
             by both) checked across workers",
            args.seconds,
            1u64 << args.sample_shift
        ),
        "time service rows: this binary's children on a segment published by the library's \
         `Publisher` on a private path (temp dir), started together"
            .to_string(),
        format!("load average at start {load_start}, at end {load_end}"),
        report::host_cpu_note(host_start),
    ];
    args.md.finish(
        "HLC timestamps under load (`load-hlc`)",
        &table,
        &notes,
        (&load_start, &load_end),
    )?;
    if !clean {
        eprintln!("load-hlc: a stamp repeated, went back or was duplicated");
    }
    Ok(clean)
}

fn print_one(what: &str, worker: &str, c: &Combined) {
    let per: Vec<f64> = c.per_second.iter().map(|&v| v as f64).collect();
    let (lo, med, hi) = stats::min_median_max(&per);
    println!(
        "{what}, {} {worker}(s): {} stamps, {}/s mean, per second min {} median {} max {}; \
         repeats {}, cross duplicates {} of {} sampled",
        c.workers,
        c.stamps,
        si(c.mean_rate),
        si(lo),
        si(med),
        si(hi),
        c.not_increasing,
        c.cross_duplicates,
        c.sampled
    );
}
