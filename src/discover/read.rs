//! Discover, step 2: read one file's bytes, gunzip them if needed, and hash them.

use std::fs::{File, Metadata};
use std::io::Read;
use std::time::UNIX_EPOCH;

use flate2::read::MultiGzDecoder;
use rustix::fs::{Mode, OFlags};
use xxhash_rust::xxh3::xxh3_128;

use super::FileToRead;
use super::listing::{describe_file_type, not_a_regular_file};
use crate::problem::{Problem, ProblemKind};

/// What reading one file produced, ready for the parser.
#[derive(Debug)]
pub struct FileBytes {
    /// Size and modification time of the open file before it was read, for the
    /// ledger: if the file changes while (or after) it is read, the next run sees a
    /// size or time other than these and reads it again.
    pub size: u64,
    pub modified_us: i64,
    /// Decompressed content; empty when the file was not read (too large) or
    /// nothing decompressed.
    pub content: Vec<u8>,
    /// xxh3-128 of the bytes on disk, to tell a touched file from a changed one;
    /// `None` when the file, or its decompressed content, was too large to import,
    /// which keeps it out of the "unchanged" files so a later run reads it again.
    pub content_hash: Option<u128>,
    /// A file too large to read, or a damaged gzip stream (`content` then holds
    /// what decompressed before the damage).
    pub problem: Option<Problem>,
}

/// Whether a file the ledger knows still has the size and modification time it had
/// when it was read, so that it need not be read again. The readers call this, in
/// parallel, rather than the walk: listing a changed folder of many files is mostly
/// stats. A file the ledger holds without a content hash was not fully imported (it
/// was too large): it is never unchanged, so that a run that can import it does.
pub fn unchanged(file: &FileToRead) -> Result<bool, Problem> {
    let Some(known) = file.known.filter(|known| known.content_hash.is_some()) else {
        return Ok(false);
    };
    match file.path.metadata() {
        Ok(metadata) => {
            Ok(known.size == metadata.len() && known.modified_us == modified_micros(&metadata))
        }
        Err(error) => {
            let message = format!("cannot read its metadata: {error}");
            Err(Problem::whole_file(ProblemKind::Unreadable, message))
        }
    }
}

/// Modification time in microseconds since the epoch, as the ledger stores it.
pub fn modified_micros(metadata: &Metadata) -> i64 {
    match metadata.modified().map(|t| t.duration_since(UNIX_EPOCH)) {
        Ok(Ok(since)) => since.as_micros() as i64,
        Ok(Err(before)) => -(before.duration().as_micros() as i64),
        Err(_) => 0,
    }
}

const MIB: u64 = 1024 * 1024;

/// Read `file`, refusing content larger than `max_size` bytes (before or after gunzip),
/// so that one huge or hostile file cannot exhaust memory. Only a regular file is read:
/// it is opened without blocking (a named pipe put in its place since the walk would
/// otherwise wait for a writer forever) and checked on the open handle. Fails when the
/// file cannot be opened or read, or is not a regular file.
pub fn read_file(file: &FileToRead, max_size: u64) -> Result<FileBytes, Problem> {
    let (mut handle, metadata) = open_regular(file)?;
    let mut bytes = FileBytes {
        size: metadata.len(),
        modified_us: modified_micros(&metadata),
        content: Vec::new(),
        content_hash: None,
        problem: None,
    };
    if bytes.size > max_size {
        let what = format!("the file is {} bytes, over", bytes.size);
        bytes.problem = Some(too_large(&what, max_size, Size::Exactly(bytes.size)));
        return Ok(bytes);
    }
    let mut raw = Vec::with_capacity(bytes.size as usize + 1);
    (&mut handle)
        .take(max_size.saturating_add(1))
        .read_to_end(&mut raw)
        .map_err(unreadable("read"))?;
    if raw.len() as u64 > max_size {
        let now = handle.metadata().map_or(0, |m| m.len());
        let size = now.max(raw.len() as u64);
        let what = "the file grew while it was read, past";
        let problem = too_large(what, max_size, Size::Exactly(size));
        bytes.problem = Some(problem);
        return Ok(bytes);
    }
    take_content(&mut bytes, raw, file.compressed, max_size);
    Ok(bytes)
}

/// Fill `bytes` from `raw`, the bytes on disk (of a file, or of a tarball's member):
/// hashed, and gunzipped within `max_size` when `compressed`.
pub(super) fn take_content(bytes: &mut FileBytes, raw: Vec<u8>, compressed: bool, max_size: u64) {
    if !compressed {
        bytes.content_hash = Some(xxh3_128(&raw));
        bytes.content = raw;
        return;
    }
    match gunzip(&raw, max_size) {
        Ok((content, problem)) => {
            bytes.content_hash = Some(xxh3_128(&raw));
            bytes.content = content;
            bytes.problem = problem;
        }
        Err(too_large) => bytes.problem = Some(too_large),
    }
}

/// Open `path` for reading if it is a regular file. `O_NONBLOCK` makes opening a
/// named pipe return at once instead of waiting for a writer, and `O_NOCTTY` keeps a
/// terminal device from becoming ours; the type is then checked on the open handle
/// (fstat), so nothing swapped in since the walk is read. Reads of a regular file
/// ignore `O_NONBLOCK`.
fn open_regular(file: &FileToRead) -> Result<(File, Metadata), Problem> {
    let handle = open(file).map_err(unreadable("open"))?;
    let metadata = handle.metadata().map_err(unreadable("read"))?;
    if metadata.is_file() {
        Ok((handle, metadata))
    } else {
        Err(not_a_regular_file(describe_file_type(metadata.file_type())))
    }
}

/// Opens `file` read-only, without blocking or taking a terminal: by its name in the
/// directory the walk opened, or by its whole path when the walk gave no directory (a
/// file named on the command line) or the name is missing.
fn open(file: &FileToRead) -> std::io::Result<File> {
    if let (Some(parent), Some(name)) = (&file.parent, file.path.file_name()) {
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        return Ok(File::from(rustix::fs::openat(
            parent,
            name,
            flags,
            Mode::empty(),
        )?));
    }
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    Ok(File::from(rustix::fs::open(
        &file.path,
        flags,
        Mode::empty(),
    )?))
}

/// The `unreadable` problem of a failed step (`open`, `read`).
fn unreadable(step: &'static str) -> impl Fn(std::io::Error) -> Problem {
    move |error| Problem::whole_file(ProblemKind::Unreadable, format!("cannot {step}: {error}"))
}

/// Decompress a gzip stream (several members allowed): the content with the problem of
/// a damaged stream, or the `too_large` problem past `max_size` bytes. Content past
/// [`KEPT_WHILE_COUNTING`] is counted first, without being kept, so that refusing a file
/// for its size costs no more memory than reading a small one; content within the limit
/// is then decompressed again, into a buffer of its exact size.
fn gunzip(raw: &[u8], max_size: u64) -> Result<(Vec<u8>, Option<Problem>), Problem> {
    let kept = KEPT_WHILE_COUNTING.min(max_size);
    let mut content = Vec::with_capacity(raw.len().saturating_mul(4).min(kept as usize + 1));
    let mut decoder = MultiGzDecoder::new(raw);
    let result = (&mut decoder).take(kept + 1).read_to_end(&mut content);
    if content.len() as u64 <= kept {
        return Ok(with_damage(content, result.err()));
    }
    drop(content);
    let (size, ending) = count_rest(decoder, kept + 1, max_size.saturating_mul(COUNT_FACTOR));
    if size > max_size {
        let (what, size) = match ending {
            Ending::End => (
                format!("it decompresses to {size} bytes, over"),
                Size::Exactly(size),
            ),
            Ending::Damage | Ending::Ceiling => (
                format!("it decompresses to more than {size} bytes, over"),
                Size::Over(size),
            ),
        };
        return Err(too_large(&what, max_size, size));
    }
    // Within the limit: decompressed again, up to the end or to the damage, which the
    // read past `size` meets again.
    let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let result = MultiGzDecoder::new(raw)
        .take(size.saturating_add(1))
        .read_to_end(&mut content);
    Ok(with_damage(content, result.err()))
}

/// Bytes of a `.gz` file's content kept while it is first decompressed: a larger one is
/// counted before it is kept. As much as the parallel import's first read of a file.
const KEPT_WHILE_COUNTING: u64 = 1024 * 1024;

/// `content` with the `bad_gzip` problem of the damage that ended it, if any.
fn with_damage(content: Vec<u8>, error: Option<std::io::Error>) -> (Vec<u8>, Option<Problem>) {
    let problem = error.map(|error| {
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

/// How far past the limit a refused `.gz` is decompressed (into nothing) to learn its
/// size for the message: a bounded cost, however much a hostile file inflates.
const COUNT_FACTOR: u64 = 16;

/// The size of content too large to import, as far as it was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    Exactly(u64),
    /// Larger than this; counting stopped there (or at damage in the stream).
    Over(u64),
}

/// Where counting a stream stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    End,
    Damage,
    Ceiling,
}

/// The whole decompressed size of a stream of which `so_far` bytes were decompressed,
/// counted without keeping the bytes, up to `ceiling` bytes (or damage in the stream).
fn count_rest(mut rest: MultiGzDecoder<&[u8]>, so_far: u64, ceiling: u64) -> (u64, Ending) {
    let mut size = so_far;
    let mut buffer = vec![0; 64 * 1024];
    while size <= ceiling {
        match rest.read(&mut buffer) {
            Ok(0) => return (size, Ending::End),
            Ok(read) => size = size.saturating_add(read as u64),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return (size, Ending::Damage),
        }
    }
    (ceiling, Ending::Ceiling)
}

/// The `too_large` problem of content of `size` bytes, `what` saying what it is.
pub(super) fn too_large_file(what: &str, max_size: u64, size: u64) -> Problem {
    too_large(what, max_size, Size::Exactly(size))
}

/// The `too_large` problem: what was over the limit, and the `--max-file-size` (in
/// whole MiB) that would import the file.
fn too_large(what: &str, max_size: u64, size: Size) -> Problem {
    let limit = if max_size.is_multiple_of(MIB) {
        format!("{} MiB", max_size / MIB)
    } else {
        format!("{max_size} bytes")
    };
    let hint = match size {
        Size::Exactly(bytes) => {
            format!(
                "import it with --max-file-size {} or larger",
                bytes.div_ceil(MIB)
            )
        }
        Size::Over(bytes) => format!("import it with a --max-file-size over {}", bytes / MIB),
    };
    Problem::whole_file(
        ProblemKind::TooLarge,
        format!("{what} the --max-file-size limit of {limit}; not imported; {hint}"),
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn file(path: &Path, compressed: bool) -> FileToRead {
        FileToRead {
            path: path.to_path_buf(),
            parent: None,
            display: String::new(),
            path_key: 0,
            compressed,
            known: None,
            folder: None,
        }
    }

    #[test]
    fn a_known_file_is_unchanged_while_its_size_and_time_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.xml");
        std::fs::write(&path, "<POSTBACK/>").unwrap();
        let metadata = path.metadata().unwrap();
        let known = |size, content_hash| crate::discover::KnownFile {
            file_id: 1,
            size,
            modified_us: modified_micros(&metadata),
            content_hash,
        };
        let with = |known| FileToRead {
            known,
            ..file(&path, false)
        };
        assert_eq!(unchanged(&with(Some(known(11, Some(5))))), Ok(true));
        assert_eq!(
            unchanged(&with(Some(known(10, Some(5))))),
            Ok(false),
            "size changed"
        );
        assert_eq!(unchanged(&with(None)), Ok(false), "not in the ledger");
        assert_eq!(
            unchanged(&with(Some(known(11, None)))),
            Ok(false),
            "never fully imported (too large): read again"
        );
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            unchanged(&with(Some(known(11, Some(5))))).unwrap_err().kind,
            ProblemKind::Unreadable
        );
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
    fn refuses_content_over_the_limit_and_says_which_limit_would_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.xml.gz");
        std::fs::write(&path, gzip(&vec![b' '; 5000])).unwrap();
        let refused = read_file(&file(&path, true), 1000).unwrap();
        assert_eq!(
            (refused.content_hash, refused.content.len()),
            (None, 0),
            "not hashed, so that the ledger never takes it for imported"
        );
        assert_eq!(
            refused.problem.unwrap().message,
            "it decompresses to 5000 bytes, over the --max-file-size limit of 1000 bytes; not imported; import it with --max-file-size 1 or larger"
        );
        let plain = dir.path().join("big.xml");
        std::fs::write(&plain, vec![b' '; 3 * MIB as usize + 1]).unwrap();
        let too_large = read_file(&file(&plain, false), 2 * MIB).unwrap();
        assert_eq!(
            (
                too_large.size,
                too_large.content_hash,
                too_large.content.len()
            ),
            (3 * MIB + 1, None, 0)
        );
        assert_eq!(
            too_large.problem.unwrap().message,
            "the file is 3145729 bytes, over the --max-file-size limit of 2 MiB; not imported; import it with --max-file-size 4 or larger"
        );
    }

    #[test]
    fn a_gzip_bomb_is_counted_only_so_far_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.xml.gz");
        std::fs::write(&path, gzip(&vec![b'<'; 2 * MIB as usize])).unwrap();
        let problem = read_file(&file(&path, true), 100_000)
            .unwrap()
            .problem
            .unwrap();
        assert_eq!(
            problem.message,
            "it decompresses to more than 1600000 bytes, over the --max-file-size limit of 100000 bytes; not imported; import it with a --max-file-size over 1"
        );
    }

    /// Content past what is kept while counting is counted first, then decompressed
    /// again into a buffer of its exact size; damage past that point is still reported
    /// with what decompressed before it; content over the limit is refused having kept
    /// nothing past the first MiB.
    #[test]
    fn large_gzip_content_is_counted_before_it_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("large.xml.gz");
        let body: Vec<u8> = (0..3 * MIB).map(|i| b'a' + (i % 23) as u8).collect();
        let packed = gzip(&body);
        std::fs::write(&path, &packed).unwrap();
        let bytes = read_file(&file(&path, true), 4 * MIB).unwrap();
        assert!(bytes.content == body && bytes.problem.is_none());
        assert_eq!(bytes.content.capacity(), body.len(), "an exact buffer");

        std::fs::write(&path, &packed[..packed.len() - 12]).unwrap();
        let damaged = read_file(&file(&path, true), 4 * MIB).unwrap();
        assert!(damaged.content.len() as u64 > KEPT_WHILE_COUNTING);
        assert!(body.starts_with(&damaged.content));
        assert_eq!(damaged.problem.unwrap().kind, ProblemKind::BadGzip);

        std::fs::write(&path, &packed).unwrap();
        let refused = read_file(&file(&path, true), 2 * MIB).unwrap();
        assert_eq!(refused.content.capacity(), 0);
        assert_eq!(
            refused.problem.unwrap().message,
            "it decompresses to 3145728 bytes, over the --max-file-size limit of 2 MiB; not imported; import it with --max-file-size 3 or larger"
        );
    }

    #[test]
    fn only_regular_files_are_read_and_a_named_pipe_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.xml");
        crate::discover::mkfifo(&fifo);
        let socket = dir.path().join("socket.xml");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let cases = [
            (fifo.as_path(), "not a regular file (a named pipe)"),
            (dir.path(), "not a regular file (a directory)"),
            (
                Path::new("/dev/null"),
                "not a regular file (a character device)",
            ),
            (
                socket.as_path(),
                "cannot open: No such device or address (os error 6)",
            ),
            (
                &dir.path().join("gone.xml"),
                "cannot open: No such file or directory (os error 2)",
            ),
        ];
        for (path, message) in cases {
            let problem = read_file(&file(path, false), 1000).unwrap_err();
            assert_eq!(
                (problem.kind, problem.message.as_str()),
                (ProblemKind::Unreadable, message),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn a_file_that_grows_and_shrinks_while_read_gives_bytes_that_match_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("moving.xml");
        std::fs::write(&path, b"").unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut handle = File::options().append(true).open(&path).unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    handle.write_all(&[b'x'; 4096]).unwrap();
                    if handle.metadata().unwrap().len() > 200_000 {
                        handle.set_len(0).unwrap();
                    }
                }
            });
            for _ in 0..300 {
                let bytes = read_file(&file(&path, false), 100_000).unwrap();
                match bytes.content_hash {
                    Some(hash) => assert_eq!(hash, xxh3_128(&bytes.content)),
                    None => assert_eq!(bytes.problem.unwrap().kind, ProblemKind::TooLarge),
                }
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    }
}
