//! The port's state, as the BMCA decides it.

use core::fmt;

use crate::ptp::wire::PortIdentity;

/// The port's state (the subset of §9.2.5 an ordinary clock's port needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PortState {
    /// Waiting for Announces (or for the receipt timeout to decide).
    Listening,
    /// Serving time.
    Master,
    /// Following this master port.
    Slave(PortIdentity),
    /// A better master exists that this clock must not follow.
    Passive,
}

impl PortState {
    /// The state's name in lower case (`slave`, without the parent), for logs and metric
    /// labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Listening => "listening",
            Self::Master => "master",
            Self::Slave(_) => "slave",
            Self::Passive => "passive",
        }
    }

    /// The master a slave follows.
    pub const fn parent(self) -> Option<PortIdentity> {
        match self {
            Self::Slave(p) => Some(p),
            _ => None,
        }
    }
}

/// The state's name in lower case, as logs print it; a slave's parent is left to the
/// caller, who knows how it wants identities shown.
///
/// ```
/// use tempora_core::ptp::port::PortState;
/// use tempora_core::ptp::wire::{ClockIdentity, PortIdentity};
///
/// let parent = PortIdentity { clock: ClockIdentity([1; 8]), port: 1 };
/// assert_eq!(PortState::Slave(parent).to_string(), "slave");
/// assert_eq!(PortState::Listening.to_string(), "listening");
/// ```
impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}
