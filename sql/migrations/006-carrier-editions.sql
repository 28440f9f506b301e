-- postback-archive schema migration to version 6 (after 5, the folder ledger), run in
-- one transaction by src/store/schema.rs: the carriers table says which edition of the
-- platform's Appendix E each name comes from. `country` and `carrier` are the newer
-- edition's names (the older's for a SPID only it lists); `older_country` and
-- `older_carrier` hold the older edition's names where they differ, and are NULL
-- wherever the editions agree. One row per SPID stays, so joining postbacks to
-- carriers by SPID never multiplies rows. The rows are reloaded from
-- data/carriers.csv after the migrations, as for any change of the reference data.

ALTER TABLE carriers ADD COLUMN older_country VARCHAR;
ALTER TABLE carriers ADD COLUMN older_carrier VARCHAR;
