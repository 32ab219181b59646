//! Shared pieces of the size probes: the board timer every probe reads, and a panic
//! handler that pulls in no formatting, so the images measure tempora and little else.
#![no_std]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::SYST;
use tempora_core::Tai;
use tempora_embedded::systick::SysTick;
use tempora_embedded::{CounterClock, Extended};

/// The 64-bit SysTick every probe reads time from.
pub static TICKS: Extended<SysTick> = Extended::new(SysTick::new(12_000_000));

/// A clock on it (100 ppm crystal).
pub fn clock() -> CounterClock<&'static Extended<SysTick>, Tai> {
    CounterClock::new(&TICKS, 100, core::time::Duration::from_secs(1))
}

/// Starts the timer.
pub fn start() {
    if let Some(cp) = cortex_m::Peripherals::take() {
        let syst: SYST = cp.SYST;
        SysTick::start(syst);
    }
}

/// Somewhere for results to go, so nothing is optimised away.
pub static SINK: AtomicU32 = AtomicU32::new(0);

/// Keeps `v` alive.
pub fn keep(v: u32) {
    SINK.fetch_add(v, Ordering::Relaxed);
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        cortex_m::asm::bkpt();
    }
}

#[cortex_m_rt::exception]
fn SysTick() {
    TICKS.on_wrap();
}
