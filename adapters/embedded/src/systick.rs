//! Cortex-M SysTick as a [`WrappingCounter`].
//!
//! SysTick counts *down* from its reload value to 0 and sets `PENDSTSET` on each wrap; it
//! is presented here as an up-counter. Pair it with [`Extended`](crate::Extended) and call
//! `on_wrap` from the `SysTick` exception handler. SysTick runs on every Cortex-M, and
//! under QEMU too (where the DWT cycle counter stays at 0), which makes it the counter the
//! QEMU boards use.

use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};

use crate::extended::WrappingCounter;

/// The SysTick timer, configured for a free-running 24-bit period.
pub struct SysTick {
    frequency_hz: u32,
}

impl SysTick {
    /// Starts SysTick on the core clock with the full 24-bit period and its wrap
    /// exception enabled; `core_clock_hz` is the core clock frequency.
    pub fn start(mut syst: SYST, core_clock_hz: u32) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        Self {
            frequency_hz: core_clock_hz,
        }
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
