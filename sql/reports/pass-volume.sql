-- name: pass-volume
-- title: Pass generation by day and reference type
-- description: Passes generated (N801) and failed (N802, N803, N811) per local day and
--   reference type (REFERENCEDBY: Email, Phone, ...), with the share of attempts that
--   failed. Days and types without passes are left out; pass-volume-hourly has every
--   hour of a day.
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
SELECT d.day,
       g.reference_type,
       count(*) FILTER (WHERE g.generated) AS generated,
       count(*) FILTER (WHERE g.failed) AS failed,
       round(100.0 * count(*) FILTER (WHERE g.failed)
             / nullif(count(*) FILTER (WHERE g.generated OR g.failed), 0), 1) AS failure_pct
FROM report_days d
JOIN pass_generations g ON g.occurred_at >= d.starts_at AND g.occurred_at < d.ends_at
WHERE g.occurred_at >= $from AND g.occurred_at < $to
GROUP BY d.day, g.reference_type
ORDER BY d.day, g.reference_type NULLS LAST;
