//! Any bytes into the other decoders: HLC timestamps (wire and text) and vector clocks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tempora_core::causal::VectorClock;
use tempora_core::{Timestamp, Utc};

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Timestamp::<Utc>::decode(data) {
        assert_eq!(t.encode().as_slice(), data);
    }
    if let Ok(s) = core::str::from_utf8(data) {
        if let Ok(t) = s.parse::<Timestamp<Utc>>() {
            assert_eq!(t.to_string(), s);
        }
    }
    if let Ok(v) = VectorClock::<16>::decode(data) {
        let mut out = [0u8; 2 + 12 * 16];
        let n = v.encode(&mut out).expect("fits");
        assert_eq!(&out[..n], data);
    }
});
