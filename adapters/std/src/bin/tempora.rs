//! `tempora`: bounded time and hybrid logical clock timestamps from the command line.
//!
//! Argument parsing only: the work is [`tempora_std::daemon`]'s.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use tempora_core::hlc::HlcConfig;
use tempora_core::ptp::port::DelayMechanism;
use tempora_core::time::Offset;
use tempora_std::daemon::{
    self, ClockOptions, PtpOptions, Schedule, ServeOptions, Source, TimeServiceOptions,
};
use tempora_std::ptp::{TimestampMode, TransportKind};
use tempora_std::KernelEstimate;

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
    /// Print the system clock's status line (with one HLC timestamp) and the kernel's
    /// own estimate.
    Now(NowArgs),
    /// Print a status line every --interval until Ctrl-C (or --duration), from the
    /// system clock or a PTP slave.
    Run(RunArgs),
    /// Serve the system clock as a PTP master on an interface (optionally shifted by a
    /// known offset, for tests), until Ctrl-C or --duration.
    Serve(ServeArgs),
}

/// The HLC's settings.
#[derive(Debug, Args)]
struct HlcArgs {
    /// This node's id in HLC timestamps (0..=4294967295). Default: derived from
    /// /etc/machine-id, so it is stable across restarts of one machine.
    #[arg(long)]
    node: Option<u32>,

    /// Refuse remote timestamps further than this ahead of local time (e.g. 500ms).
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    max_offset: Duration,
}

impl HlcArgs {
    fn options(&self) -> ClockOptions {
        ClockOptions::new(self.node, self.max_offset)
    }
}

#[derive(Debug, Args)]
struct NowArgs {
    #[command(flatten)]
    hlc: HlcArgs,

    #[command(flatten)]
    service: ServiceArgs,
}

/// The host-wide time service (shared memory).
#[derive(Debug, Args)]
struct ServiceArgs {
    /// The time service's shared memory segment (and PATH.hlc beside it): `run`
    /// publishes bounded time and the host-wide HLC there; `now` reads them when a
    /// daemon runs, else the system clock itself.
    #[arg(long, value_name = "PATH", default_value = tempora_std::timeservice::DEFAULT_PATH)]
    time_service: PathBuf,

    /// No time service: `run` publishes nothing, `now` reads the system clock itself.
    #[arg(long, conflicts_with = "time_service")]
    no_time_service: bool,
}

impl ServiceArgs {
    fn path(&self) -> Option<&PathBuf> {
        (!self.no_time_service).then_some(&self.time_service)
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Where time comes from. `system`: the Linux system clock, bounded by the kernel's
    /// own error estimate (adjtimex); needs no PTP hardware or network. `ptp:IFACE`: a
    /// PTP slave on that interface, disciplining a virtual clock (never the host clock).
    #[arg(long, default_value = "system")]
    source: Source,

    #[command(flatten)]
    hlc: HlcArgs,

    /// Stop after this long (e.g. 10s, 1m); run until Ctrl-C or SIGTERM when absent.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,

    /// Time between status lines (and time service publications).
    #[arg(long, default_value = "1s", value_parser = parse_positive_duration)]
    interval: Duration,

    #[command(flatten)]
    service: ServiceArgs,

    /// A group (name or id) whose members may take host-wide HLC timestamps: PATH.hlc
    /// becomes group-writable (0664). Without it only this user may (0644). Bounded
    /// time (PATH) is 0644 either way: readable by all, written by the daemon only.
    #[arg(long, value_name = "GROUP", value_parser = parse_group)]
    time_service_group: Option<u32>,

    #[command(flatten)]
    ptp: PtpArgs,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Where to serve: `ptp:IFACE`, a PTP master port on that interface (spelled as for
    /// `run --source`).
    #[arg(long, value_parser = parse_ptp_source)]
    source: String,

    /// Serve the system clock shifted by this much (e.g. 250us or -250us), so a
    /// slave's estimate can be checked against a known offset.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_offset)]
    offset: Option<Offset>,

    /// priority1 in Announces (lower wins the BMCA).
    #[arg(long, default_value_t = 128)]
    priority1: u8,

    /// Stop after this long; serve until Ctrl-C or SIGTERM when absent.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,

    #[command(flatten)]
    ptp: PtpArgs,
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
#[command(next_help_heading = "PTP options (run --source ptp:IFACE, serve)")]
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

    /// log2 of the Announce interval in seconds (-3 = 8 per second; -3..=4).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    ptp_announce_log2: i8,

    /// log2 of the Sync interval in seconds (-7..=4).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    ptp_sync_log2: i8,

    /// log2 of the Delay_Req (or Pdelay_Req) interval in seconds (-7..=6).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    ptp_delay_log2: i8,

    /// Announce intervals without an Announce before the master is given up (2 or more).
    #[arg(long, default_value_t = 3)]
    ptp_announce_timeout: u8,

    /// TAI - UTC in seconds, to put the system clock on PTP's timescale. Default: the
    /// kernel's TAI offset, or 37 when the kernel was never told.
    #[arg(long, allow_negative_numbers = true)]
    utc_offset: Option<i16>,
}

impl PtpArgs {
    /// The settings, checked as a port would check them: refused with exit code 2.
    fn options(&self, command: &str) -> PtpOptions {
        let options = PtpOptions {
            transport: self.ptp_transport.into(),
            delay_mechanism: match self.ptp_delay_mechanism {
                Delay::E2e => DelayMechanism::E2E,
                Delay::P2p => DelayMechanism::P2P,
            },
            timestamping: self.ptp_timestamping.into(),
            domain: self.ptp_domain,
            announce_log2: self.ptp_announce_log2,
            sync_log2: self.ptp_sync_log2,
            delay_log2: self.ptp_delay_log2,
            announce_timeout: self.ptp_announce_timeout,
            utc_offset: self
                .utc_offset
                .map(|o| tempora_core::time::TaiOffset(i32::from(o))),
        };
        if let Err(e) = options.validate() {
            // Built, so the subcommand's usage reads `tempora run ...`.
            let mut cli = Cli::command();
            cli.build();
            let mut cmd = cli.find_subcommand_mut(command).cloned().unwrap_or(cli);
            cmd.error(ErrorKind::ValueValidation, e).exit();
        }
        options
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

/// A duration with a sign: `250us`, `+250us`, `-250us`.
fn parse_offset(s: &str) -> Result<Offset, String> {
    let (negative, magnitude) = match s.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let d = parse_duration(magnitude)?;
    let n = i64::try_from(d.as_nanos())
        .map_err(|_| format!("'{s}' is too large: an offset is at most 292 years"))?;
    Ok(Offset::from_nanos(if negative { -n } else { n }))
}

/// `ptp:IFACE`, the one source a master serves on.
fn parse_ptp_source(s: &str) -> Result<String, String> {
    match s.parse::<Source>()? {
        Source::Ptp(iface) => Ok(iface),
        Source::System => Err("serve needs a PTP port: ptp:IFACE".into()),
    }
}

/// A group name, or a numeric id.
fn parse_group(s: &str) -> Result<u32, String> {
    if let Ok(gid) = s.parse::<u32>() {
        return Ok(gid);
    }
    match nix::unistd::Group::from_name(s) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(format!("no group '{s}'")),
        Err(e) => Err(format!("cannot look up group '{s}': {e}")),
    }
}

fn parse_level(s: &str) -> Result<tracing::Level, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not one of error, warn, info, debug, trace"))
}

/// Set on Ctrl-C and SIGTERM.
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

fn now(args: &NowArgs) -> ExitCode {
    let service = args
        .service
        .path()
        .map(|p| (p, daemon::now_from_service(p)));
    let note = match service {
        Some((path, Ok((line, health)))) => {
            println!("{line}");
            let age = health.heartbeat_age.unwrap_or_default().as_secs_f64();
            format!(
                "time-service: {} pid={} generation={} publications={} heartbeat-age={age:.3}s",
                path.display(),
                health.header.pid,
                health.header.generation,
                health.publications
            )
        }
        other => {
            println!("{}", daemon::now(&args.hlc.options()));
            match other {
                Some((path, Err(why))) => format!(
                    "time-service: none at {} ({why}); read the system clock",
                    path.display()
                ),
                _ => "time-service: off; read the system clock".to_string(),
            }
        }
    };
    if let Ok(k) = KernelEstimate::read() {
        println!("kernel: {k}");
    }
    println!("{note}");
    ExitCode::SUCCESS
}

fn finish(result: Result<daemon::RunSummary, daemon::Error>) -> ExitCode {
    match result {
        Ok(summary) => {
            eprintln!("tempora: {summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tempora: {e}");
            match e {
                daemon::Error::Config(_) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn run(args: &RunArgs) -> ExitCode {
    let ptp = args.ptp.options("run");
    let Some(stop) = stop_flag() else {
        return ExitCode::FAILURE;
    };
    let clock = args.hlc.options();
    let schedule = Schedule {
        duration: args.duration,
        interval: args.interval,
    };
    let mut publisher = match args.service.path() {
        None => None,
        Some(path) => {
            let service = TimeServiceOptions {
                path: path.clone(),
                hlc_group: args.time_service_group,
            };
            let tai = ptp.tai_minus_utc();
            match daemon::open_publisher(&service, &clock, &schedule, &args.source, tai) {
                Ok(p) => Some(p),
                Err(e) => {
                    eprintln!("tempora: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let mut out = std::io::stdout().lock();
    let publisher = publisher.as_mut();
    finish(match &args.source {
        Source::System => Ok(daemon::run_system(
            &clock, &schedule, publisher, &stop, &mut out,
        )),
        Source::Ptp(iface) => {
            daemon::run_ptp(iface, &clock, &ptp, &schedule, publisher, &stop, &mut out)
        }
    })
}

fn serve(args: &ServeArgs) -> ExitCode {
    let ptp = args.ptp.options("serve");
    let Some(stop) = stop_flag() else {
        return ExitCode::FAILURE;
    };
    let clock = ClockOptions::new(None, HlcConfig::DEFAULT.max_offset);
    let serve = ServeOptions {
        offset: args.offset.unwrap_or(Offset::ZERO),
        priority1: args.priority1,
        duration: args.duration,
    };
    let mut out = std::io::stdout().lock();
    finish(daemon::serve(
        &args.source,
        &clock,
        &ptp,
        &serve,
        &stop,
        &mut out,
    ))
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
        Command::Serve(args) => serve(args),
    }
}
