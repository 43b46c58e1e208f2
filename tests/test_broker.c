/*  test_broker.c - the broker actor in-process, spoken to over real
    ZeroMQ sockets on tcp://127.0.0.1:* (Malamute style), with a temporary
    LMDB directory.  Checks the protocol's promises: bad frames get errors
    and change nothing, leases go to one worker, outcome reports are
    idempotent, conflicting or foreign reports are refused, retries back
    off up to the attempt limit, expired leases and lost workers give their
    orders back, and a restarted broker keeps leases and outcomes.       */

#include "broker.h"
#include "testutil.h"

typedef struct {
    zsock_t *dealer;
    uint64_t next_id;
    zlistx_t *leases;           //  Wob__LeaseItem * received
} peer_t;

static char s_endpoint [64];

static zactor_t *
s_start (broker_config_t *config)
{
    zactor_t *actor = zactor_new (broker_actor, config);
    char *status = zstr_recv (actor);
    assert (status && streq (status, "READY"));
    free (status);
    zstr_send (actor, "PORT");
    char *port = zstr_recv (actor);
    snprintf (s_endpoint, sizeof (s_endpoint), "tcp://127.0.0.1:%s", port);
    free (port);
    return actor;
}

static peer_t *
s_peer (void)
{
    peer_t *peer = calloc (1, sizeof (peer_t));
    peer->dealer = zsock_new_dealer (s_endpoint);
    zsock_set_rcvtimeo (peer->dealer, 5000);
    peer->leases = zlistx_new ();
    return peer;
}

static void
s_peer_destroy (peer_t **peer_p)
{
    peer_t *peer = *peer_p;
    for (Wob__LeaseItem *i = zlistx_first (peer->leases); i; i = zlistx_next (peer->leases))
        wob__lease_item__free_unpacked (i, NULL);
    zlistx_destroy (&peer->leases);
    zsock_destroy (&peer->dealer);
    free (peer);
    *peer_p = NULL;
}

//  Receives one envelope (5 s timeout); stashes leases, skips heartbeats.
static Wob__Envelope *
s_recv (peer_t *peer)
{
    while (true) {
        zframe_t *frame = zframe_recv (peer->dealer);
        if (!frame)
            return NULL;
        int code;
        char err [WOB_ERRLEN];
        Wob__Envelope *env = wob_msg_decode (zframe_data (frame), zframe_size (frame),
                                             SIZE_MAX, &code, err);
        zframe_destroy (&frame);
        assert (env);
        if (env->body_case == WOB__ENVELOPE__BODY_LEASES) {
            for (size_t i = 0; i < env->leases->n_items; i++) {
                //  A newer lease of the same order replaces the stale one.
                for (Wob__LeaseItem *old = zlistx_first (peer->leases); old;
                     old = zlistx_next (peer->leases))
                    if (old->order->id == env->leases->items [i]->order->id) {
                        wob__lease_item__free_unpacked (zlistx_detach_cur (peer->leases), NULL);
                        break;
                    }
                zlistx_add_end (peer->leases, env->leases->items [i]);
                env->leases->items [i] = NULL;
            }
            env->leases->n_items = 0;
        }
        if (env->body_case == WOB__ENVELOPE__BODY_LEASES
        ||  env->body_case == WOB__ENVELOPE__BODY_HEARTBEAT) {
            wob_msg_free (&env);
            continue;
        }
        return env;
    }
}

static Wob__Envelope *
s_call (peer_t *peer, Wob__Envelope *req)
{
    req->request_id = ++peer->next_id;
    wob_msg_send (peer->dealer, req);
    while (true) {
        Wob__Envelope *reply = s_recv (peer);
        if (!reply || reply->request_id == req->request_id)
            return reply;
        wob_msg_free (&reply);
    }
}

//  Sends raw bytes, returns the error code of the reply (-1 if none).
static int
s_raw (peer_t *peer, const void *data, size_t size)
{
    zframe_t *frame = zframe_new (data, size);
    zframe_send (&frame, peer->dealer, 0);
    Wob__Envelope *reply = s_recv (peer);
    int code = reply && reply->body_case == WOB__ENVELOPE__BODY_ERROR? (int) reply->error->code: -1;
    if (reply && reply->body_case == WOB__ENVELOPE__BODY_ERROR)
        printf ("  error reply: %s\n", reply->error->message);
    wob_msg_free (&reply);
    return code;
}

static int
s_error_code (Wob__Envelope *reply)
{
    return reply && reply->body_case == WOB__ENVELOPE__BODY_ERROR? (int) reply->error->code: 0;
}

//  How s_submit_as sends a wave: begin, chunk and commit each answered
//  before the next (three), all in the begin (one), or the chunk in the
//  begin and the commit after (two)
typedef enum { SUBMIT_THREE, SUBMIT_ONE, SUBMIT_TWO } submit_mode_t;

//  Submits a wave of n sms targets (msisdn 138000000i), the last one's
//  number bad_msisdn if given; returns the last answer.
static Wob__Envelope *
s_submit_as (peer_t *peer, const char *wave_id, int n, const char *bad_msisdn, submit_mode_t mode)
{
    Wob__PlanStep step = WOB__PLAN_STEP__INIT;
    step.channel = "sms";
    Wob__PlanStep *steps [] = { &step };
    Wob__Wave wave = WOB__WAVE__INIT;
    wave.id = (char *) wave_id;
    wave.campaign = "C-test";
    wave.n_plan = 1;
    wave.plan = steps;
    Wob__Target *targets = calloc (n, sizeof (Wob__Target));
    Wob__Target **ptrs = calloc (n, sizeof (Wob__Target *));
    char (*numbers) [16] = calloc (n, 16);
    char *offer = "OFR-1";
    for (int i = 0; i < n; i++) {
        wob__target__init (&targets [i]);
        snprintf (numbers [i], 16, "138%08d", i);
        targets [i].row = i + 1;
        targets [i].msisdn = bad_msisdn && i == n - 1? (char *) bad_msisdn: numbers [i];
        targets [i].n_offers = 1;
        targets [i].offers = &offer;
        targets [i].priority = 5;
        ptrs [i] = &targets [i];
    }
    Wob__SubmitChunk chunk = WOB__SUBMIT_CHUNK__INIT;
    chunk.wave = (char *) wave_id;
    chunk.first_row = 1;
    chunk.n_targets = n;
    chunk.targets = ptrs;
    Wob__SubmitCommit commit = WOB__SUBMIT_COMMIT__INIT;
    commit.wave = (char *) wave_id;
    commit.last_row = mode == SUBMIT_THREE? 0: (uint64_t) n;
    Wob__SubmitBegin begin = WOB__SUBMIT_BEGIN__INIT;
    begin.wave = &wave;
    if (mode != SUBMIT_THREE)
        begin.chunk = &chunk;
    if (mode == SUBMIT_ONE)
        begin.commit = &commit;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_SUBMIT_BEGIN;
    req.submit_begin = &begin;
    Wob__Envelope *reply = s_call (peer, &req);
    if (mode == SUBMIT_THREE && !s_error_code (reply)) {
        wob_msg_free (&reply);
        req.body_case = WOB__ENVELOPE__BODY_SUBMIT_CHUNK;
        req.submit_chunk = &chunk;
        reply = s_call (peer, &req);
    }
    if (mode != SUBMIT_ONE && !s_error_code (reply)) {
        wob_msg_free (&reply);
        req.body_case = WOB__ENVELOPE__BODY_SUBMIT_COMMIT;
        req.submit_commit = &commit;
        reply = s_call (peer, &req);
    }
    free (targets);
    free (ptrs);
    free (numbers);
    return reply;
}

static Wob__Envelope *
s_submit (peer_t *peer, const char *wave_id, int n, const char *bad_msisdn)
{
    return s_submit_as (peer, wave_id, n, bad_msisdn, SUBMIT_THREE);
}

//  The wave's state by name ("" when the broker does not know it)
static const char *
s_wave_state (peer_t *peer, const char *wave_id)
{
    Wob__StatusQuery query = WOB__STATUS_QUERY__INIT;
    query.wave = (char *) wave_id;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_STATUS_QUERY;
    req.status_query = &query;
    Wob__Envelope *reply = s_call (peer, &req);
    static char state [32];
    snprintf (state, sizeof (state), "%s", reply && reply->body_case ==
              WOB__ENVELOPE__BODY_WAVE_STATUS? wob_wave_state_name (reply->wave_status->wave->state): "");
    wob_msg_free (&reply);
    return state;
}

//  A small wave in one request: begin, chunk and commit in one message,
//  answered by the summary; a bad row refuses all of it, leaving no wave.
static void
test_one_request (peer_t *client)
{
    printf ("a small wave in one request\n");
    Wob__Envelope *reply = s_submit_as (client, "W-one-bad", 4, "12ab", SUBMIT_ONE);
    CHECK_MSG (s_error_code (reply) == WOB__ERROR_CODE__ERR_INVALID
               && strstr (reply->error->message, "row 4"), "a bad row names itself");
    wob_msg_free (&reply);
    CHECK_MSG (streq (s_wave_state (client, "W-one-bad"), ""),
               "and its wave was not begun (state '%s')", s_wave_state (client, "W-one-bad"));
    reply = s_submit_as (client, "W-one", 4, NULL, SUBMIT_ONE);
    CHECK_MSG (reply && reply->body_case == WOB__ENVELOPE__BODY_SUBMIT_SUMMARY
               && reply->submit_summary->received == 4,
               "one request: the summary of its 4 orders");
    wob_msg_free (&reply);
    CHECK_MSG (streq (s_wave_state (client, "W-one"), "open"), "the wave is open (%s)",
               s_wave_state (client, "W-one"));
    reply = s_submit_as (client, "W-one", 4, NULL, SUBMIT_ONE);
    CHECK_MSG (s_error_code (reply) == WOB__ERROR_CODE__ERR_EXISTS, "sent again: exists");
    wob_msg_free (&reply);
    //  The chunk with the begin, the commit on its own
    reply = s_submit_as (client, "W-two", 3, NULL, SUBMIT_TWO);
    CHECK_MSG (reply && reply->body_case == WOB__ENVELOPE__BODY_SUBMIT_SUMMARY
               && reply->submit_summary->received == 3, "begin with its chunk, then the commit");
    wob_msg_free (&reply);
}

static bool s_history_has (Wob__Order *order, const char *text);

//  A target list of one row for a chunk.
static Wob__Envelope *
s_chunk (peer_t *peer, const char *wave_id, uint32_t row, const char *msisdn)
{
    char *offer = "OFR-1";
    Wob__Target target = WOB__TARGET__INIT;
    target.row = row;
    target.msisdn = (char *) msisdn;
    target.n_offers = 1;
    target.offers = &offer;
    Wob__Target *ptrs [] = { &target };
    Wob__SubmitChunk chunk = WOB__SUBMIT_CHUNK__INIT;
    chunk.wave = (char *) wave_id;
    chunk.first_row = row;
    chunk.n_targets = 1;
    chunk.targets = ptrs;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_SUBMIT_CHUNK;
    req.submit_chunk = &chunk;
    return s_call (peer, &req);
}

//  Rows that arrive after the wave's window closed are filtered, and the
//  open orders of the ended wave expire (the test clock jumps past the end).
static void
test_wave_ended (peer_t *client)
{
    printf ("wave window ends during loading\n");
    Wob__PlanStep step = WOB__PLAN_STEP__INIT;
    step.channel = "visit";
    Wob__PlanStep *steps [] = { &step };
    Wob__Wave wave = WOB__WAVE__INIT;
    wave.id = "W-end";
    wave.campaign = "C-end";
    wave.end_ms = wob_now_ms () + 60000;
    wave.n_plan = 1;
    wave.plan = steps;
    Wob__SubmitBegin begin = WOB__SUBMIT_BEGIN__INIT;
    begin.wave = &wave;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_SUBMIT_BEGIN;
    req.submit_begin = &begin;
    Wob__Envelope *reply = s_call (client, &req);
    wob_msg_free (&reply);
    reply = s_chunk (client, "W-end", 1, "13812340001");
    CHECK_MSG (reply && reply->body_case == WOB__ENVELOPE__BODY_SUBMIT_CHUNK_REPLY, "first row in time");
    wob_msg_free (&reply);
    Wob__ClockSet set = WOB__CLOCK_SET__INIT;
    set.advance_ms = 120000;
    req.body_case = WOB__ENVELOPE__BODY_CLOCK_SET;
    req.clock_set = &set;
    reply = s_call (client, &req);
    CHECK_MSG (reply && reply->body_case == WOB__ENVELOPE__BODY_CLOCK_INFO, "test clock moved");
    wob_msg_free (&reply);
    reply = s_chunk (client, "W-end", 2, "13812340002");
    wob_msg_free (&reply);
    Wob__StatusQuery query = WOB__STATUS_QUERY__INIT;
    query.msisdn = "13812340002";
    req.body_case = WOB__ENVELOPE__BODY_STATUS_QUERY;
    req.status_query = &query;
    reply = s_call (client, &req);
    Wob__Order *late = reply && reply->body_case == WOB__ENVELOPE__BODY_ORDER_LIST
                    && reply->order_list->n_orders == 1? reply->order_list->orders [0]: NULL;
    CHECK_MSG (late && late->state == WOB__STATE__STATE_FILTERED
               && s_history_has (late, "rule wave_ended"), "late row filtered by wave_ended");
    wob_msg_free (&reply);
}

static Wob__Envelope *
s_hello (peer_t *peer, const char *name, uint32_t capacity, uint64_t *holding, size_t n_holding)
{
    Wob__Hello hello = WOB__HELLO__INIT;
    hello.worker = (char *) name;
    hello.channel = "sms";
    hello.capacity = capacity;
    hello.holding = holding;
    hello.n_holding = n_holding;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_HELLO;
    req.hello = &hello;
    return s_call (peer, &req);
}

static void
s_heartbeat (peer_t *peer)
{
    Wob__Heartbeat beat = WOB__HEARTBEAT__INIT;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_HEARTBEAT;
    req.heartbeat = &beat;
    req.request_id = ++peer->next_id;
    wob_msg_send (peer->dealer, &req);
}

//  Reports one outcome; returns the item result (caller frees envelope).
static Wob__Envelope *
s_report (peer_t *peer, uint64_t id, uint32_t attempt, int outcome)
{
    Wob__OutcomeItem item = WOB__OUTCOME_ITEM__INIT;
    item.order_id = id;
    item.attempt = attempt;
    item.outcome = outcome;
    item.note = "test";
    Wob__OutcomeItem *items [] = { &item };
    Wob__OutcomeReport report = WOB__OUTCOME_REPORT__INIT;
    report.n_items = 1;
    report.items = items;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_OUTCOME_REPORT;
    req.outcome_report = &report;
    return s_call (peer, &req);
}

static int
s_report_code (peer_t *peer, uint64_t id, uint32_t attempt, int outcome, bool *duplicate)
{
    Wob__Envelope *reply = s_report (peer, id, attempt, outcome);
    int code = -1;
    if (reply && reply->body_case == WOB__ENVELOPE__BODY_OUTCOME_ACK
    &&  reply->outcome_ack->n_results == 1) {
        code = reply->outcome_ack->results [0]->code;
        if (duplicate)
            *duplicate = reply->outcome_ack->results [0]->duplicate;
        printf ("  report %" PRIu64 "/%u: %s\n", id, attempt, reply->outcome_ack->results [0]->message);
    }
    else
    if (reply && reply->body_case == WOB__ENVELOPE__BODY_ERROR)
        code = 1000 + reply->error->code;
    wob_msg_free (&reply);
    return code;
}

static Wob__Order *
s_order (peer_t *peer, uint64_t id)
{
    Wob__StatusQuery query = WOB__STATUS_QUERY__INIT;
    query.order_id = id;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_STATUS_QUERY;
    req.status_query = &query;
    Wob__Envelope *reply = s_call (peer, &req);
    Wob__Order *order = NULL;
    if (reply && reply->body_case == WOB__ENVELOPE__BODY_ORDER_LIST
    &&  reply->order_list->n_orders == 1) {
        order = reply->order_list->orders [0];
        reply->order_list->n_orders = 0;
    }
    wob_msg_free (&reply);
    return order;
}

static bool
s_history_has (Wob__Order *order, const char *text)
{
    for (size_t i = 0; i < order->n_history; i++)
        if (strstr (order->history [i]->reason, text))
            return true;
    return false;
}

//  Waits (polling the peer, heartbeating) until it holds n leases.
static bool
s_await_leases (peer_t *peer, size_t n, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    zsock_set_rcvtimeo (peer->dealer, 100);
    do {
        s_heartbeat (peer);
        Wob__Envelope *env = s_recv (peer);
        wob_msg_free (&env);
    } while (zlistx_size (peer->leases) < n && zclock_mono () < deadline);
    zsock_set_rcvtimeo (peer->dealer, 5000);
    return zlistx_size (peer->leases) >= n;
}

static Wob__LeaseItem *
s_take (peer_t *peer)
{
    return zlistx_detach (peer->leases, NULL);
}

//  Takes a lease the broker still considers current (skips stale ones).
static Wob__LeaseItem *
s_take_current (peer_t *peer, peer_t *client, const char *name)
{
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline) {
        s_await_leases (peer, 1, 500);
        Wob__LeaseItem *item = s_take (peer);
        if (!item)
            continue;
        Wob__Order *order = s_order (client, item->order->id);
        bool current = order && order->state == WOB__STATE__STATE_DISPATCHED
                    && streq (order->worker, name) && order->attempts == item->order->attempts;
        if (order)
            wob__order__free_unpacked (order, NULL);
        if (current)
            return item;
        wob__lease_item__free_unpacked (item, NULL);
    }
    return NULL;
}

static void
test_bad_frames (peer_t *peer)
{
    printf ("bad frames\n");
    CHECK_MSG (s_raw (peer, "\xff\xff\xff garbage", 12) == WOB__ERROR_CODE__ERR_DECODE, "garbage");
    //  A valid envelope cut short
    Wob__StatusQuery query = WOB__STATUS_QUERY__INIT;
    query.wave = "some-long-wave-name-to-make-it-longer";
    Wob__Envelope env = WOB__ENVELOPE__INIT;
    env.body_case = WOB__ENVELOPE__BODY_STATUS_QUERY;
    env.status_query = &query;
    env.version = WOB_PROTOCOL_VERSION;
    uint8_t buf [256];
    size_t size = wob__envelope__pack (&env, buf);
    CHECK_MSG (s_raw (peer, buf, size - 10) == WOB__ERROR_CODE__ERR_DECODE, "truncated");
    env.version = 2;
    size = wob__envelope__pack (&env, buf);
    CHECK_MSG (s_raw (peer, buf, size) == WOB__ERROR_CODE__ERR_VERSION, "version 2");
    Wob__Envelope empty = WOB__ENVELOPE__INIT;
    empty.version = WOB_PROTOCOL_VERSION;
    size = wob__envelope__pack (&empty, buf);
    CHECK_MSG (s_raw (peer, buf, size) == WOB__ERROR_CODE__ERR_UNKNOWN, "no body");
    //  A reply type sent as a request
    Wob__Welcome welcome = WOB__WELCOME__INIT;
    Wob__Envelope odd = WOB__ENVELOPE__INIT;
    odd.version = WOB_PROTOCOL_VERSION;
    odd.body_case = WOB__ENVELOPE__BODY_WELCOME;
    odd.welcome = &welcome;
    size = wob__envelope__pack (&odd, buf);
    CHECK_MSG (s_raw (peer, buf, size) == WOB__ERROR_CODE__ERR_UNKNOWN, "unknown command");
    //  Over the 64 KiB limit of this test broker
    size_t big = 100 * 1024;
    uint8_t *large = calloc (1, big);
    CHECK_MSG (s_raw (peer, large, big) == WOB__ERROR_CODE__ERR_TOO_BIG, "oversize");
    free (large);
    //  Two frames
    zstr_sendm (peer->dealer, "a");
    zstr_send (peer->dealer, "b");
    Wob__Envelope *reply = s_recv (peer);
    CHECK_MSG (s_error_code (reply) == WOB__ERROR_CODE__ERR_DECODE, "two frames");
    wob_msg_free (&reply);
    //  Worker commands without hello
    CHECK_MSG (s_report_code (peer, 1, 1, WOB__OUTCOME__OUTCOME_DELIVERED, NULL)
               == 1000 + WOB__ERROR_CODE__ERR_SESSION, "outcome before hello");
    //  The broker carries on and nothing changed
    Wob__Order *order = s_order (peer, 1);
    CHECK_MSG (order == NULL, "no order was created by bad frames");
    if (order)
        wob__order__free_unpacked (order, NULL);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    testutil_init ("test_broker");
    if (!testutil_mkdtemp ())
        return 1;
    broker_config_t config = {
        .endpoint = "tcp://127.0.0.1:*", .data_dir = testutil.dir, .heartbeat_ms = 100,
        .worker_timeout_ms = 2000, .restart_grace_ms = 2000, .max_message = 64 * 1024, .max_chunk_targets = 1000,
        .dispatch_batch = 100, .lease_ms = 2500, .max_attempts = 2, .backoff_ms = 50,
        .test_clock = true, .plain = true
    };
    zactor_t *broker = s_start (&config);
    peer_t *client = s_peer ();
    test_bad_frames (client);

    printf ("submit\n");
    Wob__Envelope *reply = s_submit (client, "W-bad", 3, "12ab");
    CHECK_MSG (s_error_code (reply) == WOB__ERROR_CODE__ERR_INVALID
               && strstr (reply->error->message, "row 3"), "bad msisdn names the row");
    wob_msg_free (&reply);
    {
        //  A commit sent ahead of its chunks' answers names the last row it
        //  sent: W-bad's chunk was refused, so it must not open
        Wob__SubmitCommit commit = WOB__SUBMIT_COMMIT__INIT;
        commit.wave = "W-bad";
        commit.last_row = 3;
        Wob__Envelope req = WOB__ENVELOPE__INIT;
        req.body_case = WOB__ENVELOPE__BODY_SUBMIT_COMMIT;
        req.submit_commit = &commit;
        reply = s_call (client, &req);
        CHECK_MSG (s_error_code (reply) == WOB__ERROR_CODE__ERR_CONFLICT
                   && strstr (reply->error->message, "rows up to 0 are durable, the client sent "
                              "up to 3"), "a commit ahead of a refused chunk does not open the wave");
        wob_msg_free (&reply);
    }
    reply = s_submit (client, "W1", 6, NULL);
    CHECK_MSG (reply && reply->body_case == WOB__ENVELOPE__BODY_SUBMIT_SUMMARY
               && reply->submit_summary->accepted == 6, "wave of 6 accepted");
    wob_msg_free (&reply);
    reply = s_submit (client, "W1", 6, NULL);
    CHECK_MSG (s_error_code (reply) == WOB__ERROR_CODE__ERR_EXISTS, "same wave twice refused");
    wob_msg_free (&reply);

    printf ("leases and outcomes\n");
    peer_t *w1 = s_peer (), *w2 = s_peer ();
    reply = s_hello (w1, "sms-a", 2, NULL, 0);
    CHECK_MSG (reply && reply->body_case == WOB__ENVELOPE__BODY_WELCOME, "welcome");
    wob_msg_free (&reply);
    CHECK_MSG (s_await_leases (w1, 2, 3000), "worker gets leases up to its capacity");
    zclock_sleep (200);
    s_await_leases (w1, 3, 200);
    CHECK_MSG (zlistx_size (w1->leases) == 2, "never more than capacity (%zu)", zlistx_size (w1->leases));
    {
        //  A worker whose welcome was slow says hello again on the same
        //  connection before its first leases arrive: that is not a new
        //  session, and the leases on their way to it stay its own
        reply = s_hello (w1, "sms-a", 2, NULL, 0);
        CHECK_MSG (reply && reply->body_case == WOB__ENVELOPE__BODY_WELCOME
                   && reply->welcome->n_revoked == 0, "hello again is welcomed");
        wob_msg_free (&reply);
        size_t kept = 0;
        for (Wob__LeaseItem *i = zlistx_first (w1->leases); i; i = zlistx_next (w1->leases)) {
            Wob__Order *o = s_order (client, i->order->id);
            kept += o && o->state == WOB__STATE__STATE_DISPATCHED && o->attempts == 1
                    && streq (o->worker, "sms-a") && !s_history_has (o, "reconnected");
            wob__order__free_unpacked (o, NULL);
        }
        CHECK_MSG (kept == 2, "hello again on the same connection keeps the leases (%zu of 2)", kept);
        s_await_leases (w1, 3, 200);
        CHECK_MSG (zlistx_size (w1->leases) == 2, "and grants nothing twice (%zu)",
                   zlistx_size (w1->leases));
    }
    Wob__LeaseItem *a = s_take (w1), *b = s_take (w1);
    bool dup = false;
    CHECK_MSG (s_report_code (w1, a->order->id, a->order->attempts, WOB__OUTCOME__OUTCOME_DELIVERED, &dup) == 0
               && !dup, "outcome recorded");
    CHECK_MSG (s_report_code (w1, a->order->id, a->order->attempts, WOB__OUTCOME__OUTCOME_DELIVERED, &dup) == 0
               && dup, "same report twice is a no-op");
    CHECK_MSG (s_report_code (w1, a->order->id, a->order->attempts, WOB__OUTCOME__OUTCOME_DECLINED, NULL)
               == WOB__ERROR_CODE__ERR_CONFLICT, "conflicting report refused");
    CHECK_MSG (s_report_code (w1, 999999, 1, WOB__OUTCOME__OUTCOME_DELIVERED, NULL)
               == WOB__ERROR_CODE__ERR_NOT_FOUND, "unknown order refused");
    reply = s_hello (w2, "sms-b", 1, NULL, 0);
    wob_msg_free (&reply);
    CHECK_MSG (s_report_code (w2, b->order->id, b->order->attempts, WOB__OUTCOME__OUTCOME_DELIVERED, NULL)
               == WOB__ERROR_CODE__ERR_NOT_HOLDER, "report by a non-holder refused");
    Wob__Order *order = s_order (client, a->order->id);
    CHECK_MSG (order && order->state == WOB__STATE__STATE_DONE && order->outcome == WOB__OUTCOME__OUTCOME_DELIVERED,
               "order done with its outcome");
    size_t done_entries = 0;
    for (size_t i = 0; order && i < order->n_history; i++)
        done_entries += order->history [i]->to == WOB__STATE__STATE_DONE;
    CHECK_MSG (done_entries == 1, "done exactly once in history");
    wob__order__free_unpacked (order, NULL);

    printf ("retry with back-off up to the attempt limit\n");
    uint64_t id = b->order->id;
    CHECK_MSG (s_report_code (w1, id, 1, WOB__OUTCOME__OUTCOME_FAILED, NULL) == 0, "failure recorded");
    order = s_order (client, id);
    CHECK_MSG (order && order->state == WOB__STATE__STATE_RETRY, "retry state");
    wob__order__free_unpacked (order, NULL);
    //  It comes back (to either worker) with attempt 2.
    Wob__LeaseItem *again = NULL;
    peer_t *holder = NULL;
    int64_t deadline = zclock_mono () + 5000;
    while (!again && zclock_mono () < deadline) {
        peer_t *peers [] = { w1, w2 };
        for (int p = 0; p < 2 && !again; p++) {
            s_await_leases (peers [p], 1, 100);
            for (Wob__LeaseItem *i = zlistx_first (peers [p]->leases); i;
                 i = zlistx_next (peers [p]->leases))
                if (i->order->id == id) {
                    again = zlistx_detach_cur (peers [p]->leases);
                    holder = peers [p];
                    break;
                }
        }
    }
    CHECK_MSG (again && again->order->attempts == 2, "retried as attempt 2");
    if (again) {
        CHECK_MSG (s_report_code (holder, id, 2, WOB__OUTCOME__OUTCOME_FAILED, NULL) == 0, "second failure");
        order = s_order (client, id);
        CHECK_MSG (order && order->state == WOB__STATE__STATE_FAILED && order->attempts == 2
                   && s_history_has (order, "attempt limit 2"), "failed after the attempt limit");
        wob__order__free_unpacked (order, NULL);
        wob__lease_item__free_unpacked (again, NULL);
    }

    printf ("extend and expiry\n");
    //  Only w1 from here on, so returned orders come back to it.
    Wob__Bye bye = WOB__BYE__INIT;
    Wob__Envelope bye_req = WOB__ENVELOPE__INIT;
    bye_req.body_case = WOB__ENVELOPE__BODY_BYE;
    bye_req.bye = &bye;
    wob_msg_send (w2->dealer, &bye_req);
    //  w1 has credit again; take one, extend it, let another expire.
    Wob__LeaseItem *c = s_take_current (w1, client, "sms-a");
    CHECK_MSG (c != NULL, "lease for extension");
    if (c) {
        Wob__ExtendLease extend = WOB__EXTEND_LEASE__INIT;
        uint64_t ids [] = { c->order->id };
        extend.order_ids = ids;
        extend.n_order_ids = 1;
        extend.extra_ms = 60000;
        Wob__Envelope req = WOB__ENVELOPE__INIT;
        req.body_case = WOB__ENVELOPE__BODY_EXTEND_LEASE;
        req.extend_lease = &extend;
        reply = s_call (w1, &req);
        CHECK_MSG (reply && reply->body_case == WOB__ENVELOPE__BODY_EXTEND_ACK
                   && reply->extend_ack->results [0]->code == 0, "lease extended");
        wob_msg_free (&reply);
    }
    Wob__LeaseItem *d = s_take_current (w1, client, "sms-a");
    CHECK_MSG (d != NULL, "lease to let expire");
    if (d) {
        //  Keep heartbeating but never report: the lease must come back.
        Wob__LeaseItem *back = NULL;
        deadline = zclock_mono () + 6000;
        while (!back && zclock_mono () < deadline) {
            s_await_leases (w1, 1, 200);
            Wob__LeaseItem *i;
            while (!back && (i = s_take (w1))) {
                if (i->order->id == d->order->id)
                    back = i;
                else {
                    //  Another queued order took the credit: finish it.
                    s_report_code (w1, i->order->id, i->order->attempts,
                                   WOB__OUTCOME__OUTCOME_DELIVERED, NULL);
                    wob__lease_item__free_unpacked (i, NULL);
                }
            }

        }
        CHECK_MSG (back && back->order->attempts == d->order->attempts + 1, "expired lease re-leased");
        CHECK_MSG (s_report_code (w1, d->order->id, d->order->attempts, WOB__OUTCOME__OUTCOME_DELIVERED, NULL)
                   == WOB__ERROR_CODE__ERR_NOT_HOLDER, "report for the expired attempt refused");
        order = s_order (client, d->order->id);
        CHECK_MSG (order && s_history_has (order, "lease expired"), "expiry in history");
        wob__order__free_unpacked (order, NULL);
        if (back)
            wob__lease_item__free_unpacked (back, NULL);
        wob__lease_item__free_unpacked (d, NULL);
    }
    //  c's extended lease survived the 2.5 s lease time.
    if (c) {
        order = s_order (client, c->order->id);
        CHECK_MSG (order && order->state == WOB__STATE__STATE_DISPATCHED
                   && order->attempts == c->order->attempts && s_history_has (order, "lease extended"),
                   "extended lease still held");
        for (size_t i = 0; order && testutil.failed && i < order->n_history; i++)
            printf ("    %s -> %s by %s: %s\n", wob_state_name (order->history [i]->from),
                    wob_state_name (order->history [i]->to), order->history [i]->actor,
                    order->history [i]->reason);
        wob__order__free_unpacked (order, NULL);
    }

    printf ("restart keeps leases and outcomes\n");
    zactor_destroy (&broker);
    broker = s_start (&config);
    s_peer_destroy (&w1);
    s_peer_destroy (&client);
    client = s_peer ();
    w1 = s_peer ();
    order = s_order (client, a->order->id);
    CHECK_MSG (order && order->state == WOB__STATE__STATE_DONE, "outcome survived restart");
    wob__order__free_unpacked (order, NULL);
    if (c) {
        uint64_t holding [] = { c->order->id };
        reply = s_hello (w1, "sms-a", 2, holding, 1);
        CHECK_MSG (reply && reply->body_case == WOB__ENVELOPE__BODY_WELCOME
                   && reply->welcome->n_revoked == 0, "lease kept across restart");
        wob_msg_free (&reply);
        CHECK_MSG (s_report_code (w1, c->order->id, c->order->attempts, WOB__OUTCOME__OUTCOME_ACCEPTED, NULL) == 0,
                   "report after restart accepted");
        wob__lease_item__free_unpacked (c, NULL);
    }

    printf ("lost worker\n");
    //  w2 (old session on the old broker) is gone; w1 takes leases and goes silent.
    Wob__LeaseItem *e = s_take_current (w1, client, "sms-a");
    CHECK_MSG (e != NULL, "lease before going silent");
    if (e) {
        deadline = zclock_mono () + 5000;
        bool requeued = false;
        while (!requeued && zclock_mono () < deadline) {
            zclock_sleep (100);
            order = s_order (client, e->order->id);
            requeued = order && s_history_has (order, "worker lost");
            wob__order__free_unpacked (order, NULL);
        }
        CHECK_MSG (requeued, "silent worker's lease returned");
        wob__lease_item__free_unpacked (e, NULL);
    }
    wob__lease_item__free_unpacked (a, NULL);
    wob__lease_item__free_unpacked (b, NULL);
    s_peer_destroy (&w1);
    s_peer_destroy (&w2);
    test_wave_ended (client);
    test_one_request (client);
    s_peer_destroy (&client);
    zactor_destroy (&broker);
    return testutil_finish ();
}
