//! With the `log` feature, the shim's call sites reach the `log` crate (and so any
//! logger, `tracing` included through its bridge). Run with `--features log`.
#![cfg(feature = "log")]

use std::sync::Mutex;

struct Capture(Mutex<Vec<(log::Level, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        self.0
            .lock()
            .unwrap()
            .push((r.level(), r.args().to_string()));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn shim_macros_log_through_the_log_crate() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    tempora_embedded::warn!("PPS glitch after {} ns", 1_234_u64);
    tempora_embedded::info!("anchored");
    let got = CAPTURE.0.lock().unwrap().clone();
    assert_eq!(
        got,
        [
            (log::Level::Warn, "PPS glitch after 1234 ns".to_string()),
            (log::Level::Info, "anchored".to_string())
        ]
    );
}
