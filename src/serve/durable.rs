//! Serve's durable writer: the archive folder that `import` later reads. Each postback
//! body becomes its own file under `DIR/YYYY/MM/DD/` (UTC), and only once it is safe
//! on disk does the request get its 200.
//!
//! A body is written to `DIR/.incoming/NAME.part`, its modification time set to the
//! request's arrival (the importer keeps it as the arrival time), fsynced, renamed to
//! `DIR/YYYY/MM/DD/NAME` (never over an existing file), and the day folder fsynced.
//! Group commit: a few writer lanes each take every body waiting at that moment and
//! make the whole batch durable with one `syncfs` (or, for a batch of one, its fsync)
//! and one fsync of each folder, so concurrent requests share the cost of the disk's flushes.

use std::collections::BTreeSet;
use std::fs::{File, FileTimes, OpenOptions};
use std::hash::BuildHasher;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::importer::HandOver;
use super::metrics::Metrics;

/// Where bodies wait, hidden from `import`'s walk of `*.xml` files, until they are safe.
const INCOMING: &str = ".incoming";
/// Leftovers of a killed server older than this are removed at start; no request of
/// a live server (on this folder) takes that long.
const STALE_AFTER: Duration = Duration::from_secs(3600);
/// Most bodies one lane makes durable together.
const MAX_BATCH: usize = 256;

/// What went wrong while archiving a body: the request is answered 503 (so the
/// platform sends it again) and nothing half-written is left under its final name.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the archive writer has stopped (the server is shutting down)")]
    Stopped,
}

fn io_error<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> WriteError + 'p {
    move |source| WriteError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Where a body goes: its day folder (`2026/11/30`) and file name. Names start with
/// the arrival time to the microsecond, so they sort by arrival, then carry the
/// process id, a per-process random tag and a sequence number, so they never collide,
/// not across restarts nor between two servers writing to one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub day: String,
    pub file: String,
}

impl Name {
    /// The path under the archive folder, `2026/11/30/045821.123456-4242-1a2b3c4d-000017.xml`.
    pub fn relative(&self) -> String {
        format!("{}/{}", self.day, self.file)
    }
}

/// The archive folder, as the writer sees it.
#[derive(Debug)]
pub struct ArchiveDir {
    root: PathBuf,
    incoming: PathBuf,
    tag: String,
    sequence: AtomicU64,
    /// Day folders this process has made durable (created, and their parents fsynced).
    ready_days: Mutex<BTreeSet<String>>,
}

impl ArchiveDir {
    /// Open `root` (created if missing) and clear what killed servers left in
    /// `.incoming` more than an hour ago: bodies that were never acknowledged.
    pub fn open(root: &Path) -> Result<ArchiveDir, WriteError> {
        std::fs::create_dir_all(root).map_err(io_error("create the archive folder", root))?;
        let root = root
            .canonicalize()
            .map_err(io_error("resolve the archive folder", root))?;
        let incoming = root.join(INCOMING);
        std::fs::create_dir_all(&incoming).map_err(io_error("create", &incoming))?;
        remove_stale(&incoming)?;
        let random = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        Ok(ArchiveDir {
            root,
            incoming,
            tag: format!("{}-{:08x}", std::process::id(), random as u32),
            sequence: AtomicU64::new(0),
            ready_days: Mutex::new(BTreeSet::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A new, unique name for a body that arrived at `arrived`; `.xml.gz` when it is
    /// gzipped (the importer gunzips those).
    pub fn name_for(&self, arrived: SystemTime, gzip: bool) -> Name {
        let at: DateTime<Utc> = arrived.into();
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let extension = if gzip { "xml.gz" } else { "xml" };
        Name {
            day: at.format("%Y/%m/%d").to_string(),
            file: format!(
                "{}-{}-{sequence:06}.{extension}",
                at.format("%H%M%S%.6f"),
                self.tag
            ),
        }
    }

    /// Where the body of `name` is written before it is safe.
    pub fn temp_path(&self, name: &Name) -> PathBuf {
        self.incoming.join(format!("{}.part", name.file))
    }

    /// Create the day folder of `name` if needed and make its entry durable: the
    /// first time this process uses a day, its parents are fsynced too.
    fn ready_day(&self, day: &str) -> Result<PathBuf, WriteError> {
        let folder = self.root.join(day);
        let mut ready = self.ready_days.lock().map_err(|_| WriteError::Stopped)?;
        if ready.contains(day) {
            return Ok(folder);
        }
        std::fs::create_dir_all(&folder).map_err(io_error("create", &folder))?;
        for parent in folder.ancestors().skip(1) {
            sync_folder(parent)?;
            if parent == self.root {
                break;
            }
        }
        ready.insert(day.to_string());
        Ok(folder)
    }
}

fn remove_stale(incoming: &Path) -> Result<(), WriteError> {
    let entries = std::fs::read_dir(incoming).map_err(io_error("list", incoming))?;
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| now.duration_since(modified).unwrap_or_default() > STALE_AFTER);
        if stale && path.extension().is_some_and(|e| e == "part") {
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(())
}

fn sync_folder(folder: &Path) -> Result<(), WriteError> {
    crate::disk::sync_folder(folder).map_err(io_error("fsync the folder", folder))
}

/// A body being written under `.incoming`; removed when dropped unless it was moved
/// to its final name.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    file: File,
    placed: bool,
}

impl TempFile {
    pub fn create(path: PathBuf) -> Result<TempFile, WriteError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error("create", &path))?;
        Ok(TempFile {
            path,
            file,
            placed: false,
        })
    }

    pub fn append(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        self.file
            .write_all(bytes)
            .map_err(io_error("write", &self.path))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A received body: small ones stay in memory until their lane writes them; larger
/// ones were written to their temporary file as they arrived.
#[derive(Debug)]
pub enum Body {
    Memory(Vec<u8>),
    Spilled(TempFile),
}

/// One request's body, to be archived.
#[derive(Debug)]
pub struct Delivery {
    pub name: Name,
    pub arrived: SystemTime,
    pub body: Body,
}

type Reply = oneshot::Sender<Result<Name, WriteError>>;

struct Job {
    delivery: Delivery,
    reply: Reply,
}

/// The writer: lanes that make batches of bodies durable. [`Writer::archive`]
/// resolves only once the body is safe under its final name.
pub struct Writer {
    lanes: Arc<Lanes>,
    jobs: Mutex<Option<Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// What every lane shares.
struct Lanes {
    dir: Arc<ArchiveDir>,
    metrics: Arc<Metrics>,
    /// How a batch's data is made durable, chosen once for this kernel.
    data_sync: DataSync,
    /// The last batch had a body that could not be archived.
    failing: AtomicBool,
    /// Where each durable file is handed to the scheduled imports, if any.
    handover: Option<Arc<HandOver>>,
}

impl Writer {
    /// Start `lanes` writer threads on `dir`, handing every file made durable to
    /// `handover` (serve's scheduled imports), if given.
    pub fn start(
        dir: Arc<ArchiveDir>,
        lanes: usize,
        metrics: Arc<Metrics>,
        handover: Option<Arc<HandOver>>,
    ) -> Writer {
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let shared = Arc::new(Lanes {
            dir,
            metrics,
            data_sync: DataSync::for_this_kernel(),
            failing: AtomicBool::new(false),
            handover,
        });
        let threads = (0..lanes.max(1))
            .filter_map(|lane| {
                let (receiver, shared) = (receiver.clone(), shared.clone());
                std::thread::Builder::new()
                    .name(format!("archive-{lane}"))
                    .spawn(move || shared.run(&receiver))
                    .ok()
            })
            .collect();
        Writer {
            lanes: shared,
            jobs: Mutex::new(Some(sender)),
            threads: Mutex::new(threads),
        }
    }

    pub fn dir(&self) -> &ArchiveDir {
        &self.lanes.dir
    }

    /// Whether the last batch could not be written (a full disk, a folder in the way).
    pub fn failing(&self) -> bool {
        self.lanes.failing.load(Ordering::Relaxed)
    }

    /// Archive one body; resolves once it is durable under its final name.
    pub async fn archive(&self, delivery: Delivery) -> Result<Name, WriteError> {
        let (reply, answer) = oneshot::channel();
        {
            let jobs = self.jobs.lock().map_err(|_| WriteError::Stopped)?;
            let sender = jobs.as_ref().ok_or(WriteError::Stopped)?;
            sender
                .send(Job { delivery, reply })
                .map_err(|_| WriteError::Stopped)?;
        }
        answer.await.unwrap_or(Err(WriteError::Stopped))
    }

    /// Stop taking bodies, finish those waiting, and wait for the lanes to end.
    pub fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let threads = self.threads.lock().map(|mut t| std::mem::take(&mut *t));
        for thread in threads.unwrap_or_default() {
            let _ = thread.join();
        }
    }
}

impl Lanes {
    /// One lane: commit batches until the writer is closed and drained.
    fn run(&self, jobs: &Mutex<Receiver<Job>>) {
        while let Some(batch) = next_batch(jobs) {
            let answers = self.commit(batch);
            let archived = answers.iter().filter(|(_, result)| result.is_ok()).count() as u64;
            let failed = answers.len() as u64 - archived;
            // Counted before the answers go out, so a client that got its answer sees
            // the metrics and /healthz that include it.
            self.failing.store(failed > 0, Ordering::Relaxed);
            let metrics = &self.metrics;
            metrics.commit_batches.fetch_add(1, Ordering::Relaxed);
            metrics
                .archived_files
                .fetch_add(archived, Ordering::Relaxed);
            metrics.write_errors.fetch_add(failed, Ordering::Relaxed);
            if let Some(handover) = &self.handover {
                let root = self.dir.root();
                let durable = answers
                    .iter()
                    .filter_map(|(_, result)| result.as_ref().ok());
                handover.add(durable.map(|name| root.join(name.relative())));
            }
            for (reply, result) in answers {
                let _ = reply.send(result);
            }
        }
    }
}

/// Every job waiting now (at least one; `None` once the writer is closed and drained).
fn next_batch(jobs: &Mutex<Receiver<Job>>) -> Option<Vec<Job>> {
    let jobs = jobs.lock().ok()?;
    let mut batch = vec![jobs.recv().ok()?];
    while batch.len() < MAX_BATCH {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// A body written to its temporary file, waiting for the barriers.
struct Staged {
    temp: TempFile,
    name: Name,
    reply: Reply,
}

/// The answer to each job of a batch.
type Answers = Vec<(Reply, Result<Name, WriteError>)>;

impl Lanes {
    /// Make a batch durable: every body that could be written is safe under its
    /// final name when this returns the answers.
    fn commit(&self, batch: Vec<Job>) -> Answers {
        let (dir, metrics) = (&*self.dir, &*self.metrics);
        let mut answers = Vec::with_capacity(batch.len());
        let mut staged = Vec::with_capacity(batch.len());
        for job in batch {
            match stage(dir, job.delivery) {
                Ok((temp, name)) => staged.push(Staged {
                    temp,
                    name,
                    reply: job.reply,
                }),
                Err(error) => answers.push((job.reply, Err(error))),
            }
        }
        if staged.is_empty() {
            return answers;
        }
        let started = Instant::now();
        let synced = self.data_sync.sync(&staged);
        metrics.fsync_seconds.observe(started.elapsed());
        let mut placed = Vec::with_capacity(staged.len());
        for (mut staged, synced) in staged.into_iter().zip(synced) {
            match synced.and_then(|()| place(dir, &mut staged.temp, &staged.name)) {
                Ok(folder) => placed.push((folder, staged)),
                Err(error) => answers.push((staged.reply, Err(error))),
            }
        }
        let started = Instant::now();
        let failed = sync_folders(placed.iter().map(|(folder, _)| folder.as_path()));
        metrics.fsync_seconds.observe(started.elapsed());
        for (folder, staged) in placed {
            let result = match failed.iter().find(|(path, _)| *path == folder) {
                None => Ok(staged.name),
                Some((_, message)) => Err(WriteError::Io {
                    action: "make durable the folder",
                    path: folder,
                    source: io::Error::other(message.clone()),
                }),
            };
            answers.push((staged.reply, result));
        }
        answers
    }
}

/// fsync each folder once; the folders that failed, with the error.
fn sync_folders<'f>(folders: impl Iterator<Item = &'f Path>) -> Vec<(PathBuf, String)> {
    let folders: BTreeSet<&Path> = folders.collect();
    let failed = folders.into_iter().filter_map(|folder| {
        let error = sync_folder(folder).err()?;
        Some((folder.to_path_buf(), error.to_string()))
    });
    failed.collect()
}

/// Write a body to its temporary file (if it is not there yet) and give the file the
/// arrival time, which `import` records as the postback's arrival.
fn stage(dir: &ArchiveDir, delivery: Delivery) -> Result<(TempFile, Name), WriteError> {
    let Delivery {
        name,
        arrived,
        body,
    } = delivery;
    let temp = match body {
        Body::Memory(bytes) => {
            let mut temp = TempFile::create(dir.temp_path(&name))?;
            temp.append(&bytes)?;
            temp
        }
        Body::Spilled(temp) => temp,
    };
    let times = FileTimes::new().set_accessed(arrived).set_modified(arrived);
    temp.file
        .set_times(times)
        .map_err(io_error("set the arrival time of", &temp.path))?;
    Ok((temp, name))
}

/// How a batch's files are made durable before they are renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataSync {
    /// One `syncfs` of their file system for the whole batch: one journal commit for
    /// the CPU of one call (against one fsync per file, BENCHMARKS.md measured 150
    /// instead of 220 to 300 µs of CPU a request). Only where `syncfs` reports
    /// write-back errors: Linux 5.8 and later.
    SyncFs,
    /// One fsync per file, in turn.
    EachFile,
}

impl DataSync {
    fn for_this_kernel() -> DataSync {
        match linux_version() {
            Some(version) if version >= (5, 8) => DataSync::SyncFs,
            _ => DataSync::EachFile,
        }
    }

    /// Make the data of every staged file durable; the result of each, in order.
    fn sync(self, staged: &[Staged]) -> Vec<Result<(), WriteError>> {
        let fsync = |s: &Staged| {
            s.temp
                .file
                .sync_all()
                .map_err(io_error("fsync", &s.temp.path))
        };
        match staged {
            [first, _, ..] if self == DataSync::SyncFs => {
                let synced = sync_file_system(&first.temp.file);
                let failed = |s: &Staged, e: &io::Error| WriteError::Io {
                    action: "syncfs the file system of",
                    path: s.temp.path.clone(),
                    source: io::Error::new(e.kind(), e.to_string()),
                };
                let each = |s: &Staged| synced.as_ref().map_err(|e| failed(s, e)).copied();
                staged.iter().map(each).collect()
            }
            _ => staged.iter().map(fsync).collect(),
        }
    }
}

#[cfg(target_os = "linux")]
fn sync_file_system(file: &File) -> io::Result<()> {
    Ok(rustix::fs::syncfs(file)?)
}

#[cfg(not(target_os = "linux"))]
fn sync_file_system(_file: &File) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The running Linux kernel's (major, minor) version; `None` elsewhere.
fn linux_version() -> Option<(u32, u32)> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|part| part.parse::<u32>().ok());
    Some((numbers.next()??, numbers.next()??))
}

/// Move a durable temporary file to its final name in its day folder.
fn place(dir: &ArchiveDir, temp: &mut TempFile, name: &Name) -> Result<PathBuf, WriteError> {
    let folder = dir.ready_day(&name.day)?;
    let target = folder.join(&name.file);
    crate::disk::rename_no_replace(&temp.path, &target)
        .map_err(io_error("move into place", &target))?;
    temp.placed = true;
    Ok(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(writer: &Writer, delivery: Delivery) -> Result<Name, WriteError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(writer.archive(delivery))
    }

    #[test]
    fn names_sort_by_arrival_and_never_repeat() {
        let folder = tempfile::tempdir().unwrap();
        let dir = ArchiveDir::open(folder.path()).unwrap();
        let at = |micros: u64| SystemTime::UNIX_EPOCH + Duration::from_micros(micros);
        let first = dir.name_for(at(1_796_000_000_000_001), false);
        let same_instant = dir.name_for(at(1_796_000_000_000_001), true);
        let later = dir.name_for(at(1_796_000_000_000_002), false);
        assert_eq!(first.day, "2026/11/30");
        let prefix = format!("005320.000001-{}-", std::process::id());
        assert!(first.file.starts_with(&prefix), "{}", first.file);
        assert!(first.file.ends_with("-000000.xml"), "{}", first.file);
        assert!(same_instant.file.ends_with("-000001.xml.gz"));
        assert!(first.file < same_instant.file && same_instant.file < later.file);
        let other = ArchiveDir::open(folder.path()).unwrap();
        assert_ne!(other.name_for(at(1_796_000_000_000_001), false), first);
    }

    #[test]
    fn bodies_land_whole_under_their_day_with_their_arrival_time() {
        let folder = tempfile::tempdir().unwrap();
        let dir = Arc::new(ArchiveDir::open(folder.path()).unwrap());
        let writer = Writer::start(dir.clone(), 2, Arc::new(Metrics::default()), None);
        let arrived = SystemTime::UNIX_EPOCH + Duration::from_micros(1_796_000_000_123_456);
        let small = dir.name_for(arrived, false);
        let name = archive(
            &writer,
            Delivery {
                name: small,
                arrived,
                body: Body::Memory(b"<a/>".to_vec()),
            },
        )
        .unwrap();
        let large = dir.name_for(arrived, false);
        let mut temp = TempFile::create(dir.temp_path(&large)).unwrap();
        temp.append(&[7; 100_000]).unwrap();
        let spilled = archive(
            &writer,
            Delivery {
                name: large,
                arrived,
                body: Body::Spilled(temp),
            },
        )
        .unwrap();
        writer.close();
        let path = folder.path().join(name.relative());
        assert_eq!(std::fs::read(&path).unwrap(), b"<a/>");
        assert_eq!(
            std::fs::read(folder.path().join(spilled.relative())).unwrap(),
            [7; 100_000]
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            arrived
        );
        assert_eq!(
            std::fs::read_dir(folder.path().join(INCOMING))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn a_batch_is_synced_by_either_strategy() {
        let folder = tempfile::tempdir().unwrap();
        let dir = ArchiveDir::open(folder.path()).unwrap();
        let staged: Vec<Staged> = (0..3)
            .map(|_| {
                let name = dir.name_for(SystemTime::now(), false);
                let mut temp = TempFile::create(dir.temp_path(&name)).unwrap();
                temp.append(b"<a/>").unwrap();
                Staged {
                    temp,
                    name,
                    reply: oneshot::channel().0,
                }
            })
            .collect();
        for strategy in [DataSync::SyncFs, DataSync::EachFile] {
            let results = strategy.sync(&staged);
            assert_eq!(results.len(), 3);
            assert!(
                results.iter().all(Result::is_ok),
                "{strategy:?}: {results:?}"
            );
        }
        assert!(linux_version().is_some_and(|version| version >= (3, 0)));
    }

    #[test]
    fn what_a_killed_server_left_in_incoming_is_cleared_after_an_hour() {
        let folder = tempfile::tempdir().unwrap();
        let incoming = folder.path().join(INCOMING);
        std::fs::create_dir_all(&incoming).unwrap();
        let old = incoming.join("old.xml.part");
        let fresh = incoming.join("fresh.xml.part");
        for path in [&old, &fresh] {
            std::fs::write(path, "x").unwrap();
        }
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        ArchiveDir::open(folder.path()).unwrap();
        assert!(!old.exists());
        assert!(fresh.exists(), "a live server's body must stay");
    }
}
