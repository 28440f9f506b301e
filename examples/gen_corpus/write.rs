//! Puts the planned files on disk: dated folders, arrival-ordered names, optional gzip,
//! written in parallel.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use rayon::prelude::*;

use crate::clock;
use crate::model::File;
use crate::plan::Plan;
use crate::render::Renderer;

/// Makes `out` an empty directory; `force` first deletes an earlier corpus there.
pub fn prepare_out_dir(out: &Path, force: bool) -> Result<()> {
    if out.exists() {
        let entries: Vec<_> = fs::read_dir(out)
            .with_context(|| format!("could not list {}", out.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("could not list {}", out.display()))?;
        if !entries.is_empty() && !force {
            bail!(
                "{} is not empty; pass --force to replace it, or choose another --out",
                out.display()
            );
        }
        if let Some(stranger) = entries.iter().find(|e| !is_year_folder(&e.path())) {
            bail!(
                "refusing to delete {}: {} does not look like part of a generated corpus",
                out.display(),
                stranger.path().display()
            );
        }
        fs::remove_dir_all(out).with_context(|| format!("could not delete {}", out.display()))?;
    }
    fs::create_dir_all(out).with_context(|| format!("could not create {}", out.display()))
}

fn is_year_folder(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    path.is_dir() && name.len() == 4 && name.bytes().all(|b| b.is_ascii_digit())
}

/// Files named `HHMMSS-<seq>.xml[.gz]` in `YYYY/MM/DD/` by UTC arrival; `seq` is the file's
/// place in arrival order, zero-padded, so names sort in arrival order.
pub fn relative_path(file: &File, seq: usize, width: usize) -> String {
    let (folder, time) = clock::folder_and_time(file.arrival);
    let extension = if file.gzip { "xml.gz" } else { "xml" };
    format!("{folder}/{time}-{seq:0width$}.{extension}")
}

/// Digits of the sequence numbers: enough for every file, at least six.
pub fn sequence_width(files: usize) -> usize {
    files.to_string().len().max(6)
}

/// Writes every file of the plan under `out`; returns the total bytes on disk.
pub fn write_files(out: &Path, plan: &Plan, renderer: &Renderer) -> Result<u64> {
    let folders: BTreeSet<String> = (plan.files.iter())
        .map(|f| clock::folder_and_time(f.arrival).0)
        .collect();
    for folder in &folders {
        let dir = out.join(folder);
        fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    }
    let width = sequence_width(plan.files.len());
    plan.files
        .par_iter()
        .enumerate()
        .map(|(index, file)| {
            let request = &plan.requests[file.request as usize];
            let mut bytes = renderer.request(file.request, request);
            if file.gzip {
                bytes = gzip(&bytes);
            }
            let path = out.join(relative_path(file, index + 1, width));
            fs::write(&path, &bytes)
                .with_context(|| format!("could not write {}", path.display()))?;
            Ok(bytes.len() as u64)
        })
        .try_reduce(|| 0, |a, b| Ok(a + b))
}

/// Gzip with a fixed header (no name, no time), so output depends on the content only.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len()), Compression::default());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}
