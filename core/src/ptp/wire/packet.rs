//! The zero-copy view: check once in [`PtpPacket::new_checked`], then read any field with
//! no error to handle, the way a receive path wants to look at a sequence id or a
//! timestamp before (or instead of) decoding the whole message.

use super::field;
use super::{
    ClockIdentity, Flags, Header, MessageType, PortIdentity, Tlvs, WireError, WireTimestamp,
    HEADER_LEN,
};

/// A zero-copy view of a PTP message. [`new_checked`](Self::new_checked) validates all
/// the accessors rely on (version, type, `messageLength` against the bytes and the type's
/// body, the body's timestamp), so none of them can fail.
///
/// ```
/// use tempora_core::ptp::wire::{MessageType, PtpPacket, WireTimestamp};
///
/// let mut bytes = [0u8; 44];
/// bytes[0] = 0x00; // Sync
/// bytes[1] = 0x02; // PTPv2
/// bytes[3] = 44; // messageLength
/// bytes[31] = 7; // sequenceId
/// bytes[39] = 1; // originTimestamp: 1 s
/// let p = PtpPacket::new_checked(&bytes[..]).unwrap();
/// assert_eq!(p.message_type(), MessageType::Sync);
/// assert_eq!(p.sequence_id(), 7);
/// assert_eq!(p.timestamp(), Some(WireTimestamp { seconds: 1, nanos: 0 }));
/// assert!(PtpPacket::new_checked(&bytes[..20]).is_err());
/// assert!(PtpPacket::new_checked(&bytes[..43]).is_err()); // messageLength says 44
/// ```
#[derive(Clone, Copy, Debug)]
pub struct PtpPacket<T: AsRef<[u8]>> {
    buffer: T,
    /// Decoded once by `new_checked`, so the accessors need not decode (and fail) again.
    message_type: MessageType,
}

impl<T: AsRef<[u8]>> PtpPacket<T> {
    /// Checks, in this order: the header is there, `versionPTP` is 2, the type is one
    /// IEEE 1588 defines, `messageLength` covers the type's fixed body and no more than
    /// the bytes, and the body's timestamp (if the type has one) has nanoseconds below
    /// 10^9. Bytes past `messageLength` (padding) are allowed and ignored.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        let Some(h) = b.first_chunk::<HEADER_LEN>() else {
            return Err(WireError::Truncated {
                needed: HEADER_LEN,
                got: b.len(),
            });
        };
        let [version] = field::VERSION.read(h);
        if version & 0x0F != 2 {
            return Err(WireError::Version(version & 0x0F));
        }
        let [kind] = field::MESSAGE_TYPE.read(h);
        let message_type = MessageType::from_nibble(kind)?;
        let declared = u16::from_be_bytes(field::MESSAGE_LENGTH.read(h));
        let len = usize::from(declared);
        if len < message_type.min_len() || len > b.len() {
            return Err(WireError::Length {
                declared,
                available: b.len(),
            });
        }
        if message_type.has_timestamp() {
            let t = field::TIMESTAMP.get(b).ok_or(WireError::Truncated {
                needed: field::TIMESTAMP.end(),
                got: b.len(),
            })?;
            WireTimestamp::from_bytes(t)?;
        }
        Ok(Self {
            buffer,
            message_type,
        })
    }

    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The header, which `new_checked` found. The zeros stand in only if `T::as_ref` has
    /// since returned fewer bytes than it did then, which no sane `AsRef` does: a wrong
    /// answer there beats a panic.
    fn header_bytes(&self) -> &[u8; HEADER_LEN] {
        const GONE: [u8; HEADER_LEN] = [0; HEADER_LEN];
        self.buffer.as_ref().first_chunk().unwrap_or(&GONE)
    }

    /// The message's bytes, up to `messageLength`.
    pub fn bytes(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(..usize::from(self.message_len())).unwrap_or(b)
    }

    /// The body after the header, up to `messageLength`.
    pub fn body(&self) -> &[u8] {
        self.bytes().get(HEADER_LEN..).unwrap_or(&[])
    }

    /// The message type.
    pub fn message_type(&self) -> MessageType {
        self.message_type
    }

    /// `majorSdoId`.
    pub fn sdo_id(&self) -> u8 {
        let [b] = field::MESSAGE_TYPE.read(self.header_bytes());
        b >> 4
    }

    /// `minorVersionPTP`.
    pub fn minor_version(&self) -> u8 {
        let [b] = field::VERSION.read(self.header_bytes());
        b >> 4
    }

    /// `messageLength`: header, body and TLVs, without padding.
    pub fn message_len(&self) -> u16 {
        u16::from_be_bytes(field::MESSAGE_LENGTH.read(self.header_bytes()))
    }

    /// `domainNumber`.
    pub fn domain(&self) -> u8 {
        let [b] = field::DOMAIN.read(self.header_bytes());
        b
    }

    /// The flags.
    pub fn flags(&self) -> Flags {
        Flags(u16::from_be_bytes(field::FLAGS.read(self.header_bytes())))
    }

    /// `correctionField`, in nanoseconds scaled by 2^16.
    pub fn correction(&self) -> i64 {
        i64::from_be_bytes(field::CORRECTION.read(self.header_bytes()))
    }

    /// `sourcePortIdentity`.
    pub fn source_port(&self) -> PortIdentity {
        PortIdentity::from_bytes(field::SOURCE_PORT.read(self.header_bytes()))
    }

    /// `sequenceId`.
    pub fn sequence_id(&self) -> u16 {
        u16::from_be_bytes(field::SEQUENCE_ID.read(self.header_bytes()))
    }

    /// `logMessageInterval`.
    pub fn log_interval(&self) -> i8 {
        i8::from_be_bytes(field::LOG_INTERVAL.read(self.header_bytes()))
    }

    /// The header, decoded.
    pub fn header(&self) -> Header {
        Header {
            sdo_id: self.sdo_id(),
            message_type: self.message_type,
            minor_version: self.minor_version(),
            domain: self.domain(),
            flags: self.flags(),
            correction: self.correction(),
            source_port: self.source_port(),
            sequence_id: self.sequence_id(),
            log_interval: self.log_interval(),
        }
    }

    /// The timestamp the body starts with (`originTimestamp` of a Sync,
    /// `preciseOriginTimestamp` of a Follow_Up, `receiveTimestamp` of a Delay_Resp...);
    /// `None` for Signaling and Management, which have none.
    pub fn timestamp(&self) -> Option<WireTimestamp> {
        if !self.message_type.has_timestamp() {
            return None;
        }
        WireTimestamp::from_bytes(field::TIMESTAMP.get(self.bytes())?).ok()
    }

    /// `requestingPortIdentity` of a Delay_Resp, Pdelay_Resp or Pdelay_Resp_Follow_Up.
    pub fn requesting_port(&self) -> Option<PortIdentity> {
        if !self.message_type.has_requesting_port() {
            return None;
        }
        field::REQUESTING_PORT
            .get(self.bytes())
            .map(PortIdentity::from_bytes)
    }

    /// `targetPortIdentity` of a Signaling or Management message.
    pub fn target_port(&self) -> Option<PortIdentity> {
        match self.message_type {
            MessageType::Signaling | MessageType::Management => field::TARGET_PORT
                .get(self.bytes())
                .map(PortIdentity::from_bytes),
            _ => None,
        }
    }

    /// `grandmasterIdentity` of an Announce: enough to tell masters apart without
    /// decoding the whole dataset.
    pub fn grandmaster(&self) -> Option<ClockIdentity> {
        match self.message_type {
            MessageType::Announce => field::GRANDMASTER.get(self.bytes()).map(ClockIdentity),
            _ => None,
        }
    }

    /// The TLVs of a Signaling or Management message.
    pub fn tlvs(&self) -> Option<Tlvs<'_>> {
        let start = match self.message_type {
            MessageType::Signaling => field::SIGNALING_TLVS,
            MessageType::Management => field::MANAGEMENT_TLVS,
            _ => return None,
        };
        Some(Tlvs::new(self.bytes().get(start..)?, start))
    }
}
