-- name: carrier-delivery
-- title: Outbound delivery by carrier
-- description: The SMS, MMS and DDM messages sent in the period per SPID (its country
--   and carrier from both editions' Appendix E; a generic "All Carriers" SPID names
--   its country), each followed by its TRACKINGID to its first receipt, however late:
--   sends (send notifications), not sent (send failures), delivered, not delivered
--   (failed, expired, rejected, not supported), unknown (a code or STATUS the
--   documentation does not define), and no receipt in the archive. A send without TRACKINGID cannot
--   be followed: it counts under no_receipt; receipts are counted only through their
--   send, so delivered never exceeds sends. Shares are of the sends; the failure share
--   (not sent and not delivered) has its 95% Wilson interval. Postbacks are dated by
--   their own TIMESTAMP, or by when they arrived if they have none.
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
-- chart: horizontal-bars
-- chart-x: spid, carrier
-- chart-series: delivered, not_delivered, not_sent
-- chart-label: messages
WITH per_spid AS (
    SELECT spid,
           count(*) AS sends,
           count(*) FILTER (WHERE delivery_outcome = 'not_sent') AS not_sent,
           count(*) FILTER (WHERE delivery_outcome = 'delivered') AS delivered,
           count(*) FILTER (WHERE delivery_outcome = 'not_delivered') AS not_delivered,
           count(*) FILTER (WHERE delivery_outcome = 'unknown') AS unknown,
           count(*) FILTER (WHERE delivery_outcome = 'no_receipt') AS no_receipt
    FROM message_sends($from, $to)
    GROUP BY spid
)
SELECT s.spid,
       c.country,
       CASE WHEN s.spid IS NULL THEN 'no SPID'
            WHEN c.carrier IS NULL THEN 'SPID in neither Appendix E'
            WHEN c.carrier = 'All Carriers' THEN 'All Carriers in ' || c.country
            ELSE c.carrier END AS carrier,
       s.sends, s.not_sent, s.delivered, s.not_delivered, s.unknown, s.no_receipt,
       rate_pct(s.delivered, s.sends) AS delivered_pct,
       rate_pct(s.not_sent + s.not_delivered, s.sends) AS failure_pct,
       wilson_low_pct(s.not_sent + s.not_delivered, s.sends) AS failure_pct_low,
       wilson_high_pct(s.not_sent + s.not_delivered, s.sends) AS failure_pct_high
FROM per_spid s
LEFT JOIN carriers c ON c.spid = s.spid
ORDER BY s.sends DESC, s.spid NULLS LAST;
