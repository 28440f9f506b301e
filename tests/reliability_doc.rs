//! RELIABILITY.md stays true: every test its tables name as proof exists.

use std::path::Path;

/// The `file::function` names in the last column of RELIABILITY.md's tables.
fn proofs(document: &str) -> Vec<String> {
    document
        .lines()
        .filter(|line| line.starts_with('|'))
        .filter_map(|line| line.trim_end_matches('|').rsplit('|').next())
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .filter(|name| name.contains("::"))
        .map(str::to_string)
        .collect()
}

/// Where a proof lives: `src/x.rs::f` in that file, `x::f` in `tests/x.rs`.
fn defines(root: &Path, proof: &str) -> bool {
    let Some((file, function)) = proof.rsplit_once("::") else {
        return false;
    };
    let path = if file.starts_with("src/") {
        root.join(file)
    } else {
        root.join("tests").join(format!("{file}.rs"))
    };
    std::fs::read_to_string(path).is_ok_and(|source| source.contains(&format!("fn {function}(")))
}

#[test]
fn every_test_reliability_md_names_as_proof_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let document = std::fs::read_to_string(root.join("RELIABILITY.md")).unwrap();
    let proofs = proofs(&document);
    assert!(proofs.len() > 60, "only {} proofs found", proofs.len());
    let missing: Vec<&String> = proofs.iter().filter(|p| !defines(root, p)).collect();
    assert!(
        missing.is_empty(),
        "named in RELIABILITY.md but not defined: {missing:#?}"
    );
}
