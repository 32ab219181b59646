//! What a PHC can do, as `PTP_CLOCK_GETCAPS` says (what `phc_ctl caps` prints).

use std::fmt;

use crate::sys::PtpClockCaps;

/// A PHC's capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PhcCaps {
    /// The largest frequency adjustment it takes, in parts per billion.
    pub max_adj_ppb: i32,
    /// Programmable alarms.
    pub n_alarm: i32,
    /// External timestamp channels (inputs whose edges it timestamps).
    pub n_ext_ts: i32,
    /// Programmable periodic outputs.
    pub n_per_out: i32,
    /// Whether it can feed the kernel's PPS subsystem.
    pub pps: bool,
    /// Input/output pins.
    pub n_pins: i32,
    /// Whether it offers hardware cross-timestamps (`PTP_SYS_OFFSET_PRECISE`).
    pub cross_timestamping: bool,
    /// Whether it takes phase adjustments (`ADJ_OFFSET`).
    pub adjust_phase: bool,
    /// The largest phase adjustment, in ns (0 where the kernel does not say).
    pub max_phase_adj_ns: i32,
}

impl From<PtpClockCaps> for PhcCaps {
    fn from(c: PtpClockCaps) -> Self {
        Self {
            max_adj_ppb: c.max_adj,
            n_alarm: c.n_alarm,
            n_ext_ts: c.n_ext_ts,
            n_per_out: c.n_per_out,
            pps: c.pps != 0,
            n_pins: c.n_pins,
            cross_timestamping: c.cross_timestamping != 0,
            adjust_phase: c.adjust_phase != 0,
            max_phase_adj_ns: c.max_phase_adj,
        }
    }
}

/// `max_adj=999999881ppb n_alarm=0 n_ext_ts=2 n_per_out=2 pps=no n_pins=4
/// cross_timestamping=no adjust_phase=no max_phase_adj=0ns`.
impl fmt::Display for PhcCaps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "no" };
        write!(
            f,
            "max_adj={}ppb n_alarm={} n_ext_ts={} n_per_out={} pps={} n_pins={} cross_timestamping={} adjust_phase={} max_phase_adj={}ns",
            self.max_adj_ppb,
            self.n_alarm,
            self.n_ext_ts,
            self.n_per_out,
            yes(self.pps),
            self.n_pins,
            yes(self.cross_timestamping),
            yes(self.adjust_phase),
            self.max_phase_adj_ns
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_caps_convert_and_print_like_phc_ctl() {
        let raw = PtpClockCaps {
            max_adj: 999_999_881,
            n_ext_ts: 2,
            n_per_out: 2,
            n_pins: 4,
            cross_timestamping: 1,
            ..PtpClockCaps::default()
        };
        let caps = PhcCaps::from(raw);
        assert!(caps.cross_timestamping && !caps.pps && !caps.adjust_phase);
        assert_eq!(
            caps.to_string(),
            "max_adj=999999881ppb n_alarm=0 n_ext_ts=2 n_per_out=2 pps=no n_pins=4 cross_timestamping=yes adjust_phase=no max_phase_adj=0ns"
        );
    }
}
