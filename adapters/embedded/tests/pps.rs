//! PPS discipline driven by a mock pin that replays a recorded pulse train: a crystal
//! running 40 ppm fast, edges polled every microsecond, a missed pulse and a glitch.

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

use embedded_hal::digital::{ErrorType, InputPin};
use tempora_core::clock::{ClockSource, ClockStatus};
use tempora_core::time::{Instant, Tai};
use tempora_embedded::{CounterClock, PpsDiscipline, PpsError, PpsEvent, PpsInput, TickCounter};

const NOMINAL_HZ: u64 = 12_000_000;
const TRUE_HZ: u64 = 12_000_480; // +40 ppm
const EPOCH_S: u64 = 1_700_000_000;

/// The recorded pulse train: the level at each simulated instant.
#[derive(Clone)]
struct Replay {
    now_ns: Rc<Cell<u64>>,
}

impl Replay {
    fn level(&self) -> bool {
        let t = self.now_ns.get();
        let (sec, within) = (t / 1_000_000_000, t % 1_000_000_000);
        match sec {
            0 => false,
            4 => false, // the 4th pulse is missing
            _ if sec == 1 && (300_000_000..300_000_400).contains(&within) => true, // 400 ns glitch
            _ => within < 100_000_000, // 100 ms pulses
        }
    }
}

impl ErrorType for Replay {
    type Error = Infallible;
}

impl InputPin for Replay {
    fn is_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.level())
    }
    fn is_low(&mut self) -> Result<bool, Infallible> {
        Ok(!self.level())
    }
}

/// The board's counter: ticks of a crystal running at TRUE_HZ.
struct Crystal {
    now_ns: Rc<Cell<u64>>,
}

impl TickCounter for Crystal {
    fn ticks(&self) -> u64 {
        (u128::from(self.now_ns.get()) * u128::from(TRUE_HZ) / 1_000_000_000) as u64
    }
    fn frequency_hz(&self) -> u32 {
        NOMINAL_HZ as u32
    }
}

#[test]
fn pps_disciplines_the_counter_clock() {
    let now = Rc::new(Cell::new(0u64));
    let clock = CounterClock::<_, Tai>::new(
        Crystal {
            now_ns: now.clone(),
        },
        100,
        Duration::from_millis(1_500),
    );
    let mut pin = PpsInput::new(Replay {
        now_ns: now.clone(),
    });
    let edge_bound = Duration::from_micros(2); // 1 µs polling plus margin
    let mut pps = PpsDiscipline::<Tai>::new(edge_bound, 100);

    // Before any discipline the counter knows elapsed time, not the date.
    assert_eq!(clock.read().status, ClockStatus::Unknown);
    let mut events = Vec::new();
    let mut checked = 0;
    // Poll every microsecond for 6.5 simulated seconds.
    for us in 0..6_500_000u64 {
        now.set(us * 1_000);
        if us == 500_000 {
            // Half a second in, the host says the next pulse marks EPOCH_S + 1.
            pps.set_next_second(Instant::from_secs_nanos(EPOCH_S + 1, 0).unwrap());
        }
        if pin.poll().unwrap() {
            events.push(pps.on_edge(&clock, clock.counter().ticks()));
        }
        // Between pulses, once disciplined, every reading holds the true time.
        if us % 250_000 == 125_000 && us > 2_000_000 {
            let r = clock.read();
            let truth = Instant::<Tai>::from_nanos(EPOCH_S * 1_000_000_000 + us * 1_000);
            let err = r.time.abs_diff(truth);
            assert!(
                r.interval().contains(truth),
                "at {us} µs: error {err:?} outside bound {:?}",
                r.bound
            );
            assert!(err < Duration::from_micros(5), "at {us} µs: error {err:?}");
            checked += 1;
        }
    }
    assert!(checked >= 15);
    assert_eq!(events[0], Ok(PpsEvent::Anchored)); // second 1
    assert!(
        matches!(events[1], Err(PpsError::Glitch { .. })),
        "{:?}",
        events[1]
    );
    match events[2] {
        Ok(PpsEvent::Disciplined {
            seconds: 1,
            error_ppb,
        }) => {
            assert!(
                (error_ppb - 40_000).abs() < 2_000,
                "measured {error_ppb} ppb, true 40000"
            );
        }
        ref e => panic!("{e:?}"),
    }
    assert!(matches!(
        events[3],
        Ok(PpsEvent::Disciplined { seconds: 1, .. })
    )); // second 3
    assert!(
        matches!(events[4], Ok(PpsEvent::Disciplined { seconds: 2, .. })),
        "the missed pulse: {:?}",
        events[4]
    );
    assert_eq!(events.len(), 6);
    // Well after the last pulse the clock is in holdover, its bound growing at 100 ppm.
    now.set(9_000_000_000);
    let r = clock.read();
    assert_eq!(r.status, ClockStatus::Holdover);
    assert!(r.bound >= edge_bound + Duration::from_micros(290));
    let truth = Instant::<Tai>::from_nanos((EPOCH_S + 9) * 1_000_000_000);
    assert!(r.interval().contains(truth));
}

#[test]
fn an_edge_without_an_epoch_is_an_error() {
    let now = Rc::new(Cell::new(0u64));
    let clock = CounterClock::<_, Tai>::new(Crystal { now_ns: now }, 100, Duration::from_secs(1));
    let mut pps = PpsDiscipline::<Tai>::new(Duration::from_micros(1), 100);
    assert_eq!(pps.on_edge(&clock, 5), Err(PpsError::NoEpoch));
}
