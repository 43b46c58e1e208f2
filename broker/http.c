/*  http.c - the broker's read-only web dashboard, JSON API and Prometheus
    /metrics, for supervisors (SPEC §7; docs/DASHBOARD.md).

      GET /                     the dashboard page (HTML, CSS, JS embedded
                                in the binary at build time, broker/web/)
      GET /api/waves            every wave: state, counts, progress, report
                                ("retired": how many are out of memory)
      GET /api/waves/ID         one wave (its "report" is `wobctl report
                                --wave ID --json`, from lib/report.c)
      GET /api/report?wave=W|campaign=C&by=D&level=N&under=PATH
                                as `wobctl report ... --json` (reports.c)
      GET /api/workers          as `wobctl workers --json`: workers, held
      GET /api/orders/ID        as `wobctl status ID --json`
      GET /api/orders?msisdn=N  as `wobctl status --msisdn N --json`
      GET /api/throughput       leases granted and orders finished per
                                minute over the last hour
      GET /metrics              Prometheus text format, metrics wob_*

    Nothing here changes anything: every other method is refused with 405
    (an upload is read and dropped first), unknown paths get a JSON 404.

    Why on the actor's thread: the numbers live in the broker's memory
    (waves with their running counts, workers, held counts, the metrics),
    owned by the one thread that runs the loop.  libmicrohttpd in external
    polling mode with epoll gives one descriptor that broker_actor polls
    next to its sockets, and http_run serves what is ready between two
    turns of the loop, never inside one: handlers read the in-memory state
    with no locks, and those that need the store (an order, the orders of
    a number, report tallies) open a short read-only LMDB transaction of their own
    (store_read_begin), which is allowed exactly because no write
    transaction is open then.  Every answer comes from running aggregates
    or one key lookup, never from a scan of a wave's orders: /api/waves/ID
    costs the same for ten orders as for a million.  A request does
    microseconds of work, so serving it on the loop's thread does not hold
    up dispatch.                                                         */

#include "broker.h"
#include "wob_report.h"
#include "wob_httpd.h"

#define S_MAX_ORDERS 200        //  orders returned for one number (newest)
#define S_JSON "application/json; charset=utf-8"

struct _http_t {
    wob_httpd_t *server;        //  libmicrohttpd, polled in the loop
    broker_t *broker;           //  whose state we show (not owned)
};

//  --- Responses ---------------------------------------------------------------

static enum MHD_Result
s_send (struct MHD_Connection *conn, unsigned status, const char *type, char *body,
        size_t size, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (size, body, mode);
    if (!response) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free (body);
        return MHD_NO;
    }
    MHD_add_response_header (response, "Content-Type", type);
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "Cache-Control", "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, "Allow", "GET, HEAD");
    if (strncmp (type, "text/html", 9) == 0) {
        MHD_add_response_header (response, "Content-Security-Policy",
                                 "default-src 'self'; img-src 'self' data:; "
                                 "frame-ancestors 'none'");
        MHD_add_response_header (response, "X-Frame-Options", "DENY");
    }
    enum MHD_Result rc = MHD_queue_response (conn, status, response);
    MHD_destroy_response (response);
    return rc;
}

//  A body written with stdio into memory; s_reply sends and frees it.
typedef struct {
    char *text;                 //  the bytes written (open_memstream's buffer)
    size_t size;                //  how many
    FILE *out;                  //  the stream writing them, until s_reply
} body_t;

static bool
s_open (body_t *body)
{
    body->text = NULL;
    body->size = 0;
    body->out = open_memstream (&body->text, &body->size);
    return body->out != NULL;
}

static enum MHD_Result
s_reply (struct MHD_Connection *conn, unsigned status, const char *type, body_t *body)
{
    fclose (body->out);
    body->out = NULL;
    return s_send (conn, status, type, body->text, body->size, MHD_RESPMEM_MUST_FREE);
}

//  Drops a body that will not be sent.
static void
s_discard (body_t *body)
{
    fclose (body->out);
    free (body->text);
}

static enum MHD_Result
s_error (struct MHD_Connection *conn, unsigned status, const char *message)
{
    body_t body;
    if (!s_open (&body))
        return MHD_NO;
    fprintf (body.out, "{\"error\": ");
    wob_json_string (body.out, message);
    fprintf (body.out, "}\n");
    return s_reply (conn, status, S_JSON, &body);
}

//  --- Waves ---------------------------------------------------------------------

//  {"name": count, ...} for names indexed 1..last.
static void
s_counts (FILE *out, const char *key, const uint64_t *counts, int last,
          const char *(*name) (int))
{
    fprintf (out, ", \"%s\": {", key);
    for (int i = 1; i <= last; i++)
        fprintf (out, "%s\"%s\": %" PRIu64, i > 1? ", ": "", name (i), counts [i]);
    fprintf (out, "}");
}

//  Does the channel slot hold any order of the wave?
static uint64_t
s_channel_orders (const store_stats_t *st, int c)
{
    uint64_t orders = 0;
    for (int s = 0; s < 16; s++)
        orders += st->channel_state [c][s];
    return orders;
}

//  A report as `wobctl report --json` prints it (the caller holds a read
//  transaction: the tallies come from the store).
//  The report query asks for, as JSON; over wave when not NULL.
static int
s_report_json (broker_t *self, FILE *out, Wob__ReportQuery *query, wave_t *wave, char *err)
{
    Wob__Report *msg;
    int rc = wave? reports_build_wave (self, query, wave, &msg, err):
                   reports_build (self, query, &msg, err);
    if (rc)
        return rc;
    wob_report_t report;
    wob_report_from_msg (&report, msg);
    wob_report_json (out, &report);
    wob_report_clear (&report);
    wob__report__free_unpacked (msg, NULL);
    return 0;
}

//  One wave: what `wobctl status --wave` says (same keys), the progress the
//  page draws, the per-channel counts and the report of lib/report.c.
static void
s_wave_json (broker_t *self, wave_t *wave, FILE *out)
{
    Wob__Wave *w = wave->wave;
    const store_stats_t *st = &wave->stats;
    const uint64_t *n = st->by_state;
    fprintf (out, "{\"wave\": ");
    wob_json_string (out, w->id);
    fprintf (out, ", \"campaign\": ");
    wob_json_string (out, w->campaign);
    fprintf (out, ", \"kind\": ");
    wob_json_string (out, w->kind);
    fprintf (out, ", \"state\": \"%s\", \"rows\": %" PRIu64 ", \"created_ms\": %" PRId64
             ", \"start_ms\": %" PRId64 ", \"end_ms\": %" PRId64,
             wob_wave_state_name (w->state), w->rows, w->created_ms, w->start_ms, w->end_ms);
    s_counts (out, "by_state", n, WOB__STATE__STATE_CONTROL, wob_state_name);
    s_counts (out, "by_outcome", st->by_outcome, WOB__OUTCOME__OUTCOME_UNDELIVERED,
              wob_outcome_name);
    fprintf (out, ", \"by_channel\": {");
    bool first = true;
    for (int c = 1; c < BROKER_MAX_CHANNELS; c++)
        if (st->by_channel [c]) {
            fprintf (out, "%s", first? "": ", ");
            wob_json_string (out, store_channel_name (self->store, (uint8_t) c));
            fprintf (out, ": %" PRIu64, st->by_channel [c]);
            first = false;
        }
    fprintf (out, "}, \"by_rule\": {");
    first = true;
    for (uint64_t *count = wave->rule_counts? zhashx_first (wave->rule_counts): NULL; count;
         count = zhashx_next (wave->rule_counts)) {
        fprintf (out, "%s", first? "": ", ");
        wob_json_string (out, zhashx_cursor (wave->rule_counts));
        fprintf (out, ": %" PRIu64, *count);
        first = false;
    }
    //  Progress: where the wave's orders are, in the page's bar segments.
    uint64_t total = 0;
    for (int s = 1; s < 16; s++)
        total += n [s];
    fprintf (out, "}, \"progress\": {\"total\": %" PRIu64 ", \"done\": %" PRIu64
             ", \"dispatched\": %" PRIu64 ", \"queued\": %" PRIu64 ", \"waiting\": %" PRIu64
             ", \"held\": %" PRIu64 ", \"excluded\": %" PRIu64 "}", total,
             n [WOB__STATE__STATE_DONE] + n [WOB__STATE__STATE_FAILED]
             + n [WOB__STATE__STATE_TRANSFERRED] + n [WOB__STATE__STATE_EXPIRED]
             + n [WOB__STATE__STATE_CANCELLED],
             n [WOB__STATE__STATE_DISPATCHED],
             n [WOB__STATE__STATE_QUEUED] + n [WOB__STATE__STATE_RECEIVED],
             n [WOB__STATE__STATE_DEFERRED] + n [WOB__STATE__STATE_RETRY],
             n [WOB__STATE__STATE_HELD],
             n [WOB__STATE__STATE_FILTERED] + n [WOB__STATE__STATE_MERGED]
             + n [WOB__STATE__STATE_CONTROL]);
    //  Per channel, as the status reply's ChannelStatus (slot 0: unrouted).
    uint64_t contacted = 0;
    size_t n_rows = 0;
    fprintf (out, ", \"channels\": [");
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++) {
        contacted += st->contacted [c];
        if (!s_channel_orders (st, c))
            continue;
        const char *name = c? store_channel_name (self->store, (uint8_t) c): "";
        fprintf (out, "%s{\"channel\": ", n_rows++? ", ": "");
        wob_json_string (out, name);
        fprintf (out, ", \"contacted\": %" PRIu64, st->contacted [c]);
        s_counts (out, "by_state", st->channel_state [c], WOB__STATE__STATE_CONTROL,
                  wob_state_name);
        s_counts (out, "by_outcome", st->channel_outcome [c], WOB__OUTCOME__OUTCOME_UNDELIVERED,
                  wob_outcome_name);
        fprintf (out, "}");
    }
    fprintf (out, "], \"contacted\": %" PRIu64 ", \"report\": ", contacted);
    Wob__ReportQuery query = WOB__REPORT_QUERY__INIT;
    query.wave = w->id;
    char err [WOB_ERRLEN];
    if (s_report_json (self, out, &query, wave, err))
        wob_json_string (out, err);
    fprintf (out, "}");
}

typedef struct {
    FILE *out;
    size_t count;
} listing_t;

//  One wave of the list (waves_fn).
static int
s_list_wave (broker_t *self, wave_t *wave, void *arg)
{
    listing_t *listing = arg;
    fprintf (listing->out, "%s", listing->count++? ",\n  ": "");
    s_wave_json (self, wave, listing->out);
    return 0;
}

static enum MHD_Result
s_api_waves (http_t *self, struct MHD_Connection *conn, const char *id)
{
    broker_t *broker = self->broker;
    if (id) {
        //  A wave out of memory is read back: inside the read transaction
        char err [WOB_ERRLEN];
        bool reading = store_read_begin (broker->store, err) == 0;
        wave_t *wave = broker_wave (broker, id);
        if (!wave) {
            if (reading)
                store_read_end (broker->store);
            char message [200];
            snprintf (message, sizeof (message), "wave '%.64s' does not exist", id);
            return s_error (conn, MHD_HTTP_NOT_FOUND, message);
        }
        body_t body;
        if (!s_open (&body)) {
            if (reading)
                store_read_end (broker->store);
            return MHD_NO;
        }
        s_wave_json (broker, wave, body.out);
        if (reading)
            store_read_end (broker->store);
        fputc ('\n', body.out);
        return s_reply (conn, MHD_HTTP_OK, S_JSON, &body);
    }
    //  Every wave, newest first: the page shows the live ones at the top.
    //  Those out of memory (drained, idle: "retired" counts them) are read
    //  as copies, not brought back into memory by a page that polls.
    body_t body;
    if (!s_open (&body))
        return MHD_NO;
    fprintf (body.out, "{\"now_ms\": %" PRId64 ", \"retired\": %zu, \"waves\": [",
             broker->now, waves_retired_count (broker));
    char err [WOB_ERRLEN];
    listing_t listing = { body.out, 0 };
    int rc = store_read_begin (broker->store, err);
    if (!rc) {
        rc = waves_each (broker, NULL, true, s_list_wave, &listing, err);
        store_read_end (broker->store);
    }
    if (rc) {
        s_discard (&body);
        return s_error (conn, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
    }
    fprintf (body.out, "]}\n");
    return s_reply (conn, MHD_HTTP_OK, S_JSON, &body);
}

//  --- Workers -------------------------------------------------------------------

static int
s_by_channel_name (const void *a, const void *b)
{
    const Wob__WorkerInfo *x = *(Wob__WorkerInfo * const *) a;
    const Wob__WorkerInfo *y = *(Wob__WorkerInfo * const *) b;
    int c = strcmp (x->channel, y->channel);
    return c? c: strcmp (x->id, y->id);
}

//  As `wobctl workers --json` (the same list, workers.c), sorted by
//  channel and name.
static enum MHD_Result
s_api_workers (http_t *self, struct MHD_Connection *conn)
{
    broker_t *broker = self->broker;
    body_t body;
    if (!s_open (&body))
        return MHD_NO;
    Wob__WorkerList *list = workers_build (broker, "");
    qsort (list->workers, list->n_workers, sizeof (Wob__WorkerInfo *), s_by_channel_name);
    FILE *out = body.out;
    fprintf (out, "{\"now_ms\": %" PRId64 ", \"workers\": [", broker->now);
    for (size_t i = 0; i < list->n_workers; i++) {
        Wob__WorkerInfo *w = list->workers [i];
        fprintf (out, "%s{\"id\": ", i? ",\n  ": "");
        wob_json_string (out, w->id);
        fprintf (out, ", \"channel\": ");
        wob_json_string (out, w->channel);
        fprintf (out, ", \"capacity\": %u, \"outstanding\": %u, \"assigned\": %" PRIu64
                 ", \"done\": %" PRIu64 ", \"connected_ms\": %" PRId64 ", \"last_seen_ms\": %"
                 PRId64 ", \"owns\": [", w->capacity, w->outstanding, w->assigned, w->done,
                 w->connected_ms, w->last_seen_ms);
        for (size_t j = 0; j < w->n_owns; j++) {
            fprintf (out, "%s", j? ", ": "");
            wob_json_string (out, w->owns [j]);
        }
        fprintf (out, "]}");
    }
    fprintf (out, "],\n \"held\": [");
    for (size_t i = 0; i < list->n_held; i++) {
        fprintf (out, "%s{\"channel\": ", i? ", ": "");
        wob_json_string (out, list->held [i]->channel);
        fprintf (out, ", \"reason\": \"%s\", \"orders\": %" PRIu64 "}", list->held [i]->reason,
                 list->held [i]->orders);
    }
    fprintf (out, "]}\n");
    wob__worker_list__free_unpacked (list, NULL);
    return s_reply (conn, MHD_HTTP_OK, S_JSON, &body);
}

//  --- Orders --------------------------------------------------------------------

//  Writes orders (with history) from one read-only transaction, as
//  `wobctl status --json` does.
static int
s_orders_json (broker_t *broker, FILE *out, const uint64_t *ids, size_t count, char *err)
{
    int rc = 0;
    for (size_t i = 0; i < count && !rc; i++) {
        Wob__Order *order = NULL;
        rc = store_order_get (broker->store, ids [i], &order, err);
        if (!rc && !(rc = store_history_load (broker->store, order, err))) {
            fprintf (out, "%s", i? ",\n ": "");
            wob_order_json (out, order);
        }
        if (order)
            wob__order__free_unpacked (order, NULL);
    }
    return rc;
}

static enum MHD_Result
s_api_orders (http_t *self, struct MHD_Connection *conn, const char *id_text)
{
    broker_t *broker = self->broker;
    char err [WOB_ERRLEN], message [200];
    uint64_t id = 0;
    const char *msisdn = NULL;
    if (id_text) {
        size_t len = strlen (id_text);
        if (len == 0 || len > 19 || strspn (id_text, "0123456789") != len
        ||  !(id = strtoull (id_text, NULL, 10))) {
            snprintf (message, sizeof (message), "'%.40s' is not an order id (a whole number "
                      "from 1)", id_text);
            return s_error (conn, MHD_HTTP_BAD_REQUEST, message);
        }
    }
    else {
        msisdn = MHD_lookup_connection_value (conn, MHD_GET_ARGUMENT_KIND, "msisdn");
        if (!msisdn || !*msisdn)
            return s_error (conn, MHD_HTTP_BAD_REQUEST, "give an order id (/api/orders/ID) "
                            "or a number (/api/orders?msisdn=N)");
        if (strlen (msisdn) > 64)
            return s_error (conn, MHD_HTTP_BAD_REQUEST, "query parameter 'msisdn' is longer "
                            "than 64 bytes");
    }
    body_t body;
    if (!s_open (&body))
        return MHD_NO;
    int rc = store_read_begin (broker->store, err);
    if (!rc && id)
        rc = s_orders_json (broker, body.out, &id, 1, err);
    else
    if (!rc) {
        uint64_t *ids = NULL;
        size_t count = 0;
        rc = store_msisdn_list (broker->store, msisdn, &ids, &count, err);
        //  The newest orders when a number has very many (as wobctl status).
        size_t skip = count > S_MAX_ORDERS? count - S_MAX_ORDERS: 0;
        fprintf (body.out, "[");
        if (!rc)
            rc = s_orders_json (broker, body.out, ids + skip, count - skip, err);
        fprintf (body.out, "]");
        free (ids);
    }
    store_read_end (broker->store);
    if (rc) {
        fclose (body.out);
        free (body.text);
        return s_error (conn, rc == WOB_ERR_NOT_FOUND? MHD_HTTP_NOT_FOUND:
                        MHD_HTTP_INTERNAL_SERVER_ERROR, err);
    }
    fputc ('\n', body.out);
    return s_reply (conn, MHD_HTTP_OK, S_JSON, &body);
}

//  --- Reports -----------------------------------------------------------------

//  GET /api/report?wave=W|campaign=C&by=D&level=N&under=PATH: `wobctl
//  report --json` with the same arguments.
static enum MHD_Result
s_api_report (http_t *self, struct MHD_Connection *conn)
{
    Wob__ReportQuery query = WOB__REPORT_QUERY__INIT;
    const char *names [] = { "wave", "campaign", "by", "under" };
    char **fields [] = { &query.wave, &query.campaign, &query.by, &query.under };
    for (size_t i = 0; i < 4; i++) {
        const char *value = MHD_lookup_connection_value (conn, MHD_GET_ARGUMENT_KIND, names [i]);
        if (value && strlen (value) > 200)
            return s_error (conn, MHD_HTTP_BAD_REQUEST, "a query parameter is longer than "
                            "200 bytes");
        if (value)
            *fields [i] = (char *) value;
    }
    const char *level = MHD_lookup_connection_value (conn, MHD_GET_ARGUMENT_KIND, "level");
    if (level) {
        char *end;
        unsigned long n = strtoul (level, &end, 10);
        if (!*level || *end || n > 4)
            return s_error (conn, MHD_HTTP_BAD_REQUEST, "level is 1 (province) to 4 (grid)");
        query.level = (uint32_t) n;
    }
    body_t body;
    if (!s_open (&body))
        return MHD_NO;
    char err [WOB_ERRLEN];
    int rc = store_read_begin (self->broker->store, err);
    if (!rc)
        rc = s_report_json (self->broker, body.out, &query, NULL, err);
    store_read_end (self->broker->store);
    if (rc) {
        s_discard (&body);
        return s_error (conn, rc == WOB_ERR_NOT_FOUND? MHD_HTTP_NOT_FOUND:
                        rc == WOB_ERR_INVALID? MHD_HTTP_BAD_REQUEST:
                        MHD_HTTP_INTERNAL_SERVER_ERROR, err);
    }
    fputc ('\n', body.out);
    return s_reply (conn, MHD_HTTP_OK, S_JSON, &body);
}

//  --- Routing -------------------------------------------------------------------

static enum MHD_Result
s_route (http_t *self, struct MHD_Connection *conn, const char *url, const char *method)
{
    char message [240];
    if (!streq (method, "GET") && !streq (method, "HEAD")) {
        snprintf (message, sizeof (message), "method %.20s is not allowed: the dashboard is "
                  "read-only (GET)", method);
        return s_error (conn, MHD_HTTP_METHOD_NOT_ALLOWED, message);
    }
    body_t body;
    if (streq (url, "/api/waves"))
        return s_api_waves (self, conn, NULL);
    if (strncmp (url, "/api/waves/", 11) == 0 && url [11] && !strchr (url + 11, '/'))
        return s_api_waves (self, conn, url + 11);
    if (streq (url, "/api/workers"))
        return s_api_workers (self, conn);
    if (streq (url, "/api/report"))
        return s_api_report (self, conn);
    if (streq (url, "/api/orders"))
        return s_api_orders (self, conn, NULL);
    if (strncmp (url, "/api/orders/", 12) == 0)
        return s_api_orders (self, conn, url + 12);
    if (streq (url, "/api/throughput")) {
        if (!s_open (&body))
            return MHD_NO;
        metrics_throughput_json (self->broker, body.out);
        fputc ('\n', body.out);
        return s_reply (conn, MHD_HTTP_OK, S_JSON, &body);
    }
    if (streq (url, "/metrics")) {
        if (!s_open (&body))
            return MHD_NO;
        metrics_prometheus (self->broker, body.out);
        return s_reply (conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &body);
    }
    const char *path = streq (url, "/") || streq (url, "/index.html")? "/dashboard.html": url;
    for (size_t i = 0; i < http_assets_count; i++)
        if (streq (http_assets [i].path, path))
            return s_send (conn, MHD_HTTP_OK, http_assets [i].type,
                           (char *) http_assets [i].data, http_assets [i].size,
                           MHD_RESPMEM_PERSISTENT);
    if (streq (url, "/favicon.ico"))
        return s_send (conn, MHD_HTTP_NO_CONTENT, "image/x-icon", NULL, 0,
                       MHD_RESPMEM_PERSISTENT);
    snprintf (message, sizeof (message), "no such path: %.120s (see /api/waves, /api/report, /api/workers, "
              "/api/orders, /api/throughput, /metrics)", url);
    return s_error (conn, MHD_HTTP_NOT_FOUND, message);
}

static enum MHD_Result
s_handler (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_size, void **state)
{
    (void) version;
    (void) upload_data;
    static int s_marker;        //  "headers seen" (no per-request state needed)
    if (*state != &s_marker) {
        //  First call: headers only; answer once the request is complete.
        *state = &s_marker;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;       //  a body is read and dropped: we take none
        return MHD_YES;
    }
    return s_route ((http_t *) cls, conn, url, method);
}

//  --- The server ----------------------------------------------------------------

http_t *
http_new (broker_t *broker, const char *listen, char *err)
{
    http_t *self = calloc (1, sizeof (http_t));
    if (!self) {
        wob_fail (err, WOB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->broker = broker;
    wob_httpd_config_t config = { .listen = listen, .what = "http", .handler = s_handler,
                                  .handler_cls = self, .timeout_s = 30, .connections = 256 };
    if (!(self->server = wob_httpd_new (&config, err))) {
        free (self);
        return NULL;
    }
    const char *colon = strrchr (listen, ':');
    zsys_info ("dashboard on http://%.*s:%u/ (read-only; /metrics for Prometheus)",
               colon? (int) (colon - listen): 9, colon? listen: "127.0.0.1",
               wob_httpd_port (self->server));
    return self;
}

void
http_destroy (http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wob_httpd_destroy (&(*self_p)->server);
    free (*self_p);
    *self_p = NULL;
}

uint16_t http_port (http_t *self) { return wob_httpd_port (self->server); }
int http_fd (http_t *self) { return wob_httpd_fd (self->server); }
long http_timeout (http_t *self, long max_ms) { return wob_httpd_timeout (self->server, max_ms); }
void http_run (http_t *self) { wob_httpd_run (self->server); }
