-- name: delivery-latency
-- title: Delivery latency
-- description: For the SMS, MMS and DDM messages sent in the period (send notifications
--   that say Message Sent), the time from the send notification to the first delivery
--   receipt with the same TRACKINGID dated at or after it, delivered or not, also when
--   it came after the period: median and 95th percentile in seconds, and how many
--   sends have no receipt in the archive (or no TRACKINGID to find one by). Postbacks
--   are dated by their own TIMESTAMP, or by when they arrived if they have none.
-- dated-by: the send's time
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
SELECT channel,
       count(*) AS sends,
       count(latency_seconds) AS receipts,
       count(*) - count(latency_seconds) AS no_receipt,
       round(median(latency_seconds), 1) AS median_seconds,
       round(quantile_cont(latency_seconds, 0.95), 1) AS p95_seconds
FROM message_sends($from, $to)
WHERE send_outcome = 'success'
GROUP BY channel
ORDER BY channel;
