//! PTP directly over Ethernet (IEEE 1588 annex F): the frame around a message, for a
//! MAC driver that has no IP stack.
//!
//! Frames carry ethertype 0x88F7. Messages go to the PTP primary address
//! 01-1B-19-00-00-00, the peer-delay messages (Pdelay_Req, Pdelay_Resp,
//! Pdelay_Resp_Follow_Up) to 01-80-C2-00-00-0E, which bridges do not forward. A MAC must
//! accept both multicast addresses (or all multicast) to hear them.
//!
//! ```
//! use tempora_core::ptp::ethernet::{self, PTP_ETHERTYPE};
//! use tempora_core::ptp::wire::MessageType;
//!
//! let me = [0x02, 0, 0, 0, 0, 1];
//! let frame = ethernet::frame(me, MessageType::Sync, &[0xAB; 44]).unwrap();
//! assert_eq!(frame.len(), 60); // padded to Ethernet's minimum (without the FCS)
//! assert_eq!(frame[12..14], PTP_ETHERTYPE.to_be_bytes());
//! // A receiver takes the message back out; the padding stays (the parser reads the
//! // header's messageLength).
//! assert_eq!(&ethernet::payload(&frame).unwrap()[..44], &[0xAB; 44]);
//! ```

use super::port::MAX_PACKET;
use super::wire::MessageType;

/// The PTP ethertype.
pub const PTP_ETHERTYPE: u16 = 0x88F7;
/// Destination of all but the peer-delay messages.
pub const PTP_PRIMARY_MAC: [u8; 6] = [0x01, 0x1B, 0x19, 0x00, 0x00, 0x00];
/// Destination of the peer-delay messages (link-local: never forwarded by bridges).
pub const PTP_PDELAY_MAC: [u8; 6] = [0x01, 0x80, 0xC2, 0x00, 0x00, 0x0E];
/// Destination, source and ethertype.
pub const HEADER_LEN: usize = 14;
/// The shortest frame Ethernet carries, without its 4-byte FCS: shorter ones are padded.
pub const MIN_FRAME: usize = 60;
/// The longest frame the port's messages make.
pub const MAX_FRAME: usize = HEADER_LEN + MAX_PACKET;

/// An 802.1Q tag's ethertype: a tagged frame has 4 more bytes before the real one.
const VLAN_ETHERTYPE: u16 = 0x8100;

/// A frame, as built by [`frame`].
pub type Frame = heapless::Vec<u8, MAX_FRAME>;

/// Where a message of type `kind` goes.
pub const fn destination(kind: MessageType) -> [u8; 6] {
    if kind.is_peer_delay() {
        PTP_PDELAY_MAC
    } else {
        PTP_PRIMARY_MAC
    }
}

/// The frame carrying `message` of type `kind` from the MAC address `source`, padded with
/// zeros to [`MIN_FRAME`]; `None` if the message is longer than [`MAX_PACKET`].
pub fn frame(source: [u8; 6], kind: MessageType, message: &[u8]) -> Option<Frame> {
    let mut f = Frame::new();
    f.extend_from_slice(&destination(kind)).ok()?;
    f.extend_from_slice(&source).ok()?;
    f.extend_from_slice(&PTP_ETHERTYPE.to_be_bytes()).ok()?;
    f.extend_from_slice(message).ok()?;
    // MIN_FRAME < MAX_FRAME, so this always fits.
    let _ = f.resize(f.len().max(MIN_FRAME), 0);
    Some(f)
}

/// The PTP message in a received frame (after one 802.1Q tag, if any), padding
/// included; `None` if the frame is not PTP.
pub fn payload(frame: &[u8]) -> Option<&[u8]> {
    let ethertype = |at: usize| -> Option<u16> {
        let b = frame.get(at..at + 2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    };
    let mut at = 12;
    if ethertype(at)? == VLAN_ETHERTYPE {
        at += 4;
    }
    (ethertype(at)? == PTP_ETHERTYPE).then(|| frame.get(at + 2..))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_go_to_the_address_of_their_message_type() {
        let source = [0x02, 0, 0, 0, 0, 7];
        for (kind, to) in [
            (MessageType::Sync, PTP_PRIMARY_MAC),
            (MessageType::DelayReq, PTP_PRIMARY_MAC),
            (MessageType::Announce, PTP_PRIMARY_MAC),
            (MessageType::PdelayReq, PTP_PDELAY_MAC),
            (MessageType::PdelayResp, PTP_PDELAY_MAC),
            (MessageType::PdelayRespFollowUp, PTP_PDELAY_MAC),
        ] {
            let f = frame(source, kind, &[0xAB; 64]).unwrap();
            assert_eq!(f.len(), HEADER_LEN + 64);
            assert_eq!(f[..6], to, "{kind:?}");
            assert_eq!(f[6..12], source);
            assert_eq!(f[12..14], [0x88, 0xF7]);
            assert_eq!(payload(&f), Some(&[0xAB; 64][..]));
        }
    }

    #[test]
    fn short_frames_are_padded_and_long_messages_refused() {
        let f = frame([2; 6], MessageType::Sync, &[1; 10]).unwrap();
        assert_eq!(f.len(), MIN_FRAME);
        assert_eq!(f[HEADER_LEN..HEADER_LEN + 10], [1; 10]);
        assert!(f[HEADER_LEN + 10..].iter().all(|&b| b == 0));
        assert!(frame([2; 6], MessageType::Sync, &[0; MAX_PACKET]).is_some());
        assert!(frame([2; 6], MessageType::Sync, &[0; MAX_PACKET + 1]).is_none());
    }

    #[test]
    fn other_ethertypes_and_runts_carry_no_message() {
        let mut f = frame([2; 6], MessageType::Sync, &[7; 44]).unwrap();
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
        assert_eq!(payload(&f), None);
        assert_eq!(payload(&f[..13]), None);
        assert_eq!(payload(&[]), None);
        // An 802.1Q-tagged PTP frame: the tag is skipped.
        let mut tagged = [0u8; 18 + 4];
        tagged[12..14].copy_from_slice(&VLAN_ETHERTYPE.to_be_bytes());
        tagged[16..18].copy_from_slice(&PTP_ETHERTYPE.to_be_bytes());
        tagged[18..].copy_from_slice(&[9; 4]);
        assert_eq!(payload(&tagged), Some(&[9u8; 4][..]));
        assert_eq!(payload(&tagged[..17]), None);
    }
}
