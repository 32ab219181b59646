//! The PTP transports on a veth pair between two namespaces: a message is read once, an
//! idle transport sleeps until its timeout or a stop request, and a send timestamp left
//! on the error queue does not turn the sleep into a busy loop. Needs root (namespaces)
//! and ptp4l (the lab checks for it).

mod support;

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};
use support::Lab;
use tempora_core::ptp::wire::MessageType;
use tempora_std::ptp::udp::UdpTransport;
use tempora_std::ptp::{PtpTransport, Timestamps};
use tempora_std::stop::StopSignal;

/// Opens a UDP transport on `iface` inside namespace `ns` (from a thread of its own: a
/// socket belongs to the namespace it was made in, whoever uses it later).
fn open_in(ns: &str, iface: &str) -> UdpTransport {
    let (ns, iface) = (ns.to_string(), iface.to_string());
    std::thread::spawn(move || {
        let f = File::open(Path::new("/run/netns").join(&ns)).unwrap();
        setns(f.as_fd(), CloneFlags::CLONE_NEWNET).unwrap();
        UdpTransport::open(&iface, Timestamps::Software).unwrap()
    })
    .join()
    .unwrap()
}

/// A 44-byte PTP header of `kind` (the transport carries bytes; it parses nothing).
fn message(kind: MessageType) -> Vec<u8> {
    let mut m = vec![0u8; 44];
    m[0] = kind as u8;
    m[1] = 2;
    m[3] = 44;
    m
}

/// How many times `recv` returns within `span` when nothing is sent.
fn returns_within(t: &UdpTransport, span: Duration, timeout: Duration) -> u32 {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < span && n < 100_000 {
        assert!(t.recv(timeout, None).unwrap().is_none(), "nothing was sent");
        n += 1;
    }
    n
}

#[test]
fn messages_are_read_once_and_an_idle_transport_sleeps_until_told() {
    let lab = Lab::new("tr");
    let master = open_in(&lab.master_ns, &lab.master_if);
    let slave = open_in(&lab.slave_ns, &lab.slave_if);
    // The slave answers nothing yet: its first wait may find the join's traffic.
    while slave
        .recv(Duration::from_millis(200), None)
        .unwrap()
        .is_some()
    {}

    let sync = message(MessageType::Sync);
    let announce = message(MessageType::Announce);
    master.send(MessageType::Sync, &sync).unwrap();
    master.send(MessageType::Announce, &announce).unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let d = slave
            .recv(Duration::from_secs(5), None)
            .unwrap()
            .expect("both messages arrive");
        got.push((d.event, d.bytes, d.timestamp.is_some()));
    }
    got.sort();
    assert_eq!(
        got,
        vec![(false, announce, false), (true, sync, true)],
        "each once, the event message with its receive timestamp"
    );
    assert!(slave
        .recv(Duration::from_millis(100), None)
        .unwrap()
        .is_none());

    // Idle: each recv sleeps its whole timeout (ten of 100 ms in a second, not more).
    let idle = returns_within(&slave, Duration::from_secs(1), Duration::from_millis(100));
    assert!(idle <= 11, "{idle} returns in 1 s with a 100 ms timeout");

    // A stop request ends a long wait at once.
    let stop = StopSignal::new();
    let waited = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            stop.raise();
        });
        let t = Instant::now();
        let d = slave
            .recv(Duration::from_secs(60), Some(stop.fd().unwrap()))
            .unwrap();
        (d.is_none(), t.elapsed())
    });
    assert!(waited.0);
    assert!(waited.1 < Duration::from_secs(30), "{:?}", waited.1);
}

#[test]
fn a_send_timestamp_nobody_collected_does_not_wake_the_transport_again() {
    let lab = Lab::new("te");
    let slave = open_in(&lab.slave_ns, &lab.slave_if);
    // An event message whose send timestamp is never asked for: it stays on the error
    // queue, which makes every poll of the socket return at once.
    slave
        .send(MessageType::DelayReq, &message(MessageType::DelayReq))
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    // The first wait wakes for it and drains it; the rest sleep their timeout.
    let n = returns_within(&slave, Duration::from_secs(1), Duration::from_millis(250));
    assert!(
        n <= 6,
        "{n} returns in 1 s with a 250 ms timeout: a busy loop"
    );
    // And a send timestamp asked for in time is still delivered.
    let delay_req = message(MessageType::DelayReq);
    slave.send(MessageType::DelayReq, &delay_req).unwrap();
    let ts = slave
        .send_timestamp(&delay_req, Duration::from_millis(500))
        .unwrap();
    assert!(ts.is_some_and(|t| t > 0));
}
