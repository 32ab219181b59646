//! The wire timestamp: 48-bit seconds and nanoseconds on the PTP timescale, checked on
//! the way in so that no `WireTimestamp` holds a second or more of nanoseconds.

use crate::time::{Instant, Tai, NANOS_PER_SEC};

use super::field::timestamp as field;
use super::WireError;

/// A PTP timestamp: 48-bit seconds and nanoseconds, on the PTP timescale (TAI).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WireTimestamp {
    /// Seconds since the PTP epoch (48 bits on the wire).
    pub seconds: u64,
    /// Nanoseconds, below 10^9.
    pub nanos: u32,
}

impl WireTimestamp {
    /// The instant, if it fits 64-bit nanoseconds (until the year 2554).
    pub fn to_instant(self) -> Option<Instant<Tai>> {
        Instant::from_secs_nanos(self.seconds, self.nanos)
    }

    /// From an instant.
    pub fn from_instant(t: Instant<Tai>) -> Self {
        Self {
            seconds: t.secs(),
            nanos: t.subsec_nanos(),
        }
    }

    /// From its 10 wire bytes; nanoseconds of a second or more are an error.
    #[inline]
    pub(super) fn from_bytes(b: [u8; field::LEN]) -> Result<Self, WireError> {
        let [s0, s1, s2, s3, s4, s5] = field::SECONDS.read(&b);
        let seconds = u64::from_be_bytes([0, 0, s0, s1, s2, s3, s4, s5]);
        let nanos = u32::from_be_bytes(field::NANOS.read(&b));
        if u64::from(nanos) >= NANOS_PER_SEC {
            return Err(WireError::Nanoseconds(nanos));
        }
        Ok(Self { seconds, nanos })
    }

    /// Its 10 wire bytes. Seconds past 48 bits (the year 8.9 million) lose their top bits.
    #[inline]
    pub(super) fn to_bytes(self) -> [u8; field::LEN] {
        let [_, _, seconds @ ..] = self.seconds.to_be_bytes();
        let mut b = [0; field::LEN];
        field::SECONDS.write(&mut b, seconds);
        field::NANOS.write(&mut b, self.nanos.to_be_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_bad_nanos_are_errors() {
        let t = WireTimestamp {
            seconds: 0x0102_0304_0506,
            nanos: 999_999_999,
        };
        let b = t.to_bytes();
        assert_eq!(b, [1, 2, 3, 4, 5, 6, 0x3b, 0x9a, 0xc9, 0xff]);
        assert_eq!(WireTimestamp::from_bytes(b), Ok(t));
        let mut bad = b;
        bad[6..10].copy_from_slice(&1_000_000_000u32.to_be_bytes());
        assert_eq!(
            WireTimestamp::from_bytes(bad),
            Err(WireError::Nanoseconds(1_000_000_000))
        );
    }
}
