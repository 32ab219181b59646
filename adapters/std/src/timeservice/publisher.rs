//! The daemon's side: owns the segment, publishes a correction every interval.

use std::fs::File;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, Ordering};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use tempora_core::clock::ClockReading;
use tempora_core::time::{TaiOffset, Utc};
use tempora_core::timestamp::NodeId;

use super::journal::{self, Event, EventQueue, HistoryEntry};
use super::layout::{
    encode_source, word, Correction, Header, HLC_MAGIC, SEGMENT_BYTES, TIME_MAGIC,
};
use super::segment::{check, hlc_path, identity, open_or_create, still_names};
use super::OpenError;
use crate::sys::{clock_nanos, SharedMap};

/// How a daemon publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublisherOptions {
    /// Time between publications.
    pub interval: Duration,
    /// How long after a publication readers still trust it: two intervals by
    /// [`PublisherOptions::new`], so one late publication is tolerated and a daemon
    /// that died is noticed within two intervals.
    pub stale_after: Duration,
    /// The host's HLC node id.
    pub node: NodeId,
    /// What the daemon reads time from (`system`, `ptp:eth0`), for readers to show.
    pub source: String,
    /// TAI - UTC.
    pub tai_minus_utc: TaiOffset,
    /// A group whose members may take host-wide HLC timestamps (the HLC segment
    /// becomes 0664 and theirs); `None`: 0644, only the daemon's user.
    pub hlc_group: Option<u32>,
    /// The host's HLC max offset, published for every process's HLC to refuse remote
    /// timestamps further ahead.
    pub max_offset: Duration,
}

impl PublisherOptions {
    /// Publications every `interval`, stale after two.
    pub fn new(interval: Duration, node: NodeId, source: impl Into<String>) -> Self {
        Self {
            interval,
            stale_after: interval.saturating_mul(2),
            node,
            source: source.into(),
            tai_minus_utc: TaiOffset(37),
            hlc_group: None,
            max_offset: tempora_core::hlc::HlcConfig::DEFAULT.max_offset,
        }
    }
}

/// The one writer of a time segment: holds an exclusive lock on it while it lives.
///
/// Opening bumps the generation and publishes an unknown reading at once; dropping
/// (a clean stop) publishes an unknown reading and clears the running state, so
/// readers never see a stale "synchronized". A daemon killed outright is noticed by
/// readers when its last publication expires. The files stay: the host-wide HLC word
/// keeps its value across daemon restarts (until the host reboots, for `/dev/shm`).
#[derive(Debug)]
pub struct Publisher {
    path: PathBuf,
    time: SharedMap,
    _hlc: SharedMap,
    _lock: Flock<File>,
    publications: u64,
    stale_after: Duration,
    generation: u64,
    /// Journal entries written so far (continuing a previous daemon's).
    history: u64,
    events: u64,
    /// Warnings to journal at the next record.
    event_queue: Option<EventQueue>,
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Publisher {
    /// Takes over the segment at `path` (and `PATH.hlc`), creating them if needed.
    ///
    /// Fails with [`OpenError::Owned`] while another daemon holds it. A segment of
    /// another layout version is replaced: its readers see its heartbeat stop.
    pub fn open(path: &Path, options: &PublisherOptions) -> Result<Self, OpenError> {
        let (time, lock) = Self::lock(path)?;
        let hlc_file = hlc_path(path);
        let hlc_mode = if options.hlc_group.is_some() {
            0o664
        } else {
            0o644
        };
        let hlc = Self::open_hlc(&hlc_file, hlc_mode)?;
        let hlc_err = io_error(&hlc_file);
        let f = File::open(&hlc_file).map_err(&hlc_err)?;
        f.set_permissions(std::fs::Permissions::from_mode(hlc_mode))
            .map_err(&hlc_err)?;
        if let Some(gid) = options.hlc_group {
            std::os::unix::fs::fchown(&f, None, Some(gid)).map_err(&hlc_err)?;
        }
        let previous = time.load(word::GENERATION);
        let header = Header {
            pid: std::process::id(),
            generation: previous.wrapping_add(1),
            running: true,
            node: options.node,
            interval: options.interval,
            stale_after: options.stale_after,
            tai_minus_utc: options.tai_minus_utc,
            max_offset: Some(options.max_offset),
        };
        let (history, events) = (
            time.load(word::HISTORY_COUNT),
            time.load(word::EVENTS_COUNT),
        );
        let mut publisher = Self {
            path: path.to_path_buf(),
            publications: time.load(word::PUBLICATIONS),
            time,
            _hlc: hlc,
            _lock: lock,
            stale_after: options.stale_after,
            generation: header.generation,
            history,
            events,
            event_queue: None,
        };
        // Anything the last daemon published is void from here on.
        publisher.publish(&Correction::unknown(realtime()));
        for (i, w) in header.encode().into_iter().enumerate().skip(word::VERSION) {
            publisher.store(i, w);
        }
        publisher.set_source(&options.source);
        Ok(publisher)
    }

    /// Names the source being published (a chain names its active source, and renames
    /// it when it switches). Readers read the name until two reads agree.
    pub fn set_source(&mut self, source: &str) {
        for (i, w) in encode_source(source).into_iter().enumerate() {
            self.store(word::SOURCE + i, w);
        }
    }

    fn lock(path: &Path) -> Result<(SharedMap, Flock<File>), OpenError> {
        let err = io_error(path);
        // Bounded: a round ends in the lock, an error, or a replaced segment.
        for _ in 0..4 {
            let file = open_or_create(path, 0o644, &identity(TIME_MAGIC)).map_err(&err)?;
            let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((file, nix::errno::Errno::EWOULDBLOCK)) => {
                    let map = SharedMap::map(&file, SEGMENT_BYTES, false).map_err(&err)?;
                    return Err(OpenError::Owned {
                        path: path.to_path_buf(),
                        pid: map.load(word::PID) as u32,
                    });
                }
                Err((_, e)) => return Err(err(e.into())),
            };
            // Replaced between open and lock by a daemon that found another version.
            if !still_names(path, &lock).map_err(&err)? {
                continue;
            }
            let map = SharedMap::map(&lock, SEGMENT_BYTES, true).map_err(&err)?;
            if check(&map, TIME_MAGIC).is_err() {
                tracing::warn!(path = %path.display(), "replacing a segment of another layout");
                std::fs::remove_file(path).map_err(&err)?;
                continue;
            }
            return Ok((map, lock));
        }
        Err(err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the segment kept being replaced",
        )))
    }

    fn open_hlc(path: &Path, mode: u32) -> Result<SharedMap, OpenError> {
        let err = io_error(path);
        for _ in 0..4 {
            let file = open_or_create(path, mode, &identity(HLC_MAGIC)).map_err(&err)?;
            let map = SharedMap::map(&file, SEGMENT_BYTES, true).map_err(&err)?;
            if check(&map, HLC_MAGIC).is_ok() {
                return Ok(map);
            }
            std::fs::remove_file(path).map_err(&err)?;
        }
        Err(err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the HLC segment kept being replaced",
        )))
    }

    /// Journals warnings from `queue` (the daemon's log) at every [`Publisher::record`].
    pub fn journal_events_from(&mut self, queue: EventQueue) {
        self.event_queue = Some(queue);
    }

    /// Journals a status line (and any warnings queued since the last one).
    pub fn record(&mut self, entry: &HistoryEntry) {
        if let Some(q) = &self.event_queue {
            for e in q.drain() {
                self.record_event(&e);
            }
        }
        let n = self.history;
        self.write_entry(journal::history_slot(n), &journal::encode_history(entry, n));
        self.history = n.wrapping_add(1);
        self.store_release(word::HISTORY_COUNT, self.history);
    }

    /// Journals a warning.
    pub fn record_event(&mut self, event: &Event) {
        let n = self.events;
        self.write_entry(journal::event_slot(n), &journal::encode_event(event, n));
        self.events = n.wrapping_add(1);
        self.store_release(word::EVENTS_COUNT, self.events);
    }

    /// Writes `words` after the sequence count at `base`, under it (odd while written).
    fn write_entry(&self, base: usize, words: &[u64]) {
        let seq = self.time.load(base);
        self.store(base, seq | 1);
        fence(Ordering::Release);
        for (i, w) in words.iter().enumerate() {
            self.store(base + 1 + i, *w);
        }
        self.store_release(base, (seq | 1).wrapping_add(1));
    }

    fn store_release(&self, index: usize, value: u64) {
        if let Some(w) = self.time.word(index) {
            w.store(value, Ordering::Release);
        }
    }

    fn store(&self, index: usize, value: u64) {
        if let Some(w) = self.time.word(index) {
            w.store(value, Ordering::Relaxed);
        }
    }

    /// The segment's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This daemon's generation: starts on the segment so far.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Publications so far (over every generation).
    pub fn publications(&self) -> u64 {
        self.publications
    }

    /// Publishes `read()` (a UTC reading), taken between two reads of the reference
    /// clock; its offset moves at `frequency_ppt` against the reference clock and its
    /// bound grows by `drift_ppb`. The time the read took widens the bound.
    pub fn publish_reading(
        &mut self,
        read: impl FnOnce() -> ClockReading<Utc>,
        frequency_ppt: i64,
        drift_ppb: u32,
    ) {
        let before = realtime();
        let mut reading = read();
        let after = realtime();
        let half = after.saturating_sub(before).div_ceil(2);
        reading.bound = reading.bound.saturating_add(Duration::from_nanos(half));
        let c = Correction::new(
            before + half,
            &reading,
            frequency_ppt,
            drift_ppb,
            self.stale_after,
        );
        self.publish(&c);
    }

    /// Publishes a reading of `CLOCK_REALTIME` itself (the system clock as a source):
    /// no offset, and nothing to interpolate between two reads.
    pub fn publish_realtime_reading(&mut self, reading: &ClockReading<Utc>, drift_ppb: u32) {
        let c = Correction::new(
            reading.time.as_nanos(),
            reading,
            0,
            drift_ppb,
            self.stale_after,
        );
        self.publish(&c);
    }

    /// Publishes `c`: fills the slot readers are not using, under its sequence count,
    /// points them at it, then beats the heartbeat.
    pub fn publish(&mut self, c: &Correction) {
        let n = self.publications.wrapping_add(1);
        let base = word::SLOTS + (n % 2) as usize * word::SLOT_WORDS;
        let seq = self.time.load(base + word::SEQ);
        // Odd while writing; `| 1` also mends a slot a killed daemon left odd.
        self.store(base + word::SEQ, seq | 1);
        fence(Ordering::Release);
        self.store(base + word::PUBLICATION, n);
        for (i, w) in c.encode().into_iter().enumerate() {
            self.store(base + word::CORRECTION + i, w);
        }
        if let Some(w) = self.time.word(base + word::SEQ) {
            w.store((seq | 1).wrapping_add(1), Ordering::Release);
        }
        if let Some(w) = self.time.word(word::PUBLICATIONS) {
            w.store(n, Ordering::Release);
        }
        self.store(word::HEARTBEAT_MONO_NS, clock_nanos(libc::CLOCK_MONOTONIC));
        self.publications = n;
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.publish(&Correction::unknown(realtime()));
        if let Some(w) = self.time.word(word::STATE) {
            w.store(0, Ordering::Release);
        }
    }
}

fn realtime() -> u64 {
    clock_nanos(libc::CLOCK_REALTIME)
}
