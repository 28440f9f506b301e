use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tar::{Builder, Header};

use super::*;
use crate::discover::{FolderFiles, FolderKind, FolderRef, TarballToRead};

/// A member to put in a test tarball: its raw name (any bytes), its type and content.
struct Put<'a> {
    name: &'a [u8],
    entry_type: EntryType,
    content: &'a [u8],
    /// A declared size other than the content's (a lie, or a huge member).
    size: Option<u64>,
    pax_mtime: Option<&'a str>,
}

fn put<'a>(name: &'a str, content: &'a [u8]) -> Put<'a> {
    Put {
        name: name.as_bytes(),
        entry_type: EntryType::Regular,
        content,
        size: None,
        pax_mtime: None,
    }
}

/// The bytes of a tarball of `members`, names written straight into the header (so
/// that `../x.xml` and `/etc/x.xml` can be made, as a hostile tool would).
fn tar_bytes(members: &[Put<'_>]) -> Vec<u8> {
    let mut builder = Builder::new(Vec::new());
    for member in members {
        if let Some(mtime) = member.pax_mtime {
            builder
                .append_pax_extensions([("mtime", mtime.as_bytes())])
                .unwrap();
        }
        let mut header = Header::new_ustar();
        header.as_old_mut().name[..member.name.len()].copy_from_slice(member.name);
        header.set_entry_type(member.entry_type);
        header.set_size(member.size.unwrap_or(member.content.len() as u64));
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder.append(&header, member.content).unwrap();
    }
    builder.into_inner().unwrap()
}

fn compress(bytes: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::None => bytes.to_vec(),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(bytes).unwrap();
            encoder.finish().unwrap()
        }
        Compression::Zstd => zstd::stream::encode_all(bytes, 3).unwrap(),
    }
}

fn tarball(path: &Path, compression: Compression) -> TarballToRead {
    TarballToRead {
        path: path.to_path_buf(),
        parent: None,
        display: path.display().to_string(),
        container: FolderRef {
            folder_id: 1,
            path: Arc::from(path.display().to_string()),
            kind: FolderKind::Tarball,
            parent_id: None,
            recorded: false,
        },
        members: FolderFiles::default(),
        compression,
    }
}

/// Each member as `name kind size mtime_us: content or problem`, and the tarball's end.
fn read_all(path: &Path, compression: Compression, max_size: u64) -> (Vec<String>, TarballEnd) {
    let tarball = tarball(path, compression);
    let prefix = format!("{}!", path.display());
    let mut seen = Vec::new();
    let end = read_members(&tarball, Duration::ZERO, |mut bytes| {
        let member = bytes.member.clone();
        assert_eq!(
            member.path_key,
            member_key(path, &member.display.as_bytes()[prefix.len()..])
        );
        let what = match member.kind {
            MemberKind::Postback => match bytes.read(max_size) {
                Ok(read) => match read.problem {
                    Some(problem) => format!("{}: {}", problem.kind, problem.message),
                    None => String::from_utf8_lossy(&read.content).into_owned(),
                },
                Err(problem) => format!("{}: {}", problem.kind, problem.message),
            },
            MemberKind::Special(what) => format!("special {what}"),
            MemberKind::Other => "other".to_string(),
        };
        let name = member
            .display
            .strip_prefix(&prefix)
            .unwrap_or(&member.display);
        seen.push(format!(
            "{name} {} {}: {what}",
            member.size, member.modified_us
        ));
        true
    });
    (seen, end)
}

fn write_tarball(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn members_of_each_compression_come_in_order_with_their_names_times_and_content() {
    let dir = tempfile::tempdir().unwrap();
    let gz = compress(b"<G/>", Compression::Gzip);
    let members = [
        Put {
            pax_mtime: Some("1700000000.123456789"),
            ..put("15/a.xml", b"<A/>")
        },
        put("15/b.xml.gz", &gz),
        put("15/notes.txt", b"notes"),
        Put {
            entry_type: EntryType::Directory,
            ..put("15/sub/", b"")
        },
    ];
    let plain = tar_bytes(&members);
    for (compression, name) in [
        (Compression::None, "15.tar"),
        (Compression::Gzip, "15.tar.gz"),
        (Compression::Zstd, "15.tar.zst"),
    ] {
        let path = write_tarball(dir.path(), name, &compress(&plain, compression));
        let (seen, end) = read_all(&path, compression, 1000);
        assert_eq!(
            seen,
            [
                "15/a.xml 4 1700000000123456: <A/>",
                format!("15/b.xml.gz {} 1700000000000000: <G/>", gz.len()).as_str(),
                "15/notes.txt 5 1700000000000000: other",
                "15/sub/ 0 1700000000000000: other",
            ],
            "{name}"
        );
        assert!(end.problem.is_none(), "{name}: {:?}", end.problem);
        assert!(end.stamp.is_some());
    }
}

/// Names are only names (nothing is extracted): `../` and absolute ones are read as
/// members; links and devices are not followed or read; a name met twice is filed
/// twice; a huge member or a bomb is refused without being kept.
#[test]
fn hostile_members_are_named_as_they_are_and_never_followed_or_held_whole() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = compress(&vec![b' '; 10_000], Compression::Gzip);
    let members = [
        put("../up.xml", b"<U/>"),
        put("/etc/abs.xml", b"<E/>"),
        Put {
            entry_type: EntryType::Symlink,
            ..put("link.xml", b"")
        },
        Put {
            entry_type: EntryType::Link,
            ..put("hard.xml", b"")
        },
        Put {
            entry_type: EntryType::Char,
            ..put("tty.xml", b"")
        },
        Put {
            entry_type: EntryType::Fifo,
            ..put("pipe.xml", b"")
        },
        put("same.xml", b"<1/>"),
        put("same.xml", b"<2/>"),
        put("huge.xml", &[b'x'; 2000]),
        put("bomb.xml.gz", &bomb),
        put("after.xml", b"<Z/>"),
    ];
    let path = write_tarball(dir.path(), "h.tar", &tar_bytes(&members));
    let (seen, end) = read_all(&path, Compression::None, 1000);
    let t = "1700000000000000";
    assert_eq!(
        seen,
        [
            format!("../up.xml 4 {t}: <U/>"),
            format!("/etc/abs.xml 4 {t}: <E/>"),
            format!("link.xml 0 {t}: other"),
            format!("hard.xml 0 {t}: other"),
            format!("tty.xml 0 {t}: special a character device"),
            format!("pipe.xml 0 {t}: special a named pipe"),
            format!("same.xml 4 {t}: <1/>"),
            format!("same.xml (2) 4 {t}: <2/>"),
            format!(
                "huge.xml 2000 {t}: too_large: the member is 2000 bytes, over the --max-file-size limit of 1000 bytes; not imported; import it with --max-file-size 1 or larger"
            ),
            format!(
                "bomb.xml.gz {} {t}: too_large: it decompresses to 10000 bytes, over the --max-file-size limit of 1000 bytes; not imported; import it with --max-file-size 1 or larger",
                bomb.len()
            ),
            format!("after.xml 4 {t}: <Z/>"),
        ]
    );
    assert!(end.problem.is_none(), "{:?}", end.problem);
}

/// A tarball cut short keeps what came before the cut; the tarball's problem says how
/// far it got. A file that is no tarball at all says so.
#[test]
fn a_tarball_cut_short_or_not_a_tarball_is_a_problem_after_what_could_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let whole = tar_bytes(&[put("a.xml", b"<A/>"), put("b.xml", &[b'b'; 3000])]);
    // Inside b.xml's content: a's header and content, b's header, 100 bytes of b.
    let cut = &whole[..512 + 512 + 512 + 100];
    let path = write_tarball(dir.path(), "cut.tar", cut);
    let (seen, end) = read_all(&path, Compression::None, 10_000);
    assert_eq!(
        seen,
        [
            "a.xml 4 1700000000000000: <A/>",
            "b.xml 3000 1700000000000000: bad_tarball: the tarball ends inside this member: 100 of its 3000 bytes are there",
        ]
    );
    let problem = end.problem.unwrap();
    assert_eq!(problem.kind, ProblemKind::BadTarball);

    for compression in [Compression::Gzip, Compression::Zstd] {
        let packed = compress(&whole, compression);
        let path = write_tarball(dir.path(), "cut.tar.x", &packed[..packed.len() / 2]);
        let (seen, end) = read_all(&path, compression, 10_000);
        assert!(seen.len() <= 2, "{seen:?}");
        assert_eq!(
            end.problem.map(|p| p.kind),
            Some(ProblemKind::BadTarball),
            "{compression:?}"
        );
    }

    let path = write_tarball(
        dir.path(),
        "text.tar",
        b"hello, this is not a tarball at all",
    );
    let (seen, end) = read_all(&path, Compression::None, 10_000);
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(end.problem.map(|p| p.kind), Some(ProblemKind::BadTarball));
    let path = write_tarball(dir.path(), "text.tar.zst", b"hello");
    let (_, end) = read_all(&path, Compression::Zstd, 10_000);
    assert_eq!(end.problem.map(|p| p.kind), Some(ProblemKind::BadTarball));
}

#[test]
fn pax_times_keep_their_fraction_and_bad_ones_fall_back_to_the_header() {
    assert_eq!(parse_mtime_us(b"1700000000.5"), Some(1_700_000_000_500_000));
    assert_eq!(parse_mtime_us(b"1700000000"), Some(1_700_000_000_000_000));
    assert_eq!(parse_mtime_us(b"-1.25"), Some(-1_250_000));
    assert_eq!(parse_mtime_us(b"17x"), None);
    assert_eq!(parse_mtime_us(b"1.2e3"), None);
    assert_eq!(parse_mtime_us("1.\u{e9}".as_bytes()), None);
    assert_eq!(base_name(b"15/a.xml"), b"a.xml");
    assert_eq!(base_name(b"a.xml"), b"a.xml");
    assert_eq!(base_name(b"dir.xml/"), b"dir.xml");
}
