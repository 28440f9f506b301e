//! The bundled sample imports to exactly the figures its generator recorded in
//! `data/sample.manifest.json`, and that is what the README's first command shows (tests/docs.rs runs it).

mod common;

use std::collections::BTreeMap;

use common::{Workdir, stderr, summary};
use serde_json::Value;

fn manifest() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample.manifest.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn counts(value: &Value) -> BTreeMap<String, u64> {
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

#[test]
fn the_sample_imports_to_the_generators_figures() {
    let manifest = manifest();
    let work = Workdir::new();
    work.copy_from_repo("data/sample", "sample");
    let output = work.run(&["import", "sample"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "the sample holds malformed files on purpose"
    );
    let files = manifest["files"]["total"].as_u64().unwrap();
    let distinct = manifest["postbacks_distinct"].as_u64().unwrap();
    let copies = manifest["retry_copies"].as_u64().unwrap();
    // The sample's folder and its folders of years, months and days.
    let folders = walk_folders(&work.path().join("sample"));
    assert_eq!(
        summary(&output),
        format!(
            "import run 1: {folders} folders listed, 0 unchanged; {files} files seen, 0 unchanged, {files} read, 0 other; {distinct} new postbacks, {copies} duplicates; 6 problems"
        )
    );
    assert_eq!(stderr(&output).lines().count(), 6);

    let by_origin: BTreeMap<String, u64> = work
        .rows("SELECT origin, count(*) FROM postbacks GROUP BY 1 ORDER BY 1")
        .iter()
        .map(|row| {
            let (origin, n) = row.split_once('|').unwrap();
            (origin.to_string(), n.parse().unwrap())
        })
        .collect();
    assert_eq!(by_origin, counts(&manifest["postbacks_by_origin"]));

    let mut by_code = BTreeMap::new();
    for (origin, codes) in manifest["postbacks_by_origin_and_code"]
        .as_object()
        .unwrap()
    {
        for (code, n) in counts(codes) {
            by_code.insert(format!("{origin}|{code}"), n);
        }
    }
    let found: BTreeMap<String, u64> = work
        .rows("SELECT origin || '|' || status_code, count(*) FROM postbacks GROUP BY 1")
        .iter()
        .map(|row| {
            let (key, n) = row.rsplit_once('|').unwrap();
            (key.to_string(), n.parse().unwrap())
        })
        .collect();
    assert_eq!(found, by_code);

    assert_eq!(
        work.value("SELECT count(*) FROM postbacks WHERE occurred_at IS NULL"),
        manifest["postbacks_without_timestamp"].to_string()
    );
    // Each malformed kind the generator wrote, as the importer names it.
    assert_eq!(
        work.rows("SELECT kind, count(*) FROM import_errors GROUP BY 1 ORDER BY 1"),
        ["empty_file|1", "not_xml|2", "salvaged|2", "truncated|1"]
    );
    let malformed = &manifest["malformed_files"];
    for kind in [
        "binary_garbage",
        "doubled_from_mask",
        "empty",
        "html_error_page",
        "truncated",
        "unclosed_statusdetails",
    ] {
        assert_eq!(malformed[kind], 1, "{kind}");
    }
    assert_eq!(
        work.value("SELECT count(*) FROM files WHERE compressed"),
        manifest["files"]["xml_gz"].to_string()
    );
}

/// `dir` and the folders below it.
fn walk_folders(dir: &std::path::Path) -> usize {
    if !dir.is_dir() {
        return 0;
    }
    1 + std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| walk_folders(&entry.unwrap().path()))
        .sum::<usize>()
}
