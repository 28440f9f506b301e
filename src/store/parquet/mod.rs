//! Store, helper: the archive as Parquet files (store -> **lake**). What DuckDB does
//! for `export` (the rows still to export, written to a staging folder, and the record
//! of what went where) and for reading a lake (`query` and `report` with `--lake`: the
//! archive's tables and views, built over the lake's files).
//!
//! Where the files go, under which names, and how they are put in place is the lake
//! stage's business (`crate::lake`); this module only runs SQL.

mod columns;
pub mod export;
pub mod read;

pub use columns::{LakeTable, POSTBACKS, TableKind, lake_tables};

use std::path::PathBuf;

use super::{StoreError, shown};

/// What can go wrong while DuckDB writes or reads a lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error(
        "column {table}.{column} has type {type_name}, which the lake has no rule for; \
         postback-archive cannot export this archive (a newer version may)"
    )]
    UnsupportedColumn {
        table: String,
        column: String,
        type_name: String,
    },
    /// The archive has no `archive_id` (every archive gets one when it is opened for
    /// writing, so only a damaged one lacks it).
    #[error(
        "the archive has no archive_id in archive_meta, which names its files in a lake; \
         it was damaged. Restore it from a backup"
    )]
    NoArchiveId,
    /// The lake's folder holds the archive, or links to it: SQL, which may read the
    /// lake, could reach the archive.
    #[error(
        "--lake {} cannot be read: {reason}. SQL may never reach the archive; keep the lake \
         in a folder that neither holds the archive nor links to it",
        shown(lake)
    )]
    HoldsArchive { lake: PathBuf, reason: String },
    /// A path DuckDB must be given as text is not UTF-8.
    #[error("the path {0} is not UTF-8, which DuckDB cannot take; use another folder")]
    NotUtf8(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Db(#[from] duckdb::Error),
}
