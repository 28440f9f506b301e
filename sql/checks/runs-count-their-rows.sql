-- Check runs_count_their_rows (`postback-archive verify`): every row names an import run
-- that `import_runs` holds, and each run's counters agree with the rows it stored. The
-- counters are written in the transaction of each batch, so they are exact for every
-- run, finished or not: postbacks are never removed, so postbacks_new is the run's
-- rows of `postbacks`; a file read again later replaces the copies and problems its
-- earlier reads recorded, so a run may count more of those than remain, never fewer.
-- One row: how many problems, and one of them in words.
WITH runs AS (SELECT run_id FROM import_runs),
     named AS (
        SELECT run_id, 'postbacks' AS t FROM postbacks
        UNION ALL SELECT run_id, 'duplicates' FROM duplicates
        UNION ALL SELECT run_id, 'import_errors' FROM import_errors
        UNION ALL SELECT run_id, 'files' FROM files
        UNION ALL SELECT first_run_id, 'files' FROM files
     ),
     counts AS (
        SELECT r.run_id, r.status, r.postbacks_new, r.postbacks_duplicate, r.errors, r.files_read,
               (SELECT count(*) FROM postbacks p WHERE p.run_id = r.run_id) AS stored,
               (SELECT count(*) FROM duplicates d WHERE d.run_id = r.run_id) AS copies,
               (SELECT count(*) FROM import_errors e WHERE e.run_id = r.run_id) AS problems,
               (SELECT count(*) FROM files f WHERE f.first_run_id = r.run_id) AS first_read
        FROM import_runs r
     ),
     problems AS (
        SELECT format('{} rows of {} name import run {}, which import_runs does not hold', count(*), t, run_id) AS problem
        FROM named ANTI JOIN runs USING (run_id)
        GROUP BY run_id, t
        UNION ALL
        SELECT format('import run {} holds {} rows', run_id, count(*))
        FROM import_runs GROUP BY run_id HAVING count(*) > 1
        UNION ALL
        SELECT format('import run {} has the status "{}", which no import writes', run_id, status)
        FROM import_runs WHERE status NOT IN ('running', 'ok', 'errors', 'failed', 'interrupted')
        UNION ALL
        SELECT format('import run {} counted {} new postbacks, {} copies, {} problems and {} files read, ' ||
                      'but the archive holds {} postbacks, {} copies, {} problems and {} files first read by it',
                      run_id, postbacks_new, postbacks_duplicate, errors, files_read,
                      stored, copies, problems, first_read)
        FROM counts
        WHERE stored <> postbacks_new OR copies > postbacks_duplicate OR problems > errors
           OR first_read > files_read
     )
SELECT count(*) AS problems, min(problem) AS example FROM problems
