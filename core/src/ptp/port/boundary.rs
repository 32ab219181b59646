//! The port's wire boundary: wire timestamps and correction fields become typed time
//! here, once, and outgoing messages become packets (with a send context for event
//! messages).

use crate::ptp::wire::{Flags, Header, MessageType, PtpMessage, WireTimestamp};
use crate::time::{Instant, Offset, Tai};

use super::action::{Action, Actions, Ignored, Packet, SendContext, MAX_PACKET};
use super::config::PortConfig;

/// A received wire timestamp as local time; [`Ignored::TimeOutOfRange`] past the year
/// 2554 (48-bit seconds reach far beyond 64-bit nanoseconds).
pub(super) fn instant(t: WireTimestamp) -> Result<Instant<Tai>, Ignored> {
    t.to_instant().ok_or(Ignored::TimeOutOfRange)
}

/// A `correctionField` (ns scaled by 2^16) in whole nanoseconds, rounded toward zero.
/// At most ±2^47 ns, so sums of a few never overflow an [`Offset`].
pub(super) fn correction(scaled: i64) -> Offset {
    Offset::from_nanos(scaled / 65_536)
}

/// The header of a message this port sends.
pub(super) fn header(
    config: &PortConfig,
    message_type: MessageType,
    sequence_id: u16,
    log_interval: i8,
) -> Header {
    let mut flags = 0;
    if config.two_step && message_type == MessageType::Sync {
        flags |= Flags::TWO_STEP;
    }
    if message_type == MessageType::Announce {
        flags |= Flags::PTP_TIMESCALE;
        if config.announced_utc_offset().is_some() {
            flags |= Flags::UTC_OFFSET_VALID;
        }
    }
    Header {
        sdo_id: config.sdo_id,
        message_type,
        minor_version: 1,
        domain: config.domain,
        flags: Flags(flags),
        correction: 0,
        source_port: config.identity,
        sequence_id,
        log_interval,
    }
}

/// Puts `message` out as a [`Action::Send`]; an event message gets a [`SendContext`] of
/// the port's current `generation`.
pub(super) fn send(out: &mut Actions, message: &PtpMessage<'_>, generation: u32) {
    let mut bytes = heapless::Vec::<u8, MAX_PACKET>::new();
    let _ = bytes.resize_default(MAX_PACKET);
    if let Ok(n) = message.emit(&mut bytes) {
        bytes.truncate(n);
        let (message_type, sequence_id) = (message.header.message_type, message.header.sequence_id);
        let context = message_type.is_event().then_some(SendContext {
            message_type,
            sequence_id,
            generation,
        });
        let _ = out.push(Action::Send {
            packet: Packet {
                message_type,
                sequence_id,
                bytes,
            },
            context,
        });
    }
}
