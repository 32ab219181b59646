//! Picking what a test looks for out of the actions of one port call.

use tempora_core::ptp::port::{Action, Actions, Measurement, Packet, SendContext};
use tempora_core::ptp::wire::{Body, MessageType, PtpMessage};

/// Every packet among `actions`, with its send context (event messages have one).
pub fn sent(actions: Actions) -> Vec<(Packet, Option<SendContext>)> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Send { packet, context } => Some((packet, context)),
            _ => None,
        })
        .collect()
}

/// The packets of type `kind` among `actions`, with their send contexts.
pub fn sent_of(actions: Actions, kind: MessageType) -> Vec<(Packet, Option<SendContext>)> {
    let mut all = sent(actions);
    all.retain(|(p, _)| p.message_type == kind);
    all
}

/// The first packet of type `kind` among `actions`, if any.
pub fn first(actions: Actions, kind: MessageType) -> Option<(Packet, Option<SendContext>)> {
    sent_of(actions, kind).into_iter().next()
}

/// The one packet of type `kind` among `actions`, and its send context if an event.
///
/// # Panics
///
/// Unless there is exactly one.
pub fn only(actions: Actions, kind: MessageType) -> (Packet, Option<SendContext>) {
    let mut p = sent_of(actions, kind);
    assert_eq!(p.len(), 1, "expected one {kind:?}: {p:?}");
    p.remove(0)
}

/// The one event message of type `kind` among `actions`, and its send context.
///
/// # Panics
///
/// Unless there is exactly one, with a send context.
///
/// ```
/// use tempora_core::ptp::port::Timer;
/// use tempora_core::ptp::wire::MessageType;
/// use tempora_core::time::Instant;
/// use tempora_ptp_sim::{actions, config};
///
/// let now = Instant::from_nanos(1_700_000_000_000_000_000);
/// let mut port = config::master(config::ordinary(1, 10, false), now);
/// let (sync, context) = actions::event(port.on_timer(Timer::Sync, now), MessageType::Sync);
/// let (follow_up, _) = actions::only(port.on_sent(context, now), MessageType::FollowUp);
/// assert_eq!(follow_up.sequence_id, sync.sequence_id);
/// assert_eq!(actions::precise_origin_ns(&follow_up), Some(1_700_000_000_000_000_000));
/// ```
pub fn event(actions: Actions, kind: MessageType) -> (Packet, SendContext) {
    let (p, c) = only(actions, kind);
    (p, c.expect("an event message comes with a send context"))
}

/// The measurement among `actions`, if any.
pub fn measurement(actions: Actions) -> Option<Measurement> {
    actions.into_iter().find_map(|a| match a {
        Action::Measure(m) => Some(m),
        _ => None,
    })
}

/// The precise origin timestamp (ns since 1970) a Follow_Up carries; `None` for any
/// other packet.
pub fn precise_origin_ns(follow_up: &Packet) -> Option<i128> {
    match PtpMessage::parse(&follow_up.bytes).ok()?.body {
        Body::FollowUp { precise_origin } => Some(
            i128::from(precise_origin.seconds) * 1_000_000_000 + i128::from(precise_origin.nanos),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use tempora_core::ptp::port::Timer;
    use tempora_core::time::Instant;

    #[test]
    fn a_master_s_sync_is_an_event_and_its_announce_is_not() {
        let now = Instant::from_nanos(1_000_000_000);
        let mut port = config::master(config::fast(1, 10, false), now);
        let announce = only(port.on_timer(Timer::Announce, now), MessageType::Announce);
        assert!(announce.1.is_none());
        assert_eq!(precise_origin_ns(&announce.0), None);
        let syncs = sent(port.on_timer(Timer::Sync, now));
        assert_eq!(syncs.len(), 1);
        assert_eq!(syncs[0].0.message_type, MessageType::Sync);
        assert!(first(port.on_timer(Timer::Sync, now), MessageType::Announce).is_none());
        assert!(measurement(port.on_timer(Timer::Sync, now)).is_none());
        let (sync, context) = event(port.on_timer(Timer::Sync, now), MessageType::Sync);
        assert!(sync.sequence_id > syncs[0].0.sequence_id);
        let later = Instant::from_nanos(1_000_000_700);
        let follow_up = first(port.on_sent(context, later), MessageType::FollowUp);
        let origin = follow_up.as_ref().and_then(|(p, _)| precise_origin_ns(p));
        assert_eq!(origin, Some(1_000_000_700));
    }
}
