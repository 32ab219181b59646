//! The PTP codec: every message round-trips through emit and parse, arbitrary and
//! mutated bytes never panic, and a hand-assembled Sync from the standard parses right.
#![cfg(not(loom))]

use proptest::prelude::*;
use tempora_core::ptp::wire::*;

fn ts() -> impl Strategy<Value = WireTimestamp> {
    (0u64..(1 << 48), 0u32..1_000_000_000)
        .prop_map(|(seconds, nanos)| WireTimestamp { seconds, nanos })
}

fn port() -> impl Strategy<Value = PortIdentity> {
    (any::<[u8; 8]>(), any::<u16>()).prop_map(|(c, port)| PortIdentity {
        clock: ClockIdentity(c),
        port,
    })
}

/// Well-formed TLVs: (type, value) pairs, encoded.
fn tlvs() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..20)),
        0..4,
    )
    .prop_map(|v| {
        let mut out = Vec::new();
        for (kind, value) in v {
            out.extend_from_slice(&kind.to_be_bytes());
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
            out.extend_from_slice(&value);
        }
        out
    })
}

#[derive(Debug, Clone)]
struct Spec {
    kind: u8,
    header: (u8, u8, u8, u16, i64, PortIdentity, u16, i8),
    t: WireTimestamp,
    p: PortIdentity,
    announce: (i16, u8, u8, u8, u16, u8, [u8; 8], u16, u8),
    hops: (u8, u8, u8),
    tlvs: Vec<u8>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..10,
        (
            0u8..16,
            0u8..16,
            any::<u8>(),
            any::<u16>(),
            any::<i64>(),
            port(),
            any::<u16>(),
            any::<i8>(),
        ),
        ts(),
        port(),
        any::<(i16, u8, u8, u8, u16, u8, [u8; 8], u16, u8)>(),
        (any::<u8>(), any::<u8>(), 0u8..16),
        tlvs(),
    )
        .prop_map(|(kind, header, t, p, announce, hops, tlvs)| Spec {
            kind,
            header,
            t,
            p,
            announce,
            hops,
            tlvs,
        })
}

fn build(s: &Spec) -> PtpMessage<'_> {
    let (t, p) = (s.t, s.p);
    let (message_type, body) = match s.kind {
        0 => (MessageType::Sync, Body::Sync { origin: t }),
        1 => (MessageType::DelayReq, Body::DelayReq { origin: t }),
        2 => (MessageType::FollowUp, Body::FollowUp { precise_origin: t }),
        3 => (
            MessageType::DelayResp,
            Body::DelayResp {
                receive: t,
                requesting_port: p,
            },
        ),
        4 => (MessageType::PdelayReq, Body::PdelayReq { origin: t }),
        5 => (
            MessageType::PdelayResp,
            Body::PdelayResp {
                request_receipt: t,
                requesting_port: p,
            },
        ),
        6 => (
            MessageType::PdelayRespFollowUp,
            Body::PdelayRespFollowUp {
                response_origin: t,
                requesting_port: p,
            },
        ),
        7 => {
            let a = s.announce;
            (
                MessageType::Announce,
                Body::Announce(Announce {
                    origin: t,
                    utc_offset: a.0,
                    priority1: a.1,
                    clock_class: a.2,
                    clock_accuracy: a.3,
                    variance: a.4,
                    priority2: a.5,
                    grandmaster: ClockIdentity(a.6),
                    steps_removed: a.7,
                    time_source: a.8,
                }),
            )
        }
        8 => (
            MessageType::Signaling,
            Body::Signaling {
                target_port: p,
                tlvs: Tlvs::new(&s.tlvs, HEADER_LEN + 10),
            },
        ),
        _ => (
            MessageType::Management,
            Body::Management {
                target_port: p,
                starting_boundary_hops: s.hops.0,
                boundary_hops: s.hops.1,
                action: s.hops.2,
                tlvs: Tlvs::new(&s.tlvs, HEADER_LEN + 14),
            },
        ),
    };
    let h = s.header;
    PtpMessage {
        header: Header {
            sdo_id: h.0,
            message_type,
            minor_version: h.1,
            domain: h.2,
            flags: Flags(h.3),
            correction: h.4,
            source_port: h.5,
            sequence_id: h.6,
            log_interval: h.7,
        },
        body,
    }
}

/// Every accessor of a checked view agrees with the parsed message.
fn view_agrees(p: &PtpPacket<&[u8]>, m: &PtpMessage<'_>) -> Result<(), TestCaseError> {
    prop_assert_eq!(p.header(), m.header);
    prop_assert_eq!(p.message_type(), m.header.message_type);
    prop_assert_eq!(p.sdo_id(), m.header.sdo_id);
    prop_assert_eq!(p.minor_version(), m.header.minor_version);
    prop_assert_eq!(p.domain(), m.header.domain);
    prop_assert_eq!(p.flags(), m.header.flags);
    prop_assert_eq!(p.correction(), m.header.correction);
    prop_assert_eq!(p.source_port(), m.header.source_port);
    prop_assert_eq!(p.sequence_id(), m.header.sequence_id);
    prop_assert_eq!(p.log_interval(), m.header.log_interval);
    prop_assert_eq!(usize::from(p.message_len()), p.bytes().len());
    prop_assert_eq!(p.body().len() + HEADER_LEN, p.bytes().len());
    let (timestamp, requesting, target, grandmaster, tlvs) = match m.body {
        Body::Sync { origin } | Body::DelayReq { origin } | Body::PdelayReq { origin } => {
            (Some(origin), None, None, None, None)
        }
        Body::FollowUp { precise_origin } => (Some(precise_origin), None, None, None, None),
        Body::DelayResp {
            receive: t,
            requesting_port: r,
        }
        | Body::PdelayResp {
            request_receipt: t,
            requesting_port: r,
        }
        | Body::PdelayRespFollowUp {
            response_origin: t,
            requesting_port: r,
        } => (Some(t), Some(r), None, None, None),
        Body::Announce(a) => (Some(a.origin), None, None, Some(a.grandmaster), None),
        Body::Signaling { target_port, tlvs }
        | Body::Management {
            target_port, tlvs, ..
        } => (None, None, Some(target_port), None, Some(tlvs)),
    };
    prop_assert_eq!(p.timestamp(), timestamp);
    prop_assert_eq!(p.requesting_port(), requesting);
    prop_assert_eq!(p.target_port(), target);
    prop_assert_eq!(p.grandmaster(), grandmaster);
    prop_assert_eq!(p.tlvs(), tlvs);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn every_message_type_round_trips(s in spec(), padding in 0usize..8) {
        // Every type on every case, so none is left to chance.
        for kind in 0..10 {
            let s = Spec { kind, ..s.clone() };
            let msg = build(&s);
            let mut buf = [0u8; 256];
            let n = msg.emit(&mut buf).unwrap();
            prop_assert_eq!(n, msg.len());
            prop_assert_eq!(n, msg.body.message_type().min_len() + if kind >= 8 { s.tlvs.len() } else { 0 });
            prop_assert_eq!(PtpMessage::parse(&buf[..n]), Ok(msg));
            // Padding after messageLength is ignored.
            prop_assert_eq!(PtpMessage::parse(&buf[..n + padding]), Ok(msg));
            // TLVs come back as they went in.
            if let Body::Signaling { tlvs, .. } | Body::Management { tlvs, .. } = msg.body {
                prop_assert!(tlvs.clone().all(|t| t.is_ok()));
                prop_assert_eq!(tlvs.bytes(), &s.tlvs[..]);
            }
            // Every truncation is a typed error, from the view and the parser alike.
            for cut in 0..n {
                prop_assert!(PtpMessage::parse(&buf[..cut]).is_err());
                prop_assert!(PtpPacket::new_checked(&buf[..cut]).is_err());
            }
        }
    }

    #[test]
    fn emit_into_any_short_buffer_is_buffer_too_small(s in spec()) {
        for kind in 0..10 {
            let s = Spec { kind, ..s.clone() };
            let msg = build(&s);
            let n = msg.len();
            for cut in 0..n {
                // Too small a buffer is an error, not a partial write.
                let mut buf = [0xa5u8; 256];
                prop_assert_eq!(
                    msg.emit(&mut buf[..cut]),
                    Err(EmitError::BufferTooSmall { needed: n })
                );
                prop_assert!(buf.iter().all(|&b| b == 0xa5));
            }
        }
    }

    #[test]
    fn a_checked_view_agrees_with_parse(s in spec(), padding in 0usize..8) {
        for kind in 0..10 {
            let s = Spec { kind, ..s.clone() };
            let msg = build(&s);
            let mut buf = [0u8; 256];
            let n = msg.emit(&mut buf).unwrap();
            let p = PtpPacket::new_checked(&buf[..n + padding]).unwrap();
            let m = PtpMessage::parse(&buf[..n + padding]).unwrap();
            view_agrees(&p, &m)?;
            prop_assert_eq!(p.bytes(), &buf[..n]);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let parsed = PtpMessage::parse(&bytes);
        let view = PtpPacket::new_checked(&bytes[..]);
        // The view checks all the parser needs: one succeeds exactly when the other does.
        prop_assert_eq!(parsed.err(), view.err());
        if let (Ok(m), Ok(p)) = (parsed, view) {
            view_agrees(&p, &m)?;
            if let Body::Signaling { tlvs, .. } | Body::Management { tlvs, .. } = m.body {
                for _ in tlvs {}
            }
        }
    }

    #[test]
    fn plausible_headers_over_arbitrary_bodies_never_panic(
        kind in prop::sample::select(&[0u8, 1, 2, 3, 8, 9, 10, 11, 12, 13][..]),
        mut bytes in proptest::collection::vec(any::<u8>(), 34..120),
        cut in any::<usize>(),
    ) {
        // Past the version and length checks that stop most arbitrary bytes.
        let len = bytes.len();
        bytes[0] = (bytes[0] & 0xf0) | kind;
        bytes[1] = (bytes[1] & 0xf0) | 2;
        bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        let bytes = &bytes[..len - cut % 4];
        let parsed = PtpMessage::parse(bytes);
        let view = PtpPacket::new_checked(bytes);
        prop_assert_eq!(parsed.err(), view.err());
        if let (Ok(m), Ok(p)) = (parsed, view) {
            view_agrees(&p, &m)?;
            if let Some(tlvs) = p.tlvs() {
                for _ in tlvs {}
            }
        }
    }

    #[test]
    fn flipped_bytes_never_panic(s in spec(), at in any::<usize>(), bits in 1u8..=255) {
        let msg = build(&s);
        let mut buf = [0u8; 256];
        let n = msg.emit(&mut buf).unwrap();
        buf[at % n] ^= bits;
        prop_assert_eq!(
            PtpMessage::parse(&buf[..n]).err(),
            PtpPacket::new_checked(&buf[..n]).err()
        );
        if let Ok(m) = PtpMessage::parse(&buf[..n]) {
            view_agrees(&PtpPacket::new_checked(&buf[..n]).unwrap(), &m)?;
            if let Body::Signaling { tlvs, .. } | Body::Management { tlvs, .. } = m.body {
                for _ in tlvs {}
            }
            let mut again = [0u8; 256];
            // Whatever parsed re-emits to a message that parses to the same thing.
            let k = m.emit(&mut again).unwrap();
            prop_assert_eq!(PtpMessage::parse(&again[..k]).map(|x| x.header), Ok(m.header));
        }
    }
}

#[test]
fn a_header_of_another_type_than_the_body_is_not_emitted() {
    let s = Spec {
        kind: 0,
        header: (0, 1, 0, 0, 0, PortIdentity::default(), 0, 0),
        t: WireTimestamp::default(),
        p: PortIdentity::default(),
        announce: Default::default(),
        hops: (0, 0, 0),
        tlvs: Vec::new(),
    };
    let mut msg = build(&s);
    msg.header.message_type = MessageType::FollowUp;
    let mut buf = [0u8; 64];
    assert_eq!(
        msg.emit(&mut buf),
        Err(EmitError::TypeMismatch {
            header: MessageType::FollowUp,
            body: MessageType::Sync
        })
    );
}

#[test]
fn tlvs_longer_than_message_length_can_say_are_not_emitted() {
    let s = Spec {
        kind: 8,
        header: (0, 1, 0, 0, 0, PortIdentity::default(), 0, 0),
        t: WireTimestamp::default(),
        p: PortIdentity::default(),
        announce: Default::default(),
        hops: (0, 0, 0),
        tlvs: vec![0; usize::from(u16::MAX) - HEADER_LEN - 10 + 1],
    };
    let msg = build(&s);
    let mut buf = vec![0u8; 1 << 17];
    assert_eq!(msg.emit(&mut buf), Err(EmitError::TooLong { len: 65_536 }));
    let s = Spec {
        tlvs: vec![0; usize::from(u16::MAX) - HEADER_LEN - 10],
        ..s
    };
    assert_eq!(build(&s).emit(&mut buf), Ok(65_535));
}

#[test]
fn a_sync_assembled_from_the_standard_parses() {
    // Two-step Sync, domain 0, from clock 00:1b:21:ff:fe:12:34:56 port 1, seq 0x1234,
    // logMessageInterval -3, origin 1.5 s (seconds 1, nanoseconds 500 000 000).
    let bytes: [u8; 44] = [
        0x00, 0x12, 0x00, 0x2c, 0x00, 0x00, 0x02,
        0x00, // type, version 2.1, length 44, domain, flags TWO_STEP
        0, 0, 0, 0, 0, 0, 0x80, 0x00, // correction: 0.5 ns (scaled by 2^16)
        0, 0, 0, 0, // messageTypeSpecific
        0x00, 0x1b, 0x21, 0xff, 0xfe, 0x12, 0x34, 0x56, 0x00, 0x01, // sourcePortIdentity
        0x12, 0x34, 0x00, 0xfd, // sequenceId, control (Sync), logMessageInterval -3
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x1d, 0xcd, 0x65,
        0x00, // origin 1 s + 500 000 000 ns
    ];
    let m = PtpMessage::parse(&bytes).unwrap();
    assert_eq!(m.header.message_type, MessageType::Sync);
    assert_eq!(m.header.minor_version, 1);
    assert!(m.header.flags.has(Flags::TWO_STEP));
    assert_eq!(m.header.correction, 0x8000);
    assert_eq!(
        m.header.source_port.clock,
        ClockIdentity([0x00, 0x1b, 0x21, 0xff, 0xfe, 0x12, 0x34, 0x56])
    );
    assert_eq!(m.header.source_port.port, 1);
    assert_eq!(m.header.sequence_id, 0x1234);
    assert_eq!(m.header.log_interval, -3);
    assert_eq!(
        m.body,
        Body::Sync {
            origin: WireTimestamp {
                seconds: 1,
                nanos: 500_000_000
            }
        }
    );
    let mut out = [0u8; 44];
    assert_eq!(m.emit(&mut out), Ok(44));
    assert_eq!(out, bytes);
}

#[test]
fn malformed_headers_are_typed_errors() {
    let mut b = [0u8; 44];
    b[1] = 0x02;
    b[3] = 44;
    assert!(PtpMessage::parse(&b).is_ok());
    let mut v1 = b;
    v1[1] = 0x01;
    assert_eq!(PtpMessage::parse(&v1), Err(WireError::Version(1)));
    let mut t = b;
    t[0] = 0x05;
    assert_eq!(PtpMessage::parse(&t), Err(WireError::MessageType(5)));
    let mut long = b;
    long[3] = 45;
    assert_eq!(
        PtpMessage::parse(&long),
        Err(WireError::Length {
            declared: 45,
            available: 44
        })
    );
    let mut short = b;
    short[3] = 40;
    assert_eq!(
        PtpMessage::parse(&short),
        Err(WireError::Length {
            declared: 40,
            available: 44
        })
    );
    let mut ns = b;
    ns[40..44].copy_from_slice(&1_000_000_000u32.to_be_bytes());
    assert_eq!(
        PtpMessage::parse(&ns),
        Err(WireError::Nanoseconds(1_000_000_000))
    );
    // A TLV that claims more bytes than the message has.
    let mut sig = [0u8; 48];
    sig[0] = 0x0c;
    sig[1] = 0x02;
    sig[3] = 48;
    sig[44..48].copy_from_slice(&[0x00, 0x03, 0x00, 0x10]);
    let m = PtpMessage::parse(&sig).unwrap();
    let Body::Signaling { tlvs, .. } = m.body else {
        panic!()
    };
    assert_eq!(
        tlvs.collect::<Vec<_>>(),
        [Err(WireError::Tlv { offset: 44 })]
    );
}
