//! Deadlines: when each provider's part of an opt-out must be done (ARCHITECTURE.md §10), and
//! the business-day calendar behind "10 business days".
//!
//! All arithmetic is in UTC. A business day is Monday to Friday, minus the holidays given.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use optout_core::Provider;

const DAY_MS: i64 = 86_400_000;

/// A calendar date (proleptic Gregorian, UTC), e.g. a holiday.
///
/// ```
/// use optout_outbox::Date;
/// let d: Date = "2026-12-25".parse().unwrap();
/// assert_eq!(d.to_string(), "2026-12-25");
/// assert!("2026-02-30".parse::<Date>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    days: i64,
}

impl Date {
    /// The date `year-month-day`, or `None` when no such day exists.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date {
            days: days_from_civil(year, month, day),
        })
    }

    /// The UTC date of a time.
    pub fn of(time: SystemTime) -> Date {
        Date {
            days: to_ms(time).div_euclid(DAY_MS),
        }
    }

    /// Monday = 0 .. Sunday = 6.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (self.days + 3).rem_euclid(7) as u32
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.days);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = String;

    fn from_str(s: &str) -> Result<Date, String> {
        let bad = || format!("`{s}` is not a date (YYYY-MM-DD)");
        let mut parts = s.trim().splitn(3, '-');
        let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok());
        let (y, m, d) = (
            next().ok_or_else(bad)?,
            next().ok_or_else(bad)?,
            next().ok_or_else(bad)?,
        );
        Date::new(y as i32, m, d).ok_or_else(bad)
    }
}

/// How long a provider has to honour an opt-out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadlineRule {
    /// A fixed time after receipt (48 hours for email, push and notification topics).
    Within(Duration),
    /// This many business days (Monday to Friday, not a holiday) after the day of receipt, at
    /// the same time of day (CAN-SPAM, CASL, TCPA: 10).
    BusinessDays {
        /// The number of business days.
        days: u32,
        /// Days that do not count.
        holidays: BTreeSet<Date>,
    },
}

impl DeadlineRule {
    /// The deadline of an opt-out received at `received`.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use optout_outbox::DeadlineRule;
    /// // Friday 2026-01-02 10:00 UTC + 10 business days = Friday 2026-01-16 10:00 UTC.
    /// let friday = UNIX_EPOCH + Duration::from_secs(1_767_348_000);
    /// let rule = DeadlineRule::BusinessDays { days: 10, holidays: Default::default() };
    /// assert_eq!(rule.deadline(friday), friday + Duration::from_secs(14 * 86_400));
    /// ```
    pub fn deadline(&self, received: SystemTime) -> SystemTime {
        match self {
            DeadlineRule::Within(d) => received + *d,
            DeadlineRule::BusinessDays { days, holidays } => {
                let ms = to_ms(received);
                let (mut day, time_of_day) = (ms.div_euclid(DAY_MS), ms.rem_euclid(DAY_MS));
                let mut counted = 0;
                while counted < *days {
                    day += 1;
                    let date = Date { days: day };
                    if date.weekday() < 5 && !holidays.contains(&date) {
                        counted += 1;
                    }
                }
                from_ms(day * DAY_MS + time_of_day)
            }
        }
    }
}

/// The deadline rule of each provider.
///
/// Defaults (§10): 48 hours for HubSpot, Migma, Novu and Pushy; 10 business days for Mobivate
/// (SMS: TCPA, CAN-SPAM, CASL).
///
/// ```
/// use std::time::Duration;
/// use optout_outbox::{Deadlines, DeadlineRule};
/// use optout_core::Provider;
/// let d = Deadlines::default().set(Provider::HubSpot, DeadlineRule::Within(Duration::from_secs(3600)));
/// assert_eq!(d.rule(Provider::HubSpot), &DeadlineRule::Within(Duration::from_secs(3600)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlines {
    rules: BTreeMap<Provider, DeadlineRule>,
}

impl Default for Deadlines {
    fn default() -> Self {
        let hours_48 = DeadlineRule::Within(Duration::from_secs(48 * 3600));
        let mut rules = BTreeMap::new();
        for p in Provider::ALL {
            rules.insert(p, hours_48.clone());
        }
        rules.insert(
            Provider::Mobivate,
            DeadlineRule::BusinessDays {
                days: 10,
                holidays: BTreeSet::new(),
            },
        );
        Deadlines { rules }
    }
}

impl Deadlines {
    /// Sets `provider`'s rule.
    pub fn set(mut self, provider: Provider, rule: DeadlineRule) -> Self {
        self.rules.insert(provider, rule);
        self
    }

    /// Adds holidays to every business-day rule.
    pub fn holidays(mut self, dates: impl IntoIterator<Item = Date>) -> Self {
        let dates: Vec<Date> = dates.into_iter().collect();
        for rule in self.rules.values_mut() {
            if let DeadlineRule::BusinessDays { holidays, .. } = rule {
                holidays.extend(dates.iter().copied());
            }
        }
        self
    }

    /// `provider`'s rule.
    pub fn rule(&self, provider: Provider) -> &DeadlineRule {
        static FALLBACK: DeadlineRule = DeadlineRule::Within(Duration::from_secs(48 * 3600));
        self.rules.get(&provider).unwrap_or(&FALLBACK)
    }

    /// The deadline at `provider` of an opt-out received at `received`.
    pub fn deadline(&self, provider: Provider, received: SystemTime) -> SystemTime {
        self.rule(provider).deadline(received)
    }
}

/// When HubSpot's daily limit is next reset, after `now`: HubSpot resets at midnight
/// America/New_York. Without a time-zone database this takes the next 05:00 UTC (midnight
/// EST), which during daylight saving time is 01:00 in New York: an hour late, never early.
pub fn hubspot_daily_reset(now: SystemTime) -> SystemTime {
    let ms = to_ms(now);
    let five = 5 * 3_600_000;
    let today = ms.div_euclid(DAY_MS) * DAY_MS + five;
    from_ms(if today > ms { today } else { today + DAY_MS })
}

/// Milliseconds since the Unix epoch (negative before it).
pub(crate) fn to_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// The inverse of [`to_ms`].
pub(crate) fn from_ms(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil calendar algorithms.
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str, hour: i64) -> SystemTime {
        let d: Date = date.parse().unwrap();
        from_ms(d.days * DAY_MS + hour * 3_600_000)
    }

    fn ten() -> DeadlineRule {
        DeadlineRule::BusinessDays {
            days: 10,
            holidays: BTreeSet::new(),
        }
    }

    #[test]
    fn dates_round_trip_and_know_their_weekday() {
        for s in ["1970-01-01", "2000-02-29", "2024-12-31", "2026-03-01"] {
            assert_eq!(s.parse::<Date>().unwrap().to_string(), s);
        }
        assert_eq!("1970-01-01".parse::<Date>().unwrap().weekday(), 3);
        assert_eq!("2026-12-01".parse::<Date>().unwrap().weekday(), 1); // a Tuesday
        assert!("2025-02-29".parse::<Date>().is_err());
        assert!("2026-13-01".parse::<Date>().is_err());
        assert!("yesterday".parse::<Date>().is_err());
    }

    #[test]
    fn forty_eight_hours_is_two_days_to_the_millisecond() {
        let r = at("2026-12-05", 23); // a Saturday: weekends count for hour rules
        let d = Deadlines::default().deadline(Provider::HubSpot, r);
        assert_eq!(d, at("2026-12-07", 23));
    }

    #[test]
    fn ten_business_days_skip_weekends() {
        // Monday 2026-11-30 09:00 -> Monday 2026-12-14 09:00.
        assert_eq!(ten().deadline(at("2026-11-30", 9)), at("2026-12-14", 9));
        // Received on a Saturday: counting starts Monday -> Friday 2026-12-18.
        assert_eq!(ten().deadline(at("2026-12-05", 9)), at("2026-12-18", 9));
        // Received on a Friday -> the Friday two weeks on.
        assert_eq!(ten().deadline(at("2026-12-04", 9)), at("2026-12-18", 9));
    }

    #[test]
    fn holidays_do_not_count_and_a_weekend_holiday_changes_nothing() {
        let d = Deadlines::default()
            .holidays(["2026-12-25".parse().unwrap(), "2026-12-26".parse().unwrap()]);
        // Mon 2026-12-14 + 10 business days, Christmas (Fri) skipped -> Tue 2026-12-29.
        assert_eq!(
            d.deadline(Provider::Mobivate, at("2026-12-14", 12)),
            at("2026-12-29", 12)
        );
        // Hour rules ignore holidays.
        assert_eq!(
            d.deadline(Provider::Pushy, at("2026-12-24", 12)),
            at("2026-12-26", 12)
        );
    }

    #[test]
    fn hubspot_resets_at_the_next_0500_utc() {
        assert_eq!(
            hubspot_daily_reset(at("2026-12-01", 3)),
            at("2026-12-01", 5)
        );
        assert_eq!(
            hubspot_daily_reset(at("2026-12-01", 5)),
            at("2026-12-02", 5)
        );
        assert_eq!(
            hubspot_daily_reset(at("2026-12-01", 22)),
            at("2026-12-02", 5)
        );
    }
}
