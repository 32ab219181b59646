//! The PTPv2 wire format (IEEE 1588-2008 and 1588-2019), in the two layers of smoltcp's
//! `wire`: a zero-copy [`PtpPacket`] view, checked once on construction and then read
//! field by field, and a plain [`PtpMessage`] that parses from bytes and emits into them.
//!
//! Every message starts with the 34-byte common header; the body depends on the message
//! type. Signaling and Management bodies end in TLVs, walked by [`Tlvs`]. Malformed input
//! is a [`WireError`], a message that does not fit its buffer an [`EmitError`]; neither
//! is ever a panic. Each field's place is written once, in a private `field` module that
//! the view, the parser and the emitter share.

mod error;
mod field;
mod header;
mod identity;
mod message;
mod message_type;
mod packet;
mod timestamp;
mod tlv;

pub use error::WireError;
pub use field::HEADER_LEN;
pub use header::{Flags, Header};
pub use identity::{ClockIdentity, ParseIdentityError, PortIdentity};
pub use message::{Announce, Body, EmitError, PtpMessage};
pub use message_type::MessageType;
pub use packet::PtpPacket;
pub use timestamp::WireTimestamp;
pub use tlv::{Tlv, Tlvs};
