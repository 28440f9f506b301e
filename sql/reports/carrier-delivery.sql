-- name: carrier-delivery
-- title: Outbound delivery by carrier
-- description: SMS and MMS sent per carrier (named from the SPID by the carriers table),
--   and the delivery receipts and send errors of the period: delivered, failed (failed,
--   not sent, not supported), expired or rejected, and the share delivered among them.
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
-- chart: horizontal-bars
-- chart-x: carrier
-- chart-series: delivered, failed, expired_rejected
-- chart-label: messages
WITH per_carrier AS (
    SELECT coalesce(m.carrier, 'unknown SPID ' || m.spid, 'no SPID') AS carrier,
           count(*) FILTER (WHERE m.delivery_state = 'sent') AS sent,
           count(*) FILTER (WHERE m.delivery_state = 'delivered') AS delivered,
           count(*) FILTER (WHERE m.delivery_state IN ('failed', 'send_failed', 'not_supported')) AS failed,
           count(*) FILTER (WHERE m.delivery_state IN ('expired', 'rejected')) AS expired_rejected
    FROM outbound_messages m
    WHERE m.occurred_at >= $from AND m.occurred_at < $to
    GROUP BY 1
)
SELECT carrier, sent, delivered, failed, expired_rejected,
       round(100.0 * delivered / nullif(delivered + failed + expired_rejected, 0), 1) AS delivery_pct
FROM per_carrier
ORDER BY sent DESC, carrier;
