//! Report: the last stage (discover -> parse -> normalize -> store -> **report**).
//!
//! A report is one SQL file that starts with a [`header`] naming it, describing it and
//! declaring its parameters. The canned reports are compiled in from `sql/reports/`
//! through the [`registry`]; users add their own from a folder. A report runs for a
//! [`period`] of whole local days in a time zone: the period's UTC bounds are bound to
//! its `$parameters` and its local days and hours are handed to it as tables
//! ([`crate::store::report_inputs`]). [`folder`] plans every report of a day or any
//! span of days as one folder, which [`crate::output`] writes.

mod facts;
pub mod folder;
pub mod header;
mod page;
pub mod period;
pub mod registry;
mod run;
mod summary;

use std::path::PathBuf;

pub use facts::during;
pub use registry::{Catalog, Report, Source};
pub use run::{Collected, run_report};

use crate::output::OutputError;
use crate::problem::shown;
use crate::store::StoreError;

/// What can go wrong while finding, running or writing reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A report file's header cannot be read, or its name cannot be used.
    #[error("{}:{line}: {message}", shown(path))]
    Header {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cannot read the reports folder {}", shown(path))]
    ReportsDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the report {}", shown(path))]
    ReportFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("unknown report `{name}`; `postback-archive report list` shows the reports")]
    Unknown { name: String },
    /// DuckDB could not run the report: its own message.
    #[error("report {report} failed: {message}")]
    Sql { report: String, message: String },
    /// The span of `report period` cannot be a period.
    #[error("{message}")]
    Period { message: String },
    /// A report's SQL is not exactly one statement.
    #[error("{}: {message}", shown(path))]
    NotOneStatement { path: PathBuf, message: String },
    /// `report daily` or `report period` would replace or clean up a folder that holds
    /// the archive.
    #[error(
        "{} holds the archive {}, and a report folder is replaced whole; pass an \
         --out-dir whose report folders do not hold the archive",
        shown(folder),
        shown(archive)
    )]
    FolderHoldsArchive { folder: PathBuf, archive: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Output(#[from] OutputError),
}
