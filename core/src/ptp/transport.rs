//! What a firmware network interface (a MAC driver, or a network stack's socket) gives the
//! PTP port: messages in with their receive timestamps, messages out whose send
//! timestamps come back once known, and where those timestamps come from.
//!
//! The provenance matters for the bound. A MAC with an IEEE 1588 unit latches its clock
//! as a frame's timestamp point crosses the MII: the stamp is off by a tick of that
//! clock. Without one, the driver reads the board's counter in the receive interrupt and
//! just before it hands a frame to the MAC: the stamp is late by however long the
//! interrupt took to run (masked sections, other handlers, the FIFO copy), and that
//! latency is the driver's to state. [`Timestamping::sample`] adds the stated
//! uncertainty to every offset sample, so a board with software timestamps promises
//! honestly less than one with hardware timestamps.
//!
//! [`Link`](super::link::Link) drives a port over any [`Transport`].

use core::time::Duration;

use super::port::{Measurement, Packet, SendContext};
use crate::discipline::OffsetSample;
use crate::time::{Instant, Tai};

/// Where an interface's timestamps come from, and how far one may be from the instant
/// its frame crossed the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Timestamping {
    /// The MAC latches its clock as the frame passes (an IEEE 1588 timestamping unit):
    /// off by at most `resolution`, one tick of that clock.
    Hardware {
        /// The timestamp clock's tick (20 ns at a 50 MHz PTP clock, say).
        resolution: Duration,
    },
    /// The driver reads the board's counter in the receive interrupt, and just before
    /// it hands a frame to the MAC: late by the interrupt and driver latency, at most
    /// `latency`.
    Software {
        /// The longest the interrupt (or the transmit path) may take between the frame
        /// crossing the MAC and the counter read.
        latency: Duration,
    },
}

impl Timestamping {
    /// How far one timestamp may be from the instant its frame crossed the wire.
    pub const fn uncertainty(self) -> Duration {
        match self {
            Self::Hardware { resolution } => resolution,
            Self::Software { latency } => latency,
        }
    }

    /// `m` as a sample for the clock discipline, its bound widened by the slave's own
    /// timestamps: the offset is half the difference of two transits, and each transit
    /// has one stamp of ours (the Sync's receipt, the Delay_Req's departure), so two
    /// stamps each off by up to [`uncertainty`](Self::uncertainty) move the offset by up to
    /// that much. The filter cannot see this error when it is steady (a constant
    /// interrupt latency looks like path asymmetry), hence the bound carries it.
    pub fn sample(self, m: &Measurement) -> OffsetSample<Tai> {
        let mut s = m.sample();
        s.bound = s.bound.saturating_add(self.uncertainty());
        s
    }
}

/// A PTP message received, as [`Transport::receive`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// How many bytes of the buffer hold the message (the PTP message itself: the
    /// transport has taken off its framing).
    pub len: usize,
    /// The receive timestamp, on the port's local clock.
    pub at: Instant<Tai>,
}

/// A network interface that carries PTP messages and timestamps them: what a MAC driver
/// (or a UDP socket of a firmware network stack) implements for [`Link`](super::link::Link).
///
/// Send timestamps come back through [`Transport::sent`] rather than from `send`,
/// because a timestamping MAC reports them after the frame has left (in the transmit
/// descriptor's write-back, or a timestamp FIFO); a software transport can stamp at
/// once and hand the pair back on the next call.
pub trait Transport {
    /// Why a message could not be sent.
    type Error;

    /// Where this interface's timestamps come from.
    fn timestamping(&self) -> Timestamping;

    /// Sends `packet` (an event message to its event address or port, a general one to
    /// its general one). An event message comes with its `context`: keep it until the
    /// message's send timestamp is known, then hand both back from [`Transport::sent`].
    /// On an error the context may be dropped: that exchange simply never completes.
    fn send(&mut self, packet: &Packet, context: Option<SendContext>) -> Result<(), Self::Error>;

    /// The next event message whose send timestamp is now known, with its context.
    fn sent(&mut self) -> Option<(SendContext, Instant<Tai>)>;

    /// Copies the next received PTP message into `buffer` (truncating anything longer)
    /// and reports its length and receive timestamp; `None` if none is waiting.
    fn receive(&mut self, buffer: &mut [u8]) -> Option<Received>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Offset;

    fn measurement(sigma_ns: f64, delay_ns: i64) -> Measurement {
        Measurement {
            at: Instant::from_nanos(1_000),
            offset: Offset::from_nanos(5),
            raw_offset: Offset::from_nanos(7),
            delay: Offset::from_nanos(delay_ns),
            frequency_ppb: 2.0,
            sigma_ns,
            noise_sigma_ns: 10.0,
            accepted: true,
            stepped: false,
            locked: true,
            forward: Offset::from_nanos(delay_ns + 5),
            reverse: Offset::from_nanos(delay_ns - 5),
        }
    }

    #[test]
    fn software_timestamps_promise_less_than_hardware_ones() {
        let m = measurement(100.0, 2_000);
        let hw = Timestamping::Hardware {
            resolution: Duration::from_nanos(20),
        };
        let sw = Timestamping::Software {
            latency: Duration::from_micros(50),
        };
        // 3 sigma + the mean delay, plus the stamps' own uncertainty.
        assert_eq!(hw.sample(&m).bound, Duration::from_nanos(300 + 2_000 + 20));
        assert_eq!(
            sw.sample(&m).bound,
            Duration::from_nanos(300 + 2_000 + 50_000)
        );
        // Everything else is the port's estimate, untouched.
        let (h, s) = (hw.sample(&m), sw.sample(&m));
        assert_eq!(
            (h.at, h.offset, h.frequency_ppt, h.locked),
            (s.at, s.offset, 2_000, true)
        );
        assert_eq!(m.sample().bound + sw.uncertainty(), s.bound);
    }

    #[test]
    fn the_bound_saturates_rather_than_wraps() {
        let m = measurement(f64::MAX, 0);
        let sw = Timestamping::Software {
            latency: Duration::MAX,
        };
        assert_eq!(sw.sample(&m).bound, Duration::MAX);
    }
}
