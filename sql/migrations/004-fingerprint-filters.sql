-- postback-archive schema migration 3 -> 4, run in one transaction by
-- src/store/schema.rs: the fingerprint filters with which an import finds earlier
-- copies of its postbacks without scanning every fingerprint in the archive
-- (src/store/writer/earlier.rs). Derived data: the next import builds what is missing
-- from `postbacks`, so this migration only creates the table.

-- Rows of up to 1,024 keys for each span of 131,072 postback ids: span k holds ids
-- k*131072+1 ..= (k+1)*131072.
CREATE TABLE IF NOT EXISTS fingerprint_filters (
    span             BIGINT NOT NULL,
    last_postback_id BIGINT NOT NULL,   -- the last id the filter covers (the span may be filling)
    keys             BLOB NOT NULL      -- top 48 bits of fingerprints, sorted within the span, 6 bytes little-endian each
);
