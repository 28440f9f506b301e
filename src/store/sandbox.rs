//! Store, helper: the sandbox in which `query` and the reports run SQL (store ->
//! report). Nothing they run can change, replace or delete the archive, its WAL or the
//! folder holding them.
//!
//! The archive is opened read-only, so SQL cannot change its tables. But DuckDB's SQL
//! also writes files (`COPY … TO`, `ATTACH`, `EXPORT DATABASE`), and a file written over
//! the archive, or beside it under its WAL's name, replaces or damages it. So:
//!
//! - External access is turned off and the configuration locked before any SQL of
//!   the user's runs: SQL reaches files only inside the folders granted with
//!   `--allow-dir`, none of which may hold the archive ([`ArchiveFiles::check_grant`]).
//! - DuckDB still lets SQL reach the database's own path and its `.wal`,
//!   `.wal.checkpoint` and `.wal.recovery` names, with symbolic links resolved. So the
//!   archive is opened through hard links in a private folder beside it
//!   (`.NAME.PID.sql`, mode 0700), which DuckDB does not resolve to the archive's
//!   name; once DuckDB holds the file open (a read-only database never opens it by
//!   name again), the links are removed. The names DuckDB allows are then names in the
//!   private folder that lead nowhere: a `COPY` to one creates a stray file there, which
//!   goes with the folder when the archive is closed. DuckDB's temporary files go to
//!   that folder too.
//! - Where the archive's folder cannot hold the private folder (it is not writable),
//!   no new file can appear beside the archive either; the archive is then opened by
//!   its own name, which is safe only if the archive file itself is not writable: if
//!   it is, the command is refused.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::archive_files::{ArchiveFiles, COMPANION_SUFFIXES, identity, with_suffix};
use super::c_api::Database;
use super::{StoreError, open_waiting, settings, shown};

/// Settings SQL may still change once the configuration is locked: they only decide
/// how fast a query runs and how much memory it may take.
const ALLOWED_SETTINGS: [&str; 3] = ["threads", "memory_limit", "preserve_insertion_order"];

/// The private folder of an open archive, removed (with whatever SQL wrote into it)
/// when the archive is closed.
pub(super) struct Sandbox {
    folder: PathBuf,
    /// The archive's name in the folder, when it is opened through hard links.
    link: Option<PathBuf>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.folder);
    }
}

/// Open the archive `files` (named `given` on the command line) read-only in the
/// sandbox, granting SQL the folders `grants`.
pub(super) fn open(
    files: &ArchiveFiles,
    given: &Path,
    grants: &[PathBuf],
    lock_timeout: Duration,
    on_wait: impl FnOnce(&str),
) -> Result<(Database, Sandbox), StoreError> {
    let granted = granted_folders(files, grants)?;
    let unprotectable = |reason: String| StoreError::Unprotectable {
        path: given.to_path_buf(),
        reason,
    };
    let sandbox = Sandbox::create(files).map_err(&unprotectable)?;
    let temp = sandbox.folder.join("tmp");
    let temp = temp
        .to_str()
        .ok_or_else(|| unprotectable(format!("the path {} is not UTF-8", shown(&temp))))?;
    let mut config: Vec<(&str, &str)> = settings(true).to_vec();
    config.push(("temp_directory", temp));
    let database = open_waiting(given, lock_timeout, on_wait, || match &sandbox.link {
        Some(link) => open_linked(files, link, &config),
        None => Database::open(files.file(), &config).map_err(|error| error.to_string()),
    })
    .map_err(|error| sandbox.named_as(error, given))?;
    lock_down(&database, &granted).map_err(&unprotectable)?;
    if let Some(link) = &sandbox.link {
        unlink_archive(link).map_err(&unprotectable)?;
    }
    Ok((database, sandbox))
}

impl Sandbox {
    /// The archive's name in the private folder, when it was opened through links.
    pub(super) fn link(&self) -> Option<&Path> {
        self.link.as_deref()
    }

    /// `error` with the archive's private link named as the user named the archive.
    fn named_as(&self, error: StoreError, given: &Path) -> StoreError {
        let Some(link) = &self.link else {
            return error;
        };
        let rename = |text: String| text.replace(&*link.to_string_lossy(), &shown(given));
        match error {
            StoreError::Damaged { path, what } => StoreError::Damaged {
                path,
                what: rename(what),
            },
            StoreError::Open { path, message } => StoreError::Open {
                path,
                message: rename(message),
            },
            other => other,
        }
    }

    /// The private folder beside the archive, with the archive linked into it; or,
    /// where the archive's folder is not writable, one in the system's temporary folder.
    fn create(files: &ArchiveFiles) -> Result<Sandbox, String> {
        let Some(folder) = create_private_folder(files)? else {
            return direct_sandbox(files);
        };
        let link = folder.join(files.file().file_name().unwrap_or_default());
        let sandbox = Sandbox {
            folder,
            link: Some(link.clone()),
        };
        link_archive(files, &link)?;
        Ok(sandbox)
    }
}

/// The granted folders, checked and made canonical, as a SQL list literal.
pub(super) fn granted_folders(
    files: &ArchiveFiles,
    grants: &[PathBuf],
) -> Result<String, StoreError> {
    let mut literals = Vec::with_capacity(grants.len());
    for dir in grants {
        let canonical = files.check_grant(dir)?;
        let Some(text) = canonical.to_str() else {
            return Err(StoreError::Grant {
                dir: dir.clone(),
                reason: "its path is not UTF-8, which DuckDB cannot take".to_string(),
            });
        };
        literals.push(format!("'{}'", text.replace('\'', "''")));
    }
    Ok(format!("[{}]::VARCHAR[]", literals.join(", ")))
}

/// This process's private folder beside the archive, `.NAME.PID.sql`.
fn private_folder(files: &ArchiveFiles) -> PathBuf {
    let name = files
        .file()
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    files
        .folder()
        .join(format!(".{name}.{}.sql", std::process::id()))
}

/// The archive's name in this process's private folder.
pub(super) fn private_link(files: &ArchiveFiles) -> PathBuf {
    private_folder(files).join(files.file().file_name().unwrap_or_default())
}

/// Create `.NAME.PID.sql` beside the archive (after removing those of killed runs);
/// `None` when the archive's folder is not writable.
fn create_private_folder(files: &ArchiveFiles) -> Result<Option<PathBuf>, String> {
    let name = files
        .file()
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let parent = files.folder();
    clean_up_after_killed_runs(parent, &name);
    let folder = private_folder(files);
    if folder.exists() {
        // Left by a killed run that had this process id.
        let _ = fs::remove_dir_all(&folder);
    }
    match private_dir(&folder) {
        Ok(()) => Ok(Some(folder)),
        Err(error) if cannot_write(&error) => Ok(None),
        Err(error) => Err(format!(
            "cannot create the private folder {}: {error}",
            shown(&folder)
        )),
    }
}

/// When the archive's folder is not writable, no file can appear beside the archive:
/// opening it by its own name is safe if the file itself cannot be written either.
fn direct_sandbox(files: &ArchiveFiles) -> Result<Sandbox, String> {
    if is_writable(files.file()) {
        return Err(format!(
            "its folder {} is not writable, so postback-archive cannot shield it, and the \
             archive file itself is writable, so SQL could overwrite it. Make the archive \
             read-only (chmod a-w), or let this user write to its folder",
            shown(files.folder())
        ));
    }
    Sandbox::in_temp_dir()
}

impl Sandbox {
    /// A private folder in the system's temporary folder, for a database that is not
    /// the archive (a lake's views live in memory), or for an archive opened by its
    /// own name.
    pub(super) fn in_temp_dir() -> Result<Sandbox, String> {
        let folder = std::env::temp_dir().join(format!(
            "postback-archive-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_nanos())
        ));
        private_dir(&folder).map_err(|error| {
            format!(
                "cannot create the private folder {}: {error}",
                shown(&folder)
            )
        })?;
        Ok(Sandbox { folder, link: None })
    }

    /// The folder DuckDB may spill to.
    pub(super) fn temp_directory(&self) -> PathBuf {
        self.folder.join("tmp")
    }
}

/// Hard-link the archive and each of its companions that exists into the private
/// folder as `link`, `link.wal`, …, replacing links of an earlier attempt.
fn link_archive(files: &ArchiveFiles, link: &Path) -> Result<(), String> {
    for suffix in std::iter::once("").chain(COMPANION_SUFFIXES) {
        let (real, linked) = (with_suffix(files.file(), suffix), with_suffix(link, suffix));
        let _ = fs::remove_file(&linked);
        if suffix.is_empty() || real.exists() {
            fs::hard_link(&real, &linked).map_err(|error| {
                format!(
                    "cannot link it into the private folder beside it ({error}); \
                     SQL could otherwise reach it by name"
                )
            })?;
        }
    }
    Ok(())
}

/// Remove the links, once DuckDB holds the archive open.
fn unlink_archive(link: &Path) -> Result<(), String> {
    for suffix in std::iter::once("").chain(COMPANION_SUFFIXES) {
        let linked = with_suffix(link, suffix);
        match fs::remove_file(&linked) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                return Err(format!("cannot remove {}: {error}", shown(&linked)));
            }
            _ => {}
        }
    }
    Ok(())
}

/// One attempt to open the archive through its links. A writer may have changed the
/// WAL between linking and opening: then the links are made again and the archive
/// opened again, so DuckDB never replays a WAL the writer has since removed.
fn open_linked(
    files: &ArchiveFiles,
    link: &Path,
    config: &[(&str, &str)],
) -> Result<Database, String> {
    for _ in 0..ATTEMPTS {
        link_archive(files, link)?;
        let database = Database::open(link, config).map_err(|error| error.to_string())?;
        let unchanged = std::iter::once("").chain(COMPANION_SUFFIXES).all(|suffix| {
            identity(&with_suffix(files.file(), suffix)) == identity(&with_suffix(link, suffix))
        });
        if unchanged {
            return Ok(database);
        }
    }
    Err(format!(
        "its WAL kept changing while it was opened ({ATTEMPTS} attempts); retry"
    ))
}

/// How many times [`open_linked`] tries before giving up.
const ATTEMPTS: usize = 10;

/// Grant the folders, turn external access off and lock the configuration, then
/// check that DuckDB took it.
pub(super) fn lock_down(database: &Database, granted: &str) -> Result<(), String> {
    database
        .with_connection(|conn| lock_down_with(conn, granted))
        .map_err(|error| error.to_string())?
}

fn lock_down_with(conn: &duckdb::Connection, granted: &str) -> Result<(), String> {
    let allowed: Vec<String> = ALLOWED_SETTINGS
        .iter()
        .map(|name| format!("'{name}'"))
        .collect();
    conn.execute_batch(&format!(
        "SET allowed_directories = {granted};
         SET enable_external_access = false;
         SET allowed_configs = [{}];
         SET lock_configuration = true;",
        allowed.join(", ")
    ))
    .map_err(|error| format!("DuckDB refused the sandbox settings: {error}"))?;
    let locked: bool = conn
        .query_row(
            "SELECT NOT current_setting('enable_external_access')::BOOLEAN
                AND current_setting('lock_configuration')::BOOLEAN",
            [],
            |row| row.get(0),
        )
        .map_err(|error| error.to_string())?;
    if locked {
        Ok(())
    } else {
        Err("DuckDB did not turn external access off".to_string())
    }
}

/// Remove the private folders that killed runs left beside the archive (those of
/// processes no longer running).
fn clean_up_after_killed_runs(parent: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|entry_name| entry_name.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix(".sql"))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !crate::disk::process_is_running(pid) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

fn cannot_write(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// Whether this process may open `path` for writing.
fn is_writable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok()
    }
    #[cfg(not(unix))]
    {
        fs::metadata(path).is_ok_and(|metadata| !metadata.permissions().readonly())
    }
}
