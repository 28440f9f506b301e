-- name: failure-trend
-- title: Failure rate trend
-- description: Per local day of the last days (14 unless --from says otherwise): pass
--   attempts and failures, and outbound message outcomes (delivery receipts and send
--   errors) and failures (failed, expired, rejected, not supported, not sent), each with
--   its failure rate. Every day appears, also without traffic.
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 14 days
-- chart: bars
-- chart-x: day
-- chart-series: pass_failure_pct, message_failure_pct
-- chart-label: % failed
WITH passes AS (
    SELECT d.day,
           count(*) FILTER (WHERE g.generated OR g.failed) AS attempts,
           count(*) FILTER (WHERE g.failed) AS failures
    FROM report_days d
    JOIN pass_generations g ON g.occurred_at >= d.starts_at AND g.occurred_at < d.ends_at
    WHERE g.occurred_at >= $from AND g.occurred_at < $to
    GROUP BY d.day
),
messages AS (
    SELECT d.day,
           count(*) FILTER (WHERE m.delivery_state <> 'sent') AS outcomes,
           count(*) FILTER (WHERE m.delivery_state NOT IN ('sent', 'delivered')) AS failures
    FROM report_days d
    JOIN outbound_messages m ON m.occurred_at >= d.starts_at AND m.occurred_at < d.ends_at
    WHERE m.occurred_at >= $from AND m.occurred_at < $to
      AND m.delivery_state <> 'other'
    GROUP BY d.day
)
SELECT d.day,
       coalesce(p.attempts, 0) AS pass_attempts,
       coalesce(p.failures, 0) AS pass_failures,
       round(100.0 * p.failures / nullif(p.attempts, 0), 1) AS pass_failure_pct,
       coalesce(m.outcomes, 0) AS message_outcomes,
       coalesce(m.failures, 0) AS message_failures,
       round(100.0 * m.failures / nullif(m.outcomes, 0), 1) AS message_failure_pct
FROM report_days d
LEFT JOIN passes p ON p.day = d.day
LEFT JOIN messages m ON m.day = d.day
ORDER BY d.day;
