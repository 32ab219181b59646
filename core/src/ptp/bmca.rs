//! The best master clock algorithm (IEEE 1588-2019 §9.3): dataset comparison, foreign
//! master qualification, and the state decision of an ordinary clock's port.

use core::cmp::Ordering;
use core::time::Duration;

use super::wire::{Announce, ClockIdentity, PortIdentity};
use crate::time::{Instant, Tai};

/// A clock's quality, as Announce messages carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClockQuality {
    /// `clockClass` (6: locked to a primary reference; 248: default; 255: slave-only).
    pub class: u8,
    /// `clockAccuracy` (0x20: 25 ns ... 0xFE: unknown).
    pub accuracy: u8,
    /// `offsetScaledLogVariance`.
    pub variance: u16,
}

/// The local clock's default dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DefaultDataset {
    /// This clock.
    pub identity: ClockIdentity,
    /// `priority1` (lower wins).
    pub priority1: u8,
    /// Quality.
    pub quality: ClockQuality,
    /// `priority2` (lower wins).
    pub priority2: u8,
    /// Never become master.
    pub slave_only: bool,
}

impl DefaultDataset {
    /// An ordinary clock of default quality (class 248, or 255 when slave-only; accuracy
    /// and variance unknown) with priority2 128.
    pub const fn ordinary(identity: ClockIdentity, priority1: u8, slave_only: bool) -> Self {
        Self {
            identity,
            priority1,
            quality: ClockQuality {
                class: if slave_only { 255 } else { 248 },
                accuracy: 0xfe,
                variance: 0xffff,
            },
            priority2: 128,
            slave_only,
        }
    }
}

/// What the BMCA compares: a grandmaster as seen through one Announce, on one port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dataset {
    /// `grandmasterPriority1`.
    pub priority1: u8,
    /// The grandmaster's identity.
    pub grandmaster: ClockIdentity,
    /// The grandmaster's quality.
    pub quality: ClockQuality,
    /// `grandmasterPriority2`.
    pub priority2: u8,
    /// `stepsRemoved` from the grandmaster.
    pub steps_removed: u16,
    /// The port that sent the Announce.
    pub sender: PortIdentity,
    /// The port that received it.
    pub receiver: PortIdentity,
}

impl Dataset {
    /// The dataset an Announce from `sender` describes, received on `receiver`.
    pub fn from_announce(a: &Announce, sender: PortIdentity, receiver: PortIdentity) -> Self {
        Self {
            priority1: a.priority1,
            grandmaster: a.grandmaster,
            quality: ClockQuality {
                class: a.clock_class,
                accuracy: a.clock_accuracy,
                variance: a.variance,
            },
            priority2: a.priority2,
            steps_removed: a.steps_removed,
            sender,
            receiver,
        }
    }

    /// The local clock as a candidate grandmaster (`D0`), as seen on port `port`.
    pub fn local(d: &DefaultDataset, port: PortIdentity) -> Self {
        Self {
            priority1: d.priority1,
            grandmaster: d.identity,
            quality: d.quality,
            priority2: d.priority2,
            steps_removed: 0,
            sender: port,
            receiver: port,
        }
    }
}

/// `Less` when `a` is the better master, `Greater` when `b` is (§9.3.4, figures 34-35).
/// Two datasets from the same sender on the same port compare `Equal`.
///
/// ```
/// use core::cmp::Ordering;
/// use tempora_core::ptp::bmca::{compare, ClockQuality, Dataset};
/// use tempora_core::ptp::wire::{ClockIdentity, PortIdentity};
///
/// let port = |n| PortIdentity { clock: ClockIdentity([n; 8]), port: 1 };
/// let gm = |p1, class, id| Dataset {
///     priority1: p1,
///     grandmaster: ClockIdentity([id; 8]),
///     quality: ClockQuality { class, accuracy: 0xfe, variance: 0xffff },
///     priority2: 128,
///     steps_removed: 0,
///     sender: port(id),
///     receiver: port(9),
/// };
/// assert_eq!(compare(&gm(10, 248, 2), &gm(128, 6, 1)), Ordering::Less); // priority1 first
/// assert_eq!(compare(&gm(128, 6, 2), &gm(128, 248, 1)), Ordering::Less); // then class
/// assert_eq!(compare(&gm(128, 248, 2), &gm(128, 248, 1)), Ordering::Greater); // identity last
/// ```
pub fn compare(a: &Dataset, b: &Dataset) -> Ordering {
    if a.grandmaster != b.grandmaster {
        // Figure 34: different grandmasters, compare their quality.
        return (
            a.priority1,
            a.quality.class,
            a.quality.accuracy,
            a.quality.variance,
            a.priority2,
            a.grandmaster,
        )
            .cmp(&(
                b.priority1,
                b.quality.class,
                b.quality.accuracy,
                b.quality.variance,
                b.priority2,
                b.grandmaster,
            ));
    }
    // Figure 35: the same grandmaster through different paths.
    let (sa, sb) = (u32::from(a.steps_removed), u32::from(b.steps_removed));
    if sa > sb + 1 {
        return Ordering::Greater;
    }
    if sb > sa + 1 {
        return Ordering::Less;
    }
    match sa.cmp(&sb) {
        // One step apart: prefer the shorter path, unless it is our own message coming
        // back (receiver == sender), which the caller must not be offered.
        Ordering::Greater => Ordering::Greater,
        Ordering::Less => Ordering::Less,
        Ordering::Equal => a
            .sender
            .cmp(&b.sender)
            .then(a.receiver.port.cmp(&b.receiver.port)),
    }
}

/// What the state decision recommends for the port (§9.3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Recommendation {
    /// Be the master on this port.
    Master,
    /// Follow the master behind this port identity.
    Slave(PortIdentity),
    /// A better master exists but this clock must not follow it (class ≤ 127).
    Passive,
    /// No qualified master and not allowed to be one: keep listening.
    Listening,
}

/// The state decision for an ordinary clock's port, given the best qualified foreign
/// master `best` (`Erbest`, which is also `Ebest` on a one-port clock).
pub fn decide(
    local: &DefaultDataset,
    port: PortIdentity,
    best: Option<&Dataset>,
) -> Recommendation {
    let d0 = Dataset::local(local, port);
    match best {
        None if local.slave_only => Recommendation::Listening,
        None => Recommendation::Master,
        Some(b) if local.slave_only => Recommendation::Slave(b.sender),
        Some(b) => {
            let local_wins = compare(&d0, b) == Ordering::Less;
            if local.quality.class <= 127 {
                if local_wins {
                    Recommendation::Master
                } else {
                    Recommendation::Passive
                }
            } else if local_wins {
                Recommendation::Master
            } else {
                Recommendation::Slave(b.sender)
            }
        }
    }
}

/// Announces needed within the window to qualify a foreign master (§9.3.2.4.6).
pub const FOREIGN_MASTER_THRESHOLD: u8 = 2;

#[derive(Clone, Copy, Debug)]
struct Foreign {
    dataset: Dataset,
    /// Receive times (local) of the last announces, newest last; up to the threshold.
    seen: [Instant<Tai>; FOREIGN_MASTER_THRESHOLD as usize],
    count: u8,
    /// How many doublings slower than ours the sender announces (0 when as fast or
    /// faster): its windows are stretched by `2^slower_by`.
    slower_by: u8,
}

impl Foreign {
    /// `window` stretched to the sender's own announce interval.
    fn window(&self, window: Duration) -> Duration {
        window.saturating_mul(1 << self.slower_by.min(7))
    }
}

/// The foreign master table of one port: up to `N` senders, each qualified once it has
/// sent [`FOREIGN_MASTER_THRESHOLD`] Announces within four announce intervals.
pub struct ForeignMasters<const N: usize> {
    entries: heapless::Vec<Foreign, N>,
}

impl<const N: usize> Default for ForeignMasters<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The table is full and the new sender is no better than any entry: it was not recorded
/// and is handed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TableFull(pub Dataset);

impl<const N: usize> ForeignMasters<N> {
    /// An empty table.
    pub const fn new() -> Self {
        Self {
            entries: heapless::Vec::new(),
        }
    }

    /// Records an Announce's dataset received at local time `now`. When the table is
    /// full, the worst entry makes room for a better newcomer; a newcomer no better than
    /// all is refused.
    pub fn record(&mut self, dataset: Dataset, now: Instant<Tai>) -> Result<(), TableFull> {
        self.record_interval(dataset, now, 0, 0)
    }

    /// [`record`](ForeignMasters::record) for a sender that announces every
    /// `2^theirs` s while this port expects `2^ours` s. A slower sender's qualification
    /// and expiry windows are stretched to its interval, so a master announcing every
    /// 2 s still qualifies with a port configured for 8 a second (IEEE 1588 measures
    /// the windows in the sender's announce intervals where they differ).
    pub fn record_interval(
        &mut self,
        dataset: Dataset,
        now: Instant<Tai>,
        theirs: i8,
        ours: i8,
    ) -> Result<(), TableFull> {
        // 0x7F (no interval given) and other nonsense count as "as fast as ours".
        let slower_by = match theirs {
            -7..=7 => u8::try_from(i16::from(theirs) - i16::from(ours)).unwrap_or(0),
            _ => 0,
        };
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.dataset.sender == dataset.sender)
        {
            e.dataset = dataset;
            e.slower_by = slower_by;
            if usize::from(e.count) < e.seen.len() {
                e.seen[usize::from(e.count)] = now;
                e.count += 1;
            } else {
                e.seen.rotate_left(1);
                if let Some(last) = e.seen.last_mut() {
                    *last = now;
                }
            }
            return Ok(());
        }
        let mut seen = [Instant::EPOCH; FOREIGN_MASTER_THRESHOLD as usize];
        seen[0] = now;
        let fresh = Foreign {
            dataset,
            seen,
            count: 1,
            slower_by,
        };
        if let Err(fresh) = self.entries.push(fresh) {
            let worst = self
                .entries
                .iter()
                .enumerate()
                .max_by(|a, b| compare(&a.1.dataset, &b.1.dataset))
                .map(|(i, _)| i);
            match worst {
                Some(i) if compare(&fresh.dataset, &self.entries[i].dataset) == Ordering::Less => {
                    self.entries[i] = fresh;
                }
                _ => return Err(TableFull(fresh.dataset)),
            }
        }
        Ok(())
    }

    /// Forgets senders with no Announce in the last `window` (four announce intervals,
    /// or the announce receipt timeout; stretched for slower senders) before `now`.
    pub fn expire(&mut self, now: Instant<Tai>, window: Duration) {
        self.entries.retain(|e| {
            let last = e.seen[usize::from(e.count.max(1)) - 1];
            age(now, last) <= e.window(window)
        });
    }

    /// The best qualified foreign master: enough Announces within `window` (stretched
    /// for slower senders) before `now`.
    pub fn best(&self, now: Instant<Tai>, window: Duration) -> Option<&Dataset> {
        self.entries
            .iter()
            .filter(|e| {
                e.count >= FOREIGN_MASTER_THRESHOLD && age(now, e.seen[0]) <= e.window(window)
            })
            .map(|e| &e.dataset)
            .min_by(|a, b| compare(a, b))
    }

    /// Senders recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no sender is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// How long before `now` an Announce was seen; zero if the local clock went back past it
/// (the Announce counts as fresh rather than expired).
fn age(now: Instant<Tai>, seen: Instant<Tai>) -> Duration {
    now.checked_duration_since(seen).unwrap_or(Duration::ZERO)
}
