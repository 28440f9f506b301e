-- name: key-figures
-- title: Key figures
-- description: The period at a glance, as text; the daily summary shows them first.
--   Postbacks are dated by their own TIMESTAMP (or RECEIVED); those that carry none by
--   when they arrived (received_at: for imported files, the file's modification time),
--   counted apart. Outcome unknown: a code, or a STATUS for that code, that neither
--   edition of the documentation defines. Passes: generated (N801) and failed (N802,
--   N803, N811). Messages (SMS, MMS, DDM): sent and send failures are send
--   notifications (N101, N201, N501 Message Sent; E101, E201, E501, E999 and N101, N201
--   Message Failed), dated by the send; each message sent is followed by its TRACKINGID
--   to its first receipt, however late: delivered, or a delivery failure (E102, E202,
--   E502, N102 Expired or Rejected, N202 Message Sent/Failed), or none yet (sends
--   without receipt, also when it has no TRACKINGID). The delivery rate is over the
--   messages whose receipt came: delivered / (delivered + delivery failures). Receipts
--   without a send are the period's receipts, dated by the receipt, whose send is not
--   in the archive (no send with their TRACKINGID at or before them), delivered and
--   failed apart. Rates show their counts and a 95% Wilson interval.
-- dated-by: the send's time; receipts without a send: the receipt's; the rest:
--   their own
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
WITH dated AS (
    SELECT count(*) AS postbacks,
           count(*) FILTER (WHERE dated_by = 'arrival') AS by_arrival,
           count(*) FILTER (WHERE outcome = 'unknown') AS unknown
    FROM postback_outcomes
    WHERE event_at >= $from AND event_at < $to
),
passes AS (
    SELECT count(*) FILTER (WHERE generated) AS generated,
           count(*) FILTER (WHERE failed) AS failed
    FROM pass_generations
    WHERE event_at >= $from AND event_at < $to
),
sends AS (
    SELECT count(*) FILTER (WHERE send_outcome = 'success') AS sent,
           count(*) FILTER (WHERE delivery_outcome = 'not_sent') AS send_failed,
           count(*) FILTER (WHERE delivery_outcome = 'delivered') AS delivered,
           count(*) FILTER (WHERE delivery_outcome = 'not_delivered') AS delivery_failed,
           count(*) FILTER (WHERE delivery_outcome = 'no_receipt') AS no_receipt,
           median(latency_seconds) AS latency
    FROM message_sends($from, $to)
),
without_send AS (
    SELECT count(*) AS receipts,
           count(*) FILTER (WHERE delivery_outcome = 'delivered') AS delivered,
           count(*) FILTER (WHERE delivery_outcome = 'not_delivered') AS failed
    FROM receipts_without_send($from, $to)
),
figures (position, figure, value) AS (
    SELECT 1, 'postbacks', postbacks::VARCHAR FROM dated
    UNION ALL SELECT 2, 'postbacks dated by arrival', by_arrival::VARCHAR FROM dated
    UNION ALL SELECT 3, 'outcome unknown', unknown::VARCHAR FROM dated
    UNION ALL SELECT 4, 'passes generated', generated::VARCHAR FROM passes
    UNION ALL SELECT 5, 'passes failed', failed::VARCHAR FROM passes
    UNION ALL SELECT 6, 'pass failure rate', rate_text(failed, generated + failed) FROM passes
    UNION ALL SELECT 7, 'messages sent', sent::VARCHAR FROM sends
    UNION ALL SELECT 8, 'send failures', send_failed::VARCHAR FROM sends
    UNION ALL SELECT 9, 'send failure rate', rate_text(send_failed, sent + send_failed) FROM sends
    UNION ALL SELECT 10, 'messages delivered', delivered::VARCHAR FROM sends
    UNION ALL SELECT 11, 'delivery failures', delivery_failed::VARCHAR FROM sends
    UNION ALL SELECT 12, 'delivery rate',
        rate_text(delivered, delivered + delivery_failed) FROM sends
    UNION ALL SELECT 13, 'sends without receipt', no_receipt::VARCHAR FROM sends
    UNION ALL SELECT 14, 'receipts without a send', receipts::VARCHAR FROM without_send
    UNION ALL SELECT 15, 'receipts without a send: delivered', delivered::VARCHAR FROM without_send
    UNION ALL SELECT 16, 'receipts without a send: delivery failures', failed::VARCHAR
        FROM without_send
    UNION ALL SELECT 17, 'median delivery latency',
        coalesce(round(latency, 1)::VARCHAR || ' s', 'n/a') FROM sends
    UNION ALL SELECT 18, 'messages received', count(*)::VARCHAR
        FROM inbound_messages WHERE event_at >= $from AND event_at < $to
    UNION ALL SELECT 19, 'subscribes', count(*) FILTER (WHERE action = 'subscribe')::VARCHAR
        FROM subscriptions WHERE event_at >= $from AND event_at < $to
    UNION ALL SELECT 20, 'unsubscribes', count(*) FILTER (WHERE action = 'unsubscribe')::VARCHAR
        FROM subscriptions WHERE event_at >= $from AND event_at < $to
    UNION ALL SELECT 21, 'retried copies', count(*)::VARCHAR
        FROM duplicates d JOIN postback_outcomes p ON p.postback_id = d.postback_id
        WHERE p.event_at >= $from AND p.event_at < $to
)
SELECT figure, value FROM figures ORDER BY position;
