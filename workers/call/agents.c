/*  agents.c - the agents of a call-center floor (the "center").

    Each signed-in agent is one broker session, a wob_worker_t named
    "call/<agent>" on channel "call" with capacity 1: the broker leases the
    agent one order at a time, and the order stays on the agent's screen
    until the agent records its outcome.  When the order arrives the center
    asks the broker for everything it knows about the number (status query
    by msisdn: the order's history and the customer's other orders) and
    keeps the customer view as JSON, so the page's polling costs nothing.

    Leases and idleness.  Agents are "seen" on every request (the page polls
    every second) and "active" when they last touched the page (the page
    says how long ago; API clients that do not say count as active on each
    request).  Then:
      - an agent not seen for --idle-timeout (page closed, browser gone) is
        signed out: the session says goodbye and the broker puts the order
        back in the queue at once;
      - an active agent's lease is extended at half-life, so a long call
        never loses its order;
      - an agent who has not touched the page for the rest of the lease gets
        no extension, and is signed out just before the lease would run
        out, so the order goes back now and no more orders go to an empty
        desk.                                                            */

#include "call.h"
#include "wob_targets.h"
#include <math.h>

#define S_ID_MAX     40         //  agent id length
#define S_NOTE_MAX   1000       //  note length, bytes
#define S_SEEN_MS    10000      //  seen this recently to have a lease extended
#define S_QUERY_MS   2000       //  status query timeout (blocks the loop)
#define S_HELLO_MS   1000       //  sign-in waits this long for the broker's welcome
#define S_LEASE_MS   (30 * 60 * 1000)   //  if the lease does not say

struct _agent_t {
    char *id;                   //  as signed in: letters, digits, '.', '_', '-'
    char *name;                 //  broker worker name, "call:<id>"
    char **owns;                //  ranges / regions declared at sign-in
    size_t n_owns;
    wob_worker_t *worker;       //  the agent's session with the broker
    Wob__LeaseItem *item;       //  order on the agent's screen; NULL while waiting
    char *view;                 //  the order's customer view (JSON), built once
    int64_t lease_ms;           //  lease length the broker gave
    int64_t lease_mark;         //  lease granted or last extended (mono ms)
    int64_t seen;               //  last request about this agent (mono ms)
    int64_t active;             //  last time the agent touched the page (mono ms)
    int64_t since_ms;           //  signed in (epoch ms)
    uint64_t reported;          //  outcomes recorded in this session
    char notice [256];          //  something the agent should read, or ""
};

struct _center_t {
    center_config_t config;     //  copy; strings belong to the caller
    zhashx_t *agents;           //  agent id -> agent_t *
    zhashx_t *gone;             //  agent id -> why and when they were signed out
    wob_client_t *client;       //  status queries for the customer view
};

static void
s_agent_destroy (void **item_p)
{
    agent_t *a = (agent_t *) *item_p;
    if (!a)
        return;
    wob_worker_destroy (&a->worker);
    if (a->item)
        wob__lease_item__free_unpacked (a->item, NULL);
    for (size_t i = 0; i < a->n_owns; i++)
        free (a->owns [i]);
    free (a->owns);
    free (a->view);
    free (a->name);
    free (a->id);
    free (a);
    *item_p = NULL;
}

static void
s_text_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

center_t *
center_new (const center_config_t *config, char *err)
{
    center_t *self = calloc (1, sizeof (center_t));
    if (!self) {
        wob_fail (err, WOB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->config = *config;
    self->client = wob_client_new (config->endpoint, S_QUERY_MS);
    if (!self->client) {
        wob_fail (err, WOB_ERR_INVALID, "cannot connect to broker endpoint '%s'", config->endpoint);
        free (self);
        return NULL;
    }
    self->agents = zhashx_new ();
    zhashx_set_destructor (self->agents, s_agent_destroy);
    self->gone = zhashx_new ();
    zhashx_set_destructor (self->gone, s_text_destroy);
    return self;
}

void
center_destroy (center_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    center_t *self = *self_p;
    for (agent_t *a = zhashx_first (self->agents); a; a = zhashx_next (self->agents))
        zsys_info ("agent %s: signed out: wob-call stopping", a->id);
    zhashx_destroy (&self->agents);         //  each session says goodbye
    zhashx_destroy (&self->gone);
    wob_client_destroy (&self->client);
    free (self);
    *self_p = NULL;
}

size_t center_size (center_t *self) { return zhashx_size (self->agents); }

//  The agent, or NULL with a 404 error that says why they are not here.
static agent_t *
s_lookup (center_t *self, const char *id, char *err)
{
    agent_t *a = id? zhashx_lookup (self->agents, id): NULL;
    if (a)
        return a;
    const char *why = id? zhashx_lookup (self->gone, id): NULL;
    wob_fail (err, WOB_ERR_NOT_FOUND, "unknown agent '%.*s': not signed in%s%s%s", S_ID_MAX,
              id? id: "", why? " (": "", why? why: "", why? ")": "");
    return NULL;
}

static bool
s_valid_id (const char *id)
{
    size_t len = strlen (id);
    return len > 0 && len <= S_ID_MAX
        && strspn (id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

int
center_signin (center_t *self, const char *id, const char **owns, size_t n_owns, bool *resumed,
               char *err)
{
    *resumed = false;
    if (!id || !s_valid_id (id))
        return wob_fail (err, WOB_ERR_INVALID, "agent id '%.*s' is not valid: 1 to %d letters, "
                         "digits, '.', '_' or '-'", S_ID_MAX + 1, id? id: "", S_ID_MAX);
    for (size_t i = 0; i < n_owns; i++) {
        size_t len = strlen (owns [i]);
        if (len == 0 || len > 64 || strpbrk (owns [i], "\n\r\t"))
            return wob_fail (err, WOB_ERR_INVALID, "owns: '%.64s' is not a range or region "
                             "name (1 to 64 characters, one line)", owns [i]);
    }
    agent_t *a = zhashx_lookup (self->agents, id);
    if (a) {
        //  A reload of the page, or a dialer reconnecting: same session.
        a->seen = a->active = zclock_mono ();
        *resumed = true;
        return 0;
    }
    if (!n_owns) {
        owns = self->config.owns;
        n_owns = self->config.n_owns;
    }
    a = calloc (1, sizeof (agent_t));
    a->id = strdup (id);
    a->name = malloc (strlen (id) + 6);
    sprintf (a->name, "call:%s", id);
    a->owns = calloc (n_owns + 1, sizeof (char *));
    for (size_t i = 0; i < n_owns; i++)
        a->owns [a->n_owns++] = strdup (owns [i]);
    wob_worker_config_t config = {
        .endpoint = self->config.endpoint, .name = a->name, .channel = "call", .capacity = 1,
        .owns = (const char **) a->owns, .n_owns = a->n_owns,
        .heartbeat_ms = self->config.heartbeat_ms
    };
    a->worker = wob_worker_new (&config, err);
    if (!a->worker) {
        void *item = a;
        s_agent_destroy (&item);
        return WOB_ERR_INVALID;
    }
    //  Wait a moment for the broker's answer, so that a refused hello (what
    //  the agent owns clashes with another desk) is the sign-in's error.  A
    //  broker that does not answer in time is not an error: the session
    //  keeps trying, and the page shows it as not connected.
    int64_t deadline = zclock_mono () + S_HELLO_MS;
    while (!wob_worker_connected (a->worker) && !*wob_worker_error (a->worker)
       &&  zclock_mono () < deadline && !zsys_interrupted)
        wob_worker_poll (a->worker, 20);
    if (!wob_worker_connected (a->worker) && *wob_worker_error (a->worker)) {
        wob_fail (err, WOB_ERR_REFUSED, "the broker refused agent %s: %s", a->id,
                  wob_worker_error (a->worker));
        void *item = a;
        s_agent_destroy (&item);
        return WOB_ERR_REFUSED;
    }
    a->seen = a->active = zclock_mono ();
    a->since_ms = wob_now_ms ();
    zhashx_insert (self->agents, a->id, a);
    zhashx_delete (self->gone, id);
    zsys_info ("agent %s: signed in as worker %s", a->id, a->name);
    return 0;
}

int
center_signout (center_t *self, const char *id, const char *why, uint64_t *returned, char *err)
{
    agent_t *a = s_lookup (self, id, err);
    if (!a)
        return WOB_ERR_NOT_FOUND;
    *returned = a->item? a->item->order->id: 0;
    char when [32], text [300];
    snprintf (text, sizeof (text), "signed out %s: %s", wob_format_time (wob_now_ms (), when,
              sizeof (when)), why);
    if (*returned)
        zsys_info ("agent %s: %s; order %" PRIu64 " goes back to the queue", a->id, text,
                   *returned);
    else
        zsys_info ("agent %s: %s", a->id, text);
    if (zhashx_size (self->gone) > 10000)
        zhashx_purge (self->gone);          //  only a courtesy for error messages
    zhashx_update (self->gone, a->id, strdup (text));
    zhashx_delete (self->agents, id);       //  destroys the session: Bye
    return 0;
}

int
center_seen (center_t *self, const char *id, int64_t idle_ms, char *err)
{
    agent_t *a = s_lookup (self, id, err);
    if (!a)
        return WOB_ERR_NOT_FOUND;
    a->seen = zclock_mono ();
    if (idle_ms < 0)
        a->active = a->seen;
    else
        a->active = a->seen - (idle_ms > 100LL * 86400000? 100LL * 86400000: idle_ms);
    return 0;
}

//  --- The customer view --------------------------------------------------

//  Writes `, "key": "value"` (first: no comma).
static void
s_field (FILE *out, const char *key, const char *value, bool first)
{
    fprintf (out, "%s\"%s\": ", first? "": ", ", key);
    wob_json_string (out, value? value: "");
}

//  The script with {name}, {offer} and the target's other fields filled
//  in; unknown placeholders stay as they are.  Caller frees.
static char *
s_render (const char *script, Wob__Target *t)
{
    char *text = NULL, buf [512];
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    for (const char *p = script; *p; ) {
        const char *close = *p == '{'? strchr (p, '}'): NULL;
        if (close && close - p > 1 && close - p < 64) {
            char name [64];
            snprintf (name, sizeof (name), "%.*s", (int) (close - p - 1), p + 1);
            const char *value = wob_target_field (t, name, buf, sizeof (buf));
            if (value) {
                fputs (value, out);
                p = close + 1;
                continue;
            }
        }
        fputc (*p++, out);
    }
    fclose (out);
    return text;
}

static void
s_history_json (FILE *out, Wob__Order *o)
{
    fprintf (out, "[");
    for (size_t i = 0; i < o->n_history; i++) {
        Wob__HistoryEntry *h = o->history [i];
        fprintf (out, "%s{\"at_ms\": %" PRId64, i? ", ": "", h->at_ms);
        s_field (out, "from", wob_state_name (h->from), false);
        s_field (out, "to", wob_state_name (h->to), false);
        s_field (out, "actor", h->actor, false);
        s_field (out, "reason", h->reason, false);
        fprintf (out, "}");
    }
    fprintf (out, "]");
}

//  Builds the customer view of a leased order: the target, the value tier,
//  the offers and the rendered script, and from the broker the order's
//  history and the number's other orders.  Caller frees.
static char *
s_view (center_t *self, Wob__LeaseItem *item)
{
    Wob__Order *o = item->order;
    Wob__Target empty = WOB__TARGET__INIT;
    Wob__Target *t = o->target? o->target: &empty;
    Wob__Envelope *reply = NULL;
    Wob__OrderList *list = NULL;
    char query_err [WOB_ERRLEN] = "";
    if (*t->msisdn) {
        Wob__StatusQuery query = WOB__STATUS_QUERY__INIT;
        query.msisdn = t->msisdn;
        Wob__Envelope req = WOB__ENVELOPE__INIT;
        req.body_case = WOB__ENVELOPE__BODY_STATUS_QUERY;
        req.status_query = &query;
        int rc;
        reply = wob_client_request (self->client, &req, &rc, query_err);
        if (reply && reply->body_case == WOB__ENVELOPE__BODY_ORDER_LIST)
            list = reply->order_list;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    fprintf (out, "{\"id\": %" PRIu64 ", \"attempt\": %u", o->id, o->attempts);
    s_field (out, "wave", o->wave, false);
    s_field (out, "campaign", o->campaign, false);
    s_field (out, "channel", o->channel, false);
    fprintf (out, ", \"lease_deadline_ms\": %" PRId64 ", \"callback_at_ms\": %" PRId64
             ", \"created_ms\": %" PRId64, o->lease_deadline_ms, o->callback_at_ms, o->created_ms);
    s_field (out, "prefer_worker", o->prefer_worker, false);

    fprintf (out, ", \"customer\": {");
    s_field (out, "msisdn", t->msisdn, true);
    s_field (out, "customer_id", t->customer_id, false);
    s_field (out, "name", t->name, false);
    s_field (out, "province", t->province, false);
    s_field (out, "city", t->city, false);
    s_field (out, "district", t->district, false);
    s_field (out, "grid", t->grid, false);
    if (isfinite (t->arpu))
        fprintf (out, ", \"arpu\": %.2f", t->arpu);
    else
        fprintf (out, ", \"arpu\": null");
    s_field (out, "tier", wob_value_tier (t->arpu), false);
    fprintf (out, ", \"tenure_months\": %u, \"priority\": %d", t->tenure_months, t->priority);
    s_field (out, "segment", t->segment, false);
    s_field (out, "lifecycle", t->lifecycle, false);
    s_field (out, "preferred_channel", t->preferred_channel, false);
    fprintf (out, ", \"extra\": {");
    for (size_t i = 0; i < t->n_extra; i++) {
        fprintf (out, "%s", i? ", ": "");
        wob_json_string (out, t->extra [i]->key);
        fprintf (out, ": ");
        wob_json_string (out, t->extra [i]->value);
    }
    fprintf (out, "}}, \"offers\": [");
    for (size_t i = 0; i < t->n_offers; i++) {
        fprintf (out, "%s", i? ", ": "");
        wob_json_string (out, t->offers [i]);
    }
    fprintf (out, "]");
    char *script = s_render (item->script? item->script: "", t);
    s_field (out, "script", script, false);
    s_field (out, "script_template", item->script, false);
    free (script);

    //  What the broker knows: this order's history, the number's other orders.
    Wob__Order *self_entry = NULL;
    fprintf (out, ", \"previous\": [");
    size_t shown = 0;
    for (size_t i = 0; list && i < list->n_orders; i++) {
        Wob__Order *p = list->orders [i];
        if (p->id == o->id) {
            self_entry = p;
            continue;
        }
        fprintf (out, "%s{\"id\": %" PRIu64 ", \"attempts\": %u, \"updated_ms\": %" PRId64,
                 shown++? ", ": "", p->id, p->attempts, p->updated_ms);
        s_field (out, "wave", p->wave, false);
        s_field (out, "campaign", p->campaign, false);
        s_field (out, "channel", p->channel, false);
        s_field (out, "state", wob_state_name (p->state), false);
        s_field (out, "outcome", wob_outcome_name (p->outcome), false);
        s_field (out, "note", p->outcome_note, false);
        s_field (out, "worker", p->worker, false);
        s_field (out, "last", p->n_history? p->history [p->n_history - 1]->reason: "", false);
        fprintf (out, "}");
    }
    fprintf (out, "], \"history\": ");
    if (self_entry)
        s_history_json (out, self_entry);
    else
        fprintf (out, "[]");
    s_field (out, "history_error", list? "": *query_err? query_err: "no answer", false);
    fprintf (out, "}");
    fclose (out);
    wob_msg_free (&reply);
    return text;
}

//  --- Orders, reports, leases -------------------------------------------

static void
s_take (center_t *self, agent_t *a, Wob__LeaseItem *fresh)
{
    if (a->item) {
        if (a->item->order->id != fresh->order->id)
            snprintf (a->notice, sizeof (a->notice), "order %" PRIu64 " was taken back by the "
                      "broker (its lease ended); this is the next one", a->item->order->id);
        wob__lease_item__free_unpacked (a->item, NULL);
        a->item = NULL;
    }
    free (a->view);
    a->item = fresh;
    a->view = s_view (self, fresh);
    Wob__Order *o = fresh->order;
    a->lease_ms = o->lease_deadline_ms - o->updated_ms;
    if (a->lease_ms <= 0 || a->lease_ms > 30LL * 86400000)
        a->lease_ms = S_LEASE_MS;
    a->lease_mark = zclock_mono ();
    zsys_info ("agent %s: order %" PRIu64 " (attempt %u) on screen", a->id, o->id, o->attempts);
}

static const int s_call_outcomes [] = {
    WOB__OUTCOME__OUTCOME_ACCEPTED, WOB__OUTCOME__OUTCOME_INTERESTED,
    WOB__OUTCOME__OUTCOME_DECLINED, WOB__OUTCOME__OUTCOME_UNREACHABLE,
    WOB__OUTCOME__OUTCOME_WRONG_NUMBER, WOB__OUTCOME__OUTCOME_CALLBACK,
    WOB__OUTCOME__OUTCOME_FAILED
};

int
center_report (center_t *self, const char *id, uint64_t order_id, const char *outcome_name,
               const char *note, int64_t callback_at, char *err)
{
    agent_t *a = s_lookup (self, id, err);
    if (!a)
        return WOB_ERR_NOT_FOUND;
    int outcome = outcome_name? wob_outcome_from_name (outcome_name): -1;
    bool known = false;
    for (size_t i = 0; i < sizeof (s_call_outcomes) / sizeof (int); i++)
        known |= outcome == s_call_outcomes [i];
    if (!known)
        return wob_fail (err, WOB_ERR_INVALID, "outcome '%.40s' is not a call outcome: use "
                         "accepted, interested, declined, unreachable, wrong_number, callback "
                         "or failed", outcome_name? outcome_name: "");
    note = note? note: "";
    if (strlen (note) > S_NOTE_MAX)
        return wob_fail (err, WOB_ERR_INVALID, "note is %zu bytes long; at most %d", strlen (note),
                         S_NOTE_MAX);
    if (!a->item)
        return wob_fail (err, WOB_ERR_REFUSED, "order %" PRIu64 " is not held by agent %s "
                         "(the agent has no order on screen)", order_id, a->id);
    Wob__Order *o = a->item->order;
    if (o->id != order_id)
        return wob_fail (err, WOB_ERR_REFUSED, "order %" PRIu64 " is not held by agent %s (the "
                         "agent holds order %" PRIu64 ")", order_id, a->id, o->id);
    int64_t now = wob_now_ms ();
    char when [32];
    if (outcome == WOB__OUTCOME__OUTCOME_CALLBACK) {
        if (callback_at <= 0)
            return wob_fail (err, WOB_ERR_INVALID, "outcome callback needs callback_at: when "
                             "to call back (ISO 8601 time or epoch ms)");
        if (callback_at <= now)
            return wob_fail (err, WOB_ERR_INVALID, "callback_at %s is not in the future",
                             wob_format_time (callback_at, when, sizeof (when)));
        if (callback_at > now + 366LL * 86400000)
            return wob_fail (err, WOB_ERR_INVALID, "callback_at %s is more than a year ahead",
                             wob_format_time (callback_at, when, sizeof (when)));
    }
    else
    if (callback_at)
        return wob_fail (err, WOB_ERR_INVALID, "callback_at goes with outcome callback only "
                         "(outcome is %s)", outcome_name);
    wob_worker_report (a->worker, o->id, o->attempts, outcome, note, callback_at);
    if (self->config.log) {
        fprintf (self->config.log, "%" PRIu64 " %u %s %s %" PRId64 " ", o->id, o->attempts,
                 wob_outcome_name (outcome), a->name, callback_at);
        wob_json_string (self->config.log, note);
        fputc ('\n', self->config.log);
        fflush (self->config.log);
    }
    zsys_info ("agent %s: order %" PRIu64 " attempt %u: %s%s%s", a->id, o->id, o->attempts,
               wob_outcome_name (outcome), callback_at? " at ": "",
               callback_at? wob_format_time (callback_at, when, sizeof (when)): "");
    wob__lease_item__free_unpacked (a->item, NULL);
    a->item = NULL;
    free (a->view);
    a->view = NULL;
    a->reported++;
    a->notice [0] = 0;
    a->seen = a->active = zclock_mono ();
    return 0;
}

//  One agent's duties; returns why the agent must be signed out, or NULL.
static const char *
s_duties (center_t *self, agent_t *a, int64_t now, char *why, size_t size)
{
    Wob__LeaseItem *fresh = wob_worker_next (a->worker, 0);
    if (fresh)
        s_take (self, a, fresh);
    else
    if (a->item && wob_worker_held (a->worker) == 0) {
        //  The broker revoked it (we were gone too long and reconnected).
        snprintf (a->notice, sizeof (a->notice), "order %" PRIu64 " was taken back by the "
                  "broker (the session was lost)", a->item->order->id);
        wob__lease_item__free_unpacked (a->item, NULL);
        a->item = NULL;
        free (a->view);
        a->view = NULL;
    }
    if (now - a->seen > self->config.idle_timeout_ms) {
        snprintf (why, size, "not heard from for %" PRId64 " s (page closed?)",
                  (now - a->seen) / 1000);
        return why;
    }
    if (!a->item)
        return NULL;
    int64_t held = now - a->lease_mark, half = a->lease_ms / 2;
    int64_t margin = a->lease_ms / 10 < 5000? a->lease_ms / 10: 5000;
    if (held >= half && now - a->active < half && now - a->seen < S_SEEN_MS) {
        wob_worker_extend (a->worker, a->item->order->id, 0);
        a->lease_mark = now;
    }
    else
    if (held >= a->lease_ms - margin) {
        snprintf (why, size, "idle past the lease: order %" PRIu64 " held for %" PRId64 " s "
                  "without the agent touching the page", a->item->order->id,
                  (now - a->active) / 1000);
        return why;
    }
    return NULL;
}

void
center_service (center_t *self)
{
    int64_t now = zclock_mono ();
    zlistx_t *leaving = NULL;
    for (agent_t *a = zhashx_first (self->agents); a; a = zhashx_next (self->agents)) {
        char why [200];
        if (s_duties (self, a, now, why, sizeof (why))) {
            if (!leaving) {
                leaving = zlistx_new ();
                zlistx_set_destructor (leaving, s_text_destroy);
            }
            zlistx_add_end (leaving, strdup (a->id));
            zlistx_add_end (leaving, strdup (why));
        }
    }
    for (char *id = leaving? zlistx_first (leaving): NULL; id; id = zlistx_next (leaving)) {
        char *why = zlistx_next (leaving), err [WOB_ERRLEN];
        uint64_t returned;
        center_signout (self, id, why, &returned, err);
    }
    zlistx_destroy (&leaving);
}

size_t
center_pollitems (center_t *self, zmq_pollitem_t *items, size_t max)
{
    size_t n = 0;
    for (agent_t *a = zhashx_first (self->agents); a && n < max; a = zhashx_next (self->agents))
        items [n++] = (zmq_pollitem_t) {
            .socket = zsock_resolve (wob_worker_sock (a->worker)), .events = ZMQ_POLLIN
        };
    return n;
}

//  --- JSON for the console -------------------------------------------------

static void
s_owns_json (FILE *out, agent_t *a)
{
    fprintf (out, ", \"owns\": [");
    for (size_t i = 0; i < a->n_owns; i++) {
        fprintf (out, "%s", i? ", ": "");
        wob_json_string (out, a->owns [i]);
    }
    fprintf (out, "]");
}

int
center_agent_json (center_t *self, const char *id, FILE *out, char *err)
{
    agent_t *a = s_lookup (self, id, err);
    if (!a)
        return WOB_ERR_NOT_FOUND;
    fprintf (out, "{");
    s_field (out, "agent", a->id, true);
    s_field (out, "worker", a->name, false);
    fprintf (out, ", \"connected\": %s", wob_worker_connected (a->worker)? "true": "false");
    s_field (out, "broker_error", wob_worker_error (a->worker), false);
    s_owns_json (out, a);
    fprintf (out, ", \"since_ms\": %" PRId64 ", \"reported\": %" PRIu64 ", \"unacked\": %zu"
             ", \"idle_timeout_ms\": %" PRId64 ", \"lease_ms\": %" PRId64, a->since_ms,
             a->reported, wob_worker_unacked (a->worker), self->config.idle_timeout_ms,
             a->item? a->lease_ms: 0);
    s_field (out, "notice", a->notice, false);
    fprintf (out, ", \"order\": %s}", a->view? a->view: "null");
    return 0;
}

void
center_agents_json (center_t *self, FILE *out)
{
    int64_t now = zclock_mono ();
    fprintf (out, "[");
    size_t n = 0;
    for (agent_t *a = zhashx_first (self->agents); a; a = zhashx_next (self->agents)) {
        fprintf (out, "%s{", n++? ", ": "");
        s_field (out, "agent", a->id, true);
        s_field (out, "worker", a->name, false);
        fprintf (out, ", \"connected\": %s", wob_worker_connected (a->worker)? "true": "false");
        s_owns_json (out, a);
        if (a->item)
            fprintf (out, ", \"order\": %" PRIu64, a->item->order->id);
        else
            fprintf (out, ", \"order\": null");
        fprintf (out, ", \"reported\": %" PRIu64 ", \"seen_ms_ago\": %" PRId64
                 ", \"idle_ms\": %" PRId64 "}", a->reported, now - a->seen, now - a->active);
    }
    fprintf (out, "]");
}
