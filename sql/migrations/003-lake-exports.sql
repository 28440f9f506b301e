-- postback-archive schema migration 2 -> 3, run in one transaction by
-- src/store/schema.rs (a new archive gets sql/schema.sql, version 2, then this): what
-- `export` wrote into which Parquet lake. src/store/parquet/export.rs reads and writes
-- these tables; docs/guide.md (*The lake, with Spark*) says what they promise. Lake file names
-- start with archive_meta.archive_id, which src/store/schema.rs gives every archive.

-- One row per `postback-archive export` invocation.
CREATE TABLE IF NOT EXISTS lake_exports (
    export_id   INTEGER PRIMARY KEY,
    lake_id     VARCHAR NOT NULL,                -- from the lake's _lake.json
    lake_path   VARCHAR NOT NULL,                -- the folder, as it was reached this time
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    -- running | ok | failed | interrupted (killed: marked by the next export)
    status      VARCHAR NOT NULL,
    runs        INTEGER[] NOT NULL DEFAULT [],   -- the import runs it wrote
    files       BIGINT NOT NULL DEFAULT 0,       -- files it put in place
    rows        BIGINT NOT NULL DEFAULT 0,
    bytes       BIGINT NOT NULL DEFAULT 0,
    message     VARCHAR                          -- why it failed
);

-- Every file an export put (or is putting) into a lake. A file is written under a
-- hidden name, recorded here with placed = false, renamed into place, and marked
-- placed when every file of its export is in place; the next export removes the files
-- of an export that did not finish before it writes their runs again.
CREATE TABLE IF NOT EXISTS lake_files (
    lake_id    VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,                 -- postbacks, duplicates, ..., status_codes
    run_id     INTEGER,                          -- the import run; NULL for reference tables
    path       VARCHAR NOT NULL,                 -- relative to the lake's folder
    rows       BIGINT NOT NULL,
    bytes      BIGINT NOT NULL,
    export_id  INTEGER NOT NULL,
    content    VARCHAR NOT NULL,                 -- what the rows were read from: 'schema 3', plus the reference data
    placed     BOOLEAN NOT NULL
);
