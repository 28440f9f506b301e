//! Event times: when things happen (a US daytime rhythm) and how Skycore writes them.

use chrono::{DateTime, Datelike, NaiveDate, Offset, Timelike};
use chrono_tz::America::New_York;
use chrono_tz::Tz;
use rand::Rng;

/// Relative traffic per New York local hour, in percent of the busiest hour.
const HOURLY_WEIGHT: [u32; 24] = [
    8, 5, 4, 3, 3, 5, 12, 25, 45, 65, 80, 90, 95, 100, 100, 95, 90, 85, 80, 70, 55, 40, 25, 15,
];

/// The window events fall in: `days` whole UTC days from midnight of `start`.
pub struct Clock {
    start: i64,
    span: u64,
}

impl Clock {
    /// A window of `days` UTC days beginning at midnight UTC of `start`.
    pub fn new(start: NaiveDate, days: u32) -> Self {
        let start = start.and_hms_opt(0, 0, 0).expect("midnight exists");
        Clock {
            start: start.and_utc().timestamp(),
            span: u64::from(days) * 86_400,
        }
    }

    /// Draws an instant (Unix seconds) in the window, more often in US daytime.
    pub fn sample(&self, rng: &mut impl Rng) -> i64 {
        loop {
            let instant = self.start + rng.random_range(0..self.span) as i64;
            let hour = new_york(instant).hour() as usize;
            if rng.random_range(0..100) < HOURLY_WEIGHT[hour] {
                return instant;
            }
        }
    }
}

fn utc(instant: i64) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp(instant, 0).expect("instant within chrono's range")
}

fn new_york(instant: i64) -> DateTime<Tz> {
    utc(instant).with_timezone(&New_York)
}

/// `2026-11-01T01:30:00-04:00`: New York local time with its offset, as the documentation shows.
pub fn local_iso(instant: i64) -> String {
    let local = new_york(instant);
    format!("{}{}", date_time(&local), offset(&local, true))
}

/// `2014-07-02T14:32:23-04`: the short offset of the newer subscriber postbacks.
pub fn local_short(instant: i64) -> String {
    let local = new_york(instant);
    format!("{}{}", date_time(&local), offset(&local, false))
}

/// `2026-11-01T05:30:00Z`: the same instant in UTC.
pub fn zulu(instant: i64) -> String {
    format!("{}Z", date_time(&utc(instant)))
}

/// `112613-113711` (MMDDYY-HHMMSS, New York time), the tail of a pass serial number.
pub fn serial_stamp(instant: i64) -> String {
    let t = new_york(instant);
    format!(
        "{:02}{:02}{:02}-{:02}{:02}{:02}",
        t.month(),
        t.day(),
        t.year() % 100,
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2026-11-01`: the UTC day of an instant, which names folders and manifest days.
pub fn utc_day(instant: i64) -> String {
    let t = utc(instant);
    format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
}

/// (`YYYY/MM/DD`, `HHMMSS`) of an instant in UTC: a file's folder and name prefix.
pub fn folder_and_time(instant: i64) -> (String, String) {
    let t = utc(instant);
    (
        format!("{:04}/{:02}/{:02}", t.year(), t.month(), t.day()),
        format!("{:02}{:02}{:02}", t.hour(), t.minute(), t.second()),
    )
}

fn date_time<T: Datelike + Timelike>(t: &T) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn offset(local: &DateTime<Tz>, with_minutes: bool) -> String {
    let seconds = local.offset().fix().local_minus_utc();
    let sign = if seconds < 0 { '-' } else { '+' };
    let (hours, minutes) = (seconds.abs() / 3600, seconds.abs() % 3600 / 60);
    if with_minutes {
        format!("{sign}{hours:02}:{minutes:02}")
    } else {
        format!("{sign}{hours:02}")
    }
}
