//! An impairment forwarder: netem is not in this kernel, so a TAP device in each of two
//! namespaces and two threads of this test process copy Ethernet frames between them,
//! each direction with its own delay, jitter and loss, from a seed.

use std::collections::BinaryHeap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempora_core::rng::SplitMix64;

use super::sh;

/// What one direction does to frames.
#[derive(Clone, Copy, Debug)]
pub struct Impairment {
    /// Base one-way delay.
    pub delay: Duration,
    /// Uniform jitter added to the delay, in `[-jitter, +jitter]`.
    pub jitter: Duration,
    /// Frames dropped, in percent.
    pub loss_percent: u64,
}

/// A window of the run (from the forwarder's start) in which both directions take
/// `impairment` instead of their own: a burst of loss, jitter or an outage.
#[derive(Clone, Copy, Debug)]
pub struct Burst {
    pub from: Duration,
    pub until: Duration,
    pub impairment: Impairment,
}

/// Frames moved and dropped, per direction.
#[derive(Default, Debug)]
pub struct Counts {
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
}

/// The running forwarder; stops (and joins its threads) on drop.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub counts: [Arc<Counts>; 2],
}

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Opens a TAP device named `name` inside namespace `ns`. The namespace switch happens on
/// a short-lived thread, so the test's own threads stay where they are; the descriptor
/// keeps working from any namespace.
fn open_tap(ns: &str, name: &str) -> File {
    let (ns, name) = (ns.to_string(), name.to_string());
    std::thread::spawn(move || {
        let netns = File::open(format!("/var/run/netns/{ns}")).expect("namespace file");
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let tun = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .expect("/dev/net/tun");
        let mut req = IfReq {
            name: [0; 16],
            flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short,
            _pad: [0; 22],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: `tun` is an open /dev/net/tun descriptor and `req` is a live, properly
        // laid out `struct ifreq` for the whole call; TUNSETIFF reads the name and flags
        // and writes the chosen name back into it.
        let r = unsafe {
            libc::ioctl(
                tun.as_raw_fd(),
                libc::TUNSETIFF as _,
                &mut req as *mut IfReq,
            )
        };
        assert_eq!(r, 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
        let flags = nix::fcntl::OFlag::from_bits_truncate(
            nix::fcntl::fcntl(&tun, nix::fcntl::FcntlArg::F_GETFL).expect("F_GETFL"),
        );
        nix::fcntl::fcntl(
            &tun,
            nix::fcntl::FcntlArg::F_SETFL(flags | nix::fcntl::OFlag::O_NONBLOCK),
        )
        .expect("nonblocking");
        tun
    })
    .join()
    .expect("open TAP")
}

/// A UDP socket bound to `addr` inside namespace `ns` (created on a short-lived thread
/// that enters the namespace; the socket keeps working from anywhere).
pub fn udp_in(ns: &str, addr: &str) -> std::net::UdpSocket {
    let (ns, addr) = (ns.to_string(), addr.to_string());
    std::thread::spawn(move || {
        let netns = File::open(format!("/var/run/netns/{ns}")).expect("namespace file");
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        std::net::UdpSocket::bind(&addr).expect("bind in namespace")
    })
    .join()
    .expect("socket in namespace")
}

#[allow(clippy::too_many_arguments)] // one per part of a direction's set-up
fn pump(
    mut from: File,
    mut to: File,
    base: Impairment,
    bursts: Vec<Burst>,
    started: Instant,
    seed: u64,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) {
    let mut queue: BinaryHeap<std::cmp::Reverse<(Instant, u64, Vec<u8>)>> = BinaryHeap::new();
    let mut rng = SplitMix64::new(seed);
    let mut n = 0u64;
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let mut idle = true;
        // Take every frame that is waiting.
        while let Ok(len) = from.read(&mut buf) {
            if len == 0 {
                break;
            }
            idle = false;
            let at = started.elapsed();
            let imp = bursts
                .iter()
                .find(|b| b.from <= at && at < b.until)
                .map_or(base, |b| b.impairment);
            if rng.chance(imp.loss_percent) {
                counts.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let jitter = rng.jitter(imp.jitter.as_nanos() as u64);
            let delay = (imp.delay.as_nanos() as i64 + jitter).max(0) as u64;
            n += 1;
            queue.push(std::cmp::Reverse((
                Instant::now() + Duration::from_nanos(delay),
                n,
                buf[..len].to_vec(),
            )));
        }
        // Deliver what is due.
        let now = Instant::now();
        while queue.peek().is_some_and(|f| f.0 .0 <= now) {
            let std::cmp::Reverse((_, _, frame)) = queue.pop().expect("peeked");
            let _ = to.write(&frame);
            counts.forwarded.fetch_add(1, Ordering::Relaxed);
            idle = false;
        }
        if idle {
            // Sleep until a frame arrives or the next one is due (at most 1 ms), on a
            // high-resolution timeout: no busy waiting, so several labs can run at once.
            let due = queue
                .peek()
                .map(|f| f.0 .0.saturating_duration_since(Instant::now()));
            let wait = due
                .unwrap_or(Duration::from_millis(1))
                .min(Duration::from_millis(1));
            let timeout = nix::sys::time::TimeSpec::from_duration(wait);
            let mut fds = [nix::poll::PollFd::new(
                from.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let _ = nix::poll::ppoll(&mut fds, Some(timeout), None);
        }
    }
}

impl Forwarder {
    /// TAP `tpa` (10.99.0.1) in `ns_a` and `tpb` (10.99.0.2) in `ns_b`, joined by the
    /// forwarder with `a_to_b` and `b_to_a` impairments.
    pub fn start(
        ns_a: &str,
        ns_b: &str,
        a_to_b: Impairment,
        b_to_a: Impairment,
        seed: u64,
    ) -> Self {
        Self::start_with_bursts(ns_a, ns_b, a_to_b, b_to_a, &[], seed)
    }

    /// [`Forwarder::start`], with `bursts` overriding both directions in their windows.
    pub fn start_with_bursts(
        ns_a: &str,
        ns_b: &str,
        a_to_b: Impairment,
        b_to_a: Impairment,
        bursts: &[Burst],
        seed: u64,
    ) -> Self {
        let started = Instant::now();
        let a = open_tap(ns_a, "tpa");
        let b = open_tap(ns_b, "tpb");
        for (ns, dev, addr) in [(ns_a, "tpa", "10.99.0.1/24"), (ns_b, "tpb", "10.99.0.2/24")] {
            sh(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let counts = [Arc::new(Counts::default()), Arc::new(Counts::default())];
        let mut threads = Vec::new();
        for (from, to, imp, s, c) in [
            (
                a.try_clone().expect("dup"),
                b.try_clone().expect("dup"),
                a_to_b,
                seed,
                Arc::clone(&counts[0]),
            ),
            (b, a, b_to_a, seed ^ 0xABCD, Arc::clone(&counts[1])),
        ] {
            let stop = Arc::clone(&stop);
            let bursts = bursts.to_vec();
            threads.push(std::thread::spawn(move || {
                pump(from, to, imp, bursts, started, s, stop, c)
            }));
        }
        Self {
            stop,
            threads,
            counts,
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
