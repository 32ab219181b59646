//! What a port is configured from: its clock identity as text (linuxptp's form and the
//! bare 16 hex digits) and the configuration check, whose errors name the option and
//! the range IEEE 1588 allows.
#![cfg(not(loom))]

use proptest::prelude::*;
use tempora_core::ptp::port::{ConfigError, IntervalKind, PortConfig, PortState};
use tempora_core::ptp::wire::{ClockIdentity, ParseIdentityError, PortIdentity, WireError};
use tempora_core::time::TaiOffset;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Display and FromStr are inverse, in the dotted form and in the bare hex form,
    /// in either case.
    #[test]
    fn identities_round_trip_through_text(bytes in any::<[u8; 8]>()) {
        let id = ClockIdentity(bytes);
        let dotted = id.to_string();
        prop_assert_eq!(dotted.len(), 18);
        prop_assert_eq!(dotted.parse::<ClockIdentity>(), Ok(id));
        let bare: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        prop_assert_eq!(bare.parse::<ClockIdentity>(), Ok(id));
        prop_assert_eq!(dotted.to_uppercase().parse::<ClockIdentity>(), Ok(id));
    }

    /// Anything else is refused: a wrong length, a stray character, dots elsewhere.
    #[test]
    fn malformed_identities_are_refused(bytes in any::<[u8; 8]>(), cut in 0usize..18, junk in "[g-zG-Z:_ -]") {
        let dotted = ClockIdentity(bytes).to_string();
        prop_assert_eq!(dotted[..cut].parse::<ClockIdentity>(), Err(ParseIdentityError));
        let mut longer = dotted.clone();
        longer.push('0');
        prop_assert_eq!(longer.parse::<ClockIdentity>(), Err(ParseIdentityError));
        let mut bad = dotted.clone();
        let at = if cut == 6 || cut == 11 { 0 } else { cut };
        bad.replace_range(at..at + 1, &junk);
        prop_assert_eq!(bad.parse::<ClockIdentity>(), Err(ParseIdentityError));
        // 17 hex digits with the dots removed: one too many.
        let bare: String = dotted.chars().filter(|&c| c != '.').chain(['a']).collect();
        prop_assert_eq!(bare.parse::<ClockIdentity>(), Err(ParseIdentityError));
    }

    /// `validate` accepts exactly the ranges IEEE 1588 profiles allow and reports the
    /// first option outside them (intervals in order, then the timeout, then TAI - UTC).
    #[test]
    fn validate_reports_the_first_option_out_of_range(
        // Mostly in range, so that every later check is reached too.
        announce in prop_oneof![3 => -4i8..=5, 1 => any::<i8>()],
        sync in prop_oneof![3 => -8i8..=5, 1 => any::<i8>()],
        delay in prop_oneof![3 => -8i8..=7, 1 => any::<i8>()],
        timeout in prop_oneof![3 => 0u8..4, 1 => any::<u8>()],
        utc in prop_oneof![-40_000i32..40_000, any::<i32>()],
    ) {
        let mut c = PortConfig::ordinary(ClockIdentity([1; 8]), 128, false)
            .with_intervals(announce, sync, delay, timeout);
        c.utc_offset = TaiOffset(utc);
        let want = if !(-3..=4).contains(&announce) {
            Err(ConfigError::Interval { kind: IntervalKind::Announce, log2: announce })
        } else if !(-7..=4).contains(&sync) {
            Err(ConfigError::Interval { kind: IntervalKind::Sync, log2: sync })
        } else if !(-7..=6).contains(&delay) {
            Err(ConfigError::Interval { kind: IntervalKind::DelayReq, log2: delay })
        } else if timeout < 2 {
            Err(ConfigError::AnnounceReceiptTimeout(timeout))
        } else if i16::try_from(utc).is_err() {
            Err(ConfigError::UtcOffset(TaiOffset(utc)))
        } else {
            Ok(())
        };
        prop_assert_eq!(c.validate(), want);
    }
}

#[test]
fn config_errors_name_the_option_and_its_range() {
    let texts = [
        (
            ConfigError::Interval {
                kind: IntervalKind::Announce,
                log2: 9,
            },
            "logAnnounceInterval 9 is outside -3..=4 (log2 seconds)",
        ),
        (
            ConfigError::Interval {
                kind: IntervalKind::Sync,
                log2: -128,
            },
            "logSyncInterval -128 is outside -7..=4 (log2 seconds)",
        ),
        (
            ConfigError::Interval {
                kind: IntervalKind::DelayReq,
                log2: 7,
            },
            "logMinDelayReqInterval 7 is outside -7..=6 (log2 seconds)",
        ),
        (
            ConfigError::AnnounceReceiptTimeout(1),
            "announceReceiptTimeout 1 is below 2",
        ),
        (
            ConfigError::UtcOffset(TaiOffset(40_000)),
            "currentUtcOffset 40000 s does not fit 16 bits",
        ),
    ];
    for (e, text) in texts {
        assert_eq!(e.to_string(), text);
    }
    assert_eq!(
        ParseIdentityError.to_string(),
        "a clock identity is 16 hex digits, as 001122.fffe.334455 or 001122fffe334455"
    );
}

#[test]
fn states_and_wire_errors_print_as_documented() {
    let master = PortIdentity {
        clock: ClockIdentity([1; 8]),
        port: 1,
    };
    let states = [
        (PortState::Listening, "listening"),
        (PortState::Master, "master"),
        (PortState::Slave(master), "slave"),
        (PortState::Passive, "passive"),
    ];
    for (s, name) in states {
        assert_eq!((s.as_str(), s.to_string().as_str()), (name, name));
    }
    // Display pads, for status tables.
    assert_eq!(format!("[{:>9}]", PortState::Passive), "[  passive]");
    assert_eq!(format!("[{:<7}]", PortState::Master), "[master ]");
    let texts = [
        (
            WireError::Truncated { needed: 44, got: 3 },
            "PTP message truncated: 3 of 44 bytes",
        ),
        (WireError::Version(1), "PTP version 1, expected 2"),
        (WireError::MessageType(5), "unknown PTP message type 0x5"),
        (
            WireError::Length {
                declared: 90,
                available: 44,
            },
            "messageLength 90 does not fit 44 bytes",
        ),
        (
            WireError::Nanoseconds(1_000_000_000),
            "timestamp nanoseconds 1000000000 >= 10^9",
        ),
        (
            WireError::Tlv { offset: 64 },
            "TLV at offset 64 runs past the message",
        ),
    ];
    for (e, text) in texts {
        assert_eq!(e.to_string(), text);
    }
}
