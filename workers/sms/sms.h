/*  sms.h - the modules of wob-sms, the SMS channel worker.

    wob-sms takes leased orders from the broker, renders the wave's SMS
    template for each customer (template.c), sends the text through
    Kannel's HTTP sendsms interface (gateway.c: libcurl multi, a token
    bucket for the gateway's rate, retries with back-off while the gateway
    is down), listens for Kannel's delivery reports (dlr.c: libmicrohttpd)
    and turns them, or their absence, into outcomes (sms.c: the event loop
    that holds the orders).  Everything runs in one thread: sms.c polls the
    broker socket, the gateway's sockets and the listener's epoll fd in one
    zmq_poll.  Private to workers/sms/.                                    */

#ifndef WOB_SMS_H_INCLUDED
#define WOB_SMS_H_INCLUDED

#include "wob_worker.h"

//  One line on stderr, "2026-11-24 19:14:01 wob-sms: ..." (sms.c).
void sms_log (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

//  --- template.c: rendering -----------------------------------------------
//  Renders tmpl with the customer's fields: {name} {offer} (the first offer)
//  {offers} {msisdn} {customer_id} {province} {city} {district} {grid}
//  {segment} {lifecycle} {arpu} {tenure_months} {priority} and any extra
//  CSV column by its header; {{ and }} are literal braces.  Returns a new
//  string (caller frees) or NULL with err (WOB_ERRLEN) saying what is wrong,
//  e.g. "template: unknown field {foo}".
char *sms_render (const char *tmpl, const Wob__Target *target, char *err);

//  How text travels: *ucs2 when it needs UCS-2 (coding=2), else GSM 7-bit;
//  *parts is the number of SMS it takes (concatenated when more than one).
//  Returns -1 when text is not valid UTF-8.
int sms_measure (const char *text, bool *ucs2, size_t *parts);

//  --- gateway.c: Kannel sendsms over libcurl multi ------------------------
typedef struct _gateway_t gateway_t;

typedef enum {
    GATEWAY_ACCEPTED = 1,       //  202: Kannel took it (note: its answer)
    GATEWAY_REFUSED,            //  Kannel refused this message for good
    GATEWAY_GAVE_UP,            //  gateway down or refusing: attempts used up
    GATEWAY_DROPPED             //  stopping: not sent, the order goes back
} gateway_status_t;

//  Called once per message when its fate is known.  note is only valid
//  during the call.
typedef void (gateway_fn) (void *arg, uint64_t key, gateway_status_t status,
                           const char *note);

typedef struct {
    const char *sendsms_url;    //  http://host:port/cgi-bin/sendsms?username=..
    const char *from;           //  sender id (Kannel needs one)
    double rate;                //  requests per second, 0 = unlimited
    uint32_t max_inflight;      //  requests on the wire at once
    uint32_t give_back_after;   //  attempts before GATEWAY_GAVE_UP
    uint32_t retry_ms;          //  first back-off, doubled per attempt
    uint32_t retry_max_ms;      //  back-off ceiling
    uint32_t timeout_ms;        //  one request, connect to last byte
    int dlr_mask;               //  Kannel dlr-mask (0 = no reports)
    gateway_fn *done;           //  fate of each message
    void *arg;                  //  for done
} gateway_config_t;

//  NULL with err on a bad URL or when curl cannot start.
gateway_t *gateway_new (const gateway_config_t *config, char *err);
//  Aborts requests on the wire; no callbacks.
void gateway_destroy (gateway_t **self_p);
//  Queues one message under key (unique while queued); dlr_url may be NULL.
//  Returns -1 if key is already queued.
int gateway_send (gateway_t *self, uint64_t key, const char *to, const char *text,
                  bool ucs2, const char *dlr_url);
//  Forgets key: a queued message is dropped, a request on the wire is left
//  to finish but neither retried nor reported.
void gateway_cancel (gateway_t *self, uint64_t key);
//  Stops starting requests; messages not on the wire are reported
//  GATEWAY_DROPPED now, failed requests from then on too.
void gateway_stop (gateway_t *self);
//  Fills up to max poll items with the sockets curl waits on; returns count.
size_t gateway_pollitems (gateway_t *self, zmq_pollitem_t *items, size_t max);
//  Milliseconds until the gateway has timed work (0 = now, -1 = none).
int64_t gateway_timeout (gateway_t *self);
//  Does the work: socket events in items (from gateway_pollitems, after the
//  poll), curl's timers, finished requests, new requests within the rate.
void gateway_run (gateway_t *self, zmq_pollitem_t *items, size_t n);
//  Requests on the wire.
size_t gateway_inflight (gateway_t *self);
//  The sendsms URL without its query (no credentials), for messages.
const char *gateway_name (gateway_t *self);

//  --- dlr.c: the delivery-report listener --------------------------------
typedef struct _dlr_t dlr_t;

//  Called for each report that belongs to this process: type is Kannel's
//  DLR type (1 delivered, 2 undelivered, 4 buffered, 8 SMSC accepted, 16
//  SMSC rejected), reply the SMSC's text (may be "").
typedef void (dlr_fn) (void *arg, uint64_t order_id, uint32_t attempt, int type,
                       const char *reply);

//  Listens on listen ("127.0.0.1:PORT", PORT 0 = any free port).  url_base
//  (may be NULL) is how the gateway reaches it, "http://host:port"; default
//  http://LISTEN.  NULL with err when it cannot listen.
dlr_t *dlr_new (const char *listen, const char *url_base, dlr_fn *fn, void *arg, char *err);
void dlr_destroy (dlr_t **self_p);
//  The dlr-url for one message, with Kannel's %d and %A (caller frees).
char *dlr_url (dlr_t *self, uint64_t order_id, uint32_t attempt);
//  Where reports are expected, "http://127.0.0.1:PORT".
const char *dlr_base (dlr_t *self);
//  The poll item to wait on (the listener's epoll fd, readable).
void dlr_pollitem (dlr_t *self, zmq_pollitem_t *item);
//  Milliseconds until the listener has timed work, -1 = none.
int64_t dlr_timeout (dlr_t *self);
//  Serves what is ready; calls fn for each report.
void dlr_run (dlr_t *self);

#endif
