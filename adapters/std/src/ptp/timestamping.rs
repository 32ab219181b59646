//! Which timestamps a PTP socket asks the kernel for: software ones on `CLOCK_REALTIME`,
//! or the NIC's own, taken at the wire on its PTP hardware clock (PHC).
//!
//! What a NIC can do is asked with `ETHTOOL_GET_TS_INFO` ([`TimestampingInfo`], from
//! [`nic`](crate::nic));
//! hardware timestamping is switched on with `SIOCSHWTSTAMP`, the driver's settings being
//! per device, not per socket. With hardware timestamps, every time the port sees is on
//! the PHC, so the node takes the PHC as its local clock ([`PhcClock`](crate::clock::phc::PhcClock)).

use std::io;

use crate::sys;

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampMode {
    /// Hardware when the interface has it (a PHC, and send and receive timestamps),
    /// software otherwise; and software after all if the NIC turns out not to stamp the
    /// event messages it receives.
    Auto,
    /// The kernel's software timestamps on `CLOCK_REALTIME`.
    Software,
    /// The NIC's timestamps on its PHC; an error where the NIC has none.
    Hardware,
}

/// As on the command line: `auto`, `software` or `hardware`.
impl std::fmt::Display for TimestampMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Software => "software",
            Self::Hardware => "hardware",
        })
    }
}

/// The timestamps a socket actually uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timestamps {
    /// Software timestamps, `CLOCK_REALTIME`.
    Software,
    /// Hardware timestamps on PTP hardware clock `/dev/ptp<phc>`.
    Hardware {
        /// The PHC's index.
        phc: u32,
    },
}

/// As the daemon prints it: `software` or `hardware:/dev/ptpN`.
impl std::fmt::Display for Timestamps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Software => f.write_str("software"),
            Self::Hardware { phc } => write!(f, "hardware:/dev/ptp{phc}"),
        }
    }
}

pub use crate::nic::TimestampingInfo;

/// Switches the NIC of `iface` to stamp every sent packet that asks for it, and the
/// received PTP event messages (`rx_filter`). Returns the receive filter the driver
/// chose, which may be wider than the one asked for. Needs `CAP_NET_ADMIN`.
pub fn enable_hardware(iface: &str, rx_filter: libc::c_uint) -> io::Result<libc::c_uint> {
    let config = libc::hwtstamp_config {
        flags: 0,
        tx_type: libc::HWTSTAMP_TX_ON as libc::c_int,
        rx_filter: rx_filter as libc::c_int,
    };
    let applied = sys::set_hwtstamp(iface, config)?;
    Ok(applied.rx_filter as libc::c_uint)
}

/// Decides which timestamps `iface` will use for `mode`, and for hardware switches the
/// NIC on. `layer2` picks the receive filter.
pub fn choose(iface: &str, mode: TimestampMode, layer2: bool) -> io::Result<Timestamps> {
    if mode == TimestampMode::Software {
        return Ok(Timestamps::Software);
    }
    let info = TimestampingInfo::query(iface);
    let plan = info
        .as_ref()
        .ok()
        .filter(|i| i.hardware())
        .and_then(|i| Some((i.phc?, i.rx_filter(layer2)?)));
    let Some((phc, filter)) = plan else {
        if mode == TimestampMode::Auto {
            return Ok(Timestamps::Software);
        }
        let what = match info {
            Ok(i) => format!(
                "capabilities {:#x}, PHC {:?}, receive filters {:#x}",
                i.capabilities, i.phc, i.rx_filters
            ),
            Err(e) => e.to_string(),
        };
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{iface} has no hardware timestamps for PTP ({what})"),
        ));
    };
    match enable_hardware(iface, filter) {
        Ok(_) => Ok(Timestamps::Hardware { phc }),
        Err(_) if mode == TimestampMode::Auto => Ok(Timestamps::Software),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("switching on hardware timestamps on {iface}: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::{RAW_HARDWARE, RX_HARDWARE, TX_HARDWARE};

    #[test]
    fn loopback_has_software_timestamps_only() {
        let info = TimestampingInfo::query("lo").expect("ethtool ts info on lo");
        // SOF_TIMESTAMPING_RX_SOFTWARE, as `ethtool -T lo` shows.
        assert_ne!(info.capabilities & (1 << 3), 0, "{info:?}");
        assert!(!info.hardware(), "{info:?}");
        assert_eq!(info.phc, None);
        assert_eq!(
            choose("lo", TimestampMode::Auto, false).unwrap(),
            Timestamps::Software
        );
        let err = choose("lo", TimestampMode::Hardware, true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
    }

    #[test]
    fn unknown_and_malformed_interfaces_are_errors() {
        assert!(TimestampingInfo::query("no-such-if0").is_err());
        let long = "x".repeat(libc::IFNAMSIZ);
        let err = TimestampingInfo::query(&long).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(choose("bad\0name", TimestampMode::Hardware, false).is_err());
    }

    #[test]
    fn the_receive_filter_prefers_the_narrowest_the_driver_offers() {
        let info = |rx_filters: u32| TimestampingInfo {
            capabilities: TX_HARDWARE | RX_HARDWARE | RAW_HARDWARE,
            phc: Some(0),
            tx_types: 1 << libc::HWTSTAMP_TX_ON,
            rx_filters,
        };
        let bit = |f: libc::c_uint| 1u32 << f;
        let all = bit(libc::HWTSTAMP_FILTER_ALL);
        let v2 = bit(libc::HWTSTAMP_FILTER_PTP_V2_EVENT);
        let l2 = bit(libc::HWTSTAMP_FILTER_PTP_V2_L2_EVENT);
        let l4 = bit(libc::HWTSTAMP_FILTER_PTP_V2_L4_EVENT);
        assert!(info(all).hardware());
        assert_eq!(
            info(all | v2 | l2 | l4).rx_filter(true),
            Some(libc::HWTSTAMP_FILTER_PTP_V2_L2_EVENT)
        );
        assert_eq!(
            info(all | v2 | l2 | l4).rx_filter(false),
            Some(libc::HWTSTAMP_FILTER_PTP_V2_L4_EVENT)
        );
        assert_eq!(
            info(all | v2).rx_filter(true),
            Some(libc::HWTSTAMP_FILTER_PTP_V2_EVENT)
        );
        assert_eq!(info(all).rx_filter(false), Some(libc::HWTSTAMP_FILTER_ALL));
        assert_eq!(info(l4).rx_filter(true), None);
        let mut no_phc = info(all);
        no_phc.phc = None;
        assert!(!no_phc.hardware());
    }
}
