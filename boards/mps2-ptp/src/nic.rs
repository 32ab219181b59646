//! The LAN9118 as a PTP [`Transport`]: layer-2 frames, stamped with the board's counter
//! in the receive interrupt and right after a frame has gone into the transmit FIFO.

use core::time::Duration;

use tempora_core::ptp::ethernet::{self, MAX_FRAME};
use tempora_core::ptp::port::{Packet, SendContext};
use tempora_core::ptp::transport::{Received, Timestamping, Transport};
use tempora_core::time::{Instant, Tai};
use tempora_embedded::{Shared, TickCounter};
use tempora_lan9118::{Lan9118, Mmio};

use crate::{local_at, TICKS};

/// Where QEMU's mps2-an385 maps the chip, and its interrupt line.
pub const BASE: usize = 0x4020_0000;
/// The LAN9118's interrupt on the AN385.
pub const IRQ: u16 = 13;

/// How late a software timestamp may be on this board under QEMU's TCG: the frame
/// reaches the emulated chip in QEMU's I/O thread, which then has to wake the vCPU
/// thread (halted in `wfi`, or finishing a translation block) before the interrupt
/// handler reads the counter; on a shared 2-core host that thread may wait for a CPU.
/// On silicon the figure would be the interrupt latency plus the longest section that
/// masks interrupts: microseconds.
pub const LATENCY: Duration = Duration::from_micros(500);

/// A received frame and the tick count its interrupt read.
struct Stamped {
    frame: heapless::Vec<u8, MAX_FRAME>,
    ticks: u64,
}

/// The chip, once initialised; the interrupt handler and the main loop share it.
static CHIP: Shared<Option<Lan9118<Mmio>>> = Shared::new(None);
/// Frames the interrupt handler took from the chip, oldest first.
static INBOX: Shared<heapless::Deque<Stamped, 8>> = Shared::new(heapless::Deque::new());
/// Frames dropped: the inbox was full, or they were too long or damaged.
static DROPPED: Shared<u32> = Shared::new(0);

/// Hands the chip to the interrupt handler.
pub fn install(chip: Lan9118<Mmio>) {
    CHIP.with(|c| *c = Some(chip));
}

/// Frames dropped so far.
pub fn dropped() -> u32 {
    DROPPED.with(|d| *d)
}

/// The receive interrupt: the counter first (that read is the frame's timestamp), then
/// every waiting frame into the inbox. The interrupt is acknowledged before the FIFO is
/// drained, so a frame that lands meanwhile raises it again rather than waiting.
pub fn on_interrupt() {
    let ticks = TICKS.ticks();
    CHIP.with(|chip| {
        let Some(chip) = chip else { return };
        chip.acknowledge();
        let mut frame = [0u8; MAX_FRAME];
        // At most the inbox's capacity and a few more per interrupt: bounded work.
        for _ in 0..16 {
            let len = match chip.receive(&mut frame) {
                None => break,
                Some(Ok(len)) => len,
                Some(Err(_)) => {
                    DROPPED.with(|d| *d += 1);
                    continue;
                }
            };
            let Ok(frame) = heapless::Vec::from_slice(&frame[..len]) else {
                continue;
            };
            if INBOX.with(|q| q.push_back(Stamped { frame, ticks }).is_err()) {
                DROPPED.with(|d| *d += 1);
            }
        }
    });
}

/// The board's side of the port: this chip, this MAC address.
pub struct Nic {
    address: [u8; 6],
    /// Event messages sent whose timestamps the port has not had yet.
    sent: heapless::Deque<(SendContext, Instant<Tai>), 4>,
}

impl Nic {
    /// The interface with MAC address `address` (the chip must be installed).
    pub const fn new(address: [u8; 6]) -> Self {
        Self {
            address,
            sent: heapless::Deque::new(),
        }
    }
}

/// Why a message did not go out.
#[derive(Clone, Copy, Debug)]
pub enum SendError {
    /// The chip refused it.
    Chip(
        #[allow(dead_code, reason = "read through Debug, in the error line")]
        tempora_lan9118::Error,
    ),
    /// The chip is not installed.
    NoChip,
    /// The message does not fit a frame.
    TooLong,
}

impl Transport for Nic {
    type Error = SendError;

    fn timestamping(&self) -> Timestamping {
        Timestamping::Software { latency: LATENCY }
    }

    fn send(&mut self, packet: &Packet, context: Option<SendContext>) -> Result<(), SendError> {
        let frame = ethernet::frame(self.address, packet.message_type, &packet.bytes)
            .ok_or(SendError::TooLong)?;
        CHIP.with(|chip| match chip {
            Some(chip) => chip.transmit(&frame).map_err(SendError::Chip),
            None => Err(SendError::NoChip),
        })?;
        // The chip sends the frame as its last word goes in: stamp now.
        let at = local_at(TICKS.ticks());
        if let Some(context) = context {
            // Four in flight at most: the port has at most one event message out at a
            // time per kind, and hears of each before the next poll.
            let _ = self.sent.push_back((context, at));
        }
        Ok(())
    }

    fn sent(&mut self) -> Option<(SendContext, Instant<Tai>)> {
        self.sent.pop_front()
    }

    fn receive(&mut self, buffer: &mut [u8]) -> Option<Received> {
        loop {
            let stamped = INBOX.with(|q| q.pop_front())?;
            // Not PTP (ARP, IPv6 neighbour discovery from the host): skip it.
            let Some(message) = ethernet::payload(&stamped.frame) else {
                continue;
            };
            let len = message.len().min(buffer.len());
            buffer[..len].copy_from_slice(&message[..len]);
            return Some(Received {
                len,
                at: local_at(stamped.ticks),
            });
        }
    }
}
