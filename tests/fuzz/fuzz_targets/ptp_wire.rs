//! Any bytes into the PTP codec: parse must not panic, the checked view must accept
//! exactly what parses and agree with it, and whatever parses must emit and parse again
//! to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tempora_core::ptp::wire::{Body, PtpMessage, PtpPacket};

fuzz_target!(|data: &[u8]| {
    let view = PtpPacket::new_checked(data);
    let parsed = PtpMessage::parse(data);
    assert_eq!(view.err(), parsed.err(), "the view checks what parse needs");
    let (Ok(p), Ok(m)) = (view, parsed) else { return };
    assert_eq!(p.header(), m.header);
    let _ = (p.body(), p.timestamp(), p.requesting_port(), p.target_port());
    if let Body::Signaling { tlvs, .. } | Body::Management { tlvs, .. } = m.body {
        assert_eq!(p.tlvs(), Some(tlvs));
        for tlv in tlvs {
            let _ = tlv;
        }
    }
    let mut out = [0u8; 1 << 16];
    let n = m.emit(&mut out).expect("a parsed message emits");
    let again = PtpMessage::parse(&out[..n]).expect("an emitted message parses");
    assert_eq!(again.header, m.header);
});
