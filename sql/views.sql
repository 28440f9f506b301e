-- postback-archive views and macros: what the reports and users read.
--
-- src/store/schema.rs runs this file on an archive it creates or upgrades, and again
-- whenever the file changes (it is part of the reference-data hash in archive_meta).
-- It uses only the tables' names and columns, so the same file can define the same
-- names over other storage of those tables (Parquet files) and the reports run
-- unchanged there.
--
-- Every postback belongs to a family and has an outcome and a state, looked up in
-- code_statuses by (status_code, STATUS): STATUS matched exactly after trimming, in
-- any case. A code neither edition documents, or a STATUS the documentation does not
-- define for its code, is `unknown`; nothing is guessed from the wording of STATUS.
--
-- A postback is dated by its own TIMESTAMP (or RECEIVED): `event_at` is occurred_at,
-- or, for a postback that carries no time (EMAIL_SUB, older-edition SUB, saved-MMS
-- results, MMS send failures), received_at, when it arrived; `dated_by` says which.
-- The three branches of postback_outcomes keep each filter on event_at a plain
-- filter on one column, so that DuckDB skips row groups by their zone maps.

-- Percentages, and the Wilson score interval at 95% (z = 1.959964) of a rate of
-- `part` in `whole` attempts: NULL when there are no attempts.
CREATE OR REPLACE MACRO rate_pct(part, whole) AS
    round(100.0 * part / nullif(whole, 0), 1);

CREATE OR REPLACE MACRO wilson_low_pct(part, whole) AS
    CASE WHEN whole > 0 THEN round(100.0 * greatest(0.0,
        (part / whole + 1.920729410347062 / whole
         - 1.959963984540054 * sqrt(part / whole * (1 - part / whole) / whole
                                    + 0.960364705173531 / (whole * whole)))
        / (1 + 3.841458820694124 / whole)), 1) END;

CREATE OR REPLACE MACRO wilson_high_pct(part, whole) AS
    CASE WHEN whole > 0 THEN round(100.0 * least(1.0,
        (part / whole + 1.920729410347062 / whole
         + 1.959963984540054 * sqrt(part / whole * (1 - part / whole) / whole
                                    + 0.960364705173531 / (whole * whole)))
        / (1 + 3.841458820694124 / whole)), 1) END;

-- Every postback with its date, family, outcome, state and documented meaning, and
-- which rule of code_statuses gave them (NULL for a code neither edition documents).
CREATE OR REPLACE VIEW postback_outcomes AS
WITH dated AS (
    SELECT p.*, p.occurred_at AS event_at, 'timestamp' AS dated_by
    FROM postbacks p
    WHERE p.occurred_at IS NOT NULL
    UNION ALL
    SELECT p.*, p.received_at, 'arrival'
    FROM postbacks p
    WHERE p.occurred_at IS NULL AND p.received_at IS NOT NULL
    UNION ALL
    SELECT p.*, NULL, NULL
    FROM postbacks p
    WHERE p.occurred_at IS NULL AND p.received_at IS NULL
)
SELECT d.*,
       c.description AS status_description,
       coalesce(c.family, 'unknown') AS family,
       coalesce(s.status_rule, o.status_rule) AS status_rule,
       coalesce(s.outcome, o.outcome, 'unknown') AS outcome,
       coalesce(s.state, o.state, 'unknown') AS state,
       coalesce(s.meaning, o.meaning,
                'A code neither edition of the documentation defines.') AS meaning
FROM dated d
LEFT JOIN status_codes c ON c.code = d.status_code
LEFT JOIN code_statuses s
       ON s.code = d.status_code AND s.status_rule <> 'other'
      AND lower(s.status) = lower(coalesce(trim(d.status), ''))
LEFT JOIN code_statuses o ON o.code = d.status_code AND o.status_rule = 'other';

-- Pass generation results. generated: N801; failed: N802, N803, N811. A pass with a
-- code neither edition documents is neither.
CREATE OR REPLACE VIEW pass_generations AS
SELECT postback_id, event_at, dated_by, occurred_at, received_at, utc_offset_minutes,
       code, status_code, status_description, outcome, state, meaning,
       family = 'pass' AND state = 'generated' AS generated,
       family = 'pass' AND outcome = 'failure' AS failed,
       reference_type, reference_value, custom_pass_id, pass_data_id, serial_number,
       run_id, file_id
FROM postback_outcomes
WHERE origin = 'GENERATE_PASS';

-- SMS and MMS MT send notifications and delivery receipts (not the saved-MMS family).
-- delivery_state: sent, send_failed (sends); delivered, failed, expired, rejected,
-- not_supported (receipts); unknown. An E code with a STATUS the documentation does not
-- define for it is a failure (outcome) in an unknown state.
CREATE OR REPLACE VIEW outbound_messages AS
SELECT o.postback_id, o.event_at, o.dated_by, o.occurred_at, o.received_at,
       o.utc_offset_minutes,
       CASE o.origin WHEN 'SMS_MT' THEN 'SMS' ELSE 'MMS' END AS channel,
       o.code, o.status_code, o.status, o.family, o.outcome,
       CASE WHEN o.family IN ('message_send', 'message_receipt') THEN o.state
            ELSE 'unknown' END AS delivery_state,
       o.meaning,
       o.sent_as, o.mms_id, o.from_address, o.from_mask, o.to_address, o.tracking_id,
       o.spid, c.carrier, c.country, o.handset, o.aggregator_id, o.status_details,
       o.run_id, o.file_id
FROM postback_outcomes o
LEFT JOIN carriers c ON c.spid = o.spid
WHERE o.origin IN ('SMS_MT', 'MMS_MT') AND o.family <> 'mms_content';

-- Each send notification (N101, N201, N501 and the send failures) dated in
-- [period_from, period_to), followed by its TRACKINGID to the first delivery receipt
-- dated at or after it (by event_at, then postback_id), however late. A receipt is
-- looked for from period_from on, as it cannot come before its send. delivery_outcome,
-- what the reports count: not_sent (the send notification is a failure), unknown (it
-- is of unknown outcome), no_receipt (none in the archive; always so for a send without
-- TRACKINGID), delivered, not_delivered, or unknown (by the receipt's outcome).
-- delivery_state: the state of the send, or of the receipt of a message sent.
CREATE OR REPLACE MACRO message_sends(period_from, period_to) AS TABLE
WITH sends AS (
    SELECT *
    FROM outbound_messages
    WHERE family = 'message_send' AND event_at >= period_from AND event_at < period_to
),
receipts AS (
    SELECT postback_id, tracking_id, event_at, outcome, delivery_state
    FROM outbound_messages
    WHERE family = 'message_receipt' AND tracking_id IS NOT NULL AND event_at >= period_from
),
matched AS (
    SELECT s.postback_id AS send_id, r.event_at AS receipt_at, r.outcome AS receipt_outcome,
           r.delivery_state AS receipt_state,
           row_number() OVER (PARTITION BY s.postback_id ORDER BY r.event_at, r.postback_id) AS nth
    FROM sends s
    JOIN receipts r ON r.tracking_id = s.tracking_id AND r.event_at >= s.event_at
)
SELECT s.postback_id, s.event_at AS sent_at, s.dated_by, s.channel, s.code, s.status_code,
       s.status, s.outcome AS send_outcome, s.delivery_state AS send_state, s.tracking_id,
       s.spid, s.carrier, s.country, s.to_address, s.mms_id,
       m.receipt_at, m.receipt_outcome, m.receipt_state,
       CASE WHEN s.outcome = 'failure' THEN 'not_sent'
            WHEN s.outcome <> 'success' THEN 'unknown'
            WHEN m.receipt_outcome IS NULL THEN 'no_receipt'
            WHEN m.receipt_outcome = 'success' THEN 'delivered'
            WHEN m.receipt_outcome = 'failure' THEN 'not_delivered'
            ELSE 'unknown' END AS delivery_outcome,
       CASE WHEN s.outcome = 'success' THEN coalesce(m.receipt_state, 'no_receipt')
            ELSE s.delivery_state END AS delivery_state,
       date_diff('second', s.event_at, m.receipt_at) AS latency_seconds
FROM sends s
LEFT JOIN matched m ON m.send_id = s.postback_id AND m.nth = 1;

-- Each delivery receipt dated in [period_from, period_to), by its own time, that follows
-- no send notification of the archive: it has no TRACKINGID, or no send with its
-- TRACKINGID is dated at or before it (the send predates the archive, or was never
-- saved). message_sends never reaches these receipts, so the reports count them here:
-- every receipt is either the first receipt of a send (counted through that send, by
-- the send's time), a later receipt of a send already followed, or one of these.
-- delivery_outcome: delivered, not_delivered or unknown, by the receipt's outcome.
-- Sends are looked for in the week before the period first, which the zone maps of
-- the postbacks' times make cheap; only the receipts left over, usually none, are
-- looked for over the whole archive, read straight from `postbacks` (a send is an
-- outbound postback of a code of the message_send family, dated as in
-- postback_outcomes).
CREATE OR REPLACE MACRO receipts_without_send(period_from, period_to) AS TABLE
WITH receipts AS (
    SELECT *
    FROM outbound_messages
    WHERE family = 'message_receipt' AND event_at >= period_from AND event_at < period_to
),
recent_sends AS (
    SELECT tracking_id, event_at
    FROM outbound_messages
    WHERE family = 'message_send' AND tracking_id IS NOT NULL
      AND event_at >= period_from - INTERVAL 7 DAYS AND event_at < period_to
),
left_over AS (
    SELECT r.*
    FROM receipts r
    WHERE NOT EXISTS (
        SELECT 1 FROM recent_sends s
        WHERE s.tracking_id = r.tracking_id AND s.event_at <= r.event_at
    )
),
earlier_sends AS (
    SELECT p.tracking_id, coalesce(p.occurred_at, p.received_at) AS event_at
    FROM postbacks p
    WHERE p.tracking_id IN (SELECT tracking_id FROM left_over)
      AND p.origin IN ('SMS_MT', 'MMS_MT')
      AND p.status_code IN (SELECT code FROM status_codes WHERE family = 'message_send')
)
SELECT r.postback_id, r.event_at AS receipt_at, r.dated_by, r.channel, r.code,
       r.status_code, r.status, r.outcome, r.delivery_state, r.tracking_id, r.spid,
       r.carrier, r.country, r.to_address, r.mms_id,
       CASE r.outcome WHEN 'success' THEN 'delivered' WHEN 'failure' THEN 'not_delivered'
            ELSE 'unknown' END AS delivery_outcome
FROM left_over r
WHERE NOT EXISTS (
    SELECT 1 FROM earlier_sends s
    WHERE s.tracking_id = r.tracking_id AND s.event_at <= r.event_at
);

CREATE OR REPLACE VIEW inbound_messages AS
SELECT o.postback_id, o.event_at, o.dated_by, o.occurred_at, o.received_at,
       o.utc_offset_minutes,
       CASE o.origin WHEN 'SMS_MO' THEN 'SMS' ELSE 'MMS' END AS channel,
       o.code, o.status_code, o.from_address, o.to_address, o.keyword, o.subject,
       o.message_text, CAST(o.content_urls AS VARCHAR[]) AS content_urls,
       o.tracking_id, o.transaction_id, o.spid, c.carrier, c.country,
       o.run_id, o.file_id
FROM postback_outcomes o
LEFT JOIN carriers c ON c.spid = o.spid
WHERE o.origin IN ('SMS_MO', 'MMS_MO');

-- Subscribes (N301, N303) and unsubscribes (N302, N304). subscriber: the mobile number,
-- or the email address in lower case.
CREATE OR REPLACE VIEW subscriptions AS
SELECT postback_id, event_at, dated_by, occurred_at, received_at, utc_offset_minutes,
       code, status_code,
       CASE WHEN family = 'subscription' AND state = 'subscribed' THEN 'subscribe'
            WHEN family = 'subscription' AND state = 'unsubscribed' THEN 'unsubscribe'
       END AS action,
       CASE origin WHEN 'SUB' THEN 'mobile' ELSE 'email' END AS channel,
       coalesce(mobile, lower(email)) AS subscriber,
       mobile, email, campaign_id, campaign_title, subscription_id,
       shortcode, brand_name, source,
       run_id, file_id
FROM postback_outcomes
WHERE origin IN ('SUB', 'EMAIL_SUB');

-- A rate as text with its evidence: `42.9% (3 of 7; 95% CI 15.8-75.0%)`.
CREATE OR REPLACE MACRO rate_text(part, whole) AS
    CASE WHEN whole > 0
         THEN format('{:.1f}% ({} of {}; 95% CI {:.1f}-{:.1f}%)', rate_pct(part, whole),
                     part, whole, wilson_low_pct(part, whole), wilson_high_pct(part, whole))
         ELSE 'n/a (none)' END;
