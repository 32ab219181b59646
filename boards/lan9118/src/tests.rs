//! The driver against a model of the chip: its FIFOs, MAC registers, address filter and
//! interrupt pin, as the datasheet describes them (and QEMU emulates them).

extern crate std;

use std::collections::VecDeque;
use std::vec::Vec;

use super::*;

const TX_FIFO_BYTES: u32 = 4608;

#[derive(Debug, Default)]
struct Model {
    absent: bool,
    mac_regs: [u32; 16],
    mac_data: u32,
    int_sts: u32,
    int_en: u32,
    irq_cfg: u32,
    tx_cfg: u32,
    /// Words of the frame being written: command A, B, data.
    tx_words: Vec<u32>,
    tx_status: VecDeque<u32>,
    /// Frames that went out.
    wire: Vec<Vec<u8>>,
    rx_status: VecDeque<u32>,
    rx_data: VecDeque<u32>,
    resets: u32,
}

impl Model {
    fn address(&self) -> [u8; 6] {
        let l = self.mac_regs[usize::from(mac::ADDRL)].to_le_bytes();
        let h = self.mac_regs[usize::from(mac::ADDRH)].to_le_bytes();
        [l[0], l[1], l[2], l[3], h[0], h[1]]
    }

    /// A frame arrives from the wire (without FCS); the chip appends one.
    fn deliver(&mut self, frame: &[u8]) {
        let cr = self.mac_regs[usize::from(mac::CR)];
        let dst = &frame[..6];
        let multicast = dst[0] & 1 == 1;
        let pass =
            dst == self.address() || dst == [0xFF; 6] || (multicast && cr & mac::CR_MCPAS != 0);
        if cr & mac::CR_RXEN == 0 || !pass {
            return;
        }
        let mut bytes = frame.to_vec();
        bytes.extend_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]);
        for chunk in bytes.chunks(4) {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            self.rx_data.push_back(u32::from_le_bytes(w));
        }
        self.rx_status.push_back((bytes.len() as u32) << 16);
        self.int_sts |= INT_RSFL;
    }

    fn irq_pin_high(&self) -> bool {
        self.irq_cfg == IRQ_CFG_ENABLED_HIGH && self.int_sts & self.int_en != 0
    }

    fn tx_push(&mut self, word: u32) {
        self.tx_words.push(word);
        let len = (self.tx_words[0] & 0x7FF) as usize;
        if self.tx_words.len() == 2 + len.div_ceil(4) {
            let mut frame: Vec<u8> = self.tx_words[2..]
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect();
            frame.truncate(len);
            assert_eq!(self.tx_words[0] & 0x3000, 0x3000, "one-segment frames");
            assert_eq!(self.tx_words[1] & 0x7FF, len as u32, "command B's length");
            if self.tx_cfg & TX_CFG_TX_ON != 0 {
                self.wire.push(frame);
                self.tx_status.push_back(self.tx_words[1] & 0xFFFF_0000);
            }
            self.tx_words.clear();
        }
    }
}

impl Registers for Model {
    fn read(&mut self, offset: u8) -> u32 {
        match offset {
            reg::BYTE_TEST if self.absent => 0xFFFF_FFFF,
            reg::BYTE_TEST => BYTE_TEST_VALUE,
            reg::HW_CFG => 0x0005_0004,
            reg::PMT_CTRL => 1,
            reg::MAC_CSR_CMD => 0,
            reg::MAC_CSR_DATA => self.mac_data,
            reg::INT_STS => self.int_sts,
            reg::RX_FIFO_INF => (self.rx_status.len() as u32) << 16,
            reg::RX_STATUS => self.rx_status.pop_front().unwrap_or(0),
            reg::RX_DATA => self.rx_data.pop_front().expect("RX data underflow"),
            reg::TX_STATUS => self.tx_status.pop_front().unwrap_or(0),
            reg::TX_FIFO_INF => {
                let used = 4 * self.tx_words.len() as u32;
                ((self.tx_status.len() as u32) << 16) | (TX_FIFO_BYTES - used)
            }
            other => panic!("read of unmodelled register {other:#x}"),
        }
    }

    fn write(&mut self, offset: u8, value: u32) {
        match offset {
            reg::HW_CFG if value & HW_CFG_SRST != 0 => {
                let absent = self.absent;
                let resets = self.resets + 1;
                *self = Model::default();
                (self.absent, self.resets) = (absent, resets);
            }
            reg::MAC_CSR_DATA => self.mac_data = value,
            reg::MAC_CSR_CMD => {
                let r = (value & 0xF) as usize;
                if value & MAC_CSR_READ != 0 {
                    self.mac_data = self.mac_regs[r];
                } else {
                    self.mac_regs[r] = self.mac_data;
                }
            }
            reg::INT_STS => self.int_sts &= !value,
            reg::INT_EN => self.int_en = value,
            reg::IRQ_CFG => self.irq_cfg = value,
            reg::TX_CFG => self.tx_cfg = value,
            reg::TX_DATA => self.tx_push(value),
            reg::RX_CFG | reg::FIFO_INT => {}
            other => panic!("write of unmodelled register {other:#x}"),
        }
    }
}

const ME: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x42];
const PTP: [u8; 6] = [0x01, 0x1B, 0x19, 0x00, 0x00, 0x00];

fn frame(to: [u8; 6], len: usize) -> Vec<u8> {
    let mut f = to.to_vec();
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x88, 0xF7]);
    f.extend((0..len - 14).map(|i| i as u8));
    f
}

fn chip() -> Lan9118<Model> {
    Lan9118::init(Model::default(), ME).unwrap()
}

#[test]
fn init_resets_and_configures_the_chip() {
    let mut c = chip();
    let m = c.registers();
    assert_eq!(m.resets, 1);
    assert_eq!(m.address(), ME);
    let cr = m.mac_regs[usize::from(mac::CR)];
    assert_eq!(
        cr & (mac::CR_RXEN | mac::CR_TXEN),
        mac::CR_RXEN | mac::CR_TXEN
    );
    assert_ne!(cr & mac::CR_MCPAS, 0, "PTP multicast would be filtered out");
    assert_eq!(m.int_en, INT_RSFL);
    assert_eq!(c.mac_read(mac::ADDRL).unwrap(), 0x0000_0002);
    let absent = Model {
        absent: true,
        ..Model::default()
    };
    assert_eq!(Lan9118::init(absent, ME).unwrap_err(), Error::NotFound);
}

#[test]
fn frames_go_out_byte_for_byte_whatever_their_length() {
    let mut c = chip();
    for len in [60, 61, 62, 63, 110, MAX_FRAME] {
        let f = frame(PTP, len);
        c.transmit(&f).unwrap();
        assert_eq!(c.registers().wire.last().unwrap(), &f, "{len} bytes");
    }
    // Each send read the status words of the ones before: at most one is left.
    assert_eq!(c.registers().tx_status.len(), 1);
    assert_eq!(c.transmit(&[]), Err(Error::FrameLength));
    assert_eq!(c.transmit(&[0; MAX_FRAME + 1]), Err(Error::FrameLength));
}

#[test]
fn a_full_transmit_fifo_refuses_the_frame() {
    let mut c = chip();
    // Half a frame already in the FIFO leaves less room than a full-size frame needs.
    let stuck = TX_FIFO_BYTES as usize / 4 - 300;
    c.registers().tx_words = std::vec![(3 << 12) | 0x7FF; stuck];
    assert_eq!(c.transmit(&frame(PTP, MAX_FRAME)), Err(Error::TxFull));
}

#[test]
fn received_frames_raise_the_interrupt_and_come_in_whole() {
    let mut c = chip();
    let mut buf = [0u8; 256];
    assert_eq!(c.receive(&mut buf), None);
    let ptp = frame(PTP, 61);
    c.registers().deliver(&ptp);
    c.registers().deliver(&frame([0x02, 9, 9, 9, 9, 9], 60)); // someone else's: filtered
    c.registers().deliver(&frame(ME, 64));
    assert!(c.registers().irq_pin_high());
    assert_eq!(c.receive(&mut buf), Some(Ok(61)));
    assert_eq!(&buf[..61], &ptp[..]);
    assert_eq!(c.receive(&mut buf), Some(Ok(64)));
    assert_eq!(buf[..6], ME);
    assert_eq!(c.receive(&mut buf), None);
    c.acknowledge();
    assert!(!c.registers().irq_pin_high());
}

#[test]
fn a_frame_too_long_for_the_buffer_is_dropped_and_the_next_still_reads() {
    let mut c = chip();
    c.registers().deliver(&frame(PTP, 300));
    let next = frame(PTP, 70);
    c.registers().deliver(&next);
    let mut buf = [0u8; 128];
    assert_eq!(c.receive(&mut buf), Some(Err(300)));
    assert_eq!(c.receive(&mut buf), Some(Ok(70)));
    assert_eq!(&buf[..70], &next[..]);
    assert!(c.registers().rx_data.is_empty(), "FIFO out of step");
}
