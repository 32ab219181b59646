//! The port configurations the tests and simulations run with.

use tempora_core::ptp::port::{Port, PortConfig, Timer};
use tempora_core::ptp::wire::ClockIdentity;
use tempora_core::time::{Instant, Tai};

/// The fast intervals (log2 s: Announce, Sync, Delay_Req; Announce receipt timeout):
/// eight of each message a second, a master selected in about 0.4 s instead of 6.
pub const FAST_INTERVALS: (i8, i8, i8, u8) = (-3, -3, -3, 2);

/// The clock identity of node `id`: `id` in all eight bytes.
pub const fn identity(id: u8) -> ClockIdentity {
    ClockIdentity([id; 8])
}

/// An ordinary clock's port with the default profile (E2E, two-step, 1 Sync a second).
pub const fn ordinary(id: u8, priority1: u8, slave_only: bool) -> PortConfig {
    PortConfig::ordinary(identity(id), priority1, slave_only)
}

/// The same with the [`FAST_INTERVALS`]; chain
/// [`with_delay_mechanism`](PortConfig::with_delay_mechanism) for P2P.
///
/// ```
/// use tempora_ptp_sim::config;
///
/// let c = config::fast(2, 128, true);
/// assert_eq!((c.log_sync_interval, c.announce_receipt_timeout), (-3, 2));
/// assert!(c.clock.slave_only && c.validate().is_ok());
/// ```
pub const fn fast(id: u8, priority1: u8, slave_only: bool) -> PortConfig {
    let (announce, sync, delay_req, timeout) = FAST_INTERVALS;
    ordinary(id, priority1, slave_only).with_intervals(announce, sync, delay_req, timeout)
}

/// A port started at `now` whose Announce receipt timeout has already run out at `now`:
/// with no better clock heard, it is master and sends Syncs when asked.
///
/// ```
/// use tempora_core::ptp::port::PortState;
/// use tempora_core::time::Instant;
/// use tempora_ptp_sim::config;
///
/// let port = config::master(config::ordinary(1, 10, false), Instant::from_nanos(5));
/// assert_eq!(port.state(), PortState::Master);
/// ```
pub fn master(config: PortConfig, now: Instant<Tai>) -> Port {
    let mut port = Port::new(config);
    let _ = port.start(now);
    let _ = port.on_timer(Timer::AnnounceReceipt, now);
    port
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempora_core::ptp::port::DelayMechanism;

    #[test]
    fn fast_configurations_are_valid_and_keep_the_profile() {
        let c = fast(9, 0, false);
        assert_eq!(c.identity.clock, ClockIdentity([9; 8]));
        assert_eq!(c.clock.priority1, 0);
        assert_eq!(
            (
                c.log_announce_interval,
                c.log_sync_interval,
                c.log_min_delay_req_interval
            ),
            (-3, -3, -3)
        );
        assert_eq!(c.delay_mechanism, DelayMechanism::E2E);
        assert!(c.two_step);
        assert_eq!(c.validate(), Ok(()));
    }
}
