//! Discover, tarballs: the members of a `.tar`, `.tar.gz` or `.tar.zst` read as files,
//! in order, one at a time from the decompressing stream.
//!
//! Nothing is ever extracted to disk, so a member's name (`../x.xml`, `/etc/x.xml`) is
//! only a name: it is shown after the tarball's path and a `!`. A member is read only
//! when it is a regular file named like a postback file, and never more than the size
//! limit of it; a link or a device member is not followed or opened.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::time::{Duration, SystemTime};

use flate2::read::MultiGzDecoder;
use rustix::fs::{Mode, OFlags};
use tar::EntryType;

use super::listing::{
    Compression, describe_file_type, ends_with, is_postback_file, not_a_regular_file,
};
use super::read::{take_content, too_large_file};
use super::{FileBytes, Stamp, TarballToRead, member_key};
use crate::problem::{Problem, ProblemKind};

/// One member of a tarball, as the tarball's header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `TARBALL!NAME`, as stored in `files.path` and shown in messages.
    pub display: String,
    /// The ledger's key of the member (see [`member_key`]).
    pub path_key: u128,
    /// The size its header declares.
    pub size: u64,
    pub modified_us: i64,
    /// Named `*.gz`: gunzip before parsing.
    pub compressed: bool,
    pub kind: MemberKind,
}

/// What a member is, which decides what is done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// A regular file named like a postback file: to be read.
    Postback,
    /// Named like a postback file but a device or named pipe: reported, not read.
    Special(&'static str),
    /// Anything else (another name, a folder, a link): counted, not read.
    Other,
}

/// A member handed to the reader's callback, whose content can be read once.
pub struct MemberBytes<'m> {
    pub member: Member,
    content: &'m mut dyn Read,
}

impl MemberBytes<'_> {
    /// Read the member's content, refusing more than `max_size` bytes (before or after
    /// gunzip) without keeping them; the bytes on disk are hashed as a file's are.
    pub fn read(&mut self, max_size: u64) -> Result<FileBytes, Problem> {
        let mut bytes = FileBytes {
            size: self.member.size,
            modified_us: self.member.modified_us,
            content: Vec::new(),
            content_hash: None,
            problem: None,
        };
        if self.member.size > max_size {
            let what = format!("the member is {} bytes, over", self.member.size);
            bytes.problem = Some(too_large_file(&what, max_size, self.member.size));
            return Ok(bytes);
        }
        let mut raw = Vec::with_capacity(self.member.size as usize);
        self.content
            .read_to_end(&mut raw)
            .map_err(|error| bad_tarball(format!("cannot read the member: {error}")))?;
        if raw.len() as u64 != self.member.size {
            let message = format!(
                "the tarball ends inside this member: {} of its {} bytes are there",
                raw.len(),
                self.member.size
            );
            return Err(bad_tarball(message));
        }
        take_content(&mut bytes, raw, self.member.compressed, max_size);
        Ok(bytes)
    }
}

/// How reading a tarball ended.
#[derive(Debug)]
pub struct TarballEnd {
    /// The tarball's size and time before it was read, when they were old enough to
    /// trust (see [`Stamp::settled`]).
    pub stamp: Option<Stamp>,
    /// Why the members could not all be read: the tarball is unreadable, not a
    /// tarball, damaged or cut short. `None` when every member was read.
    pub problem: Option<Problem>,
}

/// Read the members of `tarball` in order and hand each to `each`, which returns false
/// to stop (the import is stopping). A member name met twice is handed on the second
/// time as `NAME (2)`, and so on, so that each is filed once.
pub fn read_members(
    tarball: &TarballToRead,
    settle_time: Duration,
    mut each: impl FnMut(MemberBytes<'_>) -> bool,
) -> TarballEnd {
    let (file, stamp) = match open_tarball(tarball) {
        Ok(opened) => opened,
        Err(problem) => {
            return TarballEnd {
                stamp: None,
                problem: Some(problem),
            };
        }
    };
    let listed_at = SystemTime::now();
    let stamp = stamp.settled(listed_at, settle_time).then_some(stamp);
    let stream: Box<dyn Read> = match tarball.compression {
        Compression::None => Box::new(BufReader::new(file)),
        Compression::Gzip => Box::new(MultiGzDecoder::new(BufReader::new(file))),
        Compression::Zstd => match zstd::stream::read::Decoder::new(file) {
            Ok(decoder) => Box::new(decoder),
            Err(error) => {
                let problem = bad_tarball(format!("cannot start zstd: {error}"));
                return TarballEnd {
                    stamp,
                    problem: Some(problem),
                };
            }
        },
    };
    let problem = each_member(tarball, stream, &mut each).err();
    TarballEnd { stamp, problem }
}

/// Walk the entries of the tarball's stream; `Err` is the tarball's own problem.
fn each_member(
    tarball: &TarballToRead,
    stream: Box<dyn Read>,
    each: &mut impl FnMut(MemberBytes<'_>) -> bool,
) -> Result<(), Problem> {
    let mut archive = tar::Archive::new(stream);
    let entries = archive
        .entries()
        .map_err(|error| bad_tarball(format!("not a tarball: {error}")))?;
    let mut names = HashSet::new();
    let mut read = 0_usize;
    for entry in entries {
        let mut entry = entry.map_err(|error| damaged(read, &error))?;
        let member = describe(tarball, &mut entry, &mut names).map_err(|e| damaged(read, &e))?;
        read += 1;
        let content: &mut dyn Read = &mut entry;
        if !each(MemberBytes { member, content }) {
            return Ok(());
        }
    }
    if read == 0 {
        return Err(bad_tarball(
            "no member; not a tarball, or an empty one".to_string(),
        ));
    }
    Ok(())
}

/// The member the header of `entry` describes.
fn describe<R: Read>(
    tarball: &TarballToRead,
    entry: &mut tar::Entry<'_, R>,
    names: &mut HashSet<Vec<u8>>,
) -> std::io::Result<Member> {
    let original = entry.path_bytes().into_owned();
    let postback_name = is_postback_file(base_name(&original));
    let compressed = ends_with(&original, ".gz");
    let name = unique_name(original, names);
    let header = entry.header();
    let size = header.entry_size().unwrap_or(0);
    let seconds = header.mtime().unwrap_or(0);
    let entry_type = header.entry_type();
    let modified_us = pax_mtime_us(entry)?.unwrap_or_else(|| seconds_to_us(seconds));
    let kind = match entry_type {
        EntryType::Regular | EntryType::Continuous if postback_name => MemberKind::Postback,
        EntryType::Char if postback_name => MemberKind::Special("a character device"),
        EntryType::Block if postback_name => MemberKind::Special("a block device"),
        EntryType::Fifo if postback_name => MemberKind::Special("a named pipe"),
        _ => MemberKind::Other,
    };
    Ok(Member {
        display: format!("{}!{}", tarball.display, String::from_utf8_lossy(&name)),
        path_key: member_key(&tarball.path, &name),
        size,
        modified_us,
        compressed,
        kind,
    })
}

/// `name`, or `NAME (2)`, `NAME (3)`… when a member of that name came before.
fn unique_name(name: Vec<u8>, names: &mut HashSet<Vec<u8>>) -> Vec<u8> {
    if names.insert(name.clone()) {
        return name;
    }
    let mut copy = 2;
    loop {
        let mut candidate = name.clone();
        candidate.extend_from_slice(format!(" ({copy})").as_bytes());
        if names.insert(candidate.clone()) {
            return candidate;
        }
        copy += 1;
    }
}

/// The last part of a member's name (`15/a.xml` -> `a.xml`).
fn base_name(name: &[u8]) -> &[u8] {
    let trimmed = name.strip_suffix(b"/").unwrap_or(name);
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(slash) => trimmed.get(slash + 1..).unwrap_or(trimmed),
        None => trimmed,
    }
}

/// The member's modification time from a PAX `mtime` record (`1700000000.123456`),
/// which keeps the fraction of a second that the plain header drops.
fn pax_mtime_us<R: Read>(entry: &mut tar::Entry<'_, R>) -> std::io::Result<Option<i64>> {
    let Some(extensions) = entry.pax_extensions()? else {
        return Ok(None);
    };
    for extension in extensions {
        let extension = extension?;
        if extension.key_bytes() == b"mtime" {
            return Ok(parse_mtime_us(extension.value_bytes()));
        }
    }
    Ok(None)
}

/// `seconds[.fraction]` as microseconds since the epoch.
fn parse_mtime_us(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let seconds: i64 = whole.parse().ok()?;
    let digits: String = fraction.chars().take(6).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = format!("{digits:0<6}").parse().ok()?;
    let micros = if seconds < 0 { -micros } else { micros };
    seconds.checked_mul(1_000_000)?.checked_add(micros)
}

fn seconds_to_us(seconds: u64) -> i64 {
    i64::try_from(seconds)
        .unwrap_or(i64::MAX / 1_000_000)
        .saturating_mul(1_000_000)
}

/// Open the tarball, only if it is a regular file, as a file is opened (see
/// `read.rs`), with its stamp taken from the open handle.
fn open_tarball(tarball: &TarballToRead) -> Result<(File, Stamp), Problem> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let opened = match (&tarball.parent, tarball.path.file_name()) {
        (Some(parent), Some(name)) => rustix::fs::openat(parent, name, flags, Mode::empty()),
        _ => rustix::fs::open(&tarball.path, flags, Mode::empty()),
    };
    let unreadable = |step: &str, error: std::io::Error| {
        Problem::whole_file(ProblemKind::Unreadable, format!("cannot {step}: {error}"))
    };
    let file = File::from(opened.map_err(|e| unreadable("open", e.into()))?);
    let metadata = file.metadata().map_err(|e| unreadable("read", e))?;
    if !metadata.is_file() {
        return Err(not_a_regular_file(describe_file_type(metadata.file_type())));
    }
    Ok((file, Stamp::of(&metadata)))
}

fn bad_tarball(message: String) -> Problem {
    Problem::whole_file(ProblemKind::BadTarball, message)
}

/// The problem of a tarball whose stream failed after `read` members.
fn damaged(read: usize, error: &std::io::Error) -> Problem {
    let members = match read {
        1 => "1 member".to_string(),
        n => format!("{n} members"),
    };
    bad_tarball(format!(
        "damaged or cut short after {members} ({error}); they are imported, the rest is not"
    ))
}

#[cfg(test)]
mod tests;
