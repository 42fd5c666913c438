//! The deadline of an operation: a point on the monotonic clock, in
//! nanoseconds.
//!
//! Not std's `Instant`: what is left of a deadline is read before every
//! system call of a request (to arm the socket's timeout), and `Instant`'s
//! arithmetic (timespec borrows, checked `Duration`s) cost a get about 150
//! of its instructions (measured with `make bench`'s callgrind count); here
//! it is one subtraction. The same clock as `Instant` (`CLOCK_MONOTONIC`).

use std::time::Duration;

/// When an operation must be done by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(u64);

impl Deadline {
    /// `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline(now().saturating_add(nanos(timeout)))
    }

    /// The time left, zero once the deadline has passed.
    pub fn remaining(self) -> Duration {
        Duration::from_nanos(self.nanos_left())
    }

    /// The time left in nanoseconds, zero once the deadline has passed:
    /// for the check before every system call of whether the socket's
    /// timeout needs arming again, in integers (as `Duration`s, the
    /// conversion and compare cost a get 50 instructions).
    pub fn nanos_left(self) -> u64 {
        self.0.saturating_sub(now())
    }
}

/// `duration` in nanoseconds (at most `u64::MAX`, 584 years).
pub fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The monotonic clock, in nanoseconds.
fn now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC exists on
    // every system this builds for, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn counts_down_with_the_monotonic_clock() {
        let started = Instant::now();
        let deadline = Deadline::after(Duration::from_millis(200));
        let left = deadline.remaining();
        assert!(left <= Duration::from_millis(200), "{left:?}");
        assert!(
            left + started.elapsed() >= Duration::from_millis(199),
            "{left:?}"
        );
        assert_eq!(Deadline::after(Duration::ZERO).remaining(), Duration::ZERO);
        assert!(Deadline::after(Duration::MAX) > deadline);
    }
}
