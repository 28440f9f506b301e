-- Check ledger_holds_every_file (`postback-archive verify`): every postback, copy and
-- problem of a file that was read names a file the ledger (`files`) holds, and the
-- ledger holds each file once. A file enters the ledger in the same transaction as
-- everything found in it, so a row that names a file the ledger lacks means the ledger
-- lost rows. One row: how many problems, and one of them in words.
WITH problems AS (
    SELECT format('postback {} names file {}, which the ledger does not hold', postback_id, file_id) AS problem
    FROM postbacks ANTI JOIN files USING (file_id)
    UNION ALL
    SELECT format('a copy of postback {} names file {}, which the ledger does not hold', postback_id, file_id)
    FROM duplicates ANTI JOIN files USING (file_id)
    UNION ALL
    SELECT format('a problem of {} names file {}, which the ledger does not hold', path, file_id)
    FROM import_errors ANTI JOIN files USING (file_id)
    WHERE file_id IS NOT NULL
    UNION ALL
    SELECT format('the ledger holds file {} {} times', file_id, count(*))
    FROM files GROUP BY file_id HAVING count(*) > 1
    UNION ALL
    SELECT format('the ledger holds {} under {} file ids', any_value(path), count(*))
    FROM files GROUP BY path_key HAVING count(*) > 1
)
SELECT count(*) AS problems, min(problem) AS example FROM problems
