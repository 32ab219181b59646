//! Cortex-M SysTick as a [`WrappingCounter`].
//!
//! SysTick counts *down* from its reload value to 0 and sets `PENDSTSET` on each wrap; it
//! is presented here as an up-counter. Pair it with [`Extended`](crate::Extended) and call
//! `on_wrap` from the `SysTick` exception handler. SysTick runs on every Cortex-M, and
//! under QEMU too (where the DWT cycle counter stays at 0), which makes it the counter the
//! QEMU boards use.

use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};

use crate::extended::WrappingCounter;

/// The SysTick timer, free-running over its full 24-bit period on the core clock.
///
/// `const`, so it can sit in a `static` [`Extended`](crate::Extended) that the `SysTick`
/// exception handler reaches:
///
/// ```ignore
/// static TICKS: Extended<SysTick> = Extended::new(SysTick::new(12_000_000));
/// #[exception]
/// fn SysTick() { TICKS.on_wrap(); }
/// // in main: SysTick::start(cortex_m::Peripherals::take().unwrap().SYST);
/// ```
pub struct SysTick {
    frequency_hz: u32,
}

impl SysTick {
    /// SysTick on a core clock of `core_clock_hz`.
    pub const fn new(core_clock_hz: u32) -> Self {
        Self {
            frequency_hz: core_clock_hz,
        }
    }

    /// Starts the timer: core clock, full 24-bit period, wrap exception enabled. Taking
    /// `SYST` by value makes this happen once.
    pub fn start(mut syst: SYST) {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
    }
}

impl WrappingCounter for SysTick {
    fn period(&self) -> u32 {
        SYST::get_reload() + 1
    }

    fn count(&self) -> u32 {
        SYST::get_reload() - SYST::get_current()
    }

    fn wrap_pending(&self) -> bool {
        SCB::is_pendst_pending()
    }

    fn frequency_hz(&self) -> u32 {
        self.frequency_hz
    }
}
