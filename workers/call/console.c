/*  console.c - wob-call's web console and JSON API (libmicrohttpd).

    The page (console.html, .css, .js, embedded in the binary at build
    time) and the API it uses, which a dialer or CTI system can use too:

      GET  /api/next?agent=ID[&idle_ms=N]  the agent's state and order (the
                                           page's heartbeat, every second)
      POST /api/signin    {agent, owns?}
      POST /api/heartbeat {agent, idle_ms?}
      POST /api/outcome   {agent, order, outcome, note?, callback_at?}
      POST /api/signout   {agent}
      GET  /api/agents                     everyone signed in

    Errors are JSON {"error": "..."} with a 4xx status that names what is
    wrong.  POST bodies must say Content-Type: application/json: a browser
    cannot send that cross-origin without asking first, so another web
    site cannot record outcomes through an agent's browser.

    Why external polling: each agent's session is a ZeroMQ socket, and
    ZeroMQ sockets belong to one thread.  MHD in external mode with epoll
    gives one file descriptor that the main loop polls next to the broker
    sockets (zmq_poll takes both); MHD_run then serves what is ready, on
    the main thread, where the request handlers can use the sessions
    directly.  The alternative, MHD's own thread passing each request to
    the main thread over an inproc pipe and waiting for the answer, would
    add a copy and a hand-off per request and buy nothing: no request does
    more than a few milliseconds of work (the slowest, sign-out, lets the
    agent's last report reach the broker first).                           */

#include "call.h"
#include "wob_httpd.h"

#define S_BODY_MAX (64 * 1024)  //  largest request body accepted
#ifndef MHD_HTTP_CONTENT_TOO_LARGE
#   define MHD_HTTP_CONTENT_TOO_LARGE 413   //  before libmicrohttpd 0.9.74
#endif

struct _console_t {
    wob_httpd_t *server;        //  libmicrohttpd, polled in the main loop
    center_t *center;           //  the agents
};

//  One request's upload, accumulated over MHD's calls.
typedef struct {
    char *body;                 //  bytes received (NUL-terminated)
    size_t size;
    bool too_big;               //  over S_BODY_MAX: refused, not kept
} upload_t;

//  --- Responses ------------------------------------------------------------

static enum MHD_Result
s_send (struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t size,
        enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (size, body, mode);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, "Content-Type", type);
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "Cache-Control", "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, "Allow", "GET, POST");
    if (strncmp (type, "text/html", 9) == 0) {
        MHD_add_response_header (response, "Content-Security-Policy",
                                 "default-src 'self'; img-src 'self' data:");
        MHD_add_response_header (response, "X-Frame-Options", "DENY");
    }
    enum MHD_Result rc = MHD_queue_response (conn, status, response);
    MHD_destroy_response (response);
    return rc;
}

//  Sends the memstream's JSON text (takes it).
static enum MHD_Result
s_send_json (struct MHD_Connection *conn, unsigned status, char *text, size_t size)
{
    return s_send (conn, status, "application/json; charset=utf-8", text, size,
                   MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result
s_error (struct MHD_Connection *conn, unsigned status, const char *message)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    fprintf (out, "{\"error\": ");
    wob_json_string (out, message);
    fprintf (out, "}\n");
    fclose (out);
    return s_send_json (conn, status, text, size);
}

//  The HTTP status for a center error code.
static unsigned
s_status (int rc)
{
    switch (rc) {
        case WOB_ERR_NOT_FOUND:   return MHD_HTTP_NOT_FOUND;
        case WOB_ERR_REFUSED:     return MHD_HTTP_CONFLICT;
        case WOB_ERR_UNREACHABLE: return MHD_HTTP_SERVICE_UNAVAILABLE;
        case WOB_ERR_NOMEM:       return MHD_HTTP_INTERNAL_SERVER_ERROR;
        default:                  return MHD_HTTP_BAD_REQUEST;
    }
}

//  --- API handlers -----------------------------------------------------------

//  Parses "idle_ms" text: -1 when absent, -2 when not a number.
static int64_t
s_idle_text (const char *text)
{
    if (!text)
        return -1;
    size_t len = strlen (text);
    if (len == 0 || len > 15 || strspn (text, "0123456789") != len)
        return -2;
    return strtoll (text, NULL, 10);
}

static enum MHD_Result
s_api_next (console_t *self, struct MHD_Connection *conn)
{
    const char *agent = MHD_lookup_connection_value (conn, MHD_GET_ARGUMENT_KIND, "agent");
    if (!agent || !*agent)
        return s_error (conn, MHD_HTTP_BAD_REQUEST, "missing query parameter 'agent' "
                        "(/api/next?agent=ID)");
    int64_t idle = s_idle_text (MHD_lookup_connection_value (conn, MHD_GET_ARGUMENT_KIND,
                                                             "idle_ms"));
    if (idle == -2)
        return s_error (conn, MHD_HTTP_BAD_REQUEST, "query parameter 'idle_ms' must be a "
                        "whole number of milliseconds");
    char err [WOB_ERRLEN];
    int rc = center_seen (self->center, agent, idle, err);
    if (rc)
        return s_error (conn, s_status (rc), err);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    rc = center_agent_json (self->center, agent, out, err);
    fputc ('\n', out);
    fclose (out);
    if (rc) {
        free (text);
        return s_error (conn, s_status (rc), err);
    }
    return s_send_json (conn, MHD_HTTP_OK, text, size);
}

//  Reads the agent field every POST has; NULL after sending the error.
static const char *
s_agent_field (jsonin_t *in, char *err)
{
    const char *agent;
    if (!jsonin_has (in, "agent")) {
        wob_fail (err, WOB_ERR_INVALID, "missing field 'agent'");
        return NULL;
    }
    return jsonin_string (in, "agent", &agent, err)? NULL: agent;
}

//  callback_at: epoch ms (number) or a time text; 0 when absent.
static int
s_callback_at (jsonin_t *in, int64_t *ms, char *err)
{
    *ms = 0;
    if (!jsonin_has (in, "callback_at"))
        return 0;
    const char *type = jsonin_type (in, "callback_at");
    if (streq (type, "number")) {
        uint64_t value;
        if (jsonin_uint (in, "callback_at", &value, err) || value > INT64_MAX)
            return wob_fail (err, WOB_ERR_INVALID, "callback_at must be epoch milliseconds "
                             "or an ISO 8601 time");
        *ms = (int64_t) value;
        return 0;
    }
    const char *text;
    if (jsonin_string (in, "callback_at", &text, err))
        return WOB_ERR_INVALID;
    if (wob_parse_time (text, ms) || *ms <= 0)
        return wob_fail (err, WOB_ERR_INVALID, "callback_at '%.60s' is not a time: use ISO 8601 "
                         "(2026-11-24T15:30, 2026-11-24T15:30:00+08:00) or epoch ms", text);
    return 0;
}

static enum MHD_Result
s_api_post (console_t *self, struct MHD_Connection *conn, const char *what, upload_t *up)
{
    char err [WOB_ERRLEN];
    jsonin_t *in = jsonin_parse (up->body? up->body: "", up->size, err);
    if (!in)
        return s_error (conn, MHD_HTTP_BAD_REQUEST, err);
    static const char *signin_keys [] = { "agent", "owns", NULL };
    static const char *heartbeat_keys [] = { "agent", "idle_ms", NULL };
    static const char *outcome_keys [] = { "agent", "order", "outcome", "note", "callback_at",
                                           NULL };
    static const char *signout_keys [] = { "agent", NULL };
    const char **known = streq (what, "signin")? signin_keys: streq (what, "heartbeat")?
                         heartbeat_keys: streq (what, "outcome")? outcome_keys: signout_keys;
    const char *unknown = jsonin_unknown (in, known);
    const char *agent = NULL;
    int rc = 0;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (unknown) {
        rc = wob_fail (err, WOB_ERR_INVALID, "unknown field '%.40s' for /api/%s", unknown, what);
        goto done;
    }
    if (!(agent = s_agent_field (in, err))) {
        rc = WOB_ERR_INVALID;
        goto done;
    }
    if (streq (what, "signin")) {
        const char **owns = NULL;
        size_t n_owns = 0;
        bool resumed;
        if (jsonin_has (in, "owns") && jsonin_strings (in, "owns", &owns, &n_owns, err)) {
            rc = WOB_ERR_INVALID;
            goto done;
        }
        if (!(rc = center_signin (self->center, agent, owns, n_owns, &resumed, err))) {
            fprintf (out, "{\"resumed\": %s, \"state\": ", resumed? "true": "false");
            rc = center_agent_json (self->center, agent, out, err);
            fprintf (out, "}\n");
        }
    }
    else
    if (streq (what, "heartbeat")) {
        uint64_t idle = 0;
        bool has_idle = jsonin_has (in, "idle_ms");
        if (has_idle && jsonin_uint (in, "idle_ms", &idle, err)) {
            rc = WOB_ERR_INVALID;
            goto done;
        }
        if (!(rc = center_seen (self->center, agent, has_idle? (int64_t) (idle & INT64_MAX): -1,
                                err)))
            fprintf (out, "{\"ok\": true}\n");
    }
    else
    if (streq (what, "outcome")) {
        uint64_t order;
        const char *outcome, *note = "";
        int64_t callback_at;
        if (!jsonin_has (in, "order"))
            rc = wob_fail (err, WOB_ERR_INVALID, "missing field 'order' (the order id)");
        else
        if (jsonin_uint (in, "order", &order, err))
            rc = WOB_ERR_INVALID;
        else
        if (!jsonin_has (in, "outcome"))
            rc = wob_fail (err, WOB_ERR_INVALID, "missing field 'outcome'");
        else
        if (jsonin_string (in, "outcome", &outcome, err)
        || (jsonin_has (in, "note") && jsonin_string (in, "note", &note, err))
        ||  s_callback_at (in, &callback_at, err))
            rc = WOB_ERR_INVALID;
        if (rc)
            goto done;
        center_seen (self->center, agent, -1, err);
        if (!(rc = center_report (self->center, agent, order, outcome, note, callback_at, err))) {
            fprintf (out, "{\"ok\": true, \"order\": %" PRIu64 ", \"outcome\": ", order);
            wob_json_string (out, outcome);
            fprintf (out, ", \"callback_at_ms\": %" PRId64 "}\n", callback_at);
        }
    }
    else {
        uint64_t returned;
        if (!(rc = center_signout (self->center, agent, "signed out by request", &returned,
                                   err))) {
            if (returned)
                fprintf (out, "{\"ok\": true, \"returned\": %" PRIu64 "}\n", returned);
            else
                fprintf (out, "{\"ok\": true, \"returned\": null}\n");
        }
    }
done:
    fclose (out);
    jsonin_destroy (&in);
    if (rc) {
        free (text);
        return s_error (conn, s_status (rc), err);
    }
    return s_send_json (conn, MHD_HTTP_OK, text, size);
}

//  --- Routing -----------------------------------------------------------------

static enum MHD_Result
s_route (console_t *self, struct MHD_Connection *conn, const char *url, const char *method,
         upload_t *up)
{
    bool get = streq (method, "GET") || streq (method, "HEAD");
    bool post = streq (method, "POST");
    char message [200];
    if (strncmp (url, "/api/", 5) == 0) {
        const char *what = url + 5;
        bool post_api = streq (what, "signin") || streq (what, "heartbeat")
                     || streq (what, "outcome") || streq (what, "signout");
        if (streq (what, "next") || streq (what, "agents")) {
            if (!get)
                return s_error (conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET for this path");
            if (streq (what, "next"))
                return s_api_next (self, conn);
            char *text = NULL;
            size_t size = 0;
            FILE *out = open_memstream (&text, &size);
            center_agents_json (self->center, out);
            fputc ('\n', out);
            fclose (out);
            return s_send_json (conn, MHD_HTTP_OK, text, size);
        }
        if (post_api) {
            if (!post)
                return s_error (conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST for this path");
            if (up->too_big) {
                snprintf (message, sizeof (message), "request body over %d bytes", S_BODY_MAX);
                return s_error (conn, MHD_HTTP_CONTENT_TOO_LARGE, message);
            }
            const char *type = MHD_lookup_connection_value (conn, MHD_HEADER_KIND,
                                                            MHD_HTTP_HEADER_CONTENT_TYPE);
            if (!type || strncasecmp (type, "application/json", 16) != 0
            ||  (type [16] && type [16] != ';' && type [16] != ' '))
                return s_error (conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "POST bodies must be "
                                "JSON, sent with Content-Type: application/json");
            return s_api_post (self, conn, what, up);
        }
    }
    else
    if (get) {
        const char *path = streq (url, "/") || streq (url, "/index.html")? "/console.html": url;
        for (size_t i = 0; i < call_assets_count; i++)
            if (streq (call_assets [i].path, path))
                return s_send (conn, MHD_HTTP_OK, call_assets [i].type,
                               (char *) call_assets [i].data, call_assets [i].size,
                               MHD_RESPMEM_PERSISTENT);
        if (streq (url, "/favicon.ico"))
            return s_send (conn, MHD_HTTP_NO_CONTENT, "image/x-icon", NULL, 0,
                           MHD_RESPMEM_PERSISTENT);
    }
    snprintf (message, sizeof (message), "no such path: %.20s %.150s", method, url);
    return s_error (conn, MHD_HTTP_NOT_FOUND, message);
}

static enum MHD_Result
s_handler (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_size, void **state)
{
    (void) version;
    console_t *self = (console_t *) cls;
    upload_t *up = *state;
    if (!up) {
        //  First call: headers only.  Keep a place for the body.
        *state = calloc (1, sizeof (upload_t));
        return *state? MHD_YES: MHD_NO;
    }
    if (*upload_size) {
        if (!up->too_big && up->size + *upload_size <= S_BODY_MAX) {
            up->body = realloc (up->body, up->size + *upload_size + 1);
            memcpy (up->body + up->size, upload_data, *upload_size);
            up->size += *upload_size;
            up->body [up->size] = 0;
        }
        else {
            up->too_big = true;
            free (up->body);
            up->body = NULL;
            up->size = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return s_route (self, conn, url, method, up);
}

static void
s_completed (void *cls, struct MHD_Connection *conn, void **state,
             enum MHD_RequestTerminationCode code)
{
    (void) cls;
    (void) conn;
    (void) code;
    upload_t *up = *state;
    if (up) {
        free (up->body);
        free (up);
        *state = NULL;
    }
}

//  --- The server ---------------------------------------------------------------

console_t *
console_new (center_t *center, const char *listen, char *err)
{
    console_t *self = calloc (1, sizeof (console_t));
    if (!self) {
        wob_fail (err, WOB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->center = center;
    wob_httpd_config_t config = { .listen = listen, .what = "--http", .handler = s_handler,
                                  .handler_cls = self, .completed = s_completed,
                                  .completed_cls = self, .timeout_s = 60,
                                  .connections = 4000 };
    if (!(self->server = wob_httpd_new (&config, err))) {
        free (self);
        return NULL;
    }
    return self;
}

void
console_destroy (console_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wob_httpd_destroy (&(*self_p)->server);
    free (*self_p);
    *self_p = NULL;
}

uint16_t console_port (console_t *self) { return wob_httpd_port (self->server); }
int console_fd (console_t *self) { return wob_httpd_fd (self->server); }
long console_timeout (console_t *self, long max_ms) { return wob_httpd_timeout (self->server, max_ms); }
void console_run (console_t *self) { wob_httpd_run (self->server); }
