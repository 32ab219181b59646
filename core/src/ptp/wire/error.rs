//! Why bytes are not a message. Only parsing fails this way; emitting has its own
//! [`EmitError`](super::EmitError), since a receiver and a sender handle different faults.

use core::fmt;

/// Why bytes are not a PTP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WireError {
    /// Shorter than the header, or than the body its type needs.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes there.
        got: usize,
    },
    /// `versionPTP` is not 2.
    Version(u8),
    /// A message type IEEE 1588 does not define (4-7, 0xE, 0xF).
    MessageType(u8),
    /// `messageLength` is shorter than the type's body, or longer than the bytes.
    Length {
        /// What the header says.
        declared: u16,
        /// Bytes available.
        available: usize,
    },
    /// A timestamp with nanoseconds of a second or more.
    Nanoseconds(u32),
    /// A TLV runs past the end of the message.
    Tlv {
        /// Offset of the TLV in the message.
        offset: usize,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, got } => {
                write!(f, "PTP message truncated: {got} of {needed} bytes")
            }
            Self::Version(v) => write!(f, "PTP version {v}, expected 2"),
            Self::MessageType(t) => write!(f, "unknown PTP message type {t:#x}"),
            Self::Length {
                declared,
                available,
            } => {
                write!(f, "messageLength {declared} does not fit {available} bytes")
            }
            Self::Nanoseconds(n) => write!(f, "timestamp nanoseconds {n} >= 10^9"),
            Self::Tlv { offset } => write!(f, "TLV at offset {offset} runs past the message"),
        }
    }
}

impl core::error::Error for WireError {}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            WireError::Truncated {
                needed: 34,
                got: 20
            }
            .to_string(),
            "PTP message truncated: 20 of 34 bytes"
        );
        assert_eq!(
            WireError::Length {
                declared: 45,
                available: 44
            }
            .to_string(),
            "messageLength 45 does not fit 44 bytes"
        );
    }
}
