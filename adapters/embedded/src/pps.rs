//! Disciplining a [`CounterClock`] from a pulse-per-second input.
//!
//! A PPS edge marks the start of a second of the reference (a GPS receiver, a PTP-synced
//! NIC). [`PpsInput`] finds rising edges on any `embedded-hal` input pin; [`PpsDiscipline`]
//! numbers the edges' seconds, measures the counter's true rate between edges, and
//! re-anchors the clock at each edge, so readings carry the reference's accuracy plus the
//! edge capture error, instead of the crystal's drift.

use core::time::Duration;

use embedded_hal::digital::InputPin;
use tempora_core::time::{Instant, Timescale, NANOS_PER_SEC};

use crate::counter_clock::{AnchorError, CounterClock, Rate, TickCounter};

/// Rising-edge detector on a PPS pin, by polling.
pub struct PpsInput<P> {
    pin: P,
    was_high: bool,
}

impl<P: InputPin> PpsInput<P> {
    /// Watches `pin` (assumed low at start).
    pub fn new(pin: P) -> Self {
        Self {
            pin,
            was_high: false,
        }
    }

    /// Samples the pin; `Ok(true)` on a low-to-high transition since the last sample.
    /// The edge happened between the previous sample and this one, so capture the
    /// counter right here: the capture error is the polling interval.
    pub fn poll(&mut self) -> Result<bool, P::Error> {
        let high = self.pin.is_high()?;
        let rising = high && !self.was_high;
        self.was_high = high;
        Ok(rising)
    }
}

/// What an edge did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PpsEvent {
    /// The first edge after [`PpsDiscipline::set_next_second`]: the clock is anchored,
    /// the rate not measured yet.
    Anchored,
    /// The clock is anchored and the rate measured over `seconds` of reference time.
    Disciplined {
        /// Seconds since the previous edge (more than 1 after missed pulses).
        seconds: u32,
        /// The counter's measured frequency error, in parts per billion (+: fast).
        error_ppb: i64,
    },
}

/// Why an edge was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PpsError {
    /// No time was given for the next pulse yet ([`PpsDiscipline::set_next_second`]).
    NoEpoch,
    /// The edge is not a whole number of seconds after the last one, within the
    /// counter's tolerance: a glitch. It is ignored.
    Glitch {
        /// Nominal nanoseconds since the last edge.
        after_ns: u64,
    },
    /// The clock refused the anchor.
    Anchor(AnchorError),
}

/// Numbers PPS edges and anchors a [`CounterClock`] at each.
pub struct PpsDiscipline<S: Timescale> {
    next_second: Option<Instant<S>>,
    last_edge: Option<u64>,
    /// Capture error of an edge, plus the reference's own accuracy.
    edge_bound: Duration,
    /// How far (ppm) an interval may stray from whole seconds and still be accepted.
    tolerance_ppm: u32,
}

impl<S: Timescale> PpsDiscipline<S> {
    /// A discipline for edges known within `edge_bound`, from a counter within
    /// `tolerance_ppm` of nominal.
    pub const fn new(edge_bound: Duration, tolerance_ppm: u32) -> Self {
        Self {
            next_second: None,
            last_edge: None,
            edge_bound,
            tolerance_ppm,
        }
    }

    /// Says which instant the next pulse marks (from NMEA, PTP, a host): PPS alone says
    /// when a second starts, not which one.
    pub fn set_next_second(&mut self, at: Instant<S>) {
        self.next_second = Some(at);
        self.last_edge = None;
    }

    /// Handles an edge captured at `ticks` of the clock's counter.
    pub fn on_edge<T: TickCounter>(
        &mut self,
        clock: &CounterClock<T, S>,
        ticks: u64,
    ) -> Result<PpsEvent, PpsError> {
        let at = self.next_second.ok_or(PpsError::NoEpoch)?;
        let hz = u64::from(clock.counter().frequency_hz().max(1));
        let event = match self.last_edge {
            None => {
                clock
                    .anchor_at(ticks, at, self.edge_bound, None)
                    .map_err(PpsError::Anchor)?;
                PpsEvent::Anchored
            }
            Some(last) => {
                let elapsed = ticks.saturating_sub(last);
                let nominal_ns = crate::counter_clock::ticks_to_nanos(elapsed, hz as u32);
                // Whole seconds, and how far from them (nominal rate).
                let seconds = (nominal_ns + NANOS_PER_SEC / 2) / NANOS_PER_SEC;
                let off_ns = nominal_ns.abs_diff(seconds * NANOS_PER_SEC);
                let allowed = seconds.max(1) * u64::from(self.tolerance_ppm) * 1_000
                    + 2 * u64::try_from(self.edge_bound.as_nanos()).unwrap_or(u64::MAX);
                if seconds == 0 || off_ns > allowed || seconds > u64::from(u32::MAX) {
                    warn!(
                        "PPS glitch: edge {} ns after the last one, ignored",
                        nominal_ns
                    );
                    return Err(PpsError::Glitch {
                        after_ns: nominal_ns,
                    });
                }
                let seconds = seconds as u32;
                let rate = Rate {
                    ticks: elapsed,
                    seconds,
                };
                let at = at.saturating_add(Duration::from_secs(u64::from(seconds) - 1));
                clock
                    .anchor_at(ticks, at, self.edge_bound, Some(rate))
                    .map_err(PpsError::Anchor)?;
                self.next_second = Some(at);
                let expected = hz * u64::from(seconds);
                let error_ppb = (i128::from(elapsed) - i128::from(expected)) * 1_000_000_000
                    / i128::from(expected);
                PpsEvent::Disciplined {
                    seconds,
                    error_ppb: error_ppb as i64,
                }
            }
        };
        self.last_edge = Some(ticks);
        self.next_second = self
            .next_second
            .map(|t| t.saturating_add(Duration::from_secs(1)));
        Ok(event)
    }
}
