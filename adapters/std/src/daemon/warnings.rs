//! The daemon's warnings, journaled: a `tracing` layer that queues every warning and
//! error the daemon logs (a source switched, a transport lost, a master announcing
//! other intervals) for the time service's journal, where `tempora status` and
//! `tempora top` show them from any process.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event as TracingEvent, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::clock::SystemClock;
use crate::timeservice::{Event, EventQueue};

/// A `tracing` layer that puts warnings and errors in an [`EventQueue`], as
/// `message key=value ...` (what the journal keeps is the first 64 bytes).
#[derive(Clone, Debug, Default)]
pub struct WarningJournal(EventQueue);

impl WarningJournal {
    /// A layer with a queue of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// The queue it fills, for [`Publisher::journal_events_from`](crate::timeservice::Publisher::journal_events_from).
    pub fn queue(&self) -> EventQueue {
        self.0.clone()
    }
}

/// The message first, then the other fields.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for WarningJournal {
    fn on_event(&self, event: &TracingEvent<'_>, _: Context<'_, S>) {
        if *event.metadata().level() > Level::WARN {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        self.0.push(Event {
            time: tempora_core::time::Instant::from_nanos(SystemClock::realtime_nanos()),
            text: text.message + &text.fields,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn warnings_and_errors_are_queued_with_their_fields_and_the_rest_is_not() {
        let journal = WarningJournal::new();
        let subscriber = tracing_subscriber::registry().with(journal.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(source = "system", "reading source");
            tracing::warn!(from = "ptp:a", to = "ptp:b", "source switched");
            tracing::error!("PTP source stopped");
        });
        let texts: Vec<String> = journal
            .queue()
            .drain()
            .into_iter()
            .map(|e| e.text)
            .collect();
        assert_eq!(
            texts,
            ["source switched from=ptp:a to=ptp:b", "PTP source stopped"]
        );
    }
}
