//! A PTP port driven over a [`Transport`]: the loop every firmware writes around a
//! [`Port`], written once.
//!
//! [`Link::poll`] hands the port the send timestamps that came back, the messages that
//! arrived and the timers that fell due, and carries out what it asks: sends go to the
//! transport, timers into a table of deadlines ([`Link::next_deadline`] says how long
//! the board may sleep), and each new estimate comes out as an [`Event::Measured`] with
//! its sample for the clock discipline, the transport's timestamp uncertainty already in
//! the bound ([`Timestamping::sample`](super::transport::Timestamping::sample)). The link
//! reads no clock: the caller passes the local time, as to the port.

use super::filter::FLOOR_WINDOW;
use super::port::{
    Action, Actions, Ignored, Measurement, Port, PortConfig, PortEvent, PortState, Timer,
};
use super::transport::Transport;
use crate::discipline::OffsetSample;
use crate::time::{Instant, Tai};

/// The longest message [`Link::poll`] takes in; longer ones are truncated (and so
/// ignored as malformed). The port's own messages are at most 96 bytes; an Announce
/// with a path trace of a few hops fits.
pub const RECEIVE_BUFFER: usize = 128;

/// How many pieces of work (a send timestamp, a message, a timer) one
/// [`Link::poll`] does at most, so a flood of frames cannot keep it for ever.
pub const MAX_WORK_PER_POLL: usize = 32;

/// What happened during a [`Link::poll`].
#[derive(Debug, PartialEq)]
pub enum Event<E> {
    /// The port changed state.
    State(PortState),
    /// A new estimate of the local clock against the master.
    Measured {
        /// The port's estimate.
        measurement: Measurement,
        /// It as a sample for the clock discipline, the bound widened by the
        /// transport's timestamp uncertainty.
        sample: OffsetSample<Tai>,
    },
    /// Something the port noticed (a parent change, an interval mismatch).
    Port(PortEvent),
    /// A received message the port did not use, and why.
    Ignored(Ignored),
    /// The transport could not send a message.
    SendFailed(E),
}

/// A [`Port`] and the deadlines of its timers.
pub struct Link<const FOREIGN: usize = 4, const FLOOR: usize = FLOOR_WINDOW> {
    port: Port<FOREIGN, FLOOR>,
    /// Deadlines, indexed by [`timer_index`].
    timers: [Option<Instant<Tai>>; 4],
}

const TIMERS: [Timer; 4] = [
    Timer::Announce,
    Timer::Sync,
    Timer::DelayReq,
    Timer::AnnounceReceipt,
];

fn timer_index(timer: Timer) -> usize {
    match timer {
        Timer::Announce => 0,
        Timer::Sync => 1,
        Timer::DelayReq => 2,
        Timer::AnnounceReceipt => 3,
    }
}

impl<const FOREIGN: usize, const FLOOR: usize> Link<FOREIGN, FLOOR> {
    /// A link whose port has not started; `const`, so it can live in a `static`.
    pub const fn new(config: PortConfig) -> Self {
        Self {
            port: Port::new(config),
            timers: [None; 4],
        }
    }

    /// The port.
    pub fn port(&self) -> &Port<FOREIGN, FLOOR> {
        &self.port
    }

    /// The earliest timer deadline: the board may sleep until then, or until a frame
    /// arrives.
    pub fn next_deadline(&self) -> Option<Instant<Tai>> {
        self.timers.iter().flatten().min().copied()
    }

    /// Starts (or restarts) the port at local time `now`.
    pub fn start<T: Transport>(
        &mut self,
        transport: &mut T,
        now: Instant<Tai>,
        mut on_event: impl FnMut(Event<T::Error>),
    ) {
        self.timers = [None; 4];
        let actions = self.port.start(now);
        self.apply(transport, actions, &mut on_event);
    }

    /// Does the work waiting at local time `now`: send timestamps first (a two-step
    /// Follow_Up should not wait behind other work), then received messages, then due
    /// timers; at most [`MAX_WORK_PER_POLL`] pieces, after which the rest waits for the
    /// next call. Returns whether it stopped at that limit.
    pub fn poll<T: Transport>(
        &mut self,
        transport: &mut T,
        now: Instant<Tai>,
        mut on_event: impl FnMut(Event<T::Error>),
    ) -> bool {
        let mut buffer = [0u8; RECEIVE_BUFFER];
        for _ in 0..MAX_WORK_PER_POLL {
            let actions = if let Some((context, at)) = transport.sent() {
                self.port.on_sent(context, at)
            } else if let Some(r) = transport.receive(&mut buffer) {
                let message = &buffer[..r.len.min(RECEIVE_BUFFER)];
                match self.port.on_receive(message, Some(r.at), now) {
                    Ok(actions) => actions,
                    Err(why) => {
                        on_event(Event::Ignored(why));
                        continue;
                    }
                }
            } else if let Some(timer) = self.take_due(now) {
                self.port.on_timer(timer, now)
            } else {
                return false;
            };
            self.apply(transport, actions, &mut on_event);
        }
        true
    }

    /// The first timer due at `now`, disarmed.
    fn take_due(&mut self, now: Instant<Tai>) -> Option<Timer> {
        let timer = TIMERS
            .into_iter()
            .filter(|&t| self.timers[timer_index(t)].is_some_and(|at| at <= now))
            .min_by_key(|&t| self.timers[timer_index(t)])?;
        self.timers[timer_index(timer)] = None;
        Some(timer)
    }

    fn apply<T: Transport>(
        &mut self,
        transport: &mut T,
        actions: Actions,
        on_event: &mut impl FnMut(Event<T::Error>),
    ) {
        for action in actions {
            match action {
                Action::Send { packet, context } => {
                    if let Err(e) = transport.send(&packet, context) {
                        on_event(Event::SendFailed(e));
                    }
                }
                Action::SetTimer { timer, at } => self.timers[timer_index(timer)] = Some(at),
                Action::CancelTimer(timer) => self.timers[timer_index(timer)] = None,
                Action::State(state) => on_event(Event::State(state)),
                Action::Event(event) => on_event(Event::Port(event)),
                Action::Measure(measurement) => {
                    let sample = transport.timestamping().sample(&measurement);
                    on_event(Event::Measured {
                        measurement,
                        sample,
                    });
                }
            }
        }
    }
}
