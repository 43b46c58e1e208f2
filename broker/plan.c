/*  plan.c - the wave's channel plan: which channel each target goes to.

    A plan is an ordered list of steps; the first step whose conditions all
    match the target decides the channel ("preferred" means the target's own
    preferred_channel).  Conditions compare a target field or extra CSV
    column with a set of values, or a numeric field with a [min, max) range.
    This is where "high value to the call center, the rest by SMS, key
    accounts to a field visit" is expressed.                               */

#include "broker.h"
#include "wob_targets.h"

//  A numeric field's value: arpu, tenure_months and priority straight from
//  the target (no rounding through text), anything else parsed from text.
static bool
s_number (Wob__Target *t, const char *field, char *buf, size_t size, double *number)
{
    if (streq (field, "arpu"))
        *number = t->arpu;
    else
    if (streq (field, "tenure_months"))
        *number = t->tenure_months;
    else
    if (streq (field, "priority"))
        *number = t->priority;
    else {
        const char *text = wob_target_field (t, field, buf, size);
        char *end;
        *number = text? strtod (text, &end): 0;
        return text && end != text;
    }
    return true;
}

static bool
s_matches (Wob__Condition *c, Wob__Target *t)
{
    char buf [256];
    if (c->n_values) {
        const char *value = wob_target_field (t, c->field, buf, sizeof (buf));
        bool any = false;
        for (size_t i = 0; value && i < c->n_values && !any; i++)
            any = streq (c->values [i], value);
        if (!any)
            return false;
    }
    if (c->has_min || c->has_max) {
        double number;
        if (!s_number (t, c->field, buf, sizeof (buf), &number))
            return false;
        if (c->has_min && number < c->min)
            return false;
        if (c->has_max && number >= c->max)
            return false;
    }
    return c->n_values || c->has_min || c->has_max
        || wob_target_field (t, c->field, buf, sizeof (buf));
}

int
plan_check (broker_t *self, Wob__Wave *wave, char *err)
{
    if (wave->n_plan == 0)
        return wob_fail (err, WOB_ERR_INVALID, "wave '%s' has an empty channel plan", wave->id);
    for (size_t i = 0; i < wave->n_plan; i++) {
        Wob__PlanStep *step = wave->plan [i];
        if (!streq (step->channel, "preferred") && !broker_channel (self, step->channel))
            return wob_fail (err, WOB_ERR_INVALID, "plan step %zu: channel '%s' is not "
                             "configured (configured: %s)", i + 1, step->channel,
                             broker_channel_list (self));
        if (*step->fallback && !broker_channel (self, step->fallback))
            return wob_fail (err, WOB_ERR_INVALID, "plan step %zu: fallback channel '%s' is "
                             "not configured (configured: %s)", i + 1, step->fallback,
                             broker_channel_list (self));
        for (size_t j = 0; j < step->n_fallback_on; j++) {
            int outcome = wob_outcome_from_name (step->fallback_on [j]);
            if (outcome <= 0)
                return wob_fail (err, WOB_ERR_INVALID, "plan step %zu: fallback_on '%.32s' is "
                                 "not an outcome", i + 1, step->fallback_on [j]);
        }
        for (size_t j = 0; j < step->n_where; j++)
            if (!step->where [j]->field || !*step->where [j]->field)
                return wob_fail (err, WOB_ERR_INVALID, "plan step %zu: condition %zu names "
                                 "no field", i + 1, j + 1);
    }
    //  Per-wave distribution: configured channels, known strategies
    Wob__WaveRules *rules = wave->rules;
    for (size_t i = 0; rules && i < rules->n_distribution; i++) {
        Wob__ChannelStrategy *entry = rules->distribution [i];
        if (!broker_channel (self, entry->channel))
            return wob_fail (err, WOB_ERR_INVALID, "rules: distribution: channel '%.32s' is "
                             "not configured (configured: %s)", entry->channel,
                             broker_channel_list (self));
        if (rulebook_strategy (entry->strategy) < 0)
            return wob_fail (err, WOB_ERR_INVALID, "rules: distribution: %s: '%.32s' is not "
                             "a strategy (even, range or address)", entry->channel,
                             entry->strategy);
    }
    return 0;
}

const char *
plan_route (broker_t *self, Wob__Wave *wave, Wob__Target *target,
            const Wob__PlanStep **step_p, char *why, size_t size)
{
    *step_p = NULL;
    for (size_t i = 0; i < wave->n_plan; i++) {
        Wob__PlanStep *step = wave->plan [i];
        bool match = true;
        for (size_t j = 0; j < step->n_where && match; j++)
            match = s_matches (step->where [j], target);
        if (!match)
            continue;
        const char *channel = step->channel;
        if (streq (channel, "preferred")) {
            channel = target->preferred_channel;
            if (!broker_channel (self, channel))
                continue;           //  no usable preference: try the next step
        }
        snprintf (why, size, "plan step %zu -> %s", i + 1, channel);
        *step_p = step;
        return broker_channel (self, channel)->name;
    }
    snprintf (why, size, "plan: no step of wave '%s' matches this target", wave->id);
    return NULL;
}

void
plan_fallback (const Wob__PlanStep *step, Wob__Order *order)
{
    order->fallback = (char *) "";
    order->fallback_after = 0;
    order->fallback_triggers = 0;
    if (!step || !*step->fallback || streq (step->fallback, order->channel))
        return;
    order->fallback = step->fallback;           //  points into the wave
    order->fallback_after = step->fallback_after;
    for (size_t i = 0; i < step->n_fallback_on; i++) {
        int outcome = wob_outcome_from_name (step->fallback_on [i]);
        if (outcome > 0 && outcome < 32)
            order->fallback_triggers |= 1u << outcome;
    }
}
