/*  dlr.c - the HTTP listener for Kannel's delivery reports.

    Kannel reports a message's fate by fetching the dlr-url given with it,
    after substituting %d (the report type) and %A (the SMSC's answer).
    Ours is  http://HOST:PORT/dlr?s=SESSION&o=ORDER&a=ATTEMPT&t=%d&r=%A
    SESSION is random per process, so a report meant for an earlier
    wob-sms that had the same port is recognised and ignored; ORDER and
    ATTEMPT say which lease the report is about.

    libmicrohttpd serves the requests in the worker's own thread: it runs
    with epoll and no thread of its own, and the worker polls its epoll fd
    next to the broker socket and curl's sockets.  Every well-formed
    request is answered 200 (Kannel retries anything else, so a report we
    no longer care about is acknowledged too); a malformed one gets 400.  */

#include "sms.h"
#include <microhttpd.h>
#include <arpa/inet.h>
#include <sys/random.h>

struct _dlr_t {
    struct MHD_Daemon *daemon;  //  the HTTP server
    int epoll_fd;               //  what to poll (the daemon's)
    char session [17];          //  random hex, in every dlr-url we give out
    char *base;                 //  http://host:port
    dlr_fn *fn;                 //  called per report
    void *arg;                  //  for fn
};

static enum MHD_Result
s_answer (struct MHD_Connection *connection, unsigned int status, const char *text)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        strlen (text), (void *) text, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, "Content-Type", "text/plain");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

//  Parses a decimal number of at most max; -1 if text is not one.
static int
s_number (const char *text, uint64_t max, uint64_t *value)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long n = strtoull (text, &end, 10);
    if (*end || errno || n > max)
        return -1;
    *value = n;
    return 0;
}

static enum MHD_Result
s_request (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size,
           void **con_cls)
{
    (void) version, (void) upload_data, (void) con_cls;
    dlr_t *self = (dlr_t *) cls;
    if (!streq (method, "GET") || *upload_data_size)
        return s_answer (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    if (!streq (url, "/dlr"))
        return s_answer (connection, MHD_HTTP_NOT_FOUND, "not found\n");
    const char *session = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "s");
    const char *reply = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "r");
    uint64_t order, attempt, type;
    if (!session
    ||  s_number (MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "o"),
                  UINT64_MAX, &order)
    ||  s_number (MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "a"),
                  UINT32_MAX, &attempt)
    ||  s_number (MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "t"),
                  INT32_MAX, &type))
        return s_answer (connection, MHD_HTTP_BAD_REQUEST, "expected s, o, a, t\n");
    if (!streq (session, self->session))
        return s_answer (connection, MHD_HTTP_OK, "not ours\n");
    self->fn (self->arg, order, (uint32_t) attempt, (int) type, reply? reply: "");
    return s_answer (connection, MHD_HTTP_OK, "OK\n");
}

dlr_t *
dlr_new (const char *listen, const char *url_base, dlr_fn *fn, void *arg, char *err)
{
    struct sockaddr_in addr = { .sin_family = AF_INET };
    char host [64] = "127.0.0.1";
    const char *colon = strrchr (listen, ':');
    const char *port_text = colon? colon + 1: listen;
    if (colon && (size_t) (colon - listen) < sizeof (host)) {
        memcpy (host, listen, (size_t) (colon - listen));
        host [colon - listen] = 0;
    }
    uint64_t port;
    if ((colon && (size_t) (colon - listen) >= sizeof (host))
    ||  inet_pton (AF_INET, host, &addr.sin_addr) != 1
    ||  s_number (port_text, 65535, &port)) {
        wob_fail (err, WOB_ERR_INVALID, "--dlr-listen: '%s' is not IPV4:PORT", listen);
        return NULL;
    }
    addr.sin_port = htons ((uint16_t) port);
    dlr_t *self = calloc (1, sizeof (dlr_t));
    self->fn = fn;
    self->arg = arg;
    uint64_t token;
    if (getrandom (&token, sizeof (token), 0) != sizeof (token))
        token = (uint64_t) zclock_time () * 6364136223846793005ULL ^ (uint64_t) getpid ();
    snprintf (self->session, sizeof (self->session), "%016" PRIx64, token);
    self->daemon = MHD_start_daemon (MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                     s_request, self,
                                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 30,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 1000,
                                     MHD_OPTION_END);
    const union MHD_DaemonInfo *info = self->daemon?
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT): NULL;
    const union MHD_DaemonInfo *epoll = self->daemon?
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD): NULL;
    if (!info || !epoll) {
        wob_fail (err, WOB_ERR_IO, "--dlr-listen: cannot listen on %s:%u: %s", host,
                  (unsigned) port, strerror (errno));
        dlr_destroy (&self);
        return NULL;
    }
    self->epoll_fd = epoll->epoll_fd;
    if (url_base && *url_base) {
        size_t len = strlen (url_base);
        self->base = strndup (url_base, url_base [len - 1] == '/'? len - 1: len);
    }
    else
        self->base = zsys_sprintf ("http://%s:%u", host, (unsigned) info->port);
    return self;
}

void
dlr_destroy (dlr_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dlr_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    free (self->base);
    free (self);
    *self_p = NULL;
}

char *
dlr_url (dlr_t *self, uint64_t order_id, uint32_t attempt)
{
    return zsys_sprintf ("%s/dlr?s=%s&o=%" PRIu64 "&a=%u&t=%%d&r=%%A", self->base,
                         self->session, order_id, attempt);
}

const char *dlr_base (dlr_t *self) { return self->base; }

void
dlr_pollitem (dlr_t *self, zmq_pollitem_t *item)
{
    item->socket = NULL;
    item->fd = self->epoll_fd;
    item->events = ZMQ_POLLIN;
    item->revents = 0;
}

int64_t
dlr_timeout (dlr_t *self)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout (self->daemon, &ms) != MHD_YES)
        return -1;
    return ms > INT64_MAX? INT64_MAX: (int64_t) ms;
}

void
dlr_run (dlr_t *self)
{
    MHD_run (self->daemon);
}
