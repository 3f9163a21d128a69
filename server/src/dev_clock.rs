//! The opt-in development clock: the system clock plus an offset that `POST /v1/dev/clock`
//! moves forward, so tests of retention, iterator expiry and schedules need not sleep. Only
//! `eddy serve --dev-clock` serves the endpoint; without the flag it is refused.

use std::sync::atomic::{AtomicU64, Ordering};

use eddy_core::{Clock, SystemClock};

/// Most a single request may move the clock (one year), so a typo cannot overflow it.
pub const ADVANCE_SECS_MAX: u64 = 366 * 24 * 3600;

/// System time plus an offset that only grows.
#[derive(Debug, Default)]
pub struct DevClock {
    offset_millis: AtomicU64,
}

impl DevClock {
    /// Moves the clock forward by `millis`.
    pub fn advance(&self, millis: u64) {
        self.offset_millis.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for DevClock {
    fn now_millis(&self) -> u64 {
        SystemClock.now_millis().saturating_add(self.offset_millis.load(Ordering::SeqCst))
    }
}
