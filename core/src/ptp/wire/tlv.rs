//! The TLVs that end Signaling and Management messages, walked lazily: a message with a
//! bad TLV still parses, and the bad TLV is an error item where the walk stops.

use super::field::tlv as field;
use super::WireError;

/// A TLV: type, and its value bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// `tlvType`.
    pub kind: u16,
    /// The value (`lengthField` bytes).
    pub value: &'a [u8],
}

/// The TLVs of a message, walked lazily; a TLV that runs past the end is an error item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlvs<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Tlvs<'a> {
    /// TLVs in `bytes`, whose first byte is at `offset` in the message (for errors).
    pub const fn new(bytes: &'a [u8], offset: usize) -> Self {
        Self { bytes, offset }
    }

    /// The raw TLV bytes.
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The first TLV and the bytes after it.
    fn split(bytes: &'a [u8]) -> Option<(Tlv<'a>, &'a [u8])> {
        let kind = u16::from_be_bytes(field::TYPE.get(bytes)?);
        let len = usize::from(u16::from_be_bytes(field::LENGTH.get(bytes)?));
        let (value, rest) = bytes.get(field::VALUE..)?.split_at_checked(len)?;
        Some((Tlv { kind, value }, rest))
    }
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = Result<Tlv<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.bytes.is_empty() {
            return None;
        }
        match Self::split(self.bytes) {
            Some((tlv, rest)) => {
                self.offset += self.bytes.len() - rest.len();
                self.bytes = rest;
                Some(Ok(tlv))
            }
            None => {
                self.bytes = &[]; // stop after the first error
                Some(Err(WireError::Tlv {
                    offset: self.offset,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_tlvs_and_stops_at_a_bad_one() {
        let bytes = [0, 1, 0, 2, 0xaa, 0xbb, 0, 3, 0, 0, 0, 4, 0, 9, 1];
        let mut tlvs = Tlvs::new(&bytes, 44);
        assert_eq!(
            tlvs.next(),
            Some(Ok(Tlv {
                kind: 1,
                value: &[0xaa, 0xbb]
            }))
        );
        assert_eq!(
            tlvs.next(),
            Some(Ok(Tlv {
                kind: 3,
                value: &[]
            }))
        );
        assert_eq!(tlvs.next(), Some(Err(WireError::Tlv { offset: 54 })));
        assert_eq!(tlvs.next(), None);
        assert_eq!(
            Tlvs::new(&[0], 44).collect::<heapless::Vec<_, 2>>(),
            [Err(WireError::Tlv { offset: 44 })]
        );
    }
}
