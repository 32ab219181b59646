//! A small driver for the SMSC LAN9118 (and the register-compatible LAN9220 on Arm's MPS2
//! boards, which QEMU's `mps2-an385`/`mps2-an386` emulate at 0x4020_0000): whole
//! Ethernet frames in and out through the chip's FIFOs, and an interrupt when a frame
//! has arrived. No crate on crates.io drives this chip, hence this one; it does what a
//! PTP firmware needs and no more (no PHY management, no checksum offload, no DMA).
//!
//! The chip is reached through [`Registers`], so the host tests run the driver against
//! a model of the FIFOs; on the board, [`Mmio`] reads and writes the real registers.
//!
//! It has no timestamping unit: a PTP firmware stamps frames with the board's counter
//! in the receive interrupt, and just after [`Lan9118::transmit`] returns.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

/// Register offsets (32-bit registers, datasheet section 5).
pub mod reg {
    /// Receive data FIFO (read).
    pub const RX_DATA: u8 = 0x00;
    /// Transmit data FIFO (write): command A, command B, then the frame's words.
    pub const TX_DATA: u8 = 0x20;
    /// Receive status FIFO (read pops one status word).
    pub const RX_STATUS: u8 = 0x40;
    /// Transmit status FIFO (read pops one status word).
    pub const TX_STATUS: u8 = 0x48;
    /// Interrupt pin configuration.
    pub const IRQ_CFG: u8 = 0x54;
    /// Interrupt status (write 1 to clear).
    pub const INT_STS: u8 = 0x58;
    /// Interrupt enable.
    pub const INT_EN: u8 = 0x5C;
    /// Reads 0x8765_4321 once the chip is up and its bus works.
    pub const BYTE_TEST: u8 = 0x64;
    /// FIFO levels that raise interrupts.
    pub const FIFO_INT: u8 = 0x68;
    /// Receive configuration.
    pub const RX_CFG: u8 = 0x6C;
    /// Transmit configuration.
    pub const TX_CFG: u8 = 0x70;
    /// Hardware configuration (soft reset).
    pub const HW_CFG: u8 = 0x74;
    /// Receive FIFO information: status words used (bits 23:16).
    pub const RX_FIFO_INF: u8 = 0x7C;
    /// Transmit FIFO information: status words used (23:16), data bytes free (15:0).
    pub const TX_FIFO_INF: u8 = 0x80;
    /// Power management (bit 0: the chip is ready).
    pub const PMT_CTRL: u8 = 0x84;
    /// MAC control register access: command.
    pub const MAC_CSR_CMD: u8 = 0xA4;
    /// MAC control register access: data.
    pub const MAC_CSR_DATA: u8 = 0xA8;
}

/// MAC control registers, reached through [`reg::MAC_CSR_CMD`].
pub mod mac {
    /// MAC control.
    pub const CR: u8 = 1;
    /// Address, bytes 4 and 5.
    pub const ADDRH: u8 = 2;
    /// Address, bytes 0 to 3.
    pub const ADDRL: u8 = 3;
    /// Receive enable.
    pub const CR_RXEN: u32 = 1 << 2;
    /// Transmit enable.
    pub const CR_TXEN: u32 = 1 << 3;
    /// Full duplex.
    pub const CR_FDPX: u32 = 1 << 20;
    /// Pass all multicast frames (PTP's 01-1B-19-00-00-00 and 01-80-C2-00-00-0E).
    pub const CR_MCPAS: u32 = 1 << 19;
}

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1;
const PMT_READY: u32 = 1;
const MAC_CSR_BUSY: u32 = 1 << 31;
const MAC_CSR_READ: u32 = 1 << 30;
const TX_CFG_TX_ON: u32 = 1 << 1;
/// Receive status FIFO level: raised while more status words wait than FIFO_INT's level.
const INT_RSFL: u32 = 1 << 3;
/// IRQ pin enabled, active high, push-pull.
const IRQ_CFG_ENABLED_HIGH: u32 = (1 << 8) | (1 << 4) | 1;
const TX_FIRST_SEGMENT: u32 = 1 << 13;
const TX_LAST_SEGMENT: u32 = 1 << 12;
const RX_STATUS_ERROR: u32 = 1 << 15;
/// The frame check sequence the chip leaves at the end of every received frame.
const FCS_LEN: usize = 4;
/// Polls of a busy bit before giving up: the chip answers within microseconds.
const MAX_POLLS: u32 = 100_000;

/// The longest frame this driver sends or takes (no jumbo frames), without the FCS.
pub const MAX_FRAME: usize = 1514;

/// Access to the chip's 32-bit registers.
pub trait Registers {
    /// Reads the register at byte offset `offset` (which may pop a FIFO).
    fn read(&mut self, offset: u8) -> u32;
    /// Writes the register at byte offset `offset` (which may push a FIFO).
    fn write(&mut self, offset: u8, value: u32);
}

/// The chip's registers, memory-mapped.
#[derive(Debug)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// The registers at `base` (0x4020_0000 on the MPS2 boards).
    ///
    /// # Safety
    /// A LAN9118-compatible chip must be mapped at `base` (256 bytes of registers), and
    /// nothing else may access it while this value lives.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }
}

impl Registers for Mmio {
    fn read(&mut self, offset: u8) -> u32 {
        let at = (self.base + usize::from(offset)) as *const u32;
        // SAFETY: `new`'s caller promised the chip's 256 bytes of registers at `base`,
        // and `offset` is a u8, so `at` lies inside them and is 4-byte aligned for the
        // offsets in `reg`.
        unsafe { at.read_volatile() }
    }

    fn write(&mut self, offset: u8, value: u32) {
        let at = (self.base + usize::from(offset)) as *mut u32;
        // SAFETY: as in `read`; and no one else accesses the chip (`new`'s contract).
        unsafe { at.write_volatile(value) }
    }
}

/// Why the chip could not be brought up or a frame not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// BYTE_TEST did not read 0x8765_4321: no chip there, or the bus is misconfigured.
    NotFound,
    /// A busy bit never cleared (reset, ready, or a MAC register access).
    Timeout,
    /// The frame is empty or longer than [`MAX_FRAME`].
    FrameLength,
    /// The transmit FIFO has no room for the frame now.
    TxFull,
}

/// The driver.
#[derive(Debug)]
pub struct Lan9118<R> {
    regs: R,
    tag: u16,
}

impl<R: Registers> Lan9118<R> {
    /// Resets the chip, sets its MAC address, enables transmit and receive (the frames
    /// to `mac`, broadcast, and every multicast), and raises its interrupt (active high)
    /// whenever a received frame waits.
    pub fn init(mut regs: R, address: [u8; 6]) -> Result<Self, Error> {
        if regs.read(reg::BYTE_TEST) != BYTE_TEST_VALUE {
            return Err(Error::NotFound);
        }
        regs.write(reg::HW_CFG, HW_CFG_SRST);
        wait(&mut regs, reg::HW_CFG, HW_CFG_SRST, 0)?;
        wait(&mut regs, reg::PMT_CTRL, PMT_READY, PMT_READY)?;
        let mut chip = Self { regs, tag: 0 };
        let [a0, a1, a2, a3, a4, a5] = address;
        chip.mac_write(mac::ADDRL, u32::from_le_bytes([a0, a1, a2, a3]))?;
        chip.mac_write(mac::ADDRH, u32::from_le_bytes([a4, a5, 0, 0]))?;
        let cr = mac::CR_TXEN | mac::CR_RXEN | mac::CR_FDPX | mac::CR_MCPAS;
        chip.mac_write(mac::CR, cr)?;
        chip.regs.write(reg::RX_CFG, 0); // no offset, no end padding
        chip.regs.write(reg::TX_CFG, TX_CFG_TX_ON);
        // Interrupt as soon as one status word waits (level 0), none for transmit.
        chip.regs.write(reg::FIFO_INT, 0x4800_0000);
        chip.regs.write(reg::INT_STS, u32::MAX);
        chip.regs.write(reg::INT_EN, INT_RSFL);
        chip.regs.write(reg::IRQ_CFG, IRQ_CFG_ENABLED_HIGH);
        Ok(chip)
    }

    /// The registers (for tests and diagnostics).
    pub fn registers(&mut self) -> &mut R {
        &mut self.regs
    }

    /// Reads a MAC control register.
    pub fn mac_read(&mut self, register: u8) -> Result<u32, Error> {
        let cmd = MAC_CSR_BUSY | MAC_CSR_READ | u32::from(register);
        self.regs.write(reg::MAC_CSR_CMD, cmd);
        wait(&mut self.regs, reg::MAC_CSR_CMD, MAC_CSR_BUSY, 0)?;
        Ok(self.regs.read(reg::MAC_CSR_DATA))
    }

    fn mac_write(&mut self, register: u8, value: u32) -> Result<(), Error> {
        self.regs.write(reg::MAC_CSR_DATA, value);
        self.regs
            .write(reg::MAC_CSR_CMD, MAC_CSR_BUSY | u32::from(register));
        wait(&mut self.regs, reg::MAC_CSR_CMD, MAC_CSR_BUSY, 0)
    }

    /// Clears the receive interrupt: call from the handler once the waiting frames
    /// have been read (a frame that arrives meanwhile raises it again).
    pub fn acknowledge(&mut self) {
        self.regs.write(reg::INT_STS, INT_RSFL);
    }

    /// Queues `frame` (destination, source, type, payload; no FCS: the chip adds it)
    /// for sending. It leaves once its last word is in the FIFO.
    pub fn transmit(&mut self, frame: &[u8]) -> Result<(), Error> {
        if frame.is_empty() || frame.len() > MAX_FRAME {
            return Err(Error::FrameLength);
        }
        // Status words of earlier frames: read them so their FIFO never fills.
        while (self.regs.read(reg::TX_FIFO_INF) >> 16) & 0xFF != 0 {
            let _ = self.regs.read(reg::TX_STATUS);
        }
        let free = (self.regs.read(reg::TX_FIFO_INF) & 0xFFFF) as usize;
        if free < frame.len().div_ceil(4) * 4 + 8 {
            return Err(Error::TxFull);
        }
        let len = frame.len() as u32; // <= MAX_FRAME
        self.tag = self.tag.wrapping_add(1);
        let cmd_a = TX_FIRST_SEGMENT | TX_LAST_SEGMENT | len;
        let cmd_b = (u32::from(self.tag) << 16) | len;
        self.regs.write(reg::TX_DATA, cmd_a);
        self.regs.write(reg::TX_DATA, cmd_b);
        for chunk in frame.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            self.regs.write(reg::TX_DATA, u32::from_le_bytes(word));
        }
        Ok(())
    }

    /// Whether a received frame waits.
    pub fn frame_waiting(&mut self) -> bool {
        (self.regs.read(reg::RX_FIFO_INF) >> 16) & 0xFF != 0
    }

    /// Reads the next received frame into `buffer` and returns its length without the
    /// FCS; `None` if none waits. A frame received with an error, or longer than
    /// `buffer`, is read out of the FIFO and dropped: `Some(Err(len))` says so.
    pub fn receive(&mut self, buffer: &mut [u8]) -> Option<Result<usize, usize>> {
        if !self.frame_waiting() {
            return None;
        }
        let status = self.regs.read(reg::RX_STATUS);
        let len = ((status >> 16) & 0x3FFF) as usize; // with the FCS
        let frame_len = len.saturating_sub(FCS_LEN);
        let keep = status & RX_STATUS_ERROR == 0 && frame_len <= buffer.len();
        // Every word is read, kept or not, so the FIFO stays in step.
        for i in 0..len.div_ceil(4) {
            let word = self.regs.read(reg::RX_DATA).to_le_bytes();
            if keep {
                let at = i * 4;
                let n = frame_len.saturating_sub(at).min(4);
                buffer[at..at + n].copy_from_slice(&word[..n]);
            }
        }
        Some(if keep { Ok(frame_len) } else { Err(frame_len) })
    }
}

/// Polls `register` until `register & mask == want`, a bounded number of times.
fn wait<R: Registers>(regs: &mut R, register: u8, mask: u32, want: u32) -> Result<(), Error> {
    for _ in 0..MAX_POLLS {
        if regs.read(register) & mask == want {
            return Ok(());
        }
    }
    Err(Error::Timeout)
}

#[cfg(test)]
mod tests;
