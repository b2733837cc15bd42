//! Capture times and device clock skew.
//!
//! Device clocks lie: a phone whose battery was swapped may think it is 1970, and minutes of
//! skew are common. Each event carries the device's *claimed* capture time; each push carries the
//! device's clock at that moment. The server compares the latter with its own clock at receipt:
//! the difference is the device's *skew*. The *estimate* of when a thing was captured is the
//! claim, corrected by the skew when the skew is large, and never later than its receipt. The
//! *flag* says how far to trust it:
//!
//! - `ok`: the device clock agreed with the server's (within two minutes) and the claim is
//!   plausible;
//! - `corrected`: the device clock was off; the claim minus the skew is plausible and is used;
//! - `unreliable`: neither the claim nor the corrected claim is plausible (before 2020, or after
//!   receipt); the estimate is the best of a bad lot (the claim if plausible, else the receipt).
//!
//! Reports then tell "captured on time, delivered late because offline" (an `ok` time long before
//! `received_at`) from "captured late" (迟报). Ordering never uses any of these: the server's
//! revision order decides which write is later.

use serde::{Deserialize, Serialize};

/// The date in China (UTC+8), `YYYY-MM-DD`, at `unix_ms`: the day deadlines and meetings are
/// counted in. (The caller reads the clock; this only converts.)
pub fn china_date(unix_ms: i64) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(unix_ms).saturating_mul(1_000_000),
    )
    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let date = at.to_offset(offset).date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// How far two clocks may differ and still agree, in ms.
pub const TOLERANCE_MS: i64 = 2 * 60 * 1000;
/// No capture is believed before 2020-01-01T00:00:00Z.
pub const EARLIEST_MS: i64 = 1_577_836_800_000;

/// How far to trust a capture time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockFlag {
    /// The device clock agreed with the server's.
    Ok,
    /// The device clock was off; the time is corrected by the skew.
    Corrected,
    /// The time cannot be trusted.
    Unreliable,
}

/// When an event was captured, as far as can be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureTime {
    /// What the device claimed (its clock at capture), ms.
    pub claimed_ms: i64,
    /// The device clock when it pushed, ms.
    pub device_clock_ms: i64,
    /// Device clock minus server clock at receipt, ms.
    pub skew_ms: i64,
    /// The best estimate, ms.
    pub captured_at_ms: i64,
    /// How far to trust it.
    pub clock: ClockFlag,
    /// When the server received it, by the server's clock, ms.
    pub received_at_ms: i64,
}

/// Estimates when an event was captured.
pub fn estimate(claimed_ms: i64, device_clock_ms: i64, received_at_ms: i64) -> CaptureTime {
    let skew_ms = device_clock_ms.saturating_sub(received_at_ms);
    let plausible =
        |t: i64| (EARLIEST_MS..=received_at_ms.saturating_add(TOLERANCE_MS)).contains(&t);
    let corrected = claimed_ms.saturating_sub(skew_ms);
    let (at, clock) =
        if skew_ms.unsigned_abs() <= TOLERANCE_MS.unsigned_abs() && plausible(claimed_ms) {
            (claimed_ms, ClockFlag::Ok)
        } else if skew_ms.unsigned_abs() > TOLERANCE_MS.unsigned_abs() && plausible(corrected) {
            (corrected, ClockFlag::Corrected)
        } else if plausible(claimed_ms) {
            (claimed_ms, ClockFlag::Unreliable)
        } else {
            (received_at_ms, ClockFlag::Unreliable)
        };
    CaptureTime {
        claimed_ms,
        device_clock_ms,
        skew_ms,
        captured_at_ms: at.min(received_at_ms),
        clock,
        received_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_china_date_turns_at_utc_four_in_the_afternoon() {
        // 2026-11-28 15:59:59 UTC is 23:59:59 in China; a second later it is the 29th there.
        assert_eq!(china_date(1_795_881_599_000), "2026-11-28");
        assert_eq!(china_date(1_795_881_600_000), "2026-11-29");
    }

    const NOW: i64 = 1_764_300_000_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn clocks_at_the_ends_of_time_are_unreliable_not_a_panic() {
        for claimed in [i64::MIN, 0, NOW, i64::MAX] {
            for device in [i64::MIN, i64::MIN + 1, -1, 0, NOW, i64::MAX] {
                for received in [i64::MIN, 0, NOW, i64::MAX] {
                    let t = estimate(claimed, device, received);
                    assert!(t.captured_at_ms <= received, "{t:?}");
                }
            }
        }
        assert_eq!(estimate(NOW, i64::MIN, NOW).clock, ClockFlag::Unreliable);
    }

    #[test]
    fn an_honest_clock_offline_for_a_day() {
        let t = estimate(NOW - 24 * HOUR, NOW + 1_000, NOW);
        assert_eq!(
            (t.clock, t.captured_at_ms),
            (ClockFlag::Ok, NOW - 24 * HOUR)
        );
    }

    #[test]
    fn a_clock_an_hour_fast_is_corrected() {
        let t = estimate(NOW - HOUR + HOUR, NOW + HOUR, NOW);
        assert_eq!(
            (t.clock, t.captured_at_ms, t.skew_ms),
            (ClockFlag::Corrected, NOW - HOUR, HOUR)
        );
    }

    #[test]
    fn a_clock_reset_to_1970_is_corrected_when_it_stayed_reset() {
        let skew = -(NOW - 5 * HOUR);
        // Captured two hours before the push, by a clock that reads 1970 + 3 hours.
        let t = estimate(3 * HOUR, 5 * HOUR, NOW);
        assert_eq!(t.skew_ms, skew);
        assert_eq!(
            (t.clock, t.captured_at_ms),
            (ClockFlag::Corrected, NOW - 2 * HOUR)
        );
    }

    #[test]
    fn a_clock_reset_after_capture_leaves_the_claim_unreliable() {
        // Captured by a good clock; the battery was swapped before the push.
        let t = estimate(NOW - 2 * HOUR, 5 * HOUR, NOW);
        assert_eq!(
            (t.clock, t.captured_at_ms),
            (ClockFlag::Unreliable, NOW - 2 * HOUR)
        );
        // Nothing plausible at all: the receipt is the estimate.
        let t = estimate(1_000, 2_000_000_000_000_000, NOW);
        assert_eq!((t.clock, t.captured_at_ms), (ClockFlag::Unreliable, NOW));
    }

    #[test]
    fn never_later_than_receipt() {
        let t = estimate(NOW + 60_000, NOW + 60_000, NOW);
        assert_eq!(t.captured_at_ms, NOW);
    }
}
