//! Runs on the host beside the hardware-timestamping guest (`tests/hwts/run.sh`): reads
//! the guest's serial log as it grows and carries out each `== QMP COMMAND key=value...`
//! line through QEMU's monitor socket (QMP), e.g. `== QMP device_del id=hp0`. This is
//! how the guest's tests unplug and re-plug their NIC.
//!
//! Usage: `hwts-qmp LOG SOCKET SECONDS`. Ends at the guest's `== done`, when QEMU goes
//! away, or after SECONDS; every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `COMMAND key=value ...` as a QMP command in JSON (values are strings).
fn command_json(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let execute = words.next()?;
    let arguments: Vec<String> = words
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| format!("\"{k}\":\"{v}\""))
        .collect();
    Some(format!(
        "{{\"execute\":\"{execute}\",\"arguments\":{{{}}}}}",
        arguments.join(",")
    ))
}

/// Sends `json` and returns the reply (skipping the asynchronous events between).
fn call(reader: &mut BufReader<UnixStream>, json: &str) -> Result<String, String> {
    reader
        .get_mut()
        .write_all(format!("{json}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    for _ in 0..100 {
        let mut reply = String::new();
        if reader.read_line(&mut reply).map_err(|e| e.to_string())? == 0 {
            return Err("QEMU closed the monitor".into());
        }
        if reply.contains("\"return\"") || reply.contains("\"error\"") {
            return Ok(reply.trim().to_string());
        }
    }
    Err("no reply from QMP".into())
}

fn connect(socket: &str, deadline: Instant) -> Result<BufReader<UnixStream>, String> {
    loop {
        match UnixStream::connect(socket) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(10)))
                    .map_err(|e| e.to_string())?;
                let mut reader = BufReader::new(s);
                let mut greeting = String::new();
                reader.read_line(&mut greeting).map_err(|e| e.to_string())?;
                call(&mut reader, "{\"execute\":\"qmp_capabilities\"}")?;
                return Ok(reader);
            }
            Err(e) if Instant::now() > deadline => return Err(format!("{socket}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn run(log: &str, socket: &str, seconds: u64) -> Result<u32, String> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut qmp = connect(socket, deadline)?;
    let mut done = 0u32;
    let mut seen = 0usize;
    let mut text = Vec::new();
    while Instant::now() < deadline {
        text.clear();
        if let Ok(mut f) = std::fs::File::open(log) {
            let _ = f.read_to_end(&mut text);
        }
        let all = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = all.lines().collect();
        // The last line may still be growing: only complete lines count.
        let complete = if all.ends_with('\n') {
            lines.len()
        } else {
            lines.len().saturating_sub(1)
        };
        for line in &lines[seen.min(complete)..complete] {
            if let Some(cmd) = line.split("== QMP ").nth(1) {
                let json = command_json(cmd).ok_or_else(|| format!("bad QMP line: {line}"))?;
                let reply = call(&mut qmp, &json)?;
                println!("hwts-qmp: {json} -> {reply}");
                done += 1;
            }
            if line.ends_with("== done") {
                return Ok(done);
            }
        }
        seen = seen.max(complete);
        // QEMU gone (the guest powered off): nothing more to do.
        if qmp.get_ref().peer_addr().is_err() {
            return Ok(done);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(done)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 {
        eprintln!("usage: hwts-qmp LOG SOCKET SECONDS");
        return ExitCode::from(2);
    }
    match run(&args[0], &args[1], args[2].parse().unwrap_or(300)) {
        Ok(n) => {
            println!("hwts-qmp: {n} monitor commands carried out");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hwts-qmp: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_lines_become_qmp_commands() {
        assert_eq!(
            command_json("device_del id=hp0").unwrap(),
            r#"{"execute":"device_del","arguments":{"id":"hp0"}}"#
        );
        assert_eq!(
            command_json("device_add driver=igb id=hp0 bus=rp1").unwrap(),
            r#"{"execute":"device_add","arguments":{"driver":"igb","id":"hp0","bus":"rp1"}}"#
        );
        assert_eq!(command_json(""), None);
    }
}
