//! `tempora`: bounded time and hybrid logical clock timestamps from the command line.

use std::io::Write;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tempora_core::clock::{ClockReading, ClockSource};
use tempora_core::hlc::{Hlc, HlcConfig};
use tempora_core::time::Utc;
use tempora_core::timestamp::{NodeId, Timestamp};
use tempora_std::ptp::TimestampMode;
use tempora_std::ptp::TransportKind;
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
    /// Serve the system clock as a PTP master on an interface (optionally shifted by a
    /// known offset, for tests), until Ctrl-C or --duration.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The interface to serve on.
    #[arg(long)]
    iface: String,

    /// Serve the system clock shifted by this much (e.g. 250us), so a slave's estimate
    /// can be checked against a known offset.
    #[arg(long, value_parser = parse_duration)]
    offset: Option<Duration>,

    /// Serve shifted backwards instead of forwards.
    #[arg(long)]
    offset_negative: bool,

    /// priority1 in Announces (lower wins the BMCA).
    #[arg(long, default_value_t = 128)]
    priority1: u8,

    /// Stop after this long.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,

    #[command(flatten)]
    ptp: PtpArgs,
}

#[derive(Debug, Args)]
struct ClockArgs {
    /// Where time comes from. `system`: the Linux system clock, bounded by the kernel's
    /// own error estimate (adjtimex); needs no PTP hardware or network. `ptp:IFACE`: a
    /// PTP slave on that interface, disciplining a virtual clock (never the host clock).
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

    #[command(flatten)]
    ptp: PtpArgs,

    /// Stop after this long (e.g. 10s, 1m); run until Ctrl-C or SIGTERM when absent.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,

    /// Time between status lines.
    #[arg(long, default_value = "1s", value_parser = parse_positive_duration)]
    interval: Duration,
}

/// A time source named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    System,
    Ptp(String),
}

impl FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "system" => Ok(Self::System),
            _ => match s.strip_prefix("ptp:") {
                Some(iface) if !iface.is_empty() => Ok(Self::Ptp(iface.to_string())),
                _ => Err(format!(
                    "unknown source '{s}' (available: system, ptp:IFACE)"
                )),
            },
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::System => f.write_str("system"),
            Self::Ptp(i) => write!(f, "ptp:{i}"),
        }
    }
}

/// PTP transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Transport {
    /// UDP over IPv4, multicast 224.0.1.129, ports 319 and 320.
    Udpv4,
    /// Ethernet frames, ethertype 0x88F7, to 01-1B-19-00-00-00.
    L2,
}

impl From<Transport> for TransportKind {
    fn from(t: Transport) -> Self {
        match t {
            Transport::Udpv4 => Self::Udpv4,
            Transport::L2 => Self::L2,
        }
    }
}

/// PTP delay mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Delay {
    /// End to end: Delay_Req to the master, Delay_Resp back.
    E2e,
    /// Peer to peer: Pdelay_Req to the link neighbour, Pdelay_Resp and Follow_Up back.
    P2p,
}

/// Which timestamps PTP uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Stamping {
    /// The NIC's hardware timestamps when it has them (and they arrive), else software.
    Auto,
    /// The kernel's software timestamps on the system clock.
    Software,
    /// The NIC's hardware timestamps on its PHC, or fail.
    Hardware,
}

impl From<Stamping> for TimestampMode {
    fn from(s: Stamping) -> Self {
        match s {
            Stamping::Auto => Self::Auto,
            Stamping::Software => Self::Software,
            Stamping::Hardware => Self::Hardware,
        }
    }
}

/// PTP settings shared by the slave (`run --source ptp:IFACE`) and the master (`serve`).
#[derive(Debug, Args)]
struct PtpArgs {
    /// PTP domain number.
    #[arg(long, default_value_t = 0)]
    ptp_domain: u8,

    /// PTP transport.
    #[arg(long, value_enum, default_value = "udpv4")]
    ptp_transport: Transport,

    /// How the path delay is measured.
    #[arg(long, value_enum, default_value = "e2e")]
    ptp_delay_mechanism: Delay,

    /// Timestamps: hardware ones are taken by the NIC on its PTP hardware clock, which
    /// then becomes the local clock the node disciplines (or serves).
    #[arg(long, value_enum, default_value = "auto")]
    ptp_timestamping: Stamping,

    /// log2 of the Announce interval in seconds (-3 = 8 per second).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    ptp_announce_log2: i8,

    /// log2 of the Sync interval in seconds.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    ptp_sync_log2: i8,

    /// log2 of the Delay_Req (or Pdelay_Req) interval in seconds.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    ptp_delay_log2: i8,

    /// Announce intervals without an Announce before the master is given up.
    #[arg(long, default_value_t = 3)]
    ptp_announce_timeout: u8,

    /// TAI - UTC in seconds, to put the system clock on PTP's timescale. Default: the
    /// kernel's TAI offset, or 37 when the kernel was never told.
    #[arg(long)]
    utc_offset: Option<i16>,
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
        format!("{:.9}s", d.as_secs_f64())
    }
}

fn status_line(source: &Source, reading: &ClockReading<Utc>, ts: Timestamp<Utc>) -> String {
    let i = reading.interval();
    format!(
        "{}  source={} status={} bound={} earliest={} latest={} hlc={}",
        reading.time,
        source,
        reading.status,
        format_bound(reading.bound),
        i.earliest,
        i.latest,
        ts
    )
}

fn now(args: &ClockArgs) -> ExitCode {
    if let Source::Ptp(_) = args.source {
        eprintln!("tempora: `now` reads the system clock; run a PTP slave with `tempora run --source ptp:IFACE`");
        return ExitCode::from(2);
    }
    let hlc = build_hlc(args);
    let reading = hlc.clock().read();
    let ts = hlc.now();
    println!("{}", status_line(&args.source, &reading, ts));
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

fn stop_flag() -> Option<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    match ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)) {
        Ok(()) => Some(stop),
        Err(e) => {
            eprintln!("tempora: cannot install the Ctrl-C handler: {e}");
            None
        }
    }
}

fn run(args: &RunArgs) -> ExitCode {
    let Some(stop) = stop_flag() else {
        return ExitCode::FAILURE;
    };
    if let Source::Ptp(iface) = &args.clock.source {
        return ptp::run_slave(iface, args, &stop);
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
            status_line(&args.clock.source, &reading, ts)
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

mod ptp {
    //! The PTP side of the daemon: a slave printing its estimate, or a master.

    use super::*;
    use tempora_core::ptp::port::{DelayMechanism, PortConfig, PortState};
    use tempora_core::ptp::wire::ClockIdentity;
    use tempora_std::ptp::NodeEvent;
    use tempora_std::ptp::Timestamps;
    use tempora_std::{PtpNode, VirtualClock};

    fn shift_ns(args: &PtpArgs) -> i128 {
        let kernel = KernelEstimate::read().map(|k| k.tai_offset.0).unwrap_or(0);
        let offset =
            args.utc_offset
                .map(i32::from)
                .unwrap_or(if kernel != 0 { kernel } else { 37 });
        i128::from(offset) * 1_000_000_000
    }

    fn identity(node: u32) -> ClockIdentity {
        let b = node.to_be_bytes();
        ClockIdentity([0x02, 0x7e, b[0], 0xff, 0xfe, b[1], b[2], b[3]])
    }

    fn config(
        args: &PtpArgs,
        node: u32,
        priority1: u8,
        slave_only: bool,
        utc_offset: i16,
    ) -> PortConfig {
        let mut c = PortConfig::ordinary(identity(node), priority1, slave_only).with_intervals(
            args.ptp_announce_log2,
            args.ptp_sync_log2,
            args.ptp_delay_log2,
            args.ptp_announce_timeout,
        );
        c.domain = args.ptp_domain;
        c.delay_mechanism = match args.ptp_delay_mechanism {
            Delay::E2e => DelayMechanism::E2E,
            Delay::P2p => DelayMechanism::P2P,
        };
        c.utc_offset = utc_offset;
        c
    }

    fn state_name(s: PortState) -> &'static str {
        match s {
            PortState::Listening => "listening",
            PortState::Master => "master",
            PortState::Slave(_) => "slave",
            PortState::Passive => "passive",
        }
    }

    struct Shared {
        state: Option<PortState>,
        measurements: u64,
        timestamps: Timestamps,
    }

    fn report_timestamps(iface: &str, ts: Timestamps, fell_back: bool) {
        if fell_back {
            tracing::warn!(
                iface,
                timestamps = %ts,
                "the NIC offered hardware timestamps but stamped no received event message; using software timestamps"
            );
        } else {
            tracing::info!(iface, timestamps = %ts, "PTP timestamps");
        }
    }

    pub(super) fn run_slave(iface: &str, args: &RunArgs, stop: &Arc<AtomicBool>) -> ExitCode {
        let node_id = args.clock.node.unwrap_or_else(|| default_node().0);
        let shift = shift_ns(&args.ptp);
        let cfg = config(
            &args.ptp,
            node_id,
            255,
            true,
            (shift / 1_000_000_000) as i16,
        );
        let mut node = match PtpNode::open(
            args.ptp.ptp_transport.into(),
            iface,
            cfg,
            shift,
            args.ptp.ptp_timestamping.into(),
        ) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("tempora: cannot open PTP on {iface}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let clock: Arc<VirtualClock> = node.clock();
        let shared = Arc::new(Mutex::new(Shared {
            state: None,
            measurements: 0,
            timestamps: node.timestamps(),
        }));
        let started = std::time::Instant::now();
        let run_for = args.duration;
        let worker = {
            let (stop, shared) = (Arc::clone(stop), Arc::clone(&shared));
            let iface_name = iface.to_string();
            std::thread::spawn(move || {
                let r = node.run(&stop, run_for, |e, _| {
                    let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                    match e {
                        NodeEvent::State(st) => {
                            s.state = Some(*st);
                            tracing::info!(state = state_name(*st), "PTP port state");
                        }
                        NodeEvent::Measured(m) => {
                            s.measurements += 1;
                            tracing::debug!(
                                at = %m.at,
                                forward = m.forward,
                                reverse = m.reverse,
                                raw_offset = %m.raw_offset,
                                offset = m.offset,
                                accepted = m.accepted,
                                "PTP exchange"
                            );
                        }
                        NodeEvent::Timestamps {
                            timestamps,
                            fell_back,
                        } => {
                            s.timestamps = *timestamps;
                            report_timestamps(&iface_name, *timestamps, *fell_back);
                        }
                    }
                });
                r
            })
        };
        let stdout = std::io::stdout();
        let mut lines = 0u32;
        while !worker.is_finished() {
            let reading = clock.read();
            let s = shared.lock().unwrap_or_else(|p| p.into_inner());
            let (frequency, sigma, noise, delay) = clock
                .estimate()
                .map_or((f64::NAN, f64::NAN, f64::NAN, f64::NAN), |d| {
                    (d.frequency, d.sigma, d.noise, d.delay)
                });
            // The local clock (system clock or PHC) minus the master, on one timescale.
            let offset = clock.system_offset().unwrap_or(f64::NAN);
            let line = format!(
                "{}  source=ptp:{iface} timestamps={} state={} status={} offset={:.0}ns freq={:.1}ppb delay={:.0}ns sigma={:.0}ns noise={:.0}ns bound={} measurements={}",
                reading.time,
                s.timestamps,
                s.state.map_or("initializing", state_name),
                reading.status,
                offset,
                frequency,
                delay,
                sigma,
                noise,
                format_bound(reading.bound),
                s.measurements
            );
            drop(s);
            if writeln!(stdout.lock(), "{line}").is_err() {
                stop.store(true, Ordering::SeqCst);
            }
            lines += 1;
            let next = started + args.interval.saturating_mul(lines);
            while !worker.is_finished() && std::time::Instant::now() < next {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        match worker.join() {
            Ok(Ok(())) => {
                eprintln!(
                    "tempora: stopped after {:.1}s",
                    started.elapsed().as_secs_f64()
                );
                ExitCode::SUCCESS
            }
            Ok(Err(e)) => {
                eprintln!("tempora: PTP on {iface} failed: {e}");
                ExitCode::FAILURE
            }
            Err(_) => ExitCode::FAILURE,
        }
    }

    pub(super) fn serve(args: &ServeArgs) -> ExitCode {
        let Some(stop) = stop_flag() else {
            return ExitCode::FAILURE;
        };
        let base = shift_ns(&args.ptp);
        let injected = args.offset.map_or(0, |d| d.as_nanos() as i128);
        let shift = base
            + if args.offset_negative {
                -injected
            } else {
                injected
            };
        let cfg = config(
            &args.ptp,
            default_node().0 ^ 0x5a5a,
            args.priority1,
            false,
            (base / 1_000_000_000) as i16,
        );
        let mut node = match PtpNode::open(
            args.ptp.ptp_transport.into(),
            &args.iface,
            cfg,
            shift,
            args.ptp.ptp_timestamping.into(),
        ) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("tempora: cannot open PTP on {}: {e}", args.iface);
                return ExitCode::FAILURE;
            }
        };
        let iface = args.iface.clone();
        let r = node.run(&stop, args.duration, |e, _| match e {
            NodeEvent::State(s) => println!("state={}", state_name(*s)),
            NodeEvent::Timestamps {
                timestamps,
                fell_back,
            } => report_timestamps(&iface, *timestamps, *fell_back),
            NodeEvent::Measured(_) => {}
        });
        match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tempora: PTP on {} failed: {e}", args.iface);
                ExitCode::FAILURE
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Colours only on a terminal: a log piped to a file or a collector stays plain text.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_max_level(cli.log_level)
        .init();
    match &cli.command {
        Command::Now(args) => now(args),
        Command::Run(args) => run(args),
        Command::Serve(args) => ptp::serve(args),
    }
}
