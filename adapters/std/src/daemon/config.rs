//! The daemon's configuration file: what `tempora run` takes on its command line, in
//! TOML, so a deployment keeps it in `/etc/tempora/tempora.toml`.
//!
//! Every error names the file, line and column of what is wrong: a TOML syntax error, a
//! key that does not exist (a typo must not be silently ignored), a value of the wrong
//! type, or a value IEEE 1588 or tempora refuses (an interval out of range, an unknown
//! source). `tempora config check FILE` prints exactly that.
//!
//! ```
//! use tempora_std::daemon::config::DaemonConfig;
//!
//! let c = DaemonConfig::parse("tempora.toml", r#"
//! sources = ["ptp:eth0", "system"]
//! interval = "1s"
//!
//! [ptp]
//! sync_log2 = -3
//! acceptable_masters = ["001122.fffe.334455"]
//! "#).unwrap();
//! assert_eq!(c.sources.len(), 2);
//! assert_eq!(c.ptp.sync_log2, -3);
//!
//! let e = DaemonConfig::parse("tempora.toml", "[ptp]\nsync_log2 = -128\n").unwrap_err();
//! assert_eq!((e.line, e.column), (2, 13));
//! assert!(e.to_string().starts_with("tempora.toml:2:13: logSyncInterval -128"));
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use tempora_core::ptp::port::{DelayMechanism, IntervalKind, PortConfig};
use tempora_core::ptp::wire::ClockIdentity;
use tempora_core::time::TaiOffset;
use toml::Spanned;

use super::{ClockOptions, PtpOptions, Schedule, Source, SourceChoice};
use crate::ptp::{TimestampMode, TransportKind};

/// The file as TOML has it; spans kept for the messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    sources: Option<Vec<Spanned<String>>>,
    interval: Option<Spanned<String>>,
    duration: Option<Spanned<String>>,
    node: Option<u32>,
    max_offset: Option<Spanned<String>>,
    metrics: Option<Spanned<String>>,
    time_service: Option<PathBuf>,
    ptp: Option<PtpSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PtpSection {
    domain: Option<u8>,
    transport: Option<Spanned<String>>,
    delay_mechanism: Option<Spanned<String>>,
    timestamping: Option<Spanned<String>>,
    announce_log2: Option<Spanned<i8>>,
    sync_log2: Option<Spanned<i8>>,
    delay_log2: Option<Spanned<i8>>,
    announce_timeout: Option<Spanned<u8>>,
    utc_offset: Option<i16>,
    acceptable_masters: Option<Vec<Spanned<String>>>,
}

/// What a configuration file says, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct DaemonConfig {
    /// The sources, in order of preference (`system` when none is given; `auto` probes
    /// the machine when the run starts).
    pub sources: Vec<SourceChoice>,
    /// How long to run and how often to print.
    pub schedule: Schedule,
    /// The HLC's settings.
    pub clock: ClockOptions,
    /// The PTP port's settings (for `ptp:` sources).
    pub ptp: PtpOptions,
    /// The clocks a PTP slave may follow; empty: any (standard BMCA).
    pub acceptable_masters: Vec<ClockIdentity>,
    /// Where to serve metrics, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// Where to publish the host-wide time service, if anywhere else than the default.
    pub time_service: Option<PathBuf>,
}

/// A configuration error, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigFileError {
    /// The file, as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ConfigFileError {}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Errors<'a> {
    file: &'a str,
    text: &'a str,
}

impl Errors<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> ConfigFileError {
        let (line, column) = line_column(self.text, span.start);
        ConfigFileError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    fn duration(&self, v: &Spanned<String>) -> Result<Duration, ConfigFileError> {
        humantime::parse_duration(v.get_ref()).map_err(|e| {
            self.at(
                v.span(),
                format!("{:?} is not a duration: {e}", v.get_ref()),
            )
        })
    }
}

impl DaemonConfig {
    /// Reads and checks `path`.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigFileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigFileError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: e.to_string(),
        })?;
        Self::parse(&file, &text)
    }

    /// Checks `text`, naming `file` in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigFileError> {
        let errors = Errors { file, text };
        let parsed: File = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            errors.at(span, e.message().trim().to_string())
        })?;
        let mut sources = Vec::new();
        for s in parsed.sources.iter().flatten() {
            let source = s
                .get_ref()
                .parse::<SourceChoice>()
                .map_err(|e| errors.at(s.span(), e))?;
            sources.push(source);
        }
        if sources.is_empty() {
            sources.push(SourceChoice::Given(Source::System));
        }
        let interval = match &parsed.interval {
            Some(v) => {
                let d = errors.duration(v)?;
                if d.is_zero() {
                    return Err(errors.at(v.span(), "the interval must be more than zero"));
                }
                d
            }
            None => Duration::from_secs(1),
        };
        let duration = parsed
            .duration
            .as_ref()
            .map(|v| errors.duration(v))
            .transpose()?;
        let max_offset = parsed
            .max_offset
            .as_ref()
            .map(|v| errors.duration(v))
            .transpose()?
            .unwrap_or(Duration::from_millis(500));
        let metrics = parsed
            .metrics
            .as_ref()
            .map(|v| {
                v.get_ref().parse::<SocketAddr>().map_err(|e| {
                    errors.at(
                        v.span(),
                        format!("{:?} is not an address: {e}", v.get_ref()),
                    )
                })
            })
            .transpose()?;
        let (ptp, acceptable_masters) = Self::ptp(&errors, parsed.ptp)?;
        Ok(Self {
            sources,
            schedule: Schedule { duration, interval },
            clock: ClockOptions::new(parsed.node, max_offset),
            ptp,
            acceptable_masters,
            metrics,
            time_service: parsed.time_service,
        })
    }

    fn ptp(
        errors: &Errors<'_>,
        section: Option<PtpSection>,
    ) -> Result<(PtpOptions, Vec<ClockIdentity>), ConfigFileError> {
        let mut o = PtpOptions {
            transport: TransportKind::Udpv4,
            delay_mechanism: DelayMechanism::E2E,
            timestamping: TimestampMode::Auto,
            domain: 0,
            announce_log2: 1,
            sync_log2: 0,
            delay_log2: 0,
            announce_timeout: 3,
            utc_offset: None,
            acceptable_masters: Vec::new(),
        };
        let Some(p) = section else {
            return Ok((o, Vec::new()));
        };
        let choice = |v: &Spanned<String>, options: &[&str]| -> Result<usize, ConfigFileError> {
            options
                .iter()
                .position(|o| o == v.get_ref())
                .ok_or_else(|| {
                    errors.at(
                        v.span(),
                        format!("{:?} is not one of {}", v.get_ref(), options.join(", ")),
                    )
                })
        };
        if let Some(v) = &p.transport {
            o.transport = [TransportKind::Udpv4, TransportKind::L2][choice(v, &["udpv4", "l2"])?];
        }
        if let Some(v) = &p.delay_mechanism {
            o.delay_mechanism =
                [DelayMechanism::E2E, DelayMechanism::P2P][choice(v, &["e2e", "p2p"])?];
        }
        if let Some(v) = &p.timestamping {
            o.timestamping = [
                TimestampMode::Auto,
                TimestampMode::Software,
                TimestampMode::Hardware,
            ][choice(v, &["auto", "software", "hardware"])?];
        }
        o.domain = p.domain.unwrap_or(0);
        o.utc_offset = p.utc_offset.map(|s| TaiOffset(i32::from(s)));
        // Each interval against what IEEE 1588 allows, reported where it is written.
        let interval = |v: &Option<Spanned<i8>>, kind: IntervalKind, default: i8| {
            let Some(v) = v else { return Ok(default) };
            let log2 = *v.get_ref();
            let probe = match kind {
                IntervalKind::Announce => PortConfig::ordinary(ClockIdentity([0; 8]), 128, true)
                    .with_intervals(log2, 0, 0, 3),
                IntervalKind::Sync => PortConfig::ordinary(ClockIdentity([0; 8]), 128, true)
                    .with_intervals(1, log2, 0, 3),
                IntervalKind::DelayReq => PortConfig::ordinary(ClockIdentity([0; 8]), 128, true)
                    .with_intervals(1, 0, log2, 3),
            };
            probe
                .validate()
                .map(|()| log2)
                .map_err(|e| errors.at(v.span(), e.to_string()))
        };
        o.announce_log2 = interval(&p.announce_log2, IntervalKind::Announce, 1)?;
        o.sync_log2 = interval(&p.sync_log2, IntervalKind::Sync, 0)?;
        o.delay_log2 = interval(&p.delay_log2, IntervalKind::DelayReq, 0)?;
        if let Some(v) = &p.announce_timeout {
            let probe = PortConfig::ordinary(ClockIdentity([0; 8]), 128, true).with_intervals(
                1,
                0,
                0,
                *v.get_ref(),
            );
            probe
                .validate()
                .map_err(|e| errors.at(v.span(), e.to_string()))?;
            o.announce_timeout = *v.get_ref();
        }
        let mut masters = Vec::new();
        for m in p.acceptable_masters.iter().flatten() {
            let id = m
                .get_ref()
                .parse::<ClockIdentity>()
                .map_err(|e| errors.at(m.span(), format!("{:?}: {e}", m.get_ref())))?;
            masters.push(id);
        }
        o.acceptable_masters.clone_from(&masters);
        Ok((o, masters))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> ConfigFileError {
        DaemonConfig::parse("t.toml", text).unwrap_err()
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let c = DaemonConfig::parse("t.toml", "").unwrap();
        assert_eq!(c.sources, vec![SourceChoice::Given(Source::System)]);
        assert_eq!(c.schedule.interval, Duration::from_secs(1));
        assert_eq!(c.schedule.duration, None);
        assert_eq!(c.ptp.sync_log2, 0);
        assert!(c.acceptable_masters.is_empty());
        assert_eq!(c.metrics, None);
    }

    #[test]
    fn everything_set() {
        let c = DaemonConfig::parse(
            "t.toml",
            r#"
sources = ["ptp:eth0", "system"]
interval = "250ms"
duration = "1h"
node = 7
max_offset = "100ms"
metrics = "127.0.0.1:9898"
time_service = "/dev/shm/tempora-test"

[ptp]
domain = 24
transport = "l2"
delay_mechanism = "p2p"
timestamping = "software"
announce_log2 = -3
sync_log2 = -3
delay_log2 = -3
announce_timeout = 2
utc_offset = 37
acceptable_masters = ["001122.fffe.334455", "0011223344556677"]
"#,
        )
        .unwrap();
        assert_eq!(
            c.sources,
            vec![
                SourceChoice::Given(Source::Ptp("eth0".into())),
                SourceChoice::Given(Source::System)
            ]
        );
        assert_eq!(c.schedule.interval, Duration::from_millis(250));
        assert_eq!(c.schedule.duration, Some(Duration::from_secs(3600)));
        assert_eq!(c.clock.max_offset, Duration::from_millis(100));
        assert_eq!(c.ptp.transport, TransportKind::L2);
        assert_eq!(c.ptp.delay_mechanism, DelayMechanism::P2P);
        assert_eq!(c.ptp.timestamping, TimestampMode::Software);
        assert_eq!((c.ptp.domain, c.ptp.announce_timeout), (24, 2));
        assert_eq!(c.ptp.utc_offset, Some(TaiOffset(37)));
        assert_eq!(c.acceptable_masters.len(), 2);
        assert_eq!(c.metrics, Some("127.0.0.1:9898".parse().unwrap()));
    }

    #[test]
    fn errors_say_where() {
        let e = error("interval = \"soon\"\n");
        assert_eq!((e.line, e.column), (1, 12), "{e}");
        let e = error("\n\nintreval = \"1s\"\n");
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("unknown field"), "{e}");
        let e = error("sources = [\"system\", \"gps:0\"]\n");
        assert_eq!((e.line, e.column), (1, 22), "{e}");
        let e = error("[ptp]\ntransport = \"udpv6\"\n");
        assert_eq!((e.line, e.column), (2, 13), "{e}");
        assert!(e.message.contains("udpv4, l2"), "{e}");
        let e = error("[ptp]\nannounce_timeout = 1\n");
        assert_eq!(e.line, 2, "{e}");
        let e = error("[ptp]\nacceptable_masters = [\"00:11\"]\n");
        assert_eq!((e.line, e.column), (2, 23), "{e}");
        let e = error("interval = \"0s\"\n");
        assert!(e.message.contains("more than zero"), "{e}");
        let e = error("[ptp]\nsync_log2 = 300\n");
        assert_eq!(e.line, 2, "{e}");
        let e = error("sources = [\n");
        assert!(e.line >= 1, "{e}");
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_column("é = 1\nab", 7), (2, 1));
        assert_eq!(line_column("abc", 2), (1, 3));
        assert_eq!(line_column("abc", 99), (1, 4));
    }
}
