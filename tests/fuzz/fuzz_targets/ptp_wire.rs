//! Any bytes into the PTP codec: parse must not panic, and whatever parses must emit and
//! parse again to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tempora_core::ptp::wire::{Body, PtpMessage, PtpPacket};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = PtpPacket::new_checked(data) {
        let _ = (p.header(), p.sequence_id(), p.domain(), p.body());
    }
    let Ok(m) = PtpMessage::parse(data) else { return };
    if let Body::Signaling { tlvs, .. } | Body::Management { tlvs, .. } = m.body {
        for tlv in tlvs {
            let _ = tlv;
        }
    }
    let mut out = [0u8; 1 << 16];
    let n = m.emit(&mut out).expect("a parsed message emits");
    let again = PtpMessage::parse(&out[..n]).expect("an emitted message parses");
    assert_eq!(again.header, m.header);
});
