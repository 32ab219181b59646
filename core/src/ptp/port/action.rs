//! What the port asks of the platform, and what it tells it: the actions of each call,
//! the send context that ties an event message to its send timestamp, and why a packet
//! was ignored.

use core::time::Duration;

use crate::discipline::{OffsetSample, MAX_FREQUENCY_PPT};
use crate::ptp::wire::{MessageType, PortIdentity, WireError};
use crate::time::{Instant, Offset, Tai};

use super::config::IntervalKind;
use super::state::PortState;

/// Largest message the port sends.
pub const MAX_PACKET: usize = 96;

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
    /// Its type. Event messages ([`MessageType::is_event`]) go to UDP port 319.
    pub message_type: MessageType,
    /// Its `sequenceId`, for the platform's own matching of send timestamps.
    pub sequence_id: u16,
    /// The bytes.
    pub bytes: heapless::Vec<u8, MAX_PACKET>,
}

/// The port's handle on one event message it asked to send: the platform hands it back
/// with the message's send timestamp to [`Port::on_sent`](super::Port::on_sent), which
/// consumes it.
///
/// Opaque and neither `Clone` nor `Copy`, so each send is answered at most once and a
/// report for a message never sent cannot be made up: a two-step master cannot follow
/// up a Sync twice, or one it never sent. A context the port no longer expects (it has
/// changed state since, or restarted) is ignored.
///
/// ```compile_fail,E0599
/// use tempora_core::ptp::port::SendContext;
///
/// fn answer_twice(context: SendContext) -> (SendContext, SendContext) {
///     (context.clone(), context)
/// }
/// ```
#[must_use = "hand it back to `Port::on_sent` with the send timestamp"]
#[derive(Debug, PartialEq, Eq)]
pub struct SendContext {
    pub(super) message_type: MessageType,
    pub(super) sequence_id: u16,
    /// The port's generation (state changes and restarts so far) when issued.
    pub(super) generation: u32,
}

/// A new estimate of the local clock against the master, from one completed exchange.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// Local time of the estimate: when the exchange's Sync arrived.
    pub at: Instant<Tai>,
    /// Local minus master at `at`, filtered (rounded to the nanosecond). For an exchange
    /// the filter rejected, the estimate of the last accepted one brought forward to
    /// `at` with its frequency: the estimate itself describes an earlier moment.
    pub offset: Offset,
    /// This exchange's own local minus master, before filtering.
    pub raw_offset: Offset,
    /// Mean path delay, filtered (negative only from wild timestamps).
    pub delay: Offset,
    /// Local minus master frequency (ns per s, i.e. ppb).
    pub frequency_ppb: f64,
    /// Standard deviation of `offset`, ns (floating point: the bound is built from a
    /// fraction of it); never negative or NaN. For a rejected exchange it includes the
    /// growth since the last accepted one, as in holdover.
    pub sigma_ns: f64,
    /// The path noise the filter has learnt: standard deviation of one exchange, ns
    /// (0 before the first accepted exchange).
    pub noise_sigma_ns: f64,
    /// Whether the filter used the sample (false: an outlier).
    pub accepted: bool,
    /// Whether the filter took this sample as a step of the reference (a run of
    /// outliers that agreed) and now follows it.
    pub stepped: bool,
    /// Whether the port counts its estimate as converged after this exchange (see
    /// [`Port::locked`](super::Port::locked)).
    pub locked: bool,
    /// This exchange's master-to-slave transit `t2 - t1` (corrections removed; includes
    /// the offset), for diagnostics: the two transits show where an asymmetry comes
    /// from.
    pub forward: Offset,
    /// This exchange's slave-to-master transit `t4 - t3` (likewise).
    pub reverse: Offset,
}

impl Measurement {
    /// Standard deviations of the offset estimate a bound covers.
    pub const BOUND_SIGMAS: f64 = 3.0;

    /// The estimate as a sample for the core's clock
    /// [`Discipline`](crate::discipline::Discipline): the one place a PTP estimate
    /// becomes a bounded offset.
    ///
    /// The bound is three standard deviations of the offset estimate plus the mean path
    /// delay: a path's asymmetry is invisible to PTP and can be anywhere up to the delay
    /// itself (the filter takes each direction at its floor, so the residual asymmetry is
    /// that of the floors, which lie below the mean delay).
    pub fn sample(&self) -> OffsetSample<Tai> {
        let sigmas = Self::BOUND_SIGMAS * self.sigma_ns;
        OffsetSample {
            at: self.at,
            offset: self.offset,
            // ppb to ppt. The filter holds its frequency within ±500 ppm, the floor
            // correction's drift aside: clamp to what the discipline takes.
            frequency_ppt: ((self.frequency_ppb * 1_000.0) as i64)
                .clamp(-MAX_FREQUENCY_PPT, MAX_FREQUENCY_PPT),
            // `as` saturates; a sigma that is not a number (a broken filter
            // configuration) bounds nothing: unbounded, never `NaN as u64`, which is 0.
            bound: if sigmas.is_nan() {
                Duration::MAX
            } else {
                Duration::from_nanos(sigmas as u64).saturating_add(self.delay.abs())
            },
            locked: self.locked,
        }
    }
}

/// Something the platform must do.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Send this packet. An event message comes with its `context`: take the send
    /// timestamp and hand both to [`Port::on_sent`](super::Port::on_sent). General
    /// messages carry none.
    Send {
        /// What to send.
        packet: Packet,
        /// For event messages, what [`Port::on_sent`](super::Port::on_sent) needs back.
        context: Option<SendContext>,
    },
    /// Call [`Port::on_timer`](super::Port::on_timer) with this timer at this local
    /// time; re-arming replaces the previous expiry.
    SetTimer {
        /// Which.
        timer: Timer,
        /// When (local time; [`Instant::MAX`] if the interval reaches past it).
        at: Instant<Tai>,
    },
    /// Stop this timer.
    CancelTimer(Timer),
    /// The port changed state.
    State(PortState),
    /// A new offset estimate (slave).
    Measure(Measurement),
    /// Something to log or count; nothing to do.
    Event(PortEvent),
}

/// What the port tells the platform without asking anything of it: for logs, counters
/// and warnings. New kinds may be added, so match with a catch-all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PortEvent {
    /// The master this port follows changed: from `old` (`None`: it followed none) to
    /// `new` (`None`: it follows none now, being master, passive or listening). Comes
    /// with the [`Action::State`] that made it.
    ParentChanged {
        /// The master followed before.
        old: Option<PortIdentity>,
        /// The master followed now.
        new: Option<PortIdentity>,
    },
    /// The master announces (in its messages' `logMessageInterval`) another interval
    /// than this port is configured for: a misconfiguration one side should fix.
    /// Reported once per master and value. For Announce, the slave adopts the master's
    /// interval for its receipt timeout (IEEE 1588 lets a slave follow its master's
    /// intervals), so it neither loses a slower master between its Announces nor waits
    /// for ever to qualify it.
    IntervalMismatch {
        /// The master.
        master: PortIdentity,
        /// Which interval.
        kind: IntervalKind,
        /// log2 seconds, as configured here.
        ours: i8,
        /// log2 seconds, as the master sends.
        theirs: i8,
    },
}

/// The actions of one call. The most any call produces is seven (a state change from
/// master to slave on an Announce: the state, two cancelled timers, the Delay_Req
/// timer, the parent change, an interval mismatch, the re-armed receipt timeout), so
/// eight never overflow.
pub type Actions = heapless::Vec<Action, 8>;

/// Why a received packet was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Ignored {
    /// Malformed.
    Wire(WireError),
    /// Another domain or SDO than ours: as the sender has it (a master configured for
    /// another domain shows up here, and nowhere else).
    OtherDomain {
        /// The sender's `domainNumber`.
        domain: u8,
        /// The sender's `majorSdoId`.
        sdo_id: u8,
    },
    /// An Announce from a clock not on the port's acceptable-master list
    /// ([`Port::accept_only`](super::Port::accept_only)).
    UnacceptableMaster,
    /// Our own message, looped back.
    Own,
    /// An event message without a receive timestamp.
    NoTimestamp,
    /// Not relevant in the current state (a Sync when not a slave, a reply to another
    /// port, a stale sequence).
    NotForUs,
    /// A time beyond what 64-bit nanoseconds hold: a wire timestamp past the year 2554,
    /// or a transit between two timestamps past ±292 years.
    TimeOutOfRange,
}

impl Ignored {
    /// A short lower-case name, for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Wire(_) => "malformed",
            Self::OtherDomain { .. } => "other-domain",
            Self::UnacceptableMaster => "unacceptable-master",
            Self::Own => "own",
            Self::NoTimestamp => "no-timestamp",
            Self::NotForUs => "not-for-us",
            Self::TimeOutOfRange => "time-out-of-range",
        }
    }
}
