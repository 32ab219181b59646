//! One PTP port as a sans-IO state machine: master and slave, one- and two-step, E2E
//! or P2P delay measurement.
//!
//! The port never reads a clock or touches a socket. The platform feeds it
//! - received packets, with their receive timestamps ([`Port::on_receive`]),
//! - send timestamps of the event messages it sent, each with the [`SendContext`] that
//!   came with the message ([`Port::on_sent`]),
//! - timer expiries ([`Port::on_timer`]),
//!
//! and carries out the [`Action`]s each call returns: send these bytes, arm this timer,
//! use this new offset estimate. All times are the port's local clock on the PTP
//! timescale, as [`Instant<Tai>`](crate::time::Instant); the platform converts its clock
//! readings. Any bytes and any times are safe to feed in: timer expiries saturate at
//! [`Instant::MAX`](crate::time::Instant::MAX), and a packet whose times cannot be
//! represented (a wire time past 2554, a transit past ±292 years) is
//! [`Ignored::TimeOutOfRange`] (`core/tests/ptp_port_props.rs` checks both).
//!
//! Inside, one concept per module, all re-exported here: the configuration and its
//! validation ([`PortConfig`]), the state ([`PortState`]), what a call hands the
//! platform ([`Action`], [`SendContext`], [`Measurement`], [`Ignored`]), the wire
//! boundary (wire timestamps and corrections to typed time, messages to packets), and
//! peer delay (`p2p` feature). This module is the state machine: start, timers, BMCA
//! decisions, E2E exchanges.

mod action;
mod boundary;
mod config;
#[cfg(feature = "p2p")]
mod p2p;
mod state;

pub use action::{
    Action, Actions, Ignored, Measurement, Packet, PortEvent, SendContext, Timer, MAX_PACKET,
};
pub use config::{ConfigError, DelayMechanism, IntervalKind, PortConfig};
pub use state::PortState;

use core::time::Duration;

use super::bmca::{decide, Dataset, ForeignMasters, Recommendation};
use super::filter::{Estimate, Exchange, OffsetFilter, Prediction, Verdict, FLOOR_WINDOW};
use super::wire::{Announce, Body, ClockIdentity, Flags, MessageType, PtpMessage, WireTimestamp};
use crate::error::Full;
use crate::hooks::{Metric, MetricsHook, NoHooks};
use crate::time::{Instant, Offset, Tai, TaiOffset};
use boundary::{correction, header, instant};
use config::interval;
#[cfg(feature = "p2p")]
use p2p::PeerDelay;

/// How well the frequency must be known for the slave to call itself locked (ppb).
const LOCK_FREQUENCY_SIGMA_PPB: f64 = 10_000.0;

/// A two-step Sync that arrived before its Follow_Up.
#[derive(Clone, Copy, Debug)]
struct PendingSync {
    seq: u16,
    t2: Instant<Tai>,
    correction: Offset,
}

/// A Follow_Up that arrived before its Sync (they travel on different ports and may
/// be reordered).
#[derive(Clone, Copy, Debug)]
struct EarlyFollowUp {
    seq: u16,
    t1: Instant<Tai>,
    correction: Offset,
}

/// The master-to-slave half of an exchange: the latest complete Sync.
#[derive(Clone, Copy, Debug)]
struct Forward {
    t1: Instant<Tai>,
    t2: Instant<Tai>,
    correction: Offset,
}

/// Our Delay_Req in flight, and its send time once reported.
#[derive(Clone, Copy, Debug)]
struct PendingDelay {
    seq: u16,
    t3: Option<Instant<Tai>>,
}

/// A PTP port.
///
/// `FOREIGN` is how many foreign masters it tracks for the BMCA; `FLOOR` how many recent
/// exchanges its filter keeps for the delay floor (16 bytes each; see
/// [`filter`](super::filter)). Firmware short of RAM can trade floor accuracy for memory.
/// `MASTERS` is the capacity of its acceptable-master list ([`Port::accept_only`]; empty,
/// the default, accepts any master as standard BMCA does). `H` counts what the port
/// sees ([`Metric::PtpReceived`], [`Metric::PtpIgnored`], ...); the default [`NoHooks`]
/// costs nothing.
///
/// ```
/// use core::time::Duration;
/// use tempora_core::ptp::bmca::{ClockQuality, DefaultDataset};
/// use tempora_core::ptp::port::{Action, Port, PortConfig, PortState, Timer};
/// use tempora_core::ptp::wire::{ClockIdentity, PortIdentity};
/// use tempora_core::time::{Instant, Tai};
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
/// let t0 = Instant::<Tai>::from_secs_nanos(1_700_000_000, 0).unwrap();
/// let timeout = t0.saturating_add(Duration::from_secs(6));
/// let actions = port.start(t0);
/// assert!(actions.contains(&Action::SetTimer { timer: Timer::AnnounceReceipt, at: timeout }));
/// // Nobody announced: after the timeout this clock becomes master and starts sending.
/// let actions = port.on_timer(Timer::AnnounceReceipt, timeout);
/// assert!(actions.contains(&Action::State(PortState::Master)));
/// assert_eq!(port.state(), PortState::Master);
/// ```
pub struct Port<
    const FOREIGN: usize = 4,
    const FLOOR: usize = FLOOR_WINDOW,
    const MASTERS: usize = 4,
    H = NoHooks,
> {
    config: PortConfig,
    /// The only clocks this port may follow; empty: any.
    acceptable: heapless::Vec<ClockIdentity, MASTERS>,
    /// The master's announce interval (log2 s), once it has announced one we can use.
    master_log_announce: Option<i8>,
    /// The master's intervals last reported as mismatched (Announce, Sync).
    reported_mismatch: [Option<i8>; 2],
    hooks: H,
    state: PortState,
    /// Counts state changes and starts (wrapping): a [`SendContext`] of another
    /// generation is stale.
    generation: u32,
    foreign: ForeignMasters<FOREIGN>,
    filter: OffsetFilter<FLOOR>,
    seq_announce: u16,
    seq_sync: u16,
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
    master_utc_offset: Option<TaiOffset>,
    /// Whether the master announces the PTP timescale (TAI); `false` is ARB.
    master_ptp_timescale: Option<bool>,
    /// Whether the estimate counts as locked (with hysteresis, see [`Port::locked`]).
    lock: bool,
}

impl<const FOREIGN: usize, const FLOOR: usize, const MASTERS: usize>
    Port<FOREIGN, FLOOR, MASTERS, NoHooks>
{
    /// A port in the Listening state; call [`Port::start`] next. `const`, so a port can
    /// live in a `static` on firmware.
    pub const fn new(config: PortConfig) -> Self {
        Self::with_hooks(config, NoHooks)
    }
}

impl<const FOREIGN: usize, const FLOOR: usize, const MASTERS: usize, H: MetricsHook>
    Port<FOREIGN, FLOOR, MASTERS, H>
{
    /// A port whose messages, refusals, state changes and measurements are counted
    /// through `hooks`.
    pub const fn with_hooks(config: PortConfig, hooks: H) -> Self {
        Self {
            config,
            acceptable: heapless::Vec::new(),
            master_log_announce: None,
            reported_mismatch: [None; 2],
            hooks,
            state: PortState::Listening,
            generation: 0,
            foreign: ForeignMasters::new(),
            filter: OffsetFilter::new(config.filter),
            seq_announce: 0,
            seq_sync: 0,
            seq_delay: 0,
            delay_due: false,
            sync: None,
            early_follow_up: None,
            forward: None,
            delay: None,
            #[cfg(feature = "p2p")]
            peer: PeerDelay::new(),
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

    /// The hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// Follows only masters whose clock identity (the Announce sender's) is in
    /// `masters`; Announces from any other clock are [`Ignored::UnacceptableMaster`],
    /// so a rogue announcing priority1 0 cannot take the port. An empty list accepts
    /// any master, as standard BMCA does. A list longer than `MASTERS` is refused, the
    /// first identity that did not fit handed back, and the list left as it was.
    ///
    /// Takes effect from the next Announce: a current master not on the new list is
    /// given up when its entry expires.
    pub fn accept_only(&mut self, masters: &[ClockIdentity]) -> Result<(), Full<ClockIdentity>> {
        if let Some(&extra) = masters.get(MASTERS) {
            return Err(Full(extra));
        }
        self.acceptable.clear();
        for &m in masters {
            let _ = self.acceptable.push(m);
        }
        Ok(())
    }

    /// The acceptable-master list (empty: any master).
    pub fn acceptable_masters(&self) -> &[ClockIdentity] {
        &self.acceptable
    }

    /// The master's announce interval (log2 s) this slave times its receipt timeout
    /// by, once its master has announced one.
    pub fn master_log_announce_interval(&self) -> Option<i8> {
        self.master_log_announce
    }

    /// The master's announced TAI - UTC, once a master has announced one as valid.
    pub fn master_utc_offset(&self) -> Option<TaiOffset> {
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
            e.offset_sigma_ns <= e.noise_sigma_ns
                && e.frequency_sigma_ppb <= 4.0 * LOCK_FREQUENCY_SIGMA_PPB
        } else {
            self.filter.samples() >= 8
                && e.offset_sigma_ns <= e.noise_sigma_ns / 2.0
                && e.frequency_sigma_ppb <= LOCK_FREQUENCY_SIGMA_PPB
        };
    }

    /// The slave's current estimate (offset, frequency, their uncertainty, path delay
    /// and noise), once an exchange has completed.
    pub fn estimate(&self) -> Option<Estimate> {
        self.filter.estimate()
    }

    /// The slave's offset prediction at local time `now` and its standard deviation,
    /// which grows while no exchange completes (holdover).
    pub fn predict(&self, now: Instant<Tai>) -> Option<Prediction> {
        self.filter.predict(now)
    }

    /// The receipt timeout: in the master's announce intervals once a slave has one
    /// (IEEE 1588 lets a slave follow its master's intervals), else in ours.
    fn receipt_timeout(&self) -> Duration {
        let log2 = match self.state {
            PortState::Slave(_) => self
                .master_log_announce
                .unwrap_or(self.config.log_announce_interval),
            _ => self.config.log_announce_interval,
        };
        interval(log2).saturating_mul(u32::from(self.config.announce_receipt_timeout.max(1)))
    }

    fn qualification_window(&self) -> Duration {
        interval(self.config.log_announce_interval).saturating_mul(4)
    }

    /// The timer `timer` at `now + after`, saturating at [`Instant::MAX`].
    fn arm(out: &mut Actions, timer: Timer, now: Instant<Tai>, after: Duration) {
        let _ = out.push(Action::SetTimer {
            timer,
            at: now.saturating_add(after),
        });
    }

    /// Starts listening at local time `now`. Send contexts issued before are stale.
    pub fn start(&mut self, now: Instant<Tai>) -> Actions {
        let mut out = Actions::new();
        if let Some(old) = self.state.parent() {
            let event = PortEvent::ParentChanged {
                old: Some(old),
                new: None,
            };
            let _ = out.push(Action::Event(event));
            self.master_log_announce = None;
        }
        self.state = PortState::Listening;
        self.generation = self.generation.wrapping_add(1);
        let _ = out.push(Action::State(PortState::Listening));
        Self::arm(
            &mut out,
            Timer::AnnounceReceipt,
            now,
            self.receipt_timeout(),
        );
        if self.p2p() {
            // The link is measured in every state, so a new slave has its delay at once.
            let delay_req = interval(self.config.log_min_delay_req_interval);
            Self::arm(&mut out, Timer::DelayReq, now, delay_req);
        }
        self.report(&out);
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

    fn send(&self, out: &mut Actions, message: &PtpMessage<'_>) {
        boundary::send(out, message, self.generation);
    }

    fn enter(&mut self, state: PortState, now: Instant<Tai>, out: &mut Actions) {
        if state == self.state {
            return;
        }
        let was_master = self.state == PortState::Master;
        let (old, new) = (self.state.parent(), state.parent());
        self.state = state;
        self.generation = self.generation.wrapping_add(1);
        let _ = out.push(Action::State(state));
        if old != new {
            let _ = out.push(Action::Event(PortEvent::ParentChanged { old, new }));
            self.master_log_announce = None;
            self.reported_mismatch = [None; 2];
        }
        if was_master {
            let _ = out.push(Action::CancelTimer(Timer::Announce));
            let _ = out.push(Action::CancelTimer(Timer::Sync));
        }
        match state {
            PortState::Master => {
                Self::arm(out, Timer::Announce, now, Duration::ZERO);
                Self::arm(out, Timer::Sync, now, Duration::ZERO);
                if !self.p2p() {
                    let _ = out.push(Action::CancelTimer(Timer::DelayReq));
                }
            }
            PortState::Slave(_) => {
                // Old half-exchanges never carry over. The estimate does, whichever
                // master comes: the local oscillator is the same, so the frequency
                // learnt over minutes still holds, and the offset prediction (whose
                // uncertainty grew over the gap) is right for any master on the same
                // timescale. A master whose time really differs shows as a run of
                // agreeing outliers, which the filter takes as a step.
                self.sync = None;
                self.early_follow_up = None;
                self.forward = None;
                self.delay = None;
                let delay_req = interval(self.config.log_min_delay_req_interval);
                Self::arm(out, Timer::DelayReq, now, delay_req);
            }
            PortState::Listening | PortState::Passive => {
                if !self.p2p() {
                    let _ = out.push(Action::CancelTimer(Timer::DelayReq));
                }
            }
        }
    }

    fn run_bmca(&mut self, now: Instant<Tai>, out: &mut Actions) {
        let window = self.qualification_window();
        let best = self.foreign.best(now, window).copied();
        let next = match decide(&self.config.clock, self.config.identity, best.as_ref()) {
            Recommendation::Master => PortState::Master,
            Recommendation::Slave(p) => PortState::Slave(p),
            Recommendation::Passive => PortState::Passive,
            Recommendation::Listening => PortState::Listening,
        };
        self.enter(next, now, out);
    }

    /// A timer expired at local time `now`.
    pub fn on_timer(&mut self, timer: Timer, now: Instant<Tai>) -> Actions {
        let mut out = Actions::new();
        match timer {
            Timer::AnnounceReceipt => {
                self.foreign.expire(now, self.receipt_timeout());
                self.run_bmca(now, &mut out);
                Self::arm(
                    &mut out,
                    Timer::AnnounceReceipt,
                    now,
                    self.receipt_timeout(),
                );
            }
            Timer::Announce if self.state == PortState::Master => {
                let c = &self.config.clock;
                let announce = Announce {
                    origin: WireTimestamp::from_instant(now),
                    // Announced as not valid when it does not fit (see `header`).
                    utc_offset: self.config.announced_utc_offset().unwrap_or(0),
                    priority1: c.priority1,
                    clock_class: c.quality.class,
                    clock_accuracy: c.quality.accuracy,
                    variance: c.quality.variance,
                    priority2: c.priority2,
                    grandmaster: c.identity,
                    steps_removed: 0,
                    time_source: 0xA0, // internal oscillator
                };
                let header = header(
                    &self.config,
                    MessageType::Announce,
                    self.seq_announce,
                    self.config.log_announce_interval,
                );
                self.seq_announce = self.seq_announce.wrapping_add(1);
                let body = Body::Announce(announce);
                self.send(&mut out, &PtpMessage { header, body });
                let every = interval(self.config.log_announce_interval);
                Self::arm(&mut out, Timer::Announce, now, every);
            }
            Timer::Sync if self.state == PortState::Master => {
                let header = header(
                    &self.config,
                    MessageType::Sync,
                    self.seq_sync,
                    self.config.log_sync_interval,
                );
                self.seq_sync = self.seq_sync.wrapping_add(1);
                // One-step: the origin is the best send time known before sending.
                let origin = if self.config.two_step {
                    WireTimestamp::default()
                } else {
                    WireTimestamp::from_instant(now)
                };
                self.send(
                    &mut out,
                    &PtpMessage {
                        header,
                        body: Body::Sync { origin },
                    },
                );
                let every = interval(self.config.log_sync_interval);
                Self::arm(&mut out, Timer::Sync, now, every);
            }
            Timer::DelayReq if matches!(self.state, PortState::Slave(_)) || self.p2p() => {
                if matches!(self.state, PortState::Slave(_)) {
                    self.delay_due = true;
                } else {
                    self.send_delay_req(&mut out);
                }
                let every = interval(self.config.log_min_delay_req_interval);
                Self::arm(&mut out, Timer::DelayReq, now, every);
            }
            _ => {}
        }
        self.report(&out);
        out
    }

    /// Counts what `out` holds through the metrics hook (nothing with [`NoHooks`]).
    #[inline(always)]
    fn report(&self, out: &Actions) {
        for action in out {
            self.hooks.record(match action {
                Action::Send { packet, .. } => Metric::PtpSent {
                    message: packet.message_type.name(),
                },
                Action::State(state) => Metric::PtpState {
                    state: state.as_str(),
                },
                Action::Event(PortEvent::ParentChanged { .. }) => Metric::PtpParentChanged,
                Action::Measure(m) => Metric::PtpMeasurement {
                    offset_ns: m.offset.as_nanos(),
                    delay_ns: m.delay.as_nanos(),
                    accepted: m.accepted,
                },
                _ => continue,
            });
        }
    }

    /// Reports the master's interval of `kind` if it differs from ours, once per value.
    fn check_interval(
        &mut self,
        master: super::wire::PortIdentity,
        kind: IntervalKind,
        theirs: i8,
        out: &mut Actions,
    ) {
        let (ours, slot) = match kind {
            IntervalKind::Announce => (self.config.log_announce_interval, 0),
            IntervalKind::Sync => (self.config.log_sync_interval, 1),
            IntervalKind::DelayReq => return,
        };
        // 0x7F: the sender gives no interval.
        if theirs == 0x7F || theirs == ours || self.reported_mismatch[slot] == Some(theirs) {
            return;
        }
        self.reported_mismatch[slot] = Some(theirs);
        let event = PortEvent::IntervalMismatch {
            master,
            kind,
            ours,
            theirs,
        };
        let _ = out.push(Action::Event(event));
    }

    fn send_delay_req(&mut self, out: &mut Actions) {
        let seq = self.seq_delay;
        self.seq_delay = self.seq_delay.wrapping_add(1);
        #[cfg(feature = "p2p")]
        if self.p2p() {
            self.peer.request(&self.config, seq, self.generation, out);
            return;
        }
        let header = header(&self.config, MessageType::DelayReq, seq, 0x7F);
        let body = Body::DelayReq {
            origin: WireTimestamp::default(),
        };
        self.send(out, &PtpMessage { header, body });
        self.delay = Some(PendingDelay { seq, t3: None });
    }

    /// The event message `context` came with left at local time `sent` (its send
    /// timestamp). A context from before a state change or a restart is stale and puts
    /// out nothing.
    pub fn on_sent(&mut self, context: SendContext, sent: Instant<Tai>) -> Actions {
        let mut out = Actions::new();
        let SendContext {
            message_type,
            sequence_id,
            generation,
        } = context;
        if generation != self.generation {
            return out;
        }
        match message_type {
            // Issued in this generation, so by this master: the Sync just sent.
            MessageType::Sync if self.config.two_step => {
                let header = header(
                    &self.config,
                    MessageType::FollowUp,
                    sequence_id,
                    self.config.log_sync_interval,
                );
                let body = Body::FollowUp {
                    precise_origin: WireTimestamp::from_instant(sent),
                };
                self.send(&mut out, &PtpMessage { header, body });
            }
            MessageType::DelayReq => {
                if let Some(d) = self.delay.as_mut().filter(|d| d.seq == sequence_id) {
                    d.t3 = Some(sent);
                }
            }
            #[cfg(feature = "p2p")]
            MessageType::PdelayReq | MessageType::PdelayResp => {
                let message = (message_type, sequence_id);
                let generation = self.generation;
                self.peer
                    .sent(&self.config, message, sent, generation, &mut out);
            }
            _ => {}
        }
        self.report(&out);
        out
    }

    /// A packet arrived; `received` is its receive timestamp (local time; required for
    /// event messages) and `now` the local time of handling.
    pub fn on_receive(
        &mut self,
        bytes: &[u8],
        received: Option<Instant<Tai>>,
        now: Instant<Tai>,
    ) -> Result<Actions, Ignored> {
        let result = self.receive(bytes, received, now);
        match &result {
            Ok(out) => {
                // Parsed, so the type nibble is valid.
                let nibble = bytes.first().map_or(0, |b| b & 0x0F);
                if let Ok(t) = MessageType::from_nibble(nibble) {
                    self.hooks.record(Metric::PtpReceived { message: t.name() });
                }
                self.report(out);
            }
            Err(e) => self.hooks.record(Metric::PtpIgnored { reason: e.as_str() }),
        }
        result
    }

    fn receive(
        &mut self,
        bytes: &[u8],
        received: Option<Instant<Tai>>,
        now: Instant<Tai>,
    ) -> Result<Actions, Ignored> {
        let m = PtpMessage::parse(bytes).map_err(Ignored::Wire)?;
        let h = m.header;
        if h.domain != self.config.domain || h.sdo_id != self.config.sdo_id {
            return Err(Ignored::OtherDomain {
                domain: h.domain,
                sdo_id: h.sdo_id,
            });
        }
        if h.source_port == self.config.identity {
            return Err(Ignored::Own);
        }
        let forward_before = self.forward.map(|f| f.t2);
        let from_master = self.state == PortState::Slave(h.source_port);
        let mut out = Actions::new();
        match m.body {
            Body::Announce(a) => {
                let sender = h.source_port;
                if !self.acceptable.is_empty() && !self.acceptable.contains(&sender.clock) {
                    return Err(Ignored::UnacceptableMaster);
                }
                let dataset = Dataset::from_announce(&a, sender, self.config.identity);
                let ours = self.config.log_announce_interval;
                let _ = self
                    .foreign
                    .record_interval(dataset, now, h.log_interval, ours);
                self.run_bmca(now, &mut out);
                // From the master, or from the sender just chosen as master.
                if self.state == PortState::Slave(sender) {
                    if h.flags.has(Flags::UTC_OFFSET_VALID) {
                        self.master_utc_offset = Some(TaiOffset(i32::from(a.utc_offset)));
                    }
                    self.master_ptp_timescale = Some(h.flags.has(Flags::PTP_TIMESCALE));
                    if IntervalKind::Announce.range().contains(&h.log_interval) {
                        self.master_log_announce = Some(h.log_interval);
                    }
                    self.check_interval(sender, IntervalKind::Announce, h.log_interval, &mut out);
                    Self::arm(
                        &mut out,
                        Timer::AnnounceReceipt,
                        now,
                        self.receipt_timeout(),
                    );
                }
            }
            Body::Sync { origin } if from_master => {
                self.check_interval(h.source_port, IntervalKind::Sync, h.log_interval, &mut out);
                let t2 = received.ok_or(Ignored::NoTimestamp)?;
                let correction = correction(h.correction);
                if !h.flags.has(Flags::TWO_STEP) {
                    let t1 = instant(origin)?;
                    self.forward = Some(Forward { t1, t2, correction });
                } else if let Some(f) = self
                    .early_follow_up
                    .take()
                    .filter(|f| f.seq == h.sequence_id)
                {
                    let correction = correction.saturating_add(f.correction);
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
                let (t1, correction) = (instant(precise_origin)?, correction(h.correction));
                match self.sync.take() {
                    Some(s) if s.seq == h.sequence_id => {
                        let correction = s.correction.saturating_add(correction);
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
                let mut header = header(
                    &self.config,
                    MessageType::DelayResp,
                    h.sequence_id,
                    self.config.log_min_delay_req_interval,
                );
                header.correction = h.correction;
                let body = Body::DelayResp {
                    receive: WireTimestamp::from_instant(t4),
                    requesting_port: h.source_port,
                };
                self.send(&mut out, &PtpMessage { header, body });
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
                let exchange = Exchange {
                    t1: f.t1,
                    t2: f.t2,
                    t3,
                    t4: instant(receive)?,
                    correction_ms: f.correction,
                    correction_sm: correction(h.correction),
                };
                let m = self.measure(&exchange)?;
                self.delay = None;
                let _ = out.push(Action::Measure(m));
            }
            #[cfg(feature = "p2p")]
            Body::PdelayReq { .. } | Body::PdelayResp { .. } | Body::PdelayRespFollowUp { .. }
                if self.p2p() =>
            {
                let generation = self.generation;
                let done = self
                    .peer
                    .receive(&self.config, &m, received, generation, &mut out)?;
                // A slave pairs the link measurement with its latest Sync.
                if let (Some(done), PortState::Slave(master), Some(f)) =
                    (done, self.state, self.forward)
                {
                    let exchange = done
                        .with_sync(master, f.t1, f.t2, f.correction)
                        .ok_or(Ignored::TimeOutOfRange)?;
                    let m = self.measure(&exchange)?;
                    let _ = out.push(Action::Measure(m));
                }
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

    /// Feeds one exchange to the filter and reports the estimate after it;
    /// [`Ignored::TimeOutOfRange`] (the filter untouched) if its transits cannot be
    /// represented.
    fn measure(&mut self, e: &Exchange) -> Result<Measurement, Ignored> {
        let out_of_range = Ignored::TimeOutOfRange;
        let (forward, reverse) = e.transits().ok_or(out_of_range)?;
        let raw = e.offset().ok_or(out_of_range)?;
        let delay = e.delay().ok_or(out_of_range)?;
        let (accepted, stepped) = match self.filter.update(e) {
            Verdict::Accepted => (true, false),
            Verdict::Stepped => (true, true),
            Verdict::Rejected(_) => (false, false),
            Verdict::OutOfRange => return Err(out_of_range),
        };
        self.update_lock();
        let est = self.filter.estimate();
        // The offset and its σ at this exchange's Sync, which is what the measurement is
        // stamped with. The estimate is as of the last *accepted* exchange: the same
        // moment when this one was accepted, an earlier one when it was rejected (a Sync
        // or Delay_Req held back behind later packets is such an outlier). Reporting
        // that older estimate at `e.t2` left out the drift since: 5 µs per Sync interval
        // for a clock 40 ppm off, tens of µs after a gap, with a bound of a few µs.
        let now = self.filter.predict(e.t2);
        Ok(Measurement {
            at: e.t2,
            offset: now.map_or(raw, |p| p.offset()),
            raw_offset: raw,
            delay: est.map_or(delay, |x| Offset::from_nanos_f64(x.delay_ns)),
            frequency_ppb: est.map_or(0.0, |x| x.frequency_ppb),
            sigma_ns: now.map_or(f64::MAX, |p| p.sigma_ns),
            noise_sigma_ns: est.map_or(0.0, |x| x.noise_sigma_ns),
            accepted,
            stepped,
            locked: self.locked(),
            forward,
            reverse,
        })
    }
}
