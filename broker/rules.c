/*  rules.c - the coordination rules of SPEC §4, applied to orders.

    The rule file says what the rules are (rulebook.c); this file decides,
    for one order, what they mean: at intake (filters, control group,
    quiet hours) and again just before a lease (a number suppressed since,
    a frequency cap reached by another campaign, quiet hours).  Every
    decision names its rule; the caller records it in the order's history
    and in the wave's counts by rule.

    Order of the intake filters, first match wins: plan, wave_ended,
    invalid_number, duplicate, suppression, open_offer, frequency caps; then
    the control group; then merge / absorb; then time (the wave's window,
    quiet hours).                    */

#include "broker.h"

//  True when number has an allowed length and carrier prefix.
static bool
s_number_ok (const rulebook_t *rules, const char *msisdn, char *why, size_t size)
{
    const char *digits = msisdn;
    if (*digits == '+')
        digits++;
    if (strncmp (digits, "86", 2) == 0 && strlen (digits) == rules->number_max_len + 2)
        digits += 2;                //  country code in front of a national number
    size_t len = strlen (digits);
    if (len < rules->number_min_len || len > rules->number_max_len) {
        snprintf (why, size, "number %s has %zu digits (allowed %u-%u)", msisdn, len,
                  rules->number_min_len, rules->number_max_len);
        return false;
    }
    if (rules->n_number_prefixes == 0)
        return true;
    for (size_t i = 0; i < rules->n_number_prefixes; i++)
        if (strncmp (digits, rules->number_prefixes [i], strlen (rules->number_prefixes [i])) == 0)
            return true;
    snprintf (why, size, "number %s has no known carrier prefix", msisdn);
    return false;
}

//  Does the customer already hold an open order for one of these offers?
static int
s_open_offer (broker_t *self, Wob__Order *order, char *why, size_t size, bool *hit, char *err)
{
    uint64_t *ids;
    size_t count;
    *hit = false;
    if (store_msisdn_list (self->store, order->target->msisdn, &ids, &count, err))
        return WOB_ERR_STORE;
    for (size_t i = 0; i < count && !*hit; i++) {
        Wob__Order *other;
        if (store_order_get (self->store, ids [i], &other, err)) {
            free (ids);
            return WOB_ERR_STORE;
        }
        if (!lifecycle_is_final (other->state) && other->target && other->wave_seq != order->wave_seq)
            for (size_t a = 0; a < other->target->n_offers && !*hit; a++)
                for (size_t b = 0; b < order->target->n_offers && !*hit; b++)
                    if (streq (other->target->offers [a], order->target->offers [b])) {
                        *hit = true;
                        snprintf (why, size, "customer already holds open order %" PRIu64
                                  " (wave %s) for offer %s", other->id, other->wave,
                                  other->target->offers [a]);
                    }
        wob__order__free_unpacked (other, NULL);
    }
    free (ids);
    return 0;
}

//  Has the customer reached a frequency cap?  *hit and the verdict say.
static int
s_capped (broker_t *self, Wob__Order *order, rules_verdict_t *verdict, bool *hit, char *err)
{
    const rulebook_t *rules = self->rules;
    *hit = false;
    for (size_t i = 0; i < rules->n_caps; i++) {
        const rule_cap_t *cap = &rules->caps [i];
        if (*cap->channel && !streq (cap->channel, order->channel))
            continue;
        uint32_t count;
        int rc = store_contact_count (self->store, order->target->msisdn,
                                      self->now - cap->window_ms, cap->channel, order->id,
                                      &count, err);
        if (rc)
            return rc;
        if (count >= cap->max) {
            snprintf (verdict->reason, sizeof (verdict->reason), "%u contact%s %s in the "
                      "last %" PRId64 " h (cap %u)", count, count == 1? "": "s",
                      *cap->channel? "on this channel": "across channels",
                      cap->window_ms / 3600000, cap->max);
            verdict->to = WOB__STATE__STATE_FILTERED;
            verdict->rule = cap->name;
            *hit = true;
            return 0;
        }
    }
    return 0;
}

int64_t
rules_quiet_until (broker_t *self, const char *channel)
{
    const rule_quiet_t *quiet = rulebook_quiet (self->rules, channel);
    if (!quiet)
        return 0;
    int64_t minute_start = self->now - ((self->now % 60000) + 60000) % 60000;
    int64_t local = (self->now / 60000 + quiet->utc_offset_min) % 1440;
    int m = (int) ((local + 1440) % 1440);
    bool in_quiet = quiet->from_min < quiet->to_min?
                    m >= quiet->from_min && m < quiet->to_min:
                    m >= quiet->from_min || m < quiet->to_min;
    if (!in_quiet)
        return 0;
    int delta = (quiet->to_min - m + 1440) % 1440;
    return minute_start + (int64_t) delta * 60000;
}

//  Seeded share of a wave's eligible targets held out, stable per number.
static bool
s_in_control (Wob__Wave *wave, double share, const char *msisdn)
{
    if (share <= 0)
        return false;
    uint64_t h = 1469598103934665603ULL ^ (wave->rules? wave->rules->control_seed: 0);
    for (const char *p = wave->id; *p; p++)
        h = (h ^ (uint8_t) *p) * 1099511628211ULL;
    for (const char *p = msisdn; *p; p++)
        h = (h ^ (uint8_t) *p) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (double) (h >> 11) / (double) (1ULL << 53) < share;
}

int
rules_intake (broker_t *self, wave_t *wave, Wob__Order *order, rules_verdict_t *verdict,
              char *err)
{
    const rulebook_t *rules = self->rules;
    Wob__Wave *w = wave->wave;
    Wob__WaveRules *over = w->rules;
    const char *msisdn = order->target->msisdn;
    bool hit;
    int rc = 0;
    verdict->to = WOB__STATE__STATE_QUEUED;
    verdict->rule = NULL;
    if (!*order->channel) {
        verdict->to = WOB__STATE__STATE_FILTERED;
        verdict->rule = "plan";
        return 0;                   //  plan_route wrote the reason
    }
    if (w->end_ms && w->end_ms <= self->now) {
        char when [32];
        snprintf (verdict->reason, sizeof (verdict->reason), "the wave's window ended at %s",
                  wob_format_time (w->end_ms, when, sizeof (when)));
        verdict->to = WOB__STATE__STATE_FILTERED;
        verdict->rule = "wave_ended";
        return 0;
    }
    if (rules->number_check && !s_number_ok (rules, msisdn, verdict->reason, sizeof (verdict->reason))) {
        verdict->to = WOB__STATE__STATE_FILTERED;
        verdict->rule = "invalid_number";
        return 0;
    }
    if (rules->duplicate && !(over && over->no_duplicate)) {
        uint64_t first;
        if ((rc = store_wave_msisdn_get (self->store, w->seq, msisdn, &first, err)))
            return rc;
        if (first) {
            snprintf (verdict->reason, sizeof (verdict->reason), "number already in this wave "
                      "as order %" PRIu64, first);
            verdict->to = WOB__STATE__STATE_FILTERED;
            verdict->rule = "duplicate";
            return 0;
        }
    }
    if (rules->suppression && (rc = rules_suppressed (self, order, verdict, err)) != 0)
        return rc == 1? 0: rc;
    if (rules->open_offer && !(over && over->no_open_offer)) {
        if ((rc = s_open_offer (self, order, verdict->reason, sizeof (verdict->reason), &hit, err)))
            return rc;
        if (hit) {
            verdict->to = WOB__STATE__STATE_FILTERED;
            verdict->rule = "open_offer";
            return 0;
        }
    }
    if (!(over && over->no_caps)) {
        if ((rc = s_capped (self, order, verdict, &hit, err)) || hit)
            return rc;
    }
    double share = over && over->has_control? over->control: rules->control_share;
    if (s_in_control (w, share, msisdn)) {
        snprintf (verdict->reason, sizeof (verdict->reason), "held out as control group "
                  "(%.1f%% of the wave)", share * 100);
        verdict->to = WOB__STATE__STATE_CONTROL;
        verdict->rule = "control";
        return 0;
    }
    if ((rc = coordinate_merge (self, wave, order, verdict, &hit, err)) || hit)
        return rc;
    char when [32];
    if (w->start_ms > self->now) {
        order->not_before_ms = w->start_ms;
        snprintf (verdict->reason, sizeof (verdict->reason), "%s; deferred until the wave "
                  "window opens at %s", order->channel,
                  wob_format_time (w->start_ms, when, sizeof (when)));
        verdict->to = WOB__STATE__STATE_DEFERRED;
        verdict->rule = "window";
        return 0;
    }
    return rules_timing (self, order, verdict);
}

int
rules_suppressed (broker_t *self, Wob__Order *order, rules_verdict_t *verdict, char *err)
{
    Wob__SuppressEntry *entry;
    if (store_suppress_find (self->store, order->target->msisdn, order->channel, self->now,
                             &entry, err))
        return WOB_ERR_STORE;
    if (!entry)
        return 0;
    char until [32] = "";
    if (entry->expires_ms) {
        strcpy (until, " until ");
        wob_format_time (entry->expires_ms, until + 7, sizeof (until) - 7);
    }
    snprintf (verdict->reason, sizeof (verdict->reason), "do-not-disturb list: %s (%s)%s",
              entry->reason, *entry->channel? entry->channel: "all channels", until);
    wob__suppress_entry__free_unpacked (entry, NULL);
    verdict->to = WOB__STATE__STATE_FILTERED;
    verdict->rule = "suppression";
    return 1;
}

int
rules_timing (broker_t *self, Wob__Order *order, rules_verdict_t *verdict)
{
    Wob__WaveRules *over = NULL;
    wave_t *wave = broker_wave_by_seq (self, order->wave_seq);
    if (wave)
        over = wave->wave->rules;
    int64_t until = over && over->no_quiet_hours? 0: rules_quiet_until (self, order->channel);
    if (until) {
        char when [32];
        order->not_before_ms = until;
        snprintf (verdict->reason, sizeof (verdict->reason), "quiet hours of %s; deferred "
                  "until %s", order->channel, wob_format_time (until, when, sizeof (when)));
        verdict->to = WOB__STATE__STATE_DEFERRED;
        verdict->rule = "quiet_hours";
        return 0;
    }
    verdict->to = WOB__STATE__STATE_QUEUED;
    verdict->rule = NULL;
    return 0;
}

int
rules_transfer (broker_t *self, Wob__Order *order, rules_verdict_t *verdict, char *err)
{
    int rc;
    bool hit;
    verdict->rule = NULL;
    if (self->rules->suppression && (rc = rules_suppressed (self, order, verdict, err)) != 0)
        return rc == 1? 0: rc;
    if ((rc = s_capped (self, order, verdict, &hit, err)) || hit)
        return rc;
    return rules_timing (self, order, verdict);
}

int
rules_dispatch (broker_t *self, Wob__Order *order, rules_verdict_t *verdict, char *err)
{
    int rc;
    verdict->to = WOB__STATE__STATE_DISPATCHED;
    verdict->rule = NULL;
    if (self->rules->suppression && (rc = rules_suppressed (self, order, verdict, err)) != 0)
        return rc == 1? 0: rc;
    wave_t *wave = broker_wave_by_seq (self, order->wave_seq);
    bool no_caps = wave && wave->wave->rules && wave->wave->rules->no_caps;
    bool hit;
    if (order->attempts == 0 && !no_caps) {
        if ((rc = s_capped (self, order, verdict, &hit, err)) || hit)
            return rc;
    }
    rules_timing (self, order, verdict);
    if (verdict->to == WOB__STATE__STATE_QUEUED)
        verdict->to = WOB__STATE__STATE_DISPATCHED;
    return 0;
}

void
rules_count_verdict (broker_t *self, uint32_t wave_seq, rules_verdict_t *verdict)
{
    //  The counts' key names the state the rule led to.
    rules_count (self, wave_seq, wob_state_name (verdict->to), verdict->rule);
}

void
rules_count (broker_t *self, uint32_t wave_seq, const char *kind, const char *rule)
{
    wave_t *wave = broker_wave_by_seq (self, wave_seq);
    if (!wave || !rule)
        return;
    char key [96];
    snprintf (key, sizeof (key), "%s/%s", kind, rule);
    (*broker_wave_count (wave, key))++;
    wave->counts_dirty = true;
    broker_wave_dirty (self, wave);
}

int
rules_apply (broker_t *self, Wob__Order *order, rules_verdict_t *verdict, char *err)
{
    char reason [320];
    snprintf (reason, sizeof (reason), "rule %s: %s", verdict->rule, verdict->reason);
    rules_count_verdict (self, order->wave_seq, verdict);
    return lifecycle_move (self, order, verdict->to, "rules", reason, err);
}
