//! Runs inside the hardware-timestamping guest (`tests/hwts`): sends PTP Sync frames on
//! an interface with hardware timestamps and checks that each send timestamp comes from
//! the NIC's PHC: it must lie between PHC readings taken just before and just after the
//! send. The guest first moves the PHC 5 s away from the system clock, so a software
//! timestamp (on `CLOCK_REALTIME`) could not pass.
//!
//! Prints one line per frame and a summary `probe ok: ...`; exits non-zero on any failure.

use std::process::ExitCode;
use std::time::Duration;

use tempora_core::ptp::wire::{
    Body, ClockIdentity, Flags, Header, MessageType, PortIdentity, PtpMessage, WireTimestamp,
};
use tempora_std::phc::PhcClock;
use tempora_std::ptp_l2::L2Transport;
use tempora_std::ptp_transport::PtpTransport;
use tempora_std::timestamping::{choose, TimestampMode, Timestamps};

const FRAMES: u16 = 8;

fn sync(sequence_id: u16) -> Vec<u8> {
    let msg = PtpMessage {
        header: Header {
            sdo_id: 0,
            message_type: MessageType::Sync,
            minor_version: 1,
            domain: 0,
            flags: Flags(0),
            correction: 0,
            source_port: PortIdentity {
                clock: ClockIdentity([0x52, 0x54, 0, 0xff, 0xfe, 0x12, 0, 1]),
                port: 1,
            },
            sequence_id,
            log_interval: -3,
        },
        body: Body::Sync {
            origin: WireTimestamp {
                seconds: 0,
                nanos: 0,
            },
        },
    };
    let mut buf = [0u8; 64];
    let n = msg.emit(&mut buf).expect("a Sync fits 64 bytes");
    buf[..n].to_vec()
}

fn probe(iface: &str) -> Result<String, String> {
    let ts = choose(iface, TimestampMode::Hardware, true).map_err(|e| e.to_string())?;
    let Timestamps::Hardware { phc } = ts else {
        return Err(format!("{iface}: no hardware timestamps"));
    };
    let clock = PhcClock::open(phc).map_err(|e| e.to_string())?;
    let transport = L2Transport::open_with(iface, ts).map_err(|e| e.to_string())?;
    let mut phc_minus_realtime = 0i128;
    for seq in 0..FRAMES {
        let bytes = sync(seq);
        let realtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let before = clock.now_ns().map_err(|e| e.to_string())?;
        transport
            .send(MessageType::Sync, &bytes)
            .map_err(|e| e.to_string())?;
        let sent = transport
            .send_timestamp(&bytes, Duration::from_millis(500))
            .map_err(|e| e.to_string())?
            .ok_or(format!("frame {seq}: no send timestamp"))?;
        let after = clock.now_ns().map_err(|e| e.to_string())?;
        phc_minus_realtime = before - realtime;
        println!(
            "probe seq={seq} phc_before={before} sent={sent} phc_after={after} after-sent={}ns",
            after - sent
        );
        if !(before..=after).contains(&sent) {
            return Err(format!(
                "frame {seq}: send timestamp {sent} not between PHC readings {before} and {after}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(format!(
        "probe ok: {FRAMES} of {FRAMES} send timestamps on /dev/ptp{phc}, each between the PHC readings around its send; PHC - CLOCK_REALTIME = {phc_minus_realtime} ns"
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
