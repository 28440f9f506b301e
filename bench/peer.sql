-- The DuckDB SQL peer: what a user could write in an afternoon instead of
-- postback-archive. One row per file, a regular expression per field, over the
-- plain .xml files of the corpus (DuckDB's file readers cannot gunzip them one by one). bench/run.sh replaces
-- CORPUS with the corpus directory.
SET preserve_insertion_order = false;
CREATE TABLE postbacks AS
SELECT
    filename,
    regexp_extract(content, '<ORIGIN>([^<]*)</ORIGIN>', 1) AS origin,
    coalesce(nullif(regexp_extract(content, '<CODE>([^<]*)</CODE>', 1), ''),
             regexp_extract(content, '<STATUSCODE>([^<]*)</STATUSCODE>', 1)) AS status_code,
    coalesce(nullif(regexp_extract(content, '<TIMESTAMP>([^<]*)</TIMESTAMP>', 1), ''),
             regexp_extract(content, '<RECEIVED>([^<]*)</RECEIVED>', 1)) AS occurred_at_text,
    regexp_extract(content, '<STATUS>([^<]*)</STATUS>', 1) AS status,
    regexp_extract(content, '<STATUSDETAILS>([^<]*)</STATUSDETAILS>', 1) AS status_details,
    regexp_extract(content, '<SENTAS>([^<]*)</SENTAS>', 1) AS sent_as,
    regexp_extract(content, '<MMSID>([^<]*)</MMSID>', 1) AS mms_id,
    regexp_extract(content, '<FROM>([^<]*)</FROM>', 1) AS from_address,
    regexp_extract(content, '<TO>([^<]*)</TO>', 1) AS to_address,
    regexp_extract(content, '<SPID>([^<]*)</SPID>', 1) AS spid,
    regexp_extract(content, '<TRACKINGID>([^<]*)</TRACKINGID>', 1) AS tracking_id,
    regexp_extract(content, '<TRANSACTIONID>([^<]*)</TRANSACTIONID>', 1) AS transaction_id,
    regexp_extract(content, '<AGGREGATORID>([^<]*)</AGGREGATORID>', 1) AS aggregator_id,
    regexp_extract(content, '<HANDSET>([^<]*)</HANDSET>', 1) AS handset,
    regexp_extract(content, '<KEYWORD>([^<]*)</KEYWORD>', 1) AS keyword,
    regexp_extract(content, '<TEXT>([^<]*)</TEXT>', 1) AS message_text,
    regexp_extract(content, '<MOBILE>([^<]*)</MOBILE>', 1) AS mobile,
    regexp_extract(content, '<EMAIL>([^<]*)</EMAIL>', 1) AS email,
    regexp_extract(content, '<CAMPAIGNID>([^<]*)</CAMPAIGNID>', 1) AS campaign_id,
    regexp_extract(content, '<SUBID>([^<]*)</SUBID>', 1) AS subscription_id,
    regexp_extract(content, '<REFERENCEDBY>([^<]*)</REFERENCEDBY>', 1) AS reference_type,
    regexp_extract(content, '<REFERENCEVALUE>([^<]*)</REFERENCEVALUE>', 1) AS reference_value,
    regexp_extract(content, '<PASSDATAID>([^<]*)</PASSDATAID>', 1) AS pass_data_id,
    regexp_extract(content, '<SERIALNUMBER>([^<]*)</SERIALNUMBER>', 1) AS serial_number
-- read_blob and a cast, because read_text stops at the first file that is not UTF-8.
FROM (SELECT filename, CAST(content AS VARCHAR) AS content FROM read_blob('CORPUS/**/*.xml'));
SELECT count(*) AS rows FROM postbacks;
