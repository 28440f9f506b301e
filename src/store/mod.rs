//! Store: the fourth stage (discover -> parse -> normalize -> **store** -> report).
//!
//! The only module that talks to DuckDB. It opens the archive (waiting for another
//! process's lock up to a timeout), keeps its schema current, serves the file ledger
//! to discovery, and writes import results in crash-safe batches. It also writes the
//! archive as Parquet for `export`, and reads such a lake as if it were an archive
//! (`parquet`).

mod archive_files;
pub mod backup;
pub mod blocks;
mod c_api;
mod cells;
mod compaction;
mod ledger;
pub mod parquet;
pub mod query;
pub mod report_inputs;
pub mod runs;
mod sandbox;
mod schema;
pub mod verify;
pub mod writer;

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use duckdb::Connection;

use crate::problem::{printable, shown};
use archive_files::Found;
pub(crate) use c_api::RawConnection;
pub use c_api::RawError;
use c_api::{Database, Opened};

pub use archive_files::ArchiveFiles;
pub use compaction::{Compaction, LedgerFile, MovedFile, Pending as PendingCompaction};
pub use ledger::LedgerReader;
pub use schema::SCHEMA_VERSION;

/// What can go wrong with the archive itself (not with input files).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the archive {} is locked by another process ({holder}); gave up after {waited_secs} s. \
         Retry when it has finished, or pass --lock-timeout SECONDS to wait longer",
        shown(path)
    )]
    Locked {
        path: PathBuf,
        holder: String,
        waited_secs: u64,
    },
    #[error(
        "there is no archive at {}; create it with `postback-archive import PATH...` (or pass --db)",
        shown(path)
    )]
    Missing { path: PathBuf },
    #[error("--db is empty; pass the path of the archive file (such as postbacks.duckdb)")]
    EmptyPath,
    #[error(
        "--db {} is DuckDB's in-memory database, which keeps nothing once the command ends; \
         pass the path of the archive file (such as postbacks.duckdb)",
        printable(given)
    )]
    InMemory { given: String },
    #[error(
        "--db {}: the archive's file name is not UTF-8 (shown with �), and DuckDB \
         names a database after its file; rename the file, or pass a symbolic link to it \
         whose name is UTF-8",
        shown(path)
    )]
    NotUtf8Name { path: PathBuf },
    #[error(
        "{} is {what}, not a postback archive; pass the archive's file with --db \
         (or, for `import`, a path where nothing is yet)",
        shown(path)
    )]
    Foreign { path: PathBuf, what: String },
    #[error(
        "{} is a DuckDB database but not a postback archive: it holds {holds} but no \
         archive_meta table, so postback-archive leaves it alone. Pass the archive's file with \
         --db (or, for `import`, a path where nothing is yet)",
        shown(path)
    )]
    NotAnArchive { path: PathBuf, holds: String },
    #[error(
        "{} is an empty DuckDB database, not a postback archive yet; import postbacks into it \
         first (`postback-archive import PATH...`)",
        shown(path)
    )]
    EmptyDatabase { path: PathBuf },
    #[error(
        "the archive {} has schema version {found}, newer than this postback-archive supports \
         ({supported}); upgrade postback-archive",
        shown(path)
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "the archive {} has schema version {found}; open it once for writing (run `import`) to upgrade it",
        shown(path)
    )]
    NeedsUpgrade { path: PathBuf, found: u32 },
    #[error(
        "the archive {}'s schema version is unreadable ({}); it was damaged or not written by \
         postback-archive, so it is left alone. Restore it from a backup, or pass another --db",
        shown(path),
        match value {
            Some(value) => format!("archive_meta holds schema_version \"{}\"", printable(value)),
            None => "archive_meta holds no schema_version".to_string(),
        }
    )]
    UnreadableVersion {
        path: PathBuf,
        value: Option<String>,
    },
    /// A folder given with `--allow-dir` cannot be granted to SQL.
    #[error(
        "--allow-dir {} cannot be granted: {reason}. SQL may never reach the archive; grant a \
         folder that neither holds it nor links to it, such as a folder of exports beside it",
        shown(dir)
    )]
    Grant { dir: PathBuf, reason: String },
    /// The archive cannot be opened in the sandbox for SQL.
    #[error("cannot run SQL on the archive {} safely: {reason}", shown(path))]
    Unprotectable { path: PathBuf, reason: String },
    #[error("cannot open the archive {}: {message}", shown(path))]
    Open { path: PathBuf, message: String },
    /// The archive's file is damaged (cut short, a block that fails its checksum):
    /// nothing is done to it, and the message says how to get a sound archive back.
    #[error("{}", damaged(path, what))]
    Damaged { path: PathBuf, what: String },
    /// Writing import results failed (DuckDB's message).
    #[error("{0}")]
    Write(#[from] c_api::RawError),
    #[error(transparent)]
    Db(#[from] duckdb::Error),
}

/// What every command says of a damaged archive: where, what, and the two ways back.
pub fn damaged(path: &Path, what: &str) -> String {
    format!(
        "the archive {} is damaged: {what}. {DAMAGE_NAMED}. Restore it \
         from your last backup (copy the file `postback-archive backup` wrote back over it), or \
         import the raw postback files into a new archive (postback-archive --db NEW.duckdb \
         import DIR...)",
        shown(path)
    )
}

/// Words of [`damaged`]'s message, by which a message that already names the damage
/// is told from DuckDB's own.
pub const DAMAGE_NAMED: &str = "postback-archive changed nothing in it";

/// The damage of the archive at `path`, when it has some, as found by reading every
/// block in use (for a command that failed with DuckDB's words for damage, to say
/// exactly what is damaged). `None` for a sound archive, or no DuckDB file at all.
pub fn find_damage(path: &Path) -> Option<String> {
    if !matches!(archive_files::inspect(path), Ok(Found::DuckDb)) {
        return None;
    }
    match blocks::check_every_block(path) {
        Ok((_, damage)) => damage.first().map(ToString::to_string),
        Err(blocks::BlockError::Damaged(damage)) => Some(damage.to_string()),
        Err(_) => None,
    }
}

/// What to say of an error `message` (whose innermost cause is `cause`) that a
/// command met on the archive at `path`, when it met damage: DuckDB's own words for
/// damage, or its "Unknown error code" once it has given up on the file, confirmed and
/// made exact by reading the archive's blocks. `None` for any other error, and for one
/// that names the damage already.
pub fn damage_said(path: &Path, message: &str, cause: &str) -> Option<String> {
    let signs = is_damage(message) || message.contains("Unknown error code");
    if message.contains(DAMAGE_NAMED) || !signs {
        return None;
    }
    match find_damage(path) {
        Some(what) => Some(damaged(path, &what)),
        None if is_damage(message) => {
            let said = without_private_names(path, cause);
            Some(damaged(path, &format!("DuckDB says: {said}")))
        }
        None => None,
    }
}

/// `message` with the name the archive at `path` has in the private folder of a
/// sandbox of this process (see `sandbox`) replaced by `path`, for a message given
/// after the archive was closed.
pub fn without_private_names(path: &Path, message: &str) -> String {
    match ArchiveFiles::locate(path) {
        Ok(files) => message.replace(
            &*sandbox::private_link(&files).to_string_lossy(),
            &shown(path),
        ),
        Err(_) => message.to_string(),
    }
}

/// An open archive. The database (with its connection) is declared before the sandbox,
/// so it is closed before the sandbox's private folder goes.
pub struct Archive {
    opened: Opened,
    sandbox: Option<sandbox::Sandbox>,
    files: ArchiveFiles,
    path: PathBuf,
}

impl Archive {
    /// Open (creating if needed) for writing: waits up to `lock_timeout` while another
    /// process holds the database, calling `on_wait` once with the holder's description.
    /// Applies pending schema migrations and refreshes the reference tables. A path
    /// that holds something other than a DuckDB database, or a DuckDB database of
    /// someone else's, is refused and left as it was.
    pub fn open_for_write(
        path: &Path,
        lock_timeout: Duration,
        on_wait: impl FnOnce(&str),
    ) -> Result<Self, StoreError> {
        if archive_files::inspect(path)? == Found::DuckDb {
            check_structure(path)?;
        }
        let archive = Archive::open_unsandboxed(path, false, lock_timeout, on_wait)?;
        schema::prepare(archive.connection(), path)?;
        Ok(archive)
    }

    /// Open `path` (checked already) read-only or for writing, by its own name.
    fn open_unsandboxed(
        path: &Path,
        read_only: bool,
        lock_timeout: Duration,
        on_wait: impl FnOnce(&str),
    ) -> Result<Self, StoreError> {
        let settings = settings(read_only);
        let database = open_waiting(path, lock_timeout, on_wait, || {
            Database::open(path, &settings).map_err(|error| error.to_string())
        })?;
        Ok(Archive {
            opened: Opened::new(database)?,
            sandbox: None,
            files: ArchiveFiles::locate(path)?,
            path: path.to_path_buf(),
        })
    }

    /// Open an archive that exists for writing, as [`Archive::open_for_write`] does,
    /// for commands that read it and record what they did (`export`): a path where
    /// nothing is yet is refused rather than made an archive.
    pub fn open_existing_for_write(
        path: &Path,
        lock_timeout: Duration,
        on_wait: impl FnOnce(&str),
    ) -> Result<Self, StoreError> {
        require_existing(path)?;
        Archive::open_for_write(path, lock_timeout, on_wait)
    }

    /// Open read-only, for queries and reports, in a sandbox: no SQL run on it can
    /// change, replace or delete the archive, its WAL or the folder holding them, and
    /// SQL reaches files only inside the folders of `grants` (`--allow-dir`), none of
    /// which may hold the archive (see `sandbox`). Waits like
    /// [`Archive::open_for_write`] while a writer holds it.
    pub fn open_read_only(
        path: &Path,
        lock_timeout: Duration,
        grants: &[PathBuf],
        on_wait: impl FnOnce(&str),
    ) -> Result<Self, StoreError> {
        require_existing(path)?;
        check_structure(path)?;
        let files = ArchiveFiles::locate(path)?;
        let (database, sandbox) = sandbox::open(&files, path, grants, lock_timeout, on_wait)?;
        let opened = Opened::new(database)?;
        schema::check_readable(opened.connection(), path)?;
        Ok(Archive {
            opened,
            sandbox: Some(sandbox),
            files,
            path: path.to_path_buf(),
        })
    }

    /// Open read-only for postback-archive's own SQL (`verify`, `backup`), outside the
    /// sandbox: no SQL of the user's runs on it, so it needs neither the private folder
    /// nor a writable folder. Waits like [`Archive::open_for_write`] while a writer
    /// holds it, and holds DuckDB's shared lock while open, so that no import writes
    /// meanwhile.
    pub fn open_for_checks(
        path: &Path,
        lock_timeout: Duration,
        on_wait: impl FnOnce(&str),
    ) -> Result<Self, StoreError> {
        require_existing(path)?;
        check_structure(path)?;
        let archive = Archive::open_unsandboxed(path, true, lock_timeout, on_wait)?;
        schema::check_readable(archive.connection(), path)?;
        Ok(archive)
    }

    /// The database itself, for what only the C API offers (statement counts, appenders).
    pub(in crate::store) fn database(&self) -> &Database {
        self.opened.database()
    }

    /// The archive's connection, for the store's own modules only: it is made from a
    /// raw handle, and a copy kept or cloned (`try_clone`) past the archive would use
    /// a closed database.
    pub(in crate::store) fn connection(&self) -> &Connection {
        self.opened.connection()
    }

    /// The value of one SQL expression as text (`NULL` for none), for unit tests
    /// outside the store.
    #[cfg(test)]
    pub(crate) fn test_value(&self, sql: &str) -> String {
        self.connection()
            .query_row(&format!("SELECT CAST(({sql}) AS VARCHAR)"), [], |row| {
                row.get::<_, Option<String>>(0)
            })
            .expect("a test's SQL runs")
            .unwrap_or_else(|| "NULL".to_string())
    }

    /// An empty archive in memory, for unit tests of the store.
    #[cfg(test)]
    pub(crate) fn in_memory() -> Archive {
        let database = Database::open(Path::new(":memory:"), &[]).expect("an in-memory database");
        let opened = Opened::new(database).expect("a connection");
        Archive {
            opened,
            sandbox: None,
            files: ArchiveFiles::default(),
            path: PathBuf::from(":memory:"),
        }
    }

    /// A second connection, for the import writer's bulk appends (see
    /// [`writer::ImportWriter`]); it borrows the archive, so it cannot outlive it.
    pub(crate) fn writer_connection(&self) -> Result<RawConnection<'_>, StoreError> {
        self.opened
            .database()
            .raw_connection()
            .map_err(StoreError::Write)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every path that holds the archive: commands check their output paths against
    /// it, so that no result is ever written over the archive.
    pub fn files(&self) -> &ArchiveFiles {
        &self.files
    }

    /// Whether SQL runs in the sandbox (the archive was opened read-only).
    pub fn is_sandboxed(&self) -> bool {
        self.sandbox.is_some()
    }

    /// `message` (DuckDB's) with the archive's name in the sandbox's private folder
    /// replaced by the name the user gave: a message names the archive, never the
    /// private link it was opened through.
    pub fn without_private_names(&self, message: &str) -> String {
        match self.sandbox.as_ref().and_then(sandbox::Sandbox::link) {
            Some(link) => message.replace(&*link.to_string_lossy(), &shown(&self.path)),
            None => message.to_string(),
        }
    }
}

/// What DuckDB says when a database file it reads is damaged: a block that fails its
/// checksum, a file shorter than its blocks, or any error after such a one (DuckDB then
/// refuses every further statement).
const DAMAGE_SIGNS: [&str; 4] = [
    "Corrupt database file",
    "Could not read enough bytes from file",
    "database has been invalidated because of a previous fatal error",
    "not a valid DuckDB database file",
];

/// Refuse a path where nothing is, for the commands that only read an archive.
fn require_existing(path: &Path) -> Result<(), StoreError> {
    if archive_files::inspect(path)? == Found::Nothing {
        return Err(StoreError::Missing {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Whether DuckDB's `message` says that a database file is damaged.
pub fn is_damage(message: &str) -> bool {
    DAMAGE_SIGNS.iter().any(|sign| message.contains(sign))
}

/// Check the archive's headers, free list and length before DuckDB opens it (see
/// [`blocks::check_structure`]): a damaged archive is named as such and left alone,
/// rather than opened, answered from (DuckDB answers `count(*)` from its headers) or
/// written to. A layout this build does not know is left to DuckDB.
fn check_structure(path: &Path) -> Result<(), StoreError> {
    match blocks::check_structure(path) {
        Err(blocks::BlockError::Damaged(damage)) => Err(StoreError::Damaged {
            path: path.to_path_buf(),
            what: damage.to_string(),
        }),
        _ => Ok(()),
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

/// [`STORAGE_VERSION`] as users name DuckDB releases: DuckDB 1.5 and later open the
/// archives this build writes (`--version` says so).
pub const STORAGE_VERSION_OPENED_BY: &str = "1.5";

/// The version of the DuckDB library this build embeds (`v2.0.1`), as DuckDB itself
/// reports it, for `--version`.
pub fn duckdb_version() -> Result<String, StoreError> {
    Ok(Connection::open_in_memory()?.version()?)
}

/// Open a database with `attempt`, waiting up to `lock_timeout` while another
/// process holds its lock (`on_wait` is told who, once).
fn open_waiting(
    path: &Path,
    lock_timeout: Duration,
    on_wait: impl FnOnce(&str),
    mut attempt: impl FnMut() -> Result<Database, String>,
) -> Result<Database, StoreError> {
    let started = Instant::now();
    let mut on_wait = Some(on_wait);
    loop {
        let message = match attempt() {
            Ok(database) => return Ok(database),
            Err(message) => message,
        };
        let Some(holder) = lock_holder(&message) else {
            if is_damage(&message) {
                return Err(StoreError::Damaged {
                    path: path.to_path_buf(),
                    what: format!("DuckDB says: {message}"),
                });
            }
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

/// Reads the holder, "/usr/bin/x (PID 42) by user me", out of DuckDB's message
/// "Could not set lock on file …: Conflicting lock is held in /usr/bin/x (PID 42) by
/// user me. However, you would be able to open … See also …": the program and its
/// process id, then the user when DuckDB names one, and nothing of the hints after.
fn lock_holder(message: &str) -> Option<String> {
    if !message.contains("Could not set lock on file") {
        return None;
    }
    let unknown = || "unknown process".to_string();
    let Some(rest) = message.split("Conflicting lock is held in ").nth(1) else {
        return Some(unknown());
    };
    let Some((program, pid_and_rest)) = rest.split_once("(PID ") else {
        return Some(unknown());
    };
    let Some((pid, after)) = pid_and_rest.split_once(')') else {
        return Some(unknown());
    };
    let program = format!("{}(PID {pid})", program);
    let user = after
        .strip_prefix(" by user ")
        .map(|tail| {
            let user = tail.split_once(". ").map_or(tail, |(user, _)| user);
            user.trim_end_matches('.')
        })
        .filter(|user| !user.is_empty());
    let holder = match user {
        Some(user) => format!("{} by user {}", program.trim(), user),
        None => program.trim().to_string(),
    };
    Some(printable(&holder).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_storage_version_names_the_releases_that_open_it() {
        let release = STORAGE_VERSION.trim_start_matches('v');
        assert!(
            release.starts_with(&format!("{STORAGE_VERSION_OPENED_BY}.")),
            "{STORAGE_VERSION} is opened by DuckDB {STORAGE_VERSION_OPENED_BY}"
        );
    }

    #[test]
    fn reads_the_lock_holder_from_duckdbs_message() {
        let message = "IO Error: Could not set lock on file \"/tmp/a.duckdb\": Conflicting lock is held in /usr/bin/postback-archive (PID 4242) by user ops. See also https://duckdb.org/docs/stable/connect/concurrency";
        assert_eq!(
            lock_holder(message).unwrap(),
            "/usr/bin/postback-archive (PID 4242) by user ops"
        );
        assert_eq!(lock_holder("Catalog Error: no table"), None);
    }

    #[test]
    fn the_lock_holder_leaves_duckdbs_hints_out() {
        let hinted = "IO Error: Could not set lock on file \"/tmp/a.duckdb\": Conflicting lock is held in /usr/bin/postback-archive (PID 4242) by user ops. However, you would be able to open this database in read-only mode, e.g. by using the -readonly parameter in the CLI. See also https://duckdb.org/docs/current/connect/concurrency";
        let no_user = "IO Error: Could not set lock on file \"/tmp/a.duckdb\": Conflicting lock is held in /opt/x.y/duckdb (PID 7). See also https://duckdb.org";
        let unknown = "IO Error: Could not set lock on file \"/tmp/a.duckdb\": Resource temporarily unavailable";
        let holders = [hinted, no_user, unknown].map(|message| lock_holder(message).unwrap());
        assert_eq!(
            holders,
            [
                "/usr/bin/postback-archive (PID 4242) by user ops",
                "/opt/x.y/duckdb (PID 7)",
                "unknown process"
            ]
        );
    }
}
