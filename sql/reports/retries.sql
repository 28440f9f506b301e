-- name: retries
-- title: Retried postbacks
-- description: Per local day: the postbacks dated that day, how many of them the
--   platform sent more than once, and how many extra copies arrived. The platform
--   retries every 5 minutes, up to 5 times, when your endpoint does not answer, so
--   copies point at an endpoint that failed or was slow. Every day appears. Postbacks
--   are dated by their own TIMESTAMP, or by when they arrived if they have none.
-- dated-by: each postback's own time
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
-- chart: bars
-- chart-x: day
-- chart-series: retried_postbacks, duplicate_copies
-- chart-label: postbacks
WITH copies AS (
    SELECT postback_id, count(*) AS copies
    FROM duplicates
    GROUP BY postback_id
),
postbacks_of_period AS (
    SELECT p.postback_id, p.event_at
    FROM postback_outcomes p
    WHERE p.event_at >= $from AND p.event_at < $to
)
SELECT d.day,
       count(p.postback_id) AS postbacks,
       count(c.postback_id) AS retried_postbacks,
       CAST(coalesce(sum(c.copies), 0) AS BIGINT) AS duplicate_copies,
       rate_pct(count(c.postback_id), count(p.postback_id)) AS retried_pct
FROM report_days d
LEFT JOIN postbacks_of_period p ON p.event_at >= d.starts_at AND p.event_at < d.ends_at
LEFT JOIN copies c ON c.postback_id = p.postback_id
GROUP BY d.day
ORDER BY d.day;
