/*  client.c - the request/reply client used by wobctl, campaign systems
    and tests: one DEALER, request ids, a timeout on every request so that
    a dead broker is an error, never a hang; and wave submission in
    acknowledged chunks that resumes where the broker says it stopped.   */

#include "wob.h"
#include "wob_targets.h"

struct _wob_client_t {
    zsock_t *dealer;            //  connection to the broker
    zpoller_t *poller;
    uint64_t next_id;           //  next request id
    int timeout_ms;             //  per request
    char *endpoint;
};

wob_client_t *
wob_client_new (const char *endpoint, int timeout_ms)
{
    wob_client_t *self = calloc (1, sizeof (wob_client_t));
    if (!self)
        return NULL;
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        free (self);
        return NULL;
    }
    zsock_set_linger (self->dealer, 0);
    zsock_set_sndtimeo (self->dealer, timeout_ms);
    char err [WOB_ERRLEN];
    if (wob_curve_apply (self->dealer, err) || zsock_connect (self->dealer, "%s", endpoint) != 0) {
        zsock_destroy (&self->dealer);
        free (self);
        return NULL;
    }
    self->poller = zpoller_new (self->dealer, NULL);
    self->timeout_ms = timeout_ms > 0? timeout_ms: 5000;
    self->next_id = ((uint64_t) wob_now_ms () << 16) | (uint64_t) (getpid () & 0xFFFF);
    self->endpoint = strdup (endpoint);
    return self;
}

void
wob_client_destroy (wob_client_t **self_p)
{
    if (self_p && *self_p) {
        wob_client_t *self = *self_p;
        zpoller_destroy (&self->poller);
        zsock_destroy (&self->dealer);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

//  Sends one request, returns its request id (0 on failure).
static uint64_t
s_send (wob_client_t *self, Wob__Envelope *req)
{
    req->request_id = ++self->next_id;
    return wob_msg_send (self->dealer, req) == 0? req->request_id: 0;
}

static int
s_unreachable (wob_client_t *self, char *err)
{
    return wob_fail (err, WOB_ERR_UNREACHABLE, "cannot send to broker at %s", self->endpoint);
}

//  Waits for the reply to request id; NULL with rc/err on failure.
static Wob__Envelope *
s_wait (wob_client_t *self, uint64_t id, int timeout_ms, int *rc, char *err)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0 || !zpoller_wait (self->poller, (int) left)) {
            if (zpoller_terminated (self->poller))
                *rc = wob_fail (err, WOB_ERR_IO, "interrupted");
            else
                *rc = wob_fail (err, WOB_ERR_UNREACHABLE, "broker at %s did not answer within "
                                "%d ms (%s)", self->endpoint, timeout_ms,
                                getenv ("WOB_CURVE_CERT")?
                                "is it running, and is this client's key in its keys file?":
                                "is it running, and in --plain mode? a CurveZMQ broker needs "
                                "WOB_CURVE_SERVERKEY and WOB_CURVE_CERT");
            return NULL;
        }
        zframe_t *frame = zframe_recv (self->dealer);
        if (!frame)
            continue;
        int code;
        Wob__Envelope *reply = wob_msg_decode (zframe_data (frame), zframe_size (frame),
                                               SIZE_MAX, &code, err);
        zframe_destroy (&frame);
        if (!reply) {
            *rc = WOB_ERR_DECODE;
            return NULL;
        }
        if (reply->request_id != id) {
            wob_msg_free (&reply);          //  stale reply of an earlier request
            continue;
        }
        if (reply->body_case == WOB__ENVELOPE__BODY_ERROR) {
            //  Busy (--max-inflight) is about load, not about the request:
            //  say so, so that a caller knows the same request may succeed
            //  later.  This library waits for its answers (a submission
            //  keeps 4 chunks in flight), so it meets busy only when many
            //  requests timed out while the broker was stalled
            *rc = wob_fail (err, WOB_ERR_REFUSED, "%s%s",
                            reply->error->code == WOB__ERROR_CODE__ERR_BUSY? "broker busy: ": "",
                            reply->error->message);
            wob_msg_free (&reply);
            return NULL;
        }
        *rc = 0;
        return reply;
    }
}

Wob__Envelope *
wob_client_request (wob_client_t *self, Wob__Envelope *req, int *rc, char *err)
{
    uint64_t id = s_send (self, req);
    if (!id) {
        *rc = s_unreachable (self, err);
        return NULL;
    }
    return s_wait (self, id, self->timeout_ms, rc, err);
}

//  --- Submission ----------------------------------------------------------

//  Reads the whole file once to find bad rows before anything is sent.
//  With keep, the first keep_max good rows stay there (the caller's, as
//  *kept_p says): a wave that fits in one chunk is then parsed only once.
static int
s_prevalidate (const char *path, const wob_submit_opts_t *opts, uint64_t *rows,
               Wob__Target **keep, size_t keep_max, size_t *kept_p, char *err)
{
    wob_targets_t *targets = wob_targets_open (path, err);
    if (!targets)
        return WOB_ERR_INVALID;
    int bad = 0, rc = 0;
    char first [WOB_ERRLEN] = "";
    *rows = 0;
    while (true) {
        Wob__Target *t = NULL;
        char row_err [WOB_ERRLEN];
        wob_row_t r = wob_targets_next (targets, &t, row_err);
        if (r == WOB_ROW_EOF)
            break;
        if (r == WOB_ROW_FATAL) {
            rc = wob_fail (err, WOB_ERR_INVALID, "%s", row_err);
            break;
        }
        if (r == WOB_ROW_BAD) {
            if (!bad++)
                snprintf (first, sizeof (first), "%s", row_err);
            if (opts->bad_row && !opts->skip_bad_rows)
                opts->bad_row (opts->arg, row_err);
            continue;
        }
        if (keep && *rows < keep_max)
            keep [(*kept_p)++] = t;
        else
            wob__target__free_unpacked (t, NULL);
        (*rows)++;
    }
    wob_targets_destroy (&targets);
    if (!rc && bad && !opts->skip_bad_rows)
        rc = wob_fail (err, WOB_ERR_INVALID, "%d bad row%s, wave refused (nothing was sent; "
                       "--skip-bad-rows leaves them out); first: %s", bad, bad > 1? "s": "", first);
    if (!rc && *rows == 0)
        rc = wob_fail (err, WOB_ERR_INVALID, "%s: no valid target rows", path);
    return rc;
}

//  The three submission requests: each sends one and returns its request
//  id (0 when it could not be sent).
static uint64_t
s_send_begin (wob_client_t *self, Wob__Wave *wave, uint64_t total)
{
    Wob__SubmitBegin begin = WOB__SUBMIT_BEGIN__INIT;
    begin.wave = wave;
    begin.targets = total;          //  so a wave over the broker's limit is refused now
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_SUBMIT_BEGIN;
    req.submit_begin = &begin;
    return s_send (self, &req);
}

//  Sends rows batch [0..n) (freeing them) as the chunk starting at first_row.
static uint64_t
s_send_chunk (wob_client_t *self, const char *wave_id, uint64_t first_row,
              Wob__Target **batch, size_t n)
{
    Wob__SubmitChunk chunk = WOB__SUBMIT_CHUNK__INIT;
    chunk.wave = (char *) wave_id;
    chunk.first_row = first_row;
    chunk.n_targets = n;
    chunk.targets = batch;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_SUBMIT_CHUNK;
    req.submit_chunk = &chunk;
    uint64_t id = s_send (self, &req);
    for (size_t i = 0; i < n; i++)
        wob__target__free_unpacked (batch [i], NULL);
    return id;
}

static uint64_t
s_send_commit (wob_client_t *self, const char *wave_id, uint64_t last_row)
{
    Wob__SubmitCommit commit = WOB__SUBMIT_COMMIT__INIT;
    commit.wave = (char *) wave_id;
    commit.last_row = last_row;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_SUBMIT_COMMIT;
    req.submit_commit = &commit;
    return s_send (self, &req);
}

//  Reads up to max good rows after row `after` into batch (bad rows go to
//  opts->bad_row: they were allowed by --skip-bad-rows); *eof at the end.
static size_t
s_read_rows (wob_targets_t *targets, Wob__Target **batch, size_t max, uint64_t after,
             const wob_submit_opts_t *opts, bool *eof)
{
    size_t n = 0;
    while (n < max) {
        Wob__Target *t = NULL;
        char row_err [WOB_ERRLEN];
        wob_row_t r = wob_targets_next (targets, &t, row_err);
        if (r == WOB_ROW_EOF || r == WOB_ROW_FATAL) {
            *eof = true;
            break;
        }
        if (r == WOB_ROW_BAD) {
            if (opts->bad_row)
                opts->bad_row (opts->arg, row_err);
            continue;
        }
        if (t->row <= after) {
            wob__target__free_unpacked (t, NULL);
            continue;
        }
        batch [n++] = t;
    }
    return n;
}

static void
s_free_rows (Wob__Target **rows, size_t *count_p)
{
    for (size_t i = 0; i < *count_p; i++)
        wob__target__free_unpacked (rows [i], NULL);
    *count_p = 0;
}

//  A wave that fits in one chunk goes in one request: the begin carries
//  its chunk (from row 1: rows the broker already holds are skipped as
//  resends) and its commit, which names the last row sent, so the broker
//  opens the wave in the same transaction that stores its rows, and
//  answers with the summary or one error.  batch holds the rows (n of
//  them, freed here).
static int
s_submit_small (wob_client_t *self, Wob__Wave *wave, uint64_t total, Wob__Target **batch,
                size_t *n_p, const wob_submit_opts_t *opts, Wob__Envelope **reply_p, char *err)
{
    Wob__SubmitChunk chunk = WOB__SUBMIT_CHUNK__INIT;
    chunk.first_row = 1;
    chunk.n_targets = *n_p;
    chunk.targets = batch;
    Wob__SubmitCommit commit = WOB__SUBMIT_COMMIT__INIT;
    commit.last_row = *n_p? batch [*n_p - 1]->row: 0;
    Wob__SubmitBegin begin = WOB__SUBMIT_BEGIN__INIT;
    begin.wave = wave;
    begin.targets = total;
    begin.chunk = &chunk;
    begin.commit = &commit;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_SUBMIT_BEGIN;
    req.submit_begin = &begin;
    uint64_t id = s_send (self, &req);
    s_free_rows (batch, n_p);
    if (!id)
        return s_unreachable (self, err);
    int rc = 0;
    *reply_p = s_wait (self, id, self->timeout_ms, &rc, err);
    if (*reply_p && (*reply_p)->body_case != WOB__ENVELOPE__BODY_SUBMIT_SUMMARY) {
        //  A broker from before one-request waves answers the begin alone
        wob_msg_free (reply_p);
        return wob_fail (err, WOB_ERR_REFUSED, "the broker at %s answered the wave's begin "
                         "but not its rows: it is older than this client; wave '%s' is "
                         "begun there and holds no rows (upgrade the broker, or submit "
                         "with a client of its version)", self->endpoint, wave->id);
    }
    if (*reply_p && opts->progress)
        opts->progress (opts->arg, total, total);
    return rc;
}

int
wob_client_submit (wob_client_t *self, const wob_submit_opts_t *opts, Wob__Envelope **reply_p,
                   char *err)
{
    *reply_p = NULL;
    Wob__Wave *wave = NULL;
    char *targets_path = NULL;
    int rc = wob_wavefile_load (opts->wave_file, &wave, &targets_path, err);
    if (rc)
        return WOB_ERR_INVALID;
    if (opts->wave_id) {
        free (wave->id);
        wave->id = strdup (opts->wave_id);
    }
    const char *path = opts->targets_file? opts->targets_file: targets_path;
    wob_targets_t *targets = NULL;
    Wob__Envelope *reply = NULL;
    uint64_t total = 0;
    size_t chunk_rows = opts->chunk_rows? opts->chunk_rows: 5000;
    Wob__Target **kept = NULL;  //  rows kept from the first pass
    size_t n_kept = 0;
    if (!path) {
        rc = wob_fail (err, WOB_ERR_INVALID, "%s: names no targets file", opts->wave_file);
        goto done;
    }
    //  The rows of a wave that fits in one chunk are kept from the first
    //  pass; not when bad rows are skipped (they are reported as the rows
    //  are read for sending, so read again)
    kept = calloc (chunk_rows + 1, sizeof (Wob__Target *));
    if ((rc = s_prevalidate (path, opts, &total, opts->skip_bad_rows? NULL: kept, chunk_rows,
                             &n_kept, err)))
        goto done;
    if (total <= chunk_rows && opts->skip_bad_rows) {
        if (!(targets = wob_targets_open (path, err))) {
            rc = WOB_ERR_INVALID;
            goto done;
        }
        bool eof = false;
        n_kept = s_read_rows (targets, kept, total, 0, opts, &eof);
    }
    if (total <= chunk_rows) {
        rc = s_submit_small (self, wave, total, kept, &n_kept, opts, reply_p, err);
        goto done;
    }
    s_free_rows (kept, &n_kept);

    //  Begin: the broker tells us how many rows it already holds.
    uint64_t id = s_send_begin (self, wave, total);
    reply = id? s_wait (self, id, self->timeout_ms, &rc, err): NULL;
    if (!id)
        rc = s_unreachable (self, err);
    if (!reply)
        goto done;
    uint64_t resume = reply->submit_begin_reply->next_row;
    wob_msg_free (&reply);

    //  Chunks, a few in flight; each reply says how many rows are durable.
    targets = wob_targets_open (path, err);
    if (!targets) {
        rc = WOB_ERR_INVALID;
        goto done;
    }
    //  The window stays well below the broker's smallest --max-inflight (8),
    //  so a submission is never refused as busy.
    enum { WINDOW = 4 };
    uint64_t in_flight [WINDOW];
    size_t n_flight = 0;
    bool eof = false;
    uint64_t durable = resume;
    uint64_t next_first = resume + 1;   //  first row the next chunk covers
    Wob__Target **batch = calloc (chunk_rows, sizeof (Wob__Target *));
    while (!eof || n_flight) {
        if (!eof && n_flight < WINDOW) {
            size_t n = s_read_rows (targets, batch, chunk_rows, resume, opts, &eof);
            if (n) {
                uint64_t first = next_first;
                next_first = batch [n - 1]->row + 1;
                if (!(id = s_send_chunk (self, wave->id, first, batch, n))) {
                    rc = s_unreachable (self, err);
                    break;
                }
                in_flight [n_flight++] = id;
            }
            continue;
        }
        reply = s_wait (self, in_flight [0], self->timeout_ms, &rc, err);
        if (!reply)
            break;
        memmove (in_flight, in_flight + 1, (--n_flight) * sizeof (uint64_t));
        if (reply->body_case == WOB__ENVELOPE__BODY_SUBMIT_CHUNK_REPLY)
            durable = reply->submit_chunk_reply->rows;
        wob_msg_free (&reply);
        if (opts->progress)
            opts->progress (opts->arg, durable, total);
    }
    free (batch);
    if (rc)
        goto done;

    if (!(id = s_send_commit (self, wave->id, next_first - 1)))
        rc = s_unreachable (self, err);
    else
    if ((reply = s_wait (self, id, self->timeout_ms, &rc, err)))
        *reply_p = reply;
done:
    s_free_rows (kept, &n_kept);
    free (kept);
    wob_targets_destroy (&targets);
    free (targets_path);
    wob__wave__free_unpacked (wave, NULL);
    return rc;
}
