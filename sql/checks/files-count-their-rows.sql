-- Check files_count_their_rows (`postback-archive verify`): what the ledger counted in
-- each file (`files.postbacks`, `duplicates`, `errors`) is what the archive holds of it.
-- The copies and problems of a file are exactly those of its last read (a file read
-- again replaces what earlier reads recorded). The postbacks first seen in a file stay
-- with it when the file changes later, so a changed file may own more stored postbacks
-- than its last read found, never fewer: postbacks - duplicates at most. One row: how
-- many files disagree, and one of them in words.
WITH stored AS (SELECT file_id, count(*) AS n FROM postbacks GROUP BY file_id),
     copies AS (SELECT file_id, count(*) AS n FROM duplicates GROUP BY file_id),
     found AS (SELECT file_id, count(*) AS n FROM import_errors WHERE file_id IS NOT NULL GROUP BY file_id),
     counted AS (
        SELECT f.file_id, f.path, f.postbacks, f.duplicates, f.errors,
               coalesce(s.n, 0) AS stored, coalesce(c.n, 0) AS copies, coalesce(p.n, 0) AS problems
        FROM files f
        LEFT JOIN stored s USING (file_id)
        LEFT JOIN copies c USING (file_id)
        LEFT JOIN found p USING (file_id)
     )
SELECT count(*) AS problems,
       min(format('{} (file {}) was read with {} postbacks ({} of them copies) and {} problems, ' ||
                  'but the archive holds {} postbacks first seen there, {} copies and {} problems of it',
                  path, file_id, postbacks, duplicates, errors, stored, copies, problems)) AS example
FROM counted
WHERE copies <> duplicates OR problems <> errors OR stored < postbacks - duplicates
