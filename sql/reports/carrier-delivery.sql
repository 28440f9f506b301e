-- name: carrier-delivery
-- title: Outbound delivery by carrier
-- description: The SMS, MMS and DDM messages sent in the period per SPID (its country
--   and carrier from Appendix E: the newer edition's names, with the older edition's
--   in parentheses where it names the SPID otherwise; a generic "All Carriers" SPID
--   names its country), each followed by its TRACKINGID to its first receipt, however
--   late: sends (send notifications), not sent (send failures), delivered, not
--   delivered (failed, expired, rejected, not supported), unknown (a code or STATUS the
--   documentation does not define), and no receipt in the archive yet (also a send
--   without TRACKINGID, which cannot be followed). The delivery share is over the
--   sends whose receipt came, delivered / (delivered + not delivered), with its 95%
--   Wilson interval. Then the period's receipts whose send is not in the archive (no
--   send with their TRACKINGID at or before them), dated by the receipt: no_send, of
--   which delivered and not delivered.
-- dated-by: the send's time; receipts without a send (no_send): the receipt's
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
-- chart: horizontal-bars
-- chart-x: spid, carrier
-- chart-series: delivered, not_delivered, not_sent
-- chart-label: messages
WITH sends AS (
    SELECT spid,
           count(*) AS sends,
           count(*) FILTER (WHERE delivery_outcome = 'not_sent') AS not_sent,
           count(*) FILTER (WHERE delivery_outcome = 'delivered') AS delivered,
           count(*) FILTER (WHERE delivery_outcome = 'not_delivered') AS not_delivered,
           count(*) FILTER (WHERE delivery_outcome = 'unknown') AS unknown,
           count(*) FILTER (WHERE delivery_outcome = 'no_receipt') AS no_receipt
    FROM message_sends($from, $to)
    GROUP BY spid
),
without_send AS (
    SELECT spid,
           count(*) AS no_send,
           count(*) FILTER (WHERE delivery_outcome = 'delivered') AS no_send_delivered,
           count(*) FILTER (WHERE delivery_outcome = 'not_delivered') AS no_send_not_delivered
    FROM receipts_without_send($from, $to)
    GROUP BY spid
),
per_spid AS (
    SELECT coalesce(s.spid, w.spid) AS spid,
           coalesce(s.sends, 0) AS sends,
           coalesce(s.not_sent, 0) AS not_sent,
           coalesce(s.delivered, 0) AS delivered,
           coalesce(s.not_delivered, 0) AS not_delivered,
           coalesce(s.unknown, 0) AS unknown,
           coalesce(s.no_receipt, 0) AS no_receipt,
           coalesce(w.no_send, 0) AS no_send,
           coalesce(w.no_send_delivered, 0) AS no_send_delivered,
           coalesce(w.no_send_not_delivered, 0) AS no_send_not_delivered
    FROM sends s
    FULL JOIN without_send w ON w.spid IS NOT DISTINCT FROM s.spid
),
named AS (
    SELECT spid, country, older_country,
           CASE WHEN carrier = 'All Carriers' THEN 'All Carriers in ' || country
                ELSE carrier END AS carrier,
           CASE WHEN older_carrier = 'All Carriers' THEN 'All Carriers in ' || older_country
                ELSE older_carrier END AS older_carrier
    FROM carriers
)
SELECT p.spid,
       c.country,
       CASE WHEN p.spid IS NULL THEN 'no SPID'
            WHEN c.carrier IS NULL THEN 'SPID in neither Appendix E'
            WHEN c.older_carrier IS NULL THEN c.carrier
            ELSE c.carrier || ' (older edition: ' || c.older_carrier || ')' END AS carrier,
       p.sends, p.not_sent, p.delivered, p.not_delivered, p.unknown, p.no_receipt,
       rate_pct(p.delivered, p.delivered + p.not_delivered) AS delivered_pct,
       wilson_low_pct(p.delivered, p.delivered + p.not_delivered) AS delivered_pct_low,
       wilson_high_pct(p.delivered, p.delivered + p.not_delivered) AS delivered_pct_high,
       p.no_send, p.no_send_delivered, p.no_send_not_delivered
FROM per_spid p
LEFT JOIN named c ON c.spid = p.spid
ORDER BY p.sends DESC, p.no_send DESC, p.spid NULLS LAST;
