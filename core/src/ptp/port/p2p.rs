//! Peer-to-peer delay measurement (`p2p` feature): the requester measures the link's
//! round trip, the responder answers in any state, always two-step. The port pairs each
//! completed link measurement with its latest Sync.

use crate::ptp::filter::Exchange;
use crate::ptp::wire::{Body, Flags, MessageType, PortIdentity, PtpMessage, WireTimestamp};
use crate::time::{Instant, Offset, Tai};

use super::action::{Actions, Ignored};
use super::boundary::{correction, header, instant, send};
use super::config::PortConfig;

/// The peer-delay half of a P2P port: its own request in flight and the response it
/// owes a Follow_Up.
#[derive(Clone, Copy, Debug)]
pub(super) struct PeerDelay {
    pending: Option<PendingPdelay>,
    responding: Option<Responding>,
}

/// A Pdelay_Req of ours in flight: its send time `t1`, then the Pdelay_Resp.
#[derive(Clone, Copy, Debug)]
struct PendingPdelay {
    seq: u16,
    t1: Option<Instant<Tai>>,
    response: Option<PdelayResponse>,
    /// A Pdelay_Resp_Follow_Up that overtook its Pdelay_Resp: the responder, its send
    /// time and correction.
    early_follow_up: Option<(PortIdentity, Instant<Tai>, Offset)>,
}

#[derive(Clone, Copy, Debug)]
struct PdelayResponse {
    responder: PortIdentity,
    /// `requestReceiptTimestamp` (responder's clock; the epoch from a one-step
    /// responder).
    t2: Instant<Tai>,
    /// When the Pdelay_Resp arrived (ours).
    t4: Instant<Tai>,
    correction: Offset,
    two_step: bool,
}

/// A Pdelay_Resp of ours waiting for its send timestamp, which its Follow_Up carries.
#[derive(Clone, Copy, Debug)]
struct Responding {
    seq: u16,
    requester: PortIdentity,
    /// The request's correction (scaled ns, as on the wire), returned in the Follow_Up.
    correction: i64,
}

/// A completed peer-delay exchange: our request's send time `t1`, the response, and
/// (two-step) the responder's send time `t3` with its Follow_Up's correction.
#[derive(Clone, Copy, Debug)]
pub(super) struct PeerExchange {
    t1: Instant<Tai>,
    response: PdelayResponse,
    t3: Option<Instant<Tai>>,
    correction: Offset,
}

impl PeerExchange {
    /// The exchange the filter takes, from this link measurement and the slave's
    /// latest Sync from `master` (`sync_t1` its origin, `sync_t2` its arrival,
    /// `sync_correction` its corrections); `None` if a time falls out of range.
    pub(super) fn with_sync(
        &self,
        master: PortIdentity,
        sync_t1: Instant<Tai>,
        sync_t2: Instant<Tai>,
        sync_correction: Offset,
    ) -> Option<Exchange> {
        let r = &self.response;
        Some(match self.t3 {
            // The responder is the master's clock: its receipt time is a reading of the
            // master, so the request's own transit is the reverse leg, exactly as a
            // Delay_Req's would be (and its floor can be taken like one).
            Some(_) if r.responder.clock == master.clock => Exchange {
                t1: sync_t1,
                t2: sync_t2,
                t3: self.t1,
                t4: r.t2,
                correction_ms: sync_correction,
                correction_sm: r.correction,
            },
            // Any other responder (a peer-to-peer transparent clock) only vouches for its
            // turnaround time: of the link's round trip, the reverse leg is what the
            // Sync's transit leaves.
            t3 => {
                let held = match t3 {
                    Some(t3) => t3.offset_from(r.t2)?,
                    None => Offset::ZERO,
                };
                let turnaround = held
                    .checked_add(r.correction)?
                    .checked_add(self.correction)?;
                let round_trip = r.t4.offset_from(self.t1)?.checked_sub(turnaround)?;
                let forward = sync_t2.offset_from(sync_t1)?.checked_sub(sync_correction)?;
                Exchange {
                    t1: sync_t1,
                    t2: sync_t2,
                    t3: sync_t2,
                    t4: sync_t2.checked_add_offset(round_trip.checked_sub(forward)?)?,
                    correction_ms: sync_correction,
                    correction_sm: Offset::ZERO,
                }
            }
        })
    }
}

impl PeerDelay {
    pub(super) const fn new() -> Self {
        Self {
            pending: None,
            responding: None,
        }
    }

    /// Sends a Pdelay_Req with `seq`, forgetting any earlier one still in flight.
    pub(super) fn request(
        &mut self,
        config: &PortConfig,
        seq: u16,
        generation: u32,
        out: &mut Actions,
    ) {
        let header = header(config, MessageType::PdelayReq, seq, 0x7F);
        let body = Body::PdelayReq {
            origin: WireTimestamp::default(),
        };
        send(out, &PtpMessage { header, body }, generation);
        self.pending = Some(PendingPdelay {
            seq,
            t1: None,
            response: None,
            early_follow_up: None,
        });
    }

    /// Our Pdelay_Req or Pdelay_Resp with `sequence_id` left at `sent`: the request's
    /// `t1`, or the response's Follow_Up.
    pub(super) fn sent(
        &mut self,
        config: &PortConfig,
        (message_type, sequence_id): (MessageType, u16),
        sent: Instant<Tai>,
        generation: u32,
        out: &mut Actions,
    ) {
        match message_type {
            MessageType::PdelayReq => {
                if let Some(p) = self.pending.as_mut().filter(|p| p.seq == sequence_id) {
                    p.t1 = Some(sent);
                }
            }
            MessageType::PdelayResp => {
                if let Some(r) = self.responding.take().filter(|r| r.seq == sequence_id) {
                    let mut header = header(config, MessageType::PdelayRespFollowUp, r.seq, 0x7F);
                    header.correction = r.correction;
                    let body = Body::PdelayRespFollowUp {
                        response_origin: WireTimestamp::from_instant(sent),
                        requesting_port: r.requester,
                    };
                    send(out, &PtpMessage { header, body }, generation);
                }
            }
            _ => {}
        }
    }

    /// A peer-delay message arrived (received at `received`): answers requests, and
    /// returns the link measurement if this message completes one of ours.
    pub(super) fn receive(
        &mut self,
        config: &PortConfig,
        m: &PtpMessage<'_>,
        received: Option<Instant<Tai>>,
        generation: u32,
        out: &mut Actions,
    ) -> Result<Option<PeerExchange>, Ignored> {
        let h = m.header;
        match m.body {
            Body::PdelayReq { .. } => {
                let t2 = received.ok_or(Ignored::NoTimestamp)?;
                // Always two-step: the send time goes in the Follow_Up.
                let mut header = header(config, MessageType::PdelayResp, h.sequence_id, 0x7F);
                header.flags = Flags(Flags::TWO_STEP);
                let body = Body::PdelayResp {
                    request_receipt: WireTimestamp::from_instant(t2),
                    requesting_port: h.source_port,
                };
                send(out, &PtpMessage { header, body }, generation);
                self.responding = Some(Responding {
                    seq: h.sequence_id,
                    requester: h.source_port,
                    correction: h.correction,
                });
                Ok(None)
            }
            Body::PdelayResp {
                request_receipt,
                requesting_port,
            } => {
                let t4 = received.ok_or(Ignored::NoTimestamp)?;
                let t2 = instant(request_receipt)?;
                let p = self
                    .pending
                    .as_mut()
                    .filter(|p| {
                        p.seq == h.sequence_id
                            && p.response.is_none()
                            && requesting_port == config.identity
                    })
                    .ok_or(Ignored::NotForUs)?;
                let response = PdelayResponse {
                    responder: h.source_port,
                    t2,
                    t4,
                    correction: correction(h.correction),
                    two_step: h.flags.has(Flags::TWO_STEP),
                };
                p.response = Some(response);
                match p.early_follow_up {
                    _ if !response.two_step => self.complete(None, Offset::ZERO).map(Some),
                    Some((from, t3, c)) if from == h.source_port => {
                        self.complete(Some(t3), c).map(Some)
                    }
                    _ => Ok(None),
                }
            }
            Body::PdelayRespFollowUp {
                response_origin,
                requesting_port,
            } => {
                let t3 = instant(response_origin)?;
                let p = self
                    .pending
                    .as_mut()
                    .filter(|p| p.seq == h.sequence_id && requesting_port == config.identity)
                    .ok_or(Ignored::NotForUs)?;
                let c = correction(h.correction);
                match p.response {
                    Some(r) if r.two_step && r.responder == h.source_port => {
                        self.complete(Some(t3), c).map(Some)
                    }
                    // Its Pdelay_Resp has not arrived yet (event and general messages may
                    // be reordered): keep it for when it does.
                    None => {
                        p.early_follow_up = Some((h.source_port, t3, c));
                        Ok(None)
                    }
                    Some(_) => Err(Ignored::NotForUs),
                }
            }
            _ => Err(Ignored::NotForUs),
        }
    }

    /// Our request's exchange is complete: `t3` is the responder's send time (two-step)
    /// and `correction` the Follow_Up's.
    fn complete(
        &mut self,
        t3: Option<Instant<Tai>>,
        correction: Offset,
    ) -> Result<PeerExchange, Ignored> {
        let p = self.pending.take().ok_or(Ignored::NotForUs)?;
        let (Some(t1), Some(response)) = (p.t1, p.response) else {
            return Err(Ignored::NotForUs);
        };
        Ok(PeerExchange {
            t1,
            response,
            t3,
            correction,
        })
    }
}
