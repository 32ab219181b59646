//! `--source auto`: what this machine has, in the order a chain should read it.
//!
//! A PTP hardware clock is worth reading only if something keeps it on time (ptp4l, or
//! tempora's own hardware-timestamp slave): a NIC driver starts its PHC at the system
//! time, on UTC, and lets it run free. So `auto` takes a PHC only when it keeps PTP's
//! timescale (TAI) and agrees with the system clock to [`AGREEMENT`]: the mark of a
//! clock that a PTP slave disciplines on a host whose system clock is disciplined too.
//! Then comes the system clock, bounded by the kernel's own estimate: the embedded
//! default, and what `auto` is on a machine with no such PHC. It never guesses a PTP
//! interface: listening for a master is a choice of network, made with `ptp:IFACE`.

use std::fmt;
use std::io;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use tempora_core::time::TaiOffset;

use super::chain::MAX_SOURCES;
use super::Source;
use crate::clock::phc::{discovery, PhcClock, PhcSelector};
use crate::clock::SystemClock;

/// How closely a PHC must agree with the system clock (on TAI) to be taken as kept on
/// time: far above two disciplined clocks' difference, far below a free-running PHC's
/// 37 s (UTC where TAI is expected) or its drift over a day.
pub const AGREEMENT: Duration = Duration::from_millis(1);

/// A `--source` as given: a source, or `auto`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceChoice {
    /// Probe the machine: [`probe`].
    Auto,
    /// This source.
    Given(Source),
}

impl FromStr for SourceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(Self::Auto);
        }
        s.parse()
            .map(Self::Given)
            .map_err(|e: String| e.replace("(available: ", "(available: auto, "))
    }
}

impl fmt::Display for SourceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Given(s) => s.fmt(f),
        }
    }
}

/// Whether a PHC `phc_minus_realtime` nanoseconds ahead of `CLOCK_REALTIME` keeps PTP
/// time within [`AGREEMENT`] of the system clock; `Err` says why not, for the log.
pub fn judge(phc_minus_realtime: io::Result<i128>, tai_minus_utc: TaiOffset) -> Result<(), String> {
    let ahead = phc_minus_realtime.map_err(|e| format!("cannot read it: {e}"))?;
    let off_tai = ahead - i128::from(tai_minus_utc.0) * 1_000_000_000;
    let agreement = AGREEMENT.as_nanos() as i128;
    if off_tai.abs() <= agreement {
        Ok(())
    } else if ahead.abs() <= agreement {
        Err("it keeps UTC, as a driver starts it: nothing disciplines it".to_string())
    } else {
        Err(format!(
            "it is {:.6} s from TAI by the system clock: nothing keeps it on time",
            off_tai as f64 / 1e9
        ))
    }
}

/// `phc - CLOCK_REALTIME`, read back to back (the reads take microseconds; the
/// agreement asked for is a millisecond).
fn phc_minus_realtime(path: &Path) -> io::Result<i128> {
    let phc = PhcClock::open_path(path)?;
    let before = i128::from(SystemClock::realtime_nanos());
    let t = phc.now_ns()?;
    let after = i128::from(SystemClock::realtime_nanos());
    Ok(t - (before + after) / 2)
}

/// What `auto` finds on this machine: disciplined PHCs (by index), then the system
/// clock; and a line for each PHC it left out, and why.
pub fn probe(tai_minus_utc: TaiOffset) -> (Vec<Source>, Vec<String>) {
    let mut sources = Vec::new();
    let mut notes = Vec::new();
    match discovery::list() {
        Ok(phcs) => {
            for phc in phcs {
                match judge(phc_minus_realtime(&phc.path), tai_minus_utc) {
                    Ok(()) if sources.len() + 1 < MAX_SOURCES => {
                        sources.push(Source::Phc(PhcSelector::Path(phc.path)));
                    }
                    Ok(()) => notes.push(format!(
                        "{}: left out, a chain takes {MAX_SOURCES} sources",
                        phc.path.display()
                    )),
                    Err(why) => notes.push(format!("{}: left out, {why}", phc.path.display())),
                }
            }
        }
        Err(e) => notes.push(format!("no PTP hardware clocks listed: {e}")),
    }
    sources.push(Source::System);
    (sources, notes)
}

/// The sources `choices` name, `auto` replaced by what [`probe`] finds (once, however
/// often it is given), duplicates dropped, at most [`MAX_SOURCES`].
pub fn resolve(choices: &[SourceChoice], tai_minus_utc: TaiOffset) -> (Vec<Source>, Vec<String>) {
    let mut out: Vec<Source> = Vec::new();
    let mut notes = Vec::new();
    let mut probed: Option<Vec<Source>> = None;
    for c in choices {
        let found = match c {
            SourceChoice::Given(s) => vec![s.clone()],
            SourceChoice::Auto => probed
                .get_or_insert_with(|| {
                    let (s, n) = probe(tai_minus_utc);
                    notes.extend(n);
                    s
                })
                .clone(),
        };
        for s in found {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    if out.len() > MAX_SOURCES {
        notes.push(format!(
            "{} sources found; a chain reads the first {MAX_SOURCES}",
            out.len()
        ));
        out.truncate(MAX_SOURCES);
    }
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAI: TaiOffset = TaiOffset(37);
    const S: i128 = 1_000_000_000;

    #[test]
    fn a_phc_on_tai_that_agrees_with_the_system_clock_is_taken() {
        assert_eq!(judge(Ok(37 * S + 250_000), TAI), Ok(()));
        assert_eq!(judge(Ok(37 * S - 999_999), TAI), Ok(()));
    }

    #[test]
    fn a_free_running_or_unreadable_phc_is_left_out_with_the_reason() {
        let utc = judge(Ok(12_000), TAI).unwrap_err();
        assert!(utc.contains("keeps UTC"), "{utc}");
        let adrift = judge(Ok(37 * S + 2 * S), TAI).unwrap_err();
        assert!(adrift.contains("2.000000 s from TAI"), "{adrift}");
        let denied = judge(Err(io::Error::from(io::ErrorKind::PermissionDenied)), TAI).unwrap_err();
        assert!(denied.starts_with("cannot read it"), "{denied}");
    }

    #[test]
    fn auto_parses_beside_the_sources_and_says_so_in_errors() {
        assert_eq!("auto".parse(), Ok(SourceChoice::Auto));
        assert_eq!(
            "ptp:eth0".parse(),
            Ok(SourceChoice::Given(Source::Ptp("eth0".into())))
        );
        let e = "nope".parse::<SourceChoice>().unwrap_err();
        assert!(e.contains("available: auto, system"), "{e}");
        assert_eq!(SourceChoice::Auto.to_string(), "auto");
    }

    #[test]
    fn given_sources_keep_their_order_and_duplicates_go() {
        let ptp = Source::Ptp("eth0".into());
        let (s, notes) = resolve(
            &[
                SourceChoice::Given(ptp.clone()),
                SourceChoice::Given(Source::System),
                SourceChoice::Given(ptp.clone()),
            ],
            TAI,
        );
        assert_eq!(s, [ptp, Source::System]);
        assert!(notes.is_empty());
    }

    #[test]
    fn auto_always_ends_in_the_system_clock() {
        let (s, _) = resolve(&[SourceChoice::Auto, SourceChoice::Auto], TAI);
        assert_eq!(s.last(), Some(&Source::System));
        assert!(s.len() <= MAX_SOURCES);
        assert_eq!(s.iter().filter(|x| **x == Source::System).count(), 1);
    }
}
