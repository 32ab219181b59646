//! The 34-byte common header every message starts with, and its flags. The view reads it
//! ([`PtpPacket::header`](super::PtpPacket::header)); this module writes it.

use super::field;
use super::{MessageType, PortIdentity};

/// The header's flag bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Flags(pub u16);

impl Flags {
    /// `alternateMasterFlag`.
    pub const ALTERNATE_MASTER: u16 = 1 << 8;
    /// `twoStepFlag`: a Follow_Up carries the precise time.
    pub const TWO_STEP: u16 = 1 << 9;
    /// `unicastFlag`.
    pub const UNICAST: u16 = 1 << 10;
    /// `leap61`.
    pub const LEAP61: u16 = 1;
    /// `leap59`.
    pub const LEAP59: u16 = 1 << 1;
    /// `currentUtcOffsetValid`.
    pub const UTC_OFFSET_VALID: u16 = 1 << 2;
    /// `ptpTimescale`.
    pub const PTP_TIMESCALE: u16 = 1 << 3;
    /// `timeTraceable`.
    pub const TIME_TRACEABLE: u16 = 1 << 4;
    /// `frequencyTraceable`.
    pub const FREQUENCY_TRACEABLE: u16 = 1 << 5;

    /// Whether `bit` is set.
    pub const fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
}

/// The common header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// `majorSdoId` (was `transportSpecific`), the high nibble of byte 0.
    pub sdo_id: u8,
    /// The message type.
    pub message_type: MessageType,
    /// `minorVersionPTP` (1 for 1588-2019, 0 for 2008).
    pub minor_version: u8,
    /// `domainNumber`.
    pub domain: u8,
    /// The flags.
    pub flags: Flags,
    /// `correctionField`, in nanoseconds scaled by 2^16.
    pub correction: i64,
    /// Who sent it.
    pub source_port: PortIdentity,
    /// `sequenceId`.
    pub sequence_id: u16,
    /// `logMessageInterval`.
    pub log_interval: i8,
}

impl Header {
    /// Writes the header at the start of `block` (a message's fixed part, zeroed), with
    /// `messageLength` `len`. Only the low nibbles of `sdo_id` and `minor_version` fit.
    pub(super) fn write<const L: usize>(&self, block: &mut [u8; L], len: u16) {
        let kind = self.message_type as u8;
        field::MESSAGE_TYPE.write(block, [(self.sdo_id << 4) | kind]);
        field::VERSION.write(block, [(self.minor_version << 4) | 2]);
        field::MESSAGE_LENGTH.write(block, len.to_be_bytes());
        field::DOMAIN.write(block, [self.domain]);
        field::FLAGS.write(block, self.flags.0.to_be_bytes());
        field::CORRECTION.write(block, self.correction.to_be_bytes());
        field::SOURCE_PORT.write(block, self.source_port.to_bytes());
        field::SEQUENCE_ID.write(block, self.sequence_id.to_be_bytes());
        field::CONTROL.write(block, [self.message_type.control()]);
        field::LOG_INTERVAL.write(block, self.log_interval.to_be_bytes());
    }
}
