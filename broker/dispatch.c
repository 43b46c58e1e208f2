/*  dispatch.c - which queued order goes to which worker, and when.

    Each turn of the loop, every channel's workers with free credit are
    given orders: the least-loaded worker (outstanding / capacity) first,
    the best head of the channel's open waves (higher priority, then older)
    each time.  Heads are read from the store's ready-queue runs, one per
    (channel, wave), so a paused or still-loading wave costs nothing.  The
    leases travel after the commit (workers_flush).

    Also here: timers that bring deferred, retrying and call-back orders
    back to the queue when they are due.

    Throttling (rule file): a token bucket per channel and one per worker,
    refilled at the configured rate with a burst of a tenth of a second;
    a lease spends one token from each.

    Choosing a worker is a scan over the channel's workers; issue 4
    (distribution strategies) replaces it with ownership indexes.        */

#include "broker.h"

//  Best head among the channel's open waves; 0 when nothing is ready.
static int
s_best_head (broker_t *self, uint8_t channel, uint64_t *id_p, char *err)
{
    uint64_t best_id = 0;
    int best_priority = -1;
    for (wave_t *wave = zhashx_first (self->waves); wave; wave = zhashx_next (self->waves)) {
        Wob__Wave *w = wave->wave;
        if (w->state != WOB__WAVE_STATE__WAVE_OPEN || !wave->may_have_queued [channel])
            continue;
        uint8_t priority;
        uint64_t id;
        int rc = store_queue_head (self->store, channel, w->seq, &priority, &id, err);
        if (rc == WOB_ERR_NOT_FOUND) {
            wave->may_have_queued [channel] = false;
            continue;
        }
        if (rc)
            return rc;
        if (priority > best_priority || (priority == best_priority && id < best_id)) {
            best_priority = priority;
            best_id = id;
        }
    }
    *id_p = best_id;
    return 0;
}

//  Refills a bucket for rate per second (0 = unlimited); true if a token
//  is there to spend.
static bool
s_has_token (bucket_t *bucket, double rate, int64_t now)
{
    if (rate <= 0)
        return true;
    double burst = rate / 10 > 1? rate / 10: 1;
    if (bucket->last_ms == 0)
        bucket->tokens = burst;
    else
    if (now > bucket->last_ms)
        bucket->tokens += (double) (now - bucket->last_ms) * rate / 1000;
    if (bucket->tokens > burst)
        bucket->tokens = burst;
    bucket->last_ms = now;
    return bucket->tokens >= 1;
}

//  Least loaded worker of the channel with free credit (and tokens), or NULL.
static worker_t *
s_pick_worker (worker_t **workers, size_t count, double worker_rate, int64_t now)
{
    worker_t *best = NULL;
    for (size_t i = 0; i < count; i++) {
        worker_t *w = workers [i];
        if (w->outstanding >= w->capacity || !s_has_token (&w->bucket, worker_rate, now))
            continue;
        //  Compare outstanding / capacity without division.
        if (!best || (uint64_t) w->outstanding * best->capacity
                   < (uint64_t) best->outstanding * w->capacity)
            best = w;
    }
    return best;
}

int
dispatch_run (broker_t *self, char *err)
{
    uint32_t budget = self->config.dispatch_batch;
    for (uint8_t c = 1; c < BROKER_MAX_CHANNELS && budget; c++) {
        if (!self->channels [c].name)
            continue;
        size_t count;
        worker_t **workers = workers_of_channel (self->workers, c, &count);
        const rule_throttle_t *throttle = rulebook_throttle (self->rules, self->channels [c].name);
        double channel_rate = throttle? throttle->per_second: 0;
        double worker_rate = throttle? throttle->per_worker_per_second: 0;
        while (budget) {
            if (!s_has_token (&self->channels [c].bucket, channel_rate, self->now))
                break;
            worker_t *worker = s_pick_worker (workers, count, worker_rate, self->now);
            if (!worker)
                break;
            uint64_t id;
            if (s_best_head (self, c, &id, err))
                return WOB_ERR_STORE;
            if (!id)
                break;
            Wob__Order *order;
            if (store_order_get (self->store, id, &order, err))
                return WOB_ERR_STORE;
            budget--;
            //  Last look before contact: suppressed since intake, a cap
            //  reached by another campaign, quiet hours begun.
            rules_verdict_t verdict;
            int rc = rules_dispatch (self, order, &verdict, err);
            if (!rc && verdict.to != WOB__STATE__STATE_DISPATCHED) {
                rc = rules_apply (self, order, &verdict, err);
                wob__order__free_unpacked (order, NULL);
                if (rc)
                    return rc;
                continue;
            }
            if (!rc) {
                self->channels [c].bucket.tokens -= channel_rate > 0;
                worker->bucket.tokens -= worker_rate > 0;
                rc = leases_grant (self, worker, order, err);   //  takes order
            }
            else
                wob__order__free_unpacked (order, NULL);
            if (rc)
                return rc;
        }
    }
    return budget? 0: 1;        //  1: budget used up, more may be ready
}

int
dispatch_timers (broker_t *self, char *err)
{
    enum { BATCH = 1000 };
    uint64_t ids [BATCH];
    int64_t dues [BATCH];
    size_t count;
    if (store_timer_due (self->store, self->now, ids, dues, BATCH, &count, err))
        return WOB_ERR_STORE;
    for (size_t i = 0; i < count; i++) {
        Wob__Order *order;
        int rc = store_order_get (self->store, ids [i], &order, err);
        if (rc == WOB_ERR_NOT_FOUND) {
            store_timer_del (self->store, dues [i], ids [i], err);
            continue;
        }
        if (rc)
            return rc;
        const char *reason = order->state == WOB__STATE__STATE_RETRY? "retry back-off over":
                             order->callback_at_ms? "call-back time reached":
                             "time window open";
        if (order->state != WOB__STATE__STATE_DEFERRED && order->state != WOB__STATE__STATE_RETRY)
            rc = store_timer_del (self->store, dues [i], ids [i], err);     //  stale
        else
            rc = lifecycle_move (self, order, WOB__STATE__STATE_QUEUED, "broker", reason, err);
        wob__order__free_unpacked (order, NULL);
        if (rc)
            return rc;
    }
    return count == BATCH? 1: 0;
}
