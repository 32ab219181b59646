//! Checks the serial log of the hardware-timestamping guest (`tests/hwts/run.sh`).
//!
//! Scenario A: tempora in `--ptp-timestamping auto` on an igb NIC takes its hardware
//! timestamps and PHC, finds that QEMU's 82576 model stamps no received event message
//! under Linux's igb driver, falls back to software timestamps, locks to ptp4l's master
//! within 10 s and keeps its error (both ends read the guest's one system clock, so the
//! true offset is 0) inside its own bound. Scenario B: with `hardware` demanded, the same
//! NIC makes tempora exit non-zero, saying why. Scenario C: what the NIC does stamp, sent
//! frames, carry send timestamps on its PHC (moved 5 s off the system clock first).
//! Then the PHC scenarios ([`check_phc`]) and the PPS ones ([`check_pps`]).

use std::process::ExitCode;

use tempora_core::clock::ClockStatus;
use tempora_std::daemon::Source;
use tempora_std::ptp::Timestamps;
use tempora_std::StatusLine;

/// Lines of one scenario, between `== X begin` and `== X exit=N`, and N.
fn section<'a>(lines: &'a [String], name: &str) -> Option<(&'a [String], i32)> {
    // Markers are matched at a line's end or inside it: the firmware's screen codes may
    // precede them.
    let begin_marker = format!("== {name} begin");
    let begin = lines.iter().position(|l| l.ends_with(&begin_marker))?;
    let exit_prefix = format!("== {name} exit=");
    let end = begin
        + lines[begin..]
            .iter()
            .position(|l| l.contains(&exit_prefix))?;
    let code = lines[end].split(&exit_prefix).nth(1)?.trim().parse().ok()?;
    Some((&lines[begin + 1..end], code))
}

/// The lines of `lines` that are tempora's status lines for `source`.
fn status_lines(lines: &[String], source: &Source) -> Vec<StatusLine> {
    lines
        .iter()
        .filter_map(|l| l.parse::<StatusLine>().ok())
        .filter(|l| &l.source == source)
        .collect()
}

fn check(lines: &[String]) -> Result<String, String> {
    let mut report = String::new();
    if !lines.iter().any(|l| l.contains("== phcs ptp0 ptp1")) {
        return Err("the guest shows no two PHCs (igb not loaded?)".into());
    }
    if !lines
        .iter()
        .any(|l| l.contains("assuming the grand master role"))
    {
        return Err("ptp4l's master never took the master role".into());
    }

    let (a, code) = section(lines, "A").ok_or("scenario A did not run to its end")?;
    if code != 0 {
        return Err(format!("scenario A: tempora exited with {code}"));
    }
    let hw = a
        .iter()
        .position(|l| l.contains("PTP timestamps") && l.contains("timestamps=hardware:/dev/ptp1"))
        .ok_or("scenario A: tempora did not take eth1's hardware timestamps on /dev/ptp1")?;
    let fell = a
        .iter()
        .position(|l| l.contains("stamped no received event message"))
        .ok_or("scenario A: no fall back to software timestamps")?;
    if fell < hw {
        return Err("scenario A: fell back before taking hardware timestamps".into());
    }
    let status = status_lines(&a[fell..], &Source::Ptp("eth1".into()));
    if status.len() < 20 {
        return Err(format!(
            "scenario A: {} status lines after the fall back",
            status.len()
        ));
    }
    if status
        .iter()
        .any(|l| l.ptp.as_ref().map(|p| p.timestamps) != Some(Timestamps::Software))
    {
        return Err(
            "scenario A: a status line after the fall back is not on software timestamps".into(),
        );
    }
    // Status lines come once a second: locked within 10 of them.
    let lock = status
        .iter()
        .position(|l| l.status == ClockStatus::Synchronized)
        .ok_or("scenario A: never synchronized")?;
    if lock > 10 {
        return Err(format!("scenario A: synchronized only after {lock} s"));
    }
    let mut worst: f64 = 0.0;
    let mut sum2 = 0.0;
    let locked = &status[lock..];
    for l in locked {
        if l.status != ClockStatus::Synchronized {
            return Err(format!("scenario A: lost the lock: {l}"));
        }
        let offset = l.offset_ns().ok_or(format!("no offset: {l}"))?;
        let bound = l.bound_ns();
        if offset.abs() > bound {
            return Err(format!(
                "scenario A: error {offset} ns outside the bound {bound} ns: {l}"
            ));
        }
        worst = worst.max(offset.abs());
        sum2 += offset * offset;
    }
    report.push_str(&format!(
        "A: hardware timestamps on /dev/ptp1 taken, none received, fell back to software; \
         locked after {lock} s; error over {} s: RMS {:.1} us, max {:.1} us, all inside the bound\n",
        locked.len(),
        (sum2 / locked.len() as f64).sqrt() / 1e3,
        worst / 1e3
    ));

    let (b, code) = section(lines, "B").ok_or("scenario B did not run to its end")?;
    if code == 0 {
        return Err("scenario B: tempora succeeded without hardware timestamps".into());
    }
    if !b
        .iter()
        .any(|l| l.contains("PTP timestamps") && l.contains("timestamps=hardware:/dev/ptp1"))
    {
        return Err("scenario B: tempora did not take eth1's hardware timestamps".into());
    }
    let why = b
        .iter()
        .find(|l| l.contains("came without a hardware receive timestamp"))
        .ok_or("scenario B: tempora failed without saying why")?;
    report.push_str(&format!("B: exit {code}: {why}\n"));

    let (c, code) = section(lines, "C").ok_or("scenario C did not run to its end")?;
    let summary = c
        .iter()
        .find(|l| l.starts_with("probe ok:"))
        .ok_or_else(|| {
            format!(
                "scenario C: the probe failed (exit {code}): {}",
                c.join(" | ")
            )
        })?;
    if code != 0 {
        return Err(format!("scenario C: the probe exited with {code}"));
    }
    // The PHC was moved 5 s ahead: the send timestamps are on it, not on the system clock.
    let moved = summary
        .split("PHC - CLOCK_REALTIME = ")
        .nth(1)
        .and_then(|v| v.strip_suffix(" ns")?.parse::<i128>().ok())
        .ok_or_else(|| format!("scenario C: no PHC offset in {summary:?}"))?;
    if !(4_900_000_000..5_100_000_000).contains(&moved) {
        return Err(format!(
            "scenario C: the PHC is {moved} ns from the system clock, not the 5 s it was moved"
        ));
    }
    report.push_str(&format!("C: {summary}\n"));
    Ok(report)
}

/// The value of `key=` in `line`.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

fn number(line: &str, key: &str) -> Result<f64, String> {
    field(line, key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no number {key}= in {line:?}"))
}

/// The PHC scenarios P1 to P6 (tests/hwts/init.sh, tests/src/bin/hwts_phc.rs).
fn check_phc(lines: &[String]) -> Result<String, String> {
    let mut report = String::new();
    let ran = |name: &str| passed(lines, name);
    // P1: igb refuses PRECISE and offers EXTENDED; every method's window.
    let p1 = ran("P1")?;
    let chain = p1
        .iter()
        .find(|l| l.starts_with("chain /dev/ptp1"))
        .ok_or("P1: no cross-timestamp chain line")?;
    if !chain.contains("refused=precise(") || !chain.contains("method=extended") {
        return Err(format!(
            "P1: igb should refuse PRECISE and offer EXTENDED: {chain}"
        ));
    }
    if !p1
        .iter()
        .any(|l| l.starts_with("/dev/ptp1 clock_name=525400120002 interfaces=eth1 "))
    {
        return Err("P1: tempora phc list did not map /dev/ptp1 to eth1".into());
    }
    report.push_str(&format!("P1: {chain}\n"));
    for l in p1
        .iter()
        .filter(|l| l.starts_with("window ") || l.starts_with("caps "))
    {
        report.push_str(&format!("P1: {l}\n"));
    }
    // P2: fast reads stayed inside their bound (the binary asserts it; the numbers here).
    let p2 = ran("P2")?;
    let fast = p2
        .iter()
        .find(|l| l.starts_with("fast /dev/ptp1 seconds="))
        .ok_or("P2: no summary")?;
    if number(fast, "seconds")? < 30.0
        || number(fast, "violations")? != 0.0
        || number(fast, "backwards")? != 0.0
    {
        return Err(format!("P2: {fast}"));
    }
    report.push_str(&format!("P2: {fast}\n"));
    // P3: the e1000e's PHC reported as faulty within one interval.
    let p3 = ran("P3")?;
    let kind = p3
        .iter()
        .find(|l| l.contains(" kind="))
        .ok_or("P3: no fault")?;
    report.push_str(&format!("P3: {kind}\n"));
    // P4: hot-unplug and re-plug.
    let p4 = ran("P4")?;
    p4.iter()
        .find(|l| l.contains("recovered_after_ms="))
        .ok_or("P4: never recovered")?;
    for l in p4.iter().filter(|l| l.starts_with("hotplug ")) {
        report.push_str(&format!("P4: {l}\n"));
    }
    // P5: the daemon's status lines from the PHC source, synchronized after the first.
    let p5 = ran("P5")?;
    let status = status_lines(p5, &Source::Phc("eth1".parse().map_err(|e: String| e)?));
    if status.len() < 4 || status.iter().any(|l| l.status != ClockStatus::Synchronized) {
        return Err(format!(
            "P5: {} status lines, not all synchronized",
            status.len()
        ));
    }
    // A PHC nothing disciplines reads far from the system clock (QEMU's igb starts
    // 2^41 ns ahead): beyond both bounds, the daemon must say so.
    let apart = status
        .iter()
        .filter_map(|l| l.offset_ns())
        .fold(0.0_f64, |m, o| m.max(o.abs()));
    let warned = p5
        .iter()
        .any(|l| l.contains("from the system clock, beyond both"));
    if apart > 16.1e9 && !warned {
        return Err(format!(
            "P5: the PHC is {:.3} s from the system clock, and nothing said so",
            apart / 1e9
        ));
    }
    report.push_str(&format!(
        "P5: {} status lines from phc:eth1, all synchronized; bound {:.0} ns; {:.3} s from the system clock{}\n",
        status.len(),
        status[status.len() - 1].bound_ns(),
        apart / 1e9,
        if warned { ", said" } else { "" }
    ));
    // P6: phc sync: stepped at first, then slewed; the residual over the last 10 s.
    let p6 = ran("P6")?;
    let updates: Vec<&String> = p6.iter().filter(|l| l.starts_with("phc-sync ")).collect();
    if updates.len() < 20 {
        return Err(format!("P6: {} updates", updates.len()));
    }
    let tail: Vec<f64> = updates[updates.len() - 10..]
        .iter()
        .map(|l| {
            number(
                l.trim_end_matches("ns").replace("ns ", " ").as_str(),
                "offset",
            )
        })
        .collect::<Result<_, _>>()?;
    let rms = (tail.iter().map(|o| o * o).sum::<f64>() / tail.len() as f64).sqrt();
    let worst = tail.iter().fold(0.0f64, |m, o| m.max(o.abs()));
    if rms > 20_000.0 {
        return Err(format!(
            "P6: residual RMS {rms:.0} ns over the last 10 updates"
        ));
    }
    report.push_str(&format!(
        "P6: phc sync, first update {}; residual over the last 10 s: RMS {rms:.0} ns, max {worst:.0} ns\n",
        updates[0]
    ));
    Ok(report)
}

/// A scenario that ran to its end and exited 0: its lines.
fn passed<'a>(lines: &'a [String], name: &str) -> Result<&'a [String], String> {
    let (body, code) =
        section(lines, name).ok_or(format!("scenario {name} did not run to its end"))?;
    if code != 0 {
        return Err(format!(
            "scenario {name} exited with {code}: {}",
            body.join(" | ")
        ));
    }
    Ok(body)
}

/// The PPS modules the guest needs, built out of tree by tests/hwts/pps-modules.sh.
const PPS_MODULES: [&str; 4] = ["pps-ktimer", "configfs", "irq_sim", "gpio-sim"];

/// The PPS scenarios (tests/hwts/init.sh, tests/src/bin/hwts_pps.rs): PPS1 pps-ktimer
/// through PpsDevice, PPS2 and PPS3 a gpio-sim line through GpioPps (events, polled).
/// A module that was not built or did not load is a failure, not a skip.
fn check_pps(lines: &[String]) -> Result<String, String> {
    let mut report = String::new();
    let mods = lines
        .iter()
        .find_map(|l| l.split("== pps-modules").nth(1))
        .ok_or("the guest did not get to the PPS scenarios")?;
    for m in PPS_MODULES {
        match field(mods, m) {
            Some("loaded") => {}
            Some("missing") => {
                return Err(format!(
                    "PPS: {m}.ko missing: its out-of-tree build failed (tests/hwts/pps-modules.sh)"
                ))
            }
            other => return Err(format!("PPS: {m}.ko did not load ({other:?})")),
        }
    }
    let pps1 = passed(lines, "PPS1")?;
    let dev = pps1
        .iter()
        .find(|l| l.starts_with("pps-device /dev/pps0 "))
        .ok_or("PPS1: no summary")?;
    let edges = number(dev, "edges")?;
    if !(9.0..=11.0).contains(&edges)
        || number(dev, "sequence_gaps")? != 0.0
        || number(dev, "violations")? != 0.0
    {
        return Err(format!("PPS1: {dev}"));
    }
    report.push_str(&format!(
        "PPS1: pps-ktimer /dev/pps0 through PpsDevice: {edges} edges in {} s, no sequence gap; \
         interval {:.3} to {:.3} ms (mean {:.3}, spread {:.3}); PpsClock took {} and refused {} \
         off the second; {} readings, none outside its bound\n",
        number(dev, "seconds")?,
        number(dev, "interval_min_ns")? / 1e6,
        number(dev, "interval_max_ns")? / 1e6,
        number(dev, "interval_mean_ns")? / 1e6,
        number(dev, "interval_spread_ns")? / 1e6,
        number(dev, "accepted")?,
        number(dev, "off_second")?,
        number(dev, "samples")?,
    ));
    for (name, mode) in [("PPS2", "events"), ("PPS3", "polled")] {
        let body = passed(lines, name)?;
        let gpio = body
            .iter()
            .find(|l| l.starts_with("pps-gpio ") && l.contains(&format!(" mode={mode} ")))
            .ok_or(format!("{name}: no summary"))?;
        let edges = number(gpio, "edges")?;
        if !(9.0..=11.0).contains(&edges)
            || edges != number(gpio, "toggles")?
            || field(gpio, "synchronized") != Some("yes")
            || number(gpio, "violations")? != 0.0
            || number(gpio, "accepted")? < 3.0
        {
            return Err(format!("{name}: {gpio}"));
        }
        report.push_str(&format!(
            "{name}: gpio-sim line through GpioPps ({mode}): {edges} edges for as many toggles; \
             captured {:.3} to {:.3} ms into the second (toggle written {:.3} to {:.3} ms in); \
             PpsClock (edge bound {:.0} ms) took {}, refused {} off the second and {} other, \
             synchronized; worst error {:.3} ms inside a bound of at most {:.3} ms over {} readings\n",
            number(gpio, "delay_min_ns")? / 1e6,
            number(gpio, "delay_max_ns")? / 1e6,
            number(gpio, "toggle_late_min_ns")? / 1e6,
            number(gpio, "toggle_late_max_ns")? / 1e6,
            number(gpio, "edge_bound_ns")? / 1e6,
            number(gpio, "accepted")?,
            number(gpio, "off_second")?,
            number(gpio, "glitches")? + number(gpio, "other_refused")?,
            number(gpio, "worst_error_ns")? / 1e6,
            number(gpio, "worst_bound_ns")? / 1e6,
            number(gpio, "samples")?,
        ));
    }
    Ok(report)
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: hwts-check SERIAL_LOG");
        return ExitCode::FAILURE;
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("hwts-check: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The daemon writes plain text when its output is not a terminal, as here.
    let lines: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    match check(&lines)
        .and_then(|r| Ok(r + &check_phc(&lines)?))
        .and_then(|r| Ok(r + &check_pps(&lines)?))
    {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hwts-check: FAILED: {e}\n--- serial log ---\n{text}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(|l| l.trim().to_string()).collect()
    }

    /// A status line of the slave on eth1, as the daemon prints it.
    fn slave_line(offset_ns: i64) -> String {
        let t = tempora_core::time::Instant::from_secs_nanos(1_795_729_200, 0).unwrap();
        let reading = tempora_core::clock::ClockReading {
            time: t,
            bound: std::time::Duration::from_micros(200),
            status: ClockStatus::Synchronized,
        };
        let hlc = tempora_core::timestamp::Timestamp::from_raw(
            t.as_nanos(),
            tempora_core::timestamp::NodeId(7),
        );
        let mut line = StatusLine::new(Source::Ptp("eth1".into()), &reading, hlc);
        line.offset = Some(tempora_core::time::Offset::from_nanos(offset_ns));
        line.ptp = Some(tempora_std::daemon::PtpStatus {
            state: tempora_std::daemon::PtpState::Slave,
            master: None,
            timestamps: Timestamps::Software,
            frequency_ppb: None,
            delay: None,
            sigma: None,
            noise: None,
            measurements: 0,
        });
        line.to_string()
    }

    #[test]
    fn status_lines_are_read_and_others_skipped() {
        let text = format!("log line timestamps=software\n{}\n", slave_line(-30));
        let status = status_lines(&lines(&text), &Source::Ptp("eth1".into()));
        assert_eq!(status.len(), 1);
        assert_eq!(status[0].offset_ns(), Some(-30.0));
        assert_eq!(status[0].bound_ns().round(), 200_000.0);
        assert!(status_lines(&lines(&text), &Source::Ptp("eth0".into())).is_empty());
    }

    #[test]
    fn phc_scenarios_are_read_and_their_failures_found() {
        let text = "== P1 begin\nchain /dev/ptp1 method=extended-monoraw refused=precise(Operation not supported)\n\
            /dev/ptp1 clock_name=525400120002 interfaces=eth1 cross_timestamps=extended-monoraw\n== P1 exit=0\n";
        let err = check_phc(&lines(text)).unwrap_err();
        assert!(err.contains("P2 did not run"), "{err}");
        let bad = text.replace("refused=precise(", "refused=basic(");
        assert!(check_phc(&lines(&bad))
            .unwrap_err()
            .contains("refuse PRECISE"));
        assert_eq!(field("a x=1 y=2", "y"), Some("2"));
        assert_eq!(
            number("fast seconds=30 violations=0", "violations"),
            Ok(0.0)
        );
    }

    /// The PPS part of a guest's log, as hwts-pps and init.sh print it.
    const PPS_LOG: &str = "== pps-modules pps-ktimer=loaded configfs=loaded irq_sim=loaded gpio-sim=loaded\n\
        == PPS1 begin\n\
        edge seq=2 realtime_ns=1796012202860268082 phase_ns=-139731918 interval_ns=1023931264 fetch_latency_ns=190355 pps_clock=refused:off-second(139731918ns)\n\
        pps-device /dev/pps0 seconds=10 edges=10 sequence_gaps=0 interval_min_ns=1020609219 interval_max_ns=1027384525 interval_mean_ns=1023985646 interval_spread_ns=6775306 fetch_latency_max_ns=439639 accepted=0 off_second=10 glitches=0 other_refused=0 synchronized=no samples=99 violations=0 worst_error_ns=0 worst_bound_ns=0\n\
        == PPS1 exit=0\n\
        == PPS2 begin\n\
        pps-gpio /dev/gpiochip0 line=0 mode=events seconds=10 toggles=10 edges=10 delay_min_ns=935937 delay_max_ns=24678381 delay_mean_ns=6397482 interval_min_ns=976439872 interval_max_ns=1009942538 interval_mean_ns=997837541 toggle_late_min_ns=1324069 toggle_late_max_ns=24978320 edge_bound_ns=3000000 accepted=7 off_second=3 glitches=0 other_refused=0 synchronized=yes samples=113 violations=0 worst_error_ns=-1358622 worst_bound_ns=24380895\n\
        == PPS2 exit=0\n\
        == PPS3 begin\n\
        pps-gpio /dev/gpiochip0 line=0 mode=polled seconds=10 toggles=10 edges=10 delay_min_ns=1025000 delay_max_ns=96714956 delay_mean_ns=16266402 interval_min_ns=904348325 interval_max_ns=1095685688 interval_mean_ns=999954132 toggle_late_min_ns=710650 toggle_late_max_ns=52906145 edge_bound_ns=4000000 accepted=7 off_second=2 glitches=0 other_refused=1 synchronized=yes samples=169 violations=0 worst_error_ns=-1463439 worst_bound_ns=39737638\n\
        == PPS3 exit=0\n";

    #[test]
    fn pps_scenarios_are_read_and_their_failures_found() {
        let report = check_pps(&lines(PPS_LOG)).unwrap();
        assert!(
            report.contains("PPS1: pps-ktimer /dev/pps0 through PpsDevice: 10 edges"),
            "{report}"
        );
        assert!(
            report.contains("interval 1020.609 to 1027.385 ms"),
            "{report}"
        );
        assert!(
            report.contains("PPS2: gpio-sim line through GpioPps (events)"),
            "{report}"
        );
        assert!(
            report.contains("PPS3: gpio-sim line through GpioPps (polled)"),
            "{report}"
        );
        assert!(
            report.contains("refused 2 off the second and 1 other"),
            "{report}"
        );
        // A module that was not built is a failure, not a skip.
        let missing = PPS_LOG.replace("gpio-sim=loaded", "gpio-sim=missing");
        let err = check_pps(&lines(&missing)).unwrap_err();
        assert!(err.contains("gpio-sim.ko missing"), "{err}");
        let failed = PPS_LOG.replace("irq_sim=loaded", "irq_sim=failed");
        assert!(check_pps(&lines(&failed))
            .unwrap_err()
            .contains("irq_sim.ko did not load"));
        assert!(check_pps(&lines("== P6 begin\n")).is_err());
        // A reading outside its bound, a lost edge, a clock never synchronized.
        for (from, to) in [
            (
                "violations=0 worst_error_ns=-1358622",
                "violations=1 worst_error_ns=-1358622",
            ),
            (
                "toggles=10 edges=10 delay_min_ns=935937",
                "toggles=10 edges=9 delay_min_ns=935937",
            ),
            (
                "other_refused=1 synchronized=yes",
                "other_refused=1 synchronized=no",
            ),
            ("sequence_gaps=0", "sequence_gaps=1"),
            ("== PPS2 exit=0", "== PPS2 exit=1"),
        ] {
            let bad = PPS_LOG.replace(from, to);
            assert!(check_pps(&lines(&bad)).is_err(), "{to}");
        }
    }

    #[test]
    fn markers_are_found_behind_screen_codes() {
        let l = lines("\u{1b}[2J== A begin\nx\n\u{1b}[0m== A exit=3\n");
        let (body, code) = section(&l, "A").unwrap();
        assert_eq!((body.len(), code), (1, 3));
    }

    #[test]
    fn a_log_without_the_scenarios_fails() {
        assert!(check(&lines(
            "== phcs ptp0 ptp1\nassuming the grand master role\n"
        ))
        .is_err());
        assert!(check(&lines("nothing")).is_err());
    }

    #[test]
    fn an_error_outside_its_bound_fails() {
        let mut text = String::from(
            "== phcs ptp0 ptp1\nassuming the grand master role\n== A begin\n\
             PTP timestamps timestamps=hardware:/dev/ptp1\n\
             stamped no received event message\n",
        );
        for i in 0..25 {
            let offset = if i == 20 { 300_000 } else { 1_000 };
            text.push_str(&slave_line(offset));
            text.push('\n');
        }
        text.push_str("== A exit=0\n== B begin\nPTP timestamps timestamps=hardware:/dev/ptp1\n\
             failed: 8 event messages in a row came without a hardware receive timestamp\n== B exit=1\n\
             == C begin\nprobe ok: 8 of 8 send timestamps on /dev/ptp0, each between the PHC readings around its send; \
             PHC - CLOCK_REALTIME = 5000002100 ns\n== C exit=0\n");
        let err = check(&lines(&text)).unwrap_err();
        assert!(err.contains("outside the bound"), "{err}");
        let ok = text.replace(&slave_line(300_000), &slave_line(-2_000));
        let report = check(&lines(&ok)).unwrap();
        assert!(report.contains("locked after 0 s"), "{report}");
        // Send timestamps on the system clock would show the PHC where it was.
        let unmoved = ok.replace("= 5000002100 ns", "= 2100 ns");
        let err = check(&lines(&unmoved)).unwrap_err();
        assert!(err.contains("not the 5 s"), "{err}");
    }
}
