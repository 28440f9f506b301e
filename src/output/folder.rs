//! Output, helper: a folder of reports written from the plan the report stage made
//! (report -> **output** -> files). The report stage says what the folder holds (each
//! report's rows, the summary, the manifest, the page); this module names the files,
//! picks their formats and writes them into a [`StagedFolder`] that appears whole,
//! replacing an earlier folder of the same name, or not at all.

use std::io;
use std::path::{Path, PathBuf};

use super::html::{self, HtmlDocument};
use super::{
    Destination, FileFormat, Format, MarkdownDocument, OutputError, StagedFolder, pretty_json,
};
use crate::value::{Cell, Column};

/// The name of the one HTML page of a report folder.
pub const PAGE_FILE: &str = "index.html";

/// Everything a report folder will hold, in the order it is written. Built by the
/// report stage; [`write_folder`] turns it into files.
#[derive(Debug)]
pub struct FolderPlan {
    /// The folder's name under its parent: `2026-11-03`, `2026-11-01_2026-11-07`.
    name: String,
    formats: Vec<FileFormat>,
    /// Each report's result, written once per row format.
    tables: Vec<Table>,
    files: Vec<PlannedFile>,
}

#[derive(Debug)]
struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
}

/// One file of the plan.
#[derive(Debug)]
struct PlannedFile {
    name: String,
    content: Content,
}

/// What a planned file holds, in the form its format is written from.
#[derive(Debug)]
enum Content {
    /// A report's rows (the plan's table at this index), in one of the row formats.
    Rows {
        format: Format,
        table: usize,
    },
    Markdown(String),
    Json(String),
    Page(Box<HtmlDocument>),
}

impl FolderPlan {
    /// An empty plan of the folder `name`, whose reports go out in `formats` (each once,
    /// in the order given; `html` asks for the one page).
    pub fn new(name: &str, formats: &[FileFormat]) -> Self {
        let mut unique: Vec<FileFormat> = Vec::with_capacity(formats.len());
        for format in formats {
            if !unique.contains(format) {
                unique.push(*format);
            }
        }
        FolderPlan {
            name: name.to_string(),
            formats: unique,
            tables: Vec::new(),
            files: Vec::new(),
        }
    }

    /// The folder's name under its parent.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the folder gets the HTML page (`--formats` has `html`).
    pub fn wants_page(&self) -> bool {
        self.formats.contains(&FileFormat::Html)
    }

    /// Plan the files of the report `report`: `REPORT.EXT` for each row format asked
    /// for, each holding `columns` and `rows`. Returns their names, in order.
    pub fn add_report(
        &mut self,
        report: &str,
        columns: Vec<Column>,
        rows: Vec<Vec<Cell>>,
    ) -> Vec<String> {
        let table = self.tables.len();
        self.tables.push(Table { columns, rows });
        let mut names = Vec::new();
        for file_format in &self.formats {
            let Some(format) = file_format.output_format() else {
                continue;
            };
            let name = format!("{report}.{}", file_format.extension());
            self.files.push(PlannedFile {
                name: name.clone(),
                content: Content::Rows { format, table },
            });
            names.push(name);
        }
        names
    }

    /// Plan the Markdown document `name`.
    pub fn add_markdown(&mut self, name: &str, document: MarkdownDocument) {
        self.push(name, Content::Markdown(document.finish()));
    }

    /// Plan the file `name` holding `value` as pretty JSON.
    pub fn add_json(&mut self, name: &str, value: &impl serde::Serialize) {
        self.push(name, Content::Json(pretty_json(value)));
    }

    /// Plan the page, [`PAGE_FILE`], when the formats ask for it; returns whether they do.
    pub fn add_page(&mut self, document: HtmlDocument) -> bool {
        let wanted = self.wants_page();
        if wanted {
            self.push(PAGE_FILE, Content::Page(Box::new(document)));
        }
        wanted
    }

    /// The names of the files planned so far, in order.
    pub fn file_names(&self) -> Vec<String> {
        self.files.iter().map(|file| file.name.clone()).collect()
    }

    fn push(&mut self, name: &str, content: Content) {
        self.files.push(PlannedFile {
            name: name.to_string(),
            content,
        });
    }
}

/// Write `plan` into `parent/NAME` (creating `parent`): every file into a hidden
/// staging folder, then the folder renamed into place over an earlier one of that
/// name. On any failure nothing is put in place and an earlier folder stays as it was.
pub fn write_folder(parent: &Path, plan: &FolderPlan) -> Result<PathBuf, OutputError> {
    let target = parent.join(&plan.name);
    let folder_error = |source: io::Error| OutputError::Folder {
        path: target.clone(),
        source,
    };
    let folder = StagedFolder::create(parent, &plan.name).map_err(folder_error)?;
    for file in &plan.files {
        write_planned(&folder, plan, file)?;
    }
    folder.commit().map_err(folder_error)
}

fn write_planned(
    folder: &StagedFolder,
    plan: &FolderPlan,
    file: &PlannedFile,
) -> Result<(), OutputError> {
    let page;
    let text = match &file.content {
        Content::Rows { format, table } => {
            let Table { columns, rows } = &plan.tables[*table];
            let path = folder.path().join(&file.name);
            let mut sink = super::open(*format, &Destination::File(path))?;
            sink.begin(columns)?;
            for row in rows {
                sink.row(row)?;
            }
            return sink.finish();
        }
        Content::Markdown(text) | Content::Json(text) => text,
        Content::Page(document) => {
            page = html::render(document);
            &page
        }
    };
    folder
        .write_file(&file.name, text)
        .map(|_| ())
        .map_err(|(path, source)| OutputError::File { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_for_their_report_and_format_and_the_page_only_when_asked() {
        let columns = vec![Column::for_test("n", true)];
        let rows = vec![vec![Cell::Int(1)]];
        let formats = [FileFormat::Csv, FileFormat::Markdown, FileFormat::Csv];
        let mut plan = FolderPlan::new("2026-11-03", &formats);
        assert_eq!(
            plan.add_report("retries", columns.clone(), rows.clone()),
            ["retries.csv", "retries.md"]
        );
        plan.add_json("summary.json", &serde_json::json!({"postbacks": 1}));
        let page = HtmlDocument {
            title: String::new(),
            subtitle: String::new(),
            summary: Vec::new(),
            notices: Vec::new(),
            sections: Vec::new(),
        };
        assert!(!plan.add_page(page.clone()));
        assert_eq!(
            plan.file_names(),
            ["retries.csv", "retries.md", "summary.json"]
        );

        let parent = tempfile::tempdir().unwrap();
        let written = write_folder(parent.path(), &plan).unwrap();
        assert_eq!(written, parent.path().join("2026-11-03"));
        assert_eq!(
            std::fs::read_to_string(written.join("retries.md")).unwrap(),
            "| n |\n|--:|\n| 1 |\n"
        );
        assert_eq!(
            std::fs::read_to_string(written.join("summary.json")).unwrap(),
            "{\n  \"postbacks\": 1\n}\n"
        );

        let mut with_page = FolderPlan::new("week", &[FileFormat::Html]);
        assert!(with_page.add_report("retries", columns, rows).is_empty());
        assert!(with_page.add_page(page));
        assert_eq!(with_page.file_names(), [PAGE_FILE]);
    }
}
