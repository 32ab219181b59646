//! Cortex-M3 (thumbv7m) on QEMU's lm3s6965evb: boots, runs tempora's behaviour suite, exits through semihosting.
#![no_std]
#![no_main]

use cortex_m_rt::{entry, exception};
use tempora_embedded::systick::SysTick;
use tempora_embedded::Extended;

static TICKS: Extended<SysTick> = Extended::new(SysTick::new(12_000_000));

#[entry]
fn main() -> ! {
    tempora_board_suite::firmware::main("lm3s6965", &TICKS)
}

#[exception]
fn SysTick() {
    TICKS.on_wrap();
}
