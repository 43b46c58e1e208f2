/*  lifecycle.c - the one place where an order changes state.

    Every transition of SPEC §3 goes through lifecycle_move, which keeps the
    three things that must agree in the same transaction: the order record,
    the index that makes its state actionable (ready queue, timer, lease),
    and the wave's running counts; and appends the history entry that lets a
    supervisor answer "why did this customer get (or not get) this contact".
    Nothing else in the broker writes an order's state.                    */

#include "broker.h"

bool
lifecycle_is_final (int state)
{
    return state == WOB__STATE__STATE_DONE || state == WOB__STATE__STATE_FILTERED
        || state == WOB__STATE__STATE_MERGED || state == WOB__STATE__STATE_TRANSFERRED
        || state == WOB__STATE__STATE_EXPIRED || state == WOB__STATE__STATE_CANCELLED
        || state == WOB__STATE__STATE_FAILED || state == WOB__STATE__STATE_CONTROL;
}

static uint8_t
s_priority (Wob__Order *order)
{
    int p = order->target? order->target->priority: 0;
    return (uint8_t) (p < 0? 0: p > 255? 255: p);
}

static int
s_channel (broker_t *self, Wob__Order *order, uint8_t *id, char *err)
{
    channel_t *channel = broker_channel (self, order->channel);
    if (!channel)
        return wob_fail (err, WOB_ERR_INVALID, "order %" PRIu64 ": channel '%s' is not configured",
                         order->id, order->channel);
    *id = channel->id;
    return 0;
}

//  Held orders by reason in the wave's counts ("held/no_range_owner"):
//  how many are held now, not how many ever were.
static void
s_count_held (broker_t *self, Wob__Order *order, int delta)
{
    routes_count_held (self, order, delta);
    wave_t *wave = broker_wave_by_seq (self, order->wave_seq);
    if (!wave)
        return;
    char key [64];
    snprintf (key, sizeof (key), "held/%s", routes_held_reason (order->hold_kind));
    uint64_t *count = broker_wave_count (wave, key);
    if (delta > 0 || *count > 0)
        *count += delta;
    wave->counts_dirty = true;
    broker_wave_dirty (self, wave);
}

//  Removes the order from the index of the state it leaves.
static int
s_leave (broker_t *self, Wob__Order *order, char *err)
{
    uint8_t channel = 0;
    switch (order->state) {
        case WOB__STATE__STATE_QUEUED: {
            if (s_channel (self, order, &channel, err))
                return WOB_ERR_INVALID;
            wave_t *wave = order->route? NULL: broker_wave_by_seq (self, order->wave_seq);
            if (wave)
                dispatch_wave_dequeued (wave, channel);
            return store_queue_del (self->store, channel, order->route, order->wave_seq,
                                    s_priority (order), order->id, err);
        }
        case WOB__STATE__STATE_HELD: {
            if (s_channel (self, order, &channel, err))
                return WOB_ERR_INVALID;
            int rc = store_held_del (self->store, channel, (uint8_t) order->hold_kind,
                                     order->held_key, order->id, err);
            if (!rc && order->not_before_ms)
                rc = store_timer_del (self->store, order->not_before_ms, order->id, err);
            if (!rc)
                s_count_held (self, order, -1);
            return rc;
        }
        case WOB__STATE__STATE_DEFERRED:
        case WOB__STATE__STATE_RETRY:
            return store_timer_del (self->store, order->not_before_ms, order->id, err);
        case WOB__STATE__STATE_DISPATCHED:
            return store_lease_del (self->store, order->id, err);
        default:
            return 0;
    }
}

//  Adds the order to the index of the state it enters.
static int
s_enter (broker_t *self, Wob__Order *order, char *err)
{
    uint8_t channel = 0;
    switch (order->state) {
        case WOB__STATE__STATE_QUEUED: {
            if (s_channel (self, order, &channel, err))
                return WOB_ERR_INVALID;
            wave_t *wave = order->route? NULL: broker_wave_by_seq (self, order->wave_seq);
            if (wave)
                dispatch_wave_queued (self, wave, channel);
            return store_queue_put (self->store, channel, order->route, order->wave_seq,
                                    s_priority (order), order->id, err);
        }
        case WOB__STATE__STATE_HELD: {
            if (s_channel (self, order, &channel, err))
                return WOB_ERR_INVALID;
            //  Orphans spill to any worker after a while if the rules say so;
            //  a call-back kept for an absent agent does too, but not an
            //  appointment kept for an account manager (keep_leases: visit),
            //  who is away most of the time
            const rule_distribution_t *dist =
                rulebook_distribution (self->rules, order->channel);
            bool spill = dist->spill
                      || (order->hold_kind == 'w' && !self->channels [channel].keep_leases);
            order->not_before_ms = spill? self->now + dist->spill_after_ms: 0;
            int rc = store_held_put (self->store, channel, (uint8_t) order->hold_kind,
                                     order->held_key, order->id, err);
            if (!rc && order->not_before_ms)
                rc = store_timer_put (self->store, order->not_before_ms, order->id, err);
            if (!rc)
                s_count_held (self, order, +1);
            return rc;
        }
        case WOB__STATE__STATE_DEFERRED:
        case WOB__STATE__STATE_RETRY:
            return store_timer_put (self->store, order->not_before_ms, order->id, err);
        case WOB__STATE__STATE_DISPATCHED:
            return store_lease_put (self->store, order->id, err);
        default:
            return 0;
    }
}

static int
s_history (broker_t *self, Wob__Order *order, int from, int to, const char *actor,
           const char *reason, char *err)
{
    Wob__HistoryEntry entry = WOB__HISTORY_ENTRY__INIT;
    entry.at_ms = self->now;
    entry.from = from;
    entry.to = to;
    entry.actor = (char *) actor;
    entry.reason = (char *) reason;
    return store_history_put (self->store, order, &entry, err);
}

//  The order's channel slot in the wave counts (0: no channel).
static int
s_slot (broker_t *self, Wob__Order *order)
{
    channel_t *channel = broker_channel (self, order->channel);
    return channel? channel->id: 0;
}

static void
s_count (broker_t *self, Wob__Order *order, int from, int to)
{
    wave_t *wave = broker_wave_by_seq (self, order->wave_seq);
    if (!wave)
        return;
    store_stats_t *st = &wave->stats;
    int c = s_slot (self, order);
    if (from > 0 && from < 16 && st->by_state [from] > 0)
        st->by_state [from]--;
    if (from > 0 && from < 16 && st->channel_state [c][from] > 0)
        st->channel_state [c][from]--;
    if (to > 0 && to < 16) {
        st->by_state [to]++;
        st->channel_state [c][to]++;
    }
    wave->stats_dirty = true;
    broker_wave_dirty (self, wave);
    tally_state (self, order, from, to);
}

//  An order about to enter the queue is placed on its owner's route, or
//  held when it has no connected owner: *to and the reason say which.
static int
s_place (broker_t *self, Wob__Order *order, Wob__State *to, const char **reason,
         char *buffer, size_t size, char *err)
{
    if (*to != WOB__STATE__STATE_QUEUED)
        return 0;
    uint8_t channel = 0;
    if (s_channel (self, order, &channel, err))
        return WOB_ERR_INVALID;
    bool held;
    char why [200];
    if (routes_place (self, order, channel, &held, why, sizeof (why), err))
        return WOB_ERR_STORE;
    if (held) {
        *to = WOB__STATE__STATE_HELD;
        snprintf (buffer, size, "%s; held: %s", *reason, why);
        *reason = buffer;
    }
    return 0;
}

int
lifecycle_create (broker_t *self, Wob__Order *order, Wob__State to, const char *actor,
                  const char *reason, char *err)
{
    char buffer [512];
    if (s_place (self, order, &to, &reason, buffer, sizeof (buffer), err))
        return WOB_ERR_STORE;
    order->state = to;
    order->created_ms = order->updated_ms = self->now;
    order->history_len = 0;
    order->history_last = 0;
    int rc = s_enter (self, order, err);
    if (!rc)
        rc = s_history (self, order, WOB__STATE__STATE_RECEIVED, to, actor, reason, err);
    if (!rc)
        rc = store_order_put (self->store, order, err);
    if (!rc)
        rc = store_target_put (self->store, order, err);
    if (!rc) {
        s_count (self, order, 0, to);
        wave_t *wave = broker_wave_by_seq (self, order->wave_seq);
        channel_t *channel = broker_channel (self, order->channel);
        if (wave && channel)
            wave->stats.by_channel [channel->id]++;
    }
    return rc;
}

int
lifecycle_move (broker_t *self, Wob__Order *order, Wob__State to, const char *actor,
                const char *reason, char *err)
{
    int from = order->state;
    //  A finished order never moves again: that is what makes "never
    //  dispatched twice" hold whatever the callers do.
    if (lifecycle_is_final (from))
        return wob_fail (err, WOB_ERR_INVALID, "order %" PRIu64 " is already %s",
                         order->id, wob_state_name (from));
    int rc = s_leave (self, order, err);
    char buffer [512];
    if (!rc)
        rc = s_place (self, order, &to, &reason, buffer, sizeof (buffer), err);
    if (rc)
        return rc;
    order->state = to;
    order->updated_ms = self->now;
    rc = s_enter (self, order, err);
    if (!rc)
        rc = s_history (self, order, from, to, actor, reason, err);
    if (!rc)
        rc = store_order_put (self->store, order, err);
    if (!rc)
        s_count (self, order, from, to);
    return rc;
}

void
lifecycle_count_outcome (broker_t *self, Wob__Order *order, int outcome)
{
    wave_t *wave = broker_wave_by_seq (self, order->wave_seq);
    if (wave && outcome > 0 && outcome < 16) {
        wave->stats.by_outcome [outcome]++;
        wave->stats.channel_outcome [s_slot (self, order)][outcome]++;
        wave->stats_dirty = true;
        broker_wave_dirty (self, wave);
        tally_outcome (self, order, outcome);
    }
}

void
lifecycle_count_contact (broker_t *self, Wob__Order *order)
{
    wave_t *wave = broker_wave_by_seq (self, order->wave_seq);
    if (wave) {
        wave->stats.contacted [s_slot (self, order)]++;
        wave->stats_dirty = true;
        broker_wave_dirty (self, wave);
        tally_contact (self, order);
    }
}

int
lifecycle_note (broker_t *self, Wob__Order *order, const char *actor, const char *reason,
                char *err)
{
    order->updated_ms = self->now;
    int rc = s_history (self, order, order->state, order->state, actor, reason, err);
    if (!rc)
        rc = store_order_put (self->store, order, err);
    return rc;
}
