//! A nightly run costs what the night brought: an unchanged folder is not listed, a
//! late file in an old folder is still found, an appended file is found by `--rescan`
//! (issue 18). On the real binary, with the folder settle time at 0 so a test need not
//! wait. `compact` and tarballs are in tests/compact.rs.

mod common;

use std::fs::File;
use std::io::Write;

use common::{Workdir, last_run, receipt as postback, run_settled as run, two_days};

#[test]
fn an_unchanged_tree_is_not_listed_and_a_late_file_in_an_old_folder_is_found() {
    let work = Workdir::new();
    two_days(&work);
    run(&work, &["import", "in"]);
    assert_eq!(
        last_run(&work),
        "5 0 6 6 6 0",
        "in, 2026, 11, 14 and 15 listed"
    );
    let output = run(&work, &["import", "in"]);
    assert_eq!(
        last_run(&work),
        "0 5 0 0 0 0",
        "nothing listed, nothing read"
    );
    assert_eq!(
        common::summary(&output),
        "import run 2: 0 folders listed, 5 unchanged; 0 files seen, 0 unchanged, 0 read, 0 other; 0 new postbacks, 0 duplicates; 0 problems"
    );
    work.write("in/2026/11/14/late.xml", postback(99));
    run(&work, &["import", "in"]);
    assert_eq!(
        last_run(&work),
        "1 4 4 1 1 0",
        "14 listed: its 3 known files and the late one"
    );
    assert_eq!(
        work.value("SELECT count(*) FROM postbacks WHERE tracking_id = 'trk-99'"),
        "1"
    );
    // Naming only the old folder finds nothing more.
    run(&work, &["import", "in/2026/11/14"]);
    assert_eq!(last_run(&work), "0 1 0 0 0 0");
}

#[test]
fn a_file_appended_to_in_place_is_found_by_rescan_not_by_a_plain_run() {
    let work = Workdir::new();
    two_days(&work);
    run(&work, &["import", "in"]);
    let path = work.path().join("in/2026/11/15/003.xml");
    File::options()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(postback(77).as_bytes())
        .unwrap();
    run(&work, &["import", "in"]);
    assert_eq!(
        last_run(&work),
        "0 5 0 0 0 0",
        "the folder did not change: not listed"
    );
    run(&work, &["import", "--rescan", "in"]);
    assert_eq!(
        last_run(&work),
        "5 0 6 1 1 0",
        "every folder listed, the changed file read"
    );
    assert_eq!(
        work.value("SELECT postbacks FROM files WHERE path LIKE '%/003.xml'"),
        "2"
    );
}

#[test]
fn a_file_copied_over_with_its_size_and_time_set_back_is_found_by_force_only() {
    let work = Workdir::new();
    two_days(&work);
    run(&work, &["import", "in"]);
    let path = work.path().join("in/2026/11/15/004.xml");
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    // The same size, other bytes, and the time it had.
    let same_size = postback(4).replace("trk-4", "trk-X");
    std::fs::write(&path, same_size).unwrap();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    run(&work, &["import", "--rescan", "in"]);
    assert_eq!(
        last_run(&work),
        "5 0 6 0 0 0",
        "size and time as recorded: not read"
    );
    run(&work, &["import", "--force", "in"]);
    assert_eq!(
        last_run(&work),
        "5 0 6 6 1 0",
        "every file read: the new postback found"
    );
    assert_eq!(
        work.value("SELECT count(*) FROM postbacks WHERE tracking_id = 'trk-X'"),
        "1"
    );
}
