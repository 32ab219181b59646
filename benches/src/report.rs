//! The tools' markdown: a block for `docs/benchmarks.md` with the run's date, CPU model,
//! load average and exact command, and a table of its figures.

use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::procfs;

/// Where the markdown block goes, shared by every tool.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct MarkdownArgs {
    /// Print the markdown block for docs/benchmarks.md after the figures.
    #[arg(long)]
    pub markdown: bool,
    /// Append the markdown block to this file (e.g. a scratch file to paste from).
    #[arg(long, value_name = "FILE")]
    pub append: Option<PathBuf>,
}

impl MarkdownArgs {
    /// Prints and/or appends `block` as asked.
    pub fn emit(&self, block: &str) -> std::io::Result<()> {
        if self.markdown {
            println!("\n{block}");
        }
        if let Some(path) = &self.append {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(f, "{block}")?;
        }
        Ok(())
    }

    /// What a load tool ends with: its table and notes on stdout, then its block for
    /// `docs/benchmarks.md` as asked, with the load average at `start` and `end`.
    pub fn finish(
        &self,
        title: &str,
        table: &Table,
        notes: &[String],
        (start, end): (&str, &str),
    ) -> std::io::Result<()> {
        println!("\n{}", table.markdown());
        for n in notes {
            println!("- {n}");
        }
        let load_during = format!("{start} at start, {end} at end");
        self.emit(&block(title, &load_during, &[table], notes))
    }
}

/// Today's date (UTC), `YYYY-MM-DD`.
pub fn utc_date() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The load averages now, `1.23 0.98 0.75`.
pub fn loadavg_text() -> String {
    procfs::loadavg().map_or_else(
        || "unknown".into(),
        |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"),
    )
}

/// What the host's CPUs did from `start` until now, all processes (this run's own
/// included): `host CPUs 97.1 % busy, 0.4 % stolen by the hypervisor`.
pub fn host_cpu_note(start: Option<procfs::HostCpu>) -> String {
    match (start, procfs::HostCpu::now()) {
        (Some(a), Some(b)) => {
            let (busy, steal) = a.percent_until(&b);
            format!(
                "host CPUs during the runs (all processes, these included): {busy:.1} % busy, \
                 {steal:.1} % stolen by the hypervisor"
            )
        }
        _ => "host CPU use unknown".into(),
    }
}

/// The command line this process was started with, for the record.
pub fn command_line() -> String {
    let mut args = std::env::args();
    let name = args.next().map_or_else(String::new, |a| {
        std::path::Path::new(&a)
            .file_name()
            .map_or(a.clone(), |f| f.to_string_lossy().into_owned())
    });
    std::iter::once(name)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A markdown table.
#[derive(Clone, Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table in markdown, one line per row; numeric-looking columns right-aligned.
    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
        let rule: Vec<String> = (0..self.header.len())
            .map(|i| {
                let numeric = !self.rows.is_empty()
                    && self.rows.iter().all(|r| {
                        r.get(i)
                            .is_some_and(|c| c.chars().next().is_some_and(|ch| ch.is_ascii_digit()))
                    });
                if numeric { "---:" } else { "---" }.to_string()
            })
            .collect();
        let mut out = vec![line(&self.header), line(&rule)];
        out.extend(self.rows.iter().map(|r| line(r)));
        out.join("\n")
    }
}

/// A block for `docs/benchmarks.md`: a heading, where and when it ran, the command,
/// the tables and notes.
pub fn block(title: &str, load_during: &str, tables: &[&Table], notes: &[String]) -> String {
    let mut out = format!(
        "#### {title}\n\n{date}, {cpu} ({cpus} logical CPUs), load average {load_during}; \
         one-off measurement, not asserted.\n\n```\n{cmd}\n```\n",
        date = utc_date(),
        cpu = procfs::cpu_model(),
        cpus = procfs::cpus(),
        cmd = command_line(),
    );
    for t in tables {
        out.push('\n');
        out.push_str(&t.markdown());
        out.push('\n');
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out
}

/// A rate with a unit prefix: `12.3 M`, `950 k`.
pub fn si(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.2} G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}
