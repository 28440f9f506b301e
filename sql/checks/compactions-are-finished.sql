-- Check compactions_are_finished (`postback-archive verify`): no compaction is left
-- half done whose tarball lost its row in `folders`, and every finished one's tarball
-- is a tarball of the ledger. (One still `moved` is finished by the next import.)
-- One row: how many compactions point at no tarball of the ledger, and one in words.
SELECT count(*) AS problems,
       min(format('compaction {} of {} ({}) names the tarball {}, which the ledger does not hold',
                  c.compaction_id, c.folder, c.status, c.tarball)) AS example
FROM compactions c
LEFT JOIN folders d ON d.folder_id = c.container_id AND d.kind = 'tarball'
WHERE c.status IN ('moved', 'done') AND d.folder_id IS NULL
