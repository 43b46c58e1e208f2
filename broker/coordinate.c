/*  coordinate.c - what one order does to the customer's other orders.

    Channel coordination across orders (SPEC §4):
      merge        at intake, an order of a customer who already has an open
                   order in the same channel (from another wave, inside the
                   merge window) is folded into it: one contact, all offers;
      absorb       the same across channels ("call > sms": the SMS order is
                   folded into the customer's open call order);
      fallback     an outcome in the rule's trigger set moves the order to its
                   wave's auxiliary channel as a new, linked order;
      collaboration  a success cancels the customer's open sibling orders for
                   the same offer in the other channels.
    Every order touched says so in its history, naming the rule and the
    other order.                                                          */

#include "broker.h"

//  The customer's orders, oldest first (ids malloc'd).
static int
s_customer_orders (broker_t *self, const char *msisdn, uint64_t **ids, size_t *count, char *err)
{
    return store_msisdn_list (self->store, msisdn, ids, count, err);
}

static bool
s_shares_offer (Wob__Order *a, Wob__Order *b)
{
    for (size_t i = 0; i < a->target->n_offers; i++)
        for (size_t j = 0; j < b->target->n_offers; j++)
            if (streq (a->target->offers [i], b->target->offers [j]))
                return true;
    return false;
}

bool
coordinate_falls_back (broker_t *self, Wob__Order *order, int outcome)
{
    uint32_t triggers = order->fallback_triggers? order->fallback_triggers:
                                                  self->rules->fallback_triggers;
    return *order->fallback && outcome > 0 && outcome < 32 && (triggers & (1u << outcome))
        && broker_channel (self, order->fallback);
}

//  Appends offers of `from` to `into` (no repeats); higher priority first.
static void
s_add_offers (Wob__Order *into, Wob__Order *from)
{
    Wob__Target *t = into->target;
    size_t n = t->n_offers + from->target->n_offers;
    char **offers = calloc (n, sizeof (char *));
    size_t count = 0;
    bool first = from->target->priority > t->priority;
    Wob__Target *lists [2] = { first? from->target: t, first? t: from->target };
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < lists [l]->n_offers; i++) {
            bool seen = false;
            for (size_t k = 0; k < count && !seen; k++)
                seen = streq (offers [k], lists [l]->offers [i]);
            if (!seen)
                offers [count++] = strdup (lists [l]->offers [i]);
        }
    for (size_t i = 0; i < t->n_offers; i++)
        if (t->offers [i] != protobuf_c_empty_string)
            free (t->offers [i]);
    free (t->offers);
    t->offers = offers;
    t->n_offers = count;
    into->merged_from = realloc (into->merged_from, (into->n_merged_from + 1) * sizeof (uint64_t));
    into->merged_from [into->n_merged_from++] = from->id;
}

static bool
s_mergeable_state (int state)
{
    return state == WOB__STATE__STATE_QUEUED || state == WOB__STATE__STATE_DEFERRED
        || state == WOB__STATE__STATE_RETRY || state == WOB__STATE__STATE_HELD;
}

int
coordinate_merge (broker_t *self, wave_t *wave, Wob__Order *order, rules_verdict_t *verdict,
                  bool *hit, char *err)
{
    const rulebook_t *rules = self->rules;
    *hit = false;
    if (!rules->merge || (wave->wave->rules && wave->wave->rules->no_merge))
        return 0;
    const char *into_channel = rulebook_absorbed_into (rules, order->channel);
    uint64_t *ids;
    size_t count;
    if (s_customer_orders (self, order->target->msisdn, &ids, &count, err))
        return WOB_ERR_STORE;
    int rc = 0;
    //  Newest first: the most recent open order is the one to join.
    for (size_t i = count; i-- > 0 && !*hit && !rc; ) {
        Wob__Order *other;
        if ((rc = store_order_get (self->store, ids [i], &other, err)))
            break;
        bool same = streq (other->channel, order->channel);
        bool absorbed = into_channel && streq (other->channel, into_channel);
        if (other->wave_seq != order->wave_seq && (same || absorbed)
        &&  s_mergeable_state (other->state)
        &&  other->created_ms >= self->now - rules->merge_window_ms) {
            char note [300];
            s_add_offers (other, order);
            snprintf (note, sizeof (note), "rule %s: took in order %" PRIu64 " (wave %s, "
                      "campaign %s, offer %s)", same? "merge": "absorb", order->id,
                      order->wave, order->campaign, order->target->offers [0]);
            rc = lifecycle_note (self, other, "rules", note, err);
            if (!rc)
                rc = store_target_put (self->store, other, err);    //  its offers grew
            order->merged_into = other->id;
            snprintf (verdict->reason, sizeof (verdict->reason), "folded into order %" PRIu64
                      " (%s, wave %s): the customer is contacted once", other->id,
                      other->channel, other->wave);
            verdict->to = WOB__STATE__STATE_MERGED;
            verdict->rule = same? "merge": "absorb";
            *hit = true;
        }
        wob__order__free_unpacked (other, NULL);
    }
    free (ids);
    return rc;
}

int
coordinate_absorb (broker_t *self, Wob__Order *order, char *err)
{
    const rulebook_t *rules = self->rules;
    if (!rules->merge || rules->n_absorb == 0)
        return 0;
    uint64_t *ids;
    size_t count;
    if (s_customer_orders (self, order->target->msisdn, &ids, &count, err))
        return WOB_ERR_STORE;
    int rc = 0;
    bool changed = false;
    for (size_t i = 0; i < count && !rc; i++) {
        if (ids [i] == order->id)
            continue;
        Wob__Order *other;
        if ((rc = store_order_get (self->store, ids [i], &other, err)))
            break;
        const char *into = rulebook_absorbed_into (rules, other->channel);
        if (into && streq (into, order->channel) && s_mergeable_state (other->state)
        &&  other->created_ms >= self->now - rules->merge_window_ms) {
            char reason [300];
            s_add_offers (order, other);
            other->merged_into = order->id;
            snprintf (reason, sizeof (reason), "rule absorb: folded into order %" PRIu64
                      " (%s, wave %s): the customer is contacted once", order->id,
                      order->channel, order->wave);
            rules_count (self, other->wave_seq, "merged", "absorb");
            rc = lifecycle_move (self, other, WOB__STATE__STATE_MERGED, "rules", reason, err);
            changed = true;
        }
        wob__order__free_unpacked (other, NULL);
    }
    free (ids);
    if (!rc && changed)
        rc = lifecycle_note (self, order, "rules", "rule absorb: took in the customer's "
                             "open orders of absorbed channels", err);
    if (!rc && changed)
        rc = store_target_put (self->store, order, err);            //  its offers grew
    return rc;
}

//  The fallback order: same customer and wave, the auxiliary channel.
static int
s_transfer (broker_t *self, Wob__Order *from, char *err)
{
    Wob__Order order = WOB__ORDER__INIT;
    order.id = from->transferred_to;
    order.wave = from->wave;
    order.campaign = from->campaign;
    order.wave_seq = from->wave_seq;
    order.target = from->target;
    order.channel = from->fallback;
    order.fallback = "";
    order.transferred_from = from->id;
    rules_verdict_t verdict;
    int rc = rules_transfer (self, &order, &verdict, err);
    if (rc)
        return rc;
    char reason [480];
    snprintf (reason, sizeof (reason), "rule fallback: from order %" PRIu64 " (%s, outcome %s)%s%s%s",
              from->id, from->channel, wob_outcome_name (from->outcome),
              verdict.rule? "; rule ": "", verdict.rule? verdict.rule: "",
              verdict.rule? verdict.reason: "");
    if (verdict.rule)
        rules_count_verdict (self, order.wave_seq, &verdict);
    rules_count (self, order.wave_seq, "transferred", "fallback");
    rc = lifecycle_create (self, &order, verdict.to, "rules", reason, err);
    wob_str_free (&order.held_key);     //  set when it was held
    if (!rc)
        rc = store_msisdn_add (self->store, order.target->msisdn, order.wave_seq, order.id,
                               false, err);
    if (!rc)
        rc = store_wave_order_add (self->store, order.wave_seq, order.id, err);
    return rc;
}

//  Cancels the customer's open orders for the same offer in other channels.
static int
s_collaborate (broker_t *self, Wob__Order *winner, char *err)
{
    uint64_t *ids;
    size_t count;
    if (s_customer_orders (self, winner->target->msisdn, &ids, &count, err))
        return WOB_ERR_STORE;
    int rc = 0;
    for (size_t i = 0; i < count && !rc; i++) {
        if (ids [i] == winner->id)
            continue;
        Wob__Order *other;
        if ((rc = store_order_get (self->store, ids [i], &other, err)))
            break;
        if (!lifecycle_is_final (other->state) && !streq (other->channel, winner->channel)
        &&  other->target && s_shares_offer (other, winner)) {
            char reason [300];
            snprintf (reason, sizeof (reason), "rule collaboration: %s on %s in order %" PRIu64
                      " (wave %s)", wob_outcome_name (winner->outcome), winner->channel,
                      winner->id, winner->wave);
            if (other->state == WOB__STATE__STATE_DISPATCHED)
                leases_forget (self, other);
            other->cancelled_by = winner->id;
            rules_count (self, other->wave_seq, "cancelled", "collaboration");
            rc = lifecycle_move (self, other, WOB__STATE__STATE_CANCELLED, "rules", reason, err);
        }
        wob__order__free_unpacked (other, NULL);
    }
    free (ids);
    return rc;
}

//  Passes the survivor's outcome to the orders merged into it, per offer
//  when the report gives one.
static int
s_merged_outcomes (broker_t *self, Wob__Order *survivor, Wob__OutcomeItem *item, char *err)
{
    int rc = 0;
    for (size_t i = 0; i < survivor->n_merged_from && !rc; i++) {
        Wob__Order *merged;
        if ((rc = store_order_get (self->store, survivor->merged_from [i], &merged, err)))
            break;
        int outcome = item->outcome;
        for (size_t k = 0; k < item->n_offers; k++)
            if (merged->target->n_offers && streq (item->offers [k]->offer, merged->target->offers [0]))
                outcome = item->offers [k]->outcome;
        merged->outcome = outcome;
        merged->outcome_attempt = item->attempt;
        wob_str_set (&merged->outcome_worker, survivor->outcome_worker);
        lifecycle_count_outcome (self, merged, outcome);
        char note [200];
        snprintf (note, sizeof (note), "outcome %s for offer %s, reported on order %" PRIu64,
                  wob_outcome_name (outcome), merged->target->n_offers? merged->target->offers [0]: "",
                  survivor->id);
        rc = lifecycle_note (self, merged, survivor->outcome_worker, note, err);
        wob__order__free_unpacked (merged, NULL);
    }
    return rc;
}

int
coordinate_after_outcome (broker_t *self, Wob__Order *order, Wob__OutcomeItem *item, char *err)
{
    int rc = 0;
    if (order->state == WOB__STATE__STATE_TRANSFERRED)
        rc = s_transfer (self, order, err);
    if (!rc && order->n_merged_from && lifecycle_is_final (order->state))
        rc = s_merged_outcomes (self, order, item, err);
    if (!rc && item->outcome > 0 && item->outcome < 32
    &&  (self->rules->success_outcomes & (1u << item->outcome)))
        rc = s_collaborate (self, order, err);
    return rc;
}
