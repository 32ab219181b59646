//! A PTP node on Linux: the sans-IO port driven over UDP or Ethernet, disciplining a
//! virtual clock.
//!
//! The node never steps or slews the host clock. As a slave it maintains a
//! [`VirtualClock`]: its local clock plus the estimated offset and frequency, a
//! [`ClockSource`](tempora_core::clock::ClockSource) on the TAI scale with a bound and
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

use tempora_core::clock::ClockStatus;
use tempora_core::ptp::port::{Action, Measurement, Port, PortConfig, PortState, Timer};

use crate::clock::phc::PhcClock;
use crate::ptp::l2::L2Transport;
use crate::ptp::timestamping::{self, TimestampMode, Timestamps};
use crate::ptp::transport::{PtpTransport, TransportKind};
use crate::ptp::udp::UdpTransport;
use crate::ptp::virtual_clock::{Discipline, VirtualClock};

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
                "measured at={}ns offset={:+.1}ns raw_offset={}ns forward={} reverse={} accepted={}",
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

/// The port, its sockets and its virtual clock.
pub struct PtpNode {
    port: Port<4>,
    transport: Box<dyn PtpTransport>,
    kind: TransportKind,
    iface: String,
    mode: TimestampMode,
    /// Event messages received in a row without a timestamp.
    missing: u32,
    timers: [Option<i128>; 4],
    clock: Arc<VirtualClock>,
    last_measure: Option<i128>,
    was_locked: bool,
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
    /// `InvalidInput` error). Local time is `CLOCK_REALTIME + shift_ns` with software
    /// timestamps, the NIC's PHC + `shift_ns` with hardware ones.
    pub fn open(
        kind: TransportKind,
        iface: &str,
        config: PortConfig,
        shift_ns: i128,
        mode: TimestampMode,
    ) -> io::Result<Self> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let clock = Arc::new(VirtualClock::new(
            shift_ns,
            i128::from(config.utc_offset) * 1_000_000_000,
        ));
        let mut ts = timestamping::choose(iface, mode, kind == TransportKind::L2)?;
        if let Timestamps::Hardware { phc } = ts {
            match PhcClock::open(phc) {
                Ok(c) => clock.set_base(Some(Arc::new(c))),
                Err(_) if mode == TimestampMode::Auto => ts = Timestamps::Software,
                Err(e) => return Err(e),
            }
        }
        Ok(Self {
            port: Port::new(config),
            transport: open_transport(kind, iface, ts)?,
            kind,
            iface: iface.to_string(),
            mode,
            missing: 0,
            timers: [None; 4],
            clock,
            last_measure: None,
            was_locked: false,
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
        self.clock.set_base(None);
        self.port = Port::new(*self.port.config());
        self.timers = [None; 4];
        self.missing = 0;
        self.last_measure = None;
        self.was_locked = false;
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
                Action::Send(p) => {
                    self.transport.send(p.message_type, &p.bytes)?;
                    if p.message_type.is_event() {
                        if let Some(ts) = self
                            .transport
                            .send_timestamp(&p.bytes, Duration::from_millis(20))?
                        {
                            let sent = ts + self.clock.shift;
                            work.extend(self.port.on_sent(p.message_type, p.sequence_id, sent));
                        }
                    }
                }
                Action::SetTimer { timer, at } => self.timers[timer_index(timer)] = Some(at),
                Action::CancelTimer(timer) => self.timers[timer_index(timer)] = None,
                Action::State(s) => events.push(NodeEvent::State(s)),
                Action::Measure(m) => {
                    self.last_measure = Some(m.at);
                    events.push(NodeEvent::Measured(m));
                }
            }
        }
        Ok(())
    }

    fn refresh_clock(&mut self, now: i128) {
        if self.port.master_ptp_timescale() == Some(false) {
            let utc = i64::from(self.port.config().utc_offset) * 1_000_000_000;
            self.clock.to_tai.store(utc, Ordering::Relaxed);
        } else if self.port.master_ptp_timescale() == Some(true) {
            self.clock.to_tai.store(0, Ordering::Relaxed);
        }
        let Some((offset, sigma)) = self.port.predict(now) else {
            return;
        };
        let locked = self.port.locked();
        self.was_locked |= locked;
        // No exchange for 4 s: whatever the port thinks, the estimate is coasting.
        let fresh = self.last_measure.is_some_and(|m| now - m < 4_000_000_000);
        let status = if locked && fresh {
            ClockStatus::Synchronized
        } else if self.was_locked {
            ClockStatus::Holdover
        } else {
            ClockStatus::FreeRunning
        };
        let (frequency, noise, delay) = self
            .port
            .estimate()
            .map_or((0.0, 0.0, 0.0), |e| (e.frequency, e.noise_sigma, e.delay));
        self.clock.set(Discipline {
            at: now,
            offset,
            frequency,
            sigma,
            noise,
            delay,
            status,
        });
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
        let start = self.port.start(self.clock.local_ns());
        self.apply(start, &mut events)?;
        loop {
            let now = self.clock.local_ns();
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
            let next = self
                .timers
                .iter()
                .flatten()
                .min()
                .copied()
                .unwrap_or(now + 50_000_000);
            let wait = (next - now).clamp(0, 50_000_000) as u64;
            if let Some(d) = self.transport.recv(Duration::from_nanos(wait))? {
                if d.event && self.check_timestamp(d.timestamp.is_some(), &mut events)? {
                    let start = self.port.start(self.clock.local_ns());
                    self.apply(start, &mut events)?;
                    continue;
                }
                let now = self.clock.local_ns();
                let rx = d.timestamp.map(|t| t + self.clock.shift);
                if let Ok(a) = self
                    .port
                    .on_receive(&d.bytes, if d.event { rx } else { None }, now)
                {
                    self.apply(a, &mut events)?;
                }
            }
            self.refresh_clock(self.clock.local_ns());
            for e in events.drain(..) {
                on_event(&e, &self.clock);
            }
        }
    }
}
