-- Check folders_file_every_file (`postback-archive verify`): every file of the ledger
-- is filed under a folder (or tarball) of `folders`, within that folder's range of
-- file ids, which the per-folder lookups of `import` read (a file outside it would be
-- taken for a new one, and its postbacks for copies).
-- One row: how many files are filed nowhere or out of their folder's range, and one in words.
SELECT count(*) AS problems,
       min(CASE WHEN d.folder_id IS NULL
                THEN format('file {} ({}) is filed under folder {}, which the ledger does not hold',
                            f.file_id, f.path, coalesce(f.folder_id::VARCHAR, 'NULL'))
                ELSE format('file {} ({}) is outside the file ids {} to {} of its folder {}',
                            f.file_id, f.path, d.first_file_id, d.last_file_id, d.path)
           END) AS example
FROM files f
LEFT JOIN folders d ON d.folder_id = f.folder_id
WHERE d.folder_id IS NULL
   OR f.file_id NOT BETWEEN d.first_file_id AND d.last_file_id
