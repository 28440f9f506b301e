//! Store: the fourth stage (discover -> parse -> normalize -> **store** -> report).
//!
//! The only module that talks to DuckDB. It opens the archive (waiting for another
//! process's lock up to a timeout), keeps its schema current, serves the file ledger
//! to discovery, and writes import results in crash-safe batches.

mod cells;
mod ledger;
pub mod query;
pub mod raw;
pub mod report;
pub mod runs;
mod schema;
pub mod writer;

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use duckdb::Connection;

use raw::Database;
pub use raw::RawConnection;

pub use schema::SCHEMA_VERSION;

/// What can go wrong with the archive itself (not with input files).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the archive {path} is locked by another process ({holder}); gave up after {waited_secs} s. \
         Retry when it has finished, or pass --lock-timeout SECONDS to wait longer"
    )]
    Locked {
        path: PathBuf,
        holder: String,
        waited_secs: u64,
    },
    #[error(
        "there is no archive at {path}; create it with `postback-archive import PATH...` (or pass --db)"
    )]
    Missing { path: PathBuf },
    #[error(
        "{path} is a DuckDB database but not a postback archive (it has no archive_meta table)"
    )]
    NotAnArchive { path: PathBuf },
    #[error(
        "the archive {path} has schema version {found}, newer than this postback-archive supports \
         ({supported}); upgrade postback-archive"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "the archive {path} has schema version {found}; open it once for writing (run `import`) to upgrade it"
    )]
    NeedsUpgrade { path: PathBuf, found: u32 },
    #[error("cannot open the archive {}: {message}", path.display())]
    Open { path: PathBuf, message: String },
    /// Writing import results failed (DuckDB's message).
    #[error("{0}")]
    Write(String),
    #[error(transparent)]
    Db(#[from] duckdb::Error),
}

/// An open archive. The connection is declared before the database so that it is
/// dropped first.
pub struct Archive {
    conn: Connection,
    database: Database,
    path: PathBuf,
}

impl Archive {
    /// Open (creating if needed) for writing: waits up to `lock_timeout` while another
    /// process holds the database, calling `on_wait` once with the holder's description.
    /// Applies pending schema migrations and refreshes the reference tables.
    pub fn open_for_write(
        path: &Path,
        lock_timeout: Duration,
        on_wait: impl FnOnce(&str),
    ) -> Result<Self, StoreError> {
        let database = open_waiting(path, false, lock_timeout, on_wait)?;
        let conn = database.connection()?;
        schema::prepare(&conn, path)?;
        Ok(Archive {
            conn,
            database,
            path: path.to_path_buf(),
        })
    }

    /// Open read-only, for queries and reports: never changes the archive. Waits like
    /// [`Archive::open_for_write`] while a writer holds it.
    pub fn open_read_only(
        path: &Path,
        lock_timeout: Duration,
        on_wait: impl FnOnce(&str),
    ) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let database = open_waiting(path, true, lock_timeout, on_wait)?;
        let conn = database.connection()?;
        schema::check_readable(&conn, path)?;
        Ok(Archive {
            conn,
            database,
            path: path.to_path_buf(),
        })
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// An empty archive in memory, for unit tests of the store.
    #[cfg(test)]
    pub(crate) fn in_memory() -> Archive {
        let database = Database::open(Path::new(":memory:"), &[]).expect("an in-memory database");
        let conn = database.connection().expect("a connection");
        Archive {
            conn,
            database,
            path: PathBuf::from(":memory:"),
        }
    }

    /// A second connection, for the import writer's bulk appends (see [`writer::ImportWriter`]).
    pub fn writer_connection(&self) -> Result<RawConnection<'_>, StoreError> {
        self.database.raw_connection().map_err(StoreError::Write)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Settings of every connection: no extension is ever downloaded or auto-loaded, so
/// the tool never reaches for the network, and an archive this version creates is
/// written in DuckDB 1.5's storage format, so the DuckDB 1.5 CLI and Python `duckdb` 1.5
/// still open it (DuckDB 2.0's own format is unreadable to them; an existing archive
/// keeps the format it has).
fn settings(read_only: bool) -> [(&'static str, &'static str); 4] {
    let mode = if read_only { "READ_ONLY" } else { "READ_WRITE" };
    [
        ("access_mode", mode),
        ("autoload_known_extensions", "false"),
        ("autoinstall_known_extensions", "false"),
        ("storage_compatibility_version", STORAGE_VERSION),
    ]
}

/// The oldest DuckDB release whose storage format new archives use (see [`settings`]).
pub const STORAGE_VERSION: &str = "v1.5.0";

fn open_waiting(
    path: &Path,
    read_only: bool,
    lock_timeout: Duration,
    on_wait: impl FnOnce(&str),
) -> Result<Database, StoreError> {
    let started = Instant::now();
    let mut on_wait = Some(on_wait);
    loop {
        let message = match Database::open(path, &settings(read_only)) {
            Ok(database) => return Ok(database),
            Err(message) => message,
        };
        let Some(holder) = lock_holder(&message) else {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                message,
            });
        };
        if started.elapsed() >= lock_timeout {
            let waited_secs = started.elapsed().as_secs();
            return Err(StoreError::Locked {
                path: path.to_path_buf(),
                holder,
                waited_secs,
            });
        }
        if let Some(on_wait) = on_wait.take() {
            on_wait(&holder);
        }
        thread::sleep(Duration::from_millis(200).min(lock_timeout));
    }
}

/// Reads "Conflicting lock is held in /usr/bin/x (PID 42) by user me" out of DuckDB's message.
fn lock_holder(message: &str) -> Option<String> {
    if !message.contains("Could not set lock on file") {
        return None;
    }
    let holder = message
        .split("Conflicting lock is held in ")
        .nth(1)
        .map(|rest| {
            rest.split(". See also")
                .next()
                .unwrap_or(rest)
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| "unknown process".to_string());
    Some(holder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lock_holder_from_duckdbs_message() {
        let message = "IO Error: Could not set lock on file \"/tmp/a.duckdb\": Conflicting lock is held in /usr/bin/postback-archive (PID 4242) by user ops. See also https://duckdb.org/docs/stable/connect/concurrency";
        assert_eq!(
            lock_holder(message).unwrap(),
            "/usr/bin/postback-archive (PID 4242) by user ops"
        );
        assert_eq!(lock_holder("Catalog Error: no table"), None);
    }
}
