//! The daemon's one status line: what `tempora now`, `tempora run` (every source) and
//! `tempora serve` print, and what every test and log checker parses back.
//!
//! ```text
//! 2026-11-26T21:40:00.000012544 UTC  source=system status=free-running offset=- bound=16.000512000s earliest=2026-11-26T21:39:43.999500544 UTC latest=2026-11-26T21:40:16.000524544 UTC hlc=1795729200.000012544+0@1733425416
//! 2026-11-26T21:40:00.000012544 UTC  source=ptp:eth0 status=synchronized offset=-0.000000212s bound=0.000001840s earliest=... latest=... hlc=... state=slave master=001122.fffe.334455-1 timestamps=software freq=+12.345ppb delay=+0.000004100s sigma=0.000000180s noise=0.000000350s measurements=80
//! ```
//!
//! One timescale, stated: every time is UTC (a PTP slave's TAI estimate is converted
//! with TAI - UTC), and so is the HLC timestamp. `offset` and `bound` share one unit,
//! seconds: `offset` is the local clock (the system clock, or the NIC's PHC with
//! hardware timestamps) minus the reference, `-` where there is none (the system
//! clock alone, a PTP master, a slave before its first estimate); `bound` is
//! `unbounded` when the source cannot bound its error. PTP lines add the port's
//! `state`, the `master` it follows (`-` when none), the `timestamps` in use and the
//! estimate's frequency, path delay, uncertainty, path noise and exchange count.
//!
//! `Display` and `FromStr` are exact inverses; a line from a `ptp:IFACE` source carries
//! the PTP fields, one from `system` does not.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tempora_core::clock::{ClockReading, ClockStatus};
use tempora_core::ptp::port::PortState;
use tempora_core::ptp::wire::{ClockIdentity, PortIdentity};
use tempora_core::time::{Instant, Offset, Utc};
use tempora_core::timestamp::Timestamp;

use crate::clock::phc::PhcSelector;
use crate::ptp::Timestamps;

/// Where a status line's time comes from, as the command line names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The Linux system clock bounded by the kernel's estimate: `system`.
    System,
    /// A PTP port on this interface: `ptp:IFACE`.
    Ptp(String),
    /// A PTP hardware clock, by index, path or interface: `phc:0`, `phc:/dev/ptp0`,
    /// `phc:eth0`.
    Phc(PhcSelector),
}

impl FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "system" => Ok(Self::System),
            _ => match (s.strip_prefix("ptp:"), s.strip_prefix("phc:")) {
                (Some(iface), _)
                    if !iface.is_empty() && !iface.contains(|c: char| c.is_whitespace()) =>
                {
                    Ok(Self::Ptp(iface.to_string()))
                }
                (_, Some(phc)) => phc.parse().map(Self::Phc),
                _ => Err(format!(
                    "unknown source '{s}' (available: system, ptp:IFACE, phc:INDEX|PATH|IFACE)"
                )),
            },
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System => f.write_str("system"),
            Self::Ptp(i) => write!(f, "ptp:{i}"),
            Self::Phc(p) => write!(f, "phc:{p}"),
        }
    }
}

/// A PTP port's state as the status line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PtpState {
    /// The node is opening its port: no state yet.
    Initializing,
    /// Waiting for Announces.
    Listening,
    /// Serving time.
    Master,
    /// Following a master.
    Slave,
    /// A better master exists that this clock must not follow.
    Passive,
}

impl PtpState {
    /// The state of a port (`None`: not started), and the master it follows if any.
    pub fn of(state: Option<PortState>) -> (Self, Option<PortIdentity>) {
        match state {
            None => (Self::Initializing, None),
            Some(PortState::Listening) => (Self::Listening, None),
            Some(PortState::Master) => (Self::Master, None),
            Some(PortState::Slave(master)) => (Self::Slave, Some(master)),
            Some(PortState::Passive) => (Self::Passive, None),
        }
    }

    /// The lower-case name the status line uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Initializing => "initializing",
            Self::Listening => "listening",
            Self::Master => "master",
            Self::Slave => "slave",
            Self::Passive => "passive",
        }
    }
}

impl fmt::Display for PtpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PtpState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [
            Self::Initializing,
            Self::Listening,
            Self::Master,
            Self::Slave,
            Self::Passive,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| format!("unknown PTP state '{s}'"))
    }
}

/// What a PTP line adds: the port and its estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct PtpStatus {
    /// The port's state.
    pub state: PtpState,
    /// The master port followed, in a slave state.
    pub master: Option<PortIdentity>,
    /// The timestamps in use.
    pub timestamps: Timestamps,
    /// Local minus master frequency (ppb), once estimated.
    pub frequency_ppb: Option<f64>,
    /// Mean path delay, once measured.
    pub delay: Option<Offset>,
    /// Standard deviation of the offset estimate.
    pub sigma: Option<Duration>,
    /// The path noise of one exchange.
    pub noise: Option<Duration>,
    /// Exchanges completed.
    pub measurements: u64,
}

/// One status line. See the [module documentation](self) for its form.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusLine {
    /// The source's best estimate of the time, UTC.
    pub time: Instant<Utc>,
    /// Where it comes from.
    pub source: Source,
    /// How far to trust it.
    pub status: ClockStatus,
    /// The local clock minus the reference, where there is one.
    pub offset: Option<Offset>,
    /// The true time lies within `time ± bound`; `None` when unbounded.
    pub bound: Option<Duration>,
    /// `time - bound` (at the earliest representable instant).
    pub earliest: Instant<Utc>,
    /// `time + bound` (at the latest representable instant).
    pub latest: Instant<Utc>,
    /// An HLC timestamp taken with the reading.
    pub hlc: Timestamp<Utc>,
    /// The PTP port, for a PTP source.
    pub ptp: Option<PtpStatus>,
}

impl StatusLine {
    /// The line for `reading` (UTC) from `source`, with `hlc` taken beside it.
    pub fn new(source: Source, reading: &ClockReading<Utc>, hlc: Timestamp<Utc>) -> Self {
        let interval = reading.interval();
        Self {
            time: reading.time,
            source,
            status: reading.status,
            offset: None,
            bound: (reading.bound != Duration::MAX).then_some(reading.bound),
            earliest: interval.earliest,
            latest: interval.latest,
            hlc,
            ptp: None,
        }
    }

    /// The offset in nanoseconds, for statistics.
    pub fn offset_ns(&self) -> Option<f64> {
        self.offset.map(Offset::as_f64)
    }

    /// The bound in nanoseconds (infinite when unbounded), for statistics.
    pub fn bound_ns(&self) -> f64 {
        self.bound.map_or(f64::INFINITY, |b| b.as_nanos() as f64)
    }
}

/// Seconds with nine decimals: `0.000200000s`.
fn fmt_seconds(f: &mut fmt::Formatter<'_>, d: Duration) -> fmt::Result {
    write!(f, "{}.{:09}s", d.as_secs(), d.subsec_nanos())
}

/// `value`, or `-` when there is none.
struct OrDash<T>(Option<T>);

impl<T: fmt::Display> fmt::Display for OrDash<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("-"),
        }
    }
}

struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_seconds(f, self.0)
    }
}

struct Ppb(f64);

impl fmt::Display for Ppb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:+.3}ppb", self.0)
    }
}

/// A port identity as linuxptp prints it: `001122.fffe.334455-1`.
struct Port(PortIdentity);

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0.clock.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}{:02x}-{}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], self.0.port
        )
    }
}

impl fmt::Display for StatusLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  source={} status={} offset={} bound=",
            self.time,
            self.source,
            self.status,
            OrDash(self.offset)
        )?;
        match self.bound {
            Some(b) => fmt_seconds(f, b)?,
            None => f.write_str("unbounded")?,
        }
        write!(
            f,
            " earliest={} latest={} hlc={}",
            self.earliest, self.latest, self.hlc
        )?;
        if let Some(p) = &self.ptp {
            write!(
                f,
                " state={} master={} timestamps={} freq={} delay={} sigma={} noise={} measurements={}",
                p.state,
                OrDash(p.master.map(Port)),
                p.timestamps,
                OrDash(p.frequency_ppb.map(Ppb)),
                OrDash(p.delay),
                OrDash(p.sigma.map(Seconds)),
                OrDash(p.noise.map(Seconds)),
                p.measurements
            )?;
        }
        Ok(())
    }
}

/// Why a line is not a status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseStatusError(String);

impl fmt::Display for ParseStatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a status line: {}", self.0)
    }
}

impl std::error::Error for ParseStatusError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ParseStatusError> {
    Err(ParseStatusError(msg.into()))
}

/// Digits only (no sign, no spaces), as a number.
fn digits<T: FromStr>(s: &str, what: &str) -> Result<T, ParseStatusError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return err(format!("{what}: '{s}' is not a number"));
    }
    s.parse()
        .map_err(|_| ParseStatusError(format!("{what}: '{s}' is out of range")))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-26T21:40:00.000012544` followed by the token `UTC`.
fn parse_time(
    civil: &str,
    scale: Option<&str>,
    what: &str,
) -> Result<Instant<Utc>, ParseStatusError> {
    if scale != Some("UTC") {
        return err(format!("{what}: the time must be followed by UTC"));
    }
    let bad = || {
        ParseStatusError(format!(
            "{what}: '{civil}' is not YYYY-MM-DDTHH:MM:SS.NNNNNNNNN"
        ))
    };
    let b = civil.as_bytes();
    if b.len() != 29
        || [b[4], b[7], b[10], b[13], b[16], b[19]] != [b'-', b'-', b'T', b':', b':', b'.']
    {
        return Err(bad());
    }
    let field = |r: std::ops::Range<usize>| digits::<u64>(&civil[r], what);
    let (y, mo, d) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (h, mi, s, ns) = (
        field(11..13)?,
        field(14..16)?,
        field(17..19)?,
        field(20..29)?,
    );
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if y < 1970 || !(1..=12).contains(&mo) || d == 0 || d > month_days[(mo - 1) as usize] {
        return Err(bad());
    }
    if h > 23 || mi > 59 || s > 59 {
        return Err(bad());
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    Instant::from_secs_nanos(secs, ns as u32)
        .ok_or_else(|| ParseStatusError(format!("{what}: '{civil}' is past the year 2554")))
}

/// `0.000200000s`: exactly nine decimals.
fn parse_seconds(v: &str, what: &str) -> Result<Duration, ParseStatusError> {
    let (secs, frac) = v
        .strip_suffix('s')
        .and_then(|v| v.split_once('.'))
        .ok_or_else(|| {
            ParseStatusError(format!("{what}: '{v}' is not seconds like 0.000200000s"))
        })?;
    if frac.len() != 9 {
        return err(format!("{what}: '{v}' needs nine decimals"));
    }
    Ok(Duration::new(digits(secs, what)?, digits(frac, what)?))
}

/// `+0.000000212s` or `-2.000000000s`.
fn parse_offset(v: &str, what: &str) -> Result<Offset, ParseStatusError> {
    let (negative, rest) = match v.as_bytes().first() {
        Some(b'+') => (false, &v[1..]),
        Some(b'-') => (true, &v[1..]),
        _ => return err(format!("{what}: '{v}' has no sign")),
    };
    let d = parse_seconds(rest, what)?;
    let n = i128::try_from(d.as_nanos()).unwrap_or(i128::MAX);
    Offset::try_from_nanos(if negative { -n } else { n })
        .ok_or_else(|| ParseStatusError(format!("{what}: '{v}' is out of range")))
}

fn parse_port(v: &str) -> Result<PortIdentity, ParseStatusError> {
    let bad = || ParseStatusError(format!("master: '{v}' is not like 001122.fffe.334455-1"));
    let (clock, port) = v.split_once('-').ok_or_else(bad)?;
    let hex: String = clock.split('.').collect();
    let parts: Vec<usize> = clock.split('.').map(str::len).collect();
    if parts != [6, 4, 6] || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut id = [0u8; 8];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(PortIdentity {
        clock: ClockIdentity(id),
        port: digits(port, "master")?,
    })
}

fn parse_timestamps(v: &str) -> Result<Timestamps, ParseStatusError> {
    if v == "software" {
        return Ok(Timestamps::Software);
    }
    match v.strip_prefix("hardware:/dev/ptp") {
        Some(n) => Ok(Timestamps::Hardware {
            phc: digits(n, "timestamps")?,
        }),
        None => err(format!(
            "timestamps: '{v}' is not software or hardware:/dev/ptpN"
        )),
    }
}

fn parse_status(v: &str) -> Result<ClockStatus, ParseStatusError> {
    [
        ClockStatus::Synchronized,
        ClockStatus::Holdover,
        ClockStatus::FreeRunning,
        ClockStatus::Unknown,
    ]
    .into_iter()
    .find(|s| s.as_str() == v)
    .ok_or_else(|| ParseStatusError(format!("status: unknown status '{v}'")))
}

/// `-` as `None`, anything else parsed.
fn opt<T>(
    v: &str,
    parse: impl FnOnce(&str) -> Result<T, ParseStatusError>,
) -> Result<Option<T>, ParseStatusError> {
    if v == "-" {
        Ok(None)
    } else {
        parse(v).map(Some)
    }
}

/// The tokens of a line, read in order.
struct Cursor<'a>(std::str::SplitWhitespace<'a>);

impl<'a> Cursor<'a> {
    /// The value of the next token, which must be `key=VALUE`.
    fn value(&mut self, key: &str) -> Result<&'a str, ParseStatusError> {
        let t = self
            .0
            .next()
            .ok_or_else(|| ParseStatusError(format!("no {key}=")))?;
        t.strip_prefix(key)
            .and_then(|r| r.strip_prefix('='))
            .ok_or_else(|| ParseStatusError(format!("expected {key}=, found '{t}'")))
    }

    /// A time value: `key=CIVIL UTC`.
    fn time(&mut self, key: &str) -> Result<Instant<Utc>, ParseStatusError> {
        let civil = self.value(key)?;
        parse_time(civil, self.0.next(), key)
    }
}

impl FromStr for StatusLine {
    type Err = ParseStatusError;

    fn from_str(line: &str) -> Result<Self, ParseStatusError> {
        let mut c = Cursor(line.split_whitespace());
        let time = parse_time(c.0.next().unwrap_or(""), c.0.next(), "time")?;
        let source = c
            .value("source")?
            .parse()
            .map_err(|e| ParseStatusError(format!("source: {e}")))?;
        let status = parse_status(c.value("status")?)?;
        let offset = opt(c.value("offset")?, |v| parse_offset(v, "offset"))?;
        let bound = match c.value("bound")? {
            "unbounded" => None,
            v => Some(parse_seconds(v, "bound")?),
        };
        let earliest = c.time("earliest")?;
        let latest = c.time("latest")?;
        let hlc = c
            .value("hlc")?
            .parse()
            .map_err(|e| ParseStatusError(format!("hlc: {e}")))?;
        let ptp = match c.0.next() {
            None if matches!(source, Source::Ptp(_)) => return err("a PTP line with no state="),
            None => None,
            Some(t) => {
                let state = t
                    .strip_prefix("state=")
                    .ok_or_else(|| ParseStatusError(format!("unexpected '{t}' after hlc=")))?;
                Some(PtpStatus {
                    state: state.parse().map_err(ParseStatusError)?,
                    master: opt(c.value("master")?, parse_port)?,
                    timestamps: parse_timestamps(c.value("timestamps")?)?,
                    frequency_ppb: opt(c.value("freq")?, parse_ppb)?,
                    delay: opt(c.value("delay")?, |v| parse_offset(v, "delay"))?,
                    sigma: opt(c.value("sigma")?, |v| parse_seconds(v, "sigma"))?,
                    noise: opt(c.value("noise")?, |v| parse_seconds(v, "noise"))?,
                    measurements: digits(c.value("measurements")?, "measurements")?,
                })
            }
        };
        if let Some(extra) = c.0.next() {
            return err(format!("unexpected '{extra}' at the end"));
        }
        Ok(Self {
            time,
            source,
            status,
            offset,
            bound,
            earliest,
            latest,
            hlc,
            ptp,
        })
    }
}

/// `+1.250ppb`.
fn parse_ppb(v: &str) -> Result<f64, ParseStatusError> {
    v.strip_suffix("ppb")
        .filter(|n| n.starts_with(['+', '-']))
        .and_then(|n| n.parse::<f64>().ok())
        .filter(|n| n.is_finite())
        .ok_or_else(|| ParseStatusError(format!("freq: '{v}' is not like +1.250ppb")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tempora_core::timestamp::NodeId;

    fn system_line() -> StatusLine {
        let t = Instant::<Utc>::from_secs_nanos(1_795_729_200, 12_544).unwrap();
        StatusLine {
            time: t,
            source: Source::System,
            status: ClockStatus::FreeRunning,
            offset: None,
            bound: Some(Duration::new(16, 512_000)),
            earliest: t.saturating_sub(Duration::new(16, 512_000)),
            latest: t.saturating_add(Duration::new(16, 512_000)),
            hlc: Timestamp::from_raw(t.as_nanos() & !0xff, NodeId(1_733_425_416)),
            ptp: None,
        }
    }

    #[test]
    fn a_system_line_reads_as_documented() {
        assert_eq!(
            system_line().to_string(),
            "2026-11-26T21:40:00.000012544 UTC  source=system status=free-running offset=- \
             bound=16.000512000s earliest=2026-11-26T21:39:43.999500544 UTC \
             latest=2026-11-26T21:40:16.000524544 UTC hlc=1795729200.000012544+0@1733425416"
        );
    }

    #[test]
    fn a_ptp_line_reads_as_documented_and_parses_back() {
        let mut line = system_line();
        line.source = Source::Ptp("eth0".into());
        line.status = ClockStatus::Synchronized;
        line.offset = Some(Offset::from_nanos(-212));
        line.bound = Some(Duration::from_nanos(1_840));
        line.ptp = Some(PtpStatus {
            state: PtpState::Slave,
            master: Some(PortIdentity {
                clock: ClockIdentity([0x00, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55]),
                port: 1,
            }),
            timestamps: Timestamps::Hardware { phc: 1 },
            frequency_ppb: Some(12.345),
            delay: Some(Offset::from_nanos(4_100)),
            sigma: Some(Duration::from_nanos(180)),
            noise: None,
            measurements: 80,
        });
        let text = line.to_string();
        for part in [
            "source=ptp:eth0 status=synchronized offset=-0.000000212s bound=0.000001840s ",
            " state=slave master=001122.fffe.334455-1 timestamps=hardware:/dev/ptp1 freq=+12.345ppb \
             delay=+0.000004100s sigma=0.000000180s noise=- measurements=80",
        ] {
            assert!(text.contains(part), "{text}");
        }
        assert_eq!(text.parse::<StatusLine>(), Ok(line));
    }

    #[test]
    fn malformed_lines_are_refused_with_the_field_named() {
        let good = system_line().to_string();
        for (bad, what) in [
            (good.replace("status=free-running", "status=fine"), "status"),
            (good.replace("offset=-", "offset=12ns"), "offset"),
            (good.replace("offset=-", "offset=NaNns"), "offset"),
            (good.replace("bound=16.000512000s", "bound=16s"), "bound"),
            (good.replace(" UTC latest", " TAI latest"), "earliest"),
            (
                good.replace("2026-11-26T21:40:00", "2026-02-30T21:40:00"),
                "time",
            ),
            (good.replace("hlc=", "clock="), "hlc"),
            (format!("{good} extra=1"), "extra"),
            (good.replace("source=system", "source=ptp:eth0"), "state"),
            (String::new(), "time"),
        ] {
            let e = bad.parse::<StatusLine>().unwrap_err().to_string();
            assert!(e.contains(what), "{bad:?}: {e}");
        }
    }

    #[test]
    fn sources_parse_as_the_command_line_spells_them() {
        assert_eq!("system".parse(), Ok(Source::System));
        assert_eq!("ptp:eth0".parse(), Ok(Source::Ptp("eth0".into())));
        assert_eq!("phc:0".parse(), Ok(Source::Phc(PhcSelector::Index(0))));
        assert_eq!(
            "phc:/dev/ptp1".parse(),
            Ok(Source::Phc(PhcSelector::Path("/dev/ptp1".into())))
        );
        assert_eq!(
            "phc:eth1".parse(),
            Ok(Source::Phc(PhcSelector::Interface("eth1".into())))
        );
        assert!("phc:".parse::<Source>().is_err());
        for bad in ["ptp:", "gps", "ptp:a b", "PTP:eth0"] {
            assert!(bad.parse::<Source>().is_err(), "{bad}");
        }
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        (any::<u64>(), 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n))
    }

    fn any_status_line() -> impl Strategy<Value = StatusLine> {
        let ptp = (
            prop_oneof![
                Just(PtpState::Initializing),
                Just(PtpState::Listening),
                Just(PtpState::Master),
                Just(PtpState::Slave),
                Just(PtpState::Passive),
            ],
            proptest::option::of((any::<[u8; 8]>(), any::<u16>())),
            proptest::option::of(any::<u32>()),
            proptest::option::of(-10_000_000_000i64..10_000_000_000),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any_duration()),
            proptest::option::of(any_duration()),
            any::<u64>(),
        );
        (
            (any::<u64>(), any::<u64>(), any::<u64>()),
            prop_oneof![
                Just(Source::System),
                "[a-z][a-z0-9.@_-]{0,14}".prop_map(Source::Ptp),
                (0u32..64).prop_map(|i| Source::Phc(PhcSelector::Index(i))),
                "[a-z][a-z0-9]{0,10}".prop_map(|i| Source::Phc(PhcSelector::Interface(i)))
            ],
            prop_oneof![
                Just(ClockStatus::Synchronized),
                Just(ClockStatus::Holdover),
                Just(ClockStatus::FreeRunning),
                Just(ClockStatus::Unknown),
            ],
            proptest::option::of(any::<i64>()),
            proptest::option::of(any_duration()),
            (any::<u64>(), any::<u32>()),
            ptp,
        )
            .prop_map(
                |((t, e, l), source, status, offset, bound, (hlc, node), ptp)| {
                    let is_ptp = matches!(source, Source::Ptp(_));
                    StatusLine {
                        time: Instant::from_nanos(t),
                        source,
                        status,
                        offset: offset.map(Offset::from_nanos),
                        bound,
                        earliest: Instant::from_nanos(e),
                        latest: Instant::from_nanos(l),
                        hlc: Timestamp::from_raw(hlc, NodeId(node)),
                        ptp: Some(ptp).filter(|_| is_ptp).map(
                            |(state, master, phc, milli_ppb, delay, sigma, noise, measurements)| {
                                PtpStatus {
                                    state,
                                    master: master.map(|(c, port)| PortIdentity {
                                        clock: ClockIdentity(c),
                                        port,
                                    }),
                                    timestamps: phc.map_or(Timestamps::Software, |phc| {
                                        Timestamps::Hardware { phc }
                                    }),
                                    frequency_ppb: milli_ppb.map(|m| m as f64 / 1000.0),
                                    delay: delay.map(Offset::from_nanos),
                                    sigma,
                                    noise,
                                    measurements,
                                }
                            },
                        ),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn every_line_parses_back_to_itself(line in any_status_line()) {
            let text = line.to_string();
            prop_assert_eq!(text.parse::<StatusLine>(), Ok(line), "{}", text);
        }
    }
}
