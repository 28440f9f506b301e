//! Store, helper: what a report needs from the archive besides its own SQL
//! (store -> **report**): the local days and hours of its period as TEMP tables, and
//! the state of the archive for a report's manifest.
//!
//! This DuckDB has no time-zone support (no ICU), and the archive holds UTC
//! `TIMESTAMP`s, so the report stage computes where each local day and hour of a
//! period starts and ends, and this module hands those bounds to SQL:
//!
//! - `report_days(day DATE, starts_at TIMESTAMP, ends_at TIMESTAMP)`
//! - `report_hours(day DATE, hour VARCHAR, starts_at TIMESTAMP, ends_at TIMESTAMP,
//!   utc_offset VARCHAR, utc_offset_minutes INTEGER)`
//! - the macro `local_time(ts)`: a UTC instant inside the period as local text,
//!   `2026-11-01 01:20:00-05:00` (NULL outside the period).
//!
//! TEMP tables live in the connection, not in the file, so they work on an archive
//! opened read-only.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use duckdb::params;
use duckdb::types::{TimeUnit, Value};

use super::runs::RunStatus;
use super::{Archive, StoreError};

/// One local day of a period, as UTC instants: `starts_at <= t < ends_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayBounds {
    pub day: NaiveDate,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
}

/// One local hour of a period, as UTC instants. A day has 23, 24 or 25 of them
/// across daylight-saving changes; `hour` is the local start with its offset
/// (`01:00-04:00`, then `01:00-05:00`), so repeated hours stay apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourBounds {
    pub day: NaiveDate,
    pub hour: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    /// The offset from UTC during this hour, `-04:00`.
    pub utc_offset: String,
    pub utc_offset_minutes: i32,
}

/// The last `import` run, for a report's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastImportRun {
    pub run_id: i64,
    pub status: RunStatus,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub files_read: i64,
    pub postbacks_new: i64,
    pub postbacks_duplicate: i64,
    pub errors: i64,
}

/// What the archive holds, as a report's manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveState {
    pub postbacks: i64,
    pub last_import_run: Option<LastImportRun>,
}

const PERIOD_TABLES: &str = "
CREATE OR REPLACE TEMP TABLE report_days (
    day DATE NOT NULL, starts_at TIMESTAMP NOT NULL, ends_at TIMESTAMP NOT NULL);
CREATE OR REPLACE TEMP TABLE report_hours (
    day DATE NOT NULL, hour VARCHAR NOT NULL, starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL, utc_offset VARCHAR NOT NULL, utc_offset_minutes INTEGER NOT NULL);
CREATE OR REPLACE TEMP MACRO local_time(ts) AS (
    SELECT strftime(ts + to_minutes(h.utc_offset_minutes), '%Y-%m-%d %H:%M:%S') || h.utc_offset
    FROM report_hours h
    WHERE ts >= h.starts_at AND ts < h.ends_at);
";

/// Replace the period tables and `local_time` with the bounds of a new period.
pub fn set_period(
    archive: &Archive,
    days: &[DayBounds],
    hours: &[HourBounds],
) -> Result<(), StoreError> {
    let conn = archive.connection();
    conn.execute_batch(PERIOD_TABLES)?;
    let mut insert_day = conn.prepare("INSERT INTO report_days VALUES (?::DATE, ?, ?)")?;
    for day in days {
        insert_day.execute(params![
            day.day.to_string(),
            timestamp(day.starts_at),
            timestamp(day.ends_at)
        ])?;
    }
    let mut insert_hour =
        conn.prepare("INSERT INTO report_hours VALUES (?::DATE, ?, ?, ?, ?, ?)")?;
    for hour in hours {
        insert_hour.execute(params![
            hour.day.to_string(),
            hour.hour,
            timestamp(hour.starts_at),
            timestamp(hour.ends_at),
            hour.utc_offset,
            hour.utc_offset_minutes
        ])?;
    }
    Ok(())
}

/// What the postbacks dated in a period are, for the notices of its reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeriodCounts {
    /// Postbacks dated in the period: by their own timestamp, or by their arrival.
    /// Zero means a report of that period has nothing to say, which its reader must
    /// be told.
    pub postbacks: i64,
    /// Of those, the ones without a timestamp of their own, dated by their arrival.
    pub dated_by_arrival: i64,
    /// Of those, the ones whose code or STATUS the documentation does not define.
    pub outcome_unknown: i64,
    /// Postbacks of the whole archive with neither a timestamp nor an arrival time:
    /// in no period at all.
    pub undated: i64,
}

/// Count the postbacks dated in `[from, to)` (see [`PeriodCounts`]).
pub fn period_counts(
    archive: &Archive,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<PeriodCounts, StoreError> {
    let counts = archive.connection().query_row(
        "SELECT count(*) FILTER (WHERE event_at >= ?1 AND event_at < ?2),
                count(*) FILTER (WHERE event_at >= ?1 AND event_at < ?2 AND dated_by = 'arrival'),
                count(*) FILTER (WHERE event_at >= ?1 AND event_at < ?2 AND outcome = 'unknown'),
                count(*) FILTER (WHERE event_at IS NULL)
         FROM postback_outcomes
         WHERE (event_at >= ?1 AND event_at < ?2) OR event_at IS NULL",
        params![timestamp(from), timestamp(to)],
        |row| {
            Ok(PeriodCounts {
                postbacks: row.get(0)?,
                dated_by_arrival: row.get(1)?,
                outcome_unknown: row.get(2)?,
                undated: row.get(3)?,
            })
        },
    )?;
    Ok(counts)
}

/// The postbacks dated in `[from, to)` by their arrival, counted by `status_code`
/// (`(none)` for a postback without one), most first: what the warning of a day
/// dominated by them lists.
pub fn dated_by_arrival_per_code(
    archive: &Archive,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut statement = archive.connection().prepare(
        "SELECT coalesce(status_code, '(none)') AS by_code, count(*) AS postbacks
         FROM postback_outcomes
         WHERE event_at >= ?1 AND event_at < ?2 AND dated_by = 'arrival'
         GROUP BY by_code
         ORDER BY postbacks DESC, by_code",
    )?;
    let rows = statement.query_map(params![timestamp(from), timestamp(to)], |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A stored run status; one that no version writes is an error naming it.
fn run_status(name: &str) -> duckdb::Result<RunStatus> {
    RunStatus::from_name(name).ok_or_else(|| {
        duckdb::Error::FromSqlConversionFailure(
            1,
            duckdb::types::Type::Text,
            format!("import_runs.status {name:?} is no run status").into(),
        )
    })
}

/// The number of postbacks and the last import run.
pub fn archive_state(archive: &Archive) -> Result<ArchiveState, StoreError> {
    let conn = archive.connection();
    let postbacks = conn.query_row("SELECT count(*) FROM postbacks", [], |row| row.get(0))?;
    let mut statement = conn.prepare(
        "SELECT run_id, status, epoch_us(started_at), epoch_us(finished_at), files_read,
                postbacks_new, postbacks_duplicate, errors
         FROM import_runs ORDER BY started_at DESC, run_id DESC LIMIT 1",
    )?;
    let mut rows = statement.query([])?;
    let last_import_run = match rows.next()? {
        None => None,
        Some(row) => Some(LastImportRun {
            run_id: row.get(0)?,
            status: run_status(&row.get::<_, String>(1)?)?,
            started_at: instant(row.get(2)?),
            finished_at: row.get::<_, Option<i64>>(3)?.map(instant),
            files_read: row.get(4)?,
            postbacks_new: row.get(5)?,
            postbacks_duplicate: row.get(6)?,
            errors: row.get(7)?,
        }),
    };
    Ok(ArchiveState {
        postbacks,
        last_import_run,
    })
}

fn timestamp(instant: NaiveDateTime) -> Value {
    Value::Timestamp(TimeUnit::Microsecond, instant.and_utc().timestamp_micros())
}

fn instant(micros: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .naive_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn local_time_uses_the_offset_of_the_hour_an_instant_falls_in() {
        let archive = Archive::in_memory();
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let hour = |label: &str, starts: &str, ends: &str, offset: &str, minutes| HourBounds {
            day,
            hour: label.to_string(),
            starts_at: at(starts),
            ends_at: at(ends),
            utc_offset: offset.to_string(),
            utc_offset_minutes: minutes,
        };
        let hours = [
            hour(
                "01:00-04:00",
                "2026-11-01 05:00",
                "2026-11-01 06:00",
                "-04:00",
                -240,
            ),
            hour(
                "01:00-05:00",
                "2026-11-01 06:00",
                "2026-11-01 07:00",
                "-05:00",
                -300,
            ),
        ];
        set_period(&archive, &[], &hours).unwrap();
        let local = |utc: &str| -> Option<String> {
            archive
                .connection()
                .query_row("SELECT local_time(?::TIMESTAMP)", params![utc], |row| {
                    row.get(0)
                })
                .unwrap()
        };
        assert_eq!(
            local("2026-11-01 05:20:00").as_deref(),
            Some("2026-11-01 01:20:00-04:00")
        );
        assert_eq!(
            local("2026-11-01 06:20:00").as_deref(),
            Some("2026-11-01 01:20:00-05:00")
        );
        assert_eq!(local("2026-11-01 07:00:00"), None);
    }
}
