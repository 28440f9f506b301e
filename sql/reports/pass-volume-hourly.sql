-- name: pass-volume-hourly
-- title: Pass generation by hour
-- description: Passes generated and failed (and of unknown outcome) in every local hour
--   of the period, empty hours included, with the share that failed and its 95% Wilson
--   interval. The hour is the local start with its UTC offset, so the hour repeated
--   when daylight saving ends appears twice (01:00-04:00, then 01:00-05:00). Passes are
--   dated by their TIMESTAMP, or by when they arrived if they have none.
-- dated-by: each pass's own time
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
-- chart: stacked-bars
-- chart-x: hour
-- chart-series: generated, failed
-- chart-label: passes
WITH counts AS (
    SELECT h.day,
           h.hour,
           h.starts_at,
           count(g.postback_id) FILTER (WHERE g.generated) AS generated,
           count(g.postback_id) FILTER (WHERE g.failed) AS failed,
           count(g.postback_id) FILTER (WHERE g.outcome = 'unknown') AS unknown
    FROM report_hours h
    LEFT JOIN pass_generations g
           ON g.event_at >= h.starts_at AND g.event_at < h.ends_at
          AND g.event_at >= $from AND g.event_at < $to
    GROUP BY h.day, h.hour, h.starts_at
)
SELECT day, hour, generated, failed, unknown,
       rate_pct(failed, generated + failed) AS failure_pct,
       wilson_low_pct(failed, generated + failed) AS failure_pct_low,
       wilson_high_pct(failed, generated + failed) AS failure_pct_high
FROM counts
ORDER BY starts_at;
