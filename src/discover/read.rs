//! Discover, step 2: read one file's bytes, gunzip them if needed, and hash them.

use std::fs::File;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use xxhash_rust::xxh3::xxh3_128;

use super::{FileToRead, modified_micros};
use crate::problem::{Problem, ProblemKind};

/// What reading one file produced, ready for the parser.
#[derive(Debug)]
pub struct FileBytes {
    /// Size and modification time of the open file, for the ledger.
    pub size: u64,
    pub modified_us: i64,
    /// Decompressed content; empty when the file was not read (too large) or
    /// nothing decompressed.
    pub content: Vec<u8>,
    /// xxh3-128 of the bytes on disk, to tell a touched file from a changed one;
    /// `None` when the file was too large to read.
    pub content_hash: Option<u128>,
    /// A file too large to read, or a damaged gzip stream (`content` then holds
    /// what decompressed before the damage).
    pub problem: Option<Problem>,
}

/// Read `file`, refusing content larger than `max_size` bytes (before or after gunzip),
/// so that one huge or hostile file cannot exhaust memory. Fails only when the file
/// cannot be opened or read.
pub fn read_file(file: &FileToRead, max_size: u64) -> Result<FileBytes, Problem> {
    let unreadable = |error: std::io::Error| {
        Problem::whole_file(ProblemKind::Unreadable, format!("cannot read: {error}"))
    };
    let mut handle = File::open(&file.path).map_err(unreadable)?;
    let metadata = handle.metadata().map_err(unreadable)?;
    let mut bytes = FileBytes {
        size: metadata.len(),
        modified_us: modified_micros(&metadata),
        content: Vec::new(),
        content_hash: None,
        problem: None,
    };
    if bytes.size > max_size {
        bytes.problem = Some(too_large(
            format!("the file is {} bytes, over", bytes.size),
            max_size,
        ));
        return Ok(bytes);
    }
    let mut raw = Vec::with_capacity(bytes.size as usize + 1);
    (&mut handle)
        .take(max_size + 1)
        .read_to_end(&mut raw)
        .map_err(unreadable)?;
    if raw.len() as u64 > max_size {
        bytes.problem = Some(too_large("the file grew beyond".to_string(), max_size));
        return Ok(bytes);
    }
    bytes.content_hash = Some(xxh3_128(&raw));
    if !file.compressed {
        bytes.content = raw;
        return Ok(bytes);
    }
    let (content, problem) = gunzip(&raw, max_size);
    bytes.content = content;
    bytes.problem = problem;
    Ok(bytes)
}

/// Decompress a gzip stream (several members allowed) up to `max_size` bytes.
fn gunzip(raw: &[u8], max_size: u64) -> (Vec<u8>, Option<Problem>) {
    let mut content = Vec::with_capacity(raw.len() * 4);
    let result = MultiGzDecoder::new(raw)
        .take(max_size + 1)
        .read_to_end(&mut content);
    if content.len() as u64 > max_size {
        return (
            Vec::new(),
            Some(too_large(
                "it decompresses to more than".to_string(),
                max_size,
            )),
        );
    }
    let problem = result.err().map(|error| {
        let message = if content.is_empty() {
            format!("not valid gzip: {error}")
        } else {
            format!(
                "damaged gzip ({error}); imported the {} bytes that decompressed before it",
                content.len()
            )
        };
        Problem::whole_file(ProblemKind::BadGzip, message)
    });
    (content, problem)
}

fn too_large(what: String, max_size: u64) -> Problem {
    Problem::whole_file(
        ProblemKind::TooLarge,
        format!("{what} the --max-file-size limit of {max_size} bytes; not imported"),
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn file(path: &std::path::Path, compressed: bool) -> FileToRead {
        FileToRead {
            path: path.to_path_buf(),
            display: String::new(),
            compressed,
            known: None,
        }
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gunzips_and_hashes_the_bytes_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.xml.gz");
        let packed = gzip(b"<POSTBACK/>");
        std::fs::write(&path, &packed).unwrap();
        let bytes = read_file(&file(&path, true), 1000).unwrap();
        assert_eq!(bytes.content, b"<POSTBACK/>");
        assert_eq!(bytes.content_hash, Some(xxh3_128(&packed)));
        assert_eq!(bytes.size, packed.len() as u64);
        assert!(bytes.problem.is_none());
    }

    #[test]
    fn a_damaged_gzip_keeps_what_decompressed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.xml.gz");
        let body = "<POSTBACK><ORIGIN>SUB</ORIGIN></POSTBACK>".repeat(200);
        let packed = gzip(body.as_bytes());
        std::fs::write(&path, &packed[..packed.len() - 12]).unwrap();
        let bytes = read_file(&file(&path, true), 100_000).unwrap();
        assert!(!bytes.content.is_empty() && body.as_bytes().starts_with(&bytes.content));
        let problem = bytes.problem.unwrap();
        assert_eq!(problem.kind, ProblemKind::BadGzip);
        assert!(
            problem.message.starts_with("damaged gzip ("),
            "{}",
            problem.message
        );
        std::fs::write(&path, b"plain text, not gzip").unwrap();
        let problem = read_file(&file(&path, true), 1000)
            .unwrap()
            .problem
            .unwrap();
        assert_eq!(problem.message, "not valid gzip: invalid gzip header");
    }

    #[test]
    fn refuses_content_over_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.xml.gz");
        std::fs::write(&path, gzip(&vec![b' '; 5000])).unwrap();
        let problem = read_file(&file(&path, true), 1000)
            .unwrap()
            .problem
            .unwrap();
        assert_eq!(
            problem.message,
            "it decompresses to more than the --max-file-size limit of 1000 bytes; not imported"
        );
        let plain = dir.path().join("big.xml");
        std::fs::write(&plain, vec![b' '; 1001]).unwrap();
        let too_large = read_file(&file(&plain, false), 1000).unwrap();
        assert_eq!(
            (
                too_large.size,
                too_large.content_hash,
                too_large.content.len()
            ),
            (1001, None, 0)
        );
        let problem = too_large.problem.unwrap();
        assert_eq!(
            problem.message,
            "the file is 1001 bytes, over the --max-file-size limit of 1000 bytes; not imported"
        );
        let missing = dir.path().join("gone.xml");
        let gone = file(&missing, false);
        assert_eq!(
            read_file(&gone, 1000).unwrap_err().kind,
            ProblemKind::Unreadable
        );
    }
}
