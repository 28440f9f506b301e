-- postback-archive schema migration 1 -> 2, run in one transaction by src/store/schema.rs.
--
-- - postbacks: CODE and STATUSCODE in columns of their own. Version 1 kept whichever
--   came first in status_code and the other in extra; here the one in extra moves to
--   its column and leaves extra. status_code becomes STATUSCODE where the postback has
--   one (it decides the outcome), CODE otherwise; code is CODE. A version-1 row that
--   held only one of the two cannot say which it was: a pass (GENERATE_PASS, whose
--   documented examples send STATUSCODE alone) keeps it in status_code with code NULL;
--   any other postback (which has no STATUSCODE) keeps it in both.
-- - postbacks and duplicates: received_at, when the postback arrived, taken from the
--   modification time of its file (files.modified_at), as the import now does.
-- - status_codes loses outcome (the outcome depends on STATUS: see code_statuses) and
--   gains family; code_statuses is new. Both are reloaded from data/ after this file.
-- - archive_meta: archive_id, which src/store/schema.rs adds to every archive.
--
-- The tables are rebuilt (not altered) so that the new columns sit beside their kin,
-- as in sql/schema.sql: code beside status_code, received_at beside occurred_at. The
-- rows are written once either way: ADD COLUMN followed by the UPDATE that fills
-- received_at rewrites every row too. Each INSERT reads one table in order, with no
-- join, so the rows keep their order (postback_id, which is arrival order): the zone
-- maps that let reports skip to their period stay useful. received_at is filled by an
-- UPDATE from files afterwards (a join in the INSERT would reorder the rows, and
-- sorting them back costs twice the memory). The views go first and come back from
-- sql/views.sql.

DROP VIEW IF EXISTS pass_generations;
DROP VIEW IF EXISTS outbound_messages;
DROP VIEW IF EXISTS inbound_messages;
DROP VIEW IF EXISTS subscriptions;

CREATE TABLE postbacks_v2 (
    postback_id        BIGINT NOT NULL,
    fingerprint        UHUGEINT NOT NULL,
    run_id             INTEGER NOT NULL,
    file_id            BIGINT NOT NULL,
    file_position      INTEGER NOT NULL,
    line               INTEGER NOT NULL,
    occurred_at        TIMESTAMP,
    utc_offset_minutes SMALLINT,
    received_at        TIMESTAMP,
    origin             VARCHAR,
    code               VARCHAR,
    status_code        VARCHAR,
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
    message_text       VARCHAR,
    content_urls       JSON,
    audio_name         VARCHAR,
    video_name         VARCHAR,
    mobile             VARCHAR,
    email              VARCHAR,
    campaign_id        BIGINT,
    campaign_title     VARCHAR,
    subscription_id    BIGINT,
    shortcode          VARCHAR,
    brand_name         VARCHAR,
    source             VARCHAR,
    reference_type     VARCHAR,
    reference_value    VARCHAR,
    custom_pass_id     VARCHAR,
    pass_data_id       BIGINT,
    serial_number      VARCHAR,
    extra              JSON
);

-- Which key of extra (in any case, as version 1 matched element names) holds the
-- value that moves: STATUSCODE, when CODE came first; CODE, when a pass's STATUSCODE
-- came first. A key seen twice holds an array; its first item moves.
INSERT INTO postbacks_v2
WITH keyed AS (
    SELECT p.*,
           list_filter(json_keys(p.extra), lambda k: upper(k) = 'STATUSCODE')[1] AS statuscode_key,
           list_filter(json_keys(p.extra), lambda k: upper(k) = 'CODE')[1] AS code_key
    FROM postbacks p
),
chosen AS (
    SELECT k.*,
           coalesce(statuscode_key, CASE WHEN origin = 'GENERATE_PASS' THEN code_key END) AS moved_key
    FROM keyed k
),
parked AS (
    SELECT c.*, c.extra -> c.moved_key AS parked
    FROM chosen c
),
split AS (
    SELECT p.*,
           CASE WHEN json_type(parked) = 'ARRAY' THEN parked ->> 0 ELSE parked ->> '$' END AS moved_value,
           CASE WHEN json_type(parked) <> 'ARRAY' THEN NULL
                WHEN json_array_length(parked) = 2 THEN parked -> 1
                ELSE to_json(CAST(parked AS VARCHAR[])[2:])
           END AS left_behind
    FROM parked p
),
rewritten AS (
    SELECT s.*,
           CASE WHEN moved_key IS NULL THEN extra
                ELSE json_merge_patch(extra, json_object(moved_key, left_behind))
           END AS new_extra
    FROM split s
)
SELECT r.postback_id, r.fingerprint, r.run_id, r.file_id, r.file_position, r.line,
       r.occurred_at, r.utc_offset_minutes, NULL,
       r.origin,
       CASE WHEN r.moved_key = r.statuscode_key THEN r.status_code
            WHEN r.moved_key IS NOT NULL THEN r.moved_value
            WHEN r.origin = 'GENERATE_PASS' THEN NULL
            ELSE r.status_code
       END,
       CASE WHEN r.moved_key = r.statuscode_key THEN r.moved_value ELSE r.status_code END,
       r.status, r.status_details, r.sent_as, r.mms_id, r.from_address, r.from_mask,
       r.to_address, r.spid, r.tracking_id, r.transaction_id, r.aggregator_id, r.handset,
       r.keyword, r.subject, r.message_text, r.content_urls, r.audio_name, r.video_name,
       r.mobile, r.email, r.campaign_id, r.campaign_title, r.subscription_id, r.shortcode,
       r.brand_name, r.source, r.reference_type, r.reference_value, r.custom_pass_id,
       r.pass_data_id, r.serial_number,
       CASE WHEN r.new_extra::VARCHAR = '{}' THEN NULL ELSE r.new_extra END
FROM rewritten r;

UPDATE postbacks_v2 SET received_at = f.modified_at
FROM files f WHERE f.file_id = postbacks_v2.file_id;

DROP TABLE postbacks;
ALTER TABLE postbacks_v2 RENAME TO postbacks;

CREATE TABLE duplicates_v2 (
    postback_id   BIGINT NOT NULL,
    fingerprint   UHUGEINT NOT NULL,
    run_id        INTEGER NOT NULL,
    file_id       BIGINT NOT NULL,
    file_position INTEGER NOT NULL,
    line          INTEGER NOT NULL,
    received_at   TIMESTAMP
);

INSERT INTO duplicates_v2
SELECT postback_id, fingerprint, run_id, file_id, file_position, line, NULL
FROM duplicates;

UPDATE duplicates_v2 SET received_at = f.modified_at
FROM files f WHERE f.file_id = duplicates_v2.file_id;

DROP TABLE duplicates;
ALTER TABLE duplicates_v2 RENAME TO duplicates;

DROP TABLE status_codes;
CREATE TABLE status_codes (
    code        VARCHAR PRIMARY KEY,
    description VARCHAR NOT NULL,
    family      VARCHAR NOT NULL,
    edition     VARCHAR NOT NULL
);

CREATE TABLE code_statuses (
    code        VARCHAR NOT NULL,
    status_rule VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    outcome     VARCHAR NOT NULL,
    state       VARCHAR NOT NULL,
    meaning     VARCHAR NOT NULL,
    edition     VARCHAR NOT NULL,
    PRIMARY KEY (code, status_rule, status)
);

DELETE FROM archive_meta WHERE key = 'reference_data';
