//! Peer-to-peer delay measurement, scripted message by message with exact timestamps:
//! the slave's offset must come out exact whoever answers its Pdelay_Req (the master
//! itself, another clock on the link, a one-step responder) and in whichever order the
//! response and its follow-up arrive.
#![cfg(all(feature = "p2p", not(loom)))]

use tempora_core::ptp::port::{
    DelayMechanism, Measurement, Packet, Port, PortConfig, PortState, Timer,
};
use tempora_core::ptp::wire::MessageType;
use tempora_core::time::{Instant, Offset, Tai};
use tempora_ptp_sim::actions::{event, measurement, only, sent};

/// One-way link delay (ns), the same both ways.
const DELAY: i128 = 3_000;
/// Slave minus true time (ns).
const THETA: i128 = 500_000;
/// How long a responder takes between receiving a Pdelay_Req and answering it (ns).
const TURNAROUND: i128 = 10_000;
const MS: i128 = 1_000_000;

/// Local time `ns` after the epoch (the test's times start at 0).
fn at(ns: i128) -> Instant<Tai> {
    Instant::from_nanos(u64::try_from(ns).expect("a time after the epoch"))
}

fn ns(n: i128) -> Offset {
    Offset::from_nanos(i64::try_from(n).unwrap())
}

fn config(id: u8, priority1: u8, slave_only: bool) -> PortConfig {
    tempora_ptp_sim::config::fast(id, priority1, slave_only)
        .with_delay_mechanism(DelayMechanism::P2P)
}

/// A master (true time) and a slave (true time + THETA) with the slave following the
/// master; returns them after the slave has been given a Sync at `t` and has sent its
/// Pdelay_Req 50 µs later, and that request.
fn slave_with_request(t: i128) -> (Port, Port, Packet, i128) {
    let mut master = Port::<4>::new(config(1, 10, false));
    let mut slave = Port::<4>::new(config(2, 128, true));
    let _ = master.start(at(0));
    let _ = slave.start(at(THETA));
    let _ = master.on_timer(Timer::AnnounceReceipt, at(250 * MS));
    assert_eq!(master.state(), PortState::Master);
    for k in 0..3 {
        let t = 300 * MS + k * 125 * MS;
        let a = only(
            master.on_timer(Timer::Announce, at(t)),
            MessageType::Announce,
        )
        .0;
        let _ = slave.on_receive(&a.bytes, None, at(t + DELAY + THETA));
    }
    assert!(matches!(slave.state(), PortState::Slave(_)));
    let _ = slave.on_timer(Timer::DelayReq, at(t - MS + THETA));
    let (sync, context) = event(master.on_timer(Timer::Sync, at(t)), MessageType::Sync);
    let (follow_up, _) = only(master.on_sent(context, at(t)), MessageType::FollowUp);
    let a = slave
        .on_receive(
            &sync.bytes,
            Some(at(t + DELAY + THETA)),
            at(t + DELAY + THETA),
        )
        .unwrap();
    assert!(sent(a).is_empty());
    let t1 = t + 50_000;
    let a = slave
        .on_receive(&follow_up.bytes, None, at(t1 + THETA))
        .unwrap();
    let (request, context) = event(a, MessageType::PdelayReq);
    assert!(slave.on_sent(context, at(t1 + THETA)).is_empty());
    (master, slave, request, t1)
}

/// `responder` (whose clock reads true time + `skew`) answers `request`, sent at true
/// time `t1`; returns its Pdelay_Resp and Follow_Up and the true arrival time of both.
fn respond(responder: &mut Port, request: &Packet, t1: i128, skew: i128) -> (Packet, Packet, i128) {
    let t2 = t1 + DELAY;
    let (resp, context) = event(
        responder
            .on_receive(&request.bytes, Some(at(t2 + skew)), at(t2 + skew))
            .unwrap(),
        MessageType::PdelayResp,
    );
    let t3 = t2 + TURNAROUND;
    let follow_up = only(
        responder.on_sent(context, at(t3 + skew)),
        MessageType::PdelayRespFollowUp,
    )
    .0;
    (resp, follow_up, t3 + DELAY)
}

/// A port of a third clock on the link (not the master), started: a P2P port answers
/// Pdelay_Req in any state.
fn third_clock() -> Port {
    let mut port = Port::<4>::new(config(9, 200, false));
    let _ = port.start(at(0));
    port
}

/// Delivers `bytes` to the slave at local time `at` (with that receive timestamp when
/// `stamped`) and returns the measurement it produced, if any.
fn deliver(slave: &mut Port, bytes: &[u8], stamped: bool, t: i128) -> Option<Measurement> {
    measurement(
        slave
            .on_receive(bytes, stamped.then_some(at(t)), at(t))
            .unwrap(),
    )
}

#[test]
fn the_master_as_responder_gives_the_exact_offset_and_both_legs() {
    let (mut master, mut slave, request, t1) = slave_with_request(2_000 * MS);
    let (resp, follow_up, t4) = respond(&mut master, &request, t1, 0);
    let early = deliver(&mut slave, &resp.bytes, true, t4 + THETA);
    assert!(early.is_none(), "measured before the follow-up");
    let m = deliver(&mut slave, &follow_up.bytes, false, t4 + THETA).expect("a measurement");
    assert_eq!(m.raw_offset, ns(THETA));
    // The master's receipt time is a reading of the master: the legs are separate.
    assert_eq!(
        (m.forward, m.reverse),
        (ns(DELAY + THETA), ns(DELAY - THETA))
    );
}

#[test]
fn another_responder_only_vouches_for_its_turnaround() {
    // A clock 7 s off from everyone answers (a peer-to-peer transparent clock between
    // master and slave would). Its timestamps mean nothing to the slave but their
    // difference; the Follow_Up overtakes the response.
    let (_master, mut slave, request, t1) = slave_with_request(2_000 * MS);
    let (resp, follow_up, t4) = respond(&mut third_clock(), &request, t1, 7_000_000_000);
    assert!(deliver(&mut slave, &follow_up.bytes, false, t4 + THETA).is_none());
    let m = deliver(&mut slave, &resp.bytes, true, t4 + THETA).expect("a measurement");
    assert_eq!(m.raw_offset, ns(THETA));
    assert_eq!(m.forward.checked_add(m.reverse), Some(ns(2 * DELAY)));
}

#[test]
fn a_one_step_responder_puts_its_turnaround_in_the_correction() {
    let (_master, mut slave, request, t1) = slave_with_request(2_000 * MS);
    let (resp, _, t4) = respond(&mut third_clock(), &request, t1, 123_456_789);
    // Rewrite it as a one-step responder would send it: no TWO_STEP flag, no receipt
    // time, the turnaround in the correction field (ns * 2^16).
    let mut bytes = resp.bytes.to_vec();
    bytes[6] &= !0x02;
    bytes[8..16].copy_from_slice(&((TURNAROUND as i64) << 16).to_be_bytes());
    bytes[34..44].fill(0);
    let m =
        deliver(&mut slave, &bytes, true, t4 + THETA).expect("measured from the response alone");
    assert_eq!(m.raw_offset, ns(THETA));
}

#[test]
fn an_e2e_port_ignores_peer_delay_and_events_need_timestamps() {
    let (mut master, mut slave, request, t1) = slave_with_request(2_000 * MS);
    // A P2P master does not answer Delay_Req; a P2P port answers Pdelay_Req in any state.
    let mut e2e = Port::<4>::new(tempora_ptp_sim::config::fast(5, 128, true));
    let _ = e2e.start(at(0));
    assert!(e2e
        .on_receive(&request.bytes, Some(at(t1)), at(t1))
        .is_err());
    let (resp, _, _) = respond(&mut master, &request, t1, 0);
    assert!(
        slave.on_receive(&resp.bytes, None, at(t1)).is_err(),
        "event without timestamp"
    );
}
