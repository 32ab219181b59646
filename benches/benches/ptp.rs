//! The PTP wire codec against statime 0.4's (reached through `statime::fuzz::FuzzMessage`,
//! the only way it is exposed), on the same bytes: a 44-byte Sync and a 64-byte Announce
//! as tempora's own master port sends them. Every id is `case/implementation`, the shape
//! `benches/compare.sh` pairs rows by.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use statime::fuzz::FuzzMessage;
use tempora_core::ptp::port::Timer;
use tempora_core::ptp::wire::{
    Body, Flags, MessageType, PortIdentity, PtpMessage, PtpPacket, WireTimestamp,
};
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

/// What a slave reads from a Sync (or the header of an Announce) before acting on it:
/// who sent it, which sequence and domain, one- or two-step, the correction and the
/// origin timestamp (`None` for types without one).
#[allow(clippy::type_complexity)]
fn slave_fields(
    p: &PtpPacket<&[u8]>,
) -> (
    MessageType,
    u8,
    PortIdentity,
    u16,
    bool,
    i64,
    i8,
    Option<WireTimestamp>,
) {
    (
        p.message_type(),
        p.domain(),
        p.source_port(),
        p.sequence_id(),
        p.flags().has(Flags::TWO_STEP),
        p.correction(),
        p.log_interval(),
        p.timestamp(),
    )
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
        // The view reads what the full parse decodes.
        let view = PtpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(view.header(), ours.header);
        if let Body::Sync { origin } = ours.body {
            assert_eq!(view.timestamp(), Some(origin));
        }

        // The full validation a receive path does before it trusts a message:
        // `new_checked` checks header, declared length and the body (the timestamp's
        // nanoseconds), then the fields a slave uses are read. statime has no view; its
        // `deserialize` checks as much and decodes every field into its struct, which is
        // where a slave reads them (the fields are private behind `fuzz`).
        g.bench_function(format!("parse_{name}_full_validation/tempora"), |b| {
            b.iter(|| {
                let p = PtpPacket::new_checked(black_box(&bytes[..])).unwrap();
                black_box(slave_fields(&p))
            })
        });
        g.bench_function(format!("parse_{name}_full_validation/statime"), |b| {
            b.iter(|| black_box(FuzzMessage::deserialize(black_box(&bytes[..])).unwrap()))
        });
        g.bench_function(format!("parse_{name}_into_message/tempora"), |b| {
            b.iter(|| black_box(PtpMessage::parse(black_box(&bytes[..])).unwrap()))
        });
        g.bench_function(format!("parse_{name}_into_message/statime"), |b| {
            b.iter(|| black_box(FuzzMessage::deserialize(black_box(&bytes[..])).unwrap()))
        });
        g.bench_function(format!("emit_{name}/tempora"), |b| {
            b.iter(|| black_box(black_box(&ours).emit(&mut out).unwrap()))
        });
        g.bench_function(format!("emit_{name}/statime"), |b| {
            b.iter(|| black_box(black_box(&theirs).serialize(&mut out).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
