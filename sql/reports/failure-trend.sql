-- name: failure-trend
-- title: Failure rate trend
-- description: Per local day of the last days (14 unless --from says otherwise): pass
--   attempts (generated or failed) and failures; messages sent that day (send
--   notifications), how many of them have an outcome, either not sent or, followed by
--   TRACKINGID to their first receipt however late, delivered or not delivered (failed,
--   expired, rejected, not supported), and how many of those failed (not sent or not
--   delivered); each rate with its 95% Wilson interval. The message failure rate is
--   over the messages with an outcome; one without a receipt yet, or of unknown
--   outcome, is left out of it. Every day appears, also without traffic. Passes are dated by their own TIMESTAMP, or by when they arrived if they
--   have none; messages by their send.
-- dated-by: passes: their own time; messages: the send's time
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
    JOIN pass_generations g ON g.event_at >= d.starts_at AND g.event_at < d.ends_at
    WHERE g.event_at >= $from AND g.event_at < $to
    GROUP BY d.day
),
messages AS (
    SELECT d.day,
           count(*) AS sends,
           count(*) FILTER (WHERE m.delivery_outcome IN ('not_sent', 'delivered', 'not_delivered'))
               AS outcomes,
           count(*) FILTER (WHERE m.delivery_outcome IN ('not_sent', 'not_delivered')) AS failures
    FROM report_days d
    JOIN message_sends($from, $to) m ON m.sent_at >= d.starts_at AND m.sent_at < d.ends_at
    GROUP BY d.day
),
counts AS (
    SELECT d.day,
           coalesce(p.attempts, 0) AS pass_attempts,
           coalesce(p.failures, 0) AS pass_failures,
           coalesce(m.sends, 0) AS message_sends,
           coalesce(m.outcomes, 0) AS message_outcomes,
           coalesce(m.failures, 0) AS message_failures
    FROM report_days d
    LEFT JOIN passes p ON p.day = d.day
    LEFT JOIN messages m ON m.day = d.day
)
SELECT day,
       pass_attempts,
       pass_failures,
       rate_pct(pass_failures, pass_attempts) AS pass_failure_pct,
       wilson_low_pct(pass_failures, pass_attempts) AS pass_failure_pct_low,
       wilson_high_pct(pass_failures, pass_attempts) AS pass_failure_pct_high,
       message_sends,
       message_outcomes,
       message_failures,
       rate_pct(message_failures, message_outcomes) AS message_failure_pct,
       wilson_low_pct(message_failures, message_outcomes) AS message_failure_pct_low,
       wilson_high_pct(message_failures, message_outcomes) AS message_failure_pct_high
FROM counts
ORDER BY day;
