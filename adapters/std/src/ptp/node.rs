//! A PTP node on Linux: the sans-IO port driven over UDP or Ethernet, disciplining a
//! virtual clock.
//!
//! The node never steps or slews the host clock. As a slave it maintains a
//! [`VirtualClock`]: its local clock plus the estimated offset and frequency, a
//! [`ClockSource`] on the TAI scale with a bound and
//! a status. As a master it serves its local clock, optionally shifted by an injected
//! offset (for tests).
//!
//! The local clock is the clock the timestamps are taken on: the system clock with
//! software timestamps, the NIC's PHC with hardware ones. In [`TimestampMode::Auto`] a
//! NIC that offers hardware timestamps but then delivers none on received event
//! messages (seen with QEMU's emulated 82576 under Linux's igb driver) is dropped for
//! software timestamps, and the port starts afresh on the system clock.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tempora_core::backoff::Backoff;
use tempora_core::clock::ClockSource;
use tempora_core::discipline::DisciplineConfig;
use tempora_core::hooks::{MetricsHook, NoHooks};
use tempora_core::ptp::filter::FLOOR_WINDOW;
use tempora_core::ptp::port::{Action, Measurement, Port, PortConfig, PortEvent, PortState, Timer};
use tempora_core::ptp::wire::ClockIdentity;
use tempora_core::time::{Instant, Offset, Tai};

use crate::clock::phc::PhcClock;
use crate::clock::system::SystemClock;
use crate::ptp::l2::L2Transport;
use crate::ptp::timestamping::{self, TimestampMode, Timestamps};
use crate::ptp::transport::{PtpTransport, TransportKind};
use crate::ptp::udp::UdpTransport;
use crate::ptp::virtual_clock::VirtualClock;
use crate::stop::StopSignal;

/// Opens the `kind` carrier on `iface` with the given timestamps (needs `CAP_NET_RAW`/root;
/// for hardware ones, the NIC must have been switched on:
/// [`timestamping::choose`]).
pub fn open_transport(
    kind: TransportKind,
    iface: &str,
    ts: Timestamps,
) -> io::Result<Box<dyn PtpTransport>> {
    let opened: io::Result<Box<dyn PtpTransport>> = match kind {
        TransportKind::Udpv4 => UdpTransport::open(iface, ts).map(|t| Box::new(t) as _),
        TransportKind::L2 => L2Transport::open(iface, ts).map(|t| Box::new(t) as _),
    };
    opened.map_err(|e| name_the_capability(kind, ts, e))
}

/// A bare "Permission denied" says nothing of what to grant: name the capability.
fn name_the_capability(kind: TransportKind, ts: Timestamps, e: io::Error) -> io::Error {
    if e.kind() != io::ErrorKind::PermissionDenied {
        return e;
    }
    let mut needs = match kind {
        TransportKind::Udpv4 => vec!["CAP_NET_BIND_SERVICE (UDP ports 319 and 320)"],
        TransportKind::L2 => vec!["CAP_NET_RAW (an AF_PACKET socket)"],
    };
    if matches!(ts, Timestamps::Hardware { .. }) {
        needs.push("CAP_NET_ADMIN (SIOCSHWTSTAMP)");
    }
    io::Error::new(
        e.kind(),
        format!(
            "{e}: PTP over {kind} needs {}; run as root, or grant them (systemd \
             AmbientCapabilities=, or setcap on the binary); see docs/deployment.md",
            needs.join(" and ")
        ),
    )
}

/// One line of what happened, for the daemon and the tests.
#[derive(Clone, Copy, Debug)]
pub enum NodeEvent {
    /// The port changed state.
    State(PortState),
    /// The port noticed something: a new parent master (with the old one), a master
    /// announcing other intervals than ours.
    Port(PortEvent),
    /// The transport failed (the interface went down, a socket error): the port keeps
    /// its state and estimate, and the transport is reopened after `retry_in`.
    TransportLost {
        /// What the kernel said.
        kind: io::ErrorKind,
        /// The errno, if there was one.
        os_error: Option<i32>,
        /// When the next attempt to reopen it is made.
        retry_in: Duration,
    },
    /// The transport is open again after `attempts` attempts.
    TransportRestored {
        /// Attempts it took.
        attempts: u32,
    },
    /// An exchange completed.
    Measured(Measurement),
    /// The node's timestamps: at the start, and again when it falls back from
    /// hardware to software timestamps (`fell_back`).
    Timestamps {
        /// What the transport now delivers.
        timestamps: Timestamps,
        /// Whether hardware timestamps were dropped because none arrived.
        fell_back: bool,
    },
}

/// One line for a log: `state=slave`, `measured offset=... accepted=true`, or
/// `timestamps=software fell_back=true`.
impl std::fmt::Display for NodeEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::State(s) => f.write_str(match s {
                PortState::Listening => "state=listening",
                PortState::Master => "state=master",
                PortState::Slave(_) => "state=slave",
                PortState::Passive => "state=passive",
            }),
            Self::Measured(m) => write!(
                f,
                "measured at={} offset={} raw_offset={} forward={} reverse={} accepted={}",
                m.at, m.offset, m.raw_offset, m.forward, m.reverse, m.accepted
            ),
            Self::Timestamps {
                timestamps,
                fell_back,
            } => write!(f, "timestamps={timestamps} fell_back={fell_back}"),
            Self::Port(PortEvent::ParentChanged { old, new }) => {
                let id = |p: &Option<tempora_core::ptp::wire::PortIdentity>| {
                    p.map_or_else(|| "-".to_string(), |p| p.to_string())
                };
                write!(f, "parent old={} new={}", id(old), id(new))
            }
            Self::Port(PortEvent::IntervalMismatch {
                master,
                kind,
                ours,
                theirs,
            }) => write!(
                f,
                "interval_mismatch master={master} {}: ours={ours} theirs={theirs}",
                kind.name()
            ),
            Self::Port(other) => write!(f, "port_event={other:?}"),
            Self::TransportLost {
                kind,
                os_error,
                retry_in,
            } => write!(
                f,
                "transport_lost error={kind} errno={} retry_in={retry_in:?}",
                os_error.map_or_else(|| "-".to_string(), |e| e.to_string())
            ),
            Self::TransportRestored { attempts } => {
                write!(f, "transport_restored attempts={attempts}")
            }
        }
    }
}

/// Received event messages in a row without a hardware timestamp after which the NIC
/// is taken not to stamp them.
pub const MISSING_TIMESTAMPS_LIMIT: u32 = 8;

/// The port, its sockets and its virtual clock; `H` counts what the port does (the
/// default [`NoHooks`] costs nothing).
pub struct PtpNode<H = NoHooks> {
    port: Port<4, FLOOR_WINDOW, 4, H>,
    hooks: H,
    transport: Box<dyn PtpTransport>,
    kind: TransportKind,
    iface: String,
    mode: TimestampMode,
    /// Event messages received in a row without a timestamp.
    missing: u32,
    timers: [Option<Instant<Tai>>; 4],
    clock: Arc<VirtualClock>,
    /// When the transport last delivered a message (or was opened).
    last_rx: std::time::Instant,
    /// Silence after which the transport is taken to be dead (an interface that went
    /// away and came back under a new index leaves a socket that never hears again).
    silence_limit: Duration,
    /// The masters the port may follow (kept to give a fresh port the same list).
    acceptable: Vec<ClockIdentity>,
}

/// How long a node that expects traffic may hear nothing before it reopens its transport:
/// three announce receipt timeouts, at least 3 s.
pub fn silence_limit(config: &PortConfig) -> Duration {
    let log2 = config.log_announce_interval;
    let announce = if log2 >= 0 {
        Duration::from_secs(1u64 << log2.min(30))
    } else {
        Duration::from_nanos(1_000_000_000u64 >> (-log2).min(30))
    };
    (announce * u32::from(config.announce_receipt_timeout) * 3).max(Duration::from_secs(3))
}

/// How much faster or slower than estimated the local oscillator may run while the
/// slave coasts without measurements (1 ppm): the rate at which the bound grows in
/// holdover. Generous for a crystal over seconds to minutes; a PHC on a disciplined
/// oscillator would allow less.
pub const HOLDOVER_DRIFT_PPB: u32 = 1_000;

/// Measurement intervals after which an estimate no longer counts as fresh.
pub const FRESH_INTERVALS: u32 = 8;

/// The discipline a node gives its virtual clock: fresh for [`FRESH_INTERVALS`] of the
/// slower of the Sync and delay-request intervals (an exchange needs both), at least a
/// second; [`HOLDOVER_DRIFT_PPB`] of drift.
pub fn discipline_config(config: &PortConfig) -> DisciplineConfig {
    let log2 = config
        .log_sync_interval
        .max(config.log_min_delay_req_interval);
    let interval = if log2 >= 0 {
        Duration::from_secs(1u64 << log2.min(30))
    } else {
        Duration::from_nanos(1_000_000_000u64 >> (-log2).min(30))
    };
    DisciplineConfig {
        fresh_for: (interval * FRESH_INTERVALS).max(Duration::from_secs(1)),
        drift_ppb: HOLDOVER_DRIFT_PPB,
        // The system clock's or a PHC's rate against the master's before the port locks:
        // the kernel's slew limit, which also bounds a NIC's adjustable clock.
        tolerance_ppb: DisciplineConfig::DEFAULT.tolerance_ppb,
    }
}

fn timer_index(t: Timer) -> usize {
    match t {
        Timer::Announce => 0,
        Timer::Sync => 1,
        Timer::DelayReq => 2,
        Timer::AnnounceReceipt => 3,
    }
}

/// The longest a node sleeps on its sockets when no timer, deadline or message comes
/// sooner. A stop request wakes it at once (its [`fd`](StopSignal::fd) is polled with
/// the sockets), so this only bounds a sleep that nothing else would end; a port in any
/// state has timers far shorter.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

const TIMERS: [Timer; 4] = [
    Timer::Announce,
    Timer::Sync,
    Timer::DelayReq,
    Timer::AnnounceReceipt,
];

impl PtpNode {
    /// Opens `iface` over the `kind` transport, with timestamps chosen by `mode`, and
    /// prepares the port (a configuration [`PortConfig::validate`] refuses is an
    /// `InvalidInput` error). Local time is `CLOCK_REALTIME + shift` with software
    /// timestamps, the NIC's PHC + `shift` with hardware ones.
    pub fn open(
        kind: TransportKind,
        iface: &str,
        config: PortConfig,
        shift: Offset,
        mode: TimestampMode,
    ) -> io::Result<Self> {
        Self::open_with_hooks(kind, iface, config, shift, mode, NoHooks)
    }
}

impl<H: MetricsHook + Clone> PtpNode<H> {
    /// [`PtpNode::open`], with a port whose messages, rejections, states and
    /// measurements go to `hooks` (a clone of them, after a fall back to software
    /// timestamps restarts the port).
    pub fn open_with_hooks(
        kind: TransportKind,
        iface: &str,
        config: PortConfig,
        shift: Offset,
        mode: TimestampMode,
        hooks: H,
    ) -> io::Result<Self> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let clock = Arc::new(VirtualClock::new(
            shift,
            config.utc_offset,
            discipline_config(&config),
        ));
        let mut ts = timestamping::choose(iface, mode, kind == TransportKind::L2)?;
        if let Timestamps::Hardware { phc } = ts {
            match PhcClock::open(phc) {
                Ok(c) => clock
                    .set_base(Some(Arc::new(c)))
                    .map_err(io::Error::other)?,
                Err(_) if mode == TimestampMode::Auto => ts = Timestamps::Software,
                Err(e) => return Err(e),
            }
        }
        Ok(Self {
            port: Port::with_hooks(config, hooks.clone()),
            hooks,
            transport: open_transport(kind, iface, ts)?,
            kind,
            iface: iface.to_string(),
            mode,
            missing: 0,
            timers: [None; 4],
            clock,
            last_rx: std::time::Instant::now(),
            silence_limit: silence_limit(&config),
            acceptable: Vec::new(),
        })
    }

    /// Follows only these masters (clock identities, at most 4); empty: any. See
    /// `Port::accept_only`.
    pub fn accept_only(&mut self, masters: &[ClockIdentity]) -> io::Result<()> {
        self.port.accept_only(masters).map_err(|full| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "at most 4 acceptable masters; {} did not fit",
                    full.into_inner()
                ),
            )
        })?;
        self.acceptable = masters.to_vec();
        Ok(())
    }

    /// Which timestamps the node uses now.
    pub fn timestamps(&self) -> Timestamps {
        self.transport.timestamps()
    }

    /// Notes a received event message with or without its timestamp. Returns whether
    /// the node has just fallen back to software timestamps; an error if hardware ones
    /// were demanded and the NIC does not deliver them.
    fn check_timestamp(
        &mut self,
        stamped: bool,
        events: &mut Vec<NodeEvent>,
    ) -> Result<bool, Stop> {
        if stamped || self.timestamps() == Timestamps::Software {
            self.missing = 0;
            return Ok(false);
        }
        self.missing = self.missing.saturating_add(1);
        if self.missing < MISSING_TIMESTAMPS_LIMIT {
            return Ok(false);
        }
        if self.mode != TimestampMode::Auto {
            return Err(Stop::Fatal(io::Error::other(format!(
                "{}: {} event messages in a row came without a hardware receive timestamp; \
                 the NIC does not stamp them (try --ptp-timestamping software)",
                self.iface, self.missing
            ))));
        }
        // Open the software transport before dropping the hardware one, so a failure
        // leaves the node as it was.
        self.transport = open_transport(self.kind, &self.iface, Timestamps::Software)
            .map_err(Stop::Transport)?;
        self.clock
            .set_base(None)
            .map_err(|e| Stop::Fatal(io::Error::other(e)))?;
        self.port = Port::with_hooks(*self.port.config(), self.hooks.clone());
        let masters = std::mem::take(&mut self.acceptable);
        self.accept_only(&masters).map_err(Stop::Fatal)?;
        self.timers = [None; 4];
        self.missing = 0;
        events.push(NodeEvent::Timestamps {
            timestamps: Timestamps::Software,
            fell_back: true,
        });
        Ok(true)
    }

    /// The virtual clock this node disciplines (shareable with readers).
    pub fn clock(&self) -> Arc<VirtualClock> {
        Arc::clone(&self.clock)
    }

    /// The port's state.
    pub fn state(&self) -> PortState {
        self.port.state()
    }

    /// Whether the slave's estimate has settled.
    pub fn locked(&self) -> bool {
        self.port.locked()
    }

    fn apply(
        &mut self,
        actions: impl IntoIterator<Item = Action>,
        events: &mut Vec<NodeEvent>,
    ) -> Result<(), Stop> {
        let mut work: Vec<Action> = actions.into_iter().collect();
        while !work.is_empty() {
            let action = work.remove(0);
            match action {
                Action::Send { packet, context } => {
                    self.transport
                        .send(packet.message_type, &packet.bytes)
                        .map_err(Stop::Transport)?;
                    if let Some(context) = context {
                        let sent = self
                            .transport
                            .send_timestamp(&packet.bytes, Duration::from_millis(20))
                            .map_err(Stop::Transport)?
                            .and_then(|ts| self.clock.local().stamp(ts));
                        if let Some(sent) = sent {
                            work.extend(self.port.on_sent(context, sent));
                        }
                    }
                }
                Action::SetTimer { timer, at } => self.timers[timer_index(timer)] = Some(at),
                Action::CancelTimer(timer) => self.timers[timer_index(timer)] = None,
                Action::State(s) => events.push(NodeEvent::State(s)),
                Action::Event(e) => events.push(NodeEvent::Port(e)),
                Action::Measure(m) => {
                    // The one place the slave's estimate reaches its clock.
                    self.clock
                        .update(&m, self.master_to_tai())
                        .map_err(|e| Stop::Fatal(io::Error::other(e)))?;
                    events.push(NodeEvent::Measured(m));
                }
            }
        }
        Ok(())
    }

    /// What puts the master's time on TAI: TAI - UTC for a master that announces an
    /// arbitrary timescale (linuxptp serving `CLOCK_REALTIME` sends UTC), else 0.
    fn master_to_tai(&self) -> Offset {
        match self.port.master_ptp_timescale() {
            Some(false) => Offset::from(self.port.config().utc_offset),
            _ => Offset::ZERO,
        }
    }

    /// Runs until `stop` is set or `run_for` has passed (a `run_for` too long to be a
    /// deadline is none), calling `on_event` for the timestamps in use (first), state
    /// changes, port events and measurements.
    ///
    /// A transport that fails (the interface went down, a socket error) does not end the
    /// node: the port keeps its state and estimate (its clock goes to holdover as
    /// measurements stop), and the transport is reopened after an exponential backoff
    /// (100 ms doubling to 30 s, with jitter), reported as [`NodeEvent::TransportLost`]
    /// and [`NodeEvent::TransportRestored`]. Only what retrying cannot fix ends it with
    /// an error: hardware timestamps demanded from a NIC that does not deliver them.
    pub fn run(
        &mut self,
        stop: &StopSignal,
        run_for: Option<Duration>,
        mut on_event: impl FnMut(&NodeEvent, &VirtualClock),
    ) -> io::Result<()> {
        let mut events = vec![NodeEvent::Timestamps {
            timestamps: self.timestamps(),
            fell_back: false,
        }];
        // On the monotonic clock: local time may change its base (a fall back from the
        // PHC to the system clock).
        // A duration beyond any representable deadline means none, not an overflow.
        let deadline = run_for.and_then(|d| std::time::Instant::now().checked_add(d));
        let over = || stop.is_raised() || deadline.is_some_and(|d| std::time::Instant::now() >= d);
        let seed = u64::from(std::process::id()) ^ SystemClock::realtime_nanos();
        let mut backoff =
            Backoff::new(Duration::from_millis(100), Duration::from_secs(30), seed).with_jitter(20);
        let start = self.port.start(self.clock.local().time());
        let mut result = self.apply(start, &mut events);
        loop {
            for e in events.drain(..) {
                on_event(&e, &self.clock);
            }
            match result {
                Ok(()) => {}
                Err(Stop::Fatal(e)) => return Err(e),
                Err(Stop::Transport(e)) => {
                    if !self.reopen(e, &mut backoff, stop, deadline, &mut on_event) {
                        return Ok(());
                    }
                }
            }
            if over() {
                return Ok(());
            }
            result = self.step(&mut events, &mut backoff, deadline, stop);
        }
    }

    /// One turn of the loop: due timers, then at most one received message, waiting for
    /// it until the next timer, the run's `deadline` or `stop`, whichever comes first:
    /// the node sleeps on its sockets and its stop request's descriptor.
    fn step(
        &mut self,
        events: &mut Vec<NodeEvent>,
        backoff: &mut Backoff,
        deadline: Option<std::time::Instant>,
        stop: &StopSignal,
    ) -> Result<(), Stop> {
        let now = self.clock.local().time();
        for t in TIMERS {
            if self.timers[timer_index(t)].is_some_and(|at| at <= now) {
                self.timers[timer_index(t)] = None;
                let a = self.port.on_timer(t, now);
                self.apply(a, events)?;
            }
        }
        let longest = deadline.map_or(MAX_SLEEP, |d| {
            d.saturating_duration_since(std::time::Instant::now())
                .min(MAX_SLEEP)
        });
        let wait = self.timers.iter().flatten().min().map_or(longest, |next| {
            next.checked_duration_since(now)
                .unwrap_or(Duration::ZERO)
                .min(longest)
        });
        // Without a descriptor to spare (none left in the process), a stop is seen at
        // the next timer.
        let wake = stop.fd().ok();
        let Some(d) = self.transport.recv(wait, wake).map_err(Stop::Transport)? else {
            let silent = self.last_rx.elapsed();
            if silent > self.silence_limit && self.port.state() != PortState::Master {
                return Err(Stop::Transport(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no PTP message for {silent:?}"),
                )));
            }
            return Ok(());
        };
        // Traffic flows: a later failure starts its backoff afresh.
        self.last_rx = std::time::Instant::now();
        backoff.reset();
        if d.event && self.check_timestamp(d.timestamp.is_some(), events)? {
            let start = self.port.start(self.clock.local().time());
            return self.apply(start, events);
        }
        let now = self.clock.local().time();
        let rx = d.timestamp.and_then(|t| self.clock.local().stamp(t));
        if let Ok(a) = self
            .port
            .on_receive(&d.bytes, if d.event { rx } else { None }, now)
        {
            self.apply(a, events)?;
        }
        Ok(())
    }

    /// Reopens the transport after `error`, retrying with `backoff` until it opens
    /// (`true`) or the run is over (`false`).
    fn reopen(
        &mut self,
        mut error: io::Error,
        backoff: &mut Backoff,
        stop: &StopSignal,
        deadline: Option<std::time::Instant>,
        on_event: &mut impl FnMut(&NodeEvent, &VirtualClock),
    ) -> bool {
        let mut attempts = 0u32;
        loop {
            let retry_in = backoff.next_delay();
            let lost = NodeEvent::TransportLost {
                kind: error.kind(),
                os_error: error.raw_os_error(),
                retry_in,
            };
            on_event(&lost, &self.clock);
            let until = std::time::Instant::now() + retry_in;
            let wake = deadline.map_or(until, |d| d.min(until));
            if stop.wait_until(wake) || deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return false;
            }
            attempts = attempts.saturating_add(1);
            match open_transport(self.kind, &self.iface, self.timestamps()) {
                Ok(t) => {
                    self.transport = t;
                    self.last_rx = std::time::Instant::now();
                    on_event(&NodeEvent::TransportRestored { attempts }, &self.clock);
                    return true;
                }
                Err(e) => error = e,
            }
        }
    }
}

/// Why a turn of the node's loop stopped.
enum Stop {
    /// The transport failed: reopen it and carry on.
    Transport(io::Error),
    /// Retrying cannot help.
    Fatal(io::Error),
}
