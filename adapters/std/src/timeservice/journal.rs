//! The daemon's journal in the segment: its recent status lines (time, status, offset,
//! bound) and its recent warnings (a source switched, a transport lost), for an
//! operator's `tempora status` and `tempora top` to read from any process, with no
//! socket and no daemon round trip.
//!
//! Two rings after the correction slots, each entry under its own sequence count (odd
//! while written) and carrying its own index, so a reader never takes a half-written
//! entry or one that was overwritten while it read. They live in words that layout 1
//! left unused, so older readers ignore them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempora_core::clock::ClockStatus;
use tempora_core::time::{Instant, Offset, Utc};

use super::layout::{decode_source, encode_source, status_code, status_of, word};

/// Words of a history entry: sequence, index, time, offset, bound, status.
pub const HISTORY_WORDS: usize = 6;
/// Entries in the history ring: 12 s of lines at 250 ms, 48 s at 1 s.
pub const HISTORY_LEN: usize = 48;
/// Words of an event: sequence, index, time, then [`EVENT_TEXT_WORDS`] of text.
pub const EVENT_WORDS: usize = 3 + EVENT_TEXT_WORDS;
/// Words of an event's text: 64 bytes of UTF-8, NUL-padded.
pub const EVENT_TEXT_WORDS: usize = word::SOURCE_WORDS;
/// Entries in the event ring.
pub const EVENTS_LEN: usize = 14;

// The rings sit after the correction slots, one after the other, inside the page.
const _: () = {
    assert!(word::HISTORY >= word::SLOTS + 2 * word::SLOT_WORDS);
    assert!(word::EVENTS >= word::HISTORY + HISTORY_LEN * HISTORY_WORDS);
    assert!(word::EVENTS + EVENTS_LEN * EVENT_WORDS <= super::layout::SEGMENT_BYTES / 8);
};

/// One status line, as the journal keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The line's time (UTC).
    pub time: Instant<Utc>,
    /// The source's status.
    pub status: ClockStatus,
    /// The offset from the reference, where the source knows one.
    pub offset: Option<Offset>,
    /// The error bound; `None`: unbounded.
    pub bound: Option<Duration>,
}

impl HistoryEntry {
    fn encode(&self, index: u64) -> [u64; HISTORY_WORDS - 1] {
        [
            index,
            self.time.as_nanos(),
            self.offset.map_or(i64::MIN, Offset::as_nanos) as u64,
            self.bound.map_or(u64::MAX, |b| {
                u64::try_from(b.as_nanos()).unwrap_or(u64::MAX - 1)
            }),
            status_code(self.status),
        ]
    }

    fn decode(w: &[u64; HISTORY_WORDS - 1]) -> Option<Self> {
        Some(Self {
            time: Instant::from_nanos(w[1]),
            offset: match w[2] as i64 {
                i64::MIN => None,
                ns => Some(Offset::from_nanos(ns)),
            },
            bound: (w[3] != u64::MAX).then(|| Duration::from_nanos(w[3])),
            status: status_of(w[4]).ok()?,
        })
    }
}

/// A warning the daemon logged, as the journal keeps it (its first 64 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When it was logged (UTC, from `CLOCK_REALTIME`).
    pub time: Instant<Utc>,
    /// What was said.
    pub text: String,
}

impl Event {
    fn encode(&self, index: u64) -> [u64; EVENT_WORDS - 1] {
        let mut w = [0u64; EVENT_WORDS - 1];
        w[0] = index;
        w[1] = self.time.as_nanos();
        w[2..].copy_from_slice(&encode_source(&self.text));
        w
    }

    fn decode(w: &[u64; EVENT_WORDS - 1]) -> Self {
        let mut text = [0u64; EVENT_TEXT_WORDS];
        text.copy_from_slice(&w[2..]);
        Self {
            time: Instant::from_nanos(w[1]),
            text: decode_source(&text),
        }
    }
}

/// Warnings waiting for the publisher to put them in the segment: filled from any
/// thread (the daemon's log), drained by the one that publishes. Keeps the latest
/// [`EVENTS_LEN`] if nobody drains it.
#[derive(Clone, Debug, Default)]
pub struct EventQueue(Arc<Mutex<VecDeque<Event>>>);

impl EventQueue {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `event`, dropping the oldest beyond [`EVENTS_LEN`].
    pub fn push(&self, event: Event) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() == EVENTS_LEN {
            q.pop_front();
        }
        q.push_back(event);
    }

    /// Everything queued, oldest first.
    pub fn drain(&self) -> Vec<Event> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect()
    }
}

/// Where entry `index` of a ring of `len` entries of `words` each, from word `start`,
/// lives.
fn slot(start: usize, len: usize, words: usize, index: u64) -> usize {
    start + (index % len as u64) as usize * words
}

/// Where history entry `index` lives.
pub(super) fn history_slot(index: u64) -> usize {
    slot(word::HISTORY, HISTORY_LEN, HISTORY_WORDS, index)
}

/// Where event `index` lives.
pub(super) fn event_slot(index: u64) -> usize {
    slot(word::EVENTS, EVENTS_LEN, EVENT_WORDS, index)
}

/// The words of history entry `entry`, numbered `index`, after its sequence count.
pub(super) fn encode_history(entry: &HistoryEntry, index: u64) -> [u64; HISTORY_WORDS - 1] {
    entry.encode(index)
}

/// The words of event `event`, numbered `index`, after its sequence count.
pub(super) fn encode_event(event: &Event, index: u64) -> [u64; EVENT_WORDS - 1] {
    event.encode(index)
}

/// History entry `index` from its words (after the sequence count), if they hold it.
pub(super) fn decode_history(w: &[u64; HISTORY_WORDS - 1], index: u64) -> Option<HistoryEntry> {
    (w[0] == index).then(|| HistoryEntry::decode(w)).flatten()
}

/// Event `index` from its words (after the sequence count), if they hold it.
pub(super) fn decode_event(w: &[u64; EVENT_WORDS - 1], index: u64) -> Option<Event> {
    (w[0] == index).then(|| Event::decode(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rings_wrap() {
        assert_eq!(history_slot(HISTORY_LEN as u64), history_slot(0));
        assert_eq!(event_slot(EVENTS_LEN as u64 + 1), event_slot(1));
    }

    #[test]
    fn entries_round_trip_and_another_index_is_refused() {
        let e = HistoryEntry {
            time: Instant::from_nanos(1_700_000_000_123_456_789),
            status: ClockStatus::Holdover,
            offset: Some(Offset::from_nanos(-42)),
            bound: Some(Duration::from_micros(3)),
        };
        assert_eq!(decode_history(&encode_history(&e, 7), 7), Some(e));
        assert_eq!(
            decode_history(&encode_history(&e, 7), 7 + HISTORY_LEN as u64),
            None
        );
        let none = HistoryEntry {
            offset: None,
            bound: None,
            ..e
        };
        assert_eq!(decode_history(&encode_history(&none, 0), 0), Some(none));
        let ev = Event {
            time: Instant::from_nanos(5),
            text: "source switched from=ptp:eth0 to=system".into(),
        };
        assert_eq!(decode_event(&encode_event(&ev, 3), 3), Some(ev.clone()));
        assert_eq!(decode_event(&encode_event(&ev, 3), 4), None);
    }

    #[test]
    fn a_long_event_is_cut_at_a_character_boundary() {
        let ev = Event {
            time: Instant::from_nanos(5),
            text: "é".repeat(40),
        };
        let back = decode_event(&encode_event(&ev, 0), 0).unwrap();
        assert_eq!(back.text, "é".repeat(32));
    }

    #[test]
    fn the_queue_keeps_the_latest() {
        let q = EventQueue::new();
        for i in 0..(EVENTS_LEN as u64 + 3) {
            q.push(Event {
                time: Instant::from_nanos(i),
                text: i.to_string(),
            });
        }
        let all = q.drain();
        assert_eq!(all.len(), EVENTS_LEN);
        assert_eq!(all[0].text, "3");
        assert!(q.drain().is_empty());
    }
}
