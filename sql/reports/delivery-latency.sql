-- name: delivery-latency
-- title: Delivery latency
-- description: For SMS and MMS sent in the period (N101, N201, N501), the time from the
--   send notification to the first delivery receipt with the same tracking id, delivered
--   or not, also when it came after the period: median and 95th percentile in seconds,
--   and how many sends have no receipt in the archive.
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
WITH sends AS (
    SELECT postback_id, channel, tracking_id, occurred_at AS sent_at
    FROM outbound_messages
    WHERE delivery_state = 'sent'
      AND occurred_at >= $from AND occurred_at < $to
),
receipts AS (
    SELECT tracking_id, occurred_at AS received_at
    FROM outbound_messages
    WHERE delivery_state IN ('delivered', 'failed', 'expired', 'rejected', 'not_supported')
      AND tracking_id IS NOT NULL
      AND occurred_at >= $from
),
latencies AS (
    SELECT s.channel, date_diff('second', s.sent_at, min(r.received_at)) AS seconds
    FROM sends s
    LEFT JOIN receipts r ON r.tracking_id = s.tracking_id AND r.received_at >= s.sent_at
    GROUP BY s.postback_id, s.channel, s.sent_at
)
SELECT channel,
       count(*) AS sends,
       count(seconds) AS receipts,
       count(*) - count(seconds) AS no_receipt,
       round(median(seconds), 1) AS median_seconds,
       round(quantile_cont(seconds, 0.95), 1) AS p95_seconds
FROM latencies
GROUP BY channel
ORDER BY channel;
