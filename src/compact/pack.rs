//! Compact, helper: write a folder's files into a tarball, byte for byte with their
//! names and modification times (to the microsecond, in PAX records), and read it back
//! through the import's own tarball reader to check every member before anything is
//! removed.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use xxhash_rust::xxh3::xxh3_128;

use super::CompactError;
use crate::discover::{
    Compression, FolderFiles, FolderKind, FolderRef, MemberKind, Stamp, TarballToRead, read_members,
};

/// A file going into the tarball, as the ledger and the disk agree it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// Its name in the folder.
    pub name: String,
    pub size: u64,
    pub modified_us: i64,
    /// xxh3-128 of its bytes, which the ledger holds too.
    pub content_hash: u128,
}

/// Which file was read, as its metadata says: any later change to it (its bytes, its
/// times, another file renamed over it) changes its inode or change time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub inode: u64,
    pub changed_ns: i64,
}

impl Identity {
    pub fn of(metadata: &std::fs::Metadata) -> Identity {
        let stamp = Stamp::of(metadata);
        Identity {
            inode: metadata.ino(),
            changed_ns: stamp.changed_ns,
        }
    }
}

/// Write `files` (in `folder`) into a new tarball at `staged`, as members named
/// `PREFIX/NAME`, and make it durable. Each file's bytes must still hash to what the
/// ledger recorded; one that does not fails the folder, whose files then stay.
/// Returns each file's identity as it was read, so that only that file is removed.
pub fn write_tarball(
    staged: &Path,
    folder: &Path,
    prefix: &str,
    files: &[Packed],
    compression: Compression,
) -> Result<Vec<Identity>, CompactError> {
    let io = |error: std::io::Error| CompactError::io("write", staged, error);
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(staged)
        .map_err(io)?;
    let mut builder = tar::Builder::new(Sink::new(file, compression).map_err(io)?);
    let mut identities = Vec::with_capacity(files.len());
    for packed in files {
        let path = folder.join(&packed.name);
        let mut bytes = Vec::with_capacity(packed.size as usize);
        let identity = File::open(&path)
            .and_then(|mut file| {
                let identity = Identity::of(&file.metadata()?);
                file.read_to_end(&mut bytes)?;
                Ok(identity)
            })
            .map_err(|error| CompactError::io("read", &path, error))?;
        if bytes.len() as u64 != packed.size || xxh3_128(&bytes) != packed.content_hash {
            return Err(CompactError::Changed { path });
        }
        append(
            &mut builder,
            &format!("{prefix}/{}", packed.name),
            packed,
            &bytes,
        )
        .map_err(io)?;
        identities.push(identity);
    }
    let file = builder.into_inner().and_then(Sink::finish).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(identities)
}

/// The compressed stream a tarball is written into; finished explicitly, so that an
/// error in its last bytes (a full disk) is not lost.
enum Sink {
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

impl Sink {
    fn new(file: File, compression: Compression) -> std::io::Result<Sink> {
        let buffered = BufWriter::new(file);
        Ok(match compression {
            Compression::Gzip => Sink::Gzip(flate2::write::GzEncoder::new(
                buffered,
                flate2::Compression::default(),
            )),
            Compression::Zstd | Compression::None => {
                Sink::Zstd(zstd::stream::write::Encoder::new(buffered, ZSTD_LEVEL)?)
            }
        })
    }

    /// Finish the stream and hand back the file.
    fn finish(self) -> std::io::Result<File> {
        let buffered = match self {
            Sink::Gzip(encoder) => encoder.finish()?,
            Sink::Zstd(encoder) => encoder.finish()?,
        };
        buffered.into_inner().map_err(|error| error.into_error())
    }
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Gzip(encoder) => encoder.write(bytes),
            Sink::Zstd(encoder) => encoder.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Gzip(encoder) => encoder.flush(),
            Sink::Zstd(encoder) => encoder.flush(),
        }
    }
}

/// zstd's level for tarballs: its default, fast enough that compaction is bound by
/// reading the files, and a day of postbacks shrinks about tenfold.
const ZSTD_LEVEL: i32 = 3;

/// One member, with a PAX `mtime` that keeps the microseconds the header cannot.
fn append(
    builder: &mut tar::Builder<Sink>,
    name: &str,
    packed: &Packed,
    bytes: &[u8],
) -> std::io::Result<()> {
    let (seconds, micros) = (
        packed.modified_us.div_euclid(1_000_000),
        packed.modified_us.rem_euclid(1_000_000),
    );
    let mtime = format!("{seconds}.{micros:06}");
    builder.append_pax_extensions([("mtime", mtime.as_bytes())])?;
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(u64::try_from(seconds).unwrap_or(0));
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, name, bytes)
}

/// Read the staged tarball back as an import would, and check that it holds exactly
/// `files`, in order, each with its name, size, time and bytes.
pub fn check_tarball(
    staged: &Path,
    prefix: &str,
    files: &[Packed],
    compression: Compression,
) -> Result<(), CompactError> {
    let display = staged.display().to_string();
    let tarball = TarballToRead {
        path: staged.to_path_buf(),
        parent: None,
        display: display.clone(),
        container: FolderRef {
            folder_id: 0,
            path: display.clone().into(),
            kind: FolderKind::Tarball,
            parent_id: None,
            recorded: false,
        },
        members: FolderFiles::default(),
        compression,
    };
    let mut expected = files.iter();
    let mut mismatch = None;
    let end = read_members(&tarball, Duration::ZERO, |mut member| {
        let want = expected.next();
        let name = member
            .member
            .display
            .strip_prefix(&format!("{display}!"))
            .map(str::to_string);
        let read = member.read(u64::MAX);
        let same = want.is_some_and(|want| {
            member.member.kind == MemberKind::Postback
                && name.as_deref() == Some(&format!("{prefix}/{}", want.name))
                && member.member.modified_us == want.modified_us
                && read.as_ref().is_ok_and(|read| {
                    read.size == want.size && read.content_hash == Some(want.content_hash)
                })
        });
        if !same {
            mismatch = Some(name.unwrap_or_default());
        }
        same
    });
    let missing = expected.next().map(|want| want.name.clone());
    match (end.problem, mismatch.or(missing)) {
        (None, None) => Ok(()),
        (Some(problem), _) => Err(CompactError::Check {
            tarball: staged.to_path_buf(),
            what: problem.message,
        }),
        (None, Some(member)) => Err(CompactError::Check {
            tarball: staged.to_path_buf(),
            what: format!("member {member} does not match its file"),
        }),
    }
}
