/*  wob_worker.h - the worker side of the wob protocol, for channel workers.

    A worker says hello (name, channel, capacity, what it owns), receives
    leased orders up to its capacity, reports outcomes and heartbeats.  This
    library does the protocol: heartbeats both ways, re-hello after a broker
    restart (telling the broker which orders it still holds), and outcome
    reports kept and resent until the broker acknowledges them, so a report
    is never lost to a broker crash and never applied twice.              */

#ifndef WOB_WORKER_H_INCLUDED
#define WOB_WORKER_H_INCLUDED

#include "wob.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _wob_worker_t wob_worker_t;

typedef struct {
    const char *endpoint;       //  broker endpoint
    const char *name;           //  stable worker identity
    const char *channel;        //  sms, call, visit, ...
    uint32_t capacity;          //  orders held at once
    const char **owns;          //  ranges / regions (may be NULL)
    size_t n_owns;
    uint32_t heartbeat_ms;      //  0 = 1000
    const uint64_t *holding;    //  orders a previous process of this worker
    size_t n_holding;           //  still holds (claimed in the hello)
} wob_worker_config_t;

//  Connects and says hello (answered asynchronously).  NULL on bad config.
wob_worker_t *wob_worker_new (const wob_worker_config_t *config, char *err);
//  Says goodbye (unfinished orders go back to the queue) and disconnects.
void wob_worker_destroy (wob_worker_t **self_p);
//  Disconnects without goodbye, after pending reports are acknowledged: on
//  channels whose leases outlive the session (visit: --keep-leases), the
//  orders stay leased to this worker until a later process claims them
//  (config.holding) or the leases expire.
void wob_worker_detach (wob_worker_t **self_p);

//  Waits up to timeout_ms for the next leased order.  Returns it (caller
//  owns: free with wob__lease_item__free_unpacked) or NULL on timeout.
//  Orders already received are returned at once, without touching the
//  socket; once they are all taken it polls, and the reports made since
//  the last poll go to the broker together, in one message.
Wob__LeaseItem *wob_worker_next (wob_worker_t *self, int timeout_ms);

//  Reports an outcome for an order this worker holds (attempt from the
//  lease).  Queued and resent until acknowledged.
int wob_worker_report (wob_worker_t *self, uint64_t order_id, uint32_t attempt,
                       int outcome, const char *note, int64_t callback_at_ms);

//  Asks for more time on a held order (a long call, a multi-day visit).
int wob_worker_extend (wob_worker_t *self, uint64_t order_id, uint32_t extra_ms);

//  Handles traffic for up to timeout_ms without taking orders.
void wob_worker_poll (wob_worker_t *self, int timeout_ms);

//  Orders held (leased and not yet acknowledged as reported).
size_t wob_worker_held (wob_worker_t *self);
//  Reports not yet acknowledged by the broker.
size_t wob_worker_unacked (wob_worker_t *self);
//  True once the broker has welcomed this session.
bool wob_worker_connected (wob_worker_t *self);
//  True when the broker refused the session (wob_worker_error says why:
//  an invalid name or capacity, ownership overlapping a live worker's).
//  The library stops saying hello; the caller should stop too.
bool wob_worker_refused (wob_worker_t *self);
//  Last error the broker sent about this worker (hello refused...), or "".
const char *wob_worker_error (wob_worker_t *self);

//  The broker socket, for a worker that runs its own event loop (zmq_poll
//  over this socket and its own file descriptors): when it is readable, and
//  at least every 100 ms, call wob_worker_next (self, 0) until it returns
//  NULL.  (wob_worker_poll alone reads leases without handing them out:
//  they would wait for the socket's next message, up to a heartbeat.)
//  The library replaces the socket when it reconnects, so ask for it again
//  before each poll; the library owns it.
zsock_t *wob_worker_sock (wob_worker_t *self);

#ifdef __cplusplus
}
#endif
#endif
