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

/// Why text is not a clock identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParseIdentityError;

impl fmt::Display for ParseIdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a clock identity is 16 hex digits, as 001122.fffe.334455 or 001122fffe334455")
    }
}

impl core::error::Error for ParseIdentityError {}

/// Reads what [`Display`](fmt::Display) writes (`001122.fffe.334455`), or the 16 hex
/// digits without dots, either case.
///
/// ```
/// use tempora_core::ptp::wire::ClockIdentity;
///
/// let id: ClockIdentity = "001122.fffe.334455".parse().unwrap();
/// assert_eq!(id.to_string(), "001122.fffe.334455");
/// assert_eq!("001122FFFE334455".parse(), Ok(id));
/// assert!("001122.fffe.3344".parse::<ClockIdentity>().is_err());
/// ```
impl core::str::FromStr for ClockIdentity {
    type Err = ParseIdentityError;

    fn from_str(s: &str) -> Result<Self, ParseIdentityError> {
        let dotted = s.len() == 18
            && s.as_bytes().get(6) == Some(&b'.')
            && s.as_bytes().get(11) == Some(&b'.');
        let mut out = [0u8; 8];
        let mut nibbles = 0usize;
        for (i, c) in s.bytes().enumerate() {
            if dotted && (i == 6 || i == 11) {
                continue;
            }
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(ParseIdentityError),
            };
            let byte = out.get_mut(nibbles / 2).ok_or(ParseIdentityError)?;
            *byte = (*byte << 4) | v;
            nibbles += 1;
        }
        if nibbles == 16 {
            Ok(Self(out))
        } else {
            Err(ParseIdentityError)
        }
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
