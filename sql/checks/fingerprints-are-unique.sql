-- Check fingerprints_are_unique (`postback-archive verify`): each postback is stored
-- once (its fingerprint appears in one row of `postbacks`), and each postback id names
-- one row. One row: how many fingerprints or ids repeat, and one of them in words.
WITH problems AS (
    SELECT format('postbacks {} hold the same fingerprint', string_agg(postback_id::VARCHAR, ', ' ORDER BY postback_id)) AS problem
    FROM postbacks GROUP BY fingerprint HAVING count(*) > 1
    UNION ALL
    SELECT format('postback id {} names {} rows', postback_id, count(*))
    FROM postbacks GROUP BY postback_id HAVING count(*) > 1
)
SELECT count(*) AS problems, min(problem) AS example FROM problems
