//! Report, helper: a period of whole local days in a time zone, and where its days and
//! hours start and end as UTC instants (store -> **report**).
//!
//! The archive holds UTC instants and its DuckDB has no time zones, so local day and
//! hour boundaries are computed here with chrono-tz and handed to the SQL. A local
//! day is not always 24 hours: 2026-11-01 in America/New_York has 25, and a zone may
//! even skip a day or start one at 01:00.

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;

use crate::store::report_inputs::{DayBounds, HourBounds};

/// Whole local days, `first` to `last` inclusive, in `zone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    first: NaiveDate,
    last: NaiveDate,
    zone: Tz,
}

/// The longest period a report runs for: about ten years of local days.
const MAX_DAYS: i64 = 3_660;

impl Period {
    /// The days from `first` to `last`, which must not come before `first`.
    pub fn new(first: NaiveDate, last: NaiveDate, zone: Tz) -> Result<Self, String> {
        if first > last {
            return Err(format!(
                "the period starts (--from {first}) after it ends (--to {last})"
            ));
        }
        if (last - first).num_days() >= MAX_DAYS {
            return Err(format!(
                "the period from {first} to {last} is longer than {MAX_DAYS} days; choose a shorter one"
            ));
        }
        Ok(Period { first, last, zone })
    }

    /// The `days` days that end with `last`.
    pub fn ending(last: NaiveDate, days: u32, zone: Tz) -> Self {
        let first = last - Duration::days(i64::from(days.max(1)) - 1);
        Period { first, last, zone }
    }

    pub fn first(&self) -> NaiveDate {
        self.first
    }

    pub fn last(&self) -> NaiveDate {
        self.last
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// How many local days the period has.
    pub fn day_count(&self) -> i64 {
        (self.last - self.first).num_days() + 1
    }

    /// The first instant of the first day.
    pub fn starts(&self) -> DateTime<Tz> {
        day_start(self.first, self.zone)
    }

    /// The first instant after the last day (the end, exclusive).
    pub fn ends(&self) -> DateTime<Tz> {
        day_start(self.last + Duration::days(1), self.zone)
    }

    /// The period of as many days just before this one, for comparisons.
    pub fn previous(&self) -> Period {
        let days = Duration::days(self.day_count());
        Period {
            first: self.first - days,
            last: self.last - days,
            zone: self.zone,
        }
    }

    /// `2026-11-01` or `2026-11-01 to 2026-11-05`, then the zone in parentheses.
    pub fn describe(&self) -> String {
        if self.first == self.last {
            format!("{} ({})", self.first, self.zone.name())
        } else {
            format!("{} to {} ({})", self.first, self.last, self.zone.name())
        }
    }

    /// Each local day's bounds, in order.
    pub fn days(&self) -> Vec<DayBounds> {
        self.first
            .iter_days()
            .take_while(|day| *day <= self.last)
            .map(|day| DayBounds {
                day,
                starts_at: day_start(day, self.zone).naive_utc(),
                ends_at: day_start(day + Duration::days(1), self.zone).naive_utc(),
            })
            .collect()
    }

    /// Each local hour's bounds, in order: every stretch of a day between two local
    /// hour marks, also split where the UTC offset changes (so an hour can be shorter,
    /// like 02:30 to 03:00 in Australia/Lord_Howe on a change of half an hour).
    pub fn hours(&self) -> Vec<HourBounds> {
        let mut hours = Vec::with_capacity(self.day_count() as usize * 24);
        for day in self.days() {
            let ends = day.ends_at.and_utc();
            let mut starts = day.starts_at.and_utc();
            while starts < ends {
                let next = next_hour_mark(starts, self.zone).min(ends);
                let next = offset_change(starts, next, self.zone).unwrap_or(next);
                hours.push(hour_bounds(day.day, starts, next, self.zone));
                starts = next;
            }
        }
        hours
    }
}

/// The first instant of `date` in `zone`: local midnight, or, where midnight falls in
/// a gap of a daylight-saving change, the first local time after the gap.
pub fn day_start(date: NaiveDate, zone: Tz) -> DateTime<Tz> {
    let mut local = date.and_time(NaiveTime::MIN);
    // A gap is at most a day long (Pacific/Apia skipped 2011-12-30), so this ends.
    for _ in 0..=2 * 24 * 60 {
        match zone.from_local_datetime(&local) {
            LocalResult::Single(instant) => return instant,
            LocalResult::Ambiguous(earliest, _) => return earliest,
            LocalResult::None => local += Duration::minutes(1),
        }
    }
    zone.from_utc_datetime(&date.and_time(NaiveTime::MIN))
}

/// The next instant after `instant` at which the local clock shows a full hour.
fn next_hour_mark(instant: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let local = instant.with_timezone(&zone);
    let into_hour = i64::from(local.minute() * 60 + local.second());
    instant + Duration::seconds(3_600 - into_hour)
}

/// The first instant in `(starts, ends)` whose UTC offset differs from that at `starts`.
fn offset_change(starts: DateTime<Utc>, ends: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
    let offset = |instant: DateTime<Utc>| instant.with_timezone(&zone).offset().fix();
    let before = offset(starts);
    if offset(ends - Duration::seconds(1)) == before {
        return None;
    }
    let (mut same, mut changed) = (starts, ends - Duration::seconds(1));
    while changed - same > Duration::seconds(1) {
        let middle = same + (changed - same) / 2;
        if offset(middle) == before {
            same = middle;
        } else {
            changed = middle;
        }
    }
    Some(changed)
}

fn hour_bounds(day: NaiveDate, starts: DateTime<Utc>, ends: DateTime<Utc>, zone: Tz) -> HourBounds {
    let local = starts.with_timezone(&zone);
    let offset_seconds = local.offset().fix().local_minus_utc();
    let utc_offset = local.format("%:z").to_string();
    HourBounds {
        day,
        hour: format!("{}{utc_offset}", local.format("%H:%M")),
        starts_at: starts.naive_utc(),
        ends_at: ends.naive_utc(),
        utc_offset,
        utc_offset_minutes: offset_seconds / 60,
    }
}

/// An IANA time zone such as `America/New_York`, or `UTC`.
pub fn parse_zone(text: &str) -> Result<Tz, String> {
    text.parse::<Tz>().map_err(|_| {
        format!("unknown time zone '{text}'; use an IANA name such as America/New_York, Europe/Paris or UTC")
    })
}

/// A calendar date written `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("invalid date '{text}'; write it as YYYY-MM-DD, e.g. 2026-11-01"))
}

/// The local day before the one `now` falls in, in `zone`: what a nightly job reports on.
pub fn yesterday(now: DateTime<Utc>, zone: Tz) -> NaiveDate {
    now.with_timezone(&zone).date_naive() - Duration::days(1)
}

/// A UTC instant as the local time of `zone`, `2026-11-01T01:00:00-05:00`.
pub fn local_rfc3339(instant: NaiveDateTime, zone: Tz) -> String {
    zone.from_utc_datetime(&instant)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    fn zone(name: &str) -> Tz {
        parse_zone(name).unwrap()
    }

    fn labels(period: &Period) -> Vec<String> {
        period.hours().into_iter().map(|hour| hour.hour).collect()
    }

    fn one_day(day: &str, name: &str) -> Period {
        Period::new(date(day), date(day), zone(name)).unwrap()
    }

    #[test]
    fn the_day_daylight_saving_ends_in_new_york_has_25_hours() {
        let period = one_day("2026-11-01", "America/New_York");
        let hours = period.hours();
        assert_eq!(hours.len(), 25);
        assert_eq!(
            labels(&period)[..4],
            ["00:00-04:00", "01:00-04:00", "01:00-05:00", "02:00-05:00"]
        );
        assert_eq!(hours[0].starts_at.to_string(), "2026-11-01 04:00:00");
        assert_eq!(hours[2].starts_at.to_string(), "2026-11-01 06:00:00");
        assert_eq!(hours[24].ends_at.to_string(), "2026-11-02 05:00:00");
        assert_eq!(hours[1].utc_offset_minutes, -240);
        assert_eq!(hours[2].utc_offset_minutes, -300);
        let days = period.days();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].starts_at.to_string(), "2026-11-01 04:00:00");
        assert_eq!(days[0].ends_at.to_string(), "2026-11-02 05:00:00");
    }

    #[test]
    fn the_day_daylight_saving_starts_has_23_hours() {
        let period = one_day("2026-03-08", "America/New_York");
        assert_eq!(period.hours().len(), 23);
        assert_eq!(labels(&period)[1..3], ["01:00-05:00", "03:00-04:00"]);
    }

    #[test]
    fn utc_days_have_24_hours_every_day() {
        let period = Period::new(date("2026-11-01"), date("2026-11-02"), Tz::UTC).unwrap();
        let hours = period.hours();
        assert_eq!(hours.len(), 48);
        assert_eq!(hours[0].hour, "00:00+00:00");
        assert_eq!(hours[47].hour, "23:00+00:00");
        assert_eq!(hours[47].day, date("2026-11-02"));
    }

    #[test]
    fn a_change_of_half_an_hour_gives_a_short_hour() {
        // Lord Howe Island moves from +10:30 to +11:00 at 02:00 local time.
        let period = one_day("2026-10-04", "Australia/Lord_Howe");
        assert_eq!(
            labels(&period)[1..4],
            ["01:00+10:30", "02:30+11:00", "03:00+11:00"]
        );
        let hours = period.hours();
        assert_eq!(hours[2].ends_at - hours[2].starts_at, Duration::minutes(30));
    }

    #[test]
    fn half_hour_zones_keep_their_local_hour_marks() {
        let period = one_day("2026-11-01", "Asia/Kolkata");
        let hours = period.hours();
        assert_eq!(hours.len(), 24);
        assert_eq!(hours[0].hour, "00:00+05:30");
        assert_eq!(hours[0].starts_at.to_string(), "2026-10-31 18:30:00");
    }

    #[test]
    fn a_day_whose_midnight_does_not_exist_starts_after_the_gap() {
        // Cuba springs forward at midnight: 2026-03-08 starts at 01:00.
        let period = one_day("2026-03-08", "America/Havana");
        assert_eq!(labels(&period)[0], "01:00-04:00");
        assert_eq!(period.hours().len(), 23);
    }

    #[test]
    fn a_skipped_day_is_empty() {
        // Samoa skipped 2011-12-30 when it moved across the date line.
        let period = one_day("2011-12-30", "Pacific/Apia");
        let days = period.days();
        assert_eq!(days[0].starts_at, days[0].ends_at);
        assert!(period.hours().is_empty());
    }

    #[test]
    fn previous_is_as_many_days_just_before() {
        let period = Period::new(
            date("2026-11-01"),
            date("2026-11-03"),
            zone("America/New_York"),
        )
        .unwrap();
        let previous = period.previous();
        assert_eq!(
            (previous.first(), previous.last()),
            (date("2026-10-29"), date("2026-10-31"))
        );
        assert_eq!(previous.ends(), period.starts());
        assert_eq!(
            Period::ending(date("2026-11-14"), 14, Tz::UTC).first(),
            date("2026-11-01")
        );
    }

    #[test]
    fn yesterday_is_local() {
        let now = DateTime::parse_from_rfc3339("2026-11-02T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(yesterday(now, Tz::UTC), date("2026-11-01"));
        assert_eq!(yesterday(now, zone("America/New_York")), date("2026-10-31"));
    }

    #[test]
    fn bad_input_is_explained() {
        assert_eq!(
            parse_zone("Mars/Olympus").unwrap_err(),
            "unknown time zone 'Mars/Olympus'; use an IANA name such as America/New_York, Europe/Paris or UTC"
        );
        assert_eq!(
            parse_date("2026-13-01").unwrap_err(),
            "invalid date '2026-13-01'; write it as YYYY-MM-DD, e.g. 2026-11-01"
        );
        assert_eq!(
            Period::new(date("2026-11-05"), date("2026-11-01"), Tz::UTC).unwrap_err(),
            "the period starts (--from 2026-11-05) after it ends (--to 2026-11-01)"
        );
    }
}
