-- name: pass-volume
-- title: Pass generation by day and reference type
-- description: Passes generated (N801), failed (N802, N803, N811) and of unknown outcome
--   (a code neither edition documents) per local day and reference type (REFERENCEDBY:
--   Email, Phone, ...), with the share of generated and failed passes that failed and
--   its 95% Wilson interval. A pass is decided by its STATUSCODE, not its CODE. Passes
--   are dated by their TIMESTAMP, or by when they arrived if they have none. Days and
--   types without passes are left out; pass-volume-hourly has every hour of a day.
-- dated-by: each pass's own time
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
-- chart: stacked-bars
-- chart-x: day, reference_type
-- chart-series: generated, failed
-- chart-label: passes
WITH counts AS (
    SELECT d.day,
           g.reference_type,
           count(*) FILTER (WHERE g.generated) AS generated,
           count(*) FILTER (WHERE g.failed) AS failed,
           count(*) FILTER (WHERE g.outcome = 'unknown') AS unknown
    FROM report_days d
    JOIN pass_generations g ON g.event_at >= d.starts_at AND g.event_at < d.ends_at
    WHERE g.event_at >= $from AND g.event_at < $to
    GROUP BY d.day, g.reference_type
)
SELECT day, reference_type, generated, failed, unknown,
       rate_pct(failed, generated + failed) AS failure_pct,
       wilson_low_pct(failed, generated + failed) AS failure_pct_low,
       wilson_high_pct(failed, generated + failed) AS failure_pct_high
FROM counts
ORDER BY day, reference_type NULLS LAST;
