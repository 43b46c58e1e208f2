/*  workers.c - worker sessions: hello, heartbeats, liveness, goodbye.

    A worker is known by the stable name it gives in its hello ("sms-1",
    "agent-0042"); its session is the ROUTER identity it speaks from.  Leases
    belong to the name, so a worker that reconnects (or a broker that
    restarted) keeps what the worker says it still holds; everything else
    the name held goes back to the queue.  A worker silent for longer than
    the timeout is lost and its leases are returned at once.             */

#include "broker.h"

struct _workers_t {
    zhashx_t *by_routing;       //  routing key -> worker_t (owned)
    zhashx_t *by_name;          //  name -> worker_t
    zlistx_t *pending;          //  workers with a batch of leases to send
    int64_t next_heartbeat;     //  when to heartbeat all workers
};

static void
s_worker_destroy (void **item_p)
{
    worker_t *worker = *item_p;
    if (!worker)
        return;
    free (worker->name);
    zframe_destroy (&worker->routing);
    free (worker->routing_key);
    for (size_t i = 0; i < worker->n_owns; i++)
        free (worker->owns [i]);
    free (worker->owns);
    free (worker->routes);
    leasebatch_destroy (&worker->batch);
    free (worker);
    *item_p = NULL;
}

workers_t *
workers_new (void)
{
    workers_t *self = calloc (1, sizeof (workers_t));
    self->by_routing = zhashx_new ();
    zhashx_set_destructor (self->by_routing, s_worker_destroy);
    self->by_name = zhashx_new ();
    self->pending = zlistx_new ();
    return self;
}

void
workers_destroy (workers_t **self_p)
{
    if (self_p && *self_p) {
        workers_t *self = *self_p;
        zhashx_destroy (&self->by_name);
        zhashx_destroy (&self->by_routing);
        zlistx_destroy (&self->pending);
        free (self);
        *self_p = NULL;
    }
}

worker_t *
workers_by_name (workers_t *self, const char *name)
{
    return zhashx_lookup (self->by_name, name);
}

//  Ends a session: its routes lose an owner, it leaves the heap.
static void
s_remove (broker_t *self, worker_t *worker)
{
    workers_t *workers = self->workers;
    routes_detach (self, worker);
    dispatch_worker_remove (self, worker);
    if (worker->batch) {
        void *handle = zlistx_find (workers->pending, worker);
        if (handle)
            zlistx_delete (workers->pending, handle);
    }
    zhashx_delete (workers->by_name, worker->name);
    zhashx_delete (workers->by_routing, worker->routing_key);
}

void
workers_pending (broker_t *self, worker_t *worker)
{
    zlistx_add_end (self->workers->pending, worker);
}

worker_t *
workers_session_peek (broker_t *self)
{
    return zhashx_lookup (self->workers->by_routing, self->sender_key);
}

worker_t *
workers_session (broker_t *self)
{
    worker_t *worker = zhashx_lookup (self->workers->by_routing, self->sender_key);
    if (!worker) {
        broker_error (self, WOB__ERROR_CODE__ERR_SESSION,
                      "no worker session on this connection: send hello first");
        return NULL;
    }
    worker->last_seen_ms = self->now;
    return worker;
}

void
workers_seen (broker_t *self, worker_t *worker)
{
    worker->last_seen_ms = self->now;
}

static bool
s_valid_name (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum ((unsigned char) name [i]) && !strchr ("._-@:", name [i]))
            return false;
    return true;
}

//  The welcome: what the worker claims to hold and we do not give it, it
//  must forget.
static Wob__Welcome *
s_welcome_new (broker_t *self, worker_t *worker, Wob__Hello *msg)
{
    Wob__Welcome *welcome = calloc (1, sizeof (*welcome));
    wob__welcome__init (welcome);
    welcome->heartbeat_ms = self->config.heartbeat_ms;
    welcome->lease_ms = self->channels [worker->channel].lease_ms;
    welcome->revoked = calloc (msg->n_holding + 1, sizeof (uint64_t));
    for (size_t i = 0; i < msg->n_holding; i++)
        if (!leases_holds (self->leases, msg->holding [i], worker->name))
            welcome->revoked [welcome->n_revoked++] = msg->holding [i];
    return welcome;
}

//  A second hello on the same connection is the worker asking again because
//  our welcome was slow, not a new session: the leases we granted since the
//  first are still on their way to it, in order, on this connection, so we
//  must not take them back.  Answer with the same welcome and change nothing.
static void
s_hello_again (broker_t *self, worker_t *worker, Wob__Hello *msg)
{
    worker->last_seen_ms = self->now;
    zsys_debug ("worker %s: hello again on the same connection", worker->name);
    broker_respond (self, WOB__ENVELOPE__BODY_WELCOME, s_welcome_new (self, worker, msg));
}

void
workers_hello (broker_t *self, Wob__Hello *msg)
{
    char err [WOB_ERRLEN];
    if (!s_valid_name (msg->worker)) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "hello: worker name '%.64s' must be "
                      "1-64 characters of A-Z a-z 0-9 . _ - @ :", msg->worker);
        return;
    }
    channel_t *channel = broker_channel (self, msg->channel);
    if (!channel) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "hello: channel '%.32s' is not "
                      "configured (configured: %s)", msg->channel, broker_channel_list (self));
        return;
    }
    if (msg->capacity == 0 || msg->capacity > 100000) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "hello: capacity %u out of range "
                      "1..100000", msg->capacity);
        return;
    }
    const char *key = self->sender_key;
    worker_t *old = zhashx_lookup (self->workers->by_routing, key);
    if (old && !streq (old->name, msg->worker)) {
        broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "hello: this connection is already "
                      "worker '%s'", old->name);
        return;
    }
    if (old && old->channel != channel->id) {
        broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "hello: this connection is already "
                      "worker '%s' of channel %s", old->name, self->channels [old->channel].name);
        return;
    }
    if (old) {
        s_hello_again (self, old, msg);
        return;
    }
    //  What it owns must not clash with what other live workers own.
    int routes_rc = routes_check (self, channel->id, msg->worker, msg->owns, msg->n_owns, err);
    if (routes_rc) {
        broker_error (self, routes_rc == WOB_ERR_REFUSED? WOB__ERROR_CODE__ERR_CONFLICT:
                      WOB__ERROR_CODE__ERR_INVALID, "hello: %s", err);
        return;
    }
    old = workers_by_name (self->workers, msg->worker);
    if (old) {
        zsys_info ("worker %s: new session replaces the old one", msg->worker);
        s_remove (self, old);
    }
    worker_t *worker = calloc (1, sizeof (worker_t));
    worker->name = strdup (msg->worker);
    worker->channel = channel->id;
    worker->capacity = msg->capacity;
    worker->routing = zframe_dup (self->sender);
    worker->routing_key = strdup (key);
    worker->connected_ms = worker->last_seen_ms = self->now;
    worker->owns = calloc (msg->n_owns + 1, sizeof (char *));
    for (size_t i = 0; i < msg->n_owns; i++)
        worker->owns [worker->n_owns++] = strdup (msg->owns [i]);
    zhashx_insert (self->workers->by_routing, worker->routing_key, worker);
    zhashx_insert (self->workers->by_name, worker->name, worker);

    //  Reconcile leases: keep what the worker still holds, return the rest.
    Wob__Welcome *welcome = s_welcome_new (self, worker, msg);
    if (leases_release_unclaimed (self, worker->name, msg->holding, msg->n_holding,
                                  "worker reconnected without it", err)) {
        wob__welcome__free_unpacked (welcome, NULL);
        broker_error (self, WOB__ERROR_CODE__ERR_STORE, "%s", err);
        return;
    }
    worker->outstanding = leases_held_by (self->leases, worker->name);
    dispatch_worker_add (self, worker);
    if (routes_attach (self, worker, err)) {
        broker_error (self, WOB__ERROR_CODE__ERR_STORE, "%s", err);
        return;
    }
    zsys_info ("worker %s: hello (channel %s, capacity %u, holding %u)", worker->name,
               channel->name, worker->capacity, worker->outstanding);
    broker_respond (self, WOB__ENVELOPE__BODY_WELCOME, welcome);
}

void
workers_bye (broker_t *self, worker_t *worker)
{
    char err [WOB_ERRLEN];
    zsys_info ("worker %s: goodbye (%u orders return to the queue)", worker->name,
               worker->outstanding);
    //  Its routes lose their owner first, so its orders are placed anew.
    routes_detach (self, worker);
    if (leases_release_worker (self, worker->name, "worker said goodbye", err)) {
        broker_error (self, WOB__ERROR_CODE__ERR_STORE, "%s", err);
        return;
    }
    s_remove (self, worker);
}

int
workers_tick (broker_t *self, char *err)
{
    //  Lost workers first: their leases go back now, not at lease expiry.
    zlistx_t *lost = zlistx_new ();
    for (worker_t *w = zhashx_first (self->workers->by_routing); w;
         w = zhashx_next (self->workers->by_routing))
        if (self->now - w->last_seen_ms > self->config.worker_timeout_ms)
            zlistx_add_end (lost, w);
    int rc = 0;
    for (worker_t *w = zlistx_first (lost); w && !rc; w = zlistx_next (lost)) {
        char reason [120];
        snprintf (reason, sizeof (reason), "worker lost: silent for %" PRId64 " ms",
                  self->now - w->last_seen_ms);
        routes_detach (self, w);
        if (self->channels [w->channel].keep_leases)
            zsys_info ("worker %s: %s; it keeps its %u leases until they expire or it "
                       "comes back", w->name, reason, w->outstanding);
        else {
            zsys_warning ("worker %s: %s, returning %u orders", w->name, reason,
                          w->outstanding);
            rc = leases_release_worker (self, w->name, reason, err);
        }
        s_remove (self, w);
    }
    zlistx_destroy (&lost);
    if (rc || self->now < self->workers->next_heartbeat)
        return rc;
    self->workers->next_heartbeat = self->now + self->config.heartbeat_ms;
    for (worker_t *w = zhashx_first (self->workers->by_routing); w;
         w = zhashx_next (self->workers->by_routing)) {
        Wob__Heartbeat *beat = calloc (1, sizeof (*beat));
        wob__heartbeat__init (beat);
        broker_send (self, w->routing, WOB__ENVELOPE__BODY_HEARTBEAT, beat);
    }
    return 0;
}

void
workers_recount (broker_t *self)
{
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++)
        self->channels [c].n_heap = 0;
    zlistx_purge (self->workers->pending);
    for (worker_t *w = zhashx_first (self->workers->by_routing); w;
         w = zhashx_next (self->workers->by_routing)) {
        w->outstanding = leases_held_by (self->leases, w->name);
        leasebatch_destroy (&w->batch);
        dispatch_worker_add (self, w);
        //  Routes were reloaded: routes_sweep attaches the workers again
        free (w->routes);
        w->routes = NULL;
        w->n_routes = 0;
    }
}

void
workers_clock_moved (broker_t *self, int64_t delta_ms)
{
    for (worker_t *w = zhashx_first (self->workers->by_routing); w;
         w = zhashx_next (self->workers->by_routing)) {
        w->last_seen_ms += delta_ms;
        w->connected_ms += delta_ms;
    }
    self->workers->next_heartbeat += delta_ms;
}

int
workers_attach_all (broker_t *self, char *err)
{
    for (worker_t *w = zhashx_first (self->workers->by_routing); w;
         w = zhashx_next (self->workers->by_routing))
        if (routes_attach (self, w, err))
            return WOB_ERR_STORE;
    return 0;
}

//  Sends each worker the leases granted to it this turn (after commit).
//  The leased orders then wait for their outcomes in the store's cache.
void
workers_flush (broker_t *self)
{
    for (worker_t *w = zlistx_first (self->workers->pending); w;
         w = zlistx_next (self->workers->pending)) {
        leasebatch_t *batch = w->batch;
        if (!batch)
            continue;
        w->batch = NULL;
        zframe_t *frame = leasebatch_pack (batch);
        if (frame)
            broker_send_frame (self, w->routing, &frame);
        else        //  not sent: the leases end by expiry, as if lost on the way
            zsys_error ("out of memory packing %zu leases for %s", leasebatch_size (batch),
                        w->name);
        for (size_t i = 0; i < leasebatch_size (batch); i++) {
            Wob__Order *order = leasebatch_take (batch, i);
            store_order_keep (self->store, &order);
        }
        leasebatch_destroy (&batch);
    }
    zlistx_purge (self->workers->pending);
}

static char *
s_strdup (const char *s)
{
    return strdup (s? s: "");
}

Wob__WorkerList *
workers_build (broker_t *self, const char *only)
{
    Wob__WorkerList *list = calloc (1, sizeof (*list));
    wob__worker_list__init (list);
    list->workers = calloc (zhashx_size (self->workers->by_routing) + 1, sizeof (Wob__WorkerInfo *));
    for (worker_t *w = zhashx_first (self->workers->by_routing); w;
         w = zhashx_next (self->workers->by_routing)) {
        const char *channel = self->channels [w->channel].name;
        if (*only && !streq (only, channel))
            continue;
        Wob__WorkerInfo *info = calloc (1, sizeof (*info));
        wob__worker_info__init (info);
        info->id = s_strdup (w->name);
        info->channel = s_strdup (channel);
        info->capacity = w->capacity;
        info->outstanding = w->outstanding;
        info->done = w->done;
        info->assigned = w->assigned;
        info->connected_ms = w->connected_ms;
        info->last_seen_ms = w->last_seen_ms;
        info->owns = calloc (w->n_owns + 1, sizeof (char *));
        for (size_t i = 0; i < w->n_owns; i++)
            info->owns [info->n_owns++] = s_strdup (w->owns [i]);
        list->workers [list->n_workers++] = info;
    }
    //  Orders held for want of a connected owner, by channel and reason
    list->held = calloc (BROKER_MAX_CHANNELS * 3 + 1, sizeof (Wob__HeldInfo *));
    for (uint8_t c = 1; c < BROKER_MAX_CHANNELS; c++)
        for (int k = 0; k < 3 && self->channels [c].name; k++) {
            const char *kinds = "nrw";
            uint64_t held = routes_held (self->routes, c, kinds [k]);
            if (!held || (*only && !streq (only, self->channels [c].name)))
                continue;
            Wob__HeldInfo *info = calloc (1, sizeof (*info));
            wob__held_info__init (info);
            info->channel = s_strdup (self->channels [c].name);
            info->reason = s_strdup (routes_held_reason (kinds [k]));
            info->orders = held;
            list->held [list->n_held++] = info;
        }
    return list;
}

void
workers_list (broker_t *self, Wob__WorkersQuery *msg)
{
    broker_respond (self, WOB__ENVELOPE__BODY_WORKER_LIST, workers_build (self, msg->channel));
}
