//! `tempora`: bounded time and hybrid logical clock timestamps from the command line.
//!
//! Argument parsing only: the work is [`tempora_std::daemon`]'s.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use tempora_core::hlc::HlcConfig;
use tempora_core::ptp::port::DelayMechanism;
use tempora_core::ptp::wire::ClockIdentity;
use tempora_core::select::SelectorConfig;
use tempora_core::time::{Offset, TaiOffset};
use tempora_std::clock::phc::steer::{Steered, SyncOptions};
use tempora_std::clock::phc::{PhcSelector, PhcSourceConfig};
use tempora_std::daemon::phc::PhcOptions;
use tempora_std::daemon::{
    self, ClockOptions, DaemonMetrics, MetricsEndpoint, PtpOptions, ReadyPolicy, Schedule,
    ServeOptions, Source, SourceChoice, TimeServiceOptions, WarningJournal,
};
use tempora_std::ptp::{TimestampMode, TransportKind};
use tempora_std::stop::StopSignal;
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
    /// Configuration files (TOML).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// PTP hardware clocks: list them, or steer a clock to one.
    #[command(subcommand)]
    Phc(PhcCommand),
    /// The daemon behind the time service, for an operator: alive or not, its source,
    /// bounded time now, its recent status lines (with a chart of the bound and the
    /// offset) and its warnings. Works after it stopped too.
    Status(StatusArgs),
    /// `tempora status`, redrawn every --interval until Ctrl-C (or --duration).
    Top(TopArgs),
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// The daemon's time service segment.
    #[arg(long, value_name = "PATH", default_value = tempora_std::timeservice::DEFAULT_PATH)]
    time_service: PathBuf,

    /// How many of the journal's recent status lines to show (it keeps 48).
    #[arg(long, default_value_t = 12)]
    lines: usize,
}

#[derive(Debug, Args)]
struct TopArgs {
    #[command(flatten)]
    status: StatusArgs,

    /// Time between redraws.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    interval: Duration,

    /// Stop after this long; until Ctrl-C when absent.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check a configuration file: print what it sets, or each error with its line and
    /// column (exit code 2).
    Check {
        /// The file, e.g. /etc/tempora/tempora.toml.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PhcCommand {
    /// List the PTP hardware clocks: device, driver name, interfaces, the best
    /// cross-timestamp method and the ones refused, and the capabilities.
    List,
    /// Steer the system clock to a PHC (or, with --steer phc, a PHC to the system
    /// clock), like linuxptp's phc2sys. This CHANGES A CLOCK: it needs CAP_SYS_TIME and
    /// is never done unless asked for.
    Sync(SyncArgs),
}

/// Which timescale a PHC keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PhcScale {
    /// PTP's timescale (what ptp4l keeps a PHC on).
    Tai,
    /// UTC, like the system clock (what a NIC driver sets its PHC to at start).
    Utc,
}

/// Settings of a PHC source (`--source phc:...`).
#[derive(Debug, Args)]
#[command(next_help_heading = "PHC options (--source phc:INDEX|PATH|IFACE)")]
struct PhcArgs {
    /// The timescale the PHC keeps.
    #[arg(long, value_enum, default_value = "tai")]
    phc_timescale: PhcScale,

    /// Time between cross-timestamps (and fault checks).
    #[arg(long, default_value = "250ms", value_parser = parse_positive_duration)]
    phc_interval: Duration,

    /// Samples per cross-timestamp (1..=25); the narrowest is kept.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u8).range(1..=25))]
    phc_samples: u8,

    /// How fast the bound grows between cross-timestamps, in ppb.
    #[arg(long, default_value_t = 10_000)]
    phc_drift_ppb: u32,

    /// The device's own error, added to every cross-timestamp's bound (e.g. 50ns).
    #[arg(long, default_value = "0ns", value_parser = parse_duration)]
    phc_device_error: Duration,
}

impl PhcArgs {
    fn options(&self, selector: &PhcSelector, utc_offset: Option<i16>) -> PhcOptions {
        let tai_minus_utc = daemon::tai_minus_utc(utc_offset.map(|o| TaiOffset(i32::from(o))));
        PhcOptions {
            selector: selector.clone(),
            config: PhcSourceConfig {
                interval: self.phc_interval,
                samples: usize::from(self.phc_samples),
                drift_ppb: self.phc_drift_ppb,
                device_error: self.phc_device_error,
                tai_minus_phc: match self.phc_timescale {
                    PhcScale::Tai => Offset::ZERO,
                    PhcScale::Utc => Offset::from(tai_minus_utc),
                },
                ..PhcSourceConfig::DEFAULT
            },
            tai_minus_utc,
            warmup: (self.phc_interval * 8).max(Duration::from_secs(2)),
        }
    }
}

/// Which clock `phc sync` steers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SteerWhich {
    /// The system clock follows the PHC.
    System,
    /// The PHC follows the system clock.
    Phc,
}

#[derive(Debug, Args)]
struct SyncArgs {
    /// The PHC: phc:INDEX, phc:PATH or phc:IFACE.
    #[arg(long, value_parser = parse_phc_source)]
    source: PhcSelector,

    /// Which clock is steered.
    #[arg(long, value_enum, default_value = "system")]
    steer: SteerWhich,

    /// The timescale the PHC keeps (TAI: it runs TAI - UTC ahead of the system clock).
    #[arg(long, value_enum, default_value = "tai")]
    phc_timescale: PhcScale,

    /// TAI - UTC in seconds. Default: the kernel's TAI offset, or 37.
    #[arg(long, allow_negative_numbers = true)]
    utc_offset: Option<i16>,

    /// Time between updates.
    #[arg(long, default_value = "1s", value_parser = parse_positive_duration)]
    interval: Duration,

    /// The first offset beyond this is stepped; later ones are slewed.
    #[arg(long, default_value = "20us", value_parser = parse_duration)]
    step_threshold: Duration,

    /// Stop after this long; steer until Ctrl-C or SIGTERM when absent.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
}

/// The HLC's settings.
#[derive(Debug, Args)]
struct HlcArgs {
    /// This node's id in HLC timestamps (0..=4294967295). Default: derived from
    /// /etc/machine-id, so it is stable across restarts of one machine.
    #[arg(long)]
    node: Option<u32>,

    /// Refuse remote timestamps further than this ahead of local time (e.g. 500ms): in
    /// the daemon's HLC, and, published in the time service, in every process's
    /// host-wide HLC (`Reader::hlc`).
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
    /// Where time comes from: `system`, or a PTP hardware clock `phc:INDEX`,
    /// `phc:/dev/ptpN` or `phc:IFACE` (a bounded source disciplined by
    /// cross-timestamps; `tempora phc list` shows them).
    #[arg(long, default_value = "system")]
    source: Source,

    /// TAI - UTC in seconds, for a PHC source. Default: the kernel's, or 37.
    #[arg(long, allow_negative_numbers = true)]
    utc_offset: Option<i16>,

    /// This node's id in the HLC timestamp (default: from /etc/machine-id). `now` takes
    /// no --max-offset: it receives no remote timestamps for one to refuse; set it on
    /// `tempora run`, which publishes it to every process's host-wide HLC.
    #[arg(long)]
    node: Option<u32>,

    #[command(flatten)]
    phc: PhcArgs,

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
    /// Repeat it for a chain in order of preference (up to 4), read as one with failover
    /// and failback: `--source ptp:eth0 --source system`.
    /// `phc:INDEX`, `phc:/dev/ptpN` or `phc:IFACE`: a PTP hardware clock, read fast
    /// through the system clock disciplined by cross-timestamps. `auto`: the PHCs a PTP
    /// slave keeps on time (on TAI, within 1 ms of the system clock), then the system
    /// clock; on a machine without them, the system clock.
    #[arg(long, default_value = "system")]
    source: Vec<SourceChoice>,

    /// Read everything from this TOML file instead (see `tempora config check`); the
    /// flags above and below are then ignored, but for --log-level.
    #[arg(long)]
    config: Option<std::path::PathBuf>,

    #[command(flatten)]
    hlc: HlcArgs,

    /// Stop after this long (e.g. 10s, 1m); run until Ctrl-C or SIGTERM when absent.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,

    /// Time between status lines (and time service publications).
    #[arg(long, default_value = "1s", value_parser = parse_positive_duration)]
    interval: Duration,

    /// With several sources: one whose bound exceeds this is not healthy, and the chain
    /// fails over from it.
    #[arg(long, default_value = "1ms", value_parser = parse_positive_duration)]
    max_bound: Duration,

    /// With several sources: how long a preferred source must have been healthy before
    /// the chain fails back to it.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    failback_after: Duration,

    /// Serve metrics (/metrics, OpenMetrics or Prometheus text), /healthz and /readyz
    /// over HTTP on this address, e.g. 127.0.0.1:9898; port 0 takes a free port (the
    /// address is printed on stderr). Keep it on loopback unless the network is trusted.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,

    /// /readyz answers 200 while the source is synchronized or in holdover with its
    /// bound within this.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    ready_max_bound: Duration,

    #[command(flatten)]
    service: ServiceArgs,

    /// A group (name or id) whose members may take host-wide HLC timestamps: PATH.hlc
    /// becomes group-writable (0664). Without it only this user may (0644). Bounded
    /// time (PATH) is 0644 either way: readable by all, written by the daemon only.
    #[arg(long, value_name = "GROUP", value_parser = parse_group)]
    time_service_group: Option<u32>,

    #[command(flatten)]
    ptp: PtpArgs,

    #[command(flatten)]
    phc: PhcArgs,
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

    /// Follow only this grandmaster clock (e.g. 001122.fffe.334455); repeat for up to 4.
    /// Without it any master may win the BMCA, a rogue announcing priority1 0 included.
    #[arg(long = "ptp-acceptable-master")]
    acceptable_masters: Vec<ClockIdentity>,
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
            acceptable_masters: self.acceptable_masters.clone(),
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
        _ => Err("serve needs a PTP port: ptp:IFACE".into()),
    }
}

/// `phc:INDEX|PATH|IFACE`, the PHC `phc sync` steers to or from.
fn parse_phc_source(s: &str) -> Result<PhcSelector, String> {
    match s.parse::<Source>()? {
        Source::Phc(selector) => Ok(selector),
        _ => Err("phc sync needs a PHC: phc:INDEX, phc:/dev/ptpN or phc:IFACE".into()),
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

/// Raised on Ctrl-C and SIGTERM.
fn stop_flag() -> Option<Arc<StopSignal>> {
    let stop = Arc::new(StopSignal::new());
    let signal = Arc::clone(&stop);
    // ctrlc runs this on a thread of its own, not in the signal handler: it may lock.
    match ctrlc::set_handler(move || signal.raise()) {
        Ok(()) => Some(stop),
        Err(e) => {
            eprintln!("tempora: cannot install the Ctrl-C handler: {e}");
            None
        }
    }
}

fn now(args: &NowArgs) -> ExitCode {
    let clock = ClockOptions::new(args.node, HlcConfig::DEFAULT.max_offset);
    let note = match &args.source {
        Source::System => {
            let service = args
                .service
                .path()
                .map(|p| (p, daemon::now_from_service(p)));
            match service {
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
                    println!("{}", daemon::now(&clock));
                    match other {
                        Some((path, Err(why))) => format!(
                            "time-service: none at {} ({why}); read the system clock",
                            path.display()
                        ),
                        _ => "time-service: off; read the system clock".to_string(),
                    }
                }
            }
        }
        Source::Phc(selector) => {
            let options = args.phc.options(selector, args.utc_offset);
            match daemon::phc::now(&clock, &options) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    eprintln!("tempora: {e}");
                    return ExitCode::FAILURE;
                }
            }
            "time-service: not used; read the PHC".to_string()
        }
        Source::Ptp(_) => {
            let mut cli = Cli::command();
            cli.build();
            let mut cmd = cli.find_subcommand_mut("now").cloned().unwrap_or(cli);
            cmd.error(
                ErrorKind::ValueValidation,
                "now reads a clock once; a PTP slave needs `tempora run --source ptp:IFACE`",
            )
            .exit();
        }
    };
    if let Ok(k) = KernelEstimate::read() {
        println!("kernel: {k}");
    }
    println!("{note}");
    ExitCode::SUCCESS
}

fn phc(command: &PhcCommand) -> ExitCode {
    match command {
        PhcCommand::List => match daemon::phc::list(&mut std::io::stdout().lock()) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tempora: listing PTP hardware clocks: {e}");
                ExitCode::FAILURE
            }
        },
        PhcCommand::Sync(args) => {
            let Some(stop) = stop_flag() else {
                return ExitCode::FAILURE;
            };
            let tai_minus_utc =
                daemon::tai_minus_utc(args.utc_offset.map(|o| TaiOffset(i32::from(o))));
            let options = SyncOptions {
                steered: match args.steer {
                    SteerWhich::System => Steered::System,
                    SteerWhich::Phc => Steered::Phc,
                },
                interval: args.interval,
                step_threshold: args.step_threshold,
                phc_minus_system: match args.phc_timescale {
                    PhcScale::Tai => Offset::from(tai_minus_utc),
                    PhcScale::Utc => Offset::ZERO,
                },
                duration: args.duration,
                ..SyncOptions::DEFAULT
            };
            let mut out = std::io::stdout().lock();
            match daemon::phc::sync(&args.source, &options, &stop, &mut out) {
                Ok(n) => {
                    eprintln!("tempora: phc sync stopped after {n} updates");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("tempora: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn finish(result: Result<daemon::RunSummary, daemon::Error>) -> ExitCode {
    daemon::notify::stopping();
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

fn status(args: &StatusArgs) -> ExitCode {
    match daemon::status_report(&args.time_service, args.lines) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "tempora: no time service at {}: {e} (is `tempora run` publishing there?)",
                args.time_service.display()
            );
            ExitCode::FAILURE
        }
    }
}

fn top(args: &TopArgs) -> ExitCode {
    let Some(stop) = stop_flag() else {
        return ExitCode::FAILURE;
    };
    let started = std::time::Instant::now();
    let clear = std::io::IsTerminal::is_terminal(&std::io::stdout());
    for frame in 1u32.. {
        match daemon::status_report(&args.status.time_service, args.status.lines) {
            // Home and clear on a terminal; a separator line when piped.
            Ok(report) if clear => print!("\x1b[H\x1b[2J{report}"),
            Ok(report) => print!("--- {frame}\n{report}"),
            Err(e) => {
                eprintln!("tempora: {}: {e}", args.status.time_service.display());
                return ExitCode::FAILURE;
            }
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let next = args
            .interval
            .checked_mul(frame)
            .and_then(|d| started.checked_add(d));
        let end = args.duration.and_then(|d| started.checked_add(d));
        let wake = match (next, end) {
            (Some(n), Some(e)) => n.min(e),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => break,
        };
        if stop.wait_until(wake) || end.is_some_and(|e| std::time::Instant::now() >= e) {
            break;
        }
    }
    ExitCode::SUCCESS
}

fn run(args: &RunArgs, journal: &WarningJournal) -> ExitCode {
    let ptp = args.ptp.options("run");
    let Some(stop) = stop_flag() else {
        return ExitCode::FAILURE;
    };
    let clock = args.hlc.options();
    let schedule = Schedule {
        duration: args.duration,
        interval: args.interval,
    };
    let (sources, clock, ptp, schedule, metrics_addr, service_path) = match &args.config {
        None => (
            args.source.clone(),
            clock,
            ptp,
            schedule,
            args.metrics,
            args.service.path().cloned(),
        ),
        Some(file) => match daemon::config::DaemonConfig::load(file) {
            Ok(c) => {
                let path = match (&c.time_service, args.service.path()) {
                    (Some(p), _) => Some(p.clone()),
                    (None, p) => p.cloned(),
                };
                (c.sources, c.clock, c.ptp, c.schedule, c.metrics, path)
            }
            Err(e) => {
                eprintln!("tempora: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let selector = SelectorConfig {
        max_bound: args.max_bound,
        failback_after: args.failback_after,
        ..SelectorConfig::DEFAULT
    };
    let asked_auto = sources.contains(&SourceChoice::Auto);
    let (sources, notes) = daemon::auto::resolve(&sources, ptp.tai_minus_utc());
    for note in &notes {
        tracing::info!("source auto: {note}");
    }
    if asked_auto {
        let names: Vec<String> = sources.iter().map(ToString::to_string).collect();
        tracing::info!(sources = %names.join(","), "reading");
    }
    let names: Vec<String> = sources.iter().map(ToString::to_string).collect();
    let (metrics, _endpoint) = match start_metrics(args, metrics_addr, &names.join(",")) {
        Ok(m) => m.unzip(),
        Err(e) => {
            eprintln!("tempora: {e}");
            return ExitCode::FAILURE;
        }
    };
    let metrics = metrics.as_ref();
    let mut publisher = match service_path {
        None => None,
        Some(path) => {
            let service = TimeServiceOptions {
                path,
                hlc_group: args.time_service_group,
            };
            let tai = ptp.tai_minus_utc();
            match daemon::open_publisher(&service, &clock, &schedule, &sources[0], tai) {
                Ok(mut p) => {
                    p.journal_events_from(journal.queue());
                    Some(p)
                }
                Err(e) => {
                    eprintln!("tempora: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let publisher = publisher.as_mut();
    let mut out = std::io::stdout().lock();
    finish(match sources.as_slice() {
        [Source::System] => Ok(daemon::run_system(
            &clock, &schedule, publisher, &stop, &mut out, metrics,
        )),
        [Source::Ptp(iface)] => daemon::run_ptp(
            iface, &clock, &ptp, &schedule, publisher, &stop, &mut out, metrics,
        ),
        [Source::Phc(phc)] => {
            let options = args.phc.options(phc, args.ptp.utc_offset);
            daemon::phc::run(
                &clock, &options, &schedule, publisher, &stop, &mut out, metrics,
            )
        }
        chain => {
            let phc = |which: &PhcSelector| args.phc.options(which, args.ptp.utc_offset);
            daemon::chain::run_chain(
                chain, &clock, &ptp, &phc, selector, &schedule, publisher, &stop, &mut out, metrics,
            )
        }
    })
}

/// The metrics and their endpoint, when `--metrics` asks for them; the endpoint serves
/// until dropped.
fn start_metrics(
    args: &RunArgs,
    addr: Option<SocketAddr>,
    sources: &str,
) -> Result<Option<(DaemonMetrics, MetricsEndpoint)>, daemon::EndpointError> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let policy = ReadyPolicy {
        max_bound: args.ready_max_bound,
        // Three status lines missed, and at least 3 s: the loop is stuck.
        stale_after: args.interval.saturating_mul(3).max(Duration::from_secs(3)),
    };
    let metrics = DaemonMetrics::new(sources, policy);
    let endpoint = MetricsEndpoint::start(addr, metrics.clone())?;
    eprintln!("tempora: metrics on http://{}/metrics", endpoint.addr());
    Ok(Some((metrics, endpoint)))
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
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let cli = Cli::parse();
    // Colours only on a terminal: a log piped to a file or a collector stays plain text.
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(LevelFilter::from_level(cli.log_level));
    // Warnings also go to the time service's journal, whatever --log-level says.
    let journal = WarningJournal::new();
    tracing_subscriber::registry()
        .with(log)
        .with(journal.clone().with_filter(LevelFilter::WARN))
        .init();
    match &cli.command {
        Command::Now(args) => now(args),
        Command::Run(args) => run(args, &journal),
        Command::Status(args) => status(args),
        Command::Top(args) => top(args),
        Command::Serve(args) => serve(args),
        Command::Config(ConfigCommand::Check { file }) => config_check(file),
        Command::Phc(command) => phc(command),
    }
}

fn config_check(file: &std::path::Path) -> ExitCode {
    match daemon::config::DaemonConfig::load(file) {
        Ok(c) => {
            let sources: Vec<String> = c.sources.iter().map(ToString::to_string).collect();
            println!(
                "{}: ok: sources {}, interval {:?}, PTP domain {} ({} acceptable masters)",
                file.display(),
                sources.join(", "),
                c.schedule.interval,
                c.ptp.domain,
                c.acceptable_masters.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tempora: {e}");
            ExitCode::from(2)
        }
    }
}
