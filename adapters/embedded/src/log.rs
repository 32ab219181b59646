//! One logging call site for firmware and Linux: `defmt` with the `defmt` feature, the
//! `log` crate with the `log` feature (and so `tracing` through its `log` bridge), and
//! nothing at all with neither.
//!
//! ```
//! tempora_embedded::warn!("PPS glitch after {} ns", 1_234_u64);
//! ```
//!
//! The macros are chosen when this crate is built, so the caller's own features do not
//! matter; with `defmt`, the calling crate must depend on `defmt` too (its macros name
//! it), and arguments must implement `defmt::Format`.

#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "defmt")]
    pub use defmt;
    #[cfg(all(feature = "log", not(feature = "defmt")))]
    pub use log;
}

macro_rules! shim {
    ($d:tt $($name:ident)*) => { $(
        #[cfg(feature = "defmt")]
        #[doc = concat!("Logs at `", stringify!($name), "` level through `defmt`.")]
        #[macro_export]
        macro_rules! $name {
            ($d($d arg:tt)*) => { $d crate::log::__private::defmt::$name!($d($d arg)*) };
        }

        #[cfg(all(feature = "log", not(feature = "defmt")))]
        #[doc = concat!("Logs at `", stringify!($name), "` level through `log`.")]
        #[macro_export]
        macro_rules! $name {
            ($d($d arg:tt)*) => { $d crate::log::__private::log::$name!($d($d arg)*) };
        }

        #[cfg(not(any(feature = "defmt", feature = "log")))]
        #[doc = concat!("Logs at `", stringify!($name), "` level: no logger is enabled, so nothing.")]
        #[macro_export]
        macro_rules! $name {
            ($d($d arg:tt)*) => {{}};
        }
    )* };
}

shim!($ error warn info debug trace);
