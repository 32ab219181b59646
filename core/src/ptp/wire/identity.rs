//! Who sent a message: clock and port identities, shown as linuxptp shows them so that
//! logs can be grepped side by side with ptp4l's.

use core::fmt;

use super::field::port_identity as field;

/// A clock's 8-byte identity (usually from a MAC address).
///
/// Displays as linuxptp does (`cid2str`): three, two and three bytes in hex.
///
/// ```
/// use tempora_core::ptp::wire::ClockIdentity;
///
/// let id = ClockIdentity([0x00, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55]);
/// assert_eq!(id.to_string(), "001122.fffe.334455");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClockIdentity(pub [u8; 8]);

impl fmt::Display for ClockIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g, h, i] = self.0;
        write!(
            f,
            "{a:02x}{b:02x}{c:02x}.{d:02x}{e:02x}.{g:02x}{h:02x}{i:02x}"
        )
    }
}

/// A port: its clock and its number on that clock.
///
/// Displays as linuxptp does (`pid2str`): the clock, a dash, the port number in decimal.
///
/// ```
/// use tempora_core::ptp::wire::{ClockIdentity, PortIdentity};
///
/// let clock = ClockIdentity([0x00, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55]);
/// assert_eq!(PortIdentity { clock, port: 1 }.to_string(), "001122.fffe.334455-1");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PortIdentity {
    /// The clock.
    pub clock: ClockIdentity,
    /// The port number (1-based).
    pub port: u16,
}

impl PortIdentity {
    /// From its 10 wire bytes.
    #[inline]
    pub(super) fn from_bytes(b: [u8; field::LEN]) -> Self {
        Self {
            clock: ClockIdentity(field::CLOCK.read(&b)),
            port: u16::from_be_bytes(field::PORT.read(&b)),
        }
    }

    /// Its 10 wire bytes.
    #[inline]
    pub(super) fn to_bytes(self) -> [u8; field::LEN] {
        let mut b = [0; field::LEN];
        field::CLOCK.write(&mut b, self.clock.0);
        field::PORT.write(&mut b, self.port.to_be_bytes());
        b
    }
}

impl fmt::Display for PortIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.clock, self.port)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn shown_as_linuxptp_shows_them() {
        let clock = ClockIdentity([0x00, 0x1b, 0x21, 0xff, 0xfe, 0x12, 0x34, 0x56]);
        assert_eq!(clock.to_string(), "001b21.fffe.123456");
        assert_eq!(ClockIdentity([0xff; 8]).to_string(), "ffffff.ffff.ffffff");
        assert_eq!(ClockIdentity::default().to_string(), "000000.0000.000000");
        assert_eq!(
            PortIdentity { clock, port: 1 }.to_string(),
            "001b21.fffe.123456-1"
        );
        assert_eq!(
            PortIdentity {
                clock,
                port: u16::MAX
            }
            .to_string(),
            "001b21.fffe.123456-65535"
        );
    }

    #[test]
    fn port_identity_bytes_round_trip() {
        let p = PortIdentity {
            clock: ClockIdentity([1, 2, 3, 4, 5, 6, 7, 8]),
            port: 0x0102,
        };
        assert_eq!(p.to_bytes(), [1, 2, 3, 4, 5, 6, 7, 8, 1, 2]);
        assert_eq!(PortIdentity::from_bytes(p.to_bytes()), p);
    }
}
