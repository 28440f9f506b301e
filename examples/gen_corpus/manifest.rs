//! The exact figures the generator knows about its corpus, for tests and benchmarks to
//! compare with what the importer finds.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::clock::utc_day;
use crate::model::{Encoding, File, Malformed, Request};
use crate::plan::{Plan, Settings};
use crate::render::has_timestamp;

/// Everything is counted from the plan, never from reading the files back.
#[derive(Serialize)]
pub struct Manifest {
    /// Identifies this layout of the manifest.
    pub format: &'static str,
    pub settings: SettingsRecord,
    pub files: FileCounts,
    /// Distinct HTTP requests (files without their retry copies).
    pub requests: u64,
    /// Distinct postbacks (the `--postbacks` figure), including the two salvageable
    /// malformed kinds, excluding the cut postback of a truncated file.
    pub postbacks_distinct: u64,
    /// Complete `<POSTBACK>` elements over all files: retry copies and bundle members included.
    pub postback_occurrences: u64,
    /// Requests sent more than once.
    pub retried_requests: u64,
    /// Extra byte-identical files from retries.
    pub retry_copies: u64,
    /// Distinct `<POSTBACKS>` requests.
    pub bundles: u64,
    /// Files holding a bundle, retry copies included.
    pub bundle_files: u64,
    /// Distinct postbacks that travelled in a bundle.
    pub postbacks_in_bundles: u64,
    /// Files by malformed kind (never gzipped, never retried).
    pub malformed_files: BTreeMap<&'static str, u64>,
    /// Distinct postbacks inside malformed files (unclosed STATUSDETAILS, doubled FROM_MASK):
    /// counted in `postbacks_distinct`, recoverable only by a forgiving parser.
    pub postbacks_in_malformed_files: u64,
    /// Distinct postbacks by `ORIGIN`.
    pub postbacks_by_origin: BTreeMap<&'static str, u64>,
    /// Distinct postbacks by `CODE` (`STATUSCODE` for GENERATE_PASS).
    pub postbacks_by_status_code: BTreeMap<&'static str, u64>,
    pub postbacks_by_origin_and_code: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// Distinct postbacks by the documentation edition they are written in.
    pub postbacks_by_dialect: BTreeMap<&'static str, u64>,
    /// Distinct postbacks by the UTC day their first copy arrived (its folder).
    pub postbacks_by_utc_day: BTreeMap<String, u64>,
    /// Distinct postbacks that carry TIMESTAMP or RECEIVED, by that instant's UTC day.
    pub postbacks_by_event_utc_day: BTreeMap<String, u64>,
    /// Distinct postbacks without TIMESTAMP or RECEIVED (E101, N003, E002, older SUB,
    /// EMAIL_SUB).
    pub postbacks_without_timestamp: u64,
    /// Files by the UTC day of arrival (their folder).
    pub files_by_utc_day: BTreeMap<String, u64>,
    pub file_styles: FileStyles,
}

/// The arguments the corpus was generated with.
#[derive(Serialize)]
pub struct SettingsRecord {
    pub seed: u64,
    pub postbacks: u32,
    pub days: u32,
    pub start: String,
}

#[derive(Serialize, Default)]
pub struct FileCounts {
    pub total: u64,
    pub xml: u64,
    pub xml_gz: u64,
    /// Bytes on disk (gzipped files at their compressed size).
    pub bytes: u64,
}

/// Files (retry copies included) written with each presentation quirk.
#[derive(Serialize, Default)]
pub struct FileStyles {
    pub crlf: u64,
    pub utf8_bom: u64,
    /// Declared `encoding="ISO-8859-1"` with a Latin-1 byte in TEXT.
    pub latin1: u64,
    /// SMS MO TEXT in a CDATA section.
    pub cdata_text: u64,
}

impl Manifest {
    /// Counts the plan; `bytes` is what writing it put on disk.
    pub fn from_plan(plan: &Plan, settings: &Settings, bytes: u64) -> Manifest {
        let mut manifest = Manifest::empty(settings);
        manifest.files.bytes = bytes;
        for request in &plan.requests {
            manifest.count_request(request, plan);
        }
        for file in &plan.files {
            manifest.count_file(file, plan);
        }
        manifest
    }

    fn empty(settings: &Settings) -> Manifest {
        Manifest {
            format: "postback-archive gen_corpus manifest 1",
            settings: SettingsRecord {
                seed: settings.seed,
                postbacks: settings.postbacks,
                days: settings.days,
                start: settings.start.to_string(),
            },
            files: FileCounts::default(),
            requests: 0,
            postbacks_distinct: 0,
            postback_occurrences: 0,
            retried_requests: 0,
            retry_copies: 0,
            bundles: 0,
            bundle_files: 0,
            postbacks_in_bundles: 0,
            malformed_files: Malformed::ALL.iter().map(|m| (m.name(), 0)).collect(),
            postbacks_in_malformed_files: 0,
            postbacks_by_origin: BTreeMap::new(),
            postbacks_by_status_code: BTreeMap::new(),
            postbacks_by_origin_and_code: BTreeMap::new(),
            postbacks_by_dialect: BTreeMap::new(),
            postbacks_by_utc_day: BTreeMap::new(),
            postbacks_by_event_utc_day: BTreeMap::new(),
            postbacks_without_timestamp: 0,
            files_by_utc_day: BTreeMap::new(),
            file_styles: FileStyles::default(),
        }
    }

    fn count_request(&mut self, request: &Request, plan: &Plan) {
        let retries = u64::from(request.retries);
        let members = &plan.postbacks[request.postback_range()];
        self.requests += 1;
        self.retried_requests += u64::from(retries > 0);
        self.retry_copies += retries;
        if request.is_bundle() {
            self.bundles += 1;
            self.bundle_files += 1 + retries;
            self.postbacks_in_bundles += members.len() as u64;
        }
        if request.malformed(&plan.postbacks).is_some() {
            self.postbacks_in_malformed_files += members.len() as u64;
        }
        let dialect = request.style.dialect;
        let arrival_day = utc_day(request.arrival);
        for postback in members {
            let (origin, code) = (postback.kind.origin(), postback.kind.status_code());
            self.postbacks_distinct += 1;
            *self.postbacks_by_origin.entry(origin).or_default() += 1;
            *self.postbacks_by_status_code.entry(code).or_default() += 1;
            let codes = self.postbacks_by_origin_and_code.entry(origin).or_default();
            *codes.entry(code).or_default() += 1;
            *self.postbacks_by_dialect.entry(dialect.name()).or_default() += 1;
            *self
                .postbacks_by_utc_day
                .entry(arrival_day.clone())
                .or_default() += 1;
            if has_timestamp(postback.kind, dialect) {
                let day = utc_day(postback.event);
                *self.postbacks_by_event_utc_day.entry(day).or_default() += 1;
            } else {
                self.postbacks_without_timestamp += 1;
            }
        }
    }

    fn count_file(&mut self, file: &File, plan: &Plan) {
        let request = &plan.requests[file.request as usize];
        self.files.total += 1;
        if file.gzip {
            self.files.xml_gz += 1;
        } else {
            self.files.xml += 1;
        }
        *self
            .files_by_utc_day
            .entry(utc_day(file.arrival))
            .or_default() += 1;
        self.postback_occurrences += request.postback_range().len() as u64;
        if let Some(kind) = request.malformed(&plan.postbacks) {
            *self.malformed_files.entry(kind.name()).or_default() += 1;
        }
        let style = &request.style;
        self.file_styles.crlf += u64::from(style.crlf);
        self.file_styles.utf8_bom += u64::from(style.encoding == Encoding::Utf8WithBom);
        self.file_styles.latin1 += u64::from(style.encoding == Encoding::Latin1);
        self.file_styles.cdata_text += u64::from(style.cdata_text);
    }

    /// Writes the manifest as pretty JSON, creating its folder if needed.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
        }
        let mut json = serde_json::to_string_pretty(self).expect("the manifest serializes");
        json.push('\n');
        fs::write(path, json).with_context(|| format!("could not write {}", path.display()))
    }
}
