//! Runs inside the hardware-timestamping guest (`tests/hwts`): a tempora master port on
//! an interface with hardware timestamps, its local clock the NIC's PHC. It sends Syncs
//! and checks that each send timestamp comes from the PHC: it must lie between PHC
//! readings taken just before and just after the send. The guest first moves the PHC
//! 5 s away from the system clock, so a software timestamp (on `CLOCK_REALTIME`) could
//! not pass. Each send timestamp goes back to the port, whose Follow_Up must carry it.
//!
//! Prints one line per Sync and a summary `probe ok: ...`; exits non-zero on any failure.

use std::process::ExitCode;
use std::time::Duration;

use tempora_core::ptp::port::{Packet, Port, PortState, SendContext, Timer};
use tempora_core::ptp::wire::MessageType;
use tempora_core::time::{Instant, Tai};
use tempora_ptp_sim::{actions, config};
use tempora_std::clock::PhcClock;
use tempora_std::ptp::l2::L2Transport;
use tempora_std::ptp::timestamping::{choose, TimestampMode, Timestamps};
use tempora_std::ptp::PtpTransport;

const SYNCS: u16 = 8;

/// A PHC reading (ns) as the port's local time.
fn tai(ns: i128) -> Result<Instant<Tai>, String> {
    u64::try_from(ns)
        .map(Instant::from_nanos)
        .map_err(|_| format!("clock reading {ns} ns is outside 1970..2554"))
}

/// A master port, started at local time `now` with no other master around.
fn master(now: Instant<Tai>) -> Result<Port, String> {
    let port = config::master(config::ordinary(0x7e, 10, false), now);
    match port.state() {
        PortState::Master => Ok(port),
        s => Err(format!("the port is {s:?}, not master")),
    }
}

/// The first message of type `kind` among `actions`, with its send context if an event.
fn sent(
    actions: tempora_core::ptp::port::Actions,
    kind: MessageType,
) -> Result<(Packet, Option<SendContext>), String> {
    actions::first(actions, kind).ok_or(format!("the port sent no {kind:?}"))
}

/// The precise origin a Follow_Up carries (ns).
fn precise_origin(follow_up: &Packet) -> Result<i128, String> {
    actions::precise_origin_ns(follow_up).ok_or(format!("not a Follow_Up: {follow_up:?}"))
}

fn probe(iface: &str) -> Result<String, String> {
    let ts = choose(iface, TimestampMode::Hardware, true).map_err(|e| e.to_string())?;
    let Timestamps::Hardware { phc } = ts else {
        return Err(format!("{iface}: no hardware timestamps"));
    };
    let clock = PhcClock::open(phc).map_err(|e| e.to_string())?;
    let now = || clock.now_ns().map_err(|e| e.to_string());
    let transport = L2Transport::open(iface, ts).map_err(|e| e.to_string())?;
    let mut port = master(tai(now()?)?)?;
    let mut phc_minus_realtime = 0i128;
    for _ in 0..SYNCS {
        let realtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let before = now()?;
        let (sync, context) = sent(port.on_timer(Timer::Sync, tai(before)?), MessageType::Sync)?;
        let context = context.ok_or("a Sync without a send context")?;
        transport
            .send(sync.message_type, &sync.bytes)
            .map_err(|e| e.to_string())?;
        let stamp = transport
            .send_timestamp(&sync.bytes, Duration::from_millis(500))
            .map_err(|e| e.to_string())?
            .ok_or(format!("Sync {}: no send timestamp", sync.sequence_id))?;
        let after = now()?;
        phc_minus_realtime = before - realtime;
        let seq = sync.sequence_id;
        println!(
            "probe seq={seq} phc_before={before} sent={stamp} phc_after={after} after-sent={}ns",
            after - stamp
        );
        if !(before..=after).contains(&stamp) {
            return Err(format!(
                "Sync {seq}: send timestamp {stamp} not between PHC readings {before} and {after}"
            ));
        }
        let (follow_up, _) = sent(port.on_sent(context, tai(stamp)?), MessageType::FollowUp)?;
        if precise_origin(&follow_up)? != stamp {
            return Err(format!("Sync {seq}: the Follow_Up does not carry {stamp}"));
        }
        transport
            .send(follow_up.message_type, &follow_up.bytes)
            .map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(format!(
        "probe ok: {SYNCS} of {SYNCS} send timestamps on /dev/ptp{phc}, each between the PHC readings around its send; PHC - CLOCK_REALTIME = {phc_minus_realtime} ns"
    ))
}

fn main() -> ExitCode {
    let Some(iface) = std::env::args().nth(1) else {
        eprintln!("usage: hwts-probe IFACE");
        return ExitCode::FAILURE;
    };
    match probe(&iface) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("probe failed: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempora_core::ptp::wire::PtpMessage;

    #[test]
    fn the_master_sends_a_sync_and_follows_it_up_with_its_send_time() {
        let t = 1_800_000_000_123_456_789;
        let mut port = master(tai(t).unwrap()).unwrap();
        let (sync, context) = sent(
            port.on_timer(Timer::Sync, tai(t).unwrap()),
            MessageType::Sync,
        )
        .unwrap();
        let (follow_up, _) = sent(
            port.on_sent(context.unwrap(), tai(t + 500).unwrap()),
            MessageType::FollowUp,
        )
        .unwrap();
        assert_eq!(
            PtpMessage::parse(&follow_up.bytes)
                .unwrap()
                .header
                .sequence_id,
            sync.sequence_id
        );
        assert_eq!(precise_origin(&follow_up).unwrap(), t + 500);
        // A report for a Sync never sent cannot be made up: contexts come only from the
        // port, and each is consumed by its report.
    }
}
