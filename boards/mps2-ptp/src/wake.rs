//! A periodic wake-up from the MPS2's first CMSDK APB timer, so the main loop can sleep
//! in `wfi` between frames and still serve the port's timers on time (to within one
//! period). SysTick keeps its full 24-bit period: a short one would lose a wrap whenever
//! the emulator's vCPU thread is held up for two periods.

/// The timer's registers and interrupt on mps2-an385.
const BASE: usize = 0x4000_0000;
/// Its interrupt line.
pub const IRQ: u16 = 8;
const CTRL: usize = 0x0;
const VALUE: usize = 0x4;
const RELOAD: usize = 0x8;
const INTCLEAR: usize = 0xC;
const CTRL_ENABLE: u32 = 1;
const CTRL_IRQ_ENABLE: u32 = 1 << 3;

fn write(offset: usize, value: u32) {
    // SAFETY: the AN385 maps CMSDK APB timer 0 at BASE (its registers are 32-bit, at
    // these aligned offsets); nothing else in this image touches it.
    unsafe { ((BASE + offset) as *mut u32).write_volatile(value) }
}

/// Starts the timer: an interrupt every `ticks` of the 25 MHz peripheral clock.
pub fn start(ticks: u32) {
    write(CTRL, 0);
    write(VALUE, ticks);
    write(RELOAD, ticks);
    write(INTCLEAR, 1);
    write(CTRL, CTRL_ENABLE | CTRL_IRQ_ENABLE);
}

/// Clears the interrupt: call from its handler.
pub fn on_interrupt() {
    write(INTCLEAR, 1);
}
