//! The PTP state machine, not only the bytes: a master port and a slave port exchange
//! real messages over a link the fuzzer controls (delays, drops, restarts, timer
//! expiries), while a rogue injects arbitrary messages from another identity whose
//! timestamps are a day off. It must hold that
//! - nothing panics, whatever the order of events;
//! - every measurement's standard deviation is finite and not negative, and its bound
//!   (`Measurement::sample`) is a real duration, accepted by the core discipline;
//! - while the slave follows the real master, no measurement uses a rogue's timestamp
//!   (a spoofed Follow_Up, Sync or Delay_Resp would put its raw offset a day off).
#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::fuzz_target;
use tempora_core::clock::ManualClock;
use tempora_core::discipline::{Discipline, DisciplineConfig};
use tempora_core::ptp::port::{Action, Port, PortConfig, PortState, Timer};
use tempora_core::ptp::wire::ClockIdentity;
use tempora_core::time::{Instant, Tai};

const MASTER: ClockIdentity = ClockIdentity([1; 8]);
const ROGUE: ClockIdentity = ClockIdentity([0xee; 8]);
const DAY_NS: u64 = 86_400_000_000_000;
const EPOCH: u64 = 1_700_000_000_000_000_000;

/// A message on the link: when it arrives (true ns), to which port, its bytes, whether
/// it is an event message.
struct InFlight {
    at: u64,
    to: usize,
    bytes: Vec<u8>,
    event: bool,
}

struct Link {
    ports: [Port<4, 16>; 2],
    /// Slave local time = true + `slave_offset` (ns).
    slave_offset: u64,
    timers: [[Option<Instant<Tai>>; 4]; 2],
    wire: VecDeque<InFlight>,
    now: u64,
    delay: u64,
    parent: Option<ClockIdentity>,
}

impl Link {
    fn local(&self, node: usize, t: u64) -> Instant<Tai> {
        Instant::from_nanos(EPOCH + t + if node == 1 { self.slave_offset } else { 0 })
    }

    fn apply(&mut self, node: usize, actions: impl IntoIterator<Item = Action>, d: &Disc) {
        let mut work: VecDeque<Action> = actions.into_iter().collect();
        let mut guard = 0;
        while let Some(a) = work.pop_front() {
            guard += 1;
            assert!(guard < 64, "one call led to an endless chain of actions");
            match a {
                Action::Send { packet, context } => {
                    let event = packet.message_type.is_event();
                    self.wire.push_back(InFlight {
                        at: self.now + self.delay,
                        to: 1 - node,
                        bytes: packet.bytes.to_vec(),
                        event,
                    });
                    if let Some(c) = context {
                        let sent = self.local(node, self.now);
                        work.extend(self.ports[node].on_sent(c, sent));
                    }
                }
                Action::SetTimer { timer, at } => self.timers[node][timer as usize] = Some(at),
                Action::CancelTimer(timer) => self.timers[node][timer as usize] = None,
                Action::State(PortState::Slave(p)) if node == 1 => self.parent = Some(p.clock),
                Action::State(_) if node == 1 => self.parent = None,
                Action::State(_) => {}
                Action::Measure(m) if node == 1 => {
                    assert!(
                        m.sigma_ns.is_finite() && m.sigma_ns >= 0.0,
                        "sigma {}",
                        m.sigma_ns
                    );
                    let sample = m.sample();
                    assert!(sample.bound >= m.delay.abs());
                    d.update(sample).expect("a port's sample is a valid discipline input");
                    if self.parent == Some(MASTER) {
                        // Real offsets are the slave's offset (under 1 ms) plus path
                        // delays (under 1 s here); a rogue timestamp is a day off.
                        assert!(
                            m.raw_offset.as_nanos().unsigned_abs() < DAY_NS / 2,
                            "the slave measured with a rogue timestamp: raw offset {}",
                            m.raw_offset
                        );
                    }
                }
                Action::Measure(_) | Action::Event(_) => {}
            }
        }
    }

    /// Delivers what has arrived and fires what is due, up to true time `until`.
    fn run_until(&mut self, until: u64, d: &Disc) {
        let mut guard = 0;
        loop {
            guard += 1;
            if guard > 10_000 {
                return;
            }
            let next_packet = self.wire.iter().map(|p| p.at).min();
            let mut next_timer: Option<(u64, usize, Timer)> = None;
            for node in 0..2 {
                for timer in [Timer::Announce, Timer::Sync, Timer::DelayReq, Timer::AnnounceReceipt] {
                    if let Some(at) = self.timers[node][timer as usize] {
                        let base = EPOCH + if node == 1 { self.slave_offset } else { 0 };
                        let t = at.as_nanos().saturating_sub(base).max(self.now);
                        if next_timer.is_none_or(|(n, _, _)| t < n) {
                            next_timer = Some((t, node, timer));
                        }
                    }
                }
            }
            match (next_packet, next_timer) {
                (Some(p), t) if p <= until && t.is_none_or(|(t, _, _)| p <= t) => {
                    let i = self.wire.iter().position(|m| m.at == p).expect("present");
                    let m = self.wire.remove(i).expect("present");
                    self.now = p;
                    let local = self.local(m.to, p);
                    if let Ok(a) = self.ports[m.to].on_receive(&m.bytes, m.event.then_some(local), local) {
                        self.apply(m.to, a, d);
                    }
                }
                (_, Some((t, node, timer))) if t <= until => {
                    self.now = t;
                    self.timers[node][timer as usize] = None;
                    let a = self.ports[node].on_timer(timer, self.local(node, t));
                    self.apply(node, a, d);
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
    }
}

type Disc = Discipline<ManualClock<Tai>>;

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next();
    let config = |id: u8, p1: u8, slave_only: bool| {
        PortConfig::ordinary(ClockIdentity([id; 8]), p1, slave_only).with_intervals(-3, -3, -3, 2)
    };
    let discipline: Disc = Discipline::new(ManualClock::new(EPOCH), DisciplineConfig::DEFAULT);
    let mut link = Link {
        ports: [Port::new(config(1, 10, false)), Port::new(config(2, 128, true))],
        slave_offset: u64::from(next().unwrap_or(0)) * 3_900,
        timers: [[None; 4]; 2],
        wire: VecDeque::new(),
        now: 0,
        delay: 2_000 + u64::from(next().unwrap_or(0)) * 1_000,
        parent: None,
    };
    for node in 0..2 {
        let a = link.ports[node].start(link.local(node, 0));
        link.apply(node, a, &discipline);
    }
    for _ in 0..400 {
        let Some(op) = next() else { break };
        match op % 6 {
            // Let time pass: up to ~1 s.
            0 | 1 => {
                let step = u64::from(next().unwrap_or(1)) * 4_000_000;
                link.run_until(link.now + step, &discipline);
            }
            // The link loses the next message.
            2 => {
                link.wire.pop_front();
            }
            // The path delay changes (jitter, reordering).
            3 => link.delay = 1_000 + u64::from(next().unwrap_or(0)) * 7_000,
            // A rogue message: any bytes, from another identity, timestamps a day off.
            4 => {
                let len = usize::from(next().unwrap_or(44)).max(44);
                let mut m: Vec<u8> = (0..len).map(|_| next().unwrap_or(0)).collect();
                m[0] = (m[0] & 0x0f) | 0x00; // any message type, majorSdoId 0
                m[1] = 2; // version 2
                m[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                m[4] = 0; // domain 0
                m[20..28].copy_from_slice(&ROGUE.0);
                let far = (EPOCH + DAY_NS) / 1_000_000_000;
                m[34..40].copy_from_slice(&far.to_be_bytes()[2..8]);
                // An Announce from the rogue must lose the BMCA: priority1 255.
                if m[0] & 0x0f == 0xb && len > 47 {
                    m[47] = 255;
                }
                let to = usize::from(next().unwrap_or(0) & 1);
                link.wire.push_back(InFlight {
                    at: link.now + link.delay,
                    to,
                    bytes: m,
                    event: true,
                });
            }
            // A port restarts.
            _ => {
                let node = usize::from(next().unwrap_or(0) & 1);
                let a = link.ports[node].start(link.local(node, link.now));
                link.apply(node, a, &discipline);
            }
        }
    }
    discipline.local().set(link.local(1, link.now).as_nanos());
    let r = tempora_core::clock::ClockSource::read(&discipline);
    let _ = r.interval();
});
