//! Any process's side: bounded time and host-wide HLC timestamps from the segment.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicU64};
use std::time::Duration;

use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
use tempora_core::hlc::{Hlc, HlcConfig};
use tempora_core::hooks::NoHooks;
use tempora_core::time::{Instant, Utc};
use tempora_core::timestamp::{NodeId, Timestamp};

use super::journal::{self, Event, HistoryEntry};
use super::layout::{
    decode_source, word, Correction, Header, LayoutError, HEADER_WORDS, HLC_MAGIC, SEGMENT_BYTES,
    TIME_MAGIC,
};
use super::segment::{check, hlc_path};
use super::OpenError;
use crate::clock::SystemClock;
use crate::sys::{clock_nanos, SharedMap};

/// How often a read retries a slot that is being rewritten before it gives up and
/// reports unknown: far more than a publication takes, so only a writer stopped in
/// the middle of one (which two slots make impossible to wait on) gets there.
const MAX_RETRIES: u32 = 1_000;

/// An HLC issuing from the host-wide state word, over `CLOCK_REALTIME`.
pub type SharedHlc<'a> = Hlc<SystemClock, NoHooks, &'a AtomicU64>;

/// Why the host-wide HLC cannot be used from this process.
#[derive(Debug)]
pub enum HlcUnavailable {
    /// No `PATH.hlc` next to the segment.
    Missing(PathBuf),
    /// The HLC segment is not writable by this user (see the permission model in
    /// `docs/time-service.md`: the daemon's `--time-service-group`).
    ReadOnly(PathBuf),
}

impl std::fmt::Display for HlcUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(p) => write!(f, "no HLC segment at {}", p.display()),
            Self::ReadOnly(p) => write!(f, "{} is not writable by this user", p.display()),
        }
    }
}

impl std::error::Error for HlcUnavailable {}

/// What the segment says about its daemon, checked the slow way (a `/proc` look-up
/// and a `CLOCK_MONOTONIC` read): for status displays, not for every read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Health {
    /// The header.
    pub header: Header,
    /// Whether a process with the daemon's pid exists (and is not a zombie).
    pub pid_alive: bool,
    /// Publications so far.
    pub publications: u64,
    /// Time since the last publication (`CLOCK_MONOTONIC`); `None` before the first.
    pub heartbeat_age: Option<Duration>,
}

impl Health {
    /// A daemon runs and publishes: running, its process alive, and its heartbeat
    /// younger than the staleness limit.
    pub fn is_live(&self) -> bool {
        self.header.running
            && self.pid_alive
            && self
                .heartbeat_age
                .is_some_and(|a| a <= self.header.stale_after)
    }
}

/// Reads a time service segment: maps `PATH` read-only and `PATH.hlc` read-write
/// when this user may.
///
/// [`Reader::read`] costs a vDSO clock read and a few loads: no system call, no lock.
#[derive(Debug)]
pub struct Reader {
    path: PathBuf,
    time: SharedMap,
    hlc: Option<SharedMap>,
}

impl Reader {
    /// Opens the segment at `path`.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let err = |source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(err)?;
        let time = SharedMap::map(&file, SEGMENT_BYTES, false).map_err(err)?;
        check(&time, TIME_MAGIC).map_err(|source| OpenError::Layout {
            path: path.to_path_buf(),
            source,
        })?;
        let hlc_file = hlc_path(path);
        let hlc = match OpenOptions::new().read(true).write(true).open(&hlc_file) {
            Ok(f) => Some((f, true)),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                File::open(&hlc_file).ok().map(|f| (f, false))
            }
            Err(_) => None,
        };
        let hlc = hlc
            .and_then(|(f, writable)| SharedMap::map(&f, SEGMENT_BYTES, writable).ok())
            .filter(|m| check(m, HLC_MAGIC).is_ok());
        Ok(Self {
            path: path.to_path_buf(),
            time,
            hlc,
        })
    }

    /// The segment's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The latest correction, read under the seqlock; `None` if the slot stayed
    /// mid-write through every retry.
    #[inline]
    pub fn correction(&self) -> Option<Correction> {
        let m = &self.time;
        for _ in 0..MAX_RETRIES {
            let n = m.load(word::PUBLICATIONS);
            fence(std::sync::atomic::Ordering::Acquire);
            let base = word::SLOTS + (n % 2) as usize * word::SLOT_WORDS;
            let seq = m.load(base + word::SEQ);
            // No load below moves above the sequence count's.
            fence(std::sync::atomic::Ordering::Acquire);
            // The publication number, then the correction.
            let rest: [u64; 1 + word::CORRECTION_WORDS] = m.load_words(base + word::PUBLICATION);
            // Nor the second load of the count above them.
            fence(std::sync::atomic::Ordering::Acquire);
            // Being written, rewritten since, or holding another publication than `n`
            // (a stale `n`, the writer already two ahead): read again.
            if seq % 2 == 0 && m.load(base + word::SEQ) == seq && rest[0] == n {
                let mut w = [0u64; word::CORRECTION_WORDS];
                w.copy_from_slice(&rest[1..]);
                return Correction::decode(&w).ok();
            }
            std::hint::spin_loop();
        }
        None
    }

    /// Bounded time now: `[earliest, latest]` and a status, from this process's own
    /// `CLOCK_REALTIME` read and the daemon's latest correction. Unknown (and
    /// unbounded) when the daemon stopped, died (its last publication expired), or
    /// restarted and has not published yet.
    #[inline]
    pub fn read(&self) -> ClockReading<Utc> {
        match self.correction() {
            Some(c) => c.reading_at(clock_nanos(libc::CLOCK_REALTIME)),
            None => ClockReading {
                time: Instant::from_nanos(clock_nanos(libc::CLOCK_REALTIME)),
                bound: Duration::MAX,
                status: ClockStatus::Unknown,
            },
        }
    }

    /// The header as it is now.
    pub fn header(&self) -> Result<Header, LayoutError> {
        let mut w = [0u64; HEADER_WORDS];
        for (i, w) in w.iter_mut().enumerate() {
            *w = self.time.load(i);
        }
        fence(std::sync::atomic::Ordering::Acquire);
        Header::decode(&w)
    }

    /// The daemon's source, as it names it (`system`, `ptp:eth0`; a chain's active
    /// source). A name read while the daemon renames it is read again, a few times.
    pub fn source(&self) -> String {
        let read = || {
            let mut w = [0u64; word::SOURCE_WORDS];
            for (i, w) in w.iter_mut().enumerate() {
                *w = self.time.load(word::SOURCE + i);
            }
            w
        };
        let mut last = read();
        for _ in 0..4 {
            let again = read();
            if again == last {
                break;
            }
            last = again;
        }
        decode_source(&last)
    }

    /// The daemon's journal of status lines, oldest first: the last
    /// [`HISTORY_LEN`](super::HISTORY_LEN) (fewer if an entry was being written at
    /// every try). Kept after the daemon stops, for a post-mortem.
    pub fn history(&self) -> Vec<HistoryEntry> {
        let n = self.time.load(word::HISTORY_COUNT);
        (n.saturating_sub(journal::HISTORY_LEN as u64)..n)
            .filter_map(|i| {
                let w =
                    self.read_entry::<{ journal::HISTORY_WORDS - 1 }>(journal::history_slot(i))?;
                journal::decode_history(&w, i)
            })
            .collect()
    }

    /// The daemon's journal of warnings (a source switched, a transport lost), oldest
    /// first: the last [`EVENTS_LEN`](super::EVENTS_LEN).
    pub fn events(&self) -> Vec<Event> {
        let n = self.time.load(word::EVENTS_COUNT);
        (n.saturating_sub(journal::EVENTS_LEN as u64)..n)
            .filter_map(|i| {
                let w = self.read_entry::<{ journal::EVENT_WORDS - 1 }>(journal::event_slot(i))?;
                journal::decode_event(&w, i)
            })
            .collect()
    }

    /// The `N` words after the sequence count at `base`, read under it.
    fn read_entry<const N: usize>(&self, base: usize) -> Option<[u64; N]> {
        let m = &self.time;
        fence(std::sync::atomic::Ordering::Acquire);
        for _ in 0..MAX_RETRIES {
            let seq = m.load(base);
            fence(std::sync::atomic::Ordering::Acquire);
            let w: [u64; N] = m.load_words(base + 1);
            fence(std::sync::atomic::Ordering::Acquire);
            if seq % 2 == 0 && m.load(base) == seq {
                return Some(w);
            }
            std::hint::spin_loop();
        }
        None
    }

    /// Whether a daemon is alive and publishing, checked the slow way.
    pub fn health(&self) -> Result<Health, LayoutError> {
        let header = self.header()?;
        let publications = self.time.load(word::PUBLICATIONS);
        let beat = self.time.load(word::HEARTBEAT_MONO_NS);
        let now = clock_nanos(libc::CLOCK_MONOTONIC);
        Ok(Health {
            header,
            pid_alive: pid_alive(header.pid),
            publications,
            heartbeat_age: (beat != 0).then(|| Duration::from_nanos(now.saturating_sub(beat))),
        })
    }

    /// The host's HLC node id.
    pub fn node(&self) -> NodeId {
        NodeId(self.time.load(word::NODE) as u32)
    }

    /// The last host-wide HLC timestamp issued, by any process (readable without write
    /// permission).
    pub fn hlc_last(&self) -> Option<Timestamp<Utc>> {
        let m = self.hlc.as_ref()?;
        Some(Timestamp::from_raw(m.load(word::HLC), self.node()))
    }

    /// An HLC over the host-wide state word: its timestamps are strictly increasing
    /// together with every other process's on this host. Needs write access to
    /// `PATH.hlc`. It refuses remote timestamps further ahead than the max offset the
    /// daemon publishes (`tempora run --max-offset`), the same for every process on the
    /// host; the core's default where the daemon published none.
    pub fn hlc(&self) -> Result<SharedHlc<'_>, HlcUnavailable> {
        let max_offset = self.header().ok().and_then(|h| h.max_offset);
        self.hlc_with(HlcConfig {
            max_offset: max_offset.unwrap_or(HlcConfig::DEFAULT.max_offset),
            ..HlcConfig::DEFAULT
        })
    }

    /// [`Reader::hlc`] with other limits.
    pub fn hlc_with(&self, config: HlcConfig) -> Result<SharedHlc<'_>, HlcUnavailable> {
        let path = hlc_path(&self.path);
        let map = self
            .hlc
            .as_ref()
            .ok_or(HlcUnavailable::Missing(path.clone()))?;
        let state = map.word(word::HLC).ok_or(HlcUnavailable::ReadOnly(path))?;
        Ok(Hlc::with_state(
            state,
            SystemClock::new(),
            self.node(),
            config,
            NoHooks,
        ))
    }

    /// Whether this process may take host-wide HLC timestamps.
    pub fn hlc_writable(&self) -> bool {
        self.hlc.as_ref().is_some_and(SharedMap::writable)
    }
}

/// The reader as a clock source: bounded UTC from the daemon.
impl ClockSource for Reader {
    type Scale = Utc;

    #[inline]
    fn read(&self) -> ClockReading<Utc> {
        Reader::read(self)
    }
}

/// `/proc/PID/stat` exists and its state is not `Z` (a zombie has exited).
fn pid_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}
