/*  fields.c - a target's fields by name, as text.

    The one place that knows which names a target answers to: the channel
    plan's conditions (broker/plan.c), the SMS template (workers/sms) and
    the call script (workers/call) all read fields through it, so a name
    means the same thing in a plan, a template and a script.  Extra CSV
    columns come after the built-in names.  Also the customer's value
    tier, which the call console and the visit sheet both show.         */

#include "wob_targets.h"
#include <math.h>

//  Value tiers by ARPU: the first floor the ARPU reaches.
static const struct {
    double floor;               //  ARPU from
    const char *name;
} s_tiers [] = {
    { 300, "platinum" }, { 150, "gold" }, { 60, "silver" }, { 0, "bronze" }
};

const char *
wob_value_tier (double arpu)
{
    size_t n = sizeof (s_tiers) / sizeof (s_tiers [0]);
    for (size_t i = 0; i + 1 < n; i++)
        if (isfinite (arpu) && arpu >= s_tiers [i].floor)
            return s_tiers [i].name;
    return s_tiers [n - 1].name;
}

const char *
wob_target_field (const Wob__Target *t, const char *name, char *buf, size_t size)
{
    if (!t || !name || size == 0)
        return NULL;
    if (streq (name, "msisdn"))            return t->msisdn;
    if (streq (name, "customer_id"))       return t->customer_id;
    if (streq (name, "name"))              return t->name;
    if (streq (name, "province"))          return t->province;
    if (streq (name, "city"))              return t->city;
    if (streq (name, "district"))          return t->district;
    if (streq (name, "grid"))              return t->grid;
    if (streq (name, "segment"))           return t->segment;
    if (streq (name, "lifecycle"))         return t->lifecycle;
    if (streq (name, "preferred_channel")) return t->preferred_channel;
    if (streq (name, "offer"))             return t->n_offers? t->offers [0]: "";
    if (streq (name, "offers")) {
        size_t used = 0;
        buf [0] = 0;
        for (size_t i = 0; i < t->n_offers && used < size; i++) {
            int n = snprintf (buf + used, size - used, "%s%s", i? ", ": "", t->offers [i]);
            used += n > 0? (size_t) n: 0;
        }
        return buf;
    }
    if (streq (name, "arpu"))
        snprintf (buf, size, "%.2f", t->arpu);
    else
    if (streq (name, "tenure_months"))
        snprintf (buf, size, "%u", t->tenure_months);
    else
    if (streq (name, "priority"))
        snprintf (buf, size, "%d", t->priority);
    else {
        for (size_t i = 0; i < t->n_extra; i++)
            if (t->extra [i]->key && streq (t->extra [i]->key, name))
                return t->extra [i]->value;
        return NULL;
    }
    return buf;
}
