-- name: pass-volume-hourly
-- title: Pass generation by hour
-- description: Passes generated and failed in every local hour of the period, empty hours
--   included. The hour is the local start with its UTC offset, so the hour repeated when
--   daylight saving ends appears twice (01:00-04:00, then 01:00-05:00).
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
-- chart: stacked-bars
-- chart-x: hour
-- chart-series: generated, failed
-- chart-label: passes
SELECT h.day,
       h.hour,
       count(g.postback_id) FILTER (WHERE g.generated) AS generated,
       count(g.postback_id) FILTER (WHERE g.failed) AS failed,
       round(100.0 * count(g.postback_id) FILTER (WHERE g.failed)
             / nullif(count(g.postback_id) FILTER (WHERE g.generated OR g.failed), 0), 1) AS failure_pct
FROM report_hours h
LEFT JOIN pass_generations g
       ON g.occurred_at >= h.starts_at AND g.occurred_at < h.ends_at
      AND g.occurred_at >= $from AND g.occurred_at < $to
GROUP BY h.day, h.hour, h.starts_at
ORDER BY h.starts_at;
