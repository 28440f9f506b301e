-- name: import-health
-- title: Import health
-- description: The import runs that started in the period: when (local time), how they
--   ended, the files they saw, skipped as unchanged and read, the postbacks they stored
--   and the copies they found, and the problems in input files by kind.
-- dated-by: the run's start
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
WITH kinds AS (
    SELECT run_id, kind, count(*) AS problems
    FROM import_errors
    GROUP BY run_id, kind
),
errors AS (
    SELECT run_id, string_agg(kind || ' ' || problems, ', ' ORDER BY kind) AS errors_by_kind
    FROM kinds
    GROUP BY run_id
)
SELECT r.run_id,
       local_time(r.started_at) AS started,
       r.status,
       r.files_seen,
       r.files_skipped,
       r.files_read,
       r.postbacks_new,
       r.postbacks_duplicate,
       r.errors,
       e.errors_by_kind
FROM import_runs r
LEFT JOIN errors e ON e.run_id = r.run_id
WHERE r.started_at >= $from AND r.started_at < $to
ORDER BY r.run_id;
