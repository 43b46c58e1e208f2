/*  wob_httpd.h - an HTTP server polled from a ZeroMQ loop (libmicrohttpd).

    The broker's dashboard and wob-call's agent console both serve HTTP on
    the thread that owns their ZeroMQ sockets: libmicrohttpd in external
    mode with epoll gives one descriptor to put in the loop's zmq_poll;
    wob_httpd_run serves what is ready.  This is the part they share:
    parsing HOST:PORT, starting the daemon, logging through zsys, the
    descriptor, the timeout and the run.                                 */

#ifndef WOB_HTTPD_H_INCLUDED
#define WOB_HTTPD_H_INCLUDED

#include "wob.h"
#include <microhttpd.h>

typedef struct _wob_httpd_t wob_httpd_t;

typedef struct {
    const char *listen;         //  "HOST:PORT" (IPv4) or "PORT" (127.0.0.1); port 0: any
    const char *what;           //  the option's name in messages ("--http")
    MHD_AccessHandlerCallback handler;  //  every request
    void *handler_cls;
    MHD_RequestCompletedCallback completed;     //  optional: a request ended
    void *completed_cls;
    unsigned timeout_s;         //  idle connection timeout
    unsigned connections;       //  at most this many at once
} wob_httpd_config_t;

//  Starts listening.  NULL with err naming the address and what is wrong.
wob_httpd_t *wob_httpd_new (const wob_httpd_config_t *config, char *err);
void wob_httpd_destroy (wob_httpd_t **self_p);
//  The bound port (the real one when 0 was asked for).
uint16_t wob_httpd_port (wob_httpd_t *self);
//  The descriptor to poll for ZMQ_POLLIN.
int wob_httpd_fd (wob_httpd_t *self);
//  max_ms, or less when the server has a timeout due sooner.
long wob_httpd_timeout (wob_httpd_t *self, long max_ms);
//  Serves what is ready.
void wob_httpd_run (wob_httpd_t *self);

#endif
