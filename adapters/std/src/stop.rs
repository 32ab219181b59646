//! A stop request that wakes whoever waits for it.
//!
//! Every loop of a run (status lines, a chain's health checks, a PTP node) sleeps until
//! its next piece of work or until it is told to stop. Polling a flag in short slices
//! would cost a wake-up every few milliseconds for as long as the daemon runs; a
//! [`StopSignal`] is raised once (Ctrl-C, SIGTERM, a closed stdout) and wakes every
//! waiter at once, so an idle daemon sleeps until it has something to do.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Raised once, seen by every waiter at once.
///
/// ```
/// use std::time::Duration;
/// use tempora_std::stop::StopSignal;
///
/// let stop = StopSignal::new();
/// assert!(!stop.wait_for(Duration::from_millis(1))); // not raised: the time passed
/// stop.raise();
/// assert!(stop.wait_for(Duration::from_secs(3600))); // raised: returns at once
/// ```
#[derive(Debug, Default)]
pub struct StopSignal {
    raised: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl StopSignal {
    /// Not raised.
    pub const fn new() -> Self {
        Self {
            raised: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Asks every run to stop, and wakes whoever waits.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        // Under the lock, so a waiter between its check and its wait cannot miss it.
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.wake.notify_all();
    }

    /// Whether a stop was asked for.
    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    /// Sleeps until raised or until `timeout` has passed; whether it was raised. A
    /// timeout too long for a deadline waits until raised.
    pub fn wait_for(&self, timeout: Duration) -> bool {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_until(deadline),
            None => self.wait_until_raised(),
        }
    }

    /// Sleeps until raised or until `deadline`; whether it was raised.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.is_raised() {
                return true;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            if left.is_zero() {
                return false;
            }
            guard = match self.wake.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    fn wait_until_raised(&self) -> bool {
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        while !self.is_raised() {
            guard = self.wake.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_raise_wakes_every_waiter_long_before_its_timeout() {
        let stop = Arc::new(StopSignal::new());
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let t = Instant::now();
                    (stop.wait_for(Duration::from_secs(60)), t.elapsed())
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        stop.raise();
        for w in waiters {
            let (raised, took) = w.join().unwrap();
            assert!(raised);
            assert!(took < Duration::from_secs(30), "{took:?}");
        }
    }

    #[test]
    fn without_a_raise_the_wait_ends_at_its_deadline() {
        let stop = StopSignal::new();
        let t = Instant::now();
        assert!(!stop.wait_for(Duration::from_millis(30)));
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert!(!stop.wait_until(Instant::now()));
        assert!(!stop.is_raised());
    }

    #[test]
    fn a_wait_after_the_raise_returns_at_once_even_without_a_deadline() {
        let stop = StopSignal::new();
        stop.raise();
        stop.raise(); // raising twice is harmless
        assert!(stop.wait_for(Duration::MAX));
        assert!(stop.wait_until(Instant::now() + Duration::from_secs(3600)));
    }
}
