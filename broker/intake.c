/*  intake.c - a wave enters the broker: begin, chunks, commit.

    A wave arrives as SubmitBegin (the descriptor), any number of
    SubmitChunk (targets, in row order) and SubmitCommit.  Each chunk is
    validated whole, routed through the channel plan and written as orders in
    the group transaction; its reply (rows durable so far) leaves only after
    the commit.  A client that lost its connection says SubmitBegin again and
    is told where to resume, so a crash on either side loses nothing and
    duplicates nothing.  Orders of a wave that is still loading sit in their
    queue runs but are not dispatched until the commit opens the wave.

    The end of a wave's window is control.c's (control_sweep).            */

#include "broker.h"

//  Chunks of at least this many targets index their numbers in bulk
//  (store_msisdn_add): a small wave's numbers go to the log of recent ones
#define INTAKE_BULK_TARGETS 1000

static bool
s_valid_wave_id (const char *id)
{
    size_t len = strlen (id);
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum ((unsigned char) id [i]) && !strchr ("._-", id [i]))
            return false;
    return true;
}

static bool
s_valid_msisdn (const char *msisdn)
{
    const char *p = *msisdn == '+'? msisdn + 1: msisdn;
    size_t len = strlen (p);
    if (len < 5 || len > 15)
        return false;
    for (; *p; p++)
        if (!isdigit ((unsigned char) *p))
            return false;
    return true;
}

static bool
s_utf8 (const char *s)
{
    return !s || wob_utf8_valid (s, strlen (s));
}

//  Names the first thing wrong with a target, or returns 0.
static int
s_check_target (Wob__Target *t, char *err)
{
    if (!*t->msisdn)
        return wob_fail (err, WOB_ERR_INVALID, "row %u: field 'msisdn' is empty", t->row);
    if (!s_valid_msisdn (t->msisdn))
        return wob_fail (err, WOB_ERR_INVALID, "row %u: field 'msisdn' value '%.32s' is not "
                         "a phone number (5-15 digits)", t->row, t->msisdn);
    if (t->n_offers == 0 || !*t->offers [0])
        return wob_fail (err, WOB_ERR_INVALID, "row %u: field 'offer' is empty", t->row);
    const char *fields [] = { t->customer_id, t->name, t->province, t->city, t->district,
                              t->grid, t->segment, t->lifecycle, t->preferred_channel };
    const char *names [] = { "customer_id", "name", "province", "city", "district", "grid",
                             "segment", "lifecycle", "preferred_channel" };
    for (size_t i = 0; i < sizeof (fields) / sizeof (fields [0]); i++)
        if (!s_utf8 (fields [i]))
            return wob_fail (err, WOB_ERR_INVALID, "row %u: field '%s' is not valid UTF-8",
                             t->row, names [i]);
    for (size_t i = 0; i < t->n_offers; i++)
        if (!s_utf8 (t->offers [i]))
            return wob_fail (err, WOB_ERR_INVALID, "row %u: field 'offer' is not valid UTF-8",
                             t->row);
    for (size_t i = 0; i < t->n_extra; i++)
        if (!s_utf8 (t->extra [i]->key) || !s_utf8 (t->extra [i]->value))
            return wob_fail (err, WOB_ERR_INVALID, "row %u: extra field '%s' is not valid "
                             "UTF-8", t->row, s_utf8 (t->extra [i]->key)? t->extra [i]->key: "?");
    return 0;
}

void
intake_begin (broker_t *self, Wob__SubmitBegin *msg)
{
    char err [WOB_ERRLEN];
    Wob__Wave *in = msg->wave;
    if (!in || !s_valid_wave_id (in->id)) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: wave id '%.64s' must be "
                      "1-64 characters of A-Z a-z 0-9 . _ -", in? in->id: "");
        return;
    }
    if (!*in->campaign) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: wave '%s' names no campaign",
                      in->id);
        return;
    }
    uint64_t limit = self->config.max_wave_targets;
    if (limit && msg->targets > limit) {
        broker_error (self, WOB__ERROR_CODE__ERR_TOO_BIG, "submit: wave '%s' has %" PRIu64
                      " targets, over this broker's limit of %" PRIu64 " per wave "
                      "(--max-wave-targets); split it into waves", in->id, msg->targets, limit);
        return;
    }
    if (plan_check (self, in, err)) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: %s", err);
        return;
    }
    if (in->end_ms && in->end_ms <= self->now) {
        char when [32];
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: wave '%s' window already "
                      "ended at %s", in->id, wob_format_time (in->end_ms, when, sizeof (when)));
        return;
    }
    wave_t *known = broker_wave (self, in->id);
    uint64_t next_row = 0;
    if (known) {
        Wob__Wave *wave = known->wave;
        if (wave->state != WOB__WAVE_STATE__WAVE_LOADING || !streq (wave->campaign, in->campaign)) {
            broker_error (self, WOB__ERROR_CODE__ERR_EXISTS, "submit: wave '%s' already exists "
                          "(campaign '%s', state %s)", wave->id, wave->campaign,
                          wob_wave_state_name (wave->state));
            return;
        }
        next_row = wave->rows;      //  resume an interrupted submission
    }
    else {
        //  Copy via pack/unpack: the stored wave is ours, msg stays the caller's.
        size_t size = wob__wave__get_packed_size (in);
        uint8_t *buf = malloc (size? size: 1);
        if (buf)
            wob__wave__pack (in, buf);
        Wob__Wave *wave = buf? wob__wave__unpack (NULL, size, buf): NULL;
        free (buf);
        if (!wave) {
            broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: wave '%s' could not "
                          "be copied (out of memory or unsupported content)", in->id);
            return;
        }
        wave->seq = store_next_wave_seq (self->store);
        wave->state = WOB__WAVE_STATE__WAVE_LOADING;
        wave->rows = 0;
        wave->swept = false;
        wave->sweep = 0;
        wave->sweep_after = 0;
        wave->created_ms = self->now;
        wob_str_set (&wave->submitted_by, self->peer? self->peer->name: "");
        if (store_wave_put (self->store, wave, err)) {
            wob__wave__free_unpacked (wave, NULL);
            broker_error (self, WOB__ERROR_CODE__ERR_STORE, "submit: %s", err);
            return;
        }
        broker_wave_add (self, wave);
        zsys_info ("wave %s (campaign %s, seq %u): loading", wave->id, wave->campaign, wave->seq);
    }
    Wob__SubmitBeginReply *body = calloc (1, sizeof (*body));
    wob__submit_begin_reply__init (body);
    body->wave = strdup (in->id);
    body->next_row = next_row;
    broker_respond (self, WOB__ENVELOPE__BODY_SUBMIT_BEGIN_REPLY, body);
}

//  Creates the order for one target; bulk: one of a big chunk.
static int
s_add_target (broker_t *self, wave_t *wave, Wob__Target *target, bool bulk, char *err)
{
    Wob__Wave *w = wave->wave;
    char why [160];
    Wob__Order order = WOB__ORDER__INIT;
    order.id = store_next_order_id (self->store);
    order.wave = w->id;
    order.campaign = w->campaign;
    order.wave_seq = w->seq;
    order.target = target;
    const Wob__PlanStep *step;
    const char *channel = plan_route (self, w, target, &step, why, sizeof (why));
    order.channel = (char *) (channel? channel: "");
    plan_fallback (step, &order);
    //  The coordination rules decide what the order becomes.
    rules_verdict_t verdict;
    int rc = rules_intake (self, wave, &order, &verdict, err);
    if (rc)
        return rc;
    char reason [480];
    if (verdict.rule) {
        rules_count_verdict (self, w->seq, &verdict);
        snprintf (reason, sizeof (reason), "%s; rule %s: %s", why, verdict.rule,
                  *verdict.reason? verdict.reason: why);
    }
    else
        snprintf (reason, sizeof (reason), "%s", why);
    rc = lifecycle_create (self, &order, verdict.to, "intake", reason, err);
    if (!rc && (verdict.to == WOB__STATE__STATE_QUEUED || verdict.to == WOB__STATE__STATE_DEFERRED))
        rc = coordinate_absorb (self, &order, err);
    free (order.merged_from);           //  the rest of order is the request's
    wob_str_free (&order.held_key);     //  set when it was held
    if (!rc)
        rc = store_msisdn_add (self->store, target->msisdn, w->seq, order.id, bulk, err);
    if (!rc)
        rc = store_wave_order_add (self->store, w->seq, order.id, err);
    return rc;
}

//  The order in which a chunk's targets become orders (and get their ids):
//  the order dispatch will lease them in, highest priority first, then by
//  row.  Dispatch takes a wave's orders by priority; with ids in row order
//  the orders of one priority are spread over the whole orders table, and
//  every lease and outcome rewrites a different page (measured: 200,000
//  orders of 9 priorities, 2.4 KB written per order against 0.9 KB with
//  one priority, 30% fewer orders/s).  A target sorts with the priority of
//  its number's first row in the chunk, so rows of one number keep their
//  order: every rule decides per number (duplicate, caps, open offer,
//  merge), so what each row becomes is as in row order; only ids differ.
//  NULL when the chunk is in that order already.
typedef struct {
    int32_t priority;
    size_t index;
} s_rank_t;

static int
s_rank_compare (const void *a, const void *b)
{
    const s_rank_t *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority? -1: 1;
    return x->index < y->index? -1: x->index > y->index;
}

static size_t *
s_dispatch_order (Wob__SubmitChunk *msg)
{
    size_t n = msg->n_targets;
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = msg->targets [i]->priority <= msg->targets [i - 1]->priority;
    if (sorted)
        return NULL;
    s_rank_t *ranks = malloc (n * sizeof (s_rank_t));
    size_t *order = malloc (n * sizeof (size_t));
    zhashx_t *first = zhashx_new ();        //  number -> its first row's rank
    if (!ranks || !order || !first) {
        free (ranks);
        free (order);
        zhashx_destroy (&first);
        return NULL;                        //  row order: slower, as correct
    }
    zhashx_set_key_duplicator (first, NULL);
    zhashx_set_key_destructor (first, NULL);
    for (size_t i = 0; i < n; i++) {
        Wob__Target *t = msg->targets [i];
        s_rank_t *seen = *t->msisdn? zhashx_lookup (first, t->msisdn): NULL;
        ranks [i] = (s_rank_t) { seen? seen->priority: t->priority, i };
        if (!seen && *t->msisdn)
            zhashx_insert (first, t->msisdn, &ranks [i]);
    }
    zhashx_destroy (&first);
    qsort (ranks, n, sizeof (s_rank_t), s_rank_compare);
    for (size_t i = 0; i < n; i++)
        order [i] = ranks [i].index;
    free (ranks);
    return order;
}

//  The wave a chunk or commit names; NULL (and an error queued) if unknown.
static wave_t *
s_begun (broker_t *self, const char *wave_id)
{
    wave_t *wave = broker_wave (self, wave_id);
    if (!wave)
        broker_error (self, WOB__ERROR_CODE__ERR_NOT_FOUND, "submit: wave '%.64s' was not "
                      "begun", wave_id);
    return wave;
}

void
intake_chunk (broker_t *self, Wob__SubmitChunk *msg)
{
    char err [WOB_ERRLEN];
    wave_t *wave = s_begun (self, msg->wave);
    if (!wave)
        return;
    Wob__Wave *w = wave->wave;
    if (w->state != WOB__WAVE_STATE__WAVE_LOADING) {
        broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "submit: wave '%s' is %s, not "
                      "loading", w->id, wob_wave_state_name (w->state));
        return;
    }
    if (msg->n_targets > self->config.max_chunk_targets) {
        broker_error (self, WOB__ERROR_CODE__ERR_TOO_BIG, "submit: chunk of %zu targets "
                      "exceeds the limit of %zu", msg->n_targets, self->config.max_chunk_targets);
        return;
    }
    //  A chunk covers rows first_row.. (rows the client skipped as bad leave
    //  holes inside a chunk, never between chunks): it must continue where
    //  the durable rows end, or repeat some of them after a lost reply.
    if (msg->first_row == 0 || msg->first_row > w->rows + 1) {
        broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "submit: wave '%s' chunk starts "
                      "at row %" PRIu64 " but only rows up to %" PRIu64 " are durable; "
                      "resubmit to resume", w->id, msg->first_row, w->rows);
        return;
    }
    //  Validate the whole chunk before writing any of it.
    uint64_t last = w->rows;
    for (size_t i = 0; i < msg->n_targets; i++) {
        Wob__Target *t = msg->targets [i];
        if (t->row < msg->first_row || (t->row <= last && t->row > w->rows)) {
            broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: wave '%s' row %u "
                          "out of order (after row %" PRIu64 ")", w->id, t->row, last);
            return;
        }
        if (t->row > last)
            last = t->row;
        //  Backstop for clients that did not say how many they send
        uint64_t limit = self->config.max_wave_targets;
        if (limit && t->row > limit) {
            broker_error (self, WOB__ERROR_CODE__ERR_TOO_BIG, "submit: wave '%s' row %u is "
                          "past this broker's limit of %" PRIu64 " targets per wave "
                          "(--max-wave-targets)", w->id, t->row, limit);
            return;
        }
        if (s_check_target (t, err)) {
            broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: wave '%s' %s", w->id, err);
            return;
        }
    }
    broker_count_targets (self, msg->n_targets);
    size_t *order = s_dispatch_order (msg);
    //  A big chunk's numbers go straight into the number index's B-tree,
    //  where they share pages; a small wave's wait in its log, cheap to
    //  write, so that the wave's first leases do not wait for them
    bool bulk = msg->n_targets >= INTAKE_BULK_TARGETS;
    for (size_t k = 0; k < msg->n_targets; k++) {
        Wob__Target *t = msg->targets [order? order [k]: k];
        if (t->row <= w->rows)
            continue;               //  already durable: a resend after a crash
        if (s_add_target (self, wave, t, bulk, err)) {
            broker_error (self, WOB__ERROR_CODE__ERR_STORE, "submit: wave '%s' row %u: %s",
                          w->id, t->row, err);
            free (order);
            return;
        }
    }
    free (order);
    //  A small wave's client sends its commit right behind its only chunk:
    //  the turn waits a moment for it rather than commit without it
    self->linger = !bulk;
    w->rows = last;
    if (store_wave_put (self->store, w, err)) {
        broker_error (self, WOB__ERROR_CODE__ERR_STORE, "submit: %s", err);
        return;
    }
    Wob__SubmitChunkReply *body = calloc (1, sizeof (*body));
    wob__submit_chunk_reply__init (body);
    body->wave = strdup (w->id);
    body->rows = last;
    broker_respond (self, WOB__ENVELOPE__BODY_SUBMIT_CHUNK_REPLY, body);
}

void
intake_commit (broker_t *self, Wob__SubmitCommit *msg)
{
    char err [WOB_ERRLEN];
    wave_t *wave = s_begun (self, msg->wave);
    if (!wave)
        return;
    Wob__Wave *w = wave->wave;
    //  A client that sends its commit without waiting for its chunks'
    //  answers says which row it sent last: the wave opens only with all
    //  of them durable
    if (w->state == WOB__WAVE_STATE__WAVE_LOADING && msg->last_row > w->rows) {
        broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "submit: wave '%s' cannot open: "
                      "rows up to %" PRIu64 " are durable, the client sent up to %" PRIu64
                      "; resubmit to resume", w->id, w->rows, msg->last_row);
        return;
    }
    if (w->state == WOB__WAVE_STATE__WAVE_LOADING) {
        w->state = WOB__WAVE_STATE__WAVE_OPEN;
        broker_waves_changed (self);
        routes_wake (self);
        if (store_wave_put (self->store, w, err)) {
            w->state = WOB__WAVE_STATE__WAVE_LOADING;
            broker_waves_changed (self);
            broker_error (self, WOB__ERROR_CODE__ERR_STORE, "submit: %s", err);
            return;
        }
        zsys_info ("wave %s: open, %" PRIu64 " rows", w->id, w->rows);
    }
    //  A repeated commit (after a lost reply) gets the same summary again.
    store_stats_t *st = &wave->stats;
    Wob__SubmitSummary *sum = calloc (1, sizeof (*sum));
    wob__submit_summary__init (sum);
    sum->wave = strdup (w->id);
    uint64_t total = 0;
    for (int s = 0; s < 16; s++)
        total += st->by_state [s];
    sum->received = total;
    sum->filtered = st->by_state [WOB__STATE__STATE_FILTERED];
    sum->control = st->by_state [WOB__STATE__STATE_CONTROL];
    sum->merged = st->by_state [WOB__STATE__STATE_MERGED];
    sum->queued = st->by_state [WOB__STATE__STATE_QUEUED];
    sum->deferred = st->by_state [WOB__STATE__STATE_DEFERRED];
    sum->accepted = total - sum->filtered;
    size_t rules = wave->rule_counts? zhashx_size (wave->rule_counts): 0;
    sum->filtered_by_rule = calloc (rules + 1, sizeof (Wob__Count *));
    sum->deferred_by_rule = calloc (rules + 1, sizeof (Wob__Count *));
    for (uint64_t *count = rules? zhashx_first (wave->rule_counts): NULL; count;
         count = zhashx_next (wave->rule_counts)) {
        const char *key = zhashx_cursor (wave->rule_counts);
        if (strncmp (key, "filtered/", 9) == 0)
            sum->filtered_by_rule [sum->n_filtered_by_rule++] = wob_count_new (key + 9, *count);
        else
        if (strncmp (key, "deferred/", 9) == 0)
            sum->deferred_by_rule [sum->n_deferred_by_rule++] = wob_count_new (key + 9, *count);
    }
    sum->by_channel = calloc (BROKER_MAX_CHANNELS, sizeof (Wob__Count *));
    for (int c = 1; c < BROKER_MAX_CHANNELS; c++)
        if (st->by_channel [c])
            sum->by_channel [sum->n_by_channel++] =
                wob_count_new (store_channel_name (self->store, (uint8_t) c), st->by_channel [c]);
    broker_respond (self, WOB__ENVELOPE__BODY_SUBMIT_SUMMARY, sum);
}
