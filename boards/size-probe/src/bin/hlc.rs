//! The HLC alone (now, update with the max-offset guard) on the board clock, in a static
//! so its RAM shows in the image's .bss.
#![no_std]
#![no_main]

use tempora_core::{Hlc, NodeId, Tai, Timestamp};
use tempora_embedded::systick::SysTick;
use tempora_embedded::{CounterClock, Extended};
use tempora_size_probe::{keep, start, TICKS};

static HLC: Hlc<CounterClock<&Extended<SysTick>, Tai>> = Hlc::new(
    CounterClock::new(&TICKS, 100, core::time::Duration::from_secs(1)),
    NodeId(1),
);

#[cortex_m_rt::entry]
fn main() -> ! {
    start();
    loop {
        let t = HLC.now();
        let r = HLC.update(Timestamp::from_raw(t.raw() ^ 0x55, NodeId(2)));
        keep(t.logical() as u32 + r.map_or(1, |u| u.logical() as u32));
    }
}
