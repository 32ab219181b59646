//! A two-step master's Follow_Up: it carries the send time reported for its Sync, and
//! a send report can only be for a Sync the port sent. The [`SendContext`] that comes
//! with each event message is consumed by the report (so a Sync is followed up at most
//! once; a second report does not compile, see its doctest), and a context from before
//! a state change is stale and puts out nothing.
#![cfg(not(loom))]

use tempora_core::ptp::port::{Port, PortConfig, PortState, Timer};
use tempora_core::ptp::wire::MessageType;
use tempora_core::time::{Instant, Tai};
use tempora_ptp_sim::actions::{event, precise_origin_ns, sent_of};
use tempora_ptp_sim::config;

fn at(ns: u64) -> Instant<Tai> {
    Instant::from_nanos(ns)
}

fn master() -> Port {
    let port = config::master(config::ordinary(1, 10, false), at(0));
    assert_eq!(port.state(), PortState::Master);
    port
}

#[test]
fn the_follow_up_carries_the_reported_send_time_of_its_sync() {
    let mut port = master();
    let t = 1_700_000_000_000_000_123;
    let (sync, context) = event(port.on_timer(Timer::Sync, at(t)), MessageType::Sync);
    let follow_ups = sent_of(port.on_sent(context, at(t + 700)), MessageType::FollowUp);
    assert_eq!(follow_ups.len(), 1);
    let (f, context) = &follow_ups[0];
    assert!(
        context.is_none(),
        "a general message needs no send timestamp"
    );
    assert_eq!(f.sequence_id, sync.sequence_id);
    assert_eq!(precise_origin_ns(f), Some(1_700_000_000_000_000_823));
}

#[test]
fn each_sync_is_followed_up_by_its_own_report_even_late() {
    let mut port = master();
    let (first, c1) = event(port.on_timer(Timer::Sync, at(5_000)), MessageType::Sync);
    let (second, c2) = event(
        port.on_timer(Timer::Sync, at(130_000_000)),
        MessageType::Sync,
    );
    let f2 = sent_of(port.on_sent(c2, at(130_000_100)), MessageType::FollowUp);
    let f1 = sent_of(port.on_sent(c1, at(5_100)), MessageType::FollowUp);
    assert_eq!(f2[0].0.sequence_id, second.sequence_id);
    assert_eq!(f1[0].0.sequence_id, first.sequence_id);
}

#[test]
fn a_send_context_from_before_a_state_change_is_ignored() {
    let mut port = master();
    let (_, stale) = event(port.on_timer(Timer::Sync, at(5_000)), MessageType::Sync);
    // Restarted (as after a change of timestamp source): listening, then master again.
    let _ = port.start(at(10_000));
    let _ = port.on_timer(Timer::AnnounceReceipt, at(20_000));
    assert_eq!(port.state(), PortState::Master);
    assert!(
        port.on_sent(stale, at(5_100)).is_empty(),
        "followed up a Sync of another life"
    );
    // Sequence ids carried on: a stale context must not match the new Sync's either.
    let (_, fresh) = event(port.on_timer(Timer::Sync, at(30_000)), MessageType::Sync);
    assert_eq!(
        sent_of(port.on_sent(fresh, at(30_100)), MessageType::FollowUp).len(),
        1
    );
}

#[test]
fn a_master_that_was_a_slave_in_between_ignores_its_old_sync_context() {
    let mut port = master();
    let (_, stale) = event(port.on_timer(Timer::Sync, at(5_000)), MessageType::Sync);
    // A better master announces twice: the port follows it.
    let mut better = config::master(config::ordinary(9, 1, false), at(0));
    for t in [2_000_000_000, 4_000_000_000] {
        let (announce, _) = sent_of(
            better.on_timer(Timer::Announce, at(t)),
            MessageType::Announce,
        )
        .remove(0);
        let _ = port.on_receive(&announce.bytes, None, at(t)).unwrap();
    }
    assert!(matches!(port.state(), PortState::Slave(_)));
    // It falls silent; the port is master again, and the Sync it sent before is no
    // longer its to follow up.
    let _ = port.on_timer(Timer::AnnounceReceipt, at(30_000_000_000));
    assert_eq!(port.state(), PortState::Master);
    assert!(port.on_sent(stale, at(5_100)).is_empty());
}

#[test]
fn a_one_step_sync_context_asks_for_nothing() {
    // A one-step master's Sync has a context too (every event message does), which asks
    // for nothing.
    let one_step = PortConfig {
        two_step: false,
        ..config::ordinary(1, 10, false)
    };
    let mut port = config::master(one_step, at(0));
    let (_, context) = event(port.on_timer(Timer::Sync, at(5_000)), MessageType::Sync);
    assert!(port.on_sent(context, at(5_100)).is_empty());
}
