//! What a port runs with: its datasets, intervals and delay mechanism, and the checks
//! that keep a typo from becoming a flood or a silent port.

use core::time::Duration;

use crate::ptp::bmca::DefaultDataset;
use crate::ptp::filter::{FilterConfig, FilterField};
use crate::ptp::wire::{ClockIdentity, PortIdentity};
use crate::time::{TaiOffset, NANOS_PER_SEC};

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
    /// TAI - UTC announced as master (Announce carries it as 16 bits; see
    /// [`ConfigError::UtcOffset`]).
    pub utc_offset: TaiOffset,
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
            utc_offset: TaiOffset(37),
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

    /// Checks the intervals, the receipt timeout and TAI - UTC against what IEEE 1588
    /// allows.
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
        if self.announced_utc_offset().is_none() {
            return Err(ConfigError::UtcOffset(self.utc_offset));
        }
        if let Some(field) = self.filter.invalid_field() {
            return Err(ConfigError::Filter(field));
        }
        Ok(())
    }

    /// TAI - UTC as Announce carries it (`currentUtcOffset`, 16 bits), or `None` if it
    /// does not fit: the port then announces it as not valid rather than wrong.
    pub(super) fn announced_utc_offset(&self) -> Option<i16> {
        i16::try_from(self.utc_offset.0).ok()
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
    /// TAI - UTC beyond the ±32767 s an Announce can carry.
    UtcOffset(TaiOffset),
    /// A number of the filter's configuration that is not finite and above 0.
    Filter(FilterField),
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
            Self::UtcOffset(o) => {
                write!(f, "currentUtcOffset {} s does not fit 16 bits", o.0)
            }
            Self::Filter(field) => {
                write!(f, "filter {} is not a finite number above 0", field.name())
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// An interval from its log2 in seconds, held to the widest range
/// [`PortConfig::validate`] accepts, so even an unchecked configuration cannot flood the
/// link.
pub(super) fn interval(log2: i8) -> Duration {
    let log2 = i32::from(log2.clamp(-7, 6));
    Duration::from_nanos(if log2 >= 0 {
        NANOS_PER_SEC << log2
    } else {
        NANOS_PER_SEC >> -log2
    })
}
