//! What a load run checks of what it got: HLC stamps strictly increasing and unique,
//! queue messages all delivered once and unchanged.

/// A 64-bit mix (splitmix64's finaliser): neighbouring inputs give unrelated outputs.
#[inline]
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Checks one thread's (or process's) stream of HLC stamps (raw values): each must be
/// above the one before (a repeat or a step back is counted), and the stamps whose
/// value hashes into the sample (one in `2^sample_shift`) are kept for the
/// cross-stream check ([`cross_duplicates`]).
///
/// Sampling by value, not by position, is what makes the cross check sound: a value two
/// streams both got is kept by both, so a duplicate among the sampled values is found
/// exactly, and a fault that duplicates stamps at any rate shows up.
#[derive(Clone, Debug)]
pub struct StampCheck {
    mask: u64,
    last: Option<u64>,
    /// Stamps seen.
    pub count: u64,
    /// Stamps not above the one before (repeats and steps back): must be 0.
    pub not_increasing: u64,
    /// The sampled values, in the order seen.
    pub sampled: Vec<u64>,
}

impl StampCheck {
    /// A check keeping one value in `2^sample_shift` (0: all).
    pub fn new(sample_shift: u32) -> Self {
        Self {
            mask: (1u64 << sample_shift.min(63)) - 1,
            last: None,
            count: 0,
            not_increasing: 0,
            sampled: Vec::new(),
        }
    }

    /// Takes the next stamp.
    #[inline]
    pub fn observe(&mut self, raw: u64) {
        self.count += 1;
        if self.last.is_some_and(|l| raw <= l) {
            self.not_increasing += 1;
        }
        self.last = Some(raw);
        if mix(raw) & self.mask == 0 {
            self.sampled.push(raw);
        }
    }
}

/// Values that occur more than once across `streams` (each counted once per extra
/// occurrence).
pub fn cross_duplicates(streams: &[&[u64]]) -> u64 {
    let mut all: Vec<u64> = streams.iter().flat_map(|s| s.iter().copied()).collect();
    all.sort_unstable();
    all.windows(2).filter(|w| w[0] == w[1]).count() as u64
}

/// What a message carries to be checked: its producer, its place in that producer's
/// sequence, and a check word derived from both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    /// The producer (0..producers).
    pub producer: u32,
    /// Its sequence number at that producer, from 0.
    pub seq: u64,
    /// [`check_word`] of the two.
    pub check: u64,
}

impl Tag {
    /// Message `seq` of `producer`.
    pub fn new(producer: u32, seq: u64) -> Self {
        Self {
            producer,
            seq,
            check: check_word(producer, seq),
        }
    }
}

/// The check word of message `seq` of `producer`.
#[inline]
pub fn check_word(producer: u32, seq: u64) -> u64 {
    mix(seq ^ (u64::from(producer) << 48) ^ 0x7465_6d70_6f72_6121)
}

/// What consumers received, per producer: a bit per sequence number (every message
/// once), and a checksum (the wrapping sum of the check words received) to set against
/// the producer's of what it sent.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    seen: Vec<Vec<u64>>,
    checksum: Vec<u64>,
    received: u64,
    duplicated: u64,
    corrupted: u64,
    unknown_producer: u64,
}

/// A ledger's verdict against what producers sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Messages sent, all producers.
    pub sent: u64,
    /// Messages received (duplicates included).
    pub received: u64,
    /// Sent, never received.
    pub lost: u64,
    /// Received more than once (each extra copy counted).
    pub duplicated: u64,
    /// Received with a check word that does not match its producer and sequence.
    pub corrupted: u64,
    /// Received from a producer that does not exist, or past the producer's last.
    pub unexpected: u64,
    /// Producers whose checksum differs from what they sent.
    pub checksum_mismatches: u64,
}

impl Verdict {
    /// Every message received exactly once, unchanged.
    pub fn is_clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.corrupted == 0
            && self.unexpected == 0
            && self.checksum_mismatches == 0
            && self.sent == self.received
    }
}

impl Ledger {
    /// A ledger for `producers` producers.
    pub fn new(producers: usize) -> Self {
        Self {
            seen: vec![Vec::new(); producers],
            checksum: vec![0; producers],
            ..Self::default()
        }
    }

    /// Takes one received message.
    #[inline]
    pub fn observe(&mut self, tag: Tag) {
        self.received += 1;
        let p = tag.producer as usize;
        let Some(bits) = self.seen.get_mut(p) else {
            self.unknown_producer += 1;
            return;
        };
        self.checksum[p] = self.checksum[p].wrapping_add(tag.check);
        if tag.check != check_word(tag.producer, tag.seq) {
            self.corrupted += 1;
        }
        let (word, bit) = ((tag.seq / 64) as usize, 1u64 << (tag.seq % 64));
        if word >= bits.len() {
            bits.resize((word + 1).next_power_of_two(), 0);
        }
        if bits[word] & bit != 0 {
            self.duplicated += 1;
        }
        bits[word] |= bit;
    }

    /// Adds another consumer's ledger: a message both received is a duplicate.
    pub fn merge(&mut self, other: &Ledger) {
        self.received += other.received;
        self.duplicated += other.duplicated;
        self.corrupted += other.corrupted;
        self.unknown_producer += other.unknown_producer;
        for (p, theirs) in other.seen.iter().enumerate() {
            if p >= self.seen.len() {
                self.seen.resize(p + 1, Vec::new());
                self.checksum.resize(p + 1, 0);
            }
            self.checksum[p] = self.checksum[p].wrapping_add(other.checksum[p]);
            let ours = &mut self.seen[p];
            if ours.len() < theirs.len() {
                ours.resize(theirs.len(), 0);
            }
            for (a, b) in ours.iter_mut().zip(theirs) {
                self.duplicated += u64::from((*a & b).count_ones());
                *a |= b;
            }
        }
    }

    /// Sets what was received against what each producer says it sent: `sent[p]`
    /// messages (sequence numbers `0..sent[p]`) with checksum `checksums[p]`.
    pub fn verdict(&self, sent: &[u64], checksums: &[u64]) -> Verdict {
        let mut v = Verdict {
            sent: sent.iter().sum(),
            received: self.received,
            duplicated: self.duplicated,
            corrupted: self.corrupted,
            unexpected: self.unknown_producer,
            ..Verdict::default()
        };
        for (p, bits) in self.seen.iter().enumerate() {
            let n = sent.get(p).copied().unwrap_or(0);
            let (full, rest) = ((n / 64) as usize, n % 64);
            let mut inside = 0u64;
            for (w, &word) in bits.iter().enumerate() {
                let mask = match w.cmp(&full) {
                    std::cmp::Ordering::Less => u64::MAX,
                    std::cmp::Ordering::Equal => (1u64 << rest) - 1,
                    std::cmp::Ordering::Greater => 0,
                };
                inside += u64::from((word & mask).count_ones());
                v.unexpected += u64::from((word & !mask).count_ones());
            }
            v.lost += n - inside;
            if checksums.get(p).copied().unwrap_or(0) != self.checksum[p] {
                v.checksum_mismatches += 1;
            }
        }
        // Producers no consumer heard from at all.
        for &n in sent.iter().skip(self.seen.len()) {
            v.lost += n;
        }
        v
    }
}
