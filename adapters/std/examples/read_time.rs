//! Reads bounded time and takes two host-wide HLC timestamps through a running
//! `tempora run` (the time service), without a system call or a message to the daemon.
//!
//! Run: `cargo run -p tempora-std --example read_time [-- PATH]`; PATH defaults to
//! `$TEMPORA_TIME_SERVICE`, else `/dev/shm/tempora`, where `tempora run` publishes.

use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};

use tempora_core::clock::ClockStatus;
use tempora_std::timeservice::{Reader, DEFAULT_PATH};

fn main() {
    let path = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("TEMPORA_TIME_SERVICE"))
        .map_or_else(|| PathBuf::from(DEFAULT_PATH), PathBuf::from);
    if let Err(e) = read_time(&path, &mut std::io::stdout()) {
        eprintln!("read_time: {e}");
        std::process::exit(1);
    }
}

pub fn read_time(path: &Path, out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    // Maps the daemon's page read-only; an error if no daemon ever published there.
    let reader = Reader::open(path)?;
    // One vDSO clock read plus the published correction: time, bound and status.
    let reading = reader.read();
    writeln!(out, "source: {}", reader.source())?;
    writeln!(out, "status: {}", reading.status)?;
    if reading.status == ClockStatus::Unknown {
        // The daemon stopped, died or has not published yet: the reading is unbounded.
        writeln!(out, "no live daemon: do not trust this time")?;
        return Ok(());
    }
    writeln!(out, "time: {reading}")?; // TIME ± BOUND (STATUS)
    writeln!(out, "interval: {}", reading.interval())?; // the true time lies inside
                                                        // Host-wide HLC timestamps: strictly increasing across every process on the host.
                                                        // Taking one needs write access to PATH.hlc (see --time-service-group).
    match reader.hlc() {
        Ok(hlc) => {
            let (first, second) = (hlc.now(), hlc.now());
            writeln!(out, "hlc: {first}")?;
            writeln!(out, "hlc: {second}")?;
        }
        Err(e) => writeln!(out, "hlc: - ({e})")?,
    }
    Ok(())
}
