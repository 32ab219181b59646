//! A stop request that wakes whoever waits for it.
//!
//! Every loop of a run (status lines, a chain's health checks, a PTP node) sleeps until
//! its next piece of work or until it is told to stop. Polling a flag in short slices
//! would cost a wake-up every few milliseconds for as long as the daemon runs; a
//! [`StopSignal`] is raised once (Ctrl-C, SIGTERM, a closed stdout) and wakes every
//! waiter at once, so an idle daemon sleeps until it has something to do. A loop that
//! sleeps in `poll` on its sockets adds the signal's [`fd`](StopSignal::fd) to them.

use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
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
    /// Made on first use by [`fd`](Self::fd): (its readable end, the end a raise
    /// writes to).
    pollable: OnceLock<(UnixStream, UnixStream)>,
}

impl StopSignal {
    /// Not raised.
    pub const fn new() -> Self {
        Self {
            raised: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            pollable: OnceLock::new(),
        }
    }

    /// Asks every run to stop, and wakes whoever waits.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        if let Some((_, writer)) = self.pollable.get() {
            poke(writer);
        }
        // Under the lock, so a waiter between its check and its wait cannot miss it.
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.wake.notify_all();
    }

    /// A descriptor that is readable once the signal is raised (and from then on), to
    /// `poll` beside a loop's own sockets: the loop sleeps until its input or the stop,
    /// with no timeout of its own. Made on first use; the error is the kernel's, when
    /// the process has no descriptors left.
    pub fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        let (reader, writer) = match self.pollable.get() {
            Some(p) => p,
            None => {
                let pair = UnixStream::pair()?;
                pair.1.set_nonblocking(true)?;
                self.pollable.get_or_init(|| pair)
            }
        };
        // A raise that came before the pair existed wrote to nothing: write for it.
        if self.is_raised() {
            poke(writer);
        }
        Ok(reader.as_fd())
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

/// Makes the readable end readable (a full buffer already is; nothing else can fail
/// that matters).
fn poke(mut writer: &UnixStream) {
    let _ = writer.write(&[1]);
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

    #[test]
    fn the_fd_is_readable_after_a_raise_made_before_or_after_it() {
        use crate::nic::wait_readable;
        let late = StopSignal::new();
        let fd = late.fd().unwrap();
        assert!(!wait_readable(&[fd], Duration::from_millis(10)).unwrap());
        let waiter = std::thread::scope(|s| {
            let w = s.spawn(|| {
                let t = Instant::now();
                (
                    wait_readable(&[late.fd().unwrap()], Duration::from_secs(60)),
                    t.elapsed(),
                )
            });
            std::thread::sleep(Duration::from_millis(50));
            late.raise();
            w.join().unwrap()
        });
        assert!(waiter.0.unwrap());
        assert!(waiter.1 < Duration::from_secs(30), "{:?}", waiter.1);
        // Level, not edge: it stays readable.
        assert!(wait_readable(&[late.fd().unwrap()], Duration::ZERO).unwrap());

        let early = StopSignal::new();
        early.raise();
        assert!(wait_readable(&[early.fd().unwrap()], Duration::ZERO).unwrap());
    }
}
