//! One PTP port as a sans-IO state machine: master and slave, one- and two-step, E2E
//! or P2P delay measurement.
//!
//! The port never reads a clock or touches a socket. The platform feeds it
//! - received packets, with their receive timestamps ([`Port::on_receive`]),
//! - send timestamps of the event messages it sent ([`Port::on_sent`]),
//! - timer expiries ([`Port::on_timer`]),
//!
//! and carries out the [`Action`]s each call returns: send these bytes, arm this timer,
//! use this new offset estimate. All times are nanoseconds of the port's local clock on
//! the PTP timescale (TAI); the platform converts its clock readings. Any bytes are safe
//! to feed in; the platform's own times must stay within ±2^100 ns (beyond that, the
//! timer arithmetic would overflow; `core/tests/ptp_port_props.rs` checks both).

use super::bmca::{decide, Dataset, DefaultDataset, ForeignMasters, Recommendation};
use super::filter::{
    ns_f64, Estimate, Exchange, FilterConfig, OffsetFilter, Verdict, FLOOR_WINDOW,
};
use super::wire::{
    Announce, Body, ClockIdentity, Flags, Header, MessageType, PortIdentity, PtpMessage, WireError,
    WireTimestamp,
};
use crate::time::{Instant, Tai};

/// How well the frequency must be known for the slave to call itself locked (ppb).
const LOCK_FREQUENCY_SIGMA_PPB: f64 = 10_000.0;

/// Largest message the port sends.
pub const MAX_PACKET: usize = 96;

/// How the port measures the path delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DelayMechanism {
    /// End to end: the slave sends Delay_Req to the master, which answers with
    /// Delay_Resp.
    E2E,
    /// Peer to peer: every port measures the link to its neighbour with Pdelay_Req,
    /// Pdelay_Resp and Pdelay_Resp_Follow_Up, and answers its neighbour's requests,
    /// whatever its state. Needs the `p2p` feature (on by default).
    #[cfg(feature = "p2p")]
    P2P,
}

/// A port's configuration (the port dataset and the clock's default dataset).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PortConfig {
    /// This port.
    pub identity: PortIdentity,
    /// `domainNumber`.
    pub domain: u8,
    /// `majorSdoId` (0 for the default profile).
    pub sdo_id: u8,
    /// The clock's default dataset (priorities, quality, slave-only).
    pub clock: DefaultDataset,
    /// log2 of the Announce interval in seconds.
    pub log_announce_interval: i8,
    /// log2 of the Sync interval in seconds.
    pub log_sync_interval: i8,
    /// log2 of the minimum Delay_Req (E2E) or Pdelay_Req (P2P) interval in seconds.
    pub log_min_delay_req_interval: i8,
    /// E2E or P2P.
    pub delay_mechanism: DelayMechanism,
    /// Announce intervals without an Announce from the master before it is given up.
    pub announce_receipt_timeout: u8,
    /// Send Syncs two-step (with a Follow_Up carrying the send timestamp).
    pub two_step: bool,
    /// TAI - UTC announced as master.
    pub utc_offset: i16,
    /// The measurement filter.
    pub filter: FilterConfig,
}

impl PortConfig {
    /// The default profile's intervals (announce 2 s, sync 1 s, delay 1 s, timeout 3).
    pub const fn default_profile(identity: PortIdentity, clock: DefaultDataset) -> Self {
        Self {
            identity,
            domain: 0,
            sdo_id: 0,
            clock,
            log_announce_interval: 1,
            log_sync_interval: 0,
            log_min_delay_req_interval: 0,
            delay_mechanism: DelayMechanism::E2E,
            announce_receipt_timeout: 3,
            two_step: true,
            utc_offset: 37,
            filter: FilterConfig::DEFAULT,
        }
    }

    /// The default profile for an ordinary clock's one port (port number 1), from the
    /// clock's identity, `priority1` and whether it may only be a slave.
    ///
    /// ```
    /// use tempora_core::ptp::port::PortConfig;
    /// use tempora_core::ptp::wire::ClockIdentity;
    ///
    /// let c = PortConfig::ordinary(ClockIdentity([1; 8]), 128, true);
    /// assert_eq!(c.identity.port, 1);
    /// assert!(c.clock.slave_only);
    /// ```
    pub const fn ordinary(clock: ClockIdentity, priority1: u8, slave_only: bool) -> Self {
        let identity = PortIdentity { clock, port: 1 };
        Self::default_profile(
            identity,
            DefaultDataset::ordinary(clock, priority1, slave_only),
        )
    }

    /// The same with other log2 intervals (Announce, Sync, Delay_Req, in seconds) and
    /// Announce receipt timeout: e.g. `(-3, -3, -3, 2)` to select a master in about
    /// 0.3 s instead of 6.
    pub const fn with_intervals(
        mut self,
        announce: i8,
        sync: i8,
        delay_req: i8,
        receipt_timeout: u8,
    ) -> Self {
        self.log_announce_interval = announce;
        self.log_sync_interval = sync;
        self.log_min_delay_req_interval = delay_req;
        self.announce_receipt_timeout = receipt_timeout;
        self
    }

    /// Checks the intervals and the receipt timeout against what IEEE 1588 allows.
    ///
    /// ```
    /// use tempora_core::ptp::port::{ConfigError, IntervalKind, PortConfig};
    /// use tempora_core::ptp::wire::ClockIdentity;
    ///
    /// let c = PortConfig::ordinary(ClockIdentity([1; 8]), 128, true);
    /// assert_eq!(c.validate(), Ok(()));
    /// let flood = c.with_intervals(1, -128, 0, 3);
    /// assert_eq!(
    ///     flood.validate(),
    ///     Err(ConfigError::Interval { kind: IntervalKind::Sync, log2: -128 })
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (kind, log2) in [
            (IntervalKind::Announce, self.log_announce_interval),
            (IntervalKind::Sync, self.log_sync_interval),
            (IntervalKind::DelayReq, self.log_min_delay_req_interval),
        ] {
            if !kind.range().contains(&log2) {
                return Err(ConfigError::Interval { kind, log2 });
            }
        }
        if self.announce_receipt_timeout < 2 {
            return Err(ConfigError::AnnounceReceiptTimeout(
                self.announce_receipt_timeout,
            ));
        }
        Ok(())
    }

    /// The same with another delay mechanism.
    pub const fn with_delay_mechanism(mut self, mechanism: DelayMechanism) -> Self {
        self.delay_mechanism = mechanism;
        self
    }
}

/// Which of a port's message intervals a [`ConfigError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IntervalKind {
    /// `logAnnounceInterval`.
    Announce,
    /// `logSyncInterval`.
    Sync,
    /// `logMinDelayReqInterval` (or `logMinPdelayReqInterval` with P2P).
    DelayReq,
}

impl IntervalKind {
    /// The log2 values (seconds) a port accepts: the union of what IEEE 1588-2019's
    /// default profiles and the published profiles built on it (telecom G.8275.x,
    /// power, 802.1AS) allow. Outside it a typo becomes a flood (log2 -128 would be one
    /// Sync every nanosecond) or a port that never speaks.
    pub const fn range(self) -> core::ops::RangeInclusive<i8> {
        match self {
            Self::Announce => -3..=4,
            Self::Sync => -7..=4,
            Self::DelayReq => -7..=6,
        }
    }

    /// The option's name in IEEE 1588.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Announce => "logAnnounceInterval",
            Self::Sync => "logSyncInterval",
            Self::DelayReq => "logMinDelayReqInterval",
        }
    }
}

/// Why a [`PortConfig`] cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// A log2 interval outside [`IntervalKind::range`].
    Interval {
        /// Which interval.
        kind: IntervalKind,
        /// The value given.
        log2: i8,
    },
    /// `announceReceiptTimeout` below 2, the least IEEE 1588 allows (one lost Announce
    /// would otherwise end the master).
    AnnounceReceiptTimeout(u8),
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::Interval { kind, log2 } => {
                let r = kind.range();
                write!(
                    f,
                    "{} {log2} is outside {}..={} (log2 seconds)",
                    kind.name(),
                    r.start(),
                    r.end()
                )
            }
            Self::AnnounceReceiptTimeout(n) => {
                write!(f, "announceReceiptTimeout {n} is below 2")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// The port's state (the subset of §9.2.5 an ordinary clock's port needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PortState {
    /// Waiting for Announces (or for the receipt timeout to decide).
    Listening,
    /// Serving time.
    Master,
    /// Following this master port.
    Slave(PortIdentity),
    /// A better master exists that this clock must not follow.
    Passive,
}

/// The port's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Timer {
    /// Master: send the next Announce.
    Announce,
    /// Master: send the next Sync.
    Sync,
    /// A delay request is due. E2E slave: a Delay_Req, sent as soon as the next Sync
    /// has arrived. P2P: a Pdelay_Req, likewise after the next Sync on a slave, at once
    /// in any other state.
    ///
    /// Sending right after a receipt, rather than at an arbitrary moment, keeps the
    /// slave's send path as warm as the master's: with kernel software timestamps, a
    /// send from a process that has just been idle takes 1-2 µs longer between its send
    /// and receive timestamps (measured on veth), which would bias the offset by half
    /// that.
    DelayReq,
    /// Any state: no Announce from the master (or anyone) for the receipt timeout.
    AnnounceReceipt,
}

/// A packet to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Its type. Event messages ([`MessageType::is_event`]) go to UDP port 319 and need
    /// a send timestamp reported back.
    pub message_type: MessageType,
    /// Its `sequenceId`, to match the send timestamp.
    pub sequence_id: u16,
    /// The bytes.
    pub bytes: heapless::Vec<u8, MAX_PACKET>,
}

/// A new estimate of the local clock against the master.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// Local time of the estimate (ns, TAI).
    pub at: i128,
    /// Local minus master (ns) at `at`.
    pub offset: f64,
    /// Local minus master frequency (ns per s, i.e. ppb).
    pub frequency: f64,
    /// Standard deviation of `offset` (ns).
    pub sigma: f64,
    /// Mean path delay (ns).
    pub delay: f64,
    /// This exchange's raw offset (ns), before filtering.
    pub raw_offset: i128,
    /// Whether the filter used the sample (false: an outlier).
    pub accepted: bool,
    /// Whether the filter took this sample as a step of the reference (a run of
    /// outliers that agreed) and now follows it.
    pub stepped: bool,
    /// This exchange's master-to-slave transit `t2 - t1` (ns, corrections removed;
    /// includes the offset), for diagnostics: the two transits show where an asymmetry
    /// comes from.
    pub forward: i64,
    /// This exchange's slave-to-master transit `t4 - t3` (ns, likewise).
    pub reverse: i64,
}

/// Something the platform must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send this packet (and, for event messages, report its send timestamp).
    Send(Packet),
    /// Call [`Port::on_timer`] with this timer at this local time (ns); re-arming
    /// replaces the previous expiry.
    SetTimer {
        /// Which.
        timer: Timer,
        /// When (local ns, TAI).
        at: i128,
    },
    /// Stop this timer.
    CancelTimer(Timer),
    /// The port changed state.
    State(PortState),
    /// A new offset estimate (slave).
    Measure(Measurement),
}

/// The actions of one call. The most any call produces is five (a state change from
/// master to slave: the state, two cancelled timers, the Delay_Req timer, the re-armed
/// receipt timeout), so eight never overflow.
pub type Actions = heapless::Vec<Action, 8>;

/// Why a received packet was not used (the port is unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Ignored {
    /// Malformed.
    Wire(WireError),
    /// Another domain or SDO.
    OtherDomain,
    /// Our own message, looped back.
    Own,
    /// An event message without a receive timestamp.
    NoTimestamp,
    /// Not relevant in the current state (a Sync when not a slave, a reply to another
    /// port, a stale sequence).
    NotForUs,
}

#[derive(Clone, Copy, Debug)]
struct PendingSync {
    seq: u16,
    t2: i128,
    correction: i128,
}

/// A Follow_Up that arrived before its Sync (they travel on different ports and may
/// be reordered).
#[derive(Clone, Copy, Debug)]
struct EarlyFollowUp {
    seq: u16,
    t1: i128,
    correction: i128,
}

#[derive(Clone, Copy, Debug)]
struct Forward {
    t1: i128,
    t2: i128,
    correction: i128,
}

#[derive(Clone, Copy, Debug)]
struct PendingDelay {
    seq: u16,
    t3: Option<i128>,
}

/// The peer-delay half of a P2P port: its own request in flight and the response it
/// owes a Follow_Up.
#[cfg(feature = "p2p")]
#[derive(Clone, Copy, Debug)]
struct PeerDelay {
    pending: Option<PendingPdelay>,
    responding: Option<Responding>,
}

/// A Pdelay_Req of ours in flight: its send time `t1`, then the Pdelay_Resp.
#[cfg(feature = "p2p")]
#[derive(Clone, Copy, Debug)]
struct PendingPdelay {
    seq: u16,
    t1: Option<i128>,
    response: Option<PdelayResponse>,
    /// A Pdelay_Resp_Follow_Up that overtook its Pdelay_Resp: the responder, its send
    /// time and correction.
    early_follow_up: Option<(PortIdentity, i128, i128)>,
}

#[cfg(feature = "p2p")]
#[derive(Clone, Copy, Debug)]
struct PdelayResponse {
    responder: PortIdentity,
    /// `requestReceiptTimestamp` (responder's clock; 0 from a one-step responder).
    t2: i128,
    /// When the Pdelay_Resp arrived (ours).
    t4: i128,
    correction: i128,
    two_step: bool,
}

/// A Pdelay_Resp of ours waiting for its send timestamp, which its Follow_Up carries.
#[cfg(feature = "p2p")]
#[derive(Clone, Copy, Debug)]
struct Responding {
    seq: u16,
    requester: PortIdentity,
    correction: i64,
}

/// An interval in ns, with log2 held to the widest range [`PortConfig::validate`]
/// accepts, so even an unchecked configuration cannot flood the link.
fn interval_ns(log2: i8) -> i128 {
    let log2 = i32::from(log2.clamp(-7, 6));
    if log2 >= 0 {
        1_000_000_000i128 << log2
    } else {
        1_000_000_000i128 >> -log2
    }
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn correction_ns(c: i64) -> i128 {
    i128::from(c) / 65_536
}

fn ts_ns(t: WireTimestamp) -> i128 {
    i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
}

fn wire_ts(ns: i128) -> WireTimestamp {
    let ns = ns.clamp(0, i128::from(u64::MAX)) as u64;
    WireTimestamp::from_instant(Instant::<Tai>::from_nanos(ns))
}

/// A PTP port.
///
/// `FOREIGN` is how many foreign masters it tracks for the BMCA; `FLOOR` how many recent
/// exchanges its filter keeps for the delay floor (16 bytes each; see
/// [`filter`](super::filter)). Firmware short of RAM can trade floor accuracy for memory.
///
/// ```
/// use tempora_core::ptp::bmca::{ClockQuality, DefaultDataset};
/// use tempora_core::ptp::port::{Action, Port, PortConfig, PortState, Timer};
/// use tempora_core::ptp::wire::{ClockIdentity, PortIdentity};
///
/// let id = PortIdentity { clock: ClockIdentity([1; 8]), port: 1 };
/// let clock = DefaultDataset {
///     identity: id.clock,
///     priority1: 128,
///     quality: ClockQuality { class: 248, accuracy: 0xfe, variance: 0xffff },
///     priority2: 128,
///     slave_only: false,
/// };
/// let mut port = Port::<4>::new(PortConfig::default_profile(id, clock));
/// let actions = port.start(0);
/// assert!(actions.contains(&Action::SetTimer { timer: Timer::AnnounceReceipt, at: 6_000_000_000 }));
/// // Nobody announced: after the timeout this clock becomes master and starts sending.
/// let actions = port.on_timer(Timer::AnnounceReceipt, 6_000_000_000);
/// assert!(actions.contains(&Action::State(PortState::Master)));
/// assert_eq!(port.state(), PortState::Master);
/// ```
pub struct Port<const FOREIGN: usize = 4, const FLOOR: usize = FLOOR_WINDOW> {
    config: PortConfig,
    state: PortState,
    foreign: ForeignMasters<FOREIGN>,
    filter: OffsetFilter<FLOOR>,
    seq_announce: u16,
    seq_sync: u16,
    /// Two-step master: the Sync whose send time its Follow_Up still awaits.
    sync_in_flight: Option<u16>,
    seq_delay: u16,
    /// The Delay_Req timer has fired; the request goes out right after the next Sync
    /// (see [`Timer::DelayReq`]).
    delay_due: bool,
    sync: Option<PendingSync>,
    early_follow_up: Option<EarlyFollowUp>,
    forward: Option<Forward>,
    delay: Option<PendingDelay>,
    #[cfg(feature = "p2p")]
    peer: PeerDelay,
    /// The master's TAI - UTC, from its Announces.
    master_utc_offset: Option<i16>,
    /// Whether the master announces the PTP timescale (TAI); `false` is ARB.
    master_ptp_timescale: Option<bool>,
    /// Whether the estimate counts as locked (with hysteresis, see [`Port::locked`]).
    lock: bool,
}

impl<const FOREIGN: usize, const FLOOR: usize> Port<FOREIGN, FLOOR> {
    /// A port in the Listening state; call [`Port::start`] next. `const`, so a port can
    /// live in a `static` on firmware.
    pub const fn new(config: PortConfig) -> Self {
        Self {
            config,
            state: PortState::Listening,
            foreign: ForeignMasters::new(),
            filter: OffsetFilter::new(config.filter),
            seq_announce: 0,
            seq_sync: 0,
            sync_in_flight: None,
            seq_delay: 0,
            delay_due: false,
            sync: None,
            early_follow_up: None,
            forward: None,
            delay: None,
            #[cfg(feature = "p2p")]
            peer: PeerDelay {
                pending: None,
                responding: None,
            },
            master_utc_offset: None,
            master_ptp_timescale: None,
            lock: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> PortState {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &PortConfig {
        &self.config
    }

    /// The master's announced TAI - UTC, once a master has announced one.
    pub fn master_utc_offset(&self) -> Option<i16> {
        self.master_utc_offset
    }

    /// Whether the master's time is on the PTP timescale (TAI), or an arbitrary one
    /// (`false`; linuxptp serving `CLOCK_REALTIME` with software timestamps announces
    /// ARB and sends UTC), once the master has announced.
    pub fn master_ptp_timescale(&self) -> Option<bool> {
        self.master_ptp_timescale
    }

    /// Whether the slave's estimate has converged. Locking needs at least 8 exchanges,
    /// the offset averaged down to half the noise of one exchange, and the frequency
    /// known to 10 ppm (about a second on a quiet LAN, a few under 200 µs of jitter).
    /// Once locked, the port stays locked until the offset is less certain than one
    /// exchange or the frequency than 40 ppm, so noise in the noise estimate does not
    /// make the status flap.
    pub fn locked(&self) -> bool {
        matches!(self.state, PortState::Slave(_)) && self.lock
    }

    fn update_lock(&mut self) {
        let Some(e) = self.filter.estimate() else {
            self.lock = false;
            return;
        };
        self.lock = if self.lock {
            e.offset_sigma <= e.noise_sigma && e.frequency_sigma <= 4.0 * LOCK_FREQUENCY_SIGMA_PPB
        } else {
            self.filter.samples() >= 8
                && e.offset_sigma <= e.noise_sigma / 2.0
                && e.frequency_sigma <= LOCK_FREQUENCY_SIGMA_PPB
        };
    }

    /// The slave's current estimate (offset, frequency, their uncertainty, path delay
    /// and noise), once an exchange has completed.
    pub fn estimate(&self) -> Option<Estimate> {
        self.filter.estimate()
    }

    /// The slave's offset prediction at local time `now` (ns) and its standard
    /// deviation, which grows while no exchange completes (holdover).
    pub fn predict(&self, now: i128) -> Option<(f64, f64)> {
        self.filter.predict(now)
    }

    fn receipt_timeout(&self) -> i128 {
        interval_ns(self.config.log_announce_interval)
            * i128::from(self.config.announce_receipt_timeout.max(1))
    }

    fn qualification_window(&self) -> u64 {
        (interval_ns(self.config.log_announce_interval) * 4).clamp(0, i128::from(u64::MAX)) as u64
    }

    /// Starts listening at local time `now`.
    pub fn start(&mut self, now: i128) -> Actions {
        let mut out = Actions::new();
        self.state = PortState::Listening;
        let _ = out.push(Action::State(PortState::Listening));
        let _ = out.push(Action::SetTimer {
            timer: Timer::AnnounceReceipt,
            at: now + self.receipt_timeout(),
        });
        if self.p2p() {
            // The link is measured in every state, so a new slave has its delay at once.
            let _ = out.push(Action::SetTimer {
                timer: Timer::DelayReq,
                at: now + interval_ns(self.config.log_min_delay_req_interval),
            });
        }
        out
    }

    /// Whether the port runs P2P; a constant `false` without the `p2p` feature, so
    /// firmware that does not need it does not carry its code.
    fn p2p(&self) -> bool {
        #[cfg(feature = "p2p")]
        return self.config.delay_mechanism == DelayMechanism::P2P;
        #[cfg(not(feature = "p2p"))]
        false
    }

    fn header(&self, message_type: MessageType, sequence_id: u16, log_interval: i8) -> Header {
        let two_step = self.config.two_step && message_type == MessageType::Sync;
        let mut flags = 0;
        if two_step {
            flags |= Flags::TWO_STEP;
        }
        if message_type == MessageType::Announce {
            flags |= Flags::PTP_TIMESCALE | Flags::UTC_OFFSET_VALID;
        }
        Header {
            sdo_id: self.config.sdo_id,
            message_type,
            minor_version: 1,
            domain: self.config.domain,
            flags: Flags(flags),
            correction: 0,
            source_port: self.config.identity,
            sequence_id,
            log_interval,
        }
    }

    fn send(out: &mut Actions, message: &PtpMessage<'_>) {
        let mut bytes = heapless::Vec::<u8, MAX_PACKET>::new();
        let _ = bytes.resize_default(MAX_PACKET);
        if let Ok(n) = message.emit(&mut bytes) {
            bytes.truncate(n);
            let _ = out.push(Action::Send(Packet {
                message_type: message.header.message_type,
                sequence_id: message.header.sequence_id,
                bytes,
            }));
        }
    }

    fn enter(&mut self, state: PortState, now: i128, out: &mut Actions) {
        if state == self.state {
            return;
        }
        let was_master = self.state == PortState::Master;
        self.state = state;
        let _ = out.push(Action::State(state));
        if was_master {
            let _ = out.push(Action::CancelTimer(Timer::Announce));
            let _ = out.push(Action::CancelTimer(Timer::Sync));
        }
        match state {
            PortState::Master => {
                let _ = out.push(Action::SetTimer {
                    timer: Timer::Announce,
                    at: now,
                });
                let _ = out.push(Action::SetTimer {
                    timer: Timer::Sync,
                    at: now,
                });
                if !self.p2p() {
                    let _ = out.push(Action::CancelTimer(Timer::DelayReq));
                }
            }
            PortState::Slave(master) => {
                // Old half-exchanges never carry over. The estimate does, whichever
                // master comes: the local oscillator is the same, so the frequency
                // learnt over minutes still holds, and the offset prediction (whose
                // uncertainty grew over the gap) is right for any master on the same
                // timescale. A master whose time really differs shows as a run of
                // agreeing outliers, which the filter takes as a step.
                let _ = master;
                self.sync = None;
                self.early_follow_up = None;
                self.forward = None;
                self.delay = None;
                let _ = out.push(Action::SetTimer {
                    timer: Timer::DelayReq,
                    at: now + interval_ns(self.config.log_min_delay_req_interval),
                });
            }
            PortState::Listening | PortState::Passive => {
                if !self.p2p() {
                    let _ = out.push(Action::CancelTimer(Timer::DelayReq));
                }
            }
        }
    }

    fn run_bmca(&mut self, now: i128, out: &mut Actions) {
        let window = self.qualification_window();
        let now_u = now.clamp(0, i128::from(u64::MAX)) as u64;
        let best = self.foreign.best(now_u, window).copied();
        let next = match decide(&self.config.clock, self.config.identity, best.as_ref()) {
            Recommendation::Master => PortState::Master,
            Recommendation::Slave(p) => PortState::Slave(p),
            Recommendation::Passive => PortState::Passive,
            Recommendation::Listening => PortState::Listening,
        };
        self.enter(next, now, out);
    }

    /// A timer expired at local time `now`.
    pub fn on_timer(&mut self, timer: Timer, now: i128) -> Actions {
        let mut out = Actions::new();
        match timer {
            Timer::AnnounceReceipt => {
                let now_u = now.clamp(0, i128::from(u64::MAX)) as u64;
                self.foreign.expire(
                    now_u,
                    self.receipt_timeout().clamp(0, i128::from(u64::MAX)) as u64,
                );
                self.run_bmca(now, &mut out);
                let _ = out.push(Action::SetTimer {
                    timer: Timer::AnnounceReceipt,
                    at: now + self.receipt_timeout(),
                });
            }
            Timer::Announce if self.state == PortState::Master => {
                let c = &self.config.clock;
                let announce = Announce {
                    origin: wire_ts(now),
                    utc_offset: self.config.utc_offset,
                    priority1: c.priority1,
                    clock_class: c.quality.class,
                    clock_accuracy: c.quality.accuracy,
                    variance: c.quality.variance,
                    priority2: c.priority2,
                    grandmaster: c.identity,
                    steps_removed: 0,
                    time_source: 0xA0, // internal oscillator
                };
                let header = self.header(
                    MessageType::Announce,
                    self.seq_announce,
                    self.config.log_announce_interval,
                );
                self.seq_announce = self.seq_announce.wrapping_add(1);
                Self::send(
                    &mut out,
                    &PtpMessage {
                        header,
                        body: Body::Announce(announce),
                    },
                );
                let _ = out.push(Action::SetTimer {
                    timer: Timer::Announce,
                    at: now + interval_ns(self.config.log_announce_interval),
                });
            }
            Timer::Sync if self.state == PortState::Master => {
                let header = self.header(
                    MessageType::Sync,
                    self.seq_sync,
                    self.config.log_sync_interval,
                );
                if self.config.two_step {
                    self.sync_in_flight = Some(self.seq_sync);
                }
                self.seq_sync = self.seq_sync.wrapping_add(1);
                // One-step: the origin is the best send time known before sending.
                let origin = if self.config.two_step {
                    WireTimestamp::default()
                } else {
                    wire_ts(now)
                };
                Self::send(
                    &mut out,
                    &PtpMessage {
                        header,
                        body: Body::Sync { origin },
                    },
                );
                let _ = out.push(Action::SetTimer {
                    timer: Timer::Sync,
                    at: now + interval_ns(self.config.log_sync_interval),
                });
            }
            Timer::DelayReq if matches!(self.state, PortState::Slave(_)) || self.p2p() => {
                if matches!(self.state, PortState::Slave(_)) {
                    self.delay_due = true;
                } else {
                    self.send_delay_req(&mut out);
                }
                let _ = out.push(Action::SetTimer {
                    timer: Timer::DelayReq,
                    at: now + interval_ns(self.config.log_min_delay_req_interval),
                });
            }
            _ => {}
        }
        out
    }

    fn send_delay_req(&mut self, out: &mut Actions) {
        let seq = self.seq_delay;
        self.seq_delay = self.seq_delay.wrapping_add(1);
        #[cfg(feature = "p2p")]
        if self.p2p() {
            self.send_pdelay_req(seq, out);
            return;
        }
        let header = self.header(MessageType::DelayReq, seq, 0x7F);
        Self::send(
            out,
            &PtpMessage {
                header,
                body: Body::DelayReq {
                    origin: WireTimestamp::default(),
                },
            },
        );
        self.delay = Some(PendingDelay { seq, t3: None });
    }

    /// An event message this port sent left at local time `sent` (the send timestamp).
    pub fn on_sent(&mut self, message_type: MessageType, sequence_id: u16, sent: i128) -> Actions {
        let mut out = Actions::new();
        match message_type {
            // Only for the Sync in flight: a stray or repeated send report must not put
            // out a Follow_Up for a Sync never sent, or a second one for a Sync.
            MessageType::Sync
                if self.state == PortState::Master
                    && self.config.two_step
                    && self.sync_in_flight == Some(sequence_id) =>
            {
                self.sync_in_flight = None;
                let header = self.header(
                    MessageType::FollowUp,
                    sequence_id,
                    self.config.log_sync_interval,
                );
                Self::send(
                    &mut out,
                    &PtpMessage {
                        header,
                        body: Body::FollowUp {
                            precise_origin: wire_ts(sent),
                        },
                    },
                );
            }
            MessageType::DelayReq => {
                if let Some(d) = self.delay.as_mut().filter(|d| d.seq == sequence_id) {
                    d.t3 = Some(sent);
                }
            }
            #[cfg(feature = "p2p")]
            MessageType::PdelayReq | MessageType::PdelayResp => {
                self.peer_delay_sent(message_type, sequence_id, sent, &mut out);
            }
            _ => {}
        }
        out
    }

    /// A packet arrived; `received` is its receive timestamp (local ns, TAI; required
    /// for event messages) and `now` the local time of handling.
    pub fn on_receive(
        &mut self,
        bytes: &[u8],
        received: Option<i128>,
        now: i128,
    ) -> Result<Actions, Ignored> {
        let m = PtpMessage::parse(bytes).map_err(Ignored::Wire)?;
        let h = m.header;
        if h.domain != self.config.domain || h.sdo_id != self.config.sdo_id {
            return Err(Ignored::OtherDomain);
        }
        if h.source_port == self.config.identity {
            return Err(Ignored::Own);
        }
        let forward_before = self.forward.map(|f| f.t2);
        let from_master = self.state == PortState::Slave(h.source_port);
        let mut out = Actions::new();
        match m.body {
            Body::Announce(a) => {
                let dataset = Dataset::from_announce(&a, h.source_port, self.config.identity);
                let now_u = now.clamp(0, i128::from(u64::MAX)) as u64;
                let _ = self.foreign.record(dataset, now_u);
                if from_master {
                    if h.flags.has(Flags::UTC_OFFSET_VALID) {
                        self.master_utc_offset = Some(a.utc_offset);
                    }
                    self.master_ptp_timescale = Some(h.flags.has(Flags::PTP_TIMESCALE));
                    let _ = out.push(Action::SetTimer {
                        timer: Timer::AnnounceReceipt,
                        at: now + self.receipt_timeout(),
                    });
                }
                self.run_bmca(now, &mut out);
            }
            Body::Sync { origin } if from_master => {
                let t2 = received.ok_or(Ignored::NoTimestamp)?;
                let correction = correction_ns(h.correction);
                if !h.flags.has(Flags::TWO_STEP) {
                    let t1 = ts_ns(origin);
                    self.forward = Some(Forward { t1, t2, correction });
                } else if let Some(f) = self
                    .early_follow_up
                    .take()
                    .filter(|f| f.seq == h.sequence_id)
                {
                    let correction = correction + f.correction;
                    self.forward = Some(Forward {
                        t1: f.t1,
                        t2,
                        correction,
                    });
                } else {
                    self.sync = Some(PendingSync {
                        seq: h.sequence_id,
                        t2,
                        correction,
                    });
                }
            }
            Body::FollowUp { precise_origin } if from_master => {
                let (t1, correction) = (ts_ns(precise_origin), correction_ns(h.correction));
                match self.sync.take() {
                    Some(s) if s.seq == h.sequence_id => {
                        let correction = s.correction + correction;
                        self.forward = Some(Forward {
                            t1,
                            t2: s.t2,
                            correction,
                        });
                    }
                    // Its Sync has not arrived yet (they travel on different ports and
                    // may be reordered): keep it for when it does.
                    _ => {
                        let seq = h.sequence_id;
                        self.early_follow_up = Some(EarlyFollowUp {
                            seq,
                            t1,
                            correction,
                        });
                    }
                }
            }
            Body::DelayReq { .. } if self.state == PortState::Master && !self.p2p() => {
                let t4 = received.ok_or(Ignored::NoTimestamp)?;
                let mut header = self.header(
                    MessageType::DelayResp,
                    h.sequence_id,
                    self.config.log_min_delay_req_interval,
                );
                header.correction = h.correction;
                Self::send(
                    &mut out,
                    &PtpMessage {
                        header,
                        body: Body::DelayResp {
                            receive: wire_ts(t4),
                            requesting_port: h.source_port,
                        },
                    },
                );
            }
            Body::DelayResp {
                receive,
                requesting_port,
            } if from_master && !self.p2p() => {
                if requesting_port != self.config.identity {
                    return Err(Ignored::NotForUs);
                }
                let d = self
                    .delay
                    .filter(|d| d.seq == h.sequence_id)
                    .ok_or(Ignored::NotForUs)?;
                let (Some(t3), Some(f)) = (d.t3, self.forward) else {
                    return Err(Ignored::NotForUs);
                };
                self.delay = None;
                let exchange = Exchange {
                    t1: f.t1,
                    t2: f.t2,
                    t3,
                    t4: ts_ns(receive),
                    correction_ms: f.correction,
                    correction_sm: correction_ns(h.correction),
                };
                let _ = out.push(Action::Measure(self.measure(&exchange)));
            }
            #[cfg(feature = "p2p")]
            Body::PdelayReq { .. } | Body::PdelayResp { .. } | Body::PdelayRespFollowUp { .. }
                if self.p2p() =>
            {
                self.peer_delay_receive(&m, received, &mut out)?;
            }
            _ => return Err(Ignored::NotForUs),
        }
        let fresh_forward = self.forward.map(|f| f.t2) != forward_before;
        if self.delay_due && fresh_forward && matches!(self.state, PortState::Slave(_)) {
            self.delay_due = false;
            self.send_delay_req(&mut out);
        }
        Ok(out)
    }

    fn measure(&mut self, e: &Exchange) -> Measurement {
        let raw = e.offset();
        let (forward, reverse) = e.transits_at_sync(0.0);
        let verdict = self.filter.update(e);
        let (accepted, stepped) = match verdict {
            Verdict::Accepted => (true, false),
            Verdict::Stepped => (true, true),
            Verdict::Rejected(_) => (false, false),
        };
        self.update_lock();
        let est = self.filter.estimate();
        Measurement {
            at: e.t2,
            offset: est.map_or(ns_f64(raw), |x| x.offset),
            frequency: est.map_or(0.0, |x| x.frequency),
            sigma: est.map_or(f64::MAX, |x| x.offset_sigma),
            delay: est.map_or(ns_f64(e.delay()), |x| x.delay),
            raw_offset: raw,
            accepted,
            stepped,
            forward: clamp_i64(forward),
            reverse: clamp_i64(reverse),
        }
    }
}

/// Peer-to-peer delay measurement (`p2p` feature): the requester measures the link's
/// round trip, the responder answers in any state, always two-step.
#[cfg(feature = "p2p")]
impl<const FOREIGN: usize, const FLOOR: usize> Port<FOREIGN, FLOOR> {
    fn send_pdelay_req(&mut self, seq: u16, out: &mut Actions) {
        let header = self.header(MessageType::PdelayReq, seq, 0x7F);
        Self::send(
            out,
            &PtpMessage {
                header,
                body: Body::PdelayReq {
                    origin: WireTimestamp::default(),
                },
            },
        );
        self.peer.pending = Some(PendingPdelay {
            seq,
            t1: None,
            response: None,
            early_follow_up: None,
        });
    }

    fn peer_delay_sent(
        &mut self,
        message_type: MessageType,
        sequence_id: u16,
        sent: i128,
        out: &mut Actions,
    ) {
        match message_type {
            MessageType::PdelayReq => {
                if let Some(p) = self.peer.pending.as_mut().filter(|p| p.seq == sequence_id) {
                    p.t1 = Some(sent);
                }
            }
            MessageType::PdelayResp => {
                if let Some(r) = self.peer.responding.take().filter(|r| r.seq == sequence_id) {
                    let mut header = self.header(MessageType::PdelayRespFollowUp, r.seq, 0x7F);
                    header.correction = r.correction;
                    Self::send(
                        out,
                        &PtpMessage {
                            header,
                            body: Body::PdelayRespFollowUp {
                                response_origin: wire_ts(sent),
                                requesting_port: r.requester,
                            },
                        },
                    );
                }
            }
            _ => {}
        }
    }

    fn peer_delay_receive(
        &mut self,
        m: &PtpMessage<'_>,
        received: Option<i128>,
        out: &mut Actions,
    ) -> Result<(), Ignored> {
        let h = m.header;
        match m.body {
            Body::PdelayReq { .. } => {
                let t2 = received.ok_or(Ignored::NoTimestamp)?;
                // Always two-step: the send time goes in the Follow_Up.
                let mut header = self.header(MessageType::PdelayResp, h.sequence_id, 0x7F);
                header.flags = Flags(Flags::TWO_STEP);
                Self::send(
                    out,
                    &PtpMessage {
                        header,
                        body: Body::PdelayResp {
                            request_receipt: wire_ts(t2),
                            requesting_port: h.source_port,
                        },
                    },
                );
                self.peer.responding = Some(Responding {
                    seq: h.sequence_id,
                    requester: h.source_port,
                    correction: h.correction,
                });
            }
            Body::PdelayResp {
                request_receipt,
                requesting_port,
            } => {
                let t4 = received.ok_or(Ignored::NoTimestamp)?;
                let p = self
                    .peer
                    .pending
                    .as_mut()
                    .filter(|p| {
                        p.seq == h.sequence_id
                            && p.response.is_none()
                            && requesting_port == self.config.identity
                    })
                    .ok_or(Ignored::NotForUs)?;
                let response = PdelayResponse {
                    responder: h.source_port,
                    t2: ts_ns(request_receipt),
                    t4,
                    correction: correction_ns(h.correction),
                    two_step: h.flags.has(Flags::TWO_STEP),
                };
                p.response = Some(response);
                match p.early_follow_up {
                    _ if !response.two_step => self.complete_pdelay(None, 0, out)?,
                    Some((from, t3, c)) if from == h.source_port => {
                        self.complete_pdelay(Some(t3), c, out)?;
                    }
                    _ => {}
                }
            }
            Body::PdelayRespFollowUp {
                response_origin,
                requesting_port,
            } => {
                let p = self
                    .peer
                    .pending
                    .as_mut()
                    .filter(|p| p.seq == h.sequence_id && requesting_port == self.config.identity)
                    .ok_or(Ignored::NotForUs)?;
                let (t3, correction) = (ts_ns(response_origin), correction_ns(h.correction));
                match p.response {
                    Some(r) if r.two_step && r.responder == h.source_port => {
                        self.complete_pdelay(Some(t3), correction, out)?;
                    }
                    // Its Pdelay_Resp has not arrived yet (event and general messages may
                    // be reordered): keep it for when it does.
                    None => p.early_follow_up = Some((h.source_port, t3, correction)),
                    Some(_) => return Err(Ignored::NotForUs),
                }
            }
            _ => return Err(Ignored::NotForUs),
        }
        Ok(())
    }

    /// A peer-delay exchange is complete: `t3` is the responder's send time (two-step)
    /// and `correction` the Follow_Up's. A slave pairs it with the latest Sync.
    fn complete_pdelay(
        &mut self,
        t3: Option<i128>,
        correction: i128,
        out: &mut Actions,
    ) -> Result<(), Ignored> {
        let p = self.peer.pending.take().ok_or(Ignored::NotForUs)?;
        let (Some(t1), Some(r)) = (p.t1, p.response) else {
            return Err(Ignored::NotForUs);
        };
        let (PortState::Slave(master), Some(f)) = (self.state, self.forward) else {
            return Ok(());
        };
        let exchange = match t3 {
            // The responder is the master's clock: its receipt time is a reading of the
            // master, so the request's own transit is the reverse leg, exactly as a
            // Delay_Req's would be (and its floor can be taken like one).
            Some(_) if r.responder.clock == master.clock => Exchange {
                t1: f.t1,
                t2: f.t2,
                t3: t1,
                t4: r.t2,
                correction_ms: f.correction,
                correction_sm: r.correction,
            },
            // Any other responder (a peer-to-peer transparent clock) only vouches for its
            // turnaround time: of the link's round trip, the reverse leg is what the
            // Sync's transit leaves.
            _ => {
                let turnaround = t3.map_or(0, |t3| t3 - r.t2) + r.correction + correction;
                let round_trip = r.t4 - t1 - turnaround;
                let forward = f.t2 - f.t1 - f.correction;
                Exchange {
                    t1: f.t1,
                    t2: f.t2,
                    t3: f.t2,
                    t4: f.t2 + round_trip - forward,
                    correction_ms: f.correction,
                    correction_sm: 0,
                }
            }
        };
        let _ = out.push(Action::Measure(self.measure(&exchange)));
        Ok(())
    }
}
