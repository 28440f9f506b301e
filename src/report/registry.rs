//! Report, helper: the registry of reports (store -> **report**): the canned ones,
//! compiled into the binary from `sql/reports/`, then the user's own from a folder.

use std::path::{Path, PathBuf};

use super::ReportError;
use super::header::{self, Header};

/// Compiles each named `sql/reports/NAME.sql` into the binary: a missing file is a
/// build error, not a surprise at run time.
macro_rules! canned_reports {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../sql/reports/", $name, ".sql")))),*]
    };
}

/// Every canned report, in the order `report list` prints them and `report daily`
/// writes them: name (the file's stem) and SQL text.
pub const CANNED: &[(&str, &str)] = canned_reports![
    "key-figures",
    "pass-volume",
    "pass-volume-hourly",
    "failure-codes",
    "failure-reasons",
    "failure-trend",
    "carrier-delivery",
    "delivery-latency",
    "subscriptions",
    "retries",
    "import-health",
];

/// Names `report daily` uses for its own files, which no report may take.
const RESERVED: [&str; 3] = ["summary", "manifest", "index"];

/// Where a report comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Canned,
    /// A file of the user's reports folder.
    User(PathBuf),
}

/// A report: its header and its SQL (the whole file, header included).
#[derive(Debug, Clone)]
pub struct Report {
    pub header: Header,
    pub sql: String,
    pub source: Source,
}

impl Report {
    pub fn name(&self) -> &str {
        &self.header.name
    }

    /// `canned`, or the file's path.
    pub fn source_label(&self) -> String {
        match &self.source {
            Source::Canned => "canned".to_string(),
            Source::User(path) => path.display().to_string(),
        }
    }
}

/// The reports a command can run: the canned ones, then the user's.
#[derive(Debug)]
pub struct Catalog {
    reports: Vec<Report>,
}

impl Catalog {
    /// The canned reports plus every `*.sql` file of `user_dir`, sorted by name. Any
    /// file that is not a valid report makes this fail, naming the file and line.
    pub fn load(user_dir: Option<&Path>) -> Result<Self, ReportError> {
        let mut reports = Vec::with_capacity(CANNED.len());
        for (name, sql) in CANNED {
            let path = PathBuf::from(format!("sql/reports/{name}.sql"));
            let header = parse_header(&path, sql)?;
            reports.push(Report {
                header,
                sql: sql.to_string(),
                source: Source::Canned,
            });
        }
        if let Some(dir) = user_dir {
            for path in report_files(dir)? {
                let report = user_report(&path, &reports)?;
                reports.push(report);
            }
        }
        Ok(Catalog { reports })
    }

    pub fn reports(&self) -> &[Report] {
        &self.reports
    }

    /// The report called `name`.
    pub fn find(&self, name: &str) -> Result<&Report, ReportError> {
        self.reports
            .iter()
            .find(|report| report.name() == name)
            .ok_or_else(|| ReportError::Unknown {
                name: name.to_string(),
            })
    }
}

/// The `*.sql` files directly in `dir`, sorted by name.
fn report_files(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let unreadable = |source| ReportError::ReportsDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if path.extension().is_some_and(|ext| ext == "sql") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn user_report(path: &Path, known: &[Report]) -> Result<Report, ReportError> {
    let sql = std::fs::read_to_string(path).map_err(|source| ReportError::ReportFile {
        path: path.to_path_buf(),
        source,
    })?;
    let header = parse_header(path, &sql)?;
    let line = name_line(&sql);
    let invalid = |message: String| ReportError::Header {
        path: path.to_path_buf(),
        line,
        message,
    };
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    if header.name != stem {
        return Err(invalid(format!(
            "the report is named `{}` but its file is {stem}.sql; give them the same name",
            header.name
        )));
    }
    if RESERVED.contains(&header.name.as_str()) {
        return Err(invalid(format!(
            "the name `{}` is reserved for report daily's own files ({}); choose another",
            header.name,
            RESERVED.join(", ")
        )));
    }
    if known.iter().any(|report| report.name() == header.name) {
        return Err(invalid(format!(
            "`{}` is the name of a canned report; choose another",
            header.name
        )));
    }
    Ok(Report {
        header,
        sql,
        source: Source::User(path.to_path_buf()),
    })
}

fn parse_header(path: &Path, sql: &str) -> Result<Header, ReportError> {
    header::parse(sql).map_err(|error| ReportError::Header {
        path: path.to_path_buf(),
        line: error.line,
        message: error.message,
    })
}

/// The line of the `-- name:` entry, where a problem with the name is reported.
fn name_line(sql: &str) -> usize {
    sql.lines()
        .position(|line| {
            let entry = line.trim_start().trim_start_matches('-').trim_start();
            entry.starts_with("name:") || entry.starts_with("name :")
        })
        .map_or(1, |index| index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_canned_report_has_a_valid_header_named_after_its_file() {
        let catalog = Catalog::load(None).unwrap();
        let names: Vec<&str> = catalog.reports().iter().map(Report::name).collect();
        let files: Vec<&str> = CANNED.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, files);
        for report in catalog.reports() {
            assert!(!RESERVED.contains(&report.name()), "{}", report.name());
            // Which clock dates the rows: the send's, the receipt's, the postback's own.
            assert!(!report.header.dated_by.is_empty(), "{}", report.name());
        }
    }

    #[test]
    fn an_unknown_name_says_where_to_look() {
        let catalog = Catalog::load(None).unwrap();
        assert_eq!(
            catalog.find("nope").unwrap_err().to_string(),
            "unknown report `nope`; `postback-archive report list` shows the reports"
        );
    }
}
