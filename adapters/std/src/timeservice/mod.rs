//! The host-wide time service: bounded time and one HLC for every process on the host,
//! through shared memory.
//!
//! A daemon ([`Publisher`]) keeps two one-page files, by default `/dev/shm/tempora`
//! and `/dev/shm/tempora.hlc`:
//!
//! - **Bounded time.** Every interval the daemon publishes a [`Correction`]: its
//!   estimate of true time against `CLOCK_REALTIME` at one instant, how that moves,
//!   and an error bound that grows with the time since. A [`Reader`] computes the
//!   time itself from its own `CLOCK_REALTIME` read (vDSO) and the correction: no
//!   system call, no lock, no message to the daemon. The correction sits in two slots
//!   under sequence counts (a seqlock), so a read never waits on the writer.
//! - **A host-wide HLC.** The [HLC](tempora_core::hlc)'s one state word lives in the
//!   HLC file; every process advances it with the same compare-and-swap, so
//!   timestamps are strictly increasing across all of them ([`Reader::hlc`]).
//!
//! Readers never trust a silent daemon: a correction expires two publication intervals
//! after it was made, a clean stop publishes "unknown" at once, and a restarted daemon
//! publishes "unknown" before anything else. The layout (versioned) and the protocol
//! are in `docs/architecture.md`; `include/tempora_time.h` reads it from C.
//!
//! ```
//! use std::time::Duration;
//! use tempora_core::clock::{ClockReading, ClockSource, ClockStatus};
//! use tempora_core::timestamp::NodeId;
//! use tempora_std::timeservice::{Publisher, PublisherOptions, Reader};
//!
//! let dir = std::env::temp_dir().join(format!("tempora-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("time");
//! let options = PublisherOptions::new(Duration::from_secs(1), NodeId(7), "system");
//! let mut daemon = Publisher::open(&path, &options).unwrap();
//! let now = || tempora_std::SystemClock::new().time();
//! daemon.publish_reading(
//!     || ClockReading { time: now(), bound: Duration::from_micros(5), status: ClockStatus::Synchronized },
//!     0,
//!     10_000,
//! );
//!
//! let reader = Reader::open(&path).unwrap();
//! let r = reader.read();
//! assert_eq!(r.status, ClockStatus::Synchronized);
//! assert!(r.bound >= Duration::from_micros(5));
//! let hlc = reader.hlc().unwrap();
//! let (a, b) = (hlc.now(), hlc.now());
//! assert!(b > a && a.node() == NodeId(7));
//!
//! drop(daemon); // a clean stop: unknown at once
//! assert_eq!(reader.read().status, ClockStatus::Unknown);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod journal;
mod layout;
mod publisher;
mod reader;
mod segment;

use std::fmt;
use std::path::PathBuf;

pub use journal::{Event, EventQueue, HistoryEntry, EVENTS_LEN, HISTORY_LEN};
pub use layout::{
    decode_source, encode_source, word, Correction, Header, LayoutError, CLOCK_REALTIME,
    HEADER_WORDS, HLC_MAGIC, LAYOUT_VERSION, RATE_SHIFT, SEGMENT_BYTES, TIME_MAGIC,
};
pub use publisher::{Publisher, PublisherOptions};
pub use reader::{Health, HlcUnavailable, Reader, SharedHlc};
pub use segment::hlc_path;

/// Where `tempora run` publishes unless told otherwise.
pub const DEFAULT_PATH: &str = "/dev/shm/tempora";

/// Why a segment could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Another daemon, still running, publishes there.
    Owned {
        /// The segment.
        path: PathBuf,
        /// That daemon's process id.
        pid: u32,
    },
    /// Not a segment this build can read.
    Layout {
        /// The segment.
        path: PathBuf,
        /// What is wrong with it.
        source: LayoutError,
    },
    /// The file system said no.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Owned { path, pid } => write!(
                f,
                "the time service {} is published by another running tempora daemon (pid {pid}); \
                 stop it, or pass --time-service PATH or --no-time-service",
                path.display()
            ),
            Self::Layout { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Owned { .. } => None,
            Self::Layout { source, .. } => Some(source),
            Self::Io { source, .. } => Some(source),
        }
    }
}
