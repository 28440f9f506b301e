-- name: key-figures
-- title: Key figures
-- description: The figures of the period at a glance, as text: postbacks, passes
--   generated and failed, messages sent and delivered, the median delivery latency,
--   sends without a receipt, messages received, subscribes, unsubscribes and retried
--   copies. The daily summary shows them first.
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
WITH passes AS (
    SELECT count(*) FILTER (WHERE generated) AS generated,
           count(*) FILTER (WHERE failed) AS failed
    FROM pass_generations
    WHERE occurred_at >= $from AND occurred_at < $to
),
messages AS (
    SELECT count(*) FILTER (WHERE delivery_state = 'sent') AS sent,
           count(*) FILTER (WHERE delivery_state = 'delivered') AS delivered,
           count(*) FILTER (WHERE delivery_state NOT IN ('sent', 'delivered', 'other')) AS failed
    FROM outbound_messages
    WHERE occurred_at >= $from AND occurred_at < $to
),
receipts AS (
    -- Receipts come after their send, so none before the period can match: the bound
    -- lets DuckDB skip the archive's older row groups.
    SELECT tracking_id, occurred_at AS received_at
    FROM outbound_messages
    WHERE delivery_state IN ('delivered', 'failed', 'expired', 'rejected', 'not_supported')
      AND tracking_id IS NOT NULL
      AND occurred_at >= $from
),
latencies AS (
    SELECT date_diff('second', s.occurred_at, min(r.received_at)) AS seconds
    FROM outbound_messages s
    LEFT JOIN receipts r ON r.tracking_id = s.tracking_id AND r.received_at >= s.occurred_at
    WHERE s.delivery_state = 'sent'
      AND s.occurred_at >= $from AND s.occurred_at < $to
    GROUP BY s.postback_id, s.occurred_at
),
figures (position, figure, value) AS (
    SELECT 1, 'postbacks', count(*)::VARCHAR
    FROM postbacks WHERE occurred_at >= $from AND occurred_at < $to
    UNION ALL SELECT 2, 'passes generated', generated::VARCHAR FROM passes
    UNION ALL SELECT 3, 'passes failed', failed::VARCHAR FROM passes
    UNION ALL SELECT 4, 'pass failure rate',
        coalesce(round(100.0 * failed / nullif(generated + failed, 0), 1)::VARCHAR || '%', 'n/a')
        FROM passes
    UNION ALL SELECT 5, 'messages sent', sent::VARCHAR FROM messages
    UNION ALL SELECT 6, 'messages delivered', delivered::VARCHAR FROM messages
    UNION ALL SELECT 7, 'messages not delivered', failed::VARCHAR FROM messages
    UNION ALL SELECT 8, 'delivery rate',
        coalesce(round(100.0 * delivered / nullif(delivered + failed, 0), 1)::VARCHAR || '%', 'n/a')
        FROM messages
    UNION ALL SELECT 9, 'median delivery latency',
        coalesce(round(median(seconds), 1)::VARCHAR || ' s', 'n/a') FROM latencies
    UNION ALL SELECT 10, 'sends without receipt', (count(*) - count(seconds))::VARCHAR FROM latencies
    UNION ALL SELECT 11, 'messages received', count(*)::VARCHAR
        FROM inbound_messages WHERE occurred_at >= $from AND occurred_at < $to
    UNION ALL SELECT 12, 'subscribes', count(*) FILTER (WHERE action = 'subscribe')::VARCHAR
        FROM subscriptions WHERE occurred_at >= $from AND occurred_at < $to
    UNION ALL SELECT 13, 'unsubscribes', count(*) FILTER (WHERE action = 'unsubscribe')::VARCHAR
        FROM subscriptions WHERE occurred_at >= $from AND occurred_at < $to
    UNION ALL SELECT 14, 'retried copies', count(*)::VARCHAR
        FROM duplicates d JOIN postbacks p ON p.postback_id = d.postback_id
        WHERE p.occurred_at >= $from AND p.occurred_at < $to
)
SELECT figure, value FROM figures ORDER BY position;
