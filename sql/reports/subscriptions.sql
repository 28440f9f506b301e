-- name: subscriptions
-- title: Subscriptions by campaign
-- description: Subscribes (N301, N303) with the distinct people who subscribed (the
--   platform re-sends N301 when someone already subscribed opts in again),
--   unsubscribes (N302, N304) and the net change, per local day and campaign.
--   Subscriptions are dated by their TIMESTAMP, or by when they arrived if they have
--   none (every EMAIL_SUB, and SUB of the older edition). A newer-edition EMAIL_SUB
--   carries only EMAIL and CAMPAIGNID, so a repeated opt-in looks exactly like the
--   platform's retry of the first: it is stored once, its copy counted under retries.
-- dated-by: each subscription's own time
-- param: from  first instant of the period (UTC)
-- param: to    first instant after the period (UTC)
-- period: 1 day
SELECT d.day,
       s.campaign_id,
       max(s.campaign_title) AS campaign_title,
       count(*) FILTER (WHERE s.action = 'subscribe') AS subscribes,
       count(DISTINCT s.subscriber) FILTER (WHERE s.action = 'subscribe') AS subscribers,
       count(*) FILTER (WHERE s.action = 'unsubscribe') AS unsubscribes,
       count(*) FILTER (WHERE s.action = 'subscribe')
           - count(*) FILTER (WHERE s.action = 'unsubscribe') AS net
FROM report_days d
JOIN subscriptions s ON s.event_at >= d.starts_at AND s.event_at < d.ends_at
WHERE s.event_at >= $from AND s.event_at < $to
GROUP BY d.day, s.campaign_id
ORDER BY d.day, s.campaign_id NULLS LAST;
