-- name: failure-reasons
-- title: Failure reasons
-- description: The reasons the platform gave for the period's failures (STATUSDETAILS,
--   passed on from the aggregator or carrier), per code and STATUS, with how often
--   each came and its share of that code and STATUS's failures; `(none given)` counts
--   the failures without one. Postbacks are dated by their own TIMESTAMP, or by when
--   they arrived if they have none.
-- dated-by: each failure's own time (a delivery failure: the receipt's)
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
WITH reasons AS (
    SELECT family, status_code AS code, status,
           coalesce(nullif(status_details, ''), '(none given)') AS reason,
           count(*) AS failures
    FROM postback_outcomes
    WHERE outcome = 'failure' AND event_at >= $from AND event_at < $to
    GROUP BY family, status_code, status, reason
)
SELECT family, code, status, reason, failures,
       rate_pct(failures, sum(failures) OVER (PARTITION BY family, code, status)) AS share_pct
FROM reasons
ORDER BY CASE family WHEN 'pass' THEN 1 WHEN 'message_send' THEN 2
                     WHEN 'message_receipt' THEN 3 WHEN 'mms_content' THEN 4 ELSE 5 END,
         code, status NULLS FIRST, failures DESC, reason;
