//! Store, helper: the `import_runs` row of each import, from start to finish.

use duckdb::types::{TimeUnit, Value};
use duckdb::{Connection, params};

use super::{Archive, StoreError};

/// Counters of one import run, as stored in `import_runs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounters {
    pub files_seen: u64,
    pub files_skipped: u64,
    pub files_read: u64,
    pub files_other: u64,
    /// Folders listed because they may have changed.
    pub folders_listed: u64,
    /// Folders not listed: unchanged since a run read them whole.
    pub folders_unchanged: u64,
    pub postbacks_new: u64,
    pub postbacks_duplicate: u64,
    pub errors: u64,
}

/// Where a run is, as stored in `import_runs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Still importing, or killed without a chance to say so (the next run marks it
    /// `interrupted`).
    Running,
    /// Every input imported cleanly.
    Ok,
    /// Some inputs had problems; they are in `import_errors`.
    Errors,
    /// Stopped before the end, by a signal or a kill; the batches it committed stay.
    Interrupted,
    /// The run itself failed (the archive could not be written, or a bug).
    Failed,
}

impl RunStatus {
    const ALL: [RunStatus; 5] = [
        RunStatus::Running,
        RunStatus::Ok,
        RunStatus::Errors,
        RunStatus::Interrupted,
        RunStatus::Failed,
    ];

    /// The status a stored name stands for; `None` for a name no version wrote.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }

    /// The name stored in `import_runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Errors => "errors",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Archive {
    /// Start a run: runs still marked `running` died without finishing (this process
    /// holds the write lock now), so they are marked `interrupted` first.
    pub fn begin_run(&self, roots: &[String]) -> Result<i32, StoreError> {
        begin_run(self.connection(), roots)
    }

    /// Close a run with its status; `counters` are the final ones, or `None` for a
    /// run that failed, whose row keeps the counts of the batches it committed.
    pub fn finish_run(
        &self,
        run_id: i32,
        counters: Option<&RunCounters>,
        status: RunStatus,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        finish_run(self.connection(), run_id, counters, status, message)
    }
}

fn begin_run(conn: &Connection, roots: &[String]) -> Result<i32, StoreError> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    conn.execute(
        "UPDATE import_runs SET status = ? WHERE status = ?",
        params![RunStatus::Interrupted.as_str(), RunStatus::Running.as_str()],
    )?;
    let run_id: i32 = conn.query_row(
        "SELECT coalesce(max(run_id), 0) + 1 FROM import_runs",
        [],
        |row| row.get(0),
    )?;
    // A JSON array of strings: serde_json cannot fail on it.
    let roots_list = serde_json::to_string(roots).unwrap_or_else(|_| "[]".to_string());
    conn.execute(
        "INSERT INTO import_runs (run_id, started_at, status, roots, tool_version)
         VALUES (?, ?, ?, CAST(?::JSON AS VARCHAR[]), ?)",
        params![
            run_id,
            utc_now(),
            RunStatus::Running.as_str(),
            roots_list,
            env!("CARGO_PKG_VERSION")
        ],
    )?;
    conn.execute_batch("COMMIT")?;
    Ok(run_id)
}

/// Store the counters so far; called inside each batch's transaction, so an
/// interrupted run still shows what it committed.
fn update_counters(conn: &Connection, run_id: i32, c: &RunCounters) -> Result<(), StoreError> {
    conn.execute_batch(&counters_sql(run_id, c))?;
    Ok(())
}

/// The `UPDATE` of a run's counters. Built as text (from numbers only) because the
/// import writer runs it on a connection that has no prepared statements.
pub fn counters_sql(run_id: i32, c: &RunCounters) -> String {
    format!(
        "UPDATE import_runs SET files_seen = {}, files_skipped = {}, files_read = {}, files_other = {},
                folders_listed = {}, folders_unchanged = {},
                postbacks_new = {}, postbacks_duplicate = {}, errors = {}
         WHERE run_id = {run_id}",
        c.files_seen, c.files_skipped, c.files_read, c.files_other, c.folders_listed,
        c.folders_unchanged, c.postbacks_new, c.postbacks_duplicate, c.errors
    )
}

fn finish_run(
    conn: &Connection,
    run_id: i32,
    counters: Option<&RunCounters>,
    status: RunStatus,
    message: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    if let Some(counters) = counters {
        update_counters(conn, run_id, counters)?;
    }
    conn.execute(
        "UPDATE import_runs SET status = ?, finished_at = ?, message = ? WHERE run_id = ?",
        params![status.as_str(), utc_now(), message, run_id],
    )?;
    conn.execute_batch("COMMIT")?;
    Ok(())
}

/// The current time as a UTC `TIMESTAMP` value. Computed here rather than with SQL
/// `now()`, whose TIMESTAMPTZ would need the ICU extension to convert.
pub fn utc_now() -> Value {
    Value::Timestamp(TimeUnit::Microsecond, chrono::Utc::now().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::RunStatus;

    #[test]
    fn every_status_reads_back_from_its_stored_name_and_no_other_name_does() {
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::from_name(status.as_str()), Some(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        assert_eq!(RunStatus::from_name("OK"), None);
        assert_eq!(RunStatus::from_name(""), None);
    }
}
