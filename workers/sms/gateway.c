/*  gateway.c - sends SMS through Kannel's HTTP sendsms interface.

    Every message becomes one GET of the sendsms URL with from, to, text,
    coding and charset, dlr-mask and dlr-url, each URL-encoded.  Requests
    run on libcurl's multi interface, driven by the worker's own poll loop
    (curl tells us its sockets and timer through callbacks), so up to
    max_inflight requests are on the wire at once and nothing blocks.  A
    token bucket keeps to the gateway's rate.

    What Kannel answers decides a message's fate:
      200/202 (0: Accepted, 3: Queued for later delivery)   accepted
      a 4xx about the number (denied, not routable)       refused for good
      anything else: no answer, 5xx, 429, queue full, authorization
      failed, sender missing ...                          the gateway's or
          the setup's problem, never the customer's: retried with
          exponential back-off; after give_back_after attempts the message
          is given up (the order goes back to the broker as retryable)
    While requests fail, the first failure and then one line every few
    seconds go to stderr, naming the gateway without its credentials.     */

#include "sms.h"
#include <curl/curl.h>
#include <ctype.h>

#define S_BODY_MAX   240        //  answer text kept per request
#define S_LOG_EVERY  5000       //  ms between "still failing" lines

typedef struct {
    uint64_t key;               //  the caller's id for this message
    char *url;                  //  the whole request (has the credentials)
    uint32_t attempts;          //  requests made so far
    int64_t due;                //  mono ms: not before (back-off)
    CURL *easy;                 //  while on the wire
    void *handle;               //  position in ready or waiting, else NULL
    zlistx_t *list;             //  which of the two
    bool cancelled;             //  on the wire but forgotten by the caller
    char body [S_BODY_MAX + 1]; //  the answer so far
    size_t body_len;
} msg_t;

typedef struct {
    curl_socket_t fd;           //  a socket curl uses
    int what;                   //  CURL_POLL_IN / OUT / INOUT
} sock_t;

struct _gateway_t {
    gateway_config_t config;    //  copy; strings below are owned
    char *url;                  //  sendsms URL ending in '?' or '&'
    char *name;                 //  the URL up to '?', for messages
    char *from;                 //  sender
    char *dlr_mask;             //  "31", or NULL
    CURLM *multi;               //  the requests on the wire
    zhashx_t *msgs;             //  key -> msg_t *, every message we hold
    zlistx_t *ready;            //  msg_t * to send, oldest first
    zlistx_t *waiting;          //  msg_t * backing off
    size_t inflight;            //  requests on the wire
    double tokens;              //  token bucket for the rate
    int64_t refilled;           //  when tokens was last topped up (mono ms)
    int64_t timer_due;          //  curl's timer (mono ms), -1 = none
    sock_t *socks;              //  curl's sockets
    size_t n_socks, socks_cap;
    bool stopping;              //  gateway_stop was called
    bool failing;               //  the last request failed on the gateway side
    int64_t last_log;           //  when we last logged a failure (mono ms)
    uint64_t failures;          //  failed requests since then
};

static void
s_msg_free (msg_t **msg_p)
{
    msg_t *msg = *msg_p;
    if (msg) {
        free (msg->url);
        free (msg);
        *msg_p = NULL;
    }
}

static void
s_unlist (msg_t *msg)
{
    if (msg->handle) {
        zlistx_detach (msg->list, msg->handle);
        msg->handle = NULL;
        msg->list = NULL;
    }
}

static void
s_enlist (zlistx_t *list, msg_t *msg, bool front)
{
    s_unlist (msg);
    msg->handle = front? zlistx_add_start (list, msg): zlistx_add_end (list, msg);
    msg->list = list;
}

static int
s_socket_cb (CURL *easy, curl_socket_t fd, int what, void *arg, void *socketp)
{
    (void) easy, (void) socketp;
    gateway_t *self = (gateway_t *) arg;
    for (size_t i = 0; i < self->n_socks; i++)
        if (self->socks [i].fd == fd) {
            if (what == CURL_POLL_REMOVE)
                self->socks [i] = self->socks [--self->n_socks];
            else
                self->socks [i].what = what;
            return 0;
        }
    if (what == CURL_POLL_REMOVE)
        return 0;
    if (self->n_socks == self->socks_cap) {
        size_t cap = self->socks_cap? self->socks_cap * 2: 16;
        sock_t *socks = realloc (self->socks, cap * sizeof (sock_t));
        if (!socks)
            return -1;
        self->socks = socks;
        self->socks_cap = cap;
    }
    self->socks [self->n_socks].fd = fd;
    self->socks [self->n_socks++].what = what;
    return 0;
}

static int
s_timer_cb (CURLM *multi, long timeout_ms, void *arg)
{
    (void) multi;
    gateway_t *self = (gateway_t *) arg;
    self->timer_due = timeout_ms < 0? -1: zclock_mono () + timeout_ms;
    return 0;
}

static size_t
s_write_cb (char *data, size_t size, size_t count, void *arg)
{
    msg_t *msg = (msg_t *) arg;
    size_t n = size * count, room = S_BODY_MAX - msg->body_len;
    memcpy (msg->body + msg->body_len, data, n < room? n: room);
    msg->body_len += n < room? n: room;
    msg->body [msg->body_len] = 0;
    return n;
}

gateway_t *
gateway_new (const gateway_config_t *config, char *err)
{
    const char *url = config->sendsms_url;
    if (!url || (strncmp (url, "http://", 7) && strncmp (url, "https://", 8))) {
        wob_fail (err, WOB_ERR_INVALID, "--sendsms-url: '%s' is not an http:// URL",
                  url? url: "");
        return NULL;
    }
    if (!config->from || !*config->from) {
        wob_fail (err, WOB_ERR_INVALID, "--from: Kannel needs a sender");
        return NULL;
    }
    if (curl_global_init (CURL_GLOBAL_DEFAULT)) {
        wob_fail (err, WOB_ERR_IO, "curl_global_init failed");
        return NULL;
    }
    gateway_t *self = calloc (1, sizeof (gateway_t));
    self->config = *config;
    if (!self->config.max_inflight)
        self->config.max_inflight = 1;
    if (!self->config.give_back_after)
        self->config.give_back_after = 1;
    const char *query = strchr (url, '?');
    self->url = zsys_sprintf ("%s%s", url, !query? "?": query [1]? "&": "");
    self->name = query? strndup (url, (size_t) (query - url)): strdup (url);
    self->from = strdup (config->from);
    self->dlr_mask = config->dlr_mask? zsys_sprintf ("%d", config->dlr_mask): NULL;
    self->msgs = wob_idmap_new (NULL);
    self->ready = zlistx_new ();
    self->waiting = zlistx_new ();
    self->timer_due = -1;
    self->refilled = zclock_mono ();
    self->tokens = 1;
    self->multi = curl_multi_init ();
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, s_socket_cb);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, s_timer_cb);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                       (long) self->config.max_inflight);
    return self;
}

void
gateway_destroy (gateway_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_t *self = *self_p;
    for (msg_t *msg = zhashx_first (self->msgs); msg; msg = zhashx_next (self->msgs)) {
        if (msg->easy) {
            curl_multi_remove_handle (self->multi, msg->easy);
            curl_easy_cleanup (msg->easy);
        }
        s_msg_free (&msg);
    }
    zhashx_destroy (&self->msgs);
    zlistx_destroy (&self->ready);
    zlistx_destroy (&self->waiting);
    curl_multi_cleanup (self->multi);
    curl_global_cleanup ();
    free (self->socks);
    free (self->url);
    free (self->name);
    free (self->from);
    free (self->dlr_mask);
    free (self);
    *self_p = NULL;
}

//  Appends &name=value, URL-encoded.
static void
s_param (FILE *out, CURL *curl, const char *name, const char *value)
{
    char *escaped = curl_easy_escape (curl, value, 0);
    fprintf (out, "&%s=%s", name, escaped? escaped: "");
    curl_free (escaped);
}

int
gateway_send (gateway_t *self, uint64_t key, const char *to, const char *text,
              bool ucs2, const char *dlr_url)
{
    if (zhashx_lookup (self->msgs, WOB_ID_KEY (key)))
        return -1;
    CURL *curl = curl_easy_init ();
    if (!curl)
        return -1;
    char *url = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&url, &size);
    if (!out) {
        curl_easy_cleanup (curl);
        return -1;
    }
    //  username and password are in self->url already; Kannel takes the
    //  first value of a repeated parameter, so ours follow.
    fputs (self->url, out);
    char *escaped = curl_easy_escape (curl, self->from, 0);
    fprintf (out, "from=%s", escaped? escaped: "");
    curl_free (escaped);
    s_param (out, curl, "to", to);
    s_param (out, curl, "text", text);
    //  UTF-8 in, and UCS-2 on the air for anything outside GSM 7-bit.
    fprintf (out, "&charset=UTF-8&coding=%d", ucs2? 2: 0);
    if (self->dlr_mask && dlr_url) {
        fprintf (out, "&dlr-mask=%s", self->dlr_mask);
        s_param (out, curl, "dlr-url", dlr_url);
    }
    curl_easy_cleanup (curl);
    if (fclose (out) || !url) {
        free (url);
        return -1;
    }
    msg_t *msg = calloc (1, sizeof (msg_t));
    msg->key = key;
    msg->url = url;
    zhashx_insert (self->msgs, WOB_ID_KEY (key), msg);
    s_enlist (self->ready, msg, false);
    return 0;
}

void
gateway_cancel (gateway_t *self, uint64_t key)
{
    msg_t *msg = zhashx_lookup (self->msgs, WOB_ID_KEY (key));
    if (!msg)
        return;
    if (msg->easy) {
        msg->cancelled = true;          //  freed when the request ends
        return;
    }
    s_unlist (msg);
    zhashx_delete (self->msgs, WOB_ID_KEY (key));
    s_msg_free (&msg);
}

//  Forgets msg and tells the caller its fate.
static void
s_done (gateway_t *self, msg_t *msg, gateway_status_t status, const char *note)
{
    s_unlist (msg);
    zhashx_delete (self->msgs, WOB_ID_KEY (msg->key));
    if (!msg->cancelled)
        self->config.done (self->config.arg, msg->key, status, note);
    s_msg_free (&msg);
}

void
gateway_stop (gateway_t *self)
{
    self->stopping = true;
    msg_t *msg;
    while ((msg = zlistx_first (self->ready)) || (msg = zlistx_first (self->waiting)))
        s_done (self, msg, GATEWAY_DROPPED, "worker stopping");
}

//  Starts requests while the rate, the in-flight bound and the back-off
//  allow.
static void
s_start (gateway_t *self)
{
    int64_t now = zclock_mono ();
    if (self->config.rate > 0) {
        double burst = self->config.rate / 20;   //  50 ms worth, at least 1
        if (burst < 1)
            burst = 1;
        self->tokens += (double) (now - self->refilled) * self->config.rate / 1000;
        if (self->tokens > burst)
            self->tokens = burst;
    }
    self->refilled = now;
    //  Back-off over: retries go first, in the order they failed.
    size_t n_due = 0, n_waiting = zlistx_size (self->waiting);
    msg_t **due = n_waiting? calloc (n_waiting, sizeof (msg_t *)): NULL;
    for (msg_t *msg = zlistx_first (self->waiting); msg; msg = zlistx_next (self->waiting))
        if (msg->due <= now)
            due [n_due++] = msg;
    while (n_due)
        s_enlist (self->ready, due [--n_due], true);
    free (due);
    while (!self->stopping && self->inflight < self->config.max_inflight
       &&  (self->config.rate <= 0 || self->tokens >= 1)) {
        msg_t *msg = zlistx_first (self->ready);
        if (!msg)
            break;
        s_unlist (msg);
        CURL *easy = curl_easy_init ();
        if (!easy) {
            s_enlist (self->ready, msg, true);
            break;
        }
        msg->body_len = 0;
        msg->body [0] = 0;
        curl_easy_setopt (easy, CURLOPT_URL, msg->url);
        curl_easy_setopt (easy, CURLOPT_PRIVATE, msg);
        curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_write_cb);
        curl_easy_setopt (easy, CURLOPT_WRITEDATA, msg);
        curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, (long) self->config.timeout_ms);
        curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT_MS,
                          (long) (self->config.timeout_ms < 5000? self->config.timeout_ms: 5000));
        curl_easy_setopt (easy, CURLOPT_USERAGENT, "wob-sms");
        msg->easy = easy;
        msg->attempts++;
        self->inflight++;
        if (self->config.rate > 0)
            self->tokens -= 1;
        curl_multi_add_handle (self->multi, easy);
    }
}

//  True when Kannel's answer refuses this message for good: a 4xx about
//  the number ("Number(s) has/have been denied ...", "Missing receiver
//  number", "Not routable. Do not try again.").  Any other 4xx (sender
//  missing, authorization failed, queue full, unknown request) is about the
//  gateway or our setup, and no answer or a 5xx is about the gateway, so
//  those are retried and never blamed on the customer.
static bool
s_refused (long code, const char *body)
{
    if (code < 400 || code >= 500 || code == 429)
        return false;
    char lower [S_BODY_MAX + 1];
    size_t i;
    for (i = 0; body [i] && i < S_BODY_MAX; i++)
        lower [i] = (char) tolower ((unsigned char) body [i]);
    lower [i] = 0;
    if (strstr (lower, "queue") || strstr (lower, "throttl") || strstr (lower, "try again later")
    ||  strstr (lower, "tempora") || strstr (lower, "authoriz"))
        return false;
    return strstr (lower, "number") || strstr (lower, "receiver") || strstr (lower, "routable")
        || strstr (lower, "denied");
}

//  A request failed on the gateway's side: back off or give up.
static void
s_failed (gateway_t *self, msg_t *msg, const char *why)
{
    int64_t now = zclock_mono ();
    self->failures++;
    if (!self->failing || now - self->last_log >= S_LOG_EVERY) {
        if (self->failing)
            sms_log ("gateway %s still failing: %" PRIu64 " failed requests in %" PRId64
                     " s, last: %s", self->name, self->failures, (now - self->last_log) / 1000,
                     why);
        else
            sms_log ("gateway %s %s (orders are kept and retried)", self->name, why);
        self->last_log = now;
        self->failures = 0;
    }
    self->failing = true;
    if (self->stopping || msg->cancelled) {
        s_done (self, msg, GATEWAY_DROPPED, why);
        return;
    }
    if (msg->attempts >= self->config.give_back_after) {
        char note [S_BODY_MAX + 200];
        snprintf (note, sizeof (note), "gateway %s %s; gave up after %u attempts",
                  self->name, why, msg->attempts);
        s_done (self, msg, GATEWAY_GAVE_UP, note);
        return;
    }
    uint64_t backoff = self->config.retry_ms;
    for (uint32_t i = 1; i < msg->attempts && backoff < self->config.retry_max_ms; i++)
        backoff *= 2;
    if (backoff > self->config.retry_max_ms)
        backoff = self->config.retry_max_ms;
    msg->due = now + (int64_t) backoff;
    s_enlist (self->waiting, msg, false);
}

static void
s_finished (gateway_t *self)
{
    CURLMsg *info;
    int left;
    while ((info = curl_multi_info_read (self->multi, &left))) {
        if (info->msg != CURLMSG_DONE)
            continue;
        CURL *easy = info->easy_handle;
        CURLcode result = info->data.result;
        char *private = NULL;
        long code = 0;
        curl_easy_getinfo (easy, CURLINFO_PRIVATE, &private);
        msg_t *msg = (msg_t *) private;
        curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &code);
        curl_multi_remove_handle (self->multi, easy);
        curl_easy_cleanup (easy);
        msg->easy = NULL;
        self->inflight--;
        //  Kannel's answers have no newline; keep ours one line anyway.
        for (char *c = msg->body; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        char why [S_BODY_MAX + 120];
        if (result != CURLE_OK)
            snprintf (why, sizeof (why), "unreachable: %s", curl_easy_strerror (result));
        else
            snprintf (why, sizeof (why), "refused: %ld %s", code, msg->body);
        if (result == CURLE_OK && (code == 200 || code == 202)) {
            if (self->failing)
                sms_log ("gateway %s accepts messages again", self->name);
            self->failing = false;
            s_done (self, msg, GATEWAY_ACCEPTED, msg->body);
        }
        else
        if (result == CURLE_OK && s_refused (code, msg->body)) {
            snprintf (why, sizeof (why), "gateway refused the message: %ld %s", code, msg->body);
            s_done (self, msg, GATEWAY_REFUSED, why);
        }
        else
            s_failed (self, msg, why);
    }
}

size_t
gateway_pollitems (gateway_t *self, zmq_pollitem_t *items, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_socks && n < max; i++) {
        zmq_pollitem_t item = { NULL, self->socks [i].fd, 0, 0 };
        if (self->socks [i].what & CURL_POLL_IN)
            item.events |= ZMQ_POLLIN;
        if (self->socks [i].what & CURL_POLL_OUT)
            item.events |= ZMQ_POLLOUT;
        items [n++] = item;
    }
    return n;
}

int64_t
gateway_timeout (gateway_t *self)
{
    int64_t now = zclock_mono (), wait = -1;
    if (self->timer_due >= 0)
        wait = self->timer_due > now? self->timer_due - now: 0;
    if (self->stopping)
        return wait;
    if (zlistx_size (self->ready) && self->inflight < self->config.max_inflight) {
        int64_t t = 0;
        if (self->config.rate > 0 && self->tokens < 1)
            t = (int64_t) ((1 - self->tokens) * 1000 / self->config.rate) + 1;
        if (wait < 0 || t < wait)
            wait = t;
    }
    for (msg_t *msg = zlistx_first (self->waiting); msg; msg = zlistx_next (self->waiting)) {
        int64_t t = msg->due > now? msg->due - now: 0;
        if (wait < 0 || t < wait)
            wait = t;
    }
    return wait;
}

void
gateway_run (gateway_t *self, zmq_pollitem_t *items, size_t n)
{
    int running;
    for (size_t i = 0; i < n; i++) {
        if (!items [i].revents)
            continue;
        int flags = (items [i].revents & ZMQ_POLLIN? CURL_CSELECT_IN: 0)
                  | (items [i].revents & ZMQ_POLLOUT? CURL_CSELECT_OUT: 0)
                  | (items [i].revents & ZMQ_POLLERR? CURL_CSELECT_ERR: 0);
        curl_multi_socket_action (self->multi, items [i].fd, flags, &running);
    }
    if (self->timer_due >= 0 && self->timer_due <= zclock_mono ()) {
        self->timer_due = -1;
        curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    s_finished (self);
    s_start (self);
}

size_t gateway_inflight (gateway_t *self) { return self->inflight; }
const char *gateway_name (gateway_t *self) { return self->name; }
