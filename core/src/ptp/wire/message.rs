//! A message as plain data ([`PtpMessage`]): parsed from bytes through the checked view,
//! and emitted back into a buffer. Bodies are read from and written to fixed-size blocks,
//! one length check per message, so every field access below is checked at compile time.

use core::fmt;

use super::field;
use super::{
    ClockIdentity, Header, MessageType, PortIdentity, PtpPacket, Tlvs, WireError, WireTimestamp,
};

/// Why a message was not written (the buffer is then as it was). Apart from
/// [`WireError`]: a sender can meet these and a receiver cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EmitError {
    /// The buffer is shorter than the message.
    BufferTooSmall {
        /// Bytes the message needs.
        needed: usize,
    },
    /// The header's message type is not the body's.
    TypeMismatch {
        /// The header's type.
        header: MessageType,
        /// The body's type.
        body: MessageType,
    },
    /// The TLVs make the message longer than `messageLength` can say (65 535 bytes).
    TooLong {
        /// The message's length.
        len: usize,
    },
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed } => {
                write!(f, "buffer too small: {needed} bytes needed")
            }
            Self::TypeMismatch { header, body } => {
                write!(f, "header says {header}, body is {body}")
            }
            Self::TooLong { len } => {
                write!(
                    f,
                    "PTP message of {len} bytes, longer than messageLength allows"
                )
            }
        }
    }
}

impl core::error::Error for EmitError {}

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

impl<'a> Body<'a> {
    /// The message type this body belongs to.
    pub const fn message_type(&self) -> MessageType {
        match self {
            Self::Sync { .. } => MessageType::Sync,
            Self::DelayReq { .. } => MessageType::DelayReq,
            Self::FollowUp { .. } => MessageType::FollowUp,
            Self::DelayResp { .. } => MessageType::DelayResp,
            Self::PdelayReq { .. } => MessageType::PdelayReq,
            Self::PdelayResp { .. } => MessageType::PdelayResp,
            Self::PdelayRespFollowUp { .. } => MessageType::PdelayRespFollowUp,
            Self::Announce(_) => MessageType::Announce,
            Self::Signaling { .. } => MessageType::Signaling,
            Self::Management { .. } => MessageType::Management,
        }
    }

    /// The TLVs, for the two types that have them.
    const fn tlvs(&self) -> Option<Tlvs<'a>> {
        match self {
            Self::Signaling { tlvs, .. } | Self::Management { tlvs, .. } => Some(*tlvs),
            _ => None,
        }
    }

    /// Decodes the body of `msg` (the message up to `messageLength`) as a `kind`.
    fn parse(kind: MessageType, msg: &'a [u8]) -> Result<Self, WireError> {
        Ok(match kind {
            MessageType::Sync => Self::Sync {
                origin: timestamp(fixed::<{ field::TIMESTAMP_MESSAGE_LEN }>(msg)?)?,
            },
            MessageType::DelayReq => Self::DelayReq {
                origin: timestamp(fixed::<{ field::TIMESTAMP_MESSAGE_LEN }>(msg)?)?,
            },
            MessageType::FollowUp => Self::FollowUp {
                precise_origin: timestamp(fixed::<{ field::TIMESTAMP_MESSAGE_LEN }>(msg)?)?,
            },
            MessageType::PdelayReq => Self::PdelayReq {
                origin: timestamp(fixed::<{ field::PORT_MESSAGE_LEN }>(msg)?)?,
            },
            MessageType::DelayResp => {
                let b = fixed::<{ field::PORT_MESSAGE_LEN }>(msg)?;
                Self::DelayResp {
                    receive: timestamp(b)?,
                    requesting_port: PortIdentity::from_bytes(field::REQUESTING_PORT.read(b)),
                }
            }
            MessageType::PdelayResp => {
                let b = fixed::<{ field::PORT_MESSAGE_LEN }>(msg)?;
                Self::PdelayResp {
                    request_receipt: timestamp(b)?,
                    requesting_port: PortIdentity::from_bytes(field::REQUESTING_PORT.read(b)),
                }
            }
            MessageType::PdelayRespFollowUp => {
                let b = fixed::<{ field::PORT_MESSAGE_LEN }>(msg)?;
                Self::PdelayRespFollowUp {
                    response_origin: timestamp(b)?,
                    requesting_port: PortIdentity::from_bytes(field::REQUESTING_PORT.read(b)),
                }
            }
            MessageType::Announce => {
                let b = fixed::<{ field::ANNOUNCE_LEN }>(msg)?;
                let [priority1] = field::PRIORITY1.read(b);
                let [clock_class] = field::CLOCK_CLASS.read(b);
                let [clock_accuracy] = field::CLOCK_ACCURACY.read(b);
                let [priority2] = field::PRIORITY2.read(b);
                let [time_source] = field::TIME_SOURCE.read(b);
                Self::Announce(Announce {
                    origin: timestamp(b)?,
                    utc_offset: i16::from_be_bytes(field::UTC_OFFSET.read(b)),
                    priority1,
                    clock_class,
                    clock_accuracy,
                    variance: u16::from_be_bytes(field::VARIANCE.read(b)),
                    priority2,
                    grandmaster: ClockIdentity(field::GRANDMASTER.read(b)),
                    steps_removed: u16::from_be_bytes(field::STEPS_REMOVED.read(b)),
                    time_source,
                })
            }
            MessageType::Signaling => {
                let b = fixed::<{ field::SIGNALING_TLVS }>(msg)?;
                Self::Signaling {
                    target_port: PortIdentity::from_bytes(field::TARGET_PORT.read(b)),
                    tlvs: tlvs_from(msg, field::SIGNALING_TLVS),
                }
            }
            MessageType::Management => {
                let b = fixed::<{ field::MANAGEMENT_TLVS }>(msg)?;
                let [starting_boundary_hops] = field::STARTING_BOUNDARY_HOPS.read(b);
                let [boundary_hops] = field::BOUNDARY_HOPS.read(b);
                let [action] = field::ACTION.read(b);
                Self::Management {
                    target_port: PortIdentity::from_bytes(field::TARGET_PORT.read(b)),
                    starting_boundary_hops,
                    boundary_hops,
                    action: action & 0x0F,
                    tlvs: tlvs_from(msg, field::MANAGEMENT_TLVS),
                }
            }
        })
    }

    /// Writes the header and the fixed body into the start of `out`, each type into a
    /// block of its own length; `None` if `out` is shorter than that.
    fn emit(&self, header: &Header, out: &mut [u8], declared: u16) -> Option<()> {
        match *self {
            Self::Sync { origin } | Self::DelayReq { origin } => {
                let b = block::<{ field::TIMESTAMP_MESSAGE_LEN }>(out, header, declared)?;
                field::TIMESTAMP.write(b, origin.to_bytes());
            }
            Self::FollowUp { precise_origin } => {
                let b = block::<{ field::TIMESTAMP_MESSAGE_LEN }>(out, header, declared)?;
                field::TIMESTAMP.write(b, precise_origin.to_bytes());
            }
            Self::PdelayReq { origin } => {
                let b = block::<{ field::PORT_MESSAGE_LEN }>(out, header, declared)?;
                field::TIMESTAMP.write(b, origin.to_bytes());
            }
            Self::DelayResp {
                receive: t,
                requesting_port: p,
            }
            | Self::PdelayResp {
                request_receipt: t,
                requesting_port: p,
            }
            | Self::PdelayRespFollowUp {
                response_origin: t,
                requesting_port: p,
            } => {
                let b = block::<{ field::PORT_MESSAGE_LEN }>(out, header, declared)?;
                field::TIMESTAMP.write(b, t.to_bytes());
                field::REQUESTING_PORT.write(b, p.to_bytes());
            }
            Self::Announce(a) => {
                let b = block::<{ field::ANNOUNCE_LEN }>(out, header, declared)?;
                field::TIMESTAMP.write(b, a.origin.to_bytes());
                field::UTC_OFFSET.write(b, a.utc_offset.to_be_bytes());
                field::PRIORITY1.write(b, [a.priority1]);
                field::CLOCK_CLASS.write(b, [a.clock_class]);
                field::CLOCK_ACCURACY.write(b, [a.clock_accuracy]);
                field::VARIANCE.write(b, a.variance.to_be_bytes());
                field::PRIORITY2.write(b, [a.priority2]);
                field::GRANDMASTER.write(b, a.grandmaster.0);
                field::STEPS_REMOVED.write(b, a.steps_removed.to_be_bytes());
                field::TIME_SOURCE.write(b, [a.time_source]);
            }
            Self::Signaling { target_port, .. } => {
                let b = block::<{ field::SIGNALING_TLVS }>(out, header, declared)?;
                field::TARGET_PORT.write(b, target_port.to_bytes());
            }
            Self::Management {
                target_port,
                starting_boundary_hops,
                boundary_hops,
                action,
                ..
            } => {
                let b = block::<{ field::MANAGEMENT_TLVS }>(out, header, declared)?;
                field::TARGET_PORT.write(b, target_port.to_bytes());
                field::STARTING_BOUNDARY_HOPS.write(b, [starting_boundary_hops]);
                field::BOUNDARY_HOPS.write(b, [boundary_hops]);
                field::ACTION.write(b, [action & 0x0F]);
            }
        }
        Some(())
    }
}

/// The first `L` bytes of `out`, zeroed (reserved fields are zero) and with the header
/// written; `None` if `out` is shorter.
fn block<'b, const L: usize>(
    out: &'b mut [u8],
    header: &Header,
    declared: u16,
) -> Option<&'b mut [u8; L]> {
    let block: &mut [u8; L] = out.first_chunk_mut()?;
    *block = [0; L];
    header.write(block, declared);
    Some(block)
}

/// The first `L` bytes of the message, as a block whose fields can be read without
/// further checks. The view has checked `messageLength` against the type, so this does
/// not fail after `new_checked`; it stays a typed error rather than an assumption.
fn fixed<const L: usize>(msg: &[u8]) -> Result<&[u8; L], WireError> {
    msg.first_chunk().ok_or(WireError::Truncated {
        needed: L,
        got: msg.len(),
    })
}

/// The timestamp every timed body starts with.
fn timestamp<const L: usize>(block: &[u8; L]) -> Result<WireTimestamp, WireError> {
    WireTimestamp::from_bytes(field::TIMESTAMP.read(block))
}

/// The TLVs from `start` to the end of the message (none if the message ends first).
fn tlvs_from(msg: &[u8], start: usize) -> Tlvs<'_> {
    Tlvs::new(msg.get(start..).unwrap_or(&[]), start)
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
/// assert_eq!(msg.emit(&mut buf[..43]), Err(EmitError::BufferTooSmall { needed: 44 }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtpMessage<'a> {
    /// The common header.
    pub header: Header,
    /// The body.
    pub body: Body<'a>,
}

impl<'a> PtpMessage<'a> {
    /// Parses one message (bytes past `messageLength` are ignored). Every check is
    /// [`PtpPacket::new_checked`]'s; TLVs are checked as they are walked.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        let packet = PtpPacket::new_checked(bytes)?;
        let header = packet.header();
        // The body borrows `bytes` itself, not the view, so that the TLVs live for 'a.
        let len = usize::from(packet.message_len());
        let msg = bytes.get(..len).ok_or(WireError::Length {
            declared: packet.message_len(),
            available: bytes.len(),
        })?;
        let body = Body::parse(header.message_type, msg)?;
        Ok(Self { header, body })
    }

    /// The bytes [`emit`](Self::emit) writes.
    pub fn len(&self) -> usize {
        let tlvs = self.body.tlvs().map_or(0, |t| t.bytes().len());
        self.body.message_type().min_len() + tlvs
    }

    /// Always false: a message has at least a header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the message into the start of `buf` and returns its length. A buffer too
    /// small or a header whose type is not the body's is found before anything is written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let body = self.body.message_type();
        if body != self.header.message_type {
            return Err(EmitError::TypeMismatch {
                header: self.header.message_type,
                body,
            });
        }
        let len = self.len();
        let declared = u16::try_from(len).map_err(|_| EmitError::TooLong { len })?;
        let too_small = EmitError::BufferTooSmall { needed: len };
        let out = buf.get_mut(..len).ok_or(too_small)?;
        self.body
            .emit(&self.header, out, declared)
            .ok_or(too_small)?;
        if let Some(tlvs) = self.body.tlvs() {
            let start = body.min_len();
            let end = start + tlvs.bytes().len();
            // Exactly as long as the TLVs, so the copy cannot fail.
            out.get_mut(start..end)
                .ok_or(too_small)?
                .copy_from_slice(tlvs.bytes());
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn emit_errors_say_what_is_wrong() {
        assert_eq!(
            EmitError::BufferTooSmall { needed: 44 }.to_string(),
            "buffer too small: 44 bytes needed"
        );
        assert_eq!(
            EmitError::TypeMismatch {
                header: MessageType::Sync,
                body: MessageType::FollowUp
            }
            .to_string(),
            "header says Sync, body is Follow_Up"
        );
        assert_eq!(
            EmitError::TooLong { len: 65_536 }.to_string(),
            "PTP message of 65536 bytes, longer than messageLength allows"
        );
    }
}
