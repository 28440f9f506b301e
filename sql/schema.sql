-- postback-archive schema, version 2: the tables of a new archive.
--
-- Applied by postback-archive when it creates an archive (src/store/schema.rs). An archive
-- of an earlier version is brought here by the numbered files in sql/migrations/, and
-- archive_meta records which version an archive is at; a test checks that a migrated
-- archive has exactly these tables. The views and macros are in sql/views.sql. All
-- times are UTC TIMESTAMPs; the offset a postback was written with is kept in
-- postbacks.utc_offset_minutes.

-- schema_version, reference_data (a hash of the reference tables and views loaded),
-- archive_id (32 random lowercase hex characters, made once per archive).
CREATE TABLE archive_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- One row per `postback-archive import` invocation.
CREATE TABLE import_runs (
    run_id              INTEGER PRIMARY KEY,
    started_at          TIMESTAMP NOT NULL,
    finished_at         TIMESTAMP,
    -- running | ok | errors (some inputs had problems) | failed | interrupted
    status              VARCHAR NOT NULL,
    roots               VARCHAR[] NOT NULL,
    tool_version        VARCHAR NOT NULL,
    files_seen          BIGINT NOT NULL DEFAULT 0,  -- *.xml and *.xml.gz found
    files_skipped       BIGINT NOT NULL DEFAULT 0,  -- unchanged since the last run: not read
    files_read          BIGINT NOT NULL DEFAULT 0,
    files_other         BIGINT NOT NULL DEFAULT 0,  -- other files and symlinks: ignored
    postbacks_new       BIGINT NOT NULL DEFAULT 0,
    postbacks_duplicate BIGINT NOT NULL DEFAULT 0,  -- copies of postbacks already stored
    errors              BIGINT NOT NULL DEFAULT 0,  -- rows added to import_errors
    message             VARCHAR                     -- why a run failed
);

-- The ledger: every file read, so that a re-run reads only new and changed files.
CREATE TABLE files (
    file_id       BIGINT NOT NULL,
    path          VARCHAR NOT NULL,               -- absolute
    path_key      UHUGEINT NOT NULL,              -- xxh3-128 of path: the ledger's lookup key
    size          BIGINT NOT NULL,                -- bytes on disk
    modified_at   TIMESTAMP NOT NULL,             -- mtime when read
    content_hash  UHUGEINT,                       -- xxh3-128 of the bytes on disk
    compressed    BOOLEAN NOT NULL,
    first_run_id  INTEGER NOT NULL,
    run_id        INTEGER NOT NULL,               -- the run that last read it
    postbacks     INTEGER NOT NULL,               -- postbacks found at the last read
    duplicates    INTEGER NOT NULL,               -- of which copies of earlier ones
    errors        INTEGER NOT NULL                -- problems found at the last read
);

-- One row per distinct postback. Typed columns follow src/normalize/columns.rs; the
-- import writer appends by column name, so their order here is free.
CREATE TABLE postbacks (
    postback_id        BIGINT NOT NULL,
    fingerprint        UHUGEINT NOT NULL,         -- xxh3-128 of its fields: equal for retried copies
    run_id             INTEGER NOT NULL,          -- the import run that stored it
    file_id            BIGINT NOT NULL,           -- where it was first seen (files.file_id)
    file_position      INTEGER NOT NULL,          -- 1-based place among the postbacks of that file
    line               INTEGER NOT NULL,          -- line of its start tag in that file
    occurred_at        TIMESTAMP,                 -- TIMESTAMP or RECEIVED, as a UTC instant
    utc_offset_minutes SMALLINT,                  -- the offset it was written with
    received_at        TIMESTAMP,                 -- when it arrived: its file's modification time
    origin             VARCHAR,
    code               VARCHAR,                   -- CODE
    status_code        VARCHAR,                   -- STATUSCODE, or CODE when there is none: decides the outcome
    status             VARCHAR,
    status_details     VARCHAR,
    sent_as            VARCHAR,
    mms_id             BIGINT,
    from_address       VARCHAR,
    from_mask          VARCHAR,
    to_address         VARCHAR,
    spid               VARCHAR,
    tracking_id        VARCHAR,
    transaction_id     VARCHAR,
    aggregator_id      VARCHAR,
    handset            VARCHAR,
    keyword            VARCHAR,
    subject            VARCHAR,
    message_text       VARCHAR,                   -- TEXT
    content_urls       JSON,                      -- CONTENT/FILE, as a JSON array
    audio_name         VARCHAR,
    video_name         VARCHAR,
    mobile             VARCHAR,
    email              VARCHAR,
    campaign_id        BIGINT,
    campaign_title     VARCHAR,
    subscription_id    BIGINT,                    -- SUBID
    shortcode          VARCHAR,
    brand_name         VARCHAR,
    source             VARCHAR,
    reference_type     VARCHAR,                   -- REFERENCEDBY
    reference_value    VARCHAR,
    custom_pass_id     VARCHAR,
    pass_data_id       BIGINT,
    serial_number      VARCHAR,
    extra              JSON                       -- every element and attribute without a column
);

-- Every further copy of a stored postback (platform retries, re-bundled notifications).
CREATE TABLE duplicates (
    postback_id   BIGINT NOT NULL,               -- the stored postback it copies
    fingerprint   UHUGEINT NOT NULL,
    run_id        INTEGER NOT NULL,
    file_id       BIGINT NOT NULL,
    file_position INTEGER NOT NULL,
    line          INTEGER NOT NULL,
    received_at   TIMESTAMP                      -- when this copy arrived: its file's modification time
);

-- Problems found in input files; see docs/reference.md for the kinds.
CREATE TABLE import_errors (
    run_id      INTEGER NOT NULL,
    file_id     BIGINT,                          -- NULL when the file could not be read at all
    path        VARCHAR NOT NULL,
    line        INTEGER,                         -- NULL when the problem concerns the whole file
    col         INTEGER,
    kind        VARCHAR NOT NULL,
    message     VARCHAR NOT NULL
);

-- Reference tables, loaded from data/status_codes.csv, data/code_statuses.csv and
-- data/carriers.csv.

-- Every notification code of both editions, and the family of postbacks it belongs to.
CREATE TABLE status_codes (
    code        VARCHAR PRIMARY KEY,
    description VARCHAR NOT NULL,
    -- pass | message_send | message_receipt | mms_content | inbound | subscription
    family      VARCHAR NOT NULL,
    edition     VARCHAR NOT NULL                 -- older | newer | both
);

-- What each (code, STATUS) means. status_rule `is`: STATUS equals status (trimmed, in
-- any case); `missing`: no STATUS, or an empty one (status is ''); `other`: any STATUS
-- the code has no `is` or `missing` row for (status is '').
CREATE TABLE code_statuses (
    code        VARCHAR NOT NULL,
    status_rule VARCHAR NOT NULL,                -- is | missing | other
    status      VARCHAR NOT NULL,
    outcome     VARCHAR NOT NULL,                -- success | failure | information | unknown
    state       VARCHAR NOT NULL,                -- generated, sent, delivered, expired, ...
    meaning     VARCHAR NOT NULL,
    edition     VARCHAR NOT NULL,                -- older | newer | both
    PRIMARY KEY (code, status_rule, status)
);

CREATE TABLE carriers (
    spid    VARCHAR PRIMARY KEY,
    country VARCHAR NOT NULL,
    carrier VARCHAR NOT NULL,
    edition VARCHAR NOT NULL
);
