//! Devices appearing and disappearing under `/dev`, by event (inotify), not by polling:
//! a PHC or PPS source whose NIC was unplugged is re-opened when a device node of its
//! kind comes back.

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use inotify::{EventMask, Inotify, WatchMask};

/// A device node that came or went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceEvent {
    /// The node was created (a driver registered the device).
    Added(PathBuf),
    /// The node was removed (the device was unregistered).
    Removed(PathBuf),
}

/// Watches one directory (`/dev`) for nodes whose names start with one of a few
/// prefixes (`ptp`, `pps`).
#[derive(Debug)]
pub struct DeviceWatcher {
    inotify: Inotify,
    dir: PathBuf,
    prefixes: Vec<String>,
    buffer: Vec<u8>,
}

impl DeviceWatcher {
    /// Watches `dir` for nodes named `PREFIX...`.
    pub fn new(dir: impl AsRef<Path>, prefixes: &[&str]) -> io::Result<Self> {
        let inotify = Inotify::init()?;
        inotify
            .watches()
            .add(dir.as_ref(), WatchMask::CREATE | WatchMask::DELETE)?;
        Ok(Self {
            inotify,
            dir: dir.as_ref().to_path_buf(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            buffer: vec![0; 4096],
        })
    }

    /// `/dev`, for PTP clocks and PPS sources.
    pub fn devices() -> io::Result<Self> {
        Self::new("/dev", &["ptp", "pps"])
    }

    /// The events that arrived within `timeout` (none when it passed quietly). Waits
    /// at most `timeout`: the caller's loop stays bounded in time.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<Vec<DeviceEvent>> {
        let ready = crate::nic::wait_readable(&[self.inotify.as_fd()], timeout)?;
        if !ready {
            return Ok(Vec::new());
        }
        let events = match self.inotify.read_events(&mut self.buffer) {
            Ok(events) => events,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(events
            .filter_map(|e| {
                let name = e.name?.to_str()?;
                if !self.prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                    return None;
                }
                let path = self.dir.join(name);
                if e.mask.contains(EventMask::CREATE) {
                    Some(DeviceEvent::Added(path))
                } else if e.mask.contains(EventMask::DELETE) {
                    Some(DeviceEvent::Removed(path))
                } else {
                    None
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_of_the_watched_kinds_are_reported_as_they_come_and_go() {
        let dir = std::env::temp_dir().join(format!("tempora-hotplug-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = DeviceWatcher::new(&dir, &["ptp"]).unwrap();
        assert!(w.wait(Duration::from_millis(10)).unwrap().is_empty());
        std::fs::write(dir.join("ptp7"), b"").unwrap();
        std::fs::write(dir.join("tty0"), b"").unwrap();
        std::fs::remove_file(dir.join("ptp7")).unwrap();
        let mut seen = Vec::new();
        for _ in 0..10 {
            seen.extend(w.wait(Duration::from_millis(200)).unwrap());
            if seen.len() >= 2 {
                break;
            }
        }
        assert_eq!(
            seen,
            vec![
                DeviceEvent::Added(dir.join("ptp7")),
                DeviceEvent::Removed(dir.join("ptp7"))
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
