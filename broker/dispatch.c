/*  dispatch.c - which queued order goes to which worker, and when.

    Each turn of the loop, every channel's workers with free credit are
    given orders, in two passes:
      1. owned work: workers that own routes (number ranges, regions, their
         personal route for call-backs; routes.c) with queued orders take
         the best of them: higher priority, then older;
      2. shared work: the channel's shared run (strategy "even", and orders
         spilled by their owners) goes to the least-loaded worker
         (outstanding / capacity; ties to the one given least per unit of
         capacity this session, so shares follow capacity over time), a
         few orders at a time (a quarter of its credit, at most 16: one
         lease message, not one per order).  The
         workers of a channel sit in a binary heap on that key, updated as
         leases are granted and end: choosing a worker is O(log workers).
    Heads are read from the store's ready-queue runs, one per (channel,
    route, wave), so a paused or still-loading wave costs nothing.  The
    leases travel after the commit (workers_flush).

    Also here: timers that bring deferred, retrying and call-back orders
    back to the queue when they are due, and held orders that spill to
    any worker of the channel after the rule file's delay.

    Throttling (rule file): a token bucket per channel and one per worker,
    refilled at the configured rate with a burst of a tenth of a second;
    a lease spends one token from each.                                   */

#include "broker.h"

#define QUANTUM 16              //  most orders a worker takes in a row (shared run)

static void
s_ready_add (broker_t *self, uint8_t channel, wave_t *wave)
{
    if (self->n_ready [channel] == self->ready_cap [channel]) {
        self->ready_cap [channel] = self->ready_cap [channel] * 2 + 16;
        self->ready [channel] = realloc (self->ready [channel],
                                         self->ready_cap [channel] * sizeof (wave_t *));
    }
    self->ready [channel][self->n_ready [channel]++] = wave;
}

//  The ready lists again from the open waves (after the open set changed).
static void
s_ready_rebuild (broker_t *self)
{
    size_t n_open;
    wave_t **open = broker_open_waves (self, &n_open);
    for (uint8_t c = 0; c < BROKER_MAX_CHANNELS; c++) {
        self->n_ready [c] = 0;
        for (size_t i = 0; i < n_open; i++)
            if (open [i]->may_have_queued [c])
                s_ready_add (self, c, open [i]);
    }
    self->ready_stale = false;
}

void
dispatch_wave_dequeued (wave_t *wave, uint8_t channel)
{
    wave->head_known [channel] = false;
}

void
dispatch_wave_queued (broker_t *self, wave_t *wave, uint8_t channel)
{
    wave->head_known [channel] = false;
    if (!wave->may_have_queued [channel]) {
        wave->may_have_queued [channel] = true;
        if (!self->ready_stale && wave->wave->state == WOB__WAVE_STATE__WAVE_OPEN)
            s_ready_add (self, channel, wave);
    }
}

//  Best head of the channel's shared run among its open waves; 0 when
//  nothing is ready.  Only the waves whose run may hold orders are
//  looked at: waves stay open after their orders are dispatched, and
//  every pick walking hundreds of them showed in the profile.
static int
s_best_head (broker_t *self, uint8_t channel, uint64_t *id_p, char *err)
{
    uint64_t best_id = 0;
    int best_priority = -1;
    if (self->ready_stale)
        s_ready_rebuild (self);
    wave_t **ready = self->ready [channel];
    size_t i = 0;
    while (i < self->n_ready [channel]) {
        wave_t *wave = ready [i];
        Wob__Wave *w = wave->wave;
        if (!wave->head_known [channel]) {
            int rc = store_queue_head (self->store, channel, 0, w->seq,
                                       &wave->head_priority [channel], &wave->head_id [channel],
                                       err);
            if (rc == WOB_ERR_NOT_FOUND) {
                wave->may_have_queued [channel] = false;
                ready [i] = ready [--self->n_ready [channel]];
                continue;
            }
            if (rc)
                return rc;
            wave->head_known [channel] = true;
        }
        uint8_t priority = wave->head_priority [channel];
        uint64_t id = wave->head_id [channel];
        if (priority > best_priority || (priority == best_priority && id < best_id)) {
            best_priority = priority;
            best_id = id;
        }
        i++;
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

//  --- The heap of a channel's workers ---------------------------------

//  Is a less loaded than b?  outstanding / capacity, then assigned /
//  capacity, compared without division.
static bool
s_lighter (worker_t *a, worker_t *b)
{
    uint64_t la = (uint64_t) a->outstanding * b->capacity;
    uint64_t lb = (uint64_t) b->outstanding * a->capacity;
    if (la != lb)
        return la < lb;
    //  Products of up to 2^47 and 2^17: no overflow
    return a->assigned * b->capacity < b->assigned * a->capacity;
}

static void
s_heap_set (channel_t *channel, size_t index, worker_t *worker)
{
    channel->heap [index] = worker;
    worker->heap_index = index;
}

static void
s_heap_up (channel_t *channel, size_t index)
{
    worker_t *worker = channel->heap [index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (!s_lighter (worker, channel->heap [parent]))
            break;
        s_heap_set (channel, index, channel->heap [parent]);
        index = parent;
    }
    s_heap_set (channel, index, worker);
}

static void
s_heap_down (channel_t *channel, size_t index)
{
    worker_t *worker = channel->heap [index];
    for (;;) {
        size_t child = 2 * index + 1;
        if (child >= channel->n_heap)
            break;
        if (child + 1 < channel->n_heap
        &&  s_lighter (channel->heap [child + 1], channel->heap [child]))
            child++;
        if (!s_lighter (channel->heap [child], worker))
            break;
        s_heap_set (channel, index, channel->heap [child]);
        index = child;
    }
    s_heap_set (channel, index, worker);
}

void
dispatch_worker_add (broker_t *self, worker_t *worker)
{
    channel_t *channel = &self->channels [worker->channel];
    if (channel->n_heap == channel->heap_cap) {
        channel->heap_cap = channel->heap_cap? channel->heap_cap * 2: 16;
        channel->heap = realloc (channel->heap, channel->heap_cap * sizeof (worker_t *));
    }
    s_heap_set (channel, channel->n_heap++, worker);
    s_heap_up (channel, worker->heap_index);
}

void
dispatch_worker_remove (broker_t *self, worker_t *worker)
{
    channel_t *channel = &self->channels [worker->channel];
    size_t index = worker->heap_index;
    if (index >= channel->n_heap || channel->heap [index] != worker)
        return;
    worker_t *last = channel->heap [--channel->n_heap];
    if (last != worker) {
        s_heap_set (channel, index, last);
        s_heap_up (channel, index);
        s_heap_down (channel, last->heap_index);
    }
}

void
dispatch_worker_changed (broker_t *self, worker_t *worker)
{
    channel_t *channel = &self->channels [worker->channel];
    size_t index = worker->heap_index;
    if (index >= channel->n_heap || channel->heap [index] != worker)
        return;
    s_heap_up (channel, index);
    s_heap_down (channel, worker->heap_index);
}

//  --- Leasing ---------------------------------------------------------

typedef struct {
    uint8_t channel;            //  channel id
    double channel_rate;        //  throttle, per second (0: none)
    double worker_rate;
    uint32_t *budget;           //  leases left in this turn
} s_pass_t;

//  Leases order `id` to worker after the rules' last look.  *leased says
//  whether it went; an order the rules stop is moved as they say.
static int
s_lease (broker_t *self, s_pass_t *pass, worker_t *worker, uint64_t id, bool *leased,
         char *err)
{
    *leased = false;
    Wob__Order *order;
    if (store_order_get (self->store, id, &order, err))
        return WOB_ERR_STORE;
    //  Out of leases or out of time for this turn: this one is the last
    (*pass->budget)--;
    if (broker_turn_over (self))
        *pass->budget = 0;
    //  Last look before contact: suppressed since intake, a cap reached by
    //  another campaign, quiet hours begun.
    rules_verdict_t verdict;
    int rc = rules_dispatch (self, order, &verdict, err);
    if (!rc && verdict.to != WOB__STATE__STATE_DISPATCHED) {
        rc = rules_apply (self, order, &verdict, err);
        wob__order__free_unpacked (order, NULL);
        return rc;
    }
    if (rc) {
        wob__order__free_unpacked (order, NULL);
        return rc;
    }
    self->channels [pass->channel].bucket.tokens -= pass->channel_rate > 0;
    worker->bucket.tokens -= pass->worker_rate > 0;
    *leased = true;
    return leases_grant (self, worker, order, err);    //  takes order
}

//  Pass 1: owners take the queued orders of their routes.
static int
s_owned_pass (broker_t *self, s_pass_t *pass, char *err)
{
    size_t count;
    worker_t **workers = routes_candidates (self, pass->channel, &count);
    for (size_t i = 0; i < count && *pass->budget; i++) {
        worker_t *worker = workers [i];
        while (*pass->budget && worker->outstanding < worker->capacity
           &&  s_has_token (&self->channels [pass->channel].bucket, pass->channel_rate, self->now)
           &&  s_has_token (&worker->bucket, pass->worker_rate, self->now)) {
            uint64_t id;
            bool leased;
            if (routes_best_head (self, worker, &id, err))
                return WOB_ERR_STORE;
            if (!id)
                break;
            if (s_lease (self, pass, worker, id, &leased, err))
                return WOB_ERR_STORE;
        }
    }
    return 0;
}

//  Pass 2: the shared run to the least-loaded workers.  Workers out of
//  throttle tokens step aside until the end of the pass.
static int
s_shared_pass (broker_t *self, s_pass_t *pass, char *err)
{
    channel_t *channel = &self->channels [pass->channel];
    worker_t *aside [64];
    size_t n_aside = 0;
    int rc = 0;
    while (*pass->budget && channel->n_heap
       &&  s_has_token (&channel->bucket, pass->channel_rate, self->now)) {
        worker_t *worker = channel->heap [0];
        if (worker->outstanding >= worker->capacity)
            break;                  //  the least loaded is full: all are
        if (!s_has_token (&worker->bucket, pass->worker_rate, self->now)) {
            if (n_aside == sizeof (aside) / sizeof (aside [0]))
                break;
            dispatch_worker_remove (self, worker);
            aside [n_aside++] = worker;
            continue;
        }
        //  The worker chosen takes a few orders at once (a quarter of its
        //  credit, at most QUANTUM): they travel in one message.  One at a
        //  time, thousands of workers sharing a queue made every order a
        //  message of its own.  Shares still follow capacity.
        uint32_t quantum = worker->capacity / 4;
        quantum = quantum < 1? 1: quantum > QUANTUM? QUANTUM: quantum;
        bool empty = false;
        for (uint32_t q = 0; q < quantum && !rc && *pass->budget
                          && worker->outstanding < worker->capacity; q++) {
            if (q && (!s_has_token (&channel->bucket, pass->channel_rate, self->now)
                  ||  !s_has_token (&worker->bucket, pass->worker_rate, self->now)))
                break;
            uint64_t id;
            bool leased;
            if ((rc = s_best_head (self, pass->channel, &id, err)) || (empty = !id))
                break;
            rc = s_lease (self, pass, worker, id, &leased, err);
        }
        if (rc || empty)
            break;
    }
    for (size_t i = 0; i < n_aside; i++)
        dispatch_worker_add (self, aside [i]);
    return rc;
}

int
dispatch_run (broker_t *self, char *err)
{
    uint32_t budget = self->config.dispatch_batch;
    for (uint8_t c = 1; c < BROKER_MAX_CHANNELS && budget; c++) {
        if (!self->channels [c].name || !self->channels [c].n_heap)
            continue;
        const rule_throttle_t *throttle = rulebook_throttle (self->rules, self->channels [c].name);
        s_pass_t pass = { c, throttle? throttle->per_second: 0,
                          throttle? throttle->per_worker_per_second: 0, &budget };
        if (s_owned_pass (self, &pass, err) || s_shared_pass (self, &pass, err))
            return WOB_ERR_STORE;
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
        bool held = order->state == WOB__STATE__STATE_HELD;
        char reason [200];
        snprintf (reason, sizeof (reason), "%s",
                  order->state == WOB__STATE__STATE_RETRY? "retry back-off over":
                  held? "spilled to any worker of the channel: held too long":
                  order->callback_at_ms? "call-back time reached": "time window open");
        if ((order->state != WOB__STATE__STATE_DEFERRED && order->state != WOB__STATE__STATE_RETRY
        &&  !held) || order->not_before_ms != dues [i])
            rc = store_timer_del (self->store, dues [i], ids [i], err);     //  stale
        else {
            order->spilled = order->spilled || held;
            rc = lifecycle_move (self, order, WOB__STATE__STATE_QUEUED, "broker", reason, err);
        }
        wob__order__free_unpacked (order, NULL);
        if (rc)
            return rc;
    }
    return count == BATCH? 1: 0;
}
