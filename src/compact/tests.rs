use std::fs::File;
use std::time::Duration;

use super::*;
use crate::discover::{WalkInput, WalkOptions};
use crate::import::{ImportOptions, ImportOutcome, Observer, run_import};
use crate::signals::Stop;
use crate::store::writer::FileRecord;

struct Silent;

impl Observer for Silent {
    fn found(&self, _count: u64) {}
    fn skipped(&self, _count: u64) {}
    fn stored(&self, _record: &FileRecord) {}
}

fn import(archive: &Archive, root: &Path) -> ImportOutcome {
    let options = ImportOptions {
        input: WalkInput::Roots(vec![root.to_path_buf()]),
        walk: WalkOptions {
            settle_time: Duration::ZERO,
            ..WalkOptions::default()
        },
        force: false,
        threads: 1,
        max_file_size: 1 << 20,
        memory_limit_mb: 96,
        batch_files: 1000,
    };
    run_import(archive, &options, &Silent, &Stop::never()).unwrap()
}

fn options(root: &Path) -> CompactOptions {
    CompactOptions {
        roots: vec![root.to_path_buf()],
        older_than: Duration::ZERO,
        with_problems: false,
        compression: Compression::Zstd,
        dry_run: false,
    }
}

const A: &str = "<POSTBACK><ORIGIN>SMS_MO</ORIGIN><TEXT>a</TEXT></POSTBACK>";
const B: &str = "<POSTBACK><ORIGIN>SMS_MO</ORIGIN><TEXT>b</TEXT></POSTBACK>";

/// An archive of `root/2026/11/15/` holding a.xml, b.xml, a broken c.xml and notes.txt.
fn day(dir: &Path) -> (PathBuf, PathBuf, Archive) {
    fs::create_dir_all(dir.join("in")).unwrap();
    let root = dir.join("in").canonicalize().unwrap();
    let day = root.join("2026/11/15");
    fs::create_dir_all(&day).unwrap();
    fs::write(day.join("a.xml"), A).unwrap();
    fs::write(day.join("b.xml"), B).unwrap();
    fs::write(day.join("c.xml"), "<POSTBACK><ORIGIN>SMS").unwrap();
    fs::write(day.join("notes.txt"), "notes").unwrap();
    let archive = Archive::open_for_write(&dir.join("a.duckdb"), Duration::ZERO, |_| {}).unwrap();
    import(&archive, &root);
    (root, day, archive)
}

fn ledger(archive: &Archive) -> String {
    archive.test_value(
        "SELECT string_agg(regexp_replace(path, '^.*/in/', '') || ' ' || (folder_id IS NOT NULL), ', ' ORDER BY file_id) FROM files",
    )
}

#[test]
fn a_folder_becomes_a_checked_tarball_and_the_ledger_moves_onto_its_members() {
    let dir = tempfile::tempdir().unwrap();
    let (root, day, archive) = day(dir.path());
    let mut outcomes = Vec::new();
    compact(&archive, &options(&root), &mut |o| outcomes.push(o.clone())).unwrap();
    let tarball = root.join("2026/11/15.tar.zst");
    let [
        FolderOutcome::Compacted {
            files,
            bytes,
            stayed,
            packed,
            ..
        },
    ] = outcomes.as_slice()
    else {
        panic!("{outcomes:?}");
    };
    assert_eq!(
        (*files, *bytes, *stayed),
        (2, (A.len() + B.len()) as u64, 2)
    );
    assert_eq!(*packed, fs::metadata(&tarball).unwrap().len());
    // The broken file and the notes stay, so does the folder; the packed files are gone.
    let mut left: Vec<String> = fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["c.xml", "notes.txt"]);
    assert_eq!(
        ledger(&archive),
        "2026/11/15.tar.zst!15/a.xml true, 2026/11/15.tar.zst!15/b.xml true, 2026/11/15/c.xml true"
    );
    assert_eq!(
        archive.test_value("SELECT string_agg(status, ',') FROM compactions"),
        "done"
    );

    // The next import reads nothing of the day: the tarball is skipped unopened.
    let outcome = import(&archive, &root);
    let crate::import::Ending::Finished(counters) = outcome.ending else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        (
            counters.files_read,
            counters.files_skipped,
            counters.postbacks_duplicate
        ),
        (0, 2, 0),
        "c.xml unchanged, the tarball unopened"
    );
    assert_eq!(archive.test_value("SELECT count(*) FROM duplicates"), "0");
    assert_eq!(archive.test_value("SELECT count(*) FROM postbacks"), "2");

    // The tarball holds the files byte for byte, with their times.
    let members: Vec<String> = {
        let file = File::open(&tarball).unwrap();
        let mut archive = tar::Archive::new(zstd::stream::read::Decoder::new(file).unwrap());
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let name = entry.path().unwrap().display().to_string();
                let mut text = String::new();
                std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
                format!("{name}={text}")
            })
            .collect()
    };
    assert_eq!(members, [format!("15/a.xml={A}"), format!("15/b.xml={B}")]);
}

#[test]
fn a_folder_with_a_file_not_imported_yet_or_too_recent_is_left_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (root, day, archive) = day(dir.path());
    fs::write(day.join("late.xml"), A).unwrap();
    let mut outcomes = Vec::new();
    compact(&archive, &options(&root), &mut |o| outcomes.push(o.clone())).unwrap();
    assert_eq!(
        outcomes,
        [FolderOutcome::Skipped {
            folder: day.display().to_string(),
            why: "late.xml is not imported yet; run import first".to_string(),
        }]
    );
    let recent = CompactOptions {
        older_than: Duration::from_secs(86_400),
        ..options(&root)
    };
    outcomes.clear();
    compact(&archive, &recent, &mut |o| outcomes.push(o.clone())).unwrap();
    assert_eq!(
        outcomes,
        [FolderOutcome::Skipped {
            folder: day.display().to_string(),
            why: "changed within the last 1 day(s)".to_string(),
        }]
    );
    assert!(!root.join("2026/11/15.tar.zst").exists());
    assert_eq!(fs::read_dir(&day).unwrap().count(), 5);
}

/// Everything up to the journal row, as a compaction killed right after it leaves it.
fn moved_but_not_finished(archive: &Archive, root: &Path, day: &Path) -> Plan {
    let folders = archive.load_folders().unwrap();
    let folder = folders.get(&day.display().to_string()).unwrap().clone();
    let options = options(root);
    let plan = plan(archive, &folder, day, &options)
        .unwrap()
        .unwrap()
        .unwrap();
    write_tarball(
        &plan.staged,
        day,
        &plan.prefix,
        &plan.packed,
        Compression::Zstd,
    )
    .unwrap();
    let stamp = Stamp::of(&fs::metadata(&plan.staged).unwrap());
    let compaction = Compaction {
        folder,
        tarball: plan.tarball.display().to_string(),
        staged: plan.staged.display().to_string(),
        stamp,
        moved: plan.moved(),
        bytes: plan.bytes(),
    };
    archive.record_compaction(&compaction).unwrap();
    plan
}

#[test]
fn a_compaction_killed_after_the_ledger_moved_is_finished_by_the_next_import() {
    let dir = tempfile::tempdir().unwrap();
    let (root, day, archive) = day(dir.path());
    let plan = moved_but_not_finished(&archive, &root, &day);
    assert!(plan.staged.exists() && day.join("a.xml").exists());
    let outcome = import(&archive, &root);
    let crate::import::Ending::Finished(counters) = outcome.ending else {
        panic!("{outcome:?}");
    };
    assert!(!plan.staged.exists() && plan.tarball.exists());
    assert!(!day.join("a.xml").exists() && !day.join("b.xml").exists());
    assert_eq!(counters.postbacks_duplicate, 0);
    assert_eq!(archive.test_value("SELECT count(*) FROM duplicates"), "0");
    assert_eq!(
        archive.test_value("SELECT string_agg(status, ',') FROM compactions"),
        "done"
    );
}

#[test]
fn a_compaction_whose_staged_tarball_was_lost_is_undone() {
    let dir = tempfile::tempdir().unwrap();
    let (root, day, archive) = day(dir.path());
    let plan = moved_but_not_finished(&archive, &root, &day);
    fs::remove_file(&plan.staged).unwrap();
    assert_eq!(recover(&archive).unwrap(), 1);
    assert_eq!(
        ledger(&archive),
        "2026/11/15/a.xml true, 2026/11/15/b.xml true, 2026/11/15/c.xml true"
    );
    assert_eq!(
        archive.test_value("SELECT string_agg(status, ',') FROM compactions"),
        "undone"
    );
    assert_eq!(
        archive.test_value("SELECT count(*) FROM folders WHERE kind = 'tarball'"),
        "0"
    );
    let outcome = import(&archive, &root);
    let crate::import::Ending::Finished(counters) = outcome.ending else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        (counters.postbacks_new, counters.postbacks_duplicate),
        (0, 0)
    );
}

#[test]
fn a_file_changed_after_it_was_imported_fails_the_folder_and_leaves_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (root, day, archive) = day(dir.path());
    let folders = archive.load_folders().unwrap();
    let folder = folders.get(&day.display().to_string()).unwrap().clone();
    let mut plan = plan(&archive, &folder, &day, &options(&root))
        .unwrap()
        .unwrap()
        .unwrap();
    plan.packed[0].content_hash ^= 1;
    let error = write_tarball(
        &plan.staged,
        &day,
        &plan.prefix,
        &plan.packed,
        Compression::Zstd,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{} changed since it was imported; it stays where it is. Run `import --rescan` on its folder, then compact again",
            day.join("a.xml").display()
        )
    );
}
