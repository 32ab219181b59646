//! tempora's PTP port on the wire, in firmware: QEMU's mps2-an385 (Cortex-M3) with its
//! LAN9118 Ethernet controller, PTP over layer 2 (IEEE 1588 annex F).
//!
//! As a slave (`slave` argument, the default) it disciplines the board's SysTick counter
//! through the core's clock discipline, stamps HLC timestamps from that clock, and
//! reports each second through semihosting:
//!
//! ```text
//! report local=<counter ns> time=<TAI ns> bound=<ns> status=<...> hlc=<ns>.<logical> ...
//! ```
//!
//! where `time` is what the disciplined clock reads at counter time `local` (the same
//! counter read), so a test can compare it with the master's clock at that instant. Each
//! completed exchange prints a `measure` line. As a master (`master`) it serves its own
//! counter as the time. A second argument is how many seconds to run; then it exits
//! with code 0 through semihosting. `tests/fwptp/run.sh` runs it against ptp4l.
//!
//! The PTP port runs on the counter (free-running local time); the discipline corrects
//! it; the HLC reads the corrected clock: one reading flows counter -> port ->
//! discipline -> HLC, as in the size probe, but with frames from a real network.
#![no_std]
#![no_main]

mod nic;
mod wake;

use core::time::Duration;

use cortex_m::peripheral::NVIC;
use cortex_m_rt::{entry, exception};
use semihosting::println;
use tempora_core::discipline::OffsetSample;
use tempora_core::ptp::link::{Event, Link};
use tempora_core::ptp::port::{Port, PortConfig};
use tempora_core::ptp::wire::ClockIdentity;
use tempora_core::time::{Instant, Offset, Tai};
use tempora_core::{Hlc, NodeId};
use tempora_embedded::systick::SysTick;
use tempora_embedded::{CounterClock, Extended, TickCounter};
use tempora_lan9118::{Lan9118, Mmio};

/// The AN385's core (and SysTick) clock.
const CORE_HZ: u32 = 25_000_000;
/// The board's counter: SysTick, extended to 64 bits by its wrap interrupt.
pub static TICKS: Extended<SysTick> = Extended::new(SysTick::new(CORE_HZ));
/// The HLC, on the counter clock the port disciplines (100 ppm crystal; four Syncs'
/// worth of freshness at one a second).
static HLC: Hlc<CounterClock<&Extended<SysTick>, Tai>> = Hlc::new(
    CounterClock::new(&TICKS, 100, Duration::from_secs(4)),
    NodeId(1),
);

/// A locally administered MAC address ("temp", 1).
const MAC: [u8; 6] = [0x02, 0x74, 0x65, 0x6D, 0x70, 0x01];
/// The clock identity: the MAC address as an EUI-64.
const IDENTITY: ClockIdentity = ClockIdentity([0x02, 0x74, 0x65, 0xFF, 0xFE, 0x6D, 0x70, 0x01]);
/// The main loop's wake-up period: 10 ms of the 25 MHz peripheral clock.
const WAKE_TICKS: u32 = CORE_HZ / 100;

/// The port's local time at tick count `ticks`: the free-running counter.
pub fn local_at(ticks: u64) -> Instant<Tai> {
    HLC.clock().discipline().local().at(ticks)
}

fn local() -> Instant<Tai> {
    local_at(TICKS.ticks())
}

/// Slave: one Announce a second (three missed make a timeout), Delay_Reqs every
/// 250 ms. Master: the same, and four Syncs a second. `Port<2, 32>`: two foreign
/// masters, a 32-exchange delay floor (8 s at four Syncs a second).
fn config(master: bool) -> PortConfig {
    let (priority1, slave_only) = if master { (10, false) } else { (255, true) };
    PortConfig::ordinary(IDENTITY, priority1, slave_only).with_intervals(0, -2, -2, 3)
}

/// What puts the master's time on TAI: TAI - UTC for a master that announces an
/// arbitrary timescale (linuxptp serving `CLOCK_REALTIME` sends UTC), else 0.
fn master_to_tai<const F: usize, const W: usize>(port: &Port<F, W>) -> Offset {
    match port.master_ptp_timescale() {
        Some(false) => Offset::from(port.config().utc_offset),
        _ => Offset::ZERO,
    }
}

struct Args {
    master: bool,
    seconds: u64,
}

/// `[program] [slave|master] [seconds]` from the semihosting command line.
fn args() -> Args {
    let mut out = Args {
        master: false,
        seconds: 60,
    };
    if let Ok(args) = semihosting::experimental::env::args::<128>() {
        for arg in (&args).skip(1).flatten() {
            match arg {
                "master" => out.master = true,
                "slave" => out.master = false,
                n => out.seconds = n.parse().unwrap_or(out.seconds),
            }
        }
    }
    out
}

#[entry]
fn main() -> ! {
    let args = args();
    if let Some(cp) = cortex_m::Peripherals::take() {
        SysTick::start(cp.SYST);
    }
    // SAFETY: the AN385 maps its LAN9118 at nic::BASE, and only `nic` touches it.
    let chip = match Lan9118::init(unsafe { Mmio::new(nic::BASE) }, MAC) {
        Ok(chip) => chip,
        Err(e) => {
            println!("error: the LAN9118 did not come up: {e:?}");
            semihosting::process::exit(2)
        }
    };
    nic::install(chip);
    wake::start(WAKE_TICKS);
    // SAFETY: both handlers (in DefaultHandler) only take their device's lock-protected
    // state; unmasking cannot break a critical section (none is held here).
    unsafe {
        NVIC::unmask(Irq(nic::IRQ));
        NVIC::unmask(Irq(wake::IRQ));
    }
    let role = if args.master { "master" } else { "slave" };
    println!("start role={role} seconds={} hz={CORE_HZ}", args.seconds);

    // In statics (through `singleton!`, which hands out the one `&'static mut`), so
    // their RAM shows in the image's .bss rather than on the stack.
    let Some(link) = cortex_m::singleton!(: Link<2, 32> = Link::new(config(args.master))) else {
        semihosting::process::exit(3)
    };
    let Some(nic) = cortex_m::singleton!(: nic::Nic = nic::Nic::new(MAC)) else {
        semihosting::process::exit(3)
    };
    let mut ignored = 0u32;
    let discipline = HLC.clock().discipline();
    let start = local();
    link.start(nic, start, |e| {
        if let Event::State(s) = e {
            println!("state {s}");
        }
    });
    let end = start.saturating_add(Duration::from_secs(args.seconds));
    let mut next_report = start.saturating_add(Duration::from_secs(1));
    loop {
        let now = local();
        let to_tai = master_to_tai(link.port());
        link.poll(nic, now, |e| match e {
            Event::State(s) => println!("state {s}"),
            Event::Measured {
                measurement: m,
                sample,
            } => {
                // The discipline's clock is on TAI: move a UTC master's offset there.
                let sample = OffsetSample {
                    offset: sample.offset.saturating_sub(to_tai),
                    ..sample
                };
                let taken = discipline.update(sample).is_ok();
                println!(
                    "measure at={} offset={} bound={} raw={} delay={} sigma={} locked={} accepted={} taken={taken}",
                    sample.at.as_nanos(),
                    sample.offset.as_nanos(),
                    sample.bound.as_nanos(),
                    m.raw_offset.as_nanos(),
                    m.delay.as_nanos(),
                    m.sigma_ns as i64,
                    m.locked,
                    m.accepted,
                );
            }
            Event::Port(_) => {}
            Event::Ignored(_) => ignored += 1,
            Event::SendFailed(e) => println!("error: send failed: {e:?}"),
        });
        if now >= next_report {
            report(link.port(), to_tai, ignored);
            next_report = next_report.saturating_add(Duration::from_secs(1));
        }
        if now >= end {
            println!("done");
            semihosting::process::exit(0);
        }
        cortex_m::asm::wfi();
    }
}

/// One status line: the disciplined clock read at one counter instant, and an HLC
/// timestamp from it.
fn report<const F: usize, const W: usize>(port: &Port<F, W>, to_tai: Offset, ignored: u32) {
    let discipline = HLC.clock().discipline();
    let drift_ppb = discipline.config().drift_ppb;
    let fresh_for = discipline.config().fresh_for;
    let l = local();
    let (time, bound, status) = match discipline.estimate() {
        Some(e) => (
            l.saturating_add_offset(e.offset_at(l).saturating_neg()),
            e.bound_at(l, drift_ppb).as_nanos(),
            e.status_at(l, fresh_for).as_str(),
        ),
        None => (l, u128::MAX, "unknown"),
    };
    let hlc = HLC.now();
    println!(
        "report local={} time={} bound={bound} status={status} hlc={}.{} state={} locked={} master_to_tai={} ignored={ignored} dropped={}",
        l.as_nanos(),
        time.as_nanos(),
        hlc.physical().as_nanos(),
        hlc.logical(),
        port.state(),
        port.locked(),
        to_tai.as_nanos(),
        nic::dropped(),
    );
}

/// An interrupt line number, for the NVIC.
#[derive(Clone, Copy)]
struct Irq(u16);

// SAFETY: the numbers are the AN385's interrupt lines (13: LAN9118, 8: timer 0).
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

#[exception]
fn SysTick() {
    TICKS.on_wrap();
}

/// Without a device crate, cortex-m-rt routes every device interrupt here.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    match irqn {
        13 => nic::on_interrupt(),
        8 => wake::on_interrupt(),
        _ => {}
    }
}
