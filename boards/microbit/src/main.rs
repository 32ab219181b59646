//! Cortex-M0 (thumbv6m, no CAS atomics) on QEMU's microbit: boots, runs tempora's behaviour suite, exits through semihosting.
#![no_std]
#![no_main]

use cortex_m_rt::{entry, exception};
use tempora_embedded::systick::SysTick;
use tempora_embedded::Extended;

static TICKS: Extended<SysTick> = Extended::new(SysTick::new(16_000_000));

#[entry]
fn main() -> ! {
    tempora_board_suite::firmware::main("microbit", &TICKS)
}

#[exception]
fn SysTick() {
    TICKS.on_wrap();
}
