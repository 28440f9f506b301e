//! Store, helper: the archive file read block by block as DuckDB lays it out, to find
//! damage that DuckDB itself meets only when a query happens to read the damaged block
//! (a copy cut short, a flipped byte). Nothing here writes.
//!
//! DuckDB (storage v1.5.0, as 2.0.1 writes it) starts the file with a main header and
//! two database headers of 4 KiB each, then blocks of `block_alloc_size` bytes (256 KiB).
//! Every header and block begins with an 8-byte checksum of the rest of it. The database
//! header with the higher iteration is the current one: it names the number of blocks
//! and where the list of free blocks is, a chain of 4 KiB metadata pieces (64 to a
//! block; each begins with a pointer to the next). Every block below the count that the
//! free list does not name holds something the archive needs.
//!
//! A full scan by DuckDB reads every block of every column, but not the blocks of
//! indexes (primary keys), which it reads only along the path a key lookup takes; so
//! [`check_every_block`] checks the checksum of every block in use itself.

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

/// The main header and each database header.
const HEADER_SIZE: u64 = 4096;
/// Where the first block starts: after the main header and the two database headers.
const BLOCK_START: u64 = 3 * HEADER_SIZE;
/// The checksum at the start of every header and block.
const CHECKSUM_SIZE: usize = 8;
/// Metadata pieces in one block.
const METADATA_PIECES: u64 = 64;
/// DuckDB's "no block" pointer.
const INVALID: u64 = u64::MAX;
/// The flag of an encrypted database in the main header (DuckDB's `ENCRYPTED_DATABASE_FLAG`).
const ENCRYPTED: u64 = 1;
/// How many times a finding is looked at again while a writer may be checkpointing.
const ATTEMPTS: u32 = 4;
/// Blocks read at a time by [`check_every_block`] (4 MiB).
const BLOCKS_PER_READ: u64 = 16;

/// What is wrong with the file's blocks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    #[error(
        "it is cut short: it is {actual} bytes, and the blocks it holds need {needed} \
         (a copy or a download that did not finish, or a full disk)"
    )]
    CutShort { actual: u64, needed: u64 },
    #[error("its {which} header fails its checksum (bytes {start} to {end})")]
    Header {
        which: &'static str,
        start: u64,
        end: u64,
    },
    #[error("block {block} (bytes {start} to {end}) fails its checksum")]
    Block { block: u64, start: u64, end: u64 },
    #[error("its list of free blocks is unreadable: {0}")]
    FreeList(String),
}

impl Damage {
    /// Block `block` of `size` bytes fails its checksum.
    fn block(block: u64, size: u64) -> Damage {
        Damage::Block {
            block,
            start: block_start(block, size),
            end: block_start(block + 1, size).saturating_sub(1),
        }
    }
}

fn block_start(block: u64, size: u64) -> u64 {
    BLOCK_START.saturating_add(block.saturating_mul(size))
}

/// Why the blocks could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("{0}")]
    Damaged(Damage),
    /// A layout this code does not know (an encrypted database, a block size DuckDB
    /// does not write): the blocks are left to DuckDB.
    #[error("its layout is not one postback-archive can check ({0})")]
    Unknown(String),
    #[error("cannot read it: {0}")]
    Io(#[from] io::Error),
}

/// The current state of the file, as its headers describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The current database header's iteration: it grows with every checkpoint.
    pub iteration: u64,
    pub block_count: u64,
    pub block_size: u64,
    /// Blocks below `block_count` that hold nothing.
    pub free: BTreeSet<u64>,
}

impl Layout {
    /// The blocks that hold something, in order.
    pub fn used(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.block_count).filter(|block| !self.free.contains(block))
    }

    /// Bytes the file must have to hold every block in use.
    fn needed_length(&self) -> u64 {
        self.used()
            .last()
            .map_or(BLOCK_START, |last| block_start(last + 1, self.block_size))
    }
}

/// Check what can be checked without reading every block: the headers' checksums, the
/// free list, and that the file is long enough for every block in use. Cheap (a few
/// KiB and the free list's blocks), for every command that opens the archive. A
/// finding is looked at again while the header keeps changing (a writer checkpointing
/// beside us), so only damage that stays is reported.
pub fn check_structure(path: &Path) -> Result<Layout, BlockError> {
    let file = File::open(path)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let before = current_iteration(&file);
        let result = structure(&file);
        let settled = before.is_some() && current_iteration(&file) == before;
        match result {
            Err(BlockError::Damaged(_)) if !settled && attempt < ATTEMPTS => {
                std::thread::sleep(Duration::from_millis(50));
            }
            result => return result,
        }
    }
}

fn structure(file: &File) -> Result<Layout, BlockError> {
    let layout = read_layout(file)?;
    let actual = file.metadata()?.len();
    let needed = layout.needed_length();
    if actual < needed {
        return Err(BlockError::Damaged(Damage::CutShort { actual, needed }));
    }
    Ok(layout)
}

/// Check the checksum of every block in use, reading the file once; returns every
/// damaged block (none for a sound file). The file must not be written meanwhile
/// (the caller holds DuckDB's lock on it).
pub fn check_every_block(path: &Path) -> Result<(Layout, Vec<Damage>), BlockError> {
    let file = File::open(path)?;
    let layout = structure(&file)?;
    let size = layout.block_size;
    let mut damage = Vec::new();
    let mut buffer = vec![0u8; usize::try_from(size * BLOCKS_PER_READ).unwrap_or(0)];
    // Blocks past the end of the file are free ones (`structure` checked the others).
    let whole = file.metadata()?.len().saturating_sub(BLOCK_START) / size;
    let total = layout.block_count.min(whole);
    let mut first = 0;
    while first < total {
        let count = BLOCKS_PER_READ.min(total - first);
        let bytes = usize::try_from(count * size).unwrap_or(0);
        let Some(chunk) = buffer.get_mut(..bytes) else {
            break;
        };
        file.read_exact_at(chunk, block_start(first, size))?;
        for (offset, block) in chunk.chunks_exact(size as usize).enumerate() {
            let id = first + offset as u64;
            if !layout.free.contains(&id) && !checksum_holds(block) {
                damage.push(Damage::block(id, size));
            }
        }
        first += count;
    }
    Ok((layout, damage))
}

/// The iteration of the current database header, or `None` when it cannot be read.
fn current_iteration(file: &File) -> Option<u64> {
    let headers = [HEADER_SIZE, 2 * HEADER_SIZE].map(|start| {
        let mut header = [0u8; 16];
        file.read_exact_at(&mut header, start).ok()?;
        word(&header, 1)
    });
    headers.into_iter().flatten().max()
}

/// The main header, then the current database header and the free list it names.
fn read_layout(file: &File) -> Result<Layout, BlockError> {
    let length = file.metadata()?.len();
    if length < BLOCK_START {
        return Err(BlockError::Damaged(Damage::CutShort {
            actual: length,
            needed: BLOCK_START,
        }));
    }
    let main = read_header(file, 0, "main")?;
    if word(&main, 2).is_some_and(|flags| flags & ENCRYPTED != 0) {
        return Err(BlockError::Unknown("it is encrypted".to_string()));
    }
    let first = read_header(file, HEADER_SIZE, "first database")?;
    let second = read_header(file, 2 * HEADER_SIZE, "second database")?;
    let current = if word(&first, 1) > word(&second, 1) {
        first
    } else {
        second
    };
    let field = |index: usize| word(&current, index).unwrap_or(INVALID);
    let (iteration, free_list, block_count, block_size) = (field(1), field(3), field(4), field(5));
    if !block_size.is_power_of_two() || !(16 * 1024..=256 * 1024).contains(&block_size) {
        return Err(BlockError::Unknown(format!("blocks of {block_size} bytes")));
    }
    let mut layout = Layout {
        iteration,
        block_count,
        block_size,
        free: BTreeSet::new(),
    };
    if free_list != INVALID {
        layout.free = read_free_list(file, &layout, free_list)?;
    }
    Ok(layout)
}

/// One header, its checksum checked.
fn read_header(file: &File, start: u64, which: &'static str) -> Result<Vec<u8>, BlockError> {
    let mut header = vec![0u8; HEADER_SIZE as usize];
    file.read_exact_at(&mut header, start)?;
    if checksum_holds(&header) {
        Ok(header)
    } else {
        Err(BlockError::Damaged(Damage::Header {
            which,
            start,
            end: start + HEADER_SIZE - 1,
        }))
    }
}

/// The 8-byte little-endian word at `index` (counted in words) of `bytes`.
fn word(bytes: &[u8], index: usize) -> Option<u64> {
    let start = index.checked_mul(8)?;
    let slice = bytes.get(start..start.checked_add(8)?)?;
    Some(u64::from_le_bytes(slice.try_into().ok()?))
}

/// The ids of the free blocks, from the metadata chain starting at `pointer` (the
/// block id in its low 56 bits, the piece in its high 8): a count, then the ids.
fn read_free_list(file: &File, layout: &Layout, pointer: u64) -> Result<BTreeSet<u64>, BlockError> {
    let mut reader = MetadataReader::new(file, layout, pointer);
    let count = reader.next_word()?;
    if count > layout.block_count {
        return Err(free_list(format!(
            "it names {count} free blocks of {}",
            layout.block_count
        )));
    }
    let mut free = BTreeSet::new();
    for _ in 0..count {
        let block = reader.next_word()?;
        if block >= layout.block_count {
            return Err(free_list(format!(
                "it names block {block} of {}",
                layout.block_count
            )));
        }
        free.insert(block);
    }
    Ok(free)
}

fn free_list(reason: String) -> BlockError {
    BlockError::Damaged(Damage::FreeList(reason))
}

/// Reads the words of a chain of metadata pieces.
struct MetadataReader<'f> {
    file: &'f File,
    block_count: u64,
    block_size: u64,
    piece_size: usize,
    next: u64,
    piece: Vec<u8>,
    /// Position in `piece`, past its pointer to the next piece.
    offset: usize,
    /// Pieces read, bounded by the pieces the file can hold (a chain that loops).
    pieces_read: u64,
}

impl<'f> MetadataReader<'f> {
    fn new(file: &'f File, layout: &Layout, pointer: u64) -> Self {
        let data = layout.block_size as usize - CHECKSUM_SIZE;
        MetadataReader {
            file,
            block_count: layout.block_count,
            block_size: layout.block_size,
            // DuckDB's `GetMetadataBlockSize`: a 64th of a block's data, in whole words.
            piece_size: data / METADATA_PIECES as usize / 8 * 8,
            next: pointer,
            piece: Vec::new(),
            offset: 0,
            pieces_read: 0,
        }
    }

    fn next_word(&mut self) -> Result<u64, BlockError> {
        if self.offset + 8 > self.piece.len() {
            self.read_piece()?;
        }
        let value = word(&self.piece, self.offset / 8)
            .ok_or_else(|| free_list("a piece ends inside a number".to_string()))?;
        self.offset += 8;
        Ok(value)
    }

    fn read_piece(&mut self) -> Result<(), BlockError> {
        if self.next == INVALID {
            return Err(free_list(
                "it ends before the last of its blocks".to_string(),
            ));
        }
        self.pieces_read += 1;
        if self.pieces_read > self.block_count.saturating_mul(METADATA_PIECES) {
            return Err(free_list("its pieces lead round in a loop".to_string()));
        }
        let (block, piece) = (self.next & ((1 << 56) - 1), self.next >> 56);
        if block >= self.block_count || piece >= METADATA_PIECES {
            return Err(free_list(format!(
                "it points at block {block}, piece {piece}"
            )));
        }
        let mut whole = vec![0u8; self.block_size as usize];
        self.file
            .read_exact_at(&mut whole, block_start(block, self.block_size))
            .map_err(|error| match error.kind() {
                io::ErrorKind::UnexpectedEof => BlockError::Damaged(Damage::CutShort {
                    actual: self.file.metadata().map_or(0, |m| m.len()),
                    needed: block_start(block + 1, self.block_size),
                }),
                _ => BlockError::Io(error),
            })?;
        if !checksum_holds(&whole) {
            return Err(BlockError::Damaged(Damage::block(block, self.block_size)));
        }
        let start = CHECKSUM_SIZE + piece as usize * self.piece_size;
        self.piece = whole
            .get(start..start + self.piece_size)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        self.next = word(&self.piece, 0).unwrap_or(INVALID);
        self.offset = 8;
        Ok(())
    }
}

/// Whether the checksum at the start of `block` (a header or a block) is that of the
/// rest of it.
fn checksum_holds(block: &[u8]) -> bool {
    match (word(block, 0), block.get(CHECKSUM_SIZE..)) {
        (Some(stored), Some(rest)) => stored == checksum(rest),
        _ => false,
    }
}

/// DuckDB's block checksum (`src/common/checksum.cpp`): each 8-byte word multiplied by
/// a constant and folded in with xor; a tail of fewer than 8 bytes is hashed apart.
fn checksum(data: &[u8]) -> u64 {
    let mut result: u64 = 5381;
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        result ^= u64::from_le_bytes(bytes).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        result ^= tail_hash(tail);
    }
    result
}

/// DuckDB's `ChecksumRemainder` (MurmurHash64A) for a tail of fewer than 8 bytes.
fn tail_hash(tail: &[u8]) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const SEED: u64 = 0xe17a_1465;
    const R: u32 = 47;
    let mut hash = SEED ^ (tail.len() as u64).wrapping_mul(M);
    for (index, byte) in tail.iter().enumerate().rev() {
        hash ^= u64::from(*byte) << (8 * index);
    }
    hash = hash.wrapping_mul(M);
    hash ^= hash >> R;
    hash = hash.wrapping_mul(M);
    hash ^ (hash >> R)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A DuckDB file with 300,000 rows of two columns, a primary key, and free blocks
    /// (rows deleted after a checkpoint).
    fn database(dir: &Path) -> PathBuf {
        let path = dir.join("t.duckdb");
        let conn = duckdb::Connection::open_with_flags(
            &path,
            duckdb::Config::default()
                .with(
                    "storage_compatibility_version",
                    crate::store::STORAGE_VERSION,
                )
                .unwrap(),
        )
        .unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
             INSERT INTO meta SELECT 'k' || i, 'v' || i FROM range(50000) t(i);
             CREATE TABLE p AS SELECT i AS id, repeat('x', (i % 50)::INTEGER) || i AS s FROM range(300000) t(i);
             CHECKPOINT;
             DELETE FROM p WHERE id < 200000;
             CHECKPOINT;",
        )
        .unwrap();
        path
    }

    fn flip(path: &Path, at: u64) {
        let file = File::options().read(true).write(true).open(path).unwrap();
        let mut byte = [0u8];
        file.read_exact_at(&mut byte, at).unwrap();
        file.write_all_at(&[byte[0] ^ 0xff], at).unwrap();
    }

    #[test]
    fn a_sound_file_has_every_block_in_use_whole_and_some_free() {
        let dir = tempfile::tempdir().unwrap();
        let path = database(dir.path());
        let (layout, damage) = check_every_block(&path).unwrap();
        assert_eq!(damage, []);
        assert_eq!(layout.block_size, 262_144);
        assert!(!layout.free.is_empty(), "the deleted rows freed blocks");
        assert!(layout.free.iter().all(|block| *block < layout.block_count));
        assert_eq!(check_structure(&path).unwrap(), layout);
    }

    #[test]
    fn a_flipped_byte_in_any_block_in_use_is_found_and_one_in_a_free_block_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let sound = database(dir.path());
        let layout = check_structure(&sound).unwrap();
        let copy = dir.path().join("copy.duckdb");
        for block in 0..layout.block_count {
            std::fs::copy(&sound, &copy).unwrap();
            flip(&copy, block_start(block, layout.block_size) + 5000);
            // A block of the free list is found while the layout is read.
            let damage = match check_every_block(&copy) {
                Ok((_, damage)) => damage,
                Err(BlockError::Damaged(damage)) => vec![damage],
                Err(error) => panic!("block {block}: {error}"),
            };
            let expected = if layout.free.contains(&block) {
                vec![]
            } else {
                vec![Damage::block(block, layout.block_size)]
            };
            assert_eq!(damage, expected, "block {block}");
        }
    }

    #[test]
    fn a_file_cut_anywhere_is_found_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        let sound = database(dir.path());
        let length = std::fs::metadata(&sound).unwrap().len();
        let copy = dir.path().join("cut.duckdb");
        for cut in [100, 5000, 12_288, length / 4, length / 2, length - 1] {
            std::fs::copy(&sound, &copy).unwrap();
            File::options()
                .write(true)
                .open(&copy)
                .unwrap()
                .set_len(cut)
                .unwrap();
            match check_structure(&copy) {
                Err(BlockError::Damaged(Damage::CutShort { actual, needed })) => {
                    assert_eq!(actual, cut);
                    assert!(needed > cut, "{needed} for a cut at {cut}");
                }
                Err(BlockError::Damaged(Damage::Block { .. })) if cut > BLOCK_START => {
                    // The free list's block itself was cut: it fails its checksum.
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_flipped_byte_in_a_header_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = database(dir.path());
        flip(&path, HEADER_SIZE + 100);
        let error = check_structure(&path).unwrap_err();
        assert_eq!(
            error.to_string(),
            "its first database header fails its checksum (bytes 4096 to 8191)"
        );
    }

    #[test]
    fn the_checksum_is_duckdbs_for_whole_words_and_a_tail() {
        assert_eq!(checksum(&[]), 5381);
        assert_eq!(checksum(&[0; 16]), 5381);
        let one = 1u64.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        assert_eq!(checksum(&1u64.to_le_bytes()), 5381 ^ one);
        assert_ne!(checksum(&[1, 2, 3]), checksum(&[1, 2, 4]));
    }
}
