//! Replays a slave's exchanges through the measurement filter, offline.
//!
//! `tempora run --source ptp:IFACE --log-level debug` logs every exchange's time and
//! its two transits (`at=`, `forward=`, `reverse=`). This feeds them, in order, into a
//! fresh [`OffsetFilter`] and prints what it estimates, so a change to the filter can be
//! judged on recorded paths instead of new lab runs. With `--truth NS` (the true
//! offset, local minus master, on the log's scale: 0 when both ends share one clock) it
//! also prints the error from the 40th exchange on.
//!
//! Run: `cargo run -p tempora-std --example replay_filter -- slave.log [--truth 0]`

use std::io::BufRead;

use tempora_core::ptp::filter::{Exchange, FilterConfig, OffsetFilter, Verdict};
use tempora_core::time::{Instant, Offset, Tai};

/// The integer after ` key=` in a log line (ANSI colours already stripped).
fn field(line: &str, key: &str) -> Option<i128> {
    let rest = line.split(&format!(" {key}=")).nth(1)?;
    let digits: String = rest
        .chars()
        .take_while(|c| *c == '-' || c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The line without ANSI escape sequences (the daemon colours its log on a terminal).
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: replay_filter LOG [--truth NS]");
        std::process::exit(2);
    };
    let truth: Option<f64> = args
        .iter()
        .position(|a| a == "--truth")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    let mut filter = OffsetFilter::<64>::new(FilterConfig::DEFAULT);
    let mut errors = Vec::new();
    let file = std::fs::File::open(path)?;
    for (n, line) in std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .map(|l| plain(&l))
        .filter(|l| l.contains("PTP exchange"))
        .enumerate()
    {
        let (Some(at), Some(forward), Some(reverse)) = (
            field(&line, "at").and_then(|n| u64::try_from(n).ok()),
            field(&line, "forward").and_then(Offset::try_from_nanos),
            field(&line, "reverse").and_then(Offset::try_from_nanos),
        ) else {
            continue;
        };
        let at = Instant::<Tai>::from_nanos(at);
        // The log has the two transits, not the gap between Sync and Delay_Req: the
        // exchange is rebuilt around one instant, which leaves out the drift over that
        // gap (ppm times the tens of microseconds after a Sync: well under 1 ns).
        let (Some(t1), Some(t4)) = (
            at.checked_add_offset(forward.saturating_neg()),
            at.checked_add_offset(reverse),
        ) else {
            continue;
        };
        let exchange = Exchange {
            t1,
            t2: at,
            t3: at,
            t4,
            correction_ms: Offset::ZERO,
            correction_sm: Offset::ZERO,
        };
        let verdict = filter.update(&exchange);
        let Some(e) = filter.estimate() else {
            continue;
        };
        let mark = match verdict {
            Verdict::Accepted => "",
            Verdict::Stepped => "  step",
            Verdict::Rejected(_) => "  rejected",
            Verdict::OutOfRange => "  out of range",
        };
        println!(
            "{n:5}  raw {:12}  offset {:14.1}  floor {:8.1}  freq {:9.1} ppb  sigma {:7.1}  noise {:7.1}{mark}",
            exchange.offset().map_or(0, |o| o.as_nanos()),
            e.offset_ns,
            e.floor_correction_ns,
            e.frequency_ppb,
            e.offset_sigma_ns,
            e.noise_sigma_ns
        );
        if let (Some(truth), true) = (truth, n >= 40) {
            errors.push(e.offset_ns - truth);
        }
    }
    if !errors.is_empty() {
        let rms = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt();
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        println!(
            "error from exchange 40 on: RMS {rms:.0} ns, mean {mean:.0} ns over {}",
            errors.len()
        );
    }
    Ok(())
}
