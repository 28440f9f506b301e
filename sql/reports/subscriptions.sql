-- name: subscriptions
-- title: Subscriptions by campaign
-- description: Subscribes (N301, N303), unsubscribes (N302, N304) and the net change per
--   local day and campaign. Email subscriptions carry no timestamp in the platform's
--   postbacks, so only those with one are counted.
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
SELECT d.day,
       s.campaign_id,
       max(s.campaign_title) AS campaign_title,
       count(*) FILTER (WHERE s.action = 'subscribe') AS subscribes,
       count(*) FILTER (WHERE s.action = 'unsubscribe') AS unsubscribes,
       count(*) FILTER (WHERE s.action = 'subscribe')
           - count(*) FILTER (WHERE s.action = 'unsubscribe') AS net
FROM report_days d
JOIN subscriptions s ON s.occurred_at >= d.starts_at AND s.occurred_at < d.ends_at
WHERE s.occurred_at >= $from AND s.occurred_at < $to
GROUP BY d.day, s.campaign_id
ORDER BY d.day, s.campaign_id NULLS LAST;
