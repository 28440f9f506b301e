//! Store: the fourth stage (discover -> parse -> normalize -> **store** -> report).
//!
//! The only module that talks to DuckDB. It opens the archive (waiting for another
//! process's lock up to a timeout), keeps its schema current, serves the file ledger
//! to discovery, and writes import results in crash-safe batches.

mod ledger;
pub mod query;
pub mod report;
pub mod runs;
mod schema;
pub mod writer;

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use duckdb::{AccessMode, Config, Connection};

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
    #[error("cannot open the archive {}", path.display())]
    Open {
        path: PathBuf,
        source: duckdb::Error,
    },
    #[error(transparent)]
    Db(#[from] duckdb::Error),
}

/// An open archive.
pub struct Archive {
    conn: Connection,
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
        let conn = open_waiting(path, false, lock_timeout, on_wait)?;
        schema::prepare(&conn, path)?;
        Ok(Archive {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Open read-only, for queries and reports: never changes the archive.
    pub fn open_read_only(path: &Path, lock_timeout: Duration) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let conn = open_waiting(path, true, lock_timeout, |_| {})?;
        schema::check_readable(&conn, path)?;
        Ok(Archive {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Settings every connection gets: no extension is ever downloaded or auto-loaded,
/// so the tool never reaches for the network.
fn config(read_only: bool) -> Result<Config, StoreError> {
    let mode = if read_only {
        AccessMode::ReadOnly
    } else {
        AccessMode::ReadWrite
    };
    Ok(Config::default()
        .access_mode(mode)?
        .enable_autoload_extension(false)?
        .with("autoinstall_known_extensions", "false")?)
}

fn open_waiting(
    path: &Path,
    read_only: bool,
    lock_timeout: Duration,
    on_wait: impl FnOnce(&str),
) -> Result<Connection, StoreError> {
    let started = Instant::now();
    let mut on_wait = Some(on_wait);
    loop {
        let error = match Connection::open_with_flags(path, config(read_only)?) {
            Ok(conn) => return Ok(conn),
            Err(error) => error,
        };
        let Some(holder) = lock_holder(&error.to_string()) else {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                source: error,
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
