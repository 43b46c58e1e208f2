/*  broker.c - the broker actor: its loop, group commit and outbox.

    One thread does everything, in turns: read a burst of messages, handle
    each inside one LMDB write transaction, run the timed work (worker
    liveness, lease expiry, timers, window ends, dispatch), write the wave
    counts back, commit once, and only then send what the turn produced.
    That is the group commit: many operations share one fsync, and nothing
    (reply, acknowledgement or lease) leaves before it is durable.  If the
    commit fails, every reply of the turn becomes an error, the leases of the
    turn are not sent, and the in-memory views are rebuilt from the store.

    Malamute-style: the broker is a CZMQ actor; main.c and the tests start
    it, read its port back on the pipe and send $TERM to stop it.        */

#include "broker.h"
#include <stdarg.h>

#define BURST 4096              //  messages handled per turn at most
//  Work per turn is bounded in time too: a turn's replies (and every
//  query's, the dashboard's between turns) wait for its end.  Long turns
//  make big groups (one commit, one lease batch per worker for many
//  orders), which is what dispatch throughput needs; a question waiting
//  wants a short one.  So a turn may run TURN_BUDGET_US, but once a
//  read-only request is in hand or an HTTP request waits, it ends within
//  TURN_HURRY_US: it stops reading and leasing, commits and answers.  Not
//  before TURN_MIN_US though, so that a stream of questions cannot make
//  every turn (and so every commit, with its fsync) tiny.
#define TURN_BUDGET_US 200000
#define TURN_HURRY_US 2000
#define TURN_MIN_US 5000
//  Targets stored per turn, at most (give or take one chunk): a write
//  transaction holds every page it dirties in memory, and LMDB keeps those
//  buffers for reuse, so the biggest transaction sets the broker's heap.
//  Inserting random phone numbers into the number index dirties about one
//  page per target once the store is large: 15,000 bounds that at ~60 MB
//  whatever the number of orders stored.  Bigger turns are faster (a page
//  takes more inserts per write): 1M targets take 9.2 s at 15,000 (45 MB
//  heap), 8.7 s at 20,000 (52 MB), 12.2 s at 5,000 (21 MB).
#define TURN_TARGETS 15000
#define TICK_MS 100             //  timer / expiry pass interval
//  The number index's recent additions (store_numbers.c) are folded into
//  its B-tree when the broker is idle, a sweep of the log at a time: after
//  IDLE_MS without a message, a turn folds up to FOLD_SLICE of them before
//  reading any, and stops as soon as a message waits (which then joins the
//  turn).  A slice is about one small wave's numbers: a fold turn's commit
//  is what an arriving message may wait behind.  A sweep starts once
//  enough numbers wait (store_numbers_foldable), or with any waiting after
//  DRAIN_MS without a message.
#define IDLE_MS 1
#define FOLD_SLICE 256
#define DRAIN_MS 100
#define FOLD_BACKOFF_MS 1000    //  after an idle turn failed

typedef struct {
    zframe_t *routing;          //  to whom
    zframe_t *body;             //  packed envelope
    uint64_t request_id;        //  for the error that replaces a reply
    bool reply;                 //  true: reply to a request; false: delivery
} outbox_item_t;

static void
s_outbox_item_destroy (void **item_p)
{
    outbox_item_t *item = *item_p;
    if (item) {
        zframe_destroy (&item->routing);
        zframe_destroy (&item->body);
        free (item);
        *item_p = NULL;
    }
}

//  Queues a packed message for after the commit (takes *body_p).
static void
s_outbox_add_frame (broker_t *self, zframe_t *routing, zframe_t **body_p, uint64_t request_id,
                    bool reply)
{
    outbox_item_t *item = calloc (1, sizeof (outbox_item_t));
    item->routing = zframe_dup (routing);
    item->body = *body_p;
    *body_p = NULL;
    item->request_id = request_id;
    item->reply = reply;
    zlistx_add_end (self->outbox, item);
}

//  Packs env now (it may refer to what the turn changes later) and frees it.
static void
s_outbox_add (broker_t *self, zframe_t *routing, Wob__Envelope *env, bool reply)
{
    zframe_t *body = wob_msg_pack (env);
    s_outbox_add_frame (self, routing, &body, env->request_id, reply);
    wob_msg_free (&env);
}

void
broker_reply (broker_t *self, Wob__Envelope *reply)
{
    s_outbox_add (self, self->sender, reply, true);
}

void
broker_error (broker_t *self, int code, const char *fmt, ...)
{
    char message [WOB_ERRLEN];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (message, sizeof (message), fmt, ap);
    va_end (ap);
    if (code == WOB__ERROR_CODE__ERR_STORE && !*self->group_error)
        snprintf (self->group_error, sizeof (self->group_error), "%s", message);
    zsys_debug ("refused request %" PRIu64 ": %s", self->request_id, message);
    broker_reply (self, wob_msg_new_error (self->request_id, code, "%s", message));
}


//  Envelope around a oneof body: every member of the oneof is a pointer to
//  a message, so setting one through the union sets them all.
static Wob__Envelope *
s_wrap (uint64_t request_id, Wob__Envelope__BodyCase body_case, void *body)
{
    Wob__Envelope *env = calloc (1, sizeof (Wob__Envelope));
    wob__envelope__init (env);
    env->request_id = request_id;
    env->body_case = body_case;
    env->error = (Wob__Error *) body;
    return env;
}

void
broker_respond (broker_t *self, Wob__Envelope__BodyCase body_case, void *body)
{
    broker_reply (self, s_wrap (self->request_id, body_case, body));
}

void
broker_answer (broker_t *self, zframe_t *routing, uint64_t request_id,
               Wob__Envelope__BodyCase body_case, void *body)
{
    s_outbox_add (self, routing, s_wrap (request_id, body_case, body), true);
}

void
broker_answer_error (broker_t *self, zframe_t *routing, uint64_t request_id, int code,
                     const char *message)
{
    s_outbox_add (self, routing, wob_msg_new_error (request_id, code, "%s", message), true);
}

void
broker_send (broker_t *self, zframe_t *routing, Wob__Envelope__BodyCase body_case, void *body)
{
    s_outbox_add (self, routing, s_wrap (0, body_case, body), false);
}

void
broker_send_frame (broker_t *self, zframe_t *routing, zframe_t **frame_p)
{
    s_outbox_add_frame (self, routing, frame_p, 0, false);
}

channel_t *
broker_channel (broker_t *self, const char *name)
{
    if (!name || !*name)
        return NULL;
    for (int c = 1; c < BROKER_MAX_CHANNELS; c++)
        if (self->channels [c].name && streq (self->channels [c].name, name))
            return &self->channels [c];
    return NULL;
}

const char *
broker_channel_list (broker_t *self)
{
    static char list [256];
    list [0] = 0;
    for (int c = 1; c < BROKER_MAX_CHANNELS; c++)
        if (self->channels [c].name) {
            if (*list)
                strncat (list, ", ", sizeof (list) - strlen (list) - 1);
            strncat (list, self->channels [c].name, sizeof (list) - strlen (list) - 1);
        }
    return list;
}

uint32_t
broker_random (broker_t *self)
{
    //  xorshift64*: jitter only, not security.
    self->rng ^= self->rng >> 12;
    self->rng ^= self->rng << 25;
    self->rng ^= self->rng >> 27;
    return (uint32_t) ((self->rng * 0x2545F4914F6CDD1DULL) >> 32);
}

//  Finds channel `name` in a comma-separated list ("sms,visit" or
//  "visit=3d,call=20m"): 1 and *value (the text after '=', up to the next
//  comma, into value) when listed, 0 when not.
static int
s_listed (const char *list, const char *name, char *value, size_t size)
{
    size_t len = strlen (name);
    for (const char *at = list? strstr (list, name): NULL; at; at = strstr (at + 1, name))
        if ((at == list || at [-1] == ',') && (at [len] == 0 || at [len] == ',' || at [len] == '=')) {
            const char *v = at [len] == '='? at + len + 1: "";
            size_t vlen = strcspn (v, ",");
            snprintf (value, size, "%.*s", (int) (vlen < size? vlen: size - 1), v);
            return 1;
        }
    return 0;
}

//  Checks that a channel list names configured channels only.
static int
s_check_list (broker_t *self, const char *option, const char *list, char *err)
{
    char copy [256];
    snprintf (copy, sizeof (copy), "%s", list? list: "");
    char *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        char *eq = strchr (item, '=');
        if (eq)
            *eq = 0;
        if (!broker_channel (self, item))
            return wob_fail (err, WOB_ERR_INVALID, "%s: '%s' is not a channel (configured: %s)",
                             option, item, broker_channel_list (self));
    }
    return 0;
}

//  (Re)builds the in-memory views from the store.
static int
s_load (broker_t *self, char *err)
{
    waves_reset (self);
    int rc = store_begin (self->store, err);
    if (rc)
        return rc;
    rc = waves_load (self, err);
    if (!rc)
        rc = leases_load (self, err);
    if (!rc)
        rc = routes_load (self, err);
    store_abort (self->store);
    workers_recount (self);     //  after routes_load: drops the old routes' pointers
    return rc;
}

static int
s_setup (broker_t *self, broker_config_t *config, char *err)
{
    self->config = *config;
    store_config_t sc = { config->data_dir, config->map_size, config->nosync };
    self->store = store_new (&sc, err);
    if (!self->store)
        return WOB_ERR_STORE;
    waves_setup (self);
    if (tally_setup (self, err))
        return WOB_ERR_NOMEM;
    self->workers = workers_new ();
    self->leases = leases_new ();
    self->routes = routes_new ();
    self->outbox = zlistx_new ();
    zlistx_set_destructor (self->outbox, s_outbox_item_destroy);
    self->inflight = zhashx_new ();     //  values are counts, not pointers
    self->rng = (uint64_t) wob_now_ms () ^ ((uint64_t) getpid () << 32) ^ 0x9E3779B97F4A7C15ULL;
    self->now = self->started = wob_now_ms ();

    //  Channels: ids are the store's, so queue keys stay valid across restarts.
    const char *names [] = { "sms", "call", "visit" };
    const uint32_t leases_ms [] = { 5 * 60 * 1000, 30 * 60 * 1000, 3 * 24 * 3600 * 1000 };
    if ((err [0] = 0, store_begin (self->store, err)))
        return WOB_ERR_STORE;
    for (int i = 0; i < 3; i++) {
        uint8_t id;
        if (store_channel_id (self->store, names [i], true, &id, err)) {
            store_abort (self->store);
            return WOB_ERR_STORE;
        }
        channel_t *channel = &self->channels [id];
        channel->name = strdup (names [i]);
        channel->id = id;
        channel->lease_ms = config->lease_ms? config->lease_ms: leases_ms [i];
        char value [64];
        if (s_listed (config->channel_leases, names [i], value, sizeof (value))) {
            int64_t ms = wob_parse_duration (value);
            if (ms <= 0 || ms > UINT32_MAX) {
                store_abort (self->store);
                return wob_fail (err, WOB_ERR_INVALID, "--channel-lease: '%s=%s' is not a "
                                 "lease length (such as visit=3d or call=20m)", names [i], value);
            }
            channel->lease_ms = (uint32_t) ms;
        }
        channel->max_attempts = config->max_attempts? config->max_attempts: 3;
        channel->backoff_ms = config->backoff_ms? config->backoff_ms: 30 * 1000;
        channel->backoff_max_ms = channel->backoff_ms * 32;
        channel->keep_leases = s_listed (config->keep_leases, names [i], value, sizeof (value));
    }
    if (store_commit (self->store, err))
        return WOB_ERR_STORE;
    if (s_check_list (self, "--keep-leases", config->keep_leases, err)
    ||  s_check_list (self, "--channel-lease", config->channel_leases, err))
        return WOB_ERR_INVALID;
    if (admin_load_rules (self, err))
        return WOB_ERR_INVALID;

    //  Security: CurveZMQ with keys and roles, or plain when asked for
    if (config->plain) {
        if (config->curve_cert || config->keys_path)
            return wob_fail (err, WOB_ERR_INVALID, "plain mode and CurveZMQ keys both given: "
                             "choose one");
        zsys_warning ("PLAIN MODE: no encryption, no authentication: anyone who reaches "
                      "%s can submit, take orders and change rules", config->endpoint);
    }
    else {
        if (!config->curve_cert || !config->keys_path)
            return wob_fail (err, WOB_ERR_INVALID, "no security configured: give --curve-cert "
                             "and --keys (CurveZMQ with roles), or --plain to run without "
                             "encryption and authentication");
        if (!(self->auth = auth_new (config->curve_cert, config->keys_path, err)))
            return WOB_ERR_INVALID;
    }
    self->router = zsock_new (ZMQ_ROUTER);
    if (self->auth)
        auth_apply (self->auth, self->router);
    zsock_set_maxmsgsize (self->router, (int64_t) config->max_message * 4);
    zsock_set_sndhwm (self->router, 100000);
    zsock_set_rcvhwm (self->router, 100000);
    //  Thousands of workers connect at once after a broker restart: with
    //  ZeroMQ's backlog of 100 the kernel drops their SYNs and they come
    //  in over seconds of TCP retries (the kernel caps it at somaxconn)
    zsock_set_backlog (self->router, 4096);
    self->port = zsock_bind (self->router, "%s", config->endpoint);
    if (self->port < 0)
        return wob_fail (err, WOB_ERR_IO, "cannot bind %s: %s", config->endpoint,
                         zmq_strerror (zmq_errno ()));
    //  --- dashboard (http.c): served between turns, see broker_actor ---
    self->metrics = metrics_new ();
    if (config->http && *config->http) {
        self->http = http_new (self, config->http, err);
        if (!self->http)
            return WOB_ERR_IO;
    }
    return s_load (self, err);
}

static void
s_teardown (broker_t *self)
{
    http_destroy (&self->http);
    metrics_destroy (&self->metrics);
    zsock_destroy (&self->router);
    auth_destroy (&self->auth);
    backup_destroy (&self->backup);     //  waits for a copy in progress
    zlistx_destroy (&self->outbox);
    zhashx_destroy (&self->inflight);
    leases_destroy (&self->leases);
    workers_destroy (&self->workers);
    routes_destroy (&self->routes);
    waves_teardown (self);
    tally_teardown (self);
    store_destroy (&self->store);
    rulebook_destroy (&self->rules);
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++) {
        free (self->channels [c].name);
        free (self->channels [c].heap);
    }
}

//  --- Requests in flight per client (--max-inflight) ----------------------
//  A request is in flight from the moment a turn reads it until its reply
//  leaves at the end of that turn (only a backup answers later, and there
//  is one at a time), so what a client has in flight is what the current
//  turn has read from it.  self->inflight counts that by sender (ROUTER
//  identity, i.e. one connection) and is emptied as each turn starts: it
//  never holds more keys than one turn reads (BURST), however many clients
//  come and go, and costs one hash lookup per message.
//
//  A request over the limit is not processed: it gets ERR_BUSY at once,
//  sent straight to the socket rather than through the outbox (it says
//  nothing about the store, so it need not wait for the commit), and is
//  logged once in a while, not once per request.  Undecodable messages are
//  not counted: their decode error is as cheap as a busy one.
//
//  Workers: heartbeats, outcome reports and lease extensions from a worker
//  session answer leases the broker itself granted: at most one report and
//  one extension per order the worker holds (the worker library batches
//  them, a hand-written worker may send one per order), and a heartbeat.
//  Refusing them would only delay the credit they free and bring them back
//  as resends, so for those the bound is the limit plus twice the worker's
//  capacity: a worker that keeps to the protocol never reaches it, one
//  that does not is still bounded.

//  Logs the busy refusals made since the last line, at most every 10 s.
static void
s_inflight_log (broker_t *self)
{
    if (self->busy_refused && self->now - self->busy_logged_ms >= 10000) {
        zsys_warning ("refused %" PRIu64 " request%s over --max-inflight %u (busy), the first "
                      "from %s", self->busy_refused, self->busy_refused > 1? "s": "",
                      self->config.max_inflight, self->busy_peer);
        self->busy_refused = 0;
        self->busy_logged_ms = self->now;
    }
}

//  Counts the message in hand against its sender.  Over the limit: answers
//  ERR_BUSY and returns true (the caller drops the message).
static bool
s_inflight_over (broker_t *self, const Wob__Envelope *env, zframe_t *frame)
{
    uint32_t limit = self->config.max_inflight;
    if (!limit)
        return false;
    uintptr_t count = (uintptr_t) zhashx_lookup (self->inflight, self->sender_key) + 1;
    zhashx_update (self->inflight, self->sender_key, (void *) count);
    if (count <= limit)
        return false;
    worker_t *worker = NULL;
    if (env->body_case == WOB__ENVELOPE__BODY_HEARTBEAT
    ||  env->body_case == WOB__ENVELOPE__BODY_OUTCOME_REPORT
    ||  env->body_case == WOB__ENVELOPE__BODY_EXTEND_LEASE)
        worker = workers_session_peek (self);
    if (worker && count <= (uintptr_t) limit + 2 * (uintptr_t) worker->capacity)
        return false;
    Wob__Envelope *busy = worker?
        wob_msg_new_error (env->request_id, WOB__ERROR_CODE__ERR_BUSY, "too many requests in "
                           "flight from worker %s (limit %u plus twice its capacity %u, "
                           "--max-inflight): retry after the answers", worker->name, limit,
                           worker->capacity):
        wob_msg_new_error (env->request_id, WOB__ERROR_CODE__ERR_BUSY, "too many requests in "
                           "flight from this client (limit %u, --max-inflight): retry after "
                           "the answers", limit);
    zframe_t *routing = zframe_dup (self->sender);
    zframe_t *body = wob_msg_pack (busy);
    wob_msg_free (&busy);
    //  A ROUTER never blocks: a peer that does not read its replies loses
    //  them at the high-water mark, which is its own problem.
    if (zframe_send (&routing, self->router, ZFRAME_MORE) == 0)
        zframe_send (&body, self->router, 0);
    zframe_destroy (&routing);          //  left only if a send failed
    zframe_destroy (&body);
    if (!self->busy_refused++) {
        const auth_peer_t *peer = self->auth? auth_peer (self->auth, frame): NULL;
        if (peer)
            snprintf (self->busy_peer, sizeof (self->busy_peer), "key '%s'", peer->name);
        else
            snprintf (self->busy_peer, sizeof (self->busy_peer), "peer %.64s", self->sender_key);
    }
    s_inflight_log (self);
    return true;
}

void
broker_count_targets (broker_t *self, size_t targets)
{
    self->turn_targets += targets;
}

void
broker_hurry (broker_t *self)
{
    int64_t soon = zclock_usecs () + TURN_HURRY_US;
    if (soon < self->turn_start_us + TURN_MIN_US)
        soon = self->turn_start_us + TURN_MIN_US;
    if (soon < self->turn_deadline_us)
        self->turn_deadline_us = soon;
}

//  Is someone waiting for an answer that only the end of the turn gives?
//  (Checked every few messages and leases: a poll of the HTTP descriptor.)
bool
broker_turn_over (broker_t *self)
{
    if (self->http && ++self->turn_checks % 32 == 0) {
        zmq_pollitem_t item = { NULL, http_fd (self->http), ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 0) > 0)
            broker_hurry (self);
    }
    return zclock_usecs () > self->turn_deadline_us;
}

//  Handles one message from a client or worker.
static void
s_handle (broker_t *self, zmsg_t *msg)
{
    zframe_t *routing = zmsg_pop (msg);
    zframe_destroy (&self->sender);
    self->sender = routing;
    self->request_id = 0;
    if (!routing)
        return;
    //  Hex of the routing id (ZeroMQ ids are at most 255 bytes)
    size_t size = zframe_size (routing);
    const uint8_t *id = zframe_data (routing);
    for (size_t i = 0; i < size && i < 255; i++)
        sprintf (self->sender_key + 2 * i, "%02X", id [i]);
    self->sender_key [2 * (size < 255? size: 255)] = 0;
    if (zmsg_size (msg) != 1) {
        broker_error (self, WOB__ERROR_CODE__ERR_DECODE, "expected one frame holding one "
                      "envelope, got %zu frames", zmsg_size (msg));
        return;
    }
    zframe_t *frame = zmsg_first (msg);
    int code;
    char err [WOB_ERRLEN];
    Wob__Envelope *env = wob_msg_decode (zframe_data (frame), zframe_size (frame),
                                         self->config.max_message, &code, err);
    if (!env) {
        zsys_warning ("bad message from peer %s: %s", self->sender_key, err);
        broker_error (self, code, "%s", err);
        return;
    }
    self->request_id = env->request_id;
    if (s_inflight_over (self, env, frame)) {
        wob_msg_free (&env);
        return;
    }
    if (self->auth) {
        self->peer = auth_peer (self->auth, frame);
        if (auth_check (self->peer, env, err)) {
            zsys_warning ("refused: %s", err);
            broker_error (self, WOB__ERROR_CODE__ERR_FORBIDDEN, "%s", err);
            wob_msg_free (&env);
            return;
        }
    }
    worker_t *worker = workers_session_peek (self);
    if (worker)
        workers_seen (self, worker);
    switch (env->body_case) {
        case WOB__ENVELOPE__BODY_SUBMIT_BEGIN:  intake_begin (self, env->submit_begin); break;
        case WOB__ENVELOPE__BODY_SUBMIT_CHUNK:  intake_chunk (self, env->submit_chunk); break;
        case WOB__ENVELOPE__BODY_SUBMIT_COMMIT:
            intake_commit (self, env->submit_commit);
            broker_hurry (self);        //  its orders are leased at the end of the turn
            break;
        case WOB__ENVELOPE__BODY_STATUS_QUERY:
            query_status (self, env->status_query);
            broker_hurry (self);
            break;
        case WOB__ENVELOPE__BODY_WORKERS_QUERY:
            workers_list (self, env->workers_query);
            broker_hurry (self);
            break;
        case WOB__ENVELOPE__BODY_HELLO:
            workers_hello (self, env->hello);
            broker_hurry (self);                    //  a worker waits for its welcome
            break;
        case WOB__ENVELOPE__BODY_HEARTBEAT:
            if (!worker)
                workers_session (self);             //  error: hello first
            break;
        case WOB__ENVELOPE__BODY_OUTCOME_REPORT:
            if ((worker = workers_session (self)))
                leases_outcome (self, worker, env->outcome_report);
            break;
        case WOB__ENVELOPE__BODY_EXTEND_LEASE:
            if ((worker = workers_session (self)))
                leases_extend (self, worker, env->extend_lease);
            break;
        case WOB__ENVELOPE__BODY_SUPPRESS_ADD:    admin_suppress_add (self, env->suppress_add); break;
        case WOB__ENVELOPE__BODY_SUPPRESS_REMOVE: admin_suppress_remove (self, env->suppress_remove); break;
        case WOB__ENVELOPE__BODY_SUPPRESS_LIST:   admin_suppress_list (self, env->suppress_list); break;
        case WOB__ENVELOPE__BODY_RULES_REQUEST:   admin_rules (self, env->rules_request); break;
        case WOB__ENVELOPE__BODY_CLOCK_SET:       admin_clock (self, env->clock_set); break;
        case WOB__ENVELOPE__BODY_WAVE_CONTROL:    control_wave (self, env->wave_control); break;
        case WOB__ENVELOPE__BODY_BACKUP_REQUEST:  backup_request (self, env->backup_request); break;
        case WOB__ENVELOPE__BODY_REPORT_QUERY:
            reports_query (self, env->report_query);
            broker_hurry (self);
            break;
        case WOB__ENVELOPE__BODY_OUTCOME_IMPORT:  reports_import (self, env->outcome_import); break;
        case WOB__ENVELOPE__BODY_BYE:
            if (worker)
                workers_bye (self, worker);
            break;
        default:
            broker_error (self, WOB__ERROR_CODE__ERR_UNKNOWN, "command %d is not a request "
                          "the broker accepts", env->body_case);
    }
    wob_msg_free (&env);
}

//  Sends what the turn produced; on failure replaces replies by errors.
static void
s_outbox_send (broker_t *self, const char *failure)
{
    for (outbox_item_t *item = zlistx_first (self->outbox); item;
         item = zlistx_next (self->outbox)) {
        if (failure) {
            if (!item->reply)
                continue;       //  a lease that was never recorded
            Wob__Envelope *error = wob_msg_new_error (item->request_id,
                WOB__ERROR_CODE__ERR_STORE, "not recorded: %s", failure);
            zframe_destroy (&item->body);
            item->body = wob_msg_pack (error);
            wob_msg_free (&error);
        }
        zframe_send (&item->routing, self->router, ZFRAME_MORE);
        zframe_send (&item->body, self->router, 0);
    }
    zlistx_purge (self->outbox);
}

static bool
s_message_waiting (void *arg)
{
    return (zsock_events (((broker_t *) arg)->router) & ZMQ_POLLIN) != 0;
}

//  Whether any number waiting in the log may be folded: the broker has
//  been quiet for DRAIN_MS
static bool
s_drain (broker_t *self, int64_t now)
{
    return now - self->last_message >= DRAIN_MS;
}

//  True when numbers waiting in the log may be folded now.
static bool
s_fold_ready (broker_t *self, int64_t now)
{
    return now >= self->fold_after && store_numbers_foldable (self->store, s_drain (self, now));
}

//  In an idle turn, folds a slice of recent numbers into the number
//  index, yielding to the first message that waits.
static int
s_fold_numbers (broker_t *self, char *err)
{
    size_t moved;
    int64_t now = zclock_mono ();
    if (s_fold_ready (self, now) && !s_message_waiting (self))
        return store_numbers_fold (self->store, FOLD_SLICE, s_drain (self, now),
                                   s_message_waiting, self, &moved, err);
    return 0;
}

//  One turn: a burst of messages, timed work, one commit, then the sends.
//  idle: the loop waited IDLE_MS for a message and none came.  Returns
//  true when more work is ready right away.
static bool
s_turn (broker_t *self, bool idle)
{
    char err [WOB_ERRLEN] = "";
    self->group_error [0] = 0;
    self->now = wob_now_ms () + self->clock_offset;
    if (store_begin (self->store, err)) {
        zsys_error ("%s", err);
        zclock_sleep (100);     //  cannot even read: do not spin
        return false;
    }
    self->turn_start_us = zclock_usecs ();
    self->turn_targets = 0;
    self->turn_deadline_us = self->turn_start_us + TURN_BUDGET_US;
    backup_poll (self);         //  a finished copy: its reply joins this turn's
    //  The last turn's replies have left: nothing is in flight any more
    if (zhashx_size (self->inflight))
        zhashx_purge (self->inflight);
    if (idle && s_fold_numbers (self, err))
        snprintf (self->group_error, sizeof (self->group_error), "%s", err);
    bool more = false, handled = false;
    for (int i = 0; i < BURST && !*self->group_error; i++) {
        zmsg_t *msg = NULL;
        if (zsock_events (self->router) & ZMQ_POLLIN)
            msg = zmsg_recv (self->router);
        if (!msg)
            break;
        s_handle (self, msg);
        zmsg_destroy (&msg);
        handled = true;
        if (*self->group_error)
            break;              //  the transaction is spoilt: end the turn
        if (broker_turn_over (self) || self->turn_targets >= TURN_TARGETS) {
            more = true;        //  the rest waits for the next turn
            break;
        }
    }
    if (handled)
        self->last_message = zclock_mono ();
    if (!*self->group_error && self->now >= self->next_tick) {
        self->next_tick = self->now + TICK_MS;
        int rc = workers_tick (self, err);
        if (!rc)
            rc = leases_expire (self, err);
        if (!rc)
            rc = dispatch_timers (self, err);
        if (rc == 1) {
            more = true;
            self->next_tick = self->now;
            rc = 0;
        }
        if (!rc)
            rc = control_sweep (self, err);
        if (rc)
            snprintf (self->group_error, sizeof (self->group_error), "%s", err);
        else
            waves_retire (self);
    }
    if (!*self->group_error) {
        int rc = routes_sweep (self, err);
        if (rc == 1)
            more = true;
        else
        if (rc)
            snprintf (self->group_error, sizeof (self->group_error), "%s", err);
    }
    if (!*self->group_error) {
        int rc = dispatch_run (self, err);
        if (rc == 1)
            more = true;
        else
        if (rc)
            snprintf (self->group_error, sizeof (self->group_error), "%s", err);
    }
    if (!*self->group_error)
        workers_flush (self);
    if (!*self->group_error && waves_flush (self, err))
        snprintf (self->group_error, sizeof (self->group_error), "%s", err);
    //  The commit is timed for /metrics (wob_commit_seconds).
    bool wrote = store_dirty (self->store);
    int64_t commit_start = zclock_usecs ();
    if (!*self->group_error && store_commit (self->store, err))
        snprintf (self->group_error, sizeof (self->group_error), "%s", err);
    metrics_turn_end (self, !*self->group_error, wrote,
                      (double) (zclock_usecs () - commit_start) / 1e6);
    if (*self->group_error) {
        zsys_error ("turn rolled back: %s", self->group_error);
        //  A fold that cannot commit (a full disk) is not tried again at
        //  once: idle turns would fail, and log it, every IDLE_MS
        if (idle)
            self->fold_after = zclock_mono () + FOLD_BACKOFF_MS;
        store_abort (self->store);
        s_outbox_send (self, self->group_error);
        if (s_load (self, err))
            zsys_error ("reloading after rollback: %s", err);
        return false;
    }
    s_outbox_send (self, NULL);
    s_inflight_log (self);      //  refusals not logged yet
    return more;
}

void
broker_actor (zsock_t *pipe, void *args)
{
    broker_t self_ = { 0 }, *self = &self_;
    char err [WOB_ERRLEN] = "";
    self->pipe = pipe;
    zsock_signal (pipe, 0);         //  zactor_new waits for this
    if (s_setup (self, (broker_config_t *) args, err)) {
        zstr_send (pipe, err);
        s_teardown (self);
        return;
    }
    zstr_send (pipe, "READY");
    zsys_info ("broker ready on %s (data %s; waves: %zu in memory, %zu drained and out of it; "
               "%zu leases)", self->config.endpoint, self->config.data_dir,
               zhashx_size (self->waves), waves_retired_count (self), leases_count (self->leases));
    //  One zmq_poll over the pipe, the ROUTER, with the dashboard on
    //  libmicrohttpd's epoll descriptor (a plain fd, which zpoller cannot
    //  take), and with CurveZMQ the ZAP handler.  HTTP is served between
    //  turns, never inside one: no write transaction is open while its
    //  handlers read the broker's state.
    zmq_pollitem_t items [4] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->router), 0, ZMQ_POLLIN, 0 }
    };
    int n_items = 2, zap_item = -1;
    if (self->http)
        items [n_items++] = (zmq_pollitem_t) { NULL, http_fd (self->http), ZMQ_POLLIN, 0 };
    if (self->auth) {
        zap_item = n_items;
        items [n_items++] = (zmq_pollitem_t) { zsock_resolve (auth_zap (self->auth)), 0,
                                               ZMQ_POLLIN, 0 };
        zsys_info ("CurveZMQ on: broker public key %s", auth_public_key (self->auth));
    }
    bool more = true;
    while (!self->terminated) {
        int64_t now = zclock_mono ();
        bool folding = !more && s_fold_ready (self, now);
        long timeout = more? 0: folding? IDLE_MS: TICK_MS;
        //  Too few numbers wait for a sweep: they are drained once the
        //  broker has been quiet for DRAIN_MS
        if (!more && !folding && store_numbers_recent (self->store) && now >= self->fold_after
        &&  self->last_message + DRAIN_MS - now < timeout)
            timeout = MAX (1, self->last_message + DRAIN_MS - now);
        if (self->http)
            timeout = http_timeout (self->http, timeout);
        int rc = zmq_poll (items, n_items, timeout);
        if ((rc == -1 && errno != EINTR) || zsys_interrupted)
            break;              //  context terminated, or interrupted (as zpoller)
        if (rc > 0 && (items [0].revents & ZMQ_POLLIN)) {
            zmsg_t *msg = zmsg_recv (pipe);
            char *command = msg? zmsg_popstr (msg): NULL;
            if (!command || streq (command, "$TERM"))
                self->terminated = true;
            else
            if (streq (command, "PORT"))
                zstr_sendf (pipe, "%d", self->port);
            else
            if (streq (command, "HTTP_PORT"))      //  0 when the dashboard is off
                zstr_sendf (pipe, "%u", self->http? http_port (self->http): 0);
            else
            if (streq (command, "RELOAD")) {
                self->now = wob_now_ms () + self->clock_offset;
                if (admin_load_rules (self, err))
                    zsys_error ("rules reload refused, the rules in force stay: %s", err);
            }
            free (command);
            zmsg_destroy (&msg);
            continue;
        }
        //  Handshakes wait on the ZAP handler: answer them first
        if (zap_item >= 0 && (items [zap_item].revents & ZMQ_POLLIN))
            auth_handle_zap (self->auth);
        if (self->http)
            http_run (self->http);
        //  A turn when a message came, on the tick, or when work is left;
        //  not for every HTTP request.
        if (rc <= 0 || more || (items [1].revents & ZMQ_POLLIN)
        ||  wob_now_ms () + self->clock_offset >= self->next_tick)
            more = s_turn (self, folding && rc == 0);
    }
    zsys_info ("broker stopping: %zu leases stay recorded", leases_count (self->leases));
    zframe_destroy (&self->sender);
    s_teardown (self);
}
