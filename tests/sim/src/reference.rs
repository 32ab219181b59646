//! Brute-force references for the pattern detectors: the same patterns computed from
//! the whole delivered stream at once, sorted, with nested loops, and no state machine,
//! reorder buffer or watermark. If a detector and its reference disagree on a stream,
//! one of them is wrong.

/// One event as a detector took it: its packed HLC time, the node that stamped it, its
/// kind and partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamEvent {
    /// Packed HLC time.
    pub raw: u64,
    /// The node whose HLC stamped it.
    pub node: u32,
    /// What happened.
    pub kind: u8,
    /// Its partition.
    pub partition: u64,
}

/// A match: its partition and the `(packed time, node)` of the events that formed it.
pub type MatchKey = (u64, Vec<(u64, u32)>);

/// The stream in the order a detector releases it: by packed time, then node (the
/// temporal queue's tie-break; `(time, node)` is unique since each node's HLC is
/// strictly increasing).
fn ordered(events: &[StreamEvent]) -> Vec<StreamEvent> {
    let mut sorted = events.to_vec();
    sorted.sort_unstable_by_key(|e| (e.raw, e.node));
    sorted
}

/// `first` then `then` within `within` (packed HLC units, i.e. ns), relaxed contiguity:
/// each `first` pairs with the next `then` of its partition, if that comes in time.
pub fn sequence(events: &[StreamEvent], first: u8, then: u8, within: u64) -> Vec<MatchKey> {
    let events = ordered(events);
    let mut found = Vec::new();
    for (i, a) in events.iter().enumerate().filter(|(_, e)| e.kind == first) {
        let next = events[i + 1..]
            .iter()
            .find(|b| b.partition == a.partition && b.kind == then);
        if let Some(b) = next.filter(|b| b.raw - a.raw <= within) {
            found.push((a.partition, vec![(a.raw, a.node), (b.raw, b.node)]));
        }
    }
    found.sort_unstable();
    found
}

/// `first` not followed by `then` of its partition within `within` (a `then` at
/// exactly the deadline counts as in time).
pub fn absence(events: &[StreamEvent], first: u8, then: u8, within: u64) -> Vec<MatchKey> {
    let events = ordered(events);
    let mut found = Vec::new();
    for (i, a) in events.iter().enumerate().filter(|(_, e)| e.kind == first) {
        let answered = events[i + 1..].iter().any(|b| {
            b.partition == a.partition && b.kind == then && b.raw <= a.raw.saturating_add(within)
        });
        if !answered {
            found.push((a.partition, vec![(a.raw, a.node)]));
        }
    }
    found.sort_unstable();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(raw: u64, node: u32, kind: u8, partition: u64) -> StreamEvent {
        StreamEvent {
            raw,
            node,
            kind,
            partition,
        }
    }

    #[test]
    fn a_sequence_pairs_each_start_with_the_next_end_of_its_partition_in_time() {
        let stream = [
            ev(300, 1, 1, 0), // the end for both starts of partition 0
            ev(100, 1, 0, 0),
            ev(200, 2, 0, 0),
            ev(150, 1, 1, 1), // another partition: ignored
            ev(900, 1, 0, 0), // its end comes too late
            ev(1_101, 1, 1, 0),
        ];
        let found = sequence(&stream, 0, 1, 100);
        assert_eq!(found, vec![(0, vec![(200, 2), (300, 1)])]);
        let found = sequence(&stream, 0, 1, 200);
        assert_eq!(
            found,
            vec![(0, vec![(100, 1), (300, 1)]), (0, vec![(200, 2), (300, 1)])]
        );
    }

    #[test]
    fn an_absence_is_a_start_without_an_end_by_its_deadline() {
        let stream = [
            ev(100, 1, 0, 0),
            ev(200, 1, 1, 0),
            ev(300, 1, 0, 0),
            ev(301, 1, 1, 1),
        ];
        assert_eq!(absence(&stream, 0, 1, 100), vec![(0, vec![(300, 1)])]);
        assert_eq!(absence(&stream, 0, 1, 99).len(), 2);
    }
}
