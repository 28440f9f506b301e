-- name: failure-codes
-- title: Failure codes
-- description: Every notification code with a failure outcome (passes, sends, deliveries,
--   encodings) seen in the period or the one before: how often it occurred, its share of
--   all failures, its meaning, when it was first and last seen (local time), and the
--   change against the previous period of as many days.
-- param: from           first instant of the period (UTC)
-- param: to             first instant after the period (UTC)
-- param: previous_from  first instant of the period of as many days just before (UTC)
-- period: 1 day
-- chart: bars
-- chart-x: code
-- chart-series: failures, previous
-- chart-label: failures
WITH failures AS (
    SELECT p.status_code AS code, p.occurred_at
    FROM postbacks p
    JOIN status_codes s ON s.code = p.status_code
    WHERE s.outcome = 'failure'
      AND p.occurred_at >= $previous_from AND p.occurred_at < $to
),
current_period AS (
    SELECT code, count(*) AS failures, min(occurred_at) AS first_at, max(occurred_at) AS last_at
    FROM failures
    WHERE occurred_at >= $from
    GROUP BY code
),
previous_period AS (
    SELECT code, count(*) AS failures
    FROM failures
    WHERE occurred_at < $from
    GROUP BY code
)
SELECT coalesce(c.code, p.code) AS code,
       s.description,
       coalesce(c.failures, 0) AS failures,
       round(100.0 * coalesce(c.failures, 0) / nullif(sum(c.failures) OVER (), 0), 1) AS share_pct,
       local_time(c.first_at) AS first_seen,
       local_time(c.last_at) AS last_seen,
       coalesce(p.failures, 0) AS previous,
       coalesce(c.failures, 0) - coalesce(p.failures, 0) AS change
FROM current_period c
FULL JOIN previous_period p ON p.code = c.code
JOIN status_codes s ON s.code = coalesce(c.code, p.code)
ORDER BY failures DESC, code;
