-- Check duplicates_copy_stored_postbacks (`postback-archive verify`): every row of
-- `duplicates` is a copy of a postback `postbacks` holds, with the same fingerprint.
-- One row: how many copies point nowhere or at another postback, and one in words.
SELECT count(*) AS problems,
       min(CASE WHEN p.postback_id IS NULL
                THEN format('a copy in file {} (line {}) names postback {}, which the archive does not hold',
                            d.file_id, d.line, d.postback_id)
                ELSE format('a copy in file {} (line {}) names postback {}, whose fingerprint is another',
                            d.file_id, d.line, d.postback_id)
           END) AS example
FROM duplicates d
LEFT JOIN postbacks p USING (postback_id)
WHERE p.postback_id IS NULL OR p.fingerprint <> d.fingerprint
