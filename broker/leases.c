/*  leases.c - orders in a worker's hands.

    An order is leased to exactly one worker until a deadline.  The lease
    table here is the in-memory view of the store's lease index (bounded by
    the workers' total capacity, never by the number of stored orders); it is
    rebuilt from the store at start-up and after a failed group.  Outcome
    reports are checked against it: the same report twice is a no-op, a
    conflicting one or one from a worker that does not hold the order is
    refused, and a retryable failure goes back with exponential back-off and
    jitter until the channel's attempt limit.                             */

#include "broker.h"
#include <stdarg.h>

typedef struct {
    uint64_t id;                //  order id
    char *worker;               //  holder's name
    int64_t deadline;           //  epoch ms
    uint32_t attempt;           //  the order's attempt number
    bool kept;                  //  its channel keeps leases of absent workers
} lease_t;

struct _leases_t {
    zhashx_t *table;            //  order id -> lease_t
};

static void
s_lease_destroy (void **item_p)
{
    lease_t *lease = *item_p;
    if (lease) {
        free (lease->worker);
        free (lease);
        *item_p = NULL;
    }
}

leases_t *
leases_new (void)
{
    leases_t *self = calloc (1, sizeof (leases_t));
    self->table = wob_idmap_new (s_lease_destroy);
    return self;
}

void
leases_destroy (leases_t **self_p)
{
    if (self_p && *self_p) {
        zhashx_destroy (&(*self_p)->table);
        free (*self_p);
        *self_p = NULL;
    }
}

#define S_KEY(id) WOB_ID_KEY (id)

static void
s_add (leases_t *self, uint64_t id, const char *worker, int64_t deadline, uint32_t attempt,
       bool kept)
{
    lease_t *lease = calloc (1, sizeof (lease_t));
    lease->id = id;
    lease->worker = strdup (worker);
    lease->deadline = deadline;
    lease->attempt = attempt;
    lease->kept = kept;
    zhashx_update (self->table, S_KEY (id), lease);
}

static int
s_load_one (void *arg, uint64_t id)
{
    broker_t *self = arg;
    Wob__Order *order;
    char err [WOB_ERRLEN];
    if (store_order_get (self->store, id, &order, err) == 0) {
        channel_t *channel = broker_channel (self, order->channel);
        s_add (self->leases, id, order->worker, order->lease_deadline_ms, order->attempts,
               channel && channel->keep_leases);
        wob__order__free_unpacked (order, NULL);
    }
    return 0;
}

int
leases_load (broker_t *self, char *err)
{
    zhashx_purge (self->leases->table);
    return store_lease_each (self->store, s_load_one, self, err);
}

size_t
leases_count (leases_t *self)
{
    return zhashx_size (self->table);
}

uint32_t
leases_held_by (leases_t *self, const char *worker_name)
{
    uint32_t count = 0;
    for (lease_t *lease = zhashx_first (self->table); lease; lease = zhashx_next (self->table))
        if (streq (lease->worker, worker_name))
            count++;
    return count;
}

bool
leases_holds (leases_t *self, uint64_t order_id, const char *worker_name)
{
    lease_t *lease = zhashx_lookup (self->table, S_KEY (order_id));
    return lease && streq (lease->worker, worker_name);
}

int
leases_grant (broker_t *self, worker_t *worker, Wob__Order *order, char *err)
{
    channel_t *channel = &self->channels [worker->channel];
    wob_str_set (&order->worker, worker->name);
    order->attempts++;
    if (order->attempts == 1)
        order->contacted_ms = self->now;    //  what frequency caps count
    order->lease_deadline_ms = self->now + channel->lease_ms;
    //  "leased to W until T (attempt N)", built by hand: every lease
    //  writes one, and printf's parsing showed in the profile
    char reason [160], when [32];
    size_t len = 0;
    wob_append (reason, sizeof (reason), &len, "leased to ");
    wob_append (reason, sizeof (reason), &len, worker->name);
    wob_append (reason, sizeof (reason), &len, " until ");
    wob_append (reason, sizeof (reason), &len,
                wob_format_time (order->lease_deadline_ms, when, sizeof (when)));
    wob_append (reason, sizeof (reason), &len, " (attempt ");
    wob_append_u64 (reason, sizeof (reason), &len, order->attempts);
    wob_append (reason, sizeof (reason), &len, ")");
    int rc = lifecycle_move (self, order, WOB__STATE__STATE_DISPATCHED, "dispatch", reason, err);
    if (!rc && order->attempts == 1)
        lifecycle_count_contact (self, order);  //  retries of one order are one contact
    if (rc) {
        wob__order__free_unpacked (order, NULL);
        return rc;
    }
    s_add (self->leases, order->id, worker->name, order->lease_deadline_ms, order->attempts,
           channel->keep_leases);
    worker->outstanding++;
    worker->assigned++;
    metrics_leased (self, worker->channel);         //  /metrics, /api/throughput
    dispatch_worker_changed (self, worker);
    //  The order travels to the worker after the commit.
    if (!worker->batch) {
        if (!(worker->batch = leasebatch_new ())) {
            wob__order__free_unpacked (order, NULL);
            return wob_fail (err, WOB_ERR_NOMEM, "out of memory queueing a lease");
        }
        workers_pending (self, worker);
    }
    wave_t *wave = broker_wave_by_seq (self, order->wave_seq);
    if (leasebatch_add (worker->batch, order, wave? wave->wave->sms_template: "",
                        wave? wave->wave->script: ""))      //  takes order
        return wob_fail (err, WOB_ERR_NOMEM, "out of memory queueing a lease");
    return 0;
}

//  Ends a lease without an outcome: back to the queue, or expired when the
//  wave's window has closed.
void
leases_forget (broker_t *self, Wob__Order *order)
{
    worker_t *worker = workers_by_name (self->workers, order->worker);
    if (worker && worker->outstanding > 0 && zhashx_lookup (self->leases->table, S_KEY (order->id))) {
        worker->outstanding--;
        dispatch_worker_changed (self, worker);
    }
    zhashx_delete (self->leases->table, S_KEY (order->id));
}

static int
s_return (broker_t *self, Wob__Order *order, const char *reason, char *err)
{
    leases_forget (self, order);
    int closed = control_closed (self, order->wave_seq);
    if (closed == WOB__STATE__STATE_EXPIRED)
        return lifecycle_move (self, order, WOB__STATE__STATE_EXPIRED, "broker",
                               "lease ended after the wave window closed", err);
    if (closed == WOB__STATE__STATE_CANCELLED)
        return lifecycle_move (self, order, WOB__STATE__STATE_CANCELLED, "broker",
                               "lease ended after the wave was cancelled", err);
    return lifecycle_move (self, order, WOB__STATE__STATE_QUEUED, "broker", reason, err);
}

static bool
s_kept (const uint64_t *keep, size_t n_keep, uint64_t id)
{
    for (size_t i = 0; i < n_keep; i++)
        if (keep [i] == id)
            return true;
    return false;
}

//  Returns the leases selected by (worker name, deadline, holder connected,
//  not in keep) to the queue.
static int
s_return_where (broker_t *self, const char *worker_name, bool orphans_only, bool expired_only,
                const uint64_t *keep, size_t n_keep, const char *why, char *err)
{
    size_t count = 0, cap = zhashx_size (self->leases->table);
    if (cap == 0)
        return 0;
    uint64_t *ids = malloc (cap * sizeof (uint64_t));
    for (lease_t *lease = zhashx_first (self->leases->table); lease;
         lease = zhashx_next (self->leases->table)) {
        if (worker_name && !streq (lease->worker, worker_name))
            continue;
        if (expired_only && lease->deadline > self->now)
            continue;
        //  Absent holders of visit orders keep them until the lease ends
        if (orphans_only && (lease->kept || workers_by_name (self->workers, lease->worker)))
            continue;
        if (s_kept (keep, n_keep, lease->id))
            continue;
        ids [count++] = lease->id;
    }
    int rc = 0;
    for (size_t i = 0; i < count && !rc; i++) {
        Wob__Order *order;
        rc = store_order_get (self->store, ids [i], &order, err);
        if (rc)
            break;
        char reason [200];
        snprintf (reason, sizeof (reason), "%s (holder %s, attempt %u)", why, order->worker,
                  order->attempts);
        rc = s_return (self, order, reason, err);
        if (!rc && expired_only)
            metrics_expired (self);                 //  wob_lease_expiries_total
        wob__order__free_unpacked (order, NULL);
    }
    free (ids);
    return rc;
}

int
leases_release_worker (broker_t *self, const char *worker_name, const char *reason, char *err)
{
    return s_return_where (self, worker_name, false, false, NULL, 0, reason, err);
}

int
leases_release_unclaimed (broker_t *self, const char *worker_name, const uint64_t *keep,
                          size_t n_keep, const char *reason, char *err)
{
    return s_return_where (self, worker_name, false, false, keep, n_keep, reason, err);
}

int
leases_expire (broker_t *self, char *err)
{
    int rc = s_return_where (self, NULL, false, true, NULL, 0, "lease expired", err);
    //  Leases of workers that never came back after a broker restart.
    if (!rc && self->now > self->started + self->config.restart_grace_ms)
        rc = s_return_where (self, NULL, true, false, NULL, 0, "holder not connected", err);
    return rc;
}

static uint32_t
s_backoff (broker_t *self, channel_t *channel, uint32_t attempt)
{
    uint64_t delay = channel->backoff_ms;
    for (uint32_t i = 1; i < attempt && delay < channel->backoff_max_ms; i++)
        delay *= 2;
    if (delay > channel->backoff_max_ms)
        delay = channel->backoff_max_ms;
    //  Full jitter on the upper half: spreads a burst of failures out.
    return (uint32_t) (delay / 2 + broker_random (self) % (delay / 2 + 1));
}

static Wob__ItemResult *
s_result (uint64_t id, int code, bool duplicate, const char *fmt, ...)
{
    Wob__ItemResult *result = calloc (1, sizeof (*result));
    wob__item_result__init (result);
    result->order_id = id;
    result->code = code;
    result->duplicate = duplicate;
    result->message = malloc (WOB_ERRLEN);
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (result->message, WOB_ERRLEN, fmt, ap);
    va_end (ap);
    return result;
}

//  Applies one outcome report; returns its result (never NULL).  A store
//  failure sets *failed.
static Wob__ItemResult *
s_outcome (broker_t *self, worker_t *worker, Wob__OutcomeItem *item, bool *failed, char *err)
{
    Wob__Order *order;
    int rc = store_order_get (self->store, item->order_id, &order, err);
    if (rc == WOB_ERR_NOT_FOUND)
        return s_result (item->order_id, WOB__ERROR_CODE__ERR_NOT_FOUND, false, "%s", err);
    if (rc) {
        *failed = true;
        return s_result (item->order_id, WOB__ERROR_CODE__ERR_STORE, false, "%s", err);
    }
    Wob__ItemResult *result = NULL;
    const char *outcome_name = wob_outcome_name (item->outcome);
    if (order->outcome != WOB__OUTCOME__OUTCOME_NONE && order->outcome_attempt == item->attempt
    &&  streq (order->outcome_worker, worker->name)) {
        if (order->outcome == item->outcome)
            result = s_result (order->id, WOB__ERROR_CODE__ERR_NONE, true,
                               "order %" PRIu64 " attempt %u: %s already recorded", order->id,
                               item->attempt, outcome_name);
        else
            result = s_result (order->id, WOB__ERROR_CODE__ERR_CONFLICT, false,
                               "order %" PRIu64 " attempt %u was already reported as %s; "
                               "refusing %s", order->id, item->attempt,
                               wob_outcome_name (order->outcome), outcome_name);
    }
    else
    if (order->state != WOB__STATE__STATE_DISPATCHED || !streq (order->worker, worker->name)
    ||  order->attempts != item->attempt)
        result = s_result (order->id, WOB__ERROR_CODE__ERR_NOT_HOLDER, false,
                           "order %" PRIu64 " attempt %u is not leased to %s (it is %s, "
                           "attempt %u, holder %s)", order->id, item->attempt, worker->name,
                           wob_state_name (order->state), order->attempts,
                           *order->worker? order->worker: "none");
    else
    if (item->outcome <= WOB__OUTCOME__OUTCOME_NONE || item->outcome > WOB__OUTCOME__OUTCOME_UNDELIVERED)
        result = s_result (order->id, WOB__ERROR_CODE__ERR_INVALID, false,
                           "order %" PRIu64 ": outcome %d is not a known outcome",
                           order->id, item->outcome);
    if (result) {
        wob__order__free_unpacked (order, NULL);
        return result;
    }
    //  Record the report, end the lease, decide what comes next.
    channel_t *channel = &self->channels [worker->channel];
    order->outcome = item->outcome;
    order->outcome_attempt = item->attempt;
    wob_str_set (&order->outcome_worker, worker->name);
    wob_str_set (&order->outcome_note, item->note);
    leases_forget (self, order);
    worker->done++;
    lifecycle_count_outcome (self, order, item->outcome);

    int closed = control_closed (self, order->wave_seq);
    char reason [300], when [32];
    const char *note = *item->note? item->note: "";
    Wob__State to = WOB__STATE__STATE_DONE;
    if (item->outcome == WOB__OUTCOME__OUTCOME_FAILED) {
        if (order->attempts >= channel->max_attempts) {
            to = WOB__STATE__STATE_FAILED;
            snprintf (reason, sizeof (reason), "outcome failed: attempt limit %u of channel %s "
                      "reached after %u attempts %s", channel->max_attempts, channel->name,
                      order->attempts, note);
        }
        else {
            to = WOB__STATE__STATE_RETRY;
            order->not_before_ms = self->now + s_backoff (self, channel, order->attempts);
            snprintf (reason, sizeof (reason), "outcome failed (attempt %u of %u); retry at %s %s",
                      order->attempts, channel->max_attempts,
                      wob_format_time (order->not_before_ms, when, sizeof (when)), note);
        }
    }
    else
    if (item->outcome == WOB__OUTCOME__OUTCOME_CALLBACK) {
        to = WOB__STATE__STATE_DEFERRED;
        order->callback_at_ms = item->callback_at_ms;
        order->not_before_ms = item->callback_at_ms > self->now? item->callback_at_ms: self->now;
        wob_str_set (&order->prefer_worker, worker->name);
        snprintf (reason, sizeof (reason), "outcome callback: call back at %s %s",
                  wob_format_time (order->not_before_ms, when, sizeof (when)), note);
    }
    else
    if (coordinate_falls_back (self, order, item->outcome)) {
        //  The wave's auxiliary channel takes over, after the rule's attempts.
        uint32_t after = order->fallback_after? order->fallback_after: self->rules->fallback_after;
        if (order->attempts < after) {
            to = WOB__STATE__STATE_RETRY;
            order->not_before_ms = self->now + s_backoff (self, channel, order->attempts);
            snprintf (reason, sizeof (reason), "outcome %s (attempt %u of %u before fallback "
                      "to %s); retry at %s %s", outcome_name, order->attempts,
                      after, order->fallback,
                      wob_format_time (order->not_before_ms, when, sizeof (when)), note);
        }
        else {
            to = WOB__STATE__STATE_TRANSFERRED;
            order->transferred_to = store_next_order_id (self->store);
            snprintf (reason, sizeof (reason), "rule fallback: outcome %s after %u attempt%s; "
                      "transferred to %s as order %" PRIu64 " %s", outcome_name, order->attempts,
                      order->attempts == 1? "": "s", order->fallback, order->transferred_to, note);
        }
    }
    else {
        size_t len = 0;             //  the common case, by hand
        wob_append (reason, sizeof (reason), &len, "outcome ");
        wob_append (reason, sizeof (reason), &len, outcome_name);
        wob_append (reason, sizeof (reason), &len, " ");
        wob_append (reason, sizeof (reason), &len, note);
    }
    if (closed && (to == WOB__STATE__STATE_RETRY || to == WOB__STATE__STATE_DEFERRED
               ||  to == WOB__STATE__STATE_TRANSFERRED)) {
        to = closed;
        order->transferred_to = 0;
        strncat (reason, closed == WOB__STATE__STATE_EXPIRED? "; wave window closed":
                 "; wave cancelled", sizeof (reason) - strlen (reason) - 1);
    }
    rc = lifecycle_move (self, order, to, worker->name, reason, err);
    if (!rc)
        metrics_outcome (self, worker->channel, to);    //  /metrics, /api/throughput
    if (!rc)
        rc = coordinate_after_outcome (self, order, item, err);
    wob__order__free_unpacked (order, NULL);
    if (rc) {
        *failed = true;
        return s_result (item->order_id, WOB__ERROR_CODE__ERR_STORE, false, "%s", err);
    }
    return s_result (item->order_id, WOB__ERROR_CODE__ERR_NONE, false, "recorded");
}

void
leases_outcome (broker_t *self, worker_t *worker, Wob__OutcomeReport *msg)
{
    char err [WOB_ERRLEN] = "";
    Wob__OutcomeAck *ack = calloc (1, sizeof (*ack));
    wob__outcome_ack__init (ack);
    ack->results = calloc (msg->n_items + 1, sizeof (Wob__ItemResult *));
    bool failed = false;
    for (size_t i = 0; i < msg->n_items && !failed; i++)
        ack->results [ack->n_results++] = s_outcome (self, worker, msg->items [i], &failed, err);
    if (failed) {
        //  The group will be rolled back: nothing of this report is kept.
        wob__outcome_ack__free_unpacked (ack, NULL);
        broker_error (self, WOB__ERROR_CODE__ERR_STORE, "%s", err);
        return;
    }
    broker_respond (self, WOB__ENVELOPE__BODY_OUTCOME_ACK, ack);
}

void
leases_extend (broker_t *self, worker_t *worker, Wob__ExtendLease *msg)
{
    char err [WOB_ERRLEN];
    Wob__ExtendAck *ack = calloc (1, sizeof (*ack));
    wob__extend_ack__init (ack);
    ack->results = calloc (msg->n_order_ids + 1, sizeof (Wob__ItemResult *));
    uint32_t extra = msg->extra_ms? msg->extra_ms: self->channels [worker->channel].lease_ms;
    ack->deadline_ms = self->now + extra;
    for (size_t i = 0; i < msg->n_order_ids; i++) {
        uint64_t id = msg->order_ids [i];
        lease_t *lease = zhashx_lookup (self->leases->table, S_KEY (id));
        Wob__ItemResult *result;
        Wob__Order *order = NULL;
        if (!lease || !streq (lease->worker, worker->name))
            result = s_result (id, WOB__ERROR_CODE__ERR_NOT_HOLDER, false,
                               "order %" PRIu64 " is not leased to %s", id, worker->name);
        else
        if (store_order_get (self->store, id, &order, err) == 0) {
            char reason [120], when [32];
            order->lease_deadline_ms = lease->deadline = ack->deadline_ms;
            snprintf (reason, sizeof (reason), "lease extended until %s",
                      wob_format_time (lease->deadline, when, sizeof (when)));
            if (lifecycle_note (self, order, worker->name, reason, err))
                broker_error (self, WOB__ERROR_CODE__ERR_STORE, "%s", err);
            result = s_result (id, WOB__ERROR_CODE__ERR_NONE, false, "%s", reason);
        }
        else
            result = s_result (id, WOB__ERROR_CODE__ERR_STORE, false, "%s", err);
        if (order)
            wob__order__free_unpacked (order, NULL);
        ack->results [ack->n_results++] = result;
    }
    broker_respond (self, WOB__ENVELOPE__BODY_EXTEND_ACK, ack);
}
