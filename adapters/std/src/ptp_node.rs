//! A PTP node on Linux: the sans-IO port driven over UDP or Ethernet, disciplining a
//! virtual clock.
//!
//! The node never steps or slews the host clock. As a slave it maintains a
//! [`VirtualClock`]: its local clock plus the estimated offset and frequency, a
//! [`ClockSource`] on the TAI scale with a bound and a status. As a master it serves its
//! local clock, optionally shifted by an injected offset (for tests).
//!
//! The local clock is the clock the timestamps are taken on: the system clock with
//! software timestamps, the NIC's PHC with hardware ones. In [`TimestampMode::Auto`] a
//! NIC that offers hardware timestamps but then delivers none on received event
//! messages (seen with QEMU's emulated 82576 under Linux's igb driver) is dropped for
//! software timestamps, and the port starts afresh on the system clock.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
use tempora_core::ptp::port::{Action, Measurement, Port, PortConfig, PortState, Timer};
use tempora_core::time::{Instant, Offset, Tai};

use crate::phc::PhcClock;
use crate::ptp_transport::{PtpTransport, TransportKind};
use crate::system_clock::SystemClock;
use crate::timestamping::{self, TimestampMode, Timestamps};

/// The slave's estimate as the virtual clock holds it: what the bound is made of.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Discipline {
    /// Local time (ns) of the prediction.
    pub at: i128,
    /// Local minus master (ns) at `at`.
    pub offset: f64,
    /// Local minus master frequency (ppb).
    pub frequency: f64,
    /// Standard deviation of `offset` (ns).
    pub sigma: f64,
    /// The path noise of one exchange (ns).
    pub noise: f64,
    /// Mean path delay (ns).
    pub delay: f64,
    /// The status readings carry.
    pub status: ClockStatus,
}

/// The system clock corrected by a PTP slave's estimate: `master = local - offset`.
///
/// Readings are TAI. The bound is three standard deviations of the offset estimate plus
/// the mean path delay: a path's asymmetry is invisible to PTP and can be anywhere up to
/// the delay itself (the filter takes each direction at its floor, so the residual
/// asymmetry is that of the floors, which lie below the mean delay). It grows while no
/// exchange completes (holdover).
#[derive(Debug)]
pub struct VirtualClock {
    /// Local time = the base clock + `shift` (TAI - UTC, plus any injected offset).
    shift: i128,
    /// The base clock: a PHC, or `CLOCK_REALTIME` when `None`.
    phc: RwLock<Option<Arc<PhcClock>>>,
    /// PHC minus `CLOCK_REALTIME` at the last good PHC reading (ns): should the PHC stop
    /// reading (a NIC unplugged), local time carries on from the system clock without
    /// a jump, and the holdover bound grows from there.
    phc_minus_realtime: std::sync::atomic::AtomicI64,
    /// Added to readings to put the master's time on TAI: 0 for a master on the PTP
    /// timescale; TAI - UTC for an ARB master, which in practice (linuxptp on
    /// `CLOCK_REALTIME`) sends UTC.
    to_tai: std::sync::atomic::AtomicI64,
    /// TAI - UTC (ns).
    utc: i128,
    state: Mutex<Option<Discipline>>,
}

impl VirtualClock {
    /// A clock whose local time is `CLOCK_REALTIME + shift_ns`, not yet disciplined;
    /// `utc_offset_ns` is TAI - UTC.
    pub fn new(shift_ns: i128, utc_offset_ns: i128) -> Self {
        Self {
            shift: shift_ns,
            phc: RwLock::new(None),
            phc_minus_realtime: std::sync::atomic::AtomicI64::new(0),
            to_tai: std::sync::atomic::AtomicI64::new(0),
            utc: utc_offset_ns,
            state: Mutex::new(None),
        }
    }

    /// Takes `phc` as the base clock (`None`: the system clock). The estimate is
    /// dropped: it described the other clock.
    pub fn set_base(&self, phc: Option<Arc<PhcClock>>) {
        *self.phc.write().unwrap_or_else(|p| p.into_inner()) = phc;
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// How far the base clock is ahead of the master (ns), on one timescale: the
    /// number a user means by "offset" (for a PHC, the UTC-TAI convention of the system
    /// clock is assumed for it too). `None` until disciplined.
    pub fn system_offset(&self) -> Option<f64> {
        // local = system + shift; the master's TAI = its raw time + to_tai; the system
        // clock is UTC = TAI - (TAI - UTC).
        let offset = self.estimate()?.offset;
        let to_tai = self.to_tai.load(Ordering::Relaxed) as f64;
        Some(offset - self.shift as f64 - to_tai + self.utc as f64)
    }

    /// Local time now (ns), before correction.
    pub fn local_ns(&self) -> i128 {
        let realtime = i128::from(SystemClock::realtime_nanos());
        let phc = self.phc.read().unwrap_or_else(|p| p.into_inner());
        let base = match phc.as_ref().map(|c| c.now_ns()) {
            None => realtime,
            Some(Ok(t)) => {
                let diff = i64::try_from(t - realtime).unwrap_or(0);
                self.phc_minus_realtime.store(diff, Ordering::Relaxed);
                t
            }
            Some(Err(_)) => realtime + i128::from(self.phc_minus_realtime.load(Ordering::Relaxed)),
        };
        base + self.shift
    }

    /// The current estimate, if disciplined.
    pub fn estimate(&self) -> Option<Discipline> {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, d: Discipline) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
    }
}

impl ClockSource for VirtualClock {
    type Scale = Tai;

    fn read(&self) -> ClockReading<Tai> {
        let local = self.local_ns();
        let d = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        let clamp = |ns: i128| Instant::<Tai>::from_nanos(ns.clamp(0, i128::from(u64::MAX)) as u64);
        match d {
            None => ClockReading {
                time: clamp(local),
                bound: Duration::MAX,
                status: ClockStatus::Unknown,
            },
            Some(d) => {
                let dt = (local - d.at) as f64 / 1e9;
                let offset = d.offset + d.frequency * dt;
                let bound = 3.0 * d.sigma + d.delay.abs();
                let to_tai = i128::from(self.to_tai.load(Ordering::Relaxed));
                ClockReading {
                    time: clamp(local - offset as i128 + to_tai),
                    bound: Duration::from_nanos(bound.max(0.0) as u64),
                    status: d.status,
                }
            }
        }
    }
}

/// Which role the node may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Follow a master; never serve.
    SlaveOnly,
    /// Take part in the BMCA (a master when it wins).
    Auto,
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

/// Local time (ns) as the port takes it; a reading before 1970 or past 2554 saturates.
fn tai(ns: i128) -> Instant<Tai> {
    Instant::from_nanos(u64::try_from(ns.max(0)).unwrap_or(u64::MAX))
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
    /// prepares the port. Local time is `CLOCK_REALTIME + shift_ns` with software
    /// timestamps, the NIC's PHC + `shift_ns` with hardware ones.
    pub fn open(
        kind: TransportKind,
        iface: &str,
        config: PortConfig,
        shift_ns: i128,
        mode: TimestampMode,
    ) -> io::Result<Self> {
        let clock = Arc::new(VirtualClock::new(
            shift_ns,
            i128::from(Offset::from(config.utc_offset).as_nanos()),
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
            transport: kind.open(iface, ts)?,
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
        self.transport = self.kind.open(&self.iface, Timestamps::Software)?;
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
                Action::Send { packet: p, context } => {
                    self.transport.send(p.message_type, &p.bytes)?;
                    if let Some(context) = context {
                        if let Some(ts) = self
                            .transport
                            .send_timestamp(&p.bytes, Duration::from_millis(20))?
                        {
                            let sent = tai(ts + self.clock.shift);
                            work.extend(self.port.on_sent(context, sent));
                        }
                    }
                }
                Action::SetTimer { timer, at } => {
                    self.timers[timer_index(timer)] = Some(i128::from(at.as_nanos()));
                }
                Action::CancelTimer(timer) => self.timers[timer_index(timer)] = None,
                Action::State(s) => events.push(NodeEvent::State(s)),
                Action::Measure(m) => {
                    self.last_measure = Some(i128::from(m.at.as_nanos()));
                    events.push(NodeEvent::Measured(m));
                }
            }
        }
        Ok(())
    }

    fn refresh_clock(&mut self, now: i128) {
        if self.port.master_ptp_timescale() == Some(false) {
            let utc = Offset::from(self.port.config().utc_offset).as_nanos();
            self.clock.to_tai.store(utc, Ordering::Relaxed);
        } else if self.port.master_ptp_timescale() == Some(true) {
            self.clock.to_tai.store(0, Ordering::Relaxed);
        }
        let Some(prediction) = self.port.predict(tai(now)) else {
            return;
        };
        let (offset, sigma) = (prediction.offset_ns, prediction.sigma_ns);
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
        let (frequency, noise, delay) = self.port.estimate().map_or((0.0, 0.0, 0.0), |e| {
            (e.frequency_ppb, e.noise_sigma_ns, e.delay_ns)
        });
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

    /// Runs until `stop` is set or `run_for` has passed, calling
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
        let deadline = run_for.map(|d| std::time::Instant::now() + d);
        let start = self.port.start(tai(self.clock.local_ns()));
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
                    let a = self.port.on_timer(t, tai(now));
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
                    let start = self.port.start(tai(self.clock.local_ns()));
                    self.apply(start, &mut events)?;
                    continue;
                }
                let now = self.clock.local_ns();
                let rx = d.timestamp.map(|t| tai(t + self.clock.shift));
                if let Ok(a) =
                    self.port
                        .on_receive(&d.bytes, if d.event { rx } else { None }, tai(now))
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
