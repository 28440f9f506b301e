//! Lake: where `export` puts the archive (store -> **lake**), and what `--lake` reads.
//!
//! A lake is a folder of Hive-partitioned Parquet files that Spark, Trino, Athena and
//! DuckDB read, fed by one or more archives:
//!
//! ```text
//! _lake.json                                         format, lake version, lake id
//! postbacks/day=2026-11-01/ARCHIVE-run000001-0.parquet   one file per import run and UTC day
//! postbacks/day=__HIVE_DEFAULT_PARTITION__/…             postbacks without a time
//! duplicates/ARCHIVE-run000001-0.parquet                 one file per import run
//! import_errors/…, import_runs/…                         likewise
//! status_codes/ARCHIVE.parquet, carriers/ARCHIVE.parquet one file per archive
//! .staging-ARCHIVE/                                      an export in progress
//! ```
//!
//! ARCHIVE is the archive's id (32 hex characters), so archives never write the same
//! file. Files are written into the hidden staging folder (Spark skips names starting
//! with `.` or `_`, DuckDB's globs skip `.` only, and a `**` glob descends into hidden
//! folders, so the staged files also end in `.tmp`), then renamed into place: a reader
//! sees a whole file or none. This module owns the layout and the file operations;
//! [`export`] runs an export, with the store writing and recording the files.

pub mod export;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::problem::shown;
use crate::store::parquet::export::Placement;

/// The lake layout and column rules this build writes and reads (docs/reference.md, "The lake").
pub const LAKE_VERSION: u32 = 1;

/// The file at the root of every lake that says what it is.
const MANIFEST: &str = "_lake.json";

/// The `format` value of `_lake.json`.
const FORMAT: &str = "postback-archive lake";

/// What can go wrong with the lake's folder.
#[derive(Debug, thiserror::Error)]
pub enum LakeDirError {
    #[error("cannot {action} {}: {source}", shown(path))]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "{} is not a postback-archive lake: it holds files but no _lake.json, and export \
         does not write among other files. Export into a new or empty folder",
        shown(path)
    )]
    NotALake { path: PathBuf },
    #[error(
        "{} is not a postback-archive lake (it has no _lake.json); pass the folder that \
         `postback-archive export --to` wrote",
        shown(path)
    )]
    NoLake { path: PathBuf },
    #[error(
        "the lake's {} is unreadable ({message}); it was damaged or not written by \
         postback-archive. Restore it, or export into a new folder",
        shown(path)
    )]
    BadManifest { path: PathBuf, message: String },
    #[error(
        "the lake {} has version {found}, and this postback-archive reads and writes version \
         {LAKE_VERSION}; use the postback-archive that wrote it, or export into a new folder",
        shown(path)
    )]
    OtherVersion { path: PathBuf, found: u32 },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LakeDirError {
    let path = path.to_path_buf();
    move |source| LakeDirError::Io {
        action,
        path,
        source,
    }
}

/// `_lake.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    lake_version: u32,
    /// Random, created with the lake: the archives record what they exported under it.
    lake_id: String,
    created_at: String,
    about: String,
}

/// A lake's folder, found or created.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
    id: String,
}

impl Lake {
    /// The lake at `dir`, for an export: the folder and its `_lake.json` are created
    /// when missing. A folder that holds other files but no `_lake.json` is refused.
    pub fn create_or_open(dir: &Path) -> Result<Lake, LakeDirError> {
        fs::create_dir_all(dir).map_err(io_error("create the folder", dir))?;
        let root = fs::canonicalize(dir).map_err(io_error("open the folder", dir))?;
        let manifest = root.join(MANIFEST);
        if !manifest.exists() {
            if holds_other_files(&root)? {
                return Err(LakeDirError::NotALake {
                    path: dir.to_path_buf(),
                });
            }
            create_manifest(&manifest)?;
        }
        Lake::read(root, dir)
    }

    /// The existing lake at `dir`, for reading.
    pub fn open(dir: &Path) -> Result<Lake, LakeDirError> {
        let root = fs::canonicalize(dir).map_err(io_error("open the lake", dir))?;
        if !root.join(MANIFEST).exists() {
            return Err(LakeDirError::NoLake {
                path: dir.to_path_buf(),
            });
        }
        Lake::read(root, dir)
    }

    fn read(root: PathBuf, given: &Path) -> Result<Lake, LakeDirError> {
        let path = root.join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(io_error("read", &path))?;
        let bad = |message: String| LakeDirError::BadManifest {
            path: given.join(MANIFEST),
            message,
        };
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if manifest.format != FORMAT {
            return Err(bad(format!("its format is \"{}\"", manifest.format)));
        }
        if manifest.lake_version != LAKE_VERSION {
            return Err(LakeDirError::OtherVersion {
                path: given.to_path_buf(),
                found: manifest.lake_version,
            });
        }
        Ok(Lake {
            root,
            id: manifest.lake_id,
        })
    }

    /// The lake's folder, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The lake's id, from `_lake.json`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Every Parquet file an export wrote, by table: `TABLE/*.parquet` and, for a
    /// partitioned table, `TABLE/KEY=VALUE/*.parquet`, sorted. Hidden folders and
    /// files, and files not named as an export names them, are left out.
    pub fn files_by_table(&self) -> Result<BTreeMap<String, Vec<PathBuf>>, LakeDirError> {
        let mut tables = BTreeMap::new();
        for (name, path) in visible_entries(&self.root)? {
            if !path.is_dir() {
                continue;
            }
            let mut files = Vec::new();
            for (entry, entry_path) in visible_entries(&path)? {
                if entry_path.is_dir() && entry.contains('=') {
                    for (file, file_path) in visible_entries(&entry_path)? {
                        if is_exported_name(&file) {
                            files.push(file_path);
                        }
                    }
                } else if is_exported_name(&entry) {
                    files.push(entry_path);
                }
            }
            files.sort();
            tables.insert(name, files);
        }
        Ok(tables)
    }

    /// The empty staging folder of an archive's export: `.staging-ARCHIVE`, cleared
    /// of what a killed export left.
    pub fn staging_folder(&self, archive_id: &str) -> Result<PathBuf, LakeDirError> {
        let folder = self.root.join(format!(".staging-{archive_id}"));
        self.remove_staging(&folder)?;
        fs::create_dir_all(&folder).map_err(io_error("create the staging folder", &folder))?;
        Ok(folder)
    }

    /// Remove a staging folder and what is in it.
    pub fn remove_staging(&self, folder: &Path) -> Result<(), LakeDirError> {
        match fs::remove_dir_all(folder) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                Err(io_error("remove the staging folder", folder)(error))
            }
            _ => Ok(()),
        }
    }

    /// Put every staged file in place: each is flushed to disk, renamed to its
    /// target (replacing a file of that name), and the folders are flushed.
    pub fn place(&self, placements: &[Placement]) -> Result<(), LakeDirError> {
        let mut folders = Vec::new();
        for placement in placements {
            let staged = &placement.staged.path;
            File::open(staged)
                .and_then(|file| file.sync_all())
                .map_err(io_error("flush", staged))?;
            let target = self.root.join(&placement.target);
            if let Some(folder) = target.parent()
                && !folders.iter().any(|known: &PathBuf| known == folder)
            {
                fs::create_dir_all(folder).map_err(io_error("create the folder", folder))?;
                folders.push(folder.to_path_buf());
            }
            fs::rename(staged, &target).map_err(io_error("put in place", &target))?;
        }
        for folder in &folders {
            sync_folder(folder)?;
        }
        Ok(())
    }

    /// Remove the files at `targets` (relative to the root); those already gone
    /// are fine.
    pub fn remove(&self, targets: &[&str]) -> Result<(), LakeDirError> {
        for target in targets {
            let path = self.root.join(target);
            match fs::remove_file(&path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => {
                    return Err(io_error("remove", &path)(error));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Where a staged file goes, relative to the lake's folder:
/// `postbacks/day=2026-11-01/ARCHIVE-run000012-0.parquet`, `duplicates/ARCHIVE-run000012-0.parquet`,
/// `status_codes/ARCHIVE.parquet`. `index` numbers the files of one table, run and day.
pub fn target_name(
    table: &str,
    partition: Option<&str>,
    archive_id: &str,
    run_id: Option<i32>,
    index: usize,
) -> String {
    let file = match run_id {
        Some(run_id) => format!("{archive_id}-run{run_id:06}-{index}.parquet"),
        None => format!("{archive_id}.parquet"),
    };
    match partition {
        Some(partition) => format!("{table}/{partition}/{file}"),
        None => format!("{table}/{file}"),
    }
}

/// The folder of a UTC day of `postbacks`; `None` is the engines' null partition.
pub fn day_partition(day: Option<&str>) -> String {
    format!("day={}", day.unwrap_or("__HIVE_DEFAULT_PARTITION__"))
}

/// Whether `name` is what an export names a file: 32 lowercase hex characters, then
/// `.parquet` or `-runNNNNNN-N.parquet`.
fn is_exported_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".parquet") else {
        return false;
    };
    let (id, rest) = stem.split_at_checked(32).unwrap_or(("", stem));
    let hex = id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let run_part = rest.is_empty()
        || rest
            .strip_prefix("-run")
            .and_then(|r| r.split_once('-'))
            .is_some_and(|(run, index)| {
                !run.is_empty()
                    && !index.is_empty()
                    && run.bytes().all(|b| b.is_ascii_digit())
                    && index.bytes().all(|b| b.is_ascii_digit())
            });
    hex && run_part
}

/// The entries of `dir` whose names neither Spark nor DuckDB hide (`.` or `_`
/// first), with their paths.
fn visible_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, LakeDirError> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error("list", dir))? {
        let entry = entry.map_err(io_error("list", dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !name.starts_with('.') && !name.starts_with('_') {
            entries.push((name, entry.path()));
        }
    }
    entries.sort();
    Ok(entries)
}

/// Whether `dir` holds anything but hidden (`.`) entries.
fn holds_other_files(dir: &Path) -> Result<bool, LakeDirError> {
    for entry in fs::read_dir(dir).map_err(io_error("list", dir))? {
        let entry = entry.map_err(io_error("list", dir))?;
        if !entry.file_name().as_encoded_bytes().starts_with(b".") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Write `_lake.json` unless another export has just done so.
fn create_manifest(path: &Path) -> Result<(), LakeDirError> {
    let manifest = Manifest {
        format: FORMAT.to_string(),
        lake_version: LAKE_VERSION,
        lake_id: random_id(),
        created_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        about: "Parquet files written by `postback-archive export`; docs/reference.md's \
                section \"The lake\" describes every table and column"
            .to_string(),
    };
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
    let mut file = match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(error) => return Err(io_error("create", path)(error)),
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error("write", path))?;
    if let Some(folder) = path.parent() {
        sync_folder(folder)?;
    }
    Ok(())
}

/// 32 random lowercase hex characters, from the system's random source.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    let filled = File::open("/dev/urandom").and_then(|mut source| {
        use std::io::Read;
        source.read_exact(&mut bytes)
    });
    if filled.is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let seed = now ^ (u128::from(std::process::id()) << 64);
        bytes = xxhash_rust::xxh3::xxh3_128(&seed.to_le_bytes()).to_le_bytes();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Flush a folder's entries to disk; a file system that cannot is left to itself.
fn sync_folder(folder: &Path) -> Result<(), LakeDirError> {
    match File::open(folder).and_then(|file| file.sync_all()) {
        Err(error)
            if !matches!(
                error.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Err(io_error("flush the folder", folder)(error))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn names_carry_the_archive_the_run_and_the_day() {
        assert_eq!(
            target_name(
                "postbacks",
                Some(&day_partition(Some("2026-11-01"))),
                ID,
                Some(12),
                0
            ),
            format!("postbacks/day=2026-11-01/{ID}-run000012-0.parquet")
        );
        assert_eq!(
            target_name("postbacks", Some(&day_partition(None)), ID, Some(1), 2),
            format!("postbacks/day=__HIVE_DEFAULT_PARTITION__/{ID}-run000001-2.parquet")
        );
        assert_eq!(
            target_name("carriers", None, ID, None, 0),
            format!("carriers/{ID}.parquet")
        );
    }

    #[test]
    fn only_names_an_export_gives_are_read() {
        assert!(is_exported_name(&format!("{ID}-run000012-0.parquet")));
        assert!(is_exported_name(&format!("{ID}-run1234567-10.parquet")));
        assert!(is_exported_name(&format!("{ID}.parquet")));
        for other in [
            "data_0.parquet".to_string(),
            format!("{ID}-run000012-0.parquet.tmp"),
            format!("{}.parquet", ID.to_uppercase()),
            format!("{ID}-run-0.parquet"),
            format!("{ID}x.parquet"),
        ] {
            assert!(!is_exported_name(&other), "{other}");
        }
    }

    #[test]
    fn lake_ids_are_32_lowercase_hex_characters_and_differ() {
        let (a, b) = (random_id(), random_id());
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
