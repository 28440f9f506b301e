-- postback-archive schema, version 1.
--
-- Applied by postback-archive when it creates an archive (src/store/schema.rs); later
-- versions add numbered migrations beside this file and archive_meta records which
-- version an archive is at. All times are UTC TIMESTAMPs; the offset a postback was
-- written with is kept in postbacks.utc_offset_minutes.

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

-- One row per distinct postback. Typed columns follow src/normalize/columns.rs.
CREATE TABLE postbacks (
    postback_id        BIGINT NOT NULL,
    fingerprint        UHUGEINT NOT NULL,         -- xxh3-128 of its fields: equal for retried copies
    run_id             INTEGER NOT NULL,          -- the import run that stored it
    file_id            BIGINT NOT NULL,           -- where it was first seen (files.file_id)
    file_position      INTEGER NOT NULL,          -- 1-based place among the postbacks of that file
    line               INTEGER NOT NULL,          -- line of its start tag in that file
    occurred_at        TIMESTAMP,                 -- TIMESTAMP or RECEIVED, as a UTC instant
    utc_offset_minutes SMALLINT,                  -- the offset it was written with
    origin             VARCHAR,
    status_code        VARCHAR,                   -- CODE or STATUSCODE
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
    line          INTEGER NOT NULL
);

-- Problems found in input files; see the README for the kinds.
CREATE TABLE import_errors (
    run_id      INTEGER NOT NULL,
    file_id     BIGINT,                          -- NULL when the file could not be read at all
    path        VARCHAR NOT NULL,
    line        INTEGER,                         -- NULL when the problem concerns the whole file
    col         INTEGER,
    kind        VARCHAR NOT NULL,
    message     VARCHAR NOT NULL
);

-- Reference tables, loaded from data/status_codes.csv and data/carriers.csv.
CREATE TABLE status_codes (
    code        VARCHAR PRIMARY KEY,
    description VARCHAR NOT NULL,
    outcome     VARCHAR NOT NULL,                -- success | failure | information
    edition     VARCHAR NOT NULL                 -- older | newer | both
);

CREATE TABLE carriers (
    spid    VARCHAR PRIMARY KEY,
    country VARCHAR NOT NULL,
    carrier VARCHAR NOT NULL,
    edition VARCHAR NOT NULL
);

-- Views per family of postbacks.

CREATE VIEW pass_generations AS
SELECT p.postback_id, p.occurred_at, p.utc_offset_minutes, p.status_code,
       s.description AS status_description,
       p.status_code = 'N801' AS generated,
       coalesce(s.outcome = 'failure', false) AS failed,
       p.reference_type, p.reference_value, p.custom_pass_id, p.pass_data_id, p.serial_number,
       p.run_id, p.file_id
FROM postbacks p
LEFT JOIN status_codes s ON s.code = p.status_code
WHERE p.origin = 'GENERATE_PASS';

-- SMS and MMS MT sends and delivery receipts (not the save-MMS N003/E002 family).
CREATE VIEW outbound_messages AS
SELECT p.postback_id, p.occurred_at, p.utc_offset_minutes,
       CASE p.origin WHEN 'SMS_MT' THEN 'SMS' ELSE 'MMS' END AS channel,
       p.status_code, p.status,
       CASE
           WHEN p.status_code IN ('N101', 'N201', 'N501') THEN 'sent'
           WHEN p.status_code IN ('E101', 'E201', 'E501', 'E999') THEN 'send_failed'
           WHEN p.status ILIKE '%expired%' THEN 'expired'
           WHEN p.status ILIKE '%rejected%' THEN 'rejected'
           WHEN p.status ILIKE '%notsupported%' THEN 'not_supported'
           WHEN p.status ILIKE '%failed%' OR p.status_code IN ('E102', 'E202', 'E502') THEN 'failed'
           WHEN p.status ILIKE '%delivered%' OR p.status_code IN ('N102', 'N202', 'N502') THEN 'delivered'
           ELSE 'other'
       END AS delivery_state,
       p.sent_as, p.mms_id, p.from_address, p.from_mask, p.to_address, p.tracking_id,
       p.spid, c.carrier, c.country, p.handset, p.aggregator_id, p.status_details,
       p.run_id, p.file_id
FROM postbacks p
LEFT JOIN carriers c ON c.spid = p.spid
WHERE p.origin IN ('SMS_MT', 'MMS_MT')
  AND coalesce(p.status_code, '') NOT IN ('N003', 'N013', 'E001', 'E002', 'E003', 'E011', 'E012', 'E013');

CREATE VIEW inbound_messages AS
SELECT p.postback_id, p.occurred_at, p.utc_offset_minutes,
       CASE p.origin WHEN 'SMS_MO' THEN 'SMS' ELSE 'MMS' END AS channel,
       p.status_code, p.from_address, p.to_address, p.keyword, p.subject, p.message_text,
       CAST(p.content_urls AS VARCHAR[]) AS content_urls,
       p.tracking_id, p.transaction_id, p.spid, c.carrier, c.country,
       p.run_id, p.file_id
FROM postbacks p
LEFT JOIN carriers c ON c.spid = p.spid
WHERE p.origin IN ('SMS_MO', 'MMS_MO');

CREATE VIEW subscriptions AS
SELECT p.postback_id, p.occurred_at, p.utc_offset_minutes, p.status_code,
       CASE WHEN p.status_code IN ('N301', 'N303') THEN 'subscribe'
            WHEN p.status_code IN ('N302', 'N304') THEN 'unsubscribe'
       END AS action,
       CASE p.origin WHEN 'SUB' THEN 'mobile' ELSE 'email' END AS channel,
       coalesce(p.mobile, p.email) AS subscriber,
       p.mobile, p.email, p.campaign_id, p.campaign_title, p.subscription_id,
       p.shortcode, p.brand_name, p.source,
       p.run_id, p.file_id
FROM postbacks p
WHERE p.origin IN ('SUB', 'EMAIL_SUB');
