//! The one timestamp format of `root.log` and `stats.log`: `YYYY-MM-DD HH:MM:SS,mmm` (UTC).
//!
//! The original's log layouts print this format; operators' scripts parse stats.log by it, so both
//! logs share this single formatter. The civil date is computed here (Howard Hinnant's
//! days-to-civil algorithm) rather than pulling in a date crate for one function.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Appends `t` formatted as `YYYY-MM-DD HH:MM:SS,mmm` (UTC) to `out`. Times before 1970 print as
/// the epoch: a clock that far off is a broken clock, not a date to render.
pub fn write_timestamp(out: &mut String, t: SystemTime) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    );
}

/// `t` formatted as by [`write_timestamp`], as a new string.
pub fn timestamp(t: SystemTime) -> String {
    let mut s = String::with_capacity(23);
    write_timestamp(&mut s, t);
    s
}

/// Converts days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, millis: u64) -> String {
        timestamp(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
    }

    #[test]
    fn epoch() {
        assert_eq!(at(0, 0), "1970-01-01 00:00:00,000");
    }

    #[test]
    fn known_dates() {
        // 2000-02-29 is a leap day in a century divisible by 400.
        assert_eq!(at(951_782_400, 7), "2000-02-29 00:00:00,007");
        // 2018-05-03 12:34:56.789
        assert_eq!(at(1_525_350_896, 789), "2018-05-03 12:34:56,789");
        // Last second of 1999.
        assert_eq!(at(946_684_799, 999), "1999-12-31 23:59:59,999");
        // 2100 is not a leap year: the day after 2100-02-28 is 2100-03-01.
        assert_eq!(at(4_107_456_000, 0), "2100-02-28 00:00:00,000");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01 00:00:00,000");
    }

    #[test]
    fn before_epoch_clamps() {
        let t = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(timestamp(t), "1970-01-01 00:00:00,000");
    }

    #[test]
    fn every_day_round_trips_month_lengths() {
        // Walk 1970..2100 day by day and check the date advances by exactly one calendar day.
        let mut prev = civil_from_days(0);
        for d in 1..47_482 {
            let cur = civil_from_days(d);
            let next_day = (prev.0, prev.1, prev.2 + 1);
            let next_month = (prev.0, prev.1 + 1, 1);
            let next_year = (prev.0 + 1, 1, 1);
            assert!(
                cur == next_day || cur == next_month || cur == next_year,
                "{prev:?} -> {cur:?}"
            );
            prev = cur;
        }
    }
}
