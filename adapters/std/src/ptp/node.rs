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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tempora_core::clock::ClockSource;
use tempora_core::discipline::DisciplineConfig;
use tempora_core::hooks::{MetricsHook, NoHooks};
use tempora_core::ptp::filter::FLOOR_WINDOW;
use tempora_core::ptp::port::{Action, Measurement, Port, PortConfig, PortState, Timer};
use tempora_core::time::{Instant, Offset, Tai};

use crate::clock::phc::PhcClock;
use crate::ptp::l2::L2Transport;
use crate::ptp::timestamping::{self, TimestampMode, Timestamps};
use crate::ptp::transport::{PtpTransport, TransportKind};
use crate::ptp::udp::UdpTransport;
use crate::ptp::virtual_clock::VirtualClock;

/// Opens the `kind` carrier on `iface` with the given timestamps (needs `CAP_NET_RAW`/root;
/// for hardware ones, the NIC must have been switched on:
/// [`timestamping::choose`]).
pub fn open_transport(
    kind: TransportKind,
    iface: &str,
    ts: Timestamps,
) -> io::Result<Box<dyn PtpTransport>> {
    Ok(match kind {
        TransportKind::Udpv4 => Box::new(UdpTransport::open(iface, ts)?),
        TransportKind::L2 => Box::new(L2Transport::open(iface, ts)?),
    })
}

/// One line of what happened, for the daemon and the tests.
#[derive(Clone, Copy, Debug)]
pub enum NodeEvent {
    /// The port changed state.
    State(PortState),
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
        })
    }

    /// Which timestamps the node uses now.
    pub fn timestamps(&self) -> Timestamps {
        self.transport.timestamps()
    }

    /// Notes a received event message with or without its timestamp. Returns whether
    /// the node has just fallen back to software timestamps; an error if hardware ones
    /// were demanded and the NIC does not deliver them.
    fn check_timestamp(&mut self, stamped: bool, events: &mut Vec<NodeEvent>) -> io::Result<bool> {
        if stamped || self.timestamps() == Timestamps::Software {
            self.missing = 0;
            return Ok(false);
        }
        self.missing = self.missing.saturating_add(1);
        if self.missing < MISSING_TIMESTAMPS_LIMIT {
            return Ok(false);
        }
        if self.mode != TimestampMode::Auto {
            return Err(io::Error::other(format!(
                "{}: {} event messages in a row came without a hardware receive timestamp; \
                 the NIC does not stamp them (try --ptp-timestamping software)",
                self.iface, self.missing
            )));
        }
        // Open the software transport before dropping the hardware one, so a failure
        // leaves the node as it was.
        self.transport = open_transport(self.kind, &self.iface, Timestamps::Software)?;
        self.clock.set_base(None).map_err(io::Error::other)?;
        self.port = Port::with_hooks(*self.port.config(), self.hooks.clone());
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
    ) -> io::Result<()> {
        let mut work: Vec<Action> = actions.into_iter().collect();
        while !work.is_empty() {
            let action = work.remove(0);
            match action {
                Action::Send { packet, context } => {
                    self.transport.send(packet.message_type, &packet.bytes)?;
                    if let Some(context) = context {
                        let sent = self
                            .transport
                            .send_timestamp(&packet.bytes, Duration::from_millis(20))?
                            .and_then(|ts| self.clock.local().stamp(ts));
                        if let Some(sent) = sent {
                            work.extend(self.port.on_sent(context, sent));
                        }
                    }
                }
                Action::SetTimer { timer, at } => self.timers[timer_index(timer)] = Some(at),
                Action::CancelTimer(timer) => self.timers[timer_index(timer)] = None,
                Action::State(s) => events.push(NodeEvent::State(s)),
                // Parent changes and interval mismatches: the daemon's to log (#14).
                Action::Event(_) => {}
                Action::Measure(m) => {
                    // The one place the slave's estimate reaches its clock.
                    self.clock
                        .update(&m, self.master_to_tai())
                        .map_err(io::Error::other)?;
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
    /// deadline is none), calling
    /// `on_event` for the timestamps in use (first), state changes and measurements.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
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
        let start = self.port.start(self.clock.local().time());
        self.apply(start, &mut events)?;
        loop {
            let now = self.clock.local().time();
            let late = deadline.is_some_and(|d| std::time::Instant::now() >= d);
            if stop.load(Ordering::SeqCst) || late {
                return Ok(());
            }
            for t in TIMERS {
                if self.timers[timer_index(t)].is_some_and(|at| at <= now) {
                    self.timers[timer_index(t)] = None;
                    let a = self.port.on_timer(t, now);
                    self.apply(a, &mut events)?;
                }
            }
            let longest = Duration::from_millis(50);
            let wait = self.timers.iter().flatten().min().map_or(longest, |next| {
                next.checked_duration_since(now)
                    .unwrap_or(Duration::ZERO)
                    .min(longest)
            });
            if let Some(d) = self.transport.recv(wait)? {
                if d.event && self.check_timestamp(d.timestamp.is_some(), &mut events)? {
                    let start = self.port.start(self.clock.local().time());
                    self.apply(start, &mut events)?;
                    continue;
                }
                let now = self.clock.local().time();
                let rx = d.timestamp.and_then(|t| self.clock.local().stamp(t));
                if let Ok(a) = self
                    .port
                    .on_receive(&d.bytes, if d.event { rx } else { None }, now)
                {
                    self.apply(a, &mut events)?;
                }
            }
            for e in events.drain(..) {
                on_event(&e, &self.clock);
            }
        }
    }
}
