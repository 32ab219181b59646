//! The PTPv2 wire format (IEEE 1588-2008 and 1588-2019): a zero-copy [`PtpPacket`] view
//! with checked accessors, and a plain [`PtpMessage`] that parses and emits.
//!
//! Every message starts with the 34-byte common header; the body depends on the message
//! type. Signaling and Management bodies end in TLVs, walked by [`Tlvs`]. Any malformed
//! input is a [`WireError`], never a panic: every field access goes through a length
//! checked at construction.

use core::fmt;

use crate::time::{Instant, Tai, NANOS_PER_SEC};

/// Length of the common header.
pub const HEADER_LEN: usize = 34;

/// Why bytes are not a PTP message (or a buffer cannot hold one).
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
    /// The output buffer is too small; `needed` bytes are required.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
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
            Self::BufferTooSmall { needed } => write!(f, "buffer too small: {needed} bytes needed"),
        }
    }
}

impl core::error::Error for WireError {}

/// PTP message types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageType {
    /// Event: the master's clock at sending.
    Sync = 0x0,
    /// Event: the slave asks for a delay measurement.
    DelayReq = 0x1,
    /// Event: peer delay request.
    PdelayReq = 0x2,
    /// Event: peer delay response.
    PdelayResp = 0x3,
    /// General: the precise send time of a two-step Sync.
    FollowUp = 0x8,
    /// General: when the master received a Delay_Req.
    DelayResp = 0x9,
    /// General: precise send time of a two-step Pdelay_Resp.
    PdelayRespFollowUp = 0xA,
    /// General: the master's dataset, for the BMCA.
    Announce = 0xB,
    /// General: TLVs between ports.
    Signaling = 0xC,
    /// General: management TLVs.
    Management = 0xD,
}

impl MessageType {
    /// From the header's low nibble.
    pub const fn from_nibble(n: u8) -> Result<Self, WireError> {
        Ok(match n & 0x0F {
            0x0 => Self::Sync,
            0x1 => Self::DelayReq,
            0x2 => Self::PdelayReq,
            0x3 => Self::PdelayResp,
            0x8 => Self::FollowUp,
            0x9 => Self::DelayResp,
            0xA => Self::PdelayRespFollowUp,
            0xB => Self::Announce,
            0xC => Self::Signaling,
            0xD => Self::Management,
            other => return Err(WireError::MessageType(other)),
        })
    }

    /// Event messages are timestamped on the wire and go to UDP port 319.
    pub const fn is_event(self) -> bool {
        (self as u8) < 0x8
    }

    /// The peer-delay messages (Pdelay_Req, Pdelay_Resp, Pdelay_Resp_Follow_Up) measure
    /// one link and go to the link-local peer-delay address, which bridges never
    /// forward (224.0.0.107 over UDP, 01-80-C2-00-00-0E over Ethernet).
    ///
    /// ```
    /// use tempora_core::ptp::wire::MessageType;
    ///
    /// assert!(MessageType::PdelayRespFollowUp.is_peer_delay());
    /// assert!(MessageType::PdelayReq.is_event() && MessageType::PdelayReq.is_peer_delay());
    /// assert!(!MessageType::DelayReq.is_peer_delay() && !MessageType::Sync.is_peer_delay());
    /// ```
    pub const fn is_peer_delay(self) -> bool {
        matches!(
            self,
            Self::PdelayReq | Self::PdelayResp | Self::PdelayRespFollowUp
        )
    }

    /// The smallest `messageLength` of this type (header and fixed body).
    pub const fn min_len(self) -> usize {
        HEADER_LEN
            + match self {
                Self::Sync | Self::DelayReq | Self::FollowUp => 10,
                Self::DelayResp | Self::PdelayReq | Self::PdelayResp | Self::PdelayRespFollowUp => {
                    20
                }
                Self::Announce => 30,
                Self::Signaling => 10,
                Self::Management => 14,
            }
    }
}

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

    fn parse(b: &[u8]) -> Result<Self, WireError> {
        let seconds = u64::from(be_u16(b, 0)?) << 32 | u64::from(be_u32(b, 2)?);
        let nanos = be_u32(b, 6)?;
        if u64::from(nanos) >= NANOS_PER_SEC {
            return Err(WireError::Nanoseconds(nanos));
        }
        Ok(Self { seconds, nanos })
    }

    fn emit(&self, b: &mut [u8]) {
        b[0..2].copy_from_slice(&((self.seconds >> 32) as u16).to_be_bytes());
        b[2..6].copy_from_slice(&(self.seconds as u32).to_be_bytes());
        b[6..10].copy_from_slice(&self.nanos.to_be_bytes());
    }
}

/// A clock's 8-byte identity (usually from a MAC address).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClockIdentity(pub [u8; 8]);

/// A port: its clock and its number on that clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PortIdentity {
    /// The clock.
    pub clock: ClockIdentity,
    /// The port number (1-based).
    pub port: u16,
}

impl PortIdentity {
    fn parse(b: &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            clock: identity(b, 0)?,
            port: be_u16(b, 8)?,
        })
    }

    fn emit(&self, b: &mut [u8]) {
        b[0..8].copy_from_slice(&self.clock.0);
        b[8..10].copy_from_slice(&self.port.to_be_bytes());
    }
}

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

/// A zero-copy view of a PTP message, checked on construction so that every accessor is
/// in bounds.
///
/// ```
/// use tempora_core::ptp::wire::{MessageType, PtpPacket};
///
/// let mut bytes = [0u8; 44];
/// bytes[0] = 0x00; // Sync
/// bytes[1] = 0x02; // PTPv2
/// bytes[3] = 44; // messageLength
/// bytes[31] = 7; // sequenceId
/// let p = PtpPacket::new_checked(&bytes[..]).unwrap();
/// assert_eq!(p.message_type().unwrap(), MessageType::Sync);
/// assert_eq!(p.sequence_id(), 7);
/// assert!(PtpPacket::new_checked(&bytes[..20]).is_err());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct PtpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

fn be_u16(b: &[u8], at: usize) -> Result<u16, WireError> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Ok(u16::from_be_bytes([x, y])),
        _ => Err(WireError::Truncated {
            needed: at + 2,
            got: b.len(),
        }),
    }
}

fn be_u32(b: &[u8], at: usize) -> Result<u32, WireError> {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => Ok(u32::from_be_bytes([w, x, y, z])),
        _ => Err(WireError::Truncated {
            needed: at + 4,
            got: b.len(),
        }),
    }
}

fn identity(b: &[u8], at: usize) -> Result<ClockIdentity, WireError> {
    match b.get(at..at + 8) {
        Some(id) => {
            let mut out = [0u8; 8];
            out.copy_from_slice(id);
            Ok(ClockIdentity(out))
        }
        None => Err(WireError::Truncated {
            needed: at + 8,
            got: b.len(),
        }),
    }
}

fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

impl<T: AsRef<[u8]>> PtpPacket<T> {
    /// Checks the version, the type and that `messageLength` fits both the bytes and
    /// the type's fixed body. Trailing bytes beyond `messageLength` (padding) are allowed.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated {
                needed: HEADER_LEN,
                got: b.len(),
            });
        }
        let version = b[1] & 0x0F;
        if version != 2 {
            return Err(WireError::Version(version));
        }
        let kind = MessageType::from_nibble(b[0])?;
        let declared = be_u16(b, 2)?;
        if usize::from(declared) < kind.min_len() || usize::from(declared) > b.len() {
            return Err(WireError::Length {
                declared,
                available: b.len(),
            });
        }
        Ok(Self { buffer })
    }

    /// The message's bytes, up to `messageLength`.
    pub fn bytes(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let len = usize::from(be_u16(b, 2).unwrap_or(0)).min(b.len());
        &b[..len]
    }

    /// The message type (checked at construction).
    pub fn message_type(&self) -> Result<MessageType, WireError> {
        MessageType::from_nibble(byte(self.bytes(), 0))
    }

    /// `sequenceId`.
    pub fn sequence_id(&self) -> u16 {
        be_u16(self.bytes(), 30).unwrap_or(0)
    }

    /// `domainNumber`.
    pub fn domain(&self) -> u8 {
        byte(self.bytes(), 4)
    }

    /// The header, decoded.
    pub fn header(&self) -> Result<Header, WireError> {
        let b = self.bytes();
        let correction = i64::from(be_u32(b, 8)?) << 32 | i64::from(be_u32(b, 12)?);
        Ok(Header {
            sdo_id: byte(b, 0) >> 4,
            message_type: MessageType::from_nibble(byte(b, 0))?,
            minor_version: byte(b, 1) >> 4,
            domain: byte(b, 4),
            flags: Flags(be_u16(b, 6)?),
            correction,
            source_port: PortIdentity::parse(b.get(20..30).unwrap_or(&[]))?,
            sequence_id: be_u16(b, 30)?,
            log_interval: byte(b, 33) as i8,
        })
    }

    /// The body after the header, up to `messageLength`.
    pub fn body(&self) -> &[u8] {
        self.bytes().get(HEADER_LEN..).unwrap_or(&[])
    }
}

/// The fields of an Announce message that the BMCA compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Announce {
    /// `originTimestamp` (often zero).
    pub origin: WireTimestamp,
    /// `currentUtcOffset` (TAI - UTC, seconds).
    pub utc_offset: i16,
    /// `grandmasterPriority1`.
    pub priority1: u8,
    /// `grandmasterClockQuality.clockClass`.
    pub clock_class: u8,
    /// `grandmasterClockQuality.clockAccuracy`.
    pub clock_accuracy: u8,
    /// `grandmasterClockQuality.offsetScaledLogVariance`.
    pub variance: u16,
    /// `grandmasterPriority2`.
    pub priority2: u8,
    /// `grandmasterIdentity`.
    pub grandmaster: ClockIdentity,
    /// `stepsRemoved`.
    pub steps_removed: u16,
    /// `timeSource`.
    pub time_source: u8,
}

/// A message body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body<'a> {
    /// Sync: the origin time (zero or approximate in two-step mode).
    Sync {
        /// `originTimestamp`.
        origin: WireTimestamp,
    },
    /// Delay_Req.
    DelayReq {
        /// `originTimestamp`.
        origin: WireTimestamp,
    },
    /// Follow_Up.
    FollowUp {
        /// `preciseOriginTimestamp`.
        precise_origin: WireTimestamp,
    },
    /// Delay_Resp.
    DelayResp {
        /// `receiveTimestamp`: when the master received the Delay_Req.
        receive: WireTimestamp,
        /// Whose Delay_Req this answers.
        requesting_port: PortIdentity,
    },
    /// Pdelay_Req.
    PdelayReq {
        /// `originTimestamp`.
        origin: WireTimestamp,
    },
    /// Pdelay_Resp.
    PdelayResp {
        /// `requestReceiptTimestamp`.
        request_receipt: WireTimestamp,
        /// Whose Pdelay_Req this answers.
        requesting_port: PortIdentity,
    },
    /// Pdelay_Resp_Follow_Up.
    PdelayRespFollowUp {
        /// `responseOriginTimestamp`.
        response_origin: WireTimestamp,
        /// Whose Pdelay_Req this answers.
        requesting_port: PortIdentity,
    },
    /// Announce.
    Announce(Announce),
    /// Signaling: a target port and TLVs.
    Signaling {
        /// `targetPortIdentity`.
        target_port: PortIdentity,
        /// The TLVs.
        tlvs: Tlvs<'a>,
    },
    /// Management: a target port, hop counts, an action and TLVs.
    Management {
        /// `targetPortIdentity`.
        target_port: PortIdentity,
        /// `startingBoundaryHops`.
        starting_boundary_hops: u8,
        /// `boundaryHops`.
        boundary_hops: u8,
        /// `actionField` (low nibble).
        action: u8,
        /// The TLVs.
        tlvs: Tlvs<'a>,
    },
}

/// A TLV: type, and its value bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// `tlvType`.
    pub kind: u16,
    /// The value (`lengthField` bytes).
    pub value: &'a [u8],
}

/// The TLVs of a message, walked lazily; a TLV that runs past the end is an error item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlvs<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Tlvs<'a> {
    /// TLVs in `bytes`, whose first byte is at `offset` in the message (for errors).
    pub const fn new(bytes: &'a [u8], offset: usize) -> Self {
        Self { bytes, offset }
    }

    /// The raw TLV bytes.
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = Result<Tlv<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.bytes.is_empty() {
            return None;
        }
        let here = self.offset;
        let parsed = (|| {
            let kind = be_u16(self.bytes, 0).map_err(|_| WireError::Tlv { offset: here })?;
            let len =
                usize::from(be_u16(self.bytes, 2).map_err(|_| WireError::Tlv { offset: here })?);
            let value = self
                .bytes
                .get(4..4 + len)
                .ok_or(WireError::Tlv { offset: here })?;
            Ok((Tlv { kind, value }, 4 + len))
        })();
        match parsed {
            Ok((tlv, used)) => {
                self.bytes = &self.bytes[used..];
                self.offset += used;
                Some(Ok(tlv))
            }
            Err(e) => {
                self.bytes = &[]; // stop after the first error
                Some(Err(e))
            }
        }
    }
}

/// A parsed PTP message: header and body.
///
/// ```
/// use tempora_core::ptp::wire::*;
///
/// let msg = PtpMessage {
///     header: Header {
///         sdo_id: 0,
///         message_type: MessageType::FollowUp,
///         minor_version: 1,
///         domain: 0,
///         flags: Flags(0),
///         correction: 0,
///         source_port: PortIdentity { clock: ClockIdentity([1, 2, 3, 4, 5, 6, 7, 8]), port: 1 },
///         sequence_id: 42,
///         log_interval: -3,
///     },
///     body: Body::FollowUp { precise_origin: WireTimestamp { seconds: 1_700_000_000, nanos: 5 } },
/// };
/// let mut buf = [0u8; 64];
/// let n = msg.emit(&mut buf).unwrap();
/// assert_eq!(n, 44);
/// assert_eq!(PtpMessage::parse(&buf[..n]), Ok(msg));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtpMessage<'a> {
    /// The common header.
    pub header: Header,
    /// The body.
    pub body: Body<'a>,
}

impl<'a> PtpMessage<'a> {
    /// Parses one message (bytes past `messageLength` are ignored).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        let packet = PtpPacket::new_checked(bytes)?;
        let header = packet.header()?;
        // The body borrows from `bytes` itself (not from the view) so the TLVs live 'a.
        let end = usize::from(be_u16(bytes, 2)?);
        let b = bytes.get(HEADER_LEN..end).unwrap_or(&[]);
        let ts = |at: usize| WireTimestamp::parse(b.get(at..at + 10).unwrap_or(&[]));
        let port = |at: usize| PortIdentity::parse(b.get(at..at + 10).unwrap_or(&[]));
        let body = match header.message_type {
            MessageType::Sync => Body::Sync { origin: ts(0)? },
            MessageType::DelayReq => Body::DelayReq { origin: ts(0)? },
            MessageType::FollowUp => Body::FollowUp {
                precise_origin: ts(0)?,
            },
            MessageType::DelayResp => Body::DelayResp {
                receive: ts(0)?,
                requesting_port: port(10)?,
            },
            MessageType::PdelayReq => Body::PdelayReq { origin: ts(0)? },
            MessageType::PdelayResp => Body::PdelayResp {
                request_receipt: ts(0)?,
                requesting_port: port(10)?,
            },
            MessageType::PdelayRespFollowUp => Body::PdelayRespFollowUp {
                response_origin: ts(0)?,
                requesting_port: port(10)?,
            },
            MessageType::Announce => Body::Announce(Announce {
                origin: ts(0)?,
                utc_offset: be_u16(b, 10)? as i16,
                priority1: byte(b, 13),
                clock_class: byte(b, 14),
                clock_accuracy: byte(b, 15),
                variance: be_u16(b, 16)?,
                priority2: byte(b, 18),
                grandmaster: identity(b, 19)?,
                steps_removed: be_u16(b, 27)?,
                time_source: byte(b, 29),
            }),
            MessageType::Signaling => Body::Signaling {
                target_port: port(0)?,
                tlvs: Tlvs::new(b.get(10..).unwrap_or(&[]), HEADER_LEN + 10),
            },
            MessageType::Management => Body::Management {
                target_port: port(0)?,
                starting_boundary_hops: byte(b, 10),
                boundary_hops: byte(b, 11),
                action: byte(b, 12) & 0x0F,
                tlvs: Tlvs::new(b.get(14..).unwrap_or(&[]), HEADER_LEN + 14),
            },
        };
        Ok(Self { header, body })
    }

    /// The bytes [`emit`](Self::emit) writes.
    pub fn len(&self) -> usize {
        match self.body {
            Body::Signaling { tlvs, .. } | Body::Management { tlvs, .. } => {
                self.header.message_type.min_len() + tlvs.bytes().len()
            }
            _ => self.header.message_type.min_len(),
        }
    }

    /// Always false: a message has at least a header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the message into `buf`; returns its length. The header's message type
    /// must agree with the body (a mismatch is [`WireError::MessageType`]).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let h = &self.header;
        let body_type = match self.body {
            Body::Sync { .. } => MessageType::Sync,
            Body::DelayReq { .. } => MessageType::DelayReq,
            Body::FollowUp { .. } => MessageType::FollowUp,
            Body::DelayResp { .. } => MessageType::DelayResp,
            Body::PdelayReq { .. } => MessageType::PdelayReq,
            Body::PdelayResp { .. } => MessageType::PdelayResp,
            Body::PdelayRespFollowUp { .. } => MessageType::PdelayRespFollowUp,
            Body::Announce(_) => MessageType::Announce,
            Body::Signaling { .. } => MessageType::Signaling,
            Body::Management { .. } => MessageType::Management,
        };
        if body_type != h.message_type {
            return Err(WireError::MessageType(h.message_type as u8));
        }
        let len = self.len();
        if len > usize::from(u16::MAX) {
            return Err(WireError::Length {
                declared: u16::MAX,
                available: len,
            });
        }
        let Some(out) = buf.get_mut(..len) else {
            return Err(WireError::BufferTooSmall { needed: len });
        };
        out.fill(0);
        out[0] = (h.sdo_id << 4) | (h.message_type as u8);
        out[1] = (h.minor_version << 4) | 2;
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        out[4] = h.domain;
        out[6..8].copy_from_slice(&h.flags.0.to_be_bytes());
        out[8..16].copy_from_slice(&h.correction.to_be_bytes());
        h.source_port.emit(&mut out[20..30]);
        out[30..32].copy_from_slice(&h.sequence_id.to_be_bytes());
        out[32] = match h.message_type {
            MessageType::Sync => 0,
            MessageType::DelayReq => 1,
            MessageType::FollowUp => 2,
            MessageType::DelayResp => 3,
            MessageType::Management => 4,
            _ => 5,
        };
        out[33] = h.log_interval as u8;
        let b = &mut out[HEADER_LEN..];
        match self.body {
            Body::Sync { origin } | Body::DelayReq { origin } | Body::PdelayReq { origin } => {
                origin.emit(&mut b[0..10])
            }
            Body::FollowUp { precise_origin } => precise_origin.emit(&mut b[0..10]),
            Body::DelayResp {
                receive: t,
                requesting_port: p,
            }
            | Body::PdelayResp {
                request_receipt: t,
                requesting_port: p,
            }
            | Body::PdelayRespFollowUp {
                response_origin: t,
                requesting_port: p,
            } => {
                t.emit(&mut b[0..10]);
                p.emit(&mut b[10..20]);
            }
            Body::Announce(a) => {
                a.origin.emit(&mut b[0..10]);
                b[10..12].copy_from_slice(&a.utc_offset.to_be_bytes());
                b[13] = a.priority1;
                b[14] = a.clock_class;
                b[15] = a.clock_accuracy;
                b[16..18].copy_from_slice(&a.variance.to_be_bytes());
                b[18] = a.priority2;
                b[19..27].copy_from_slice(&a.grandmaster.0);
                b[27..29].copy_from_slice(&a.steps_removed.to_be_bytes());
                b[29] = a.time_source;
            }
            Body::Signaling { target_port, tlvs } => {
                target_port.emit(&mut b[0..10]);
                b[10..].copy_from_slice(tlvs.bytes());
            }
            Body::Management {
                target_port,
                starting_boundary_hops,
                boundary_hops,
                action,
                tlvs,
            } => {
                target_port.emit(&mut b[0..10]);
                b[10] = starting_boundary_hops;
                b[11] = boundary_hops;
                b[12] = action & 0x0F;
                b[14..].copy_from_slice(tlvs.bytes());
            }
        }
        Ok(len)
    }
}
