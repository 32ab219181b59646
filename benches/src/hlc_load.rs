//! `load-hlc`'s core: take HLC stamps as fast as possible for a set time, counting them
//! per second and checking them ([`StampCheck`]).

use std::time::{Duration, Instant};

use crate::verify::{cross_duplicates, StampCheck};

/// Stamps taken between clock checks: the loop reads the monotonic clock once per
/// batch, so a second's count overshoots by at most this many.
const BATCH: u64 = 256;

/// What one worker (thread or process) got.
#[derive(Clone, Debug)]
pub struct WorkerRun {
    /// The stamps, checked.
    pub check: StampCheck,
    /// Stamps per whole second of the run, in order.
    pub per_second: Vec<u64>,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Takes stamps from `stamp` (raw HLC values) for `seconds` whole seconds, keeping one
/// value in `2^sample_shift` for the cross-worker check.
pub fn stamp_for(seconds: u32, sample_shift: u32, mut stamp: impl FnMut() -> u64) -> WorkerRun {
    let mut check = StampCheck::new(sample_shift);
    let mut per_second = Vec::with_capacity(seconds as usize);
    let start = Instant::now();
    let mut boundary = Duration::from_secs(1);
    let mut in_second = 0u64;
    while per_second.len() < seconds as usize {
        for _ in 0..BATCH {
            check.observe(stamp());
        }
        in_second += BATCH;
        if start.elapsed() >= boundary {
            per_second.push(in_second);
            in_second = 0;
            boundary += Duration::from_secs(1);
        }
    }
    WorkerRun {
        check,
        per_second,
        elapsed: start.elapsed(),
    }
}

/// Several workers' runs together.
#[derive(Clone, Debug, PartialEq)]
pub struct Combined {
    /// Workers.
    pub workers: usize,
    /// Stamps, all workers.
    pub stamps: u64,
    /// Stamps per second over the whole run.
    pub mean_rate: f64,
    /// All workers' stamps in each second (workers start together, so second `i` of
    /// each is the same second).
    pub per_second: Vec<u64>,
    /// Stamps not above their worker's previous one.
    pub not_increasing: u64,
    /// Sampled values found in more than one place.
    pub cross_duplicates: u64,
    /// Values in the cross check.
    pub sampled: u64,
}

impl Combined {
    /// Puts `runs` together.
    pub fn of(runs: &[WorkerRun]) -> Self {
        let stamps: u64 = runs.iter().map(|r| r.check.count).sum();
        let longest = runs.iter().map(|r| r.elapsed).max().unwrap_or_default();
        let seconds = runs.iter().map(|r| r.per_second.len()).min().unwrap_or(0);
        let per_second = (0..seconds)
            .map(|i| runs.iter().map(|r| r.per_second[i]).sum())
            .collect();
        let samples: Vec<&[u64]> = runs.iter().map(|r| r.check.sampled.as_slice()).collect();
        Self {
            workers: runs.len(),
            stamps,
            mean_rate: stamps as f64 / longest.as_secs_f64().max(1e-9),
            per_second,
            not_increasing: runs.iter().map(|r| r.check.not_increasing).sum(),
            cross_duplicates: cross_duplicates(&samples),
            sampled: samples.iter().map(|s| s.len() as u64).sum(),
        }
    }

    /// No stamp repeated or went back, in any worker or across them (as far as
    /// sampled).
    pub fn is_clean(&self) -> bool {
        self.not_increasing == 0 && self.cross_duplicates == 0
    }
}

/// Runs `threads` threads taking stamps from one `stamp` source together, started at
/// once.
pub fn threads<F>(threads: usize, seconds: u32, sample_shift: u32, stamp: F) -> Vec<WorkerRun>
where
    F: Fn() -> u64 + Sync,
{
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    stamp_for(seconds, sample_shift, &stamp)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a stamping thread panicked"))
            .collect()
    })
}

/// A worker's report as one line, for a child process to hand its parent:
/// `run <elapsed ns> <count> <not increasing> <per-second counts, comma-separated>`
/// (the sampled values go through a file, see [`write_samples`]).
pub fn encode(run: &WorkerRun) -> String {
    let per: Vec<String> = run.per_second.iter().map(u64::to_string).collect();
    format!(
        "run {} {} {} {}",
        run.elapsed.as_nanos(),
        run.check.count,
        run.check.not_increasing,
        per.join(",")
    )
}

/// The parent's side of [`encode`], with the sampled values read back.
pub fn decode(line: &str, sampled: Vec<u64>) -> Option<WorkerRun> {
    let mut f = line.strip_prefix("run ")?.split(' ');
    let elapsed = Duration::from_nanos(f.next()?.parse().ok()?);
    let mut check = StampCheck::new(0);
    check.count = f.next()?.parse().ok()?;
    check.not_increasing = f.next()?.parse().ok()?;
    check.sampled = sampled;
    let per_second = match f.next() {
        Some("") | None => Vec::new(),
        Some(p) => p
            .split(',')
            .map(|c| c.parse().ok())
            .collect::<Option<_>>()?,
    };
    Some(WorkerRun {
        check,
        per_second,
        elapsed,
    })
}

/// Writes sampled values (little-endian `u64`s).
pub fn write_samples(path: &std::path::Path, values: &[u64]) -> std::io::Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes)
}

/// Reads what [`write_samples`] wrote.
pub fn read_samples(path: &std::path::Path) -> std::io::Result<Vec<u64>> {
    let bytes = std::fs::read(path)?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect())
}
