/*  intake.c - a wave enters the broker: begin, chunks, commit.

    A wave arrives as SubmitBegin (the descriptor), any number of
    SubmitChunk (targets, in row order) and SubmitCommit; a small wave as
    one SubmitBegin that carries its only chunk and its commit, so that it
    opens in the transaction that stores its rows.  Each chunk is
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

//  Checks a wave's descriptor: 0, or -1 with an error queued.
static int
s_wave_check (broker_t *self, Wob__SubmitBegin *msg)
{
    char err [WOB_ERRLEN];
    Wob__Wave *in = msg->wave;
    if (!in || !s_valid_wave_id (in->id)) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: wave id '%.64s' must be "
                      "1-64 characters of A-Z a-z 0-9 . _ -", in? in->id: "");
        return -1;
    }
    if (!*in->campaign) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: wave '%s' names no campaign",
                      in->id);
        return -1;
    }
    uint64_t limit = self->config.max_wave_targets;
    if (limit && msg->targets > limit) {
        broker_error (self, WOB__ERROR_CODE__ERR_TOO_BIG, "submit: wave '%s' has %" PRIu64
                      " targets, over this broker's limit of %" PRIu64 " per wave "
                      "(--max-wave-targets); split it into waves", in->id, msg->targets, limit);
        return -1;
    }
    if (plan_check (self, in, err)) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: %s", err);
        return -1;
    }
    if (in->end_ms && in->end_ms <= self->now) {
        char when [32];
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: wave '%s' window already "
                      "ended at %s", in->id, wob_format_time (in->end_ms, when, sizeof (when)));
        return -1;
    }
    return 0;
}

//  Begins a wave checked by s_wave_check (or finds the one to resume): its
//  reply, or NULL with an error queued.
static Wob__SubmitBeginReply *
s_begin (broker_t *self, Wob__SubmitBegin *msg, wave_t **wave_p)
{
    char err [WOB_ERRLEN];
    Wob__Wave *in = msg->wave;
    wave_t *known = broker_wave (self, in->id);
    *wave_p = known;
    uint64_t next_row = 0;
    if (known) {
        Wob__Wave *wave = known->wave;
        if (wave->state != WOB__WAVE_STATE__WAVE_LOADING || !streq (wave->campaign, in->campaign)) {
            broker_error (self, WOB__ERROR_CODE__ERR_EXISTS, "submit: wave '%s' already exists "
                          "(campaign '%s', state %s)", wave->id, wave->campaign,
                          wob_wave_state_name (wave->state));
            return NULL;
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
            return NULL;
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
            return NULL;
        }
        if (!(*wave_p = broker_wave_add (self, wave, err))) {
            //  Stored but not in memory: this turn must not commit
            snprintf (self->group_error, sizeof (self->group_error), "%s", err);
            broker_error (self, WOB__ERROR_CODE__ERR_STORE, "submit: %s", err);
            return NULL;
        }
        zsys_info ("wave %s (campaign %s, seq %u): loading", wave->id, wave->campaign, wave->seq);
    }
    Wob__SubmitBeginReply *body = calloc (1, sizeof (*body));
    wob__submit_begin_reply__init (body);
    body->wave = strdup (in->id);
    body->next_row = next_row;
    return body;
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

//  Checks a chunk whole, before any of it is written: its rows continue
//  the durable ones (durable: rows the wave holds), within the limits,
//  every target valid.  0 with *last_p its last row, or -1 with an error
//  queued.
static int
s_chunk_check (broker_t *self, const char *wave_id, uint64_t durable, Wob__SubmitChunk *msg,
               uint64_t *last_p)
{
    char err [WOB_ERRLEN];
    if (msg->n_targets > self->config.max_chunk_targets) {
        broker_error (self, WOB__ERROR_CODE__ERR_TOO_BIG, "submit: chunk of %zu targets "
                      "exceeds the limit of %zu", msg->n_targets, self->config.max_chunk_targets);
        return -1;
    }
    //  A chunk covers rows first_row.. (rows the client skipped as bad leave
    //  holes inside a chunk, never between chunks): it must continue where
    //  the durable rows end, or repeat some of them after a lost reply.
    if (msg->first_row == 0 || msg->first_row > durable + 1) {
        broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "submit: wave '%s' chunk starts "
                      "at row %" PRIu64 " but only rows up to %" PRIu64 " are durable; "
                      "resubmit to resume", wave_id, msg->first_row, durable);
        return -1;
    }
    //  Validate the whole chunk before writing any of it.
    uint64_t last = durable;
    for (size_t i = 0; i < msg->n_targets; i++) {
        Wob__Target *t = msg->targets [i];
        if (t->row < msg->first_row || (t->row <= last && t->row > durable)) {
            broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: wave '%s' row %u "
                          "out of order (after row %" PRIu64 ")", wave_id, t->row, last);
            return -1;
        }
        if (t->row > last)
            last = t->row;
        //  Backstop for clients that did not say how many they send
        uint64_t limit = self->config.max_wave_targets;
        if (limit && t->row > limit) {
            broker_error (self, WOB__ERROR_CODE__ERR_TOO_BIG, "submit: wave '%s' row %u is "
                          "past this broker's limit of %" PRIu64 " targets per wave "
                          "(--max-wave-targets)", wave_id, t->row, limit);
            return -1;
        }
        if (s_check_target (t, err)) {
            broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "submit: wave '%s' %s", wave_id, err);
            return -1;
        }
    }
    *last_p = last;
    return 0;
}

//  Writes a checked chunk: its reply, or NULL with an error queued.
static Wob__SubmitChunkReply *
s_chunk_write (broker_t *self, wave_t *wave, Wob__SubmitChunk *msg, uint64_t last)
{
    char err [WOB_ERRLEN];
    Wob__Wave *w = wave->wave;
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
            return NULL;
        }
    }
    free (order);
    w->rows = last;
    if (store_wave_put (self->store, w, err)) {
        broker_error (self, WOB__ERROR_CODE__ERR_STORE, "submit: %s", err);
        return NULL;
    }
    Wob__SubmitChunkReply *body = calloc (1, sizeof (*body));
    wob__submit_chunk_reply__init (body);
    body->wave = strdup (w->id);
    body->rows = last;
    return body;
}

void
intake_chunk (broker_t *self, Wob__SubmitChunk *msg)
{
    wave_t *wave = s_begun (self, msg->wave);
    if (!wave)
        return;
    Wob__Wave *w = wave->wave;
    if (w->state != WOB__WAVE_STATE__WAVE_LOADING) {
        broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "submit: wave '%s' is %s, not "
                      "loading", w->id, wob_wave_state_name (w->state));
        return;
    }
    uint64_t last;
    if (s_chunk_check (self, w->id, w->rows, msg, &last))
        return;
    Wob__SubmitChunkReply *body = s_chunk_write (self, wave, msg, last);
    if (body)
        broker_respond (self, WOB__ENVELOPE__BODY_SUBMIT_CHUNK_REPLY, body);
}

//  Opens a wave whose rows up to last_row are durable: its summary, or
//  NULL with an error queued.
static Wob__SubmitSummary *
s_commit (broker_t *self, wave_t *wave, uint64_t last_row)
{
    char err [WOB_ERRLEN];
    Wob__Wave *w = wave->wave;
    //  A client that sends its commit without waiting for its chunks'
    //  answers says which row it sent last: the wave opens only with all
    //  of them durable
    if (w->state == WOB__WAVE_STATE__WAVE_LOADING && last_row > w->rows) {
        broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "submit: wave '%s' cannot open: "
                      "rows up to %" PRIu64 " are durable, the client sent up to %" PRIu64
                      "; resubmit to resume", w->id, w->rows, last_row);
        return NULL;
    }
    if (w->state == WOB__WAVE_STATE__WAVE_LOADING) {
        w->state = WOB__WAVE_STATE__WAVE_OPEN;
        broker_waves_changed (self);
        routes_wake (self);
        if (store_wave_put (self->store, w, err)) {
            w->state = WOB__WAVE_STATE__WAVE_LOADING;
            broker_waves_changed (self);
            broker_error (self, WOB__ERROR_CODE__ERR_STORE, "submit: %s", err);
            return NULL;
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
    return sum;
}

void
intake_commit (broker_t *self, Wob__SubmitCommit *msg)
{
    wave_t *wave = s_begun (self, msg->wave);
    Wob__SubmitSummary *sum = wave? s_commit (self, wave, msg->last_row): NULL;
    if (sum)
        broker_respond (self, WOB__ENVELOPE__BODY_SUBMIT_SUMMARY, sum);
}

//  A wave's begin, and with it a small wave's only chunk and its commit:
//  one request, answered by its last step (the chunk's reply, or the
//  summary).  The chunk is checked whole before the wave is begun, so a
//  refused one leaves nothing behind.
void
intake_begin (broker_t *self, Wob__SubmitBegin *msg)
{
    Wob__SubmitChunk *chunk = msg->chunk;
    uint64_t last = 0;
    if (s_wave_check (self, msg))
        return;
    if (chunk) {
        wave_t *known = broker_wave (self, msg->wave->id);
        if (s_chunk_check (self, msg->wave->id, known? known->wave->rows: 0, chunk, &last))
            return;
    }
    //  A wave begun here is loading: new, or one to resume
    wave_t *wave = NULL;
    Wob__SubmitBeginReply *begun = s_begin (self, msg, &wave);
    if (!begun)
        return;
    if (!chunk && !msg->commit) {
        broker_respond (self, WOB__ENVELOPE__BODY_SUBMIT_BEGIN_REPLY, begun);
        return;
    }
    wob__submit_begin_reply__free_unpacked (begun, NULL);
    Wob__SubmitChunkReply *chunked = chunk? s_chunk_write (self, wave, chunk, last): NULL;
    if (chunk && !chunked)
        return;
    if (!msg->commit) {
        broker_respond (self, WOB__ENVELOPE__BODY_SUBMIT_CHUNK_REPLY, chunked);
        return;
    }
    if (chunked)
        wob__submit_chunk_reply__free_unpacked (chunked, NULL);
    Wob__SubmitSummary *sum = s_commit (self, wave, msg->commit->last_row);
    if (sum)
        broker_respond (self, WOB__ENVELOPE__BODY_SUBMIT_SUMMARY, sum);
}
