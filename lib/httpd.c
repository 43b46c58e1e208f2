/*  httpd.c - an HTTP server polled from a ZeroMQ loop: what the broker's
    dashboard (broker/http.c) and wob-call's console (workers/call) share.
    See include/wob_httpd.h.                                              */

#include "wob_httpd.h"
#include <arpa/inet.h>
#include <poll.h>

struct _wob_httpd_t {
    struct MHD_Daemon *daemon;  //  external polling mode, epoll
    uint16_t port;              //  bound port
    int fd;                     //  MHD's epoll descriptor, for the loop
};

//  libmicrohttpd's messages go to the log, one line each.
static void
s_log (void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    char line [512];
    vsnprintf (line, sizeof (line), fmt, ap);
    size_t len = strlen (line);
    while (len && line [len - 1] == '\n')
        line [--len] = 0;
    zsys_warning ("http: %s", line);
}

wob_httpd_t *
wob_httpd_new (const wob_httpd_config_t *config, char *err)
{
    const char *listen = config->listen, *what = config->what? config->what: "http";
    char host [64] = "127.0.0.1";
    const char *colon = strrchr (listen, ':');
    const char *port_text = colon? colon + 1: listen;
    if (colon && (colon == listen || (size_t) (colon - listen) >= sizeof (host))) {
        wob_fail (err, WOB_ERR_INVALID, "%s '%s': expected HOST:PORT, e.g. 127.0.0.1:8080",
                  what, listen);
        return NULL;
    }
    if (colon)
        snprintf (host, sizeof (host), "%.*s", (int) (colon - listen), listen);
    char *end;
    long port = strtol (port_text, &end, 10);
    if (!*port_text || *end || port < 0 || port > 65535) {
        wob_fail (err, WOB_ERR_INVALID, "%s '%s': port '%s' is not 0 to 65535", what, listen,
                  port_text);
        return NULL;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    if (inet_pton (AF_INET, host, &addr.sin_addr) != 1) {
        wob_fail (err, WOB_ERR_INVALID, "%s '%s': '%s' is not an IPv4 address", what, listen,
                  host);
        return NULL;
    }
    wob_httpd_t *self = calloc (1, sizeof (wob_httpd_t));
    if (!self) {
        wob_fail (err, WOB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->daemon = MHD_start_daemon (MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t) port,
        NULL, NULL, config->handler, config->handler_cls,
        MHD_OPTION_EXTERNAL_LOGGER, s_log, NULL,        //  first, so MHD uses it throughout
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_NOTIFY_COMPLETED, config->completed, config->completed_cls,
        MHD_OPTION_CONNECTION_TIMEOUT, config->timeout_s? config->timeout_s: 30,
        MHD_OPTION_CONNECTION_LIMIT, config->connections? config->connections: 256,
        MHD_OPTION_END);
    if (!self->daemon) {
        wob_fail (err, WOB_ERR_IO, "%s %s: cannot listen there (in use, or not an address "
                  "of this machine?)", what, listen);
        free (self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_BIND_PORT);
    self->port = info? info->port: (uint16_t) port;
    info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    self->fd = info? info->epoll_fd: -1;
    if (self->fd < 0) {
        wob_fail (err, WOB_ERR_IO, "libmicrohttpd gives no epoll descriptor (built without "
                  "epoll?)");
        wob_httpd_destroy (&self);
        return NULL;
    }
    return self;
}

void
wob_httpd_destroy (wob_httpd_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->daemon)
        MHD_stop_daemon ((*self_p)->daemon);
    free (*self_p);
    *self_p = NULL;
}

uint16_t wob_httpd_port (wob_httpd_t *self) { return self->port; }
int wob_httpd_fd (wob_httpd_t *self) { return self->fd; }

long
wob_httpd_timeout (wob_httpd_t *self, long max_ms)
{
    MHD_UNSIGNED_LONG_LONG timeout;
    if (MHD_get_timeout (self->daemon, &timeout) == MHD_YES && (long long) timeout < max_ms)
        return (long) timeout;
    return max_ms;
}

void
wob_httpd_run (wob_httpd_t *self)
{
    //  One request takes several steps (accept, read, answer, write), each
    //  an MHD_run: take those that are ready now rather than one per turn
    //  of the caller's loop, where a busy broker's turn may last a while.
    for (int round = 0; round < 8; round++) {
        MHD_run (self->daemon);
        MHD_UNSIGNED_LONG_LONG timeout;
        bool pending = MHD_get_timeout (self->daemon, &timeout) == MHD_YES && timeout == 0;
        struct pollfd ready = { self->fd, POLLIN, 0 };
        if (!pending && poll (&ready, 1, 0) <= 0)
            break;
    }
}
