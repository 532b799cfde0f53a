-- Floor (b) of the nightly-plan benchmark: the plan of strategies/default.yaml (v1) under the cn
-- compliance pack (v1), written by hand as one DuckDB statement. Nothing here is generated: the
-- segments, stages, treatments, challenger, priority, holds, consent, the cap of 3 connected
-- calls per debtor per day and the specialist queue are spelled out for this strategy and pack.
--
-- It reads the same relations as the generated plan (strategy/pipeline.py): snap_accounts,
-- snap_customers, snap_holds, snap_contacts (the snapshot's Parquet files) and the three small
-- reference tables of the guard (ref_days: each channel's planned and contact day after holiday
-- deferral; ref_windows: the lawful window per zone × channel; ref_local_days: the UTC bounds of
-- each local day per zone). Those hold no per-account data (a handful of rows per zone), so the
-- comparison is about the per-account work. Columns and order: huancui.contact.guard.PLAN_COLUMNS,
-- ORDER BY account_id, channel_no.
--
-- What a person writing it by hand does differently from the generated SQL:
--   * holds are matched against the 6 channel days first (holds × ref_days, a few thousand rows)
--     and joined to the actions on (account, channel) and (customer, channel) for the person's
--     holds, instead of DISTINCT-ing the actions;
--   * only contacts inside the look-back range of ref_local_days are joined to customers (the
--     range is known before the join); the customer behind each hold and contact is the one the
--     import wrote into those files (customer_id), so the accounts are read only once, for the
--     eligible ones;
--   * the cap's rank is a window over the calls that compete for it, joined back.
WITH
eligible AS (
    SELECT
        account_id,
        customer_id,
        CASE
            WHEN credit_grade IN ('A', 'B') AND days_past_due <= 30 AND cycles_delinquent <= 2 THEN 0
            WHEN credit_grade IN ('A', 'B', 'C') AND days_past_due <= 90 THEN 1
            ELSE 2
        END AS segment_rule_index,
        CASE
            WHEN days_past_due <= 15 THEN 'early'
            WHEN days_past_due <= 30 THEN 'contact'
            ELSE 'late'
        END AS stage,
        CAST(arrears_fen / 100.0 * (1 + days_past_due / 30.0) AS DOUBLE) AS priority
    FROM snap_accounts
    WHERE days_past_due >= 1
      AND NOT coalesce(charged_off, FALSE)
      AND coalesce(status, '') <> 'charged_off'
),
assigned AS (
    SELECT *,
        CASE WHEN segment_rule_index = 0 AND stage = 'early' THEN 'prime_early_email' END AS experiment,
        CASE WHEN segment_rule_index = 0 AND stage = 'early' THEN
            CASE
                -- u = first 52 bits of sha256('prime_early_email:' || account_id) / 2^52; 20 % challenger
                WHEN CAST(('0x' || substr(sha256('prime_early_email:' || account_id), 1, 13)) AS BIGINT)
                     / 4503599627370496.0 < 0.2 THEN 'sms_and_email'
                ELSE 'champion'
            END
        END AS arm
    FROM eligible
),
cells (segment_rule_index, segment, stage, arm_key, channel_no, channel, template, tone, cadence_days, queue) AS (
    VALUES
        (0, 'prime', 'early', 'champion', 1, 'sms', 'sms.reminder.friendly', 'gentle', 5, 'digital'),
        (0, 'prime', 'early', 'sms_and_email', 1, 'sms', 'sms.reminder.friendly', 'gentle', 5, 'digital'),
        (0, 'prime', 'early', 'sms_and_email', 2, 'email', 'sms.reminder.friendly', 'gentle', 5, 'digital'),
        (0, 'prime', 'contact', '', 1, 'call', 'call.offer_solution', 'gentle', 4, 'phone_prime'),
        (0, 'prime', 'contact', '', 2, 'sms', 'call.offer_solution', 'gentle', 4, 'phone_prime'),
        (0, 'prime', 'late', '', 1, 'call', 'call.offer_solution', 'neutral', 4, 'phone_prime'),
        (0, 'prime', 'late', '', 2, 'letter', 'call.offer_solution', 'neutral', 4, 'phone_prime'),
        (1, 'standard', 'early', '', 1, 'sms', 'sms.reminder.friendly', 'gentle', 3, 'digital'),
        (1, 'standard', 'early', '', 2, 'email', 'sms.reminder.friendly', 'gentle', 3, 'digital'),
        (1, 'standard', 'contact', '', 1, 'call', 'call.offer_solution', 'neutral', 3, 'phone_standard'),
        (1, 'standard', 'contact', '', 2, 'sms', 'call.offer_solution', 'neutral', 3, 'phone_standard'),
        (1, 'standard', 'late', '', 1, 'visit', 'visit.standard', 'firm', 7, 'field'),
        (1, 'standard', 'late', '', 2, 'letter', 'visit.standard', 'firm', 7, 'field'),
        (2, 'high_risk', 'early', '', 1, 'sms', 'call.reminder', 'neutral', 2, 'phone_high_risk'),
        (2, 'high_risk', 'early', '', 2, 'call', 'call.reminder', 'neutral', 2, 'phone_high_risk'),
        (2, 'high_risk', 'contact', '', 1, 'call', 'call.offer_solution', 'firm', 2, 'phone_high_risk'),
        (2, 'high_risk', 'contact', '', 2, 'letter', 'call.offer_solution', 'firm', 2, 'phone_high_risk'),
        (2, 'high_risk', 'late', '', 1, 'visit', 'legal.referral_notice', 'firm', 7, 'legal'),
        (2, 'high_risk', 'late', '', 2, 'legal', 'legal.referral_notice', 'firm', 7, 'legal')
),
-- Contacts in the look-back range (known before any join), with their account's customer.
recent_contacts AS MATERIALIZED (
    SELECT account_id, customer_id, contacted_at, channel, coalesce(connected, FALSE) AS connected
    FROM snap_contacts
    WHERE contacted_at >= (SELECT min(utc_start) FROM ref_local_days)
      AND contacted_at < (SELECT max(utc_end) FROM ref_local_days)
      AND customer_id IS NOT NULL
),
-- Holds in force on each channel's contact day: the account's own, per account and channel,
-- and the person's (deceased, bankruptcy, do-not-contact on any of the customer's accounts).
holds_on AS (
    SELECT h.account_id, d.channel,
        bool_or(h.hold_type = 'deceased') AS deceased,
        bool_or(h.hold_type = 'bankruptcy') AS bankruptcy,
        bool_or(h.hold_type = 'legal') AS legal,
        bool_or(h.hold_type = 'dispute') AS dispute,
        bool_or(h.hold_type = 'hardship') AS hardship,
        bool_or(h.hold_type = 'do_not_contact') AS do_not_contact,
        bool_or(h.hold_type = 'channel_opt_out' AND h.channel = d.channel) AS opted_out
    FROM snap_holds AS h
    JOIN ref_days AS d
      ON h.start_date <= d.contact_date AND (h.end_date IS NULL OR h.end_date >= d.contact_date)
    GROUP BY h.account_id, d.channel
),
person_on AS (
    SELECT h.customer_id, d.channel,
        bool_or(h.hold_type = 'deceased') AS deceased,
        bool_or(h.hold_type = 'bankruptcy') AS bankruptcy,
        bool_or(h.hold_type = 'do_not_contact') AS do_not_contact
    FROM snap_holds AS h
    JOIN ref_days AS d
      ON h.start_date <= d.contact_date AND (h.end_date IS NULL OR h.end_date >= d.contact_date)
    WHERE h.hold_type IN ('deceased', 'bankruptcy', 'do_not_contact')
      AND h.customer_id IS NOT NULL
    GROUP BY h.customer_id, d.channel
),
-- Vulnerable customers (a vulnerable hold on the planned day on any of their accounts): all
-- their strategy actions suppressed, one specialist call on their highest-priority account
-- among those whose own holds do not stop the call (any, if all do).
vulnerable AS (
    SELECT DISTINCT h.customer_id
    FROM snap_holds AS h
    WHERE h.hold_type = 'vulnerable'
      AND h.customer_id IS NOT NULL
      AND h.start_date <= (SELECT min(planned_date) FROM ref_days)
      AND (h.end_date IS NULL OR h.end_date >= (SELECT min(planned_date) FROM ref_days))
),
specialist AS (
    SELECT a.*,
        row_number() OVER (
            PARTITION BY a.customer_id
            ORDER BY coalesce(h.deceased OR h.bankruptcy OR h.legal OR h.dispute OR h.hardship
                              OR h.do_not_contact OR h.opted_out, FALSE),
                     a.priority DESC NULLS LAST, a.account_id
        ) AS nth
    FROM assigned AS a
    JOIN vulnerable AS v ON v.customer_id = a.customer_id
    LEFT JOIN holds_on AS h ON h.account_id = a.account_id AND h.channel = 'call'
),
actions AS (
    SELECT a.account_id, a.customer_id, c.segment, a.segment_rule_index, a.stage,
           a.experiment, a.arm, a.priority,
           c.channel_no, c.channel, c.template, c.tone, c.cadence_days, c.queue,
           v.customer_id IS NOT NULL AS vulnerable, FALSE AS specialist
    FROM assigned AS a
    JOIN cells AS c
      ON c.segment_rule_index = a.segment_rule_index AND c.stage = a.stage
     AND c.arm_key = coalesce(a.arm, '')
    LEFT JOIN vulnerable AS v ON v.customer_id = a.customer_id
    UNION ALL
    SELECT account_id, customer_id,
           ['prime', 'standard', 'high_risk'][segment_rule_index + 1], segment_rule_index,
           stage, experiment, arm, priority,
           0, 'call', 'call.specialist_care', 'gentle', 7, 'specialist_care', TRUE, TRUE
    FROM specialist
    WHERE nth = 1
),
-- The recent contacts on the customer's local day.
recent AS (
    SELECT k.account_id, k.customer_id, k.channel, k.connected, ld.local_date
    FROM recent_contacts AS k
    LEFT JOIN snap_customers AS c ON c.customer_id = k.customer_id
    JOIN ref_local_days AS ld
      ON ld.timezone = coalesce(nullif(c.timezone, ''), 'Asia/Shanghai')
     AND k.contacted_at >= ld.utc_start AND k.contacted_at < ld.utc_end
),
last_touch AS (
    SELECT account_id, channel, max(local_date) AS last_date
    FROM recent
    GROUP BY account_id, channel
),
-- cn: at most 3 connected calls per debtor on the call's contact day (local).
calls_used AS (
    SELECT r.customer_id, count(*) AS used
    FROM recent AS r
    JOIN ref_days AS d ON d.channel = 'call' AND r.local_date = d.contact_date
    WHERE r.channel = 'call' AND r.connected
    GROUP BY r.customer_id
),
screened AS (
    SELECT a.*,
        coalesce(nullif(c.timezone, ''), 'Asia/Shanghai') AS timezone,
        d.planned_date, d.contact_date,
        CASE a.channel
            WHEN 'sms' THEN coalesce(c.consent_sms, FALSE)
            WHEN 'email' THEN coalesce(c.consent_email, FALSE)
            WHEN 'call' THEN coalesce(c.consent_call, FALSE)
            ELSE TRUE
        END AS consented,
        coalesce(h.deceased, FALSE) OR coalesce(p.deceased, FALSE) AS deceased,
        coalesce(h.bankruptcy, FALSE) OR coalesce(p.bankruptcy, FALSE) AS bankruptcy,
        coalesce(h.legal, FALSE) AS legal,
        coalesce(h.dispute, FALSE) AS dispute,
        coalesce(h.hardship, FALSE) AS hardship,
        coalesce(h.do_not_contact, FALSE) OR coalesce(p.do_not_contact, FALSE) AS do_not_contact,
        coalesce(h.opted_out, FALSE) AS opted_out,
        t.last_date > d.contact_date - a.cadence_days AS too_soon,
        u.used
    FROM actions AS a
    JOIN ref_days AS d ON d.channel = a.channel
    LEFT JOIN snap_customers AS c ON c.customer_id = a.customer_id
    LEFT JOIN holds_on AS h ON h.account_id = a.account_id AND h.channel = a.channel
    LEFT JOIN person_on AS p ON p.customer_id = a.customer_id AND p.channel = a.channel
    LEFT JOIN last_touch AS t ON t.account_id = a.account_id AND t.channel = a.channel
    LEFT JOIN calls_used AS u ON u.customer_id = a.customer_id AND a.channel = 'call'
),
windowed AS (
    SELECT s.*, w.window_start, w.window_end, w.hours_effect,
        CASE
            WHEN s.vulnerable AND NOT s.specialist THEN 'vulnerable.specialist_queue'
            WHEN s.deceased THEN 'hold.deceased'
            WHEN s.bankruptcy THEN 'hold.bankruptcy'
            WHEN s.legal THEN 'hold.legal'
            WHEN s.dispute THEN 'hold.dispute'
            WHEN s.hardship THEN 'hold.hardship'
            WHEN s.do_not_contact THEN 'hold.do_not_contact'
            WHEN s.opted_out THEN 'hold.channel_opt_out'
            WHEN NOT s.consented THEN 'consent.missing'
            WHEN w.hours_effect = 'hours.no_lawful_window' THEN 'hours.no_lawful_window'
            WHEN s.too_soon THEN 'strategy.cadence'
        END AS pre_rule
    FROM screened AS s
    JOIN ref_windows AS w ON w.timezone = s.timezone AND w.channel = s.channel
),
ranked AS (
    SELECT account_id, channel_no,
        coalesce(used, 0) + row_number() OVER (
            PARTITION BY customer_id ORDER BY priority DESC NULLS LAST, account_id, channel_no
        ) > 3 AS over_cap
    FROM windowed
    WHERE pre_rule IS NULL AND channel = 'call'
),
capped AS (
    SELECT w.*,
        CASE WHEN r.over_cap THEN 'cn.connected_calls_per_debtor_day' END AS cap_rule
    FROM windowed AS w
    LEFT JOIN ranked AS r ON r.account_id = w.account_id AND r.channel_no = w.channel_no
)
SELECT
    account_id, customer_id, 'debtor' AS party, segment, segment_rule_index, stage,
    channel, template, tone, cadence_days, queue, experiment, arm, priority,
    planned_date, contact_date, timezone, window_start, window_end,
    CASE WHEN coalesce(pre_rule, cap_rule) IS NULL THEN 'planned' ELSE 'suppressed' END AS status,
    coalesce(pre_rule, cap_rule) AS suppressed_by,
    nullif(concat_ws(',',
        CASE WHEN vulnerable THEN 'vulnerable.specialist_queue' END,
        CASE WHEN deceased THEN 'hold.deceased' END,
        CASE WHEN bankruptcy THEN 'hold.bankruptcy' END,
        CASE WHEN legal THEN 'hold.legal' END,
        CASE WHEN dispute THEN 'hold.dispute' END,
        CASE WHEN hardship THEN 'hold.hardship' END,
        CASE WHEN do_not_contact THEN 'hold.do_not_contact' END,
        CASE WHEN opted_out THEN 'hold.channel_opt_out' END,
        CASE WHEN NOT consented THEN 'consent.missing' END,
        CASE WHEN contact_date > planned_date THEN 'holiday.deferred' END,
        hours_effect,
        CASE WHEN too_soon THEN 'strategy.cadence' END,
        cap_rule
    ), '') AS rules,
    substr(sha256(concat_ws('|', CAST(contact_date AS VARCHAR), account_id, channel)), 1, 32)
        AS idempotency_key
FROM capped
ORDER BY account_id, channel_no
