//! A two-step master's Follow_Up: it carries the send time reported for the Sync just
//! sent, and only for that Sync. A send report the platform gets wrong (another
//! sequence id, or the same one twice) puts out nothing, rather than a Follow_Up for a
//! Sync that was never sent or a second one for a Sync.
#![cfg(not(loom))]

use tempora_core::ptp::port::{Action, Packet, Port, PortConfig, PortState, Timer};
use tempora_core::ptp::wire::{Body, ClockIdentity, MessageType, PtpMessage};

fn sent(actions: impl IntoIterator<Item = Action>, t: MessageType) -> Vec<Packet> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Send(p) if p.message_type == t => Some(p),
            _ => None,
        })
        .collect()
}

fn master() -> Port {
    let mut port: Port = Port::new(PortConfig::ordinary(ClockIdentity([1; 8]), 10, false));
    port.start(0);
    port.on_timer(Timer::AnnounceReceipt, 1_000);
    assert_eq!(port.state(), PortState::Master);
    port
}

#[test]
fn the_follow_up_carries_the_reported_send_time_of_its_sync() {
    let mut port = master();
    let t = 1_700_000_000_000_000_123;
    let sync = sent(port.on_timer(Timer::Sync, t), MessageType::Sync).remove(0);
    let follow_ups = sent(
        port.on_sent(MessageType::Sync, sync.sequence_id, t + 700),
        MessageType::FollowUp,
    );
    assert_eq!(follow_ups.len(), 1);
    let f = &follow_ups[0];
    assert_eq!(f.sequence_id, sync.sequence_id);
    match PtpMessage::parse(&f.bytes).unwrap().body {
        Body::FollowUp { precise_origin } => {
            assert_eq!(precise_origin.seconds, 1_700_000_000);
            assert_eq!(precise_origin.nanos, 823);
        }
        other => panic!("not a Follow_Up: {other:?}"),
    }
}

#[test]
fn a_stray_or_repeated_send_report_puts_out_no_follow_up() {
    let mut port = master();
    let sync = sent(port.on_timer(Timer::Sync, 5_000), MessageType::Sync).remove(0);
    let other = sync.sequence_id.wrapping_add(1);
    assert!(sent(
        port.on_sent(MessageType::Sync, other, 5_100),
        MessageType::FollowUp
    )
    .is_empty());
    assert_eq!(
        sent(
            port.on_sent(MessageType::Sync, sync.sequence_id, 5_100),
            MessageType::FollowUp
        )
        .len(),
        1
    );
    assert!(sent(
        port.on_sent(MessageType::Sync, sync.sequence_id, 5_200),
        MessageType::FollowUp
    )
    .is_empty());
    // The next Sync is followed up as usual.
    let next = sent(port.on_timer(Timer::Sync, 130_000_000), MessageType::Sync).remove(0);
    assert_eq!(
        sent(
            port.on_sent(MessageType::Sync, next.sequence_id, 130_000_100),
            MessageType::FollowUp
        )
        .len(),
        1
    );
}
