//! A PTP slave's metrics: `tempora serve` and `tempora run --source ptp:IFACE --metrics`
//! in two namespaces joined by a veth pair, and the slave's endpoint scraped from a
//! thread that enters the slave's namespace. Checks that the port's reports reach the
//! exposition (state, messages by type, synchronisations, offset, delay), not how
//! accurate they are: the lab tests do that.

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};
use support::*;

/// Every sample of a text-format exposition, `name{labels}` to value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.get(9..12)?.parse().ok()?;
    Some((code, text.split_once("\r\n\r\n")?.1.to_string()))
}

#[test]
fn a_ptp_slave_exports_its_port_and_its_synchronisations() {
    let mut lab = Lab::new("mx");
    let (m_ns, s_ns) = (lab.master_ns.clone(), lab.slave_ns.clone());
    let (m_if, s_if) = (lab.master_if.clone(), lab.slave_if.clone());
    lab.spawn_tempora_master(&m_ns, &m_if, 60, &[]);
    let source = format!("ptp:{s_if}");
    // The slave's namespace is new: the port is free there.
    let mut cmd = vec![
        env!("CARGO_BIN_EXE_tempora"),
        "run",
        "--source",
        &source,
        "--duration",
        "60s",
        "--metrics",
        "127.0.0.1:9898",
        "--no-time-service",
    ];
    cmd.extend(FAST);
    lab.spawn(&s_ns, &cmd);

    let scraper = std::thread::spawn(move || {
        let ns = std::fs::File::open(format!("/run/netns/{s_ns}")).expect("the slave's netns");
        setns(ns, CloneFlags::CLONE_NEWNET).expect("enter the slave's netns");
        let addr: SocketAddr = "127.0.0.1:9898".parse().unwrap();
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < Duration::from_secs(45) {
            if let Some((200, body)) = get(addr, "/metrics") {
                let s = samples(&body);
                let synced = s.get("tempora_clock_synchronizations_total") >= Some(&3.0);
                let slave = s.get("tempora_ptp_port_state{state=\"slave\"}") == Some(&1.0);
                if synced && slave {
                    return (body, get(addr, "/healthz"));
                }
                last = body;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("no synchronised slave in the metrics within 45 s; last:\n{last}");
    });
    let (body, health) = scraper.join().unwrap();
    let s = samples(&body);
    let v = |k: &str| *s.get(k).unwrap_or_else(|| panic!("no {k} in\n{body}"));
    assert_eq!(health, Some((200, "ok\n".to_string())));
    assert!(v("tempora_ptp_messages_total{direction=\"received\",type=\"Sync\"}") >= 3.0);
    assert!(v("tempora_ptp_messages_total{direction=\"received\",type=\"Announce\"}") >= 1.0);
    assert!(v("tempora_ptp_messages_total{direction=\"sent\",type=\"Delay_Req\"}") >= 3.0);
    assert!(v("tempora_ptp_messages_total{direction=\"received\",type=\"Delay_Resp\"}") >= 3.0);
    assert_eq!(v("tempora_ptp_port_state{state=\"listening\"}"), 0.0);
    assert!(v("tempora_ptp_parent_changes_total") >= 1.0);
    assert!(v("tempora_ptp_path_delay_seconds") > 0.0);
    assert!(v("tempora_clock_offset_seconds").is_finite());
    assert!(v("tempora_clock_error_bound_seconds").is_finite());
    assert_eq!(
        v(&format!("tempora_source_active{{source=\"ptp:{s_if}\"}}")),
        1.0
    );
    assert!(v("tempora_hlc_generations_total") >= 1.0);
}
