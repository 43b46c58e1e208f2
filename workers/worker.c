/*  worker.c - the worker side of the wob protocol (see wob_worker.h).

    State kept per worker process:
      held     orders leased to us and not yet reported-and-acknowledged
      ready    leased orders the application has not taken yet
      pending  outcome reports sent but not acknowledged
    When the broker goes silent for three heartbeats, or answers "hello
    first", the worker reconnects, says hello with the ids it holds, and
    resends every pending report.  The broker answers a resent report that
    it already recorded with "duplicate", so resending is always safe.   */

#include "wob_worker.h"

#define RESEND_MS 2000          //  resend unacknowledged reports after this

struct _wob_worker_t {
    wob_worker_config_t config; //  copy (strings owned)
    char *endpoint, *name, *channel;
    char **owns;
    zsock_t *dealer;            //  connection to the broker
    zpoller_t *poller;
    bool welcomed;              //  hello answered
    int64_t last_heard;         //  last message from the broker (mono ms)
    int64_t last_sent;          //  last message to the broker (mono ms)
    int64_t last_hello;         //  when hello was last sent
    int64_t last_resend;        //  when pending reports were last sent
    uint32_t broker_hb;         //  broker's heartbeat interval (welcome)
    uint64_t next_id;           //  request ids
    zhashx_t *held;             //  order id -> (uintptr) attempt
    zlistx_t *ready;            //  Wob__LeaseItem * not yet taken
    zhashx_t *pending;          //  order id -> Wob__OutcomeItem *
    uint64_t *fresh;            //  ids of reports not sent yet
    size_t n_fresh, fresh_cap;
    char error [WOB_ERRLEN];    //  last error from the broker
    bool refused;               //  the broker refused our hello: stop asking
};

#define S_KEY(id) WOB_ID_KEY (id)

static void
s_outcome_destroy (void **item_p)
{
    if (*item_p) {
        wob__outcome_item__free_unpacked (*item_p, NULL);
        *item_p = NULL;
    }
}

static void
s_lease_destroy (void **item_p)
{
    if (*item_p) {
        wob__lease_item__free_unpacked (*item_p, NULL);
        *item_p = NULL;
    }
}

static void
s_send (wob_worker_t *self, Wob__Envelope *env)
{
    env->request_id = ++self->next_id;
    wob_msg_send (self->dealer, env);
    self->last_sent = zclock_mono ();
}

static void
s_hello (wob_worker_t *self)
{
    Wob__Hello hello = WOB__HELLO__INIT;
    hello.worker = self->name;
    hello.channel = self->channel;
    hello.capacity = self->config.capacity;
    hello.owns = self->owns;
    hello.n_owns = self->config.n_owns;
    hello.heartbeat_ms = self->config.heartbeat_ms;
    hello.n_holding = zhashx_size (self->held);
    hello.holding = calloc (hello.n_holding + 1, sizeof (uint64_t));
    size_t n = 0;
    for (void *v = zhashx_first (self->held); v; v = zhashx_next (self->held))
        hello.holding [n++] = (uint64_t) (uintptr_t) zhashx_cursor (self->held);
    Wob__Envelope env = WOB__ENVELOPE__INIT;
    env.body_case = WOB__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    s_send (self, &env);
    free (hello.holding);
    self->welcomed = false;
    self->last_hello = zclock_mono ();
}

static void
s_connect (wob_worker_t *self)
{
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->dealer);
    self->dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (self->dealer, 0);
    zsock_set_sndhwm (self->dealer, 10000);
    char err [WOB_ERRLEN];
    if (wob_curve_apply (self->dealer, err))
        zsys_error ("%s: %s", self->name, err);      //  checked in wob_worker_new
    zsock_connect (self->dealer, "%s", self->endpoint);
    self->poller = zpoller_new (self->dealer, NULL);
    self->last_heard = zclock_mono ();
    s_hello (self);
}

static void
s_send_pending (wob_worker_t *self)
{
    size_t count = zhashx_size (self->pending);
    self->last_resend = zclock_mono ();
    self->n_fresh = 0;
    if (!count || !self->welcomed)
        return;
    Wob__OutcomeReport report = WOB__OUTCOME_REPORT__INIT;
    report.items = calloc (count, sizeof (Wob__OutcomeItem *));
    for (Wob__OutcomeItem *item = zhashx_first (self->pending); item;
         item = zhashx_next (self->pending))
        report.items [report.n_items++] = item;
    Wob__Envelope env = WOB__ENVELOPE__INIT;
    env.body_case = WOB__ENVELOPE__BODY_OUTCOME_REPORT;
    env.outcome_report = &report;
    s_send (self, &env);
    free (report.items);
}

//  Sends the reports made since the last flush, in one message.
static void
s_send_fresh (wob_worker_t *self)
{
    if (!self->n_fresh || !self->welcomed)
        return;
    Wob__OutcomeReport report = WOB__OUTCOME_REPORT__INIT;
    report.items = calloc (self->n_fresh, sizeof (Wob__OutcomeItem *));
    for (size_t i = 0; i < self->n_fresh; i++) {
        Wob__OutcomeItem *item = zhashx_lookup (self->pending, S_KEY (self->fresh [i]));
        if (item)
            report.items [report.n_items++] = item;
    }
    self->n_fresh = 0;
    Wob__Envelope env = WOB__ENVELOPE__INIT;
    env.body_case = WOB__ENVELOPE__BODY_OUTCOME_REPORT;
    env.outcome_report = &report;
    if (report.n_items)
        s_send (self, &env);
    free (report.items);
}

static void
s_forget (wob_worker_t *self, uint64_t id)
{
    zhashx_delete (self->held, S_KEY (id));
    zhashx_delete (self->pending, S_KEY (id));
    for (Wob__LeaseItem *item = zlistx_first (self->ready); item;
         item = zlistx_next (self->ready))
        if (item->order->id == id) {
            zlistx_delete (self->ready, zlistx_cursor (self->ready));
            break;
        }
}

static void
s_handle (wob_worker_t *self, Wob__Envelope *env)
{
    switch (env->body_case) {
        case WOB__ENVELOPE__BODY_WELCOME:
            self->welcomed = true;
            self->broker_hb = env->welcome->heartbeat_ms;
            self->error [0] = 0;
            for (size_t i = 0; i < env->welcome->n_revoked; i++)
                s_forget (self, env->welcome->revoked [i]);
            s_send_pending (self);
            break;
        case WOB__ENVELOPE__BODY_LEASES:
            for (size_t i = 0; i < env->leases->n_items; i++) {
                Wob__LeaseItem *item = env->leases->items [i];
                env->leases->items [i] = NULL;
                uint64_t id = item->order->id;
                if (zhashx_lookup (self->held, S_KEY (id))) {
                    //  Same order again (we reconnected): keep the newer lease.
                    s_forget (self, id);
                }
                zhashx_update (self->held, S_KEY (id), S_KEY (item->order->attempts));
                zlistx_add_end (self->ready, item);
            }
            env->leases->n_items = 0;
            break;
        case WOB__ENVELOPE__BODY_OUTCOME_ACK:
            for (size_t i = 0; i < env->outcome_ack->n_results; i++) {
                Wob__ItemResult *result = env->outcome_ack->results [i];
                if (result->code == WOB__ERROR_CODE__ERR_STORE)
                    continue;           //  not recorded: resend later
                if (result->code != WOB__ERROR_CODE__ERR_NONE)
                    zsys_warning ("%s: report refused: %s", self->name, result->message);
                zhashx_delete (self->pending, S_KEY (result->order_id));
                zhashx_delete (self->held, S_KEY (result->order_id));
            }
            break;
        case WOB__ENVELOPE__BODY_ERROR:
            snprintf (self->error, sizeof (self->error), "%s", env->error->message);
            //  A refused hello (bad name, capacity, overlapping ownership)
            //  will be refused again: say so instead of retrying for ever
            if (!self->welcomed && (strncmp (env->error->message, "hello:", 6) == 0
                                ||  env->error->code == WOB__ERROR_CODE__ERR_FORBIDDEN)) {
                self->refused = true;
                zsys_error ("%s: broker refused the session: %s", self->name,
                            env->error->message);
            }
            else
            if (env->error->code == WOB__ERROR_CODE__ERR_SESSION) {
                if (zclock_mono () - self->last_hello > 500 && !self->refused)
                    s_hello (self);
            }
            else
                zsys_warning ("%s: broker says: %s", self->name, env->error->message);
            break;
        default:
            break;              //  heartbeat, extend ack: liveness only
    }
}

wob_worker_t *
wob_worker_new (const wob_worker_config_t *config, char *err)
{
    if (!config->endpoint || !config->name || !config->channel || !config->capacity) {
        wob_fail (err, WOB_ERR_INVALID, "worker needs an endpoint, a name, a channel and a "
                  "capacity");
        return NULL;
    }
    if (wob_curve_check (err))
        return NULL;
    wob_worker_t *self = calloc (1, sizeof (wob_worker_t));
    self->config = *config;
    if (!self->config.heartbeat_ms)
        self->config.heartbeat_ms = 1000;
    self->endpoint = strdup (config->endpoint);
    self->name = strdup (config->name);
    self->channel = strdup (config->channel);
    self->owns = calloc (config->n_owns + 1, sizeof (char *));
    for (size_t i = 0; i < config->n_owns; i++)
        self->owns [i] = strdup (config->owns [i]);
    self->held = wob_idmap_new (NULL);
    //  Orders an earlier process of this worker still holds (wob-visit
    //  keeps them on disk between runs): the hello claims them
    for (size_t i = 0; i < config->n_holding; i++)
        if (config->holding [i])
            zhashx_update (self->held, S_KEY (config->holding [i]), S_KEY (1));
    self->pending = wob_idmap_new (s_outcome_destroy);
    self->ready = zlistx_new ();
    zlistx_set_destructor (self->ready, s_lease_destroy);
    s_connect (self);
    return self;
}

//  Ends the session: lets pending reports reach the broker, then says
//  goodbye (its orders go back to the queue) unless it only detaches.
static void
s_destroy (wob_worker_t **self_p, bool bye_now)
{
    if (!self_p || !*self_p)
        return;
    wob_worker_t *self = *self_p;
    //  Let pending reports reach the broker before saying goodbye.
    int64_t deadline = zclock_mono () + 2000;
    s_send_fresh (self);
    while (zhashx_size (self->pending) && zclock_mono () < deadline && !zsys_interrupted)
        wob_worker_poll (self, 100);
    zsock_set_linger (self->dealer, 500);
    if (bye_now) {
        Wob__Bye bye = WOB__BYE__INIT;
        Wob__Envelope env = WOB__ENVELOPE__INIT;
        env.body_case = WOB__ENVELOPE__BODY_BYE;
        env.bye = &bye;
        s_send (self, &env);
    }
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->dealer);
    zhashx_destroy (&self->held);
    zhashx_destroy (&self->pending);
    zlistx_destroy (&self->ready);
    for (size_t i = 0; i < self->config.n_owns; i++)
        free (self->owns [i]);
    free (self->owns);
    free (self->fresh);
    free (self->endpoint);
    free (self->name);
    free (self->channel);
    free (self);
    *self_p = NULL;
}

void
wob_worker_destroy (wob_worker_t **self_p)
{
    s_destroy (self_p, true);
}

void
wob_worker_detach (wob_worker_t **self_p)
{
    s_destroy (self_p, false);
}

//  Timed duties: heartbeat, resend, reconnect when the broker is silent.
static void
s_duties (wob_worker_t *self)
{
    int64_t now = zclock_mono ();
    //  Heartbeat at least as often as the broker asks (its welcome), or it
    //  takes our silence for a lost session
    uint32_t hb = self->config.heartbeat_ms;
    if (self->broker_hb && self->broker_hb < hb)
        hb = self->broker_hb;
    uint32_t silence = 3 * (self->broker_hb > self->config.heartbeat_ms?
                            self->broker_hb: self->config.heartbeat_ms);
    if (now - self->last_heard > silence) {
        zsys_warning ("%s: broker silent for %" PRId64 " ms, reconnecting", self->name,
                      now - self->last_heard);
        s_connect (self);
        return;
    }
    //  Ask again when the welcome is slow, but not every heartbeat: a busy
    //  broker answers every hello it reads, so each one asked is work
    if (!self->welcomed && !self->refused && now - self->last_hello > 3 * hb)
        s_hello (self);
    if (zhashx_size (self->pending) && now - self->last_resend > RESEND_MS)
        s_send_pending (self);
    else
        s_send_fresh (self);
    if (now - self->last_sent >= hb) {
        Wob__Heartbeat beat = WOB__HEARTBEAT__INIT;
        Wob__Envelope env = WOB__ENVELOPE__INIT;
        env.body_case = WOB__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &beat;
        s_send (self, &env);
    }
}

void
wob_worker_poll (wob_worker_t *self, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    s_send_fresh (self);
    do {
        int64_t left = deadline - zclock_mono ();
        int wait = (int) (left < 0? 0: left > 100? 100: left);
        if (zpoller_wait (self->poller, wait)) {
            //  Drain everything that is there.
            while (zsock_events (self->dealer) & ZMQ_POLLIN) {
                zframe_t *frame = zframe_recv (self->dealer);
                if (!frame)
                    break;
                int code;
                char err [WOB_ERRLEN];
                Wob__Envelope *env = wob_msg_decode (zframe_data (frame), zframe_size (frame),
                                                     SIZE_MAX, &code, err);
                zframe_destroy (&frame);
                self->last_heard = zclock_mono ();
                if (env) {
                    s_handle (self, env);
                    wob_msg_free (&env);
                }
                else
                    zsys_warning ("%s: undecodable message from broker: %s", self->name, err);
            }
        }
        if (zpoller_terminated (self->poller))
            return;
        s_duties (self);
        if (zlistx_size (self->ready))
            return;
    } while (zclock_mono () < deadline);
}

Wob__LeaseItem *
wob_worker_next (wob_worker_t *self, int timeout_ms)
{
    //  Orders already here are handed out without a poll: the reports made
    //  meanwhile then travel together when the application has taken them
    //  all (a poll per order sent a report per order)
    if (!zlistx_size (self->ready))
        wob_worker_poll (self, timeout_ms);
    if (!zlistx_size (self->ready))
        return NULL;
    zlistx_set_destructor (self->ready, NULL);
    Wob__LeaseItem *item = zlistx_detach (self->ready, NULL);
    zlistx_set_destructor (self->ready, s_lease_destroy);
    return item;
}

int
wob_worker_report (wob_worker_t *self, uint64_t order_id, uint32_t attempt, int outcome,
                   const char *note, int64_t callback_at_ms)
{
    Wob__OutcomeItem *item = calloc (1, sizeof (*item));
    wob__outcome_item__init (item);
    item->order_id = order_id;
    item->attempt = attempt;
    item->outcome = outcome;
    item->note = strdup (note? note: "");
    item->callback_at_ms = callback_at_ms;
    zhashx_update (self->pending, S_KEY (order_id), item);
    //  Batch: reports made between two polls travel together.
    if (self->n_fresh == self->fresh_cap) {
        self->fresh_cap = self->fresh_cap? self->fresh_cap * 2: 64;
        self->fresh = realloc (self->fresh, self->fresh_cap * sizeof (uint64_t));
    }
    self->fresh [self->n_fresh++] = order_id;
    if (self->n_fresh >= 256)
        s_send_fresh (self);
    return 0;
}

int
wob_worker_extend (wob_worker_t *self, uint64_t order_id, uint32_t extra_ms)
{
    Wob__ExtendLease extend = WOB__EXTEND_LEASE__INIT;
    extend.n_order_ids = 1;
    extend.order_ids = &order_id;
    extend.extra_ms = extra_ms;
    Wob__Envelope env = WOB__ENVELOPE__INIT;
    env.body_case = WOB__ENVELOPE__BODY_EXTEND_LEASE;
    env.extend_lease = &extend;
    s_send (self, &env);
    return 0;
}

size_t wob_worker_held (wob_worker_t *self) { return zhashx_size (self->held); }
size_t wob_worker_unacked (wob_worker_t *self) { return zhashx_size (self->pending); }
bool wob_worker_connected (wob_worker_t *self) { return self->welcomed; }
bool wob_worker_refused (wob_worker_t *self) { return self->refused; }
const char *wob_worker_error (wob_worker_t *self) { return self->error; }
zsock_t *wob_worker_sock (wob_worker_t *self) { return self->dealer; }
