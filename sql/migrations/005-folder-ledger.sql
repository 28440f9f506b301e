-- postback-archive schema migration 4 -> 5, run in one transaction by
-- src/store/schema.rs: the folder ledger, with which a run lists only the folders that
-- can have changed and looks up the files of each folder alone (src/discover/walk.rs,
-- src/store/ledger.rs), and the journal of `compact` (src/store/compaction.rs).
--
-- Every file gets the folder that holds it. An archive of an earlier version has no
-- stamps yet, so its first run after this lists every folder once, as before, and
-- records what it found.

-- Every folder (and tarball) the archive holds files of, or has listed.
CREATE TABLE IF NOT EXISTS folders (
    folder_id     BIGINT NOT NULL,
    path          VARCHAR NOT NULL,          -- absolute, as shown (a tarball: its file)
    kind          VARCHAR NOT NULL,          -- folder | tarball
    parent_id     BIGINT,                    -- the folder holding it, once a run listed that one
    first_file_id BIGINT,                    -- the lowest and highest file_id of its files:
    last_file_id  BIGINT,                    --   where in `files` a lookup of them reads
    listed_run_id INTEGER,                   -- the run that last read all of it; NULL: list it again
    links_followed BOOLEAN,                  -- that run followed symbolic links (--follow-symlinks)
    -- what its metadata said then: a folder is unchanged while all four stay, a
    -- tarball while its size and modified time do
    device        BIGINT,
    inode         BIGINT,
    modified_ns   BIGINT,
    changed_ns    BIGINT,
    size          BIGINT
);

ALTER TABLE files ADD COLUMN folder_id BIGINT;  -- folders.folder_id

-- The folders of the files already read: the text of each path up to its last '/'.
INSERT INTO folders (folder_id, path, kind, first_file_id, last_file_id)
SELECT row_number() OVER (ORDER BY folder), folder, 'folder', min(file_id), max(file_id)
FROM (
    SELECT file_id, coalesce(nullif(regexp_extract(path, '^(.*)/[^/]*$', 1), ''), '/') AS folder
    FROM files
)
GROUP BY folder;

-- In place, so that the rows keep their order (file_id's), which keeps the lookups
-- of one folder to the row groups that hold it.
UPDATE files SET folder_id = folders.folder_id
FROM folders
WHERE folders.path = coalesce(nullif(regexp_extract(files.path, '^(.*)/[^/]*$', 1), ''), '/');

-- How many folders each run listed, and how many it found unchanged and did not list.
ALTER TABLE import_runs ADD COLUMN folders_listed BIGINT DEFAULT 0;
ALTER TABLE import_runs ADD COLUMN folders_unchanged BIGINT DEFAULT 0;

-- One row per folder `compact` rolled into a tarball. While a row is `moved`, the
-- ledger already files the folder's files as members of the tarball, and the next
-- command that opens the archive for writing finishes the job (puts the tarball in
-- place, removes the originals) before it reads any folder.
CREATE TABLE IF NOT EXISTS compactions (
    compaction_id INTEGER NOT NULL,
    folder        VARCHAR NOT NULL,          -- the folder compacted
    tarball       VARCHAR NOT NULL,          -- the tarball, in place
    staged        VARCHAR NOT NULL,          -- where it was written and checked first
    container_id  BIGINT NOT NULL,           -- folders.folder_id of the tarball
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    files         BIGINT NOT NULL,
    bytes         BIGINT NOT NULL,           -- of the files, before compression
    -- moved (the ledger is on the members; the originals may still be there) | done |
    -- undone (the staged tarball was lost before it was put in place: the ledger is
    -- back on the originals)
    status        VARCHAR NOT NULL
);
