//! The PTP wire codec against statime 0.4's (reached through `statime::fuzz::FuzzMessage`,
//! the only way it is exposed), on the same bytes: a 44-byte Sync and a 64-byte Announce
//! as tempora's own master port sends them.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use statime::fuzz::FuzzMessage;
use tempora_core::ptp::port::Timer;
use tempora_core::ptp::wire::{MessageType, PtpMessage, PtpPacket};
use tempora_core::time::{Instant, Tai};
use tempora_ptp_sim::{actions, config};

/// The Sync and the Announce a master port sends first.
fn messages() -> [(&'static str, Vec<u8>); 2] {
    let now = Instant::<Tai>::from_nanos(1_700_000_000_123_456_789);
    let mut port = config::master(config::ordinary(7, 10, false), now);
    let mut bytes = |timer, kind| {
        let (packet, _) =
            actions::first(port.on_timer(timer, now), kind).expect("the master sends it");
        packet.bytes.to_vec()
    };
    let announce = bytes(Timer::Announce, MessageType::Announce);
    let sync = bytes(Timer::Sync, MessageType::Sync);
    [("sync_44", sync), ("announce_64", announce)]
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("ptp_codec");
    g.measurement_time(Duration::from_secs(2));
    for (name, bytes) in messages() {
        // Both parse the same bytes and emit them back unchanged, before any timing.
        let ours = PtpMessage::parse(&bytes).expect("tempora parses its own bytes");
        let theirs = FuzzMessage::deserialize(&bytes).expect("statime parses the bytes");
        let mut out = [0u8; 128];
        let n = ours.emit(&mut out).unwrap();
        assert_eq!(out[..n], bytes[..]);
        let n = theirs.serialize(&mut out).unwrap();
        assert_eq!(out[..n], bytes[..], "statime emits the same bytes");

        g.bench_function(format!("parse/{name}/tempora_view"), |b| {
            b.iter(|| {
                let p = PtpPacket::new_checked(black_box(&bytes[..])).unwrap();
                black_box(p.sequence_id())
            })
        });
        g.bench_function(format!("parse/{name}/tempora_repr"), |b| {
            b.iter(|| black_box(PtpMessage::parse(black_box(&bytes[..])).unwrap()))
        });
        g.bench_function(format!("parse/{name}/statime"), |b| {
            b.iter(|| black_box(FuzzMessage::deserialize(black_box(&bytes[..])).unwrap()))
        });
        g.bench_function(format!("emit/{name}/tempora"), |b| {
            b.iter(|| black_box(black_box(&ours).emit(&mut out).unwrap()))
        });
        g.bench_function(format!("emit/{name}/statime"), |b| {
            b.iter(|| black_box(black_box(&theirs).serialize(&mut out).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
