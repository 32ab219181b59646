//! The HLC plus a causal-delivery queue of capacity 32 for 8 nodes (shared through
//! critical-section), with the vector clock wire codec; both in statics so their RAM
//! shows in the image's .bss.
#![no_std]
#![no_main]

use tempora_core::causal::{CausalMessage, CausalQueue, VectorClock};
use tempora_core::{Hlc, NodeId, Tai};
use tempora_embedded::systick::SysTick;
use tempora_embedded::{CounterClock, Extended, Shared};
use tempora_size_probe::{keep, start, TICKS};

static HLC: Hlc<CounterClock<&Extended<SysTick>, Tai>> = Hlc::new(
    CounterClock::new(&TICKS, 100, core::time::Duration::from_secs(1)),
    NodeId(1),
);
static QUEUE: Shared<CausalQueue<u32, 8, 32>> = Shared::new(CausalQueue::new(NodeId(1)));

#[cortex_m_rt::entry]
fn main() -> ! {
    start();
    let mut wire = [0u8; 2 + 12 * 8];
    loop {
        let t = HLC.now();
        let mut clock = VectorClock::<8>::new();
        let _ = clock.set(NodeId(2), u64::from(t.logical()) + 1);
        let n = clock.encode(&mut wire).unwrap_or(0);
        if let Ok(clock) = VectorClock::<8>::decode(&wire[..n]) {
            let m = CausalMessage::new(NodeId(2), clock, t.logical() as u32);
            QUEUE.with(|q| {
                let _ = q.receive(m, |d| keep(d.payload));
                keep(q.stats().held as u32);
            });
        }
    }
}
