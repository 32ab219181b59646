//! A PTP slave port (codec, BMCA, filter, state machine) + the HLC + a causal-delivery
//! queue (capacity 32, 8 nodes), all in statics: the reference image.
#![no_std]
#![no_main]

use tempora_core::causal::{CausalMessage, CausalQueue, VectorClock};
use tempora_core::clock::ClockSource;
use tempora_core::ptp::bmca::{ClockQuality, DefaultDataset};
use tempora_core::ptp::port::{Action, Port, PortConfig, Timer};
use tempora_core::ptp::wire::{ClockIdentity, PortIdentity};
use tempora_core::{Hlc, NodeId, Tai};
use tempora_embedded::systick::SysTick;
use tempora_embedded::{CounterClock, Extended, Shared};
use tempora_size_probe::{keep, start, TICKS};

const ME: PortIdentity = PortIdentity {
    clock: ClockIdentity([2; 8]),
    port: 1,
};
const CONFIG: PortConfig = PortConfig::default_profile(
    ME,
    DefaultDataset {
        identity: ME.clock,
        priority1: 255,
        quality: ClockQuality {
            class: 255,
            accuracy: 0xfe,
            variance: 0xffff,
        },
        priority2: 255,
        slave_only: true,
    },
);

static HLC: Hlc<CounterClock<&Extended<SysTick>, Tai>> = Hlc::new(
    CounterClock::new(&TICKS, 100, core::time::Duration::from_secs(1)),
    NodeId(1),
);
static QUEUE: Shared<CausalQueue<u32, 8, 32>> = Shared::new(CausalQueue::new(NodeId(1)));
/// The default profile sends one Sync a second, so a 32-exchange delay floor already
/// looks back 32 s (the default 64 is sized for 8 per second).
static PORT: Shared<Port<2, 32>> = Shared::new(Port::new(CONFIG));

/// A receive buffer as a NIC driver would fill it; its contents are unknown to the
/// compiler, so no parsing path can be folded away.
static RX: Shared<[u8; 96]> = Shared::new([0; 96]);

#[cortex_m_rt::entry]
fn main() -> ! {
    start();
    // The port runs on the board's counter (free-running local time) and disciplines
    // the counter clock the HLC reads: one clock reading flows counter -> port ->
    // discipline -> HLC.
    let clock = HLC.clock();
    let local = || clock.discipline().local().time();
    PORT.with(|p| {
        for a in p.start(local()) {
            keep(matches!(a, Action::SetTimer { .. }) as u32);
        }
    });
    loop {
        let t = local();
        PORT.with(|p| {
            let packet = RX.with(|b| *b);
            if let Ok(actions) = p.on_receive(&packet, Some(t), t) {
                for a in actions {
                    if let Action::Measure(m) = a {
                        keep(clock.discipline().update(m.sample()).is_ok() as u32);
                    }
                }
            }
            for a in p.on_timer(Timer::DelayReq, t) {
                keep(matches!(a, Action::Send { .. }) as u32);
            }
        });
        let r = clock.read();
        keep(r.interval().latest.as_nanos() as u32 ^ r.status as u32);
        let mut clock = VectorClock::<8>::new();
        let _ = clock.set(NodeId(2), u64::from(HLC.now().logical()) + 1);
        let m = CausalMessage::new(NodeId(2), clock, 0);
        QUEUE.with(|q| {
            let _ = q.receive(m, |d| keep(d.payload));
        });
    }
}
