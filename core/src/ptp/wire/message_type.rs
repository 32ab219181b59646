//! The ten message types: which are events, which measure peer delay, and how long each
//! one's fixed part is.

use core::fmt;

use super::field;
use super::WireError;

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
        match self {
            Self::Sync | Self::DelayReq | Self::FollowUp => field::TIMESTAMP_MESSAGE_LEN,
            Self::DelayResp | Self::PdelayReq | Self::PdelayResp | Self::PdelayRespFollowUp => {
                field::PORT_MESSAGE_LEN
            }
            Self::Announce => field::ANNOUNCE_LEN,
            Self::Signaling => field::SIGNALING_TLVS,
            Self::Management => field::MANAGEMENT_TLVS,
        }
    }

    /// Whether the body starts with a timestamp (all but Signaling and Management).
    pub(super) const fn has_timestamp(self) -> bool {
        !matches!(self, Self::Signaling | Self::Management)
    }

    /// Whether the body names the port whose request it answers.
    pub(super) const fn has_requesting_port(self) -> bool {
        matches!(
            self,
            Self::DelayResp | Self::PdelayResp | Self::PdelayRespFollowUp
        )
    }

    /// The standard's name (`Pdelay_Resp_Follow_Up`), as captures and ptp4l logs show
    /// it; also what [`Metric::PtpReceived`](crate::hooks::Metric::PtpReceived) carries.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sync => "Sync",
            Self::DelayReq => "Delay_Req",
            Self::PdelayReq => "Pdelay_Req",
            Self::PdelayResp => "Pdelay_Resp",
            Self::FollowUp => "Follow_Up",
            Self::DelayResp => "Delay_Resp",
            Self::PdelayRespFollowUp => "Pdelay_Resp_Follow_Up",
            Self::Announce => "Announce",
            Self::Signaling => "Signaling",
            Self::Management => "Management",
        }
    }

    /// `controlField`, which 1588-2008 receivers may still look at (table 42 of 1588-2019).
    pub(super) const fn control(self) -> u8 {
        match self {
            Self::Sync => 0,
            Self::DelayReq => 1,
            Self::FollowUp => 2,
            Self::DelayResp => 3,
            Self::Management => 4,
            _ => 5,
        }
    }
}

/// The standard's names (`Pdelay_Resp_Follow_Up`), as captures and ptp4l logs show them.
impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn names_are_the_standards() {
        let all = [
            (MessageType::Sync, "Sync"),
            (MessageType::DelayReq, "Delay_Req"),
            (MessageType::PdelayReq, "Pdelay_Req"),
            (MessageType::PdelayResp, "Pdelay_Resp"),
            (MessageType::FollowUp, "Follow_Up"),
            (MessageType::DelayResp, "Delay_Resp"),
            (MessageType::PdelayRespFollowUp, "Pdelay_Resp_Follow_Up"),
            (MessageType::Announce, "Announce"),
            (MessageType::Signaling, "Signaling"),
            (MessageType::Management, "Management"),
        ];
        for (t, name) in all {
            assert_eq!(t.to_string(), name);
            assert_eq!(MessageType::from_nibble(t as u8), Ok(t));
        }
    }
}
