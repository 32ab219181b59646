//! The floor: runtime, SysTick, the 64-bit counter clock; no tempora structure.
#![no_std]
#![no_main]

use tempora_core::ClockSource;
use tempora_size_probe::{clock, keep, start};

#[cortex_m_rt::entry]
fn main() -> ! {
    start();
    let clock = clock();
    loop {
        keep(clock.read().time.as_nanos() as u32);
    }
}
