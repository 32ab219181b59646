//! `tempora`: bounded time and hybrid logical clock timestamps from the command line.

use std::io::Write;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tempora_core::clock::{ClockReading, ClockSource};
use tempora_core::hlc::{Hlc, HlcConfig};
use tempora_core::time::Utc;
use tempora_core::timestamp::{NodeId, Timestamp};
use tempora_std::{CountingHooks, KernelEstimate, SystemClock};

/// Bounded time and hybrid logical clock timestamps.
///
/// Every reading is a time and an error bound: the true time lies in
/// [earliest, latest]. Timestamps are hybrid logical clock values that strictly increase
/// and respect causality across nodes.
#[derive(Debug, Parser)]
#[command(name = "tempora", version, about, long_about)]
struct Cli {
    /// Log level for faults and diagnostics on stderr: error, warn, info, debug or trace.
    #[arg(long, global = true, default_value = "warn", value_parser = parse_level)]
    log_level: tracing::Level,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print one HLC timestamp and the current bounded interval with its status.
    Now(ClockArgs),
    /// Run until Ctrl-C (or --duration), printing a status line every --interval.
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct ClockArgs {
    /// Where time comes from. `system`: the Linux system clock, bounded by the kernel's
    /// own error estimate (adjtimex); needs no PTP hardware or network.
    #[arg(long, default_value = "system")]
    source: Source,

    /// This node's id in HLC timestamps (0..=4294967295). Default: derived from
    /// /etc/machine-id, so it is stable across restarts of one machine.
    #[arg(long)]
    node: Option<u32>,

    /// Refuse remote timestamps further than this ahead of local time (e.g. 500ms).
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    max_offset: Duration,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    clock: ClockArgs,

    /// Stop after this long (e.g. 10s, 1m); run until Ctrl-C or SIGTERM when absent.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,

    /// Time between status lines.
    #[arg(long, default_value = "1s", value_parser = parse_positive_duration)]
    interval: Duration,
}

/// A time source named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    System,
}

impl FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "system" => Ok(Self::System),
            other => Err(format!("unknown source '{other}' (available: system)")),
        }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("'{s}' is not a duration like 500ms or 10s: {e}"))
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("must be greater than zero".into()),
        d => Ok(d),
    }
}

fn parse_level(s: &str) -> Result<tracing::Level, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not one of error, warn, info, debug, trace"))
}

/// FNV-1a of the machine id: stable per machine, spread over the id space.
fn default_node() -> NodeId {
    let seed = std::fs::read_to_string("/etc/machine-id")
        .unwrap_or_else(|_| std::process::id().to_string());
    let hash = seed.trim().bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    NodeId(hash)
}

/// The daemon's counters; a static so the clock can hold a plain reference.
static HOOKS: CountingHooks = CountingHooks::new();

type SystemHlc = Hlc<SystemClock, &'static CountingHooks>;

fn build_hlc(args: &ClockArgs) -> SystemHlc {
    let Source::System = args.source;
    let node = args.node.map(NodeId).unwrap_or_else(default_node);
    let config = HlcConfig {
        max_offset: args.max_offset,
        ..HlcConfig::DEFAULT
    };
    Hlc::with_hooks(SystemClock::new(), node, config, &HOOKS)
}

fn format_bound(d: Duration) -> String {
    if d == Duration::MAX {
        "unbounded".into()
    } else {
        format!("{:.6}s", d.as_secs_f64())
    }
}

fn status_line(source: Source, reading: &ClockReading<Utc>, ts: Timestamp<Utc>) -> String {
    let i = reading.interval();
    format!(
        "{}  source={} status={} bound={} earliest={} latest={} hlc={}",
        reading.time,
        match source {
            Source::System => "system",
        },
        reading.status,
        format_bound(reading.bound),
        i.earliest,
        i.latest,
        ts
    )
}

fn now(args: &ClockArgs) -> ExitCode {
    let hlc = build_hlc(args);
    let reading = hlc.clock().read();
    let ts = hlc.now();
    println!("{}", status_line(args.source, &reading, ts));
    if let Ok(k) = KernelEstimate::read() {
        println!(
            "kernel: maxerror={} esterror={} unsynchronized={} tai_offset={}s",
            format_bound(k.max_error),
            format_bound(k.est_error),
            k.unsynchronized,
            k.tai_offset.0
        );
    }
    ExitCode::SUCCESS
}

fn run(args: &RunArgs) -> ExitCode {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)) {
        eprintln!("tempora: cannot install the Ctrl-C handler: {e}");
        return ExitCode::FAILURE;
    }
    let hlc = build_hlc(&args.clock);
    let started = std::time::Instant::now();
    let mut lines = 0u64;
    let stdout = std::io::stdout();
    loop {
        let reading = hlc.clock().read();
        let ts = hlc.now();
        if writeln!(
            stdout.lock(),
            "{}",
            status_line(args.clock.source, &reading, ts)
        )
        .is_err()
        {
            break; // stdout closed: nobody is listening any more
        }
        lines += 1;
        let next = started
            + args
                .interval
                .saturating_mul(u32::try_from(lines).unwrap_or(u32::MAX));
        // Sleep in short slices so Ctrl-C and --duration take effect promptly.
        loop {
            let now = std::time::Instant::now();
            let done = args
                .duration
                .is_some_and(|d| now.duration_since(started) >= d);
            if stop.load(Ordering::SeqCst) || done {
                eprintln!(
                    "tempora: stopped after {:.1}s: {} status lines, {} timestamps, {} faults",
                    started.elapsed().as_secs_f64(),
                    lines,
                    HOOKS.timestamps.load(Ordering::Relaxed),
                    HOOKS.faults()
                );
                return ExitCode::SUCCESS;
            }
            if now >= next {
                break;
            }
            std::thread::sleep((next - now).min(Duration::from_millis(50)));
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(cli.log_level)
        .init();
    match &cli.command {
        Command::Now(args) => now(args),
        Command::Run(args) => run(args),
    }
}
