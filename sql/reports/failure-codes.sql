-- name: failure-codes
-- title: Failure codes
-- description: Every failure the platform reported in the period or the one before, by
--   family, code and STATUS: pass failures (N802, N803, N811), message send failures
--   (E101, E201, E501, E999, N101 and N201 with Message Failed), delivery failures
--   (E102, E202, E502, N102 Expired or Rejected, N202 Message Sent/Failed) and saved-MMS
--   encoding failures (E001-E013). For each: how often, its share of its family's
--   failures, first and last seen (local time), the change against the period of as
--   many days just before, and its documented meaning. Postbacks are dated by their own
--   TIMESTAMP, or by when they arrived if they have none (E101 and E00x carry none).
-- dated-by: each failure's own time (a delivery failure: the receipt's)
-- param: from           first instant of the period (UTC)
-- param: to             first instant after the period (UTC)
-- param: previous_from  first instant of the period of as many days just before (UTC)
-- period: 1 day
-- chart: horizontal-bars
-- chart-x: code, status
-- chart-series: failures, previous
-- chart-label: failures
WITH failures AS (
    SELECT family, status_code AS code, status, meaning, event_at
    FROM postback_outcomes
    WHERE outcome = 'failure' AND event_at >= $previous_from AND event_at < $to
),
current_period AS (
    SELECT family, code, status, meaning,
           count(*) AS failures, min(event_at) AS first_at, max(event_at) AS last_at
    FROM failures
    WHERE event_at >= $from
    GROUP BY family, code, status, meaning
),
previous_period AS (
    SELECT family, code, status, meaning, count(*) AS failures
    FROM failures
    WHERE event_at < $from
    GROUP BY family, code, status, meaning
),
joined AS (
    SELECT coalesce(c.family, p.family) AS family,
           coalesce(c.code, p.code) AS code,
           coalesce(c.status, p.status) AS status,
           coalesce(c.meaning, p.meaning) AS meaning,
           coalesce(c.failures, 0) AS failures,
           c.first_at, c.last_at,
           coalesce(p.failures, 0) AS previous
    FROM current_period c
    FULL JOIN previous_period p
           ON p.family = c.family AND p.code = c.code
          AND p.status IS NOT DISTINCT FROM c.status
)
SELECT family, code, status, failures,
       rate_pct(failures, sum(failures) OVER (PARTITION BY family)) AS share_pct,
       local_time(first_at) AS first_seen,
       local_time(last_at) AS last_seen,
       previous,
       failures - previous AS change,
       meaning
FROM joined
ORDER BY CASE family WHEN 'pass' THEN 1 WHEN 'message_send' THEN 2
                     WHEN 'message_receipt' THEN 3 WHEN 'mms_content' THEN 4 ELSE 5 END,
         failures DESC, code, status NULLS FIRST;
