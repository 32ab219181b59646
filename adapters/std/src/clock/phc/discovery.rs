//! Which PHCs this machine has (`/sys/class/ptp/ptpN`), which network interfaces they
//! belong to (`ETHTOOL_GET_TS_INFO`, as `ethtool -T` finds them), and choosing one by
//! index, path or interface.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::nic::TimestampingInfo;

use super::{CrossMethod, CrossTimestamper, PhcCaps, PhcClock};

/// One PHC as the kernel lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhcInfo {
    /// N of `/dev/ptpN`.
    pub index: u32,
    /// The device node.
    pub path: PathBuf,
    /// The driver's name for it (igb: the MAC address; e1000e: `e1000e`).
    pub clock_name: String,
    /// The interfaces whose hardware timestamps are on it.
    pub interfaces: Vec<String>,
    /// Its capabilities, or why they could not be read (permissions, say).
    pub caps: Result<PhcCaps, String>,
    /// The best cross-timestamp method it accepts, and the ones it refused.
    pub cross: Result<(CrossMethod, Vec<(CrossMethod, String)>), String>,
}

/// `/dev/ptp0 clock_name=52:54:00:12:00:01 interfaces=eth0 cross_timestamps=extended
/// (refused: precise) max_adj=...`.
impl fmt::Display for PhcInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let interfaces = if self.interfaces.is_empty() {
            "-".to_string()
        } else {
            self.interfaces.join(",")
        };
        write!(
            f,
            "{} clock_name={} interfaces={}",
            self.path.display(),
            self.clock_name.replace(' ', "_"),
            interfaces
        )?;
        match &self.cross {
            Ok((method, refused)) => {
                write!(f, " cross_timestamps={method}")?;
                if !refused.is_empty() {
                    let names: Vec<&str> = refused.iter().map(|(m, _)| m.as_str()).collect();
                    write!(f, " refused={}", names.join(","))?;
                }
            }
            Err(e) => write!(f, " cross_timestamps=error({e})")?,
        }
        match &self.caps {
            Ok(c) => write!(f, " {c}"),
            Err(e) => write!(f, " caps=error({e})"),
        }
    }
}

/// Every PHC under `sysfs` (normally `/sys`), devices under `dev` (normally `/dev`),
/// by index.
pub fn list_in(sysfs: &Path, dev: &Path) -> io::Result<Vec<PhcInfo>> {
    let class = sysfs.join("class/ptp");
    let entries = match std::fs::read_dir(&class) {
        Ok(e) => e,
        // No PTP support in the kernel, or no PHC: none.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let interfaces = interfaces_by_phc(sysfs);
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(index) = name
            .to_str()
            .and_then(|n| n.strip_prefix("ptp"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let clock_name = std::fs::read_to_string(entry.path().join("clock_name"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let path = dev.join(format!("ptp{index}"));
        let opened = PhcClock::open_path(&path);
        let caps = opened
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|p| p.caps().map_err(|e| e.to_string()));
        let cross = opened.map_err(|e| e.to_string()).and_then(|p| {
            let mut t = CrossTimestamper::new(1);
            t.take(&p)
                .map(|ts| (ts.method, t.refused().to_vec()))
                .map_err(|e| e.to_string())
        });
        found.push(PhcInfo {
            index,
            path,
            clock_name,
            interfaces: interfaces
                .iter()
                .filter(|(_, phc)| *phc == index)
                .map(|(i, _)| i.clone())
                .collect(),
            caps,
            cross,
        });
    }
    found.sort_by_key(|p| p.index);
    Ok(found)
}

/// Every PHC of this machine.
pub fn list() -> io::Result<Vec<PhcInfo>> {
    list_in(Path::new("/sys"), Path::new("/dev"))
}

/// (interface, PHC index) for every interface whose driver names a PHC.
fn interfaces_by_phc(sysfs: &Path) -> Vec<(String, u32)> {
    let Ok(entries) = std::fs::read_dir(sysfs.join("class/net")) else {
        return Vec::new();
    };
    let mut found: Vec<(String, u32)> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|iface| {
            let phc = TimestampingInfo::query(&iface).ok()?.phc?;
            Some((iface, phc))
        })
        .collect();
    found.sort();
    found
}

/// How the user names a PHC: `phc:/dev/ptp0`, `phc:0` or `phc:eth0` on the command
/// line, after the `phc:`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PhcSelector {
    /// `/dev/ptpN`.
    Index(u32),
    /// A device path (a udev symlink such as `/dev/ptp_hyperv` too).
    Path(PathBuf),
    /// The PHC of a network interface.
    Interface(String),
}

impl FromStr for PhcSelector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.starts_with('/') {
            Ok(Self::Path(PathBuf::from(s)))
        } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse()
                .map(Self::Index)
                .map_err(|_| format!("PHC index '{s}' is too large"))
        } else if s.is_empty()
            || s.len() >= libc::IFNAMSIZ
            || s.contains(|c: char| c.is_whitespace() || c == '/' || c == '\0')
        {
            Err(format!(
                "'{s}' names no PHC: give an index (0), a path (/dev/ptp0) or an interface (eth0)"
            ))
        } else {
            Ok(Self::Interface(s.to_string()))
        }
    }
}

/// As parsed: `0`, `/dev/ptp0` or `eth0`.
impl fmt::Display for PhcSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Index(i) => write!(f, "{i}"),
            Self::Path(p) => write!(f, "{}", p.display()),
            Self::Interface(i) => f.write_str(i),
        }
    }
}

impl PhcSelector {
    /// The device node this names now (an interface's PHC can change index when its
    /// NIC is re-plugged, so this is asked again on every re-open).
    pub fn resolve(&self) -> io::Result<PathBuf> {
        match self {
            Self::Index(i) => Ok(PathBuf::from(format!("/dev/ptp{i}"))),
            Self::Path(p) => Ok(p.clone()),
            Self::Interface(iface) => match TimestampingInfo::query(iface)?.phc {
                Some(i) => Ok(PathBuf::from(format!("/dev/ptp{i}"))),
                None => Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{iface} has no PTP hardware clock"),
                )),
            },
        }
    }

    /// Opens the PHC this names.
    pub fn open(&self) -> io::Result<PhcClock> {
        PhcClock::open_path(self.resolve()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_by_shape_and_print_back() {
        for (text, want) in [
            ("0", PhcSelector::Index(0)),
            ("12", PhcSelector::Index(12)),
            ("/dev/ptp3", PhcSelector::Path("/dev/ptp3".into())),
            ("eth0", PhcSelector::Interface("eth0".into())),
            ("enp0s31f6", PhcSelector::Interface("enp0s31f6".into())),
        ] {
            let got: PhcSelector = text.parse().unwrap();
            assert_eq!(got, want);
            assert_eq!(got.to_string(), text);
        }
        for bad in ["", "eth 0", "a-very-long-interface-name", "99999999999"] {
            assert!(bad.parse::<PhcSelector>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resolving_by_index_and_interface() {
        assert_eq!(
            PhcSelector::Index(2).resolve().unwrap(),
            PathBuf::from("/dev/ptp2")
        );
        // Loopback has software timestamps only: no PHC.
        let err = PhcSelector::Interface("lo".into()).resolve().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(
            err.to_string().contains("lo has no PTP hardware clock"),
            "{err}"
        );
    }

    #[test]
    fn a_sysfs_tree_is_listed_by_index_with_names() {
        // A made-up sysfs with two clocks and no network interfaces; their device
        // nodes do not exist, so caps and cross-timestamps say why.
        let root = std::env::temp_dir().join(format!("tempora-sysfs-{}", std::process::id()));
        for (i, name) in [(1, "e1000e"), (0, "52:54:00:12:00:01")] {
            let d = root.join(format!("class/ptp/ptp{i}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("clock_name"), format!("{name}\n")).unwrap();
        }
        std::fs::create_dir_all(root.join("class/ptp/not-a-clock")).unwrap();
        let dev = root.join("dev");
        let phcs = list_in(&root, &dev).unwrap();
        assert_eq!(phcs.len(), 2);
        assert_eq!((phcs[0].index, phcs[1].index), (0, 1));
        assert_eq!(phcs[0].clock_name, "52:54:00:12:00:01");
        assert_eq!(phcs[1].path, dev.join("ptp1"));
        assert!(phcs[1].caps.is_err() && phcs[1].cross.is_err());
        let line = phcs[1].to_string();
        assert!(
            line.starts_with(&format!(
                "{} clock_name=e1000e interfaces=-",
                dev.join("ptp1").display()
            )),
            "{line}"
        );
        std::fs::remove_dir_all(&root).unwrap();
        // No ptp class at all: no PHCs, not an error.
        assert!(list_in(Path::new("/nonexistent"), &dev).unwrap().is_empty());
    }
}
