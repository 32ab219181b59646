//! Where every field sits: the one place that defines a byte range, read by the view and
//! the parser and written by the emitter, so the two directions cannot drift apart.
//!
//! Offsets are from the start of the message (IEEE 1588-2019 tables 35-45), except in
//! [`timestamp`], [`port_identity`] and [`tlv`], which lay out a structure wherever it sits.

/// `LEN` bytes at offset `AT`. Both are in the type, so a 2-byte field cannot be read into
/// a `u32`, and a field that does not fit the block it is read from does not compile.
#[derive(Clone, Copy, Debug)]
pub struct Field<const AT: usize, const LEN: usize>;

impl<const AT: usize, const LEN: usize> Field<AT, LEN> {
    /// The first byte after the field.
    pub const fn end(self) -> usize {
        AT + LEN
    }

    /// Reads the field from a block that holds it; the bound is checked at compile time,
    /// so there is no runtime check and no panic.
    #[inline(always)]
    pub fn read<const L: usize>(self, block: &[u8; L]) -> [u8; LEN] {
        const { assert!(AT + LEN <= L, "field past the end of its block") };
        // Both bounds are constants, so this folds to a plain load; the zeros are dead.
        match block.get(AT..).and_then(<[u8]>::first_chunk) {
            Some(field) => *field,
            None => [0; LEN],
        }
    }

    /// Writes the field into a block that holds it (checked at compile time).
    #[inline(always)]
    pub fn write<const L: usize>(self, block: &mut [u8; L], value: [u8; LEN]) {
        const { assert!(AT + LEN <= L, "field past the end of its block") };
        if let Some(field) = block.get_mut(AT..).and_then(<[u8]>::first_chunk_mut) {
            *field = value;
        }
    }

    /// Reads the field from bytes whose length is only known at run time.
    #[inline(always)]
    pub fn get(self, bytes: &[u8]) -> Option<[u8; LEN]> {
        bytes.get(AT..)?.first_chunk().copied()
    }
}

// The common header (table 35).

/// `majorSdoId` (high nibble) and `messageType` (low nibble).
pub const MESSAGE_TYPE: Field<0, 1> = Field;
/// `minorVersionPTP` (high nibble) and `versionPTP` (low nibble).
pub const VERSION: Field<1, 1> = Field;
/// `messageLength`: header, body and TLVs.
pub const MESSAGE_LENGTH: Field<2, 2> = Field;
/// `domainNumber`.
pub const DOMAIN: Field<4, 1> = Field;
/// `flagField`.
pub const FLAGS: Field<6, 2> = Field;
/// `correctionField`.
pub const CORRECTION: Field<8, 8> = Field;
/// `sourcePortIdentity`.
pub const SOURCE_PORT: Field<20, 10> = Field;
/// `sequenceId`.
pub const SEQUENCE_ID: Field<30, 2> = Field;
/// `controlField` (deprecated, still sent for 1588-2008 receivers).
pub const CONTROL: Field<32, 1> = Field;
/// `logMessageInterval`.
pub const LOG_INTERVAL: Field<33, 1> = Field;

/// Length of the common header.
pub const HEADER_LEN: usize = LOG_INTERVAL.end();

// Bodies (tables 36-45).

/// Every body but Signaling's and Management's starts with its timestamp (`originTimestamp`,
/// `preciseOriginTimestamp`, `receiveTimestamp`, `requestReceiptTimestamp` or
/// `responseOriginTimestamp`).
pub const TIMESTAMP: Field<34, 10> = Field;
/// `requestingPortIdentity` (Delay_Resp, Pdelay_Resp, Pdelay_Resp_Follow_Up). Pdelay_Req
/// leaves these bytes reserved so it is as long as the reply it asks for.
pub const REQUESTING_PORT: Field<44, 10> = Field;
/// `targetPortIdentity` (Signaling, Management).
pub const TARGET_PORT: Field<34, 10> = Field;

/// Announce: `currentUtcOffset`.
pub const UTC_OFFSET: Field<44, 2> = Field;
/// Announce: `grandmasterPriority1` (byte 46 is reserved).
pub const PRIORITY1: Field<47, 1> = Field;
/// Announce: `grandmasterClockQuality.clockClass`.
pub const CLOCK_CLASS: Field<48, 1> = Field;
/// Announce: `grandmasterClockQuality.clockAccuracy`.
pub const CLOCK_ACCURACY: Field<49, 1> = Field;
/// Announce: `grandmasterClockQuality.offsetScaledLogVariance`.
pub const VARIANCE: Field<50, 2> = Field;
/// Announce: `grandmasterPriority2`.
pub const PRIORITY2: Field<52, 1> = Field;
/// Announce: `grandmasterIdentity`.
pub const GRANDMASTER: Field<53, 8> = Field;
/// Announce: `stepsRemoved`.
pub const STEPS_REMOVED: Field<61, 2> = Field;
/// Announce: `timeSource`.
pub const TIME_SOURCE: Field<63, 1> = Field;

/// Management: `startingBoundaryHops`.
pub const STARTING_BOUNDARY_HOPS: Field<44, 1> = Field;
/// Management: `boundaryHops`.
pub const BOUNDARY_HOPS: Field<45, 1> = Field;
/// Management: `actionField` (low nibble; byte 47 is reserved).
pub const ACTION: Field<46, 1> = Field;

/// Sync, Delay_Req and Follow_Up: header and timestamp.
pub const TIMESTAMP_MESSAGE_LEN: usize = TIMESTAMP.end();
/// Delay_Resp and the three peer-delay messages: header, timestamp and a port identity.
pub const PORT_MESSAGE_LEN: usize = REQUESTING_PORT.end();
/// Announce.
pub const ANNOUNCE_LEN: usize = TIME_SOURCE.end();
/// Where Signaling's TLVs start.
pub const SIGNALING_TLVS: usize = TARGET_PORT.end();
/// Where Management's TLVs start (after the reserved byte that follows `actionField`).
pub const MANAGEMENT_TLVS: usize = ACTION.end() + 1;

/// A `Timestamp` (5.3.3): 48-bit seconds, then nanoseconds.
pub mod timestamp {
    use super::Field;

    /// `secondsField`, 48 bits.
    pub const SECONDS: Field<0, 6> = Field;
    /// `nanosecondsField`.
    pub const NANOS: Field<6, 4> = Field;
    /// The whole timestamp.
    pub const LEN: usize = NANOS.end();
}

/// A `PortIdentity` (5.3.5): clock identity, then port number.
pub mod port_identity {
    use super::Field;

    /// `clockIdentity`.
    pub const CLOCK: Field<0, 8> = Field;
    /// `portNumber`.
    pub const PORT: Field<8, 2> = Field;
    /// The whole port identity.
    pub const LEN: usize = PORT.end();
}

/// A TLV (14.1): type, length, then `length` bytes of value.
pub mod tlv {
    use super::Field;

    /// `tlvType`.
    pub const TYPE: Field<0, 2> = Field;
    /// `lengthField`: bytes of value.
    pub const LENGTH: Field<2, 2> = Field;
    /// Where the value starts.
    pub const VALUE: usize = LENGTH.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_structures_fit_their_fields() {
        assert_eq!(timestamp::LEN, 10);
        assert_eq!(port_identity::LEN, 10);
        assert_eq!(TIMESTAMP.end() - 34, timestamp::LEN);
        assert_eq!(SOURCE_PORT.end() - 20, port_identity::LEN);
        assert_eq!(REQUESTING_PORT.end() - 44, port_identity::LEN);
        assert_eq!(TARGET_PORT.end() - 34, port_identity::LEN);
    }

    #[test]
    fn lengths_are_the_standards() {
        assert_eq!(HEADER_LEN, 34);
        assert_eq!(TIMESTAMP_MESSAGE_LEN, 44);
        assert_eq!(PORT_MESSAGE_LEN, 54);
        assert_eq!(ANNOUNCE_LEN, 64);
        assert_eq!(SIGNALING_TLVS, 44);
        assert_eq!(MANAGEMENT_TLVS, 48);
    }

    #[test]
    fn read_write_and_get_agree() {
        let mut block = [0u8; 12];
        Field::<3, 4>.write(&mut block, [1, 2, 3, 4]);
        assert_eq!(block, [0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0]);
        assert_eq!(Field::<3, 4>.read(&block), [1, 2, 3, 4]);
        assert_eq!(Field::<3, 4>.get(&block), Some([1, 2, 3, 4]));
        assert_eq!(Field::<3, 4>.get(&block[..6]), None);
        assert_eq!(Field::<13, 1>.get(&block), None);
    }
}
