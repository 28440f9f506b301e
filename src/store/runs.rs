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
    /// holds the write lock now), so they are marked `interrupted` first. The run's own
    /// row is written with its first commit (see [`RunStart`]).
    pub fn begin_run(&self, roots: &[String]) -> Result<RunStart, StoreError> {
        begin_run(self.connection(), roots)
    }

    /// Close a run with its status; `counters` are the final ones, or `None` for a
    /// run that failed, whose row keeps the counts of the batches it committed.
    pub fn finish_run(
        &self,
        run: &RunStart,
        counters: Option<&RunCounters>,
        status: RunStatus,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        finish_run(self.connection(), run, counters, status, message)
    }
}

/// A run begun: its number and what its row will say. The row is written in the same
/// transaction as the run's first batch (or its end), never alone before it, so a run
/// that fails before it commits anything (an archive found damaged where the first
/// batch appends) leaves the archive file exactly as it was.
#[derive(Debug, Clone)]
pub struct RunStart {
    pub run_id: i32,
    started_at_us: i64,
    roots: Vec<String>,
}

fn begin_run(conn: &Connection, roots: &[String]) -> Result<RunStart, StoreError> {
    let running: i64 = conn.query_row(
        "SELECT count(*) FROM import_runs WHERE status = ?",
        params![RunStatus::Running.as_str()],
        |row| row.get(0),
    )?;
    if running > 0 {
        conn.execute(
            "UPDATE import_runs SET status = ? WHERE status = ?",
            params![RunStatus::Interrupted.as_str(), RunStatus::Running.as_str()],
        )?;
    }
    let run_id: i32 = conn.query_row(
        "SELECT coalesce(max(run_id), 0) + 1 FROM import_runs",
        [],
        |row| row.get(0),
    )?;
    Ok(RunStart {
        run_id,
        started_at_us: chrono::Utc::now().timestamp_micros(),
        roots: roots.to_vec(),
    })
}

/// The `INSERT` of a run's row unless it is there already: its first commit writes it.
fn run_row_sql(run: &RunStart) -> String {
    // A JSON array of strings: serde_json cannot fail on it. Quoted as an SQL string
    // literal by doubling its single quotes (DuckDB strings have no other escape).
    let roots = serde_json::to_string(&run.roots).unwrap_or_else(|_| "[]".to_string());
    format!(
        "INSERT INTO import_runs (run_id, started_at, status, roots, tool_version)
         VALUES ({}, make_timestamp({}::BIGINT), '{}', CAST('{}'::JSON AS VARCHAR[]), '{}')
         ON CONFLICT DO NOTHING;",
        run.run_id,
        run.started_at_us,
        RunStatus::Running.as_str(),
        roots.replace('\'', "''"),
        env!("CARGO_PKG_VERSION")
    )
}

/// Store the counters so far; called inside each batch's transaction, so an
/// interrupted run still shows what it committed.
fn update_counters(conn: &Connection, run: &RunStart, c: &RunCounters) -> Result<(), StoreError> {
    conn.execute_batch(&counters_sql(run, c))?;
    Ok(())
}

/// The run's row, written if it is not there yet, and the `UPDATE` of its counters.
/// Built as text (numbers and quoted strings) because the import writer runs it on a
/// connection that has no prepared statements.
pub fn counters_sql(run: &RunStart, c: &RunCounters) -> String {
    let run_id = run.run_id;
    format!(
        "{}
         UPDATE import_runs SET files_seen = {}, files_skipped = {}, files_read = {}, files_other = {},
                folders_listed = {}, folders_unchanged = {},
                postbacks_new = {}, postbacks_duplicate = {}, errors = {}
         WHERE run_id = {run_id}",
        run_row_sql(run),
        c.files_seen, c.files_skipped, c.files_read, c.files_other, c.folders_listed,
        c.folders_unchanged, c.postbacks_new, c.postbacks_duplicate, c.errors
    )
}

fn finish_run(
    conn: &Connection,
    run: &RunStart,
    counters: Option<&RunCounters>,
    status: RunStatus,
    message: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    conn.execute_batch(&run_row_sql(run))?;
    if let Some(counters) = counters {
        update_counters(conn, run, counters)?;
    }
    conn.execute(
        "UPDATE import_runs SET status = ?, finished_at = ?, message = ? WHERE run_id = ?",
        params![status.as_str(), utc_now(), message, run.run_id],
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
    use super::*;
    use std::path::Path;

    #[test]
    fn a_run_is_written_with_its_first_commit_and_its_roots_read_back_as_given() {
        let archive = Archive::in_memory();
        super::super::schema::prepare(archive.connection(), Path::new(":memory:")).unwrap();
        let count = "SELECT count(*) FROM import_runs";
        let roots = ["it's/a folder".to_string(), "\\n;--".to_string()];
        let run = archive.begin_run(&roots).unwrap();
        assert_eq!(archive.test_value(count), "0");
        archive
            .finish_run(&run, None, RunStatus::Failed, Some("it's"))
            .unwrap();
        assert_eq!(
            archive.test_value("SELECT run_id || ' ' || status || ' ' || message FROM import_runs"),
            "1 failed it's"
        );
        assert_eq!(
            archive.test_value("SELECT roots[1] || '|' || roots[2] FROM import_runs"),
            "it's/a folder|\\n;--"
        );
        // The next run marks a run left `running` as interrupted.
        archive
            .connection()
            .execute_batch("UPDATE import_runs SET status = 'running'")
            .unwrap();
        assert_eq!(archive.begin_run(&[]).unwrap().run_id, 2);
        assert_eq!(
            archive.test_value("SELECT status FROM import_runs"),
            "interrupted"
        );
    }

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
