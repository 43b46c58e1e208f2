/*  session.c - one short broker session of an account manager.

    Every wob-visit command that talks to the broker runs the same session:

      1. hello as "visit:<manager>" with the regions the manager owns and,
         in Hello.holding, every order in the state directory.  The broker
         keeps exactly those of its leases to this name and returns any
         others to the queue (leases a crashed run received but never
         stored; they come straight back to us by address);
      2. the welcome's revoked list: claimed orders the broker no longer
         leases to us.  The worker library drops them from its count
         without saying which (wob_worker_held), so when the count says
         some are gone we ask the broker about each claimed order: those
         whose outcome is ours were reported by a run that died before
         it could note it; the others were taken back (lease expired,
         wave cancelled with recall);
      3. leases: every LeaseItem that arrives is written to the state
         before anything else happens with it;
      4. detach: no goodbye, so the broker keeps the leases (--keep-leases
         visit) while nobody is connected, until the next run claims them.

    Status queries go over their own request/reply client (wob_client_t),
    not the worker socket.                                               */

#include "visit.h"
#include <signal.h>

struct _session_t {
    session_config_t config;    //  copy; strings belong to the caller
    state_t *state;             //  the manager's state (not owned)
    wob_worker_t *worker;       //  the broker session
    wob_client_t *client;       //  status queries, created when needed
    zhashx_t *claimed;          //  ids in the hello's holding list
    zhashx_t *taken;            //  ids leased in this session
};

session_t *
session_open (const session_config_t *config, state_t *state, int *rc, char *err)
{
    session_t *self = calloc (1, sizeof (session_t));
    self->config = *config;
    self->state = state;
    self->claimed = wob_idmap_new (NULL);
    self->taken = wob_idmap_new (NULL);
    size_t n_ids;
    uint64_t *ids = state_ids (state, &n_ids);
    for (size_t i = 0; i < n_ids; i++)
        zhashx_insert (self->claimed, WOB_ID_KEY (ids [i]), WOB_ID_KEY (ids [i]));
    wob_worker_config_t worker = {
        .endpoint = config->endpoint, .name = config->name, .channel = "visit",
        .capacity = config->capacity, .owns = config->owns, .n_owns = config->n_owns,
        .holding = ids, .n_holding = n_ids, .heartbeat_ms = config->heartbeat_ms
    };
    self->worker = wob_worker_new (&worker, err);
    free (ids);
    if (!self->worker) {
        *rc = VISIT_BAD_INPUT;
        session_detach (&self);
        return NULL;
    }
    int64_t deadline = zclock_mono () + config->timeout_ms;
    while (!wob_worker_connected (self->worker) && !wob_worker_refused (self->worker)
       &&  zclock_mono () < deadline && !zsys_interrupted)
        wob_worker_poll (self->worker, 50);
    if (!wob_worker_connected (self->worker)) {
        if (wob_worker_refused (self->worker))
            wob_fail (err, WOB_ERR_REFUSED, "the broker refused %s: %s", config->name,
                      wob_worker_error (self->worker));
        else
            wob_fail (err, WOB_ERR_UNREACHABLE, "the broker at %s did not answer within "
                      "%d ms", config->endpoint, config->timeout_ms);
        *rc = VISIT_BROKER;
        session_detach (&self);
        return NULL;
    }
    *rc = 0;
    return self;
}

void
session_detach (session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    session_t *self = *self_p;
    wob_worker_detach (&self->worker);
    wob_client_destroy (&self->client);
    zhashx_destroy (&self->claimed);
    zhashx_destroy (&self->taken);
    free (self);
    *self_p = NULL;
}

wob_worker_t *session_worker (session_t *self) { return self->worker; }

size_t session_claimed (session_t *self) { return zhashx_size (self->claimed); }

int
session_take (session_t *self, int quiet_ms, int limit_ms, long crash_after, size_t *fresh,
              size_t *renewed, char *err)
{
    int64_t now = zclock_mono (), deadline = now + limit_ms, last = now;
    long n_stored = 0;
    for (;;) {
        int wait = 0;
        if (limit_ms > 0) {
            int64_t until = last + quiet_ms < deadline? last + quiet_ms: deadline;
            wait = until > zclock_mono ()? (int) (until - zclock_mono ()): 0;
        }
        Wob__LeaseItem *item = wob_worker_next (self->worker, wait);
        if (!item) {
            if (wait == 0 || zsys_interrupted)
                break;
            continue;               //  recompute: quiet period or limit reached?
        }
        last = zclock_mono ();
        uint64_t id = item->order->id;
        Wob__LeaseItem *stored = state_order (self->state, id);
        bool known = stored != NULL;
        bool again = known && stored->order->attempts != item->order->attempts;
        int rc = state_put (self->state, &item, err);       //  frees stored
        if (rc)
            return rc;
        zhashx_update (self->taken, WOB_ID_KEY (id), WOB_ID_KEY (id));
        if (!known && fresh)
            (*fresh)++;
        if (again && renewed)
            (*renewed)++;
        if (crash_after && ++n_stored >= crash_after) {
            fprintf (stderr, "wob-visit: crashing on purpose after storing %ld orders\n",
                     n_stored);
            raise (SIGKILL);
        }
        if (wob_worker_refused (self->worker))
            break;
    }
    return 0;
}

int
session_query (session_t *self, uint64_t id, Wob__Order **order_p, char *err)
{
    *order_p = NULL;
    if (!self->client)
        self->client = wob_client_new (self->config.endpoint, self->config.timeout_ms);
    if (!self->client)
        return wob_fail (err, WOB_ERR_UNREACHABLE, "cannot connect to %s",
                         self->config.endpoint);
    Wob__StatusQuery query = WOB__STATUS_QUERY__INIT;
    query.order_id = id;
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = WOB__ENVELOPE__BODY_STATUS_QUERY;
    req.status_query = &query;
    int rc;
    char why [WOB_ERRLEN];
    Wob__Envelope *reply = wob_client_request (self->client, &req, &rc, why);
    if (!reply)
        return wob_fail (err, rc, "status of order %" PRIu64 ": %s", id, why);
    if (reply->body_case != WOB__ENVELOPE__BODY_ORDER_LIST || reply->order_list->n_orders != 1) {
        wob_msg_free (&reply);
        return wob_fail (err, WOB_ERR_NOT_FOUND, "order %" PRIu64 ": the broker does not "
                         "know it", id);
    }
    //  Keep the order, free the rest of the reply
    Wob__OrderList *list = reply->order_list;
    *order_p = list->orders [0];
    list->orders [0] = NULL;
    list->n_orders = 0;
    wob_msg_free (&reply);
    return 0;
}

static int
s_compare_revoked (const void *a, const void *b)
{
    uint64_t x = ((const revoked_t *) a)->id, y = ((const revoked_t *) b)->id;
    return x < y? -1: x > y;
}

int
session_reconcile (session_t *self, revoked_t **revoked_p, size_t *count, char *err)
{
    *revoked_p = NULL;
    *count = 0;
    //  Leases already here count in wob_worker_held: store them first
    int rc = session_take (self, 0, 0, 0, NULL, NULL, err);
    if (rc)
        return rc;
    size_t expected = zhashx_size (self->claimed);
    for (void *v = zhashx_first (self->taken); v; v = zhashx_next (self->taken))
        if (!zhashx_lookup (self->claimed, zhashx_cursor (self->taken)))
            expected++;
    if (wob_worker_held (self->worker) >= expected)
        return 0;                   //  the broker revoked nothing
    revoked_t *revoked = calloc (zhashx_size (self->claimed) + 1, sizeof (revoked_t));
    for (void *v = zhashx_first (self->claimed); v; v = zhashx_next (self->claimed)) {
        uint64_t id = (uint64_t) (uintptr_t) v;
        Wob__LeaseItem *stored = state_order (self->state, id);
        if (!stored || zhashx_lookup (self->taken, v))
            continue;               //  leased to us again in this session
        Wob__Order *order;
        if ((rc = session_query (self, id, &order, err)) == WOB_ERR_UNREACHABLE)
            break;
        uint32_t attempt = stored->order->attempts;
        revoked_t *r = &revoked [*count];
        r->id = id;
        if (rc) {
            snprintf (r->what, sizeof (r->what), "unknown to the broker");
            rc = 0;
        }
        else
        if (order->state == WOB__STATE__STATE_DISPATCHED && streq (order->worker,
                                                                   self->config.name)) {
            wob__order__free_unpacked (order, NULL);
            continue;               //  still ours
        }
        else
        if (order->outcome != WOB__OUTCOME__OUTCOME_NONE && order->outcome_attempt == attempt
        &&  streq (order->outcome_worker, self->config.name)) {
            //  Our report reached the broker; the run that sent it died
            //  before it could note it.  Note it now.
            r->reported = true;
            snprintf (r->what, sizeof (r->what), "%s", wob_outcome_name (order->outcome));
            Wob__OutcomeItem item = WOB__OUTCOME_ITEM__INIT;
            item.order_id = id;
            item.attempt = attempt;
            item.outcome = order->outcome;
            item.note = order->outcome_note;
            //  (an older appointment's time stays on the order: not ours)
            item.callback_at_ms = order->outcome == WOB__OUTCOME__OUTCOME_CALLBACK?
                                  order->callback_at_ms: 0;
            rc = state_mark_reported (self->state, &item, err);
        }
        else
            snprintf (r->what, sizeof (r->what), "now %s%s%s", wob_state_name (order->state),
                      *order->worker? ", last leased to ": "", order->worker);
        if (order)
            wob__order__free_unpacked (order, NULL);
        if (!rc && !r->reported)
            rc = state_drop (self->state, id, err);
        (*count)++;
        if (rc)
            break;
    }
    qsort (revoked, *count, sizeof (revoked_t), s_compare_revoked);
    *revoked_p = revoked;
    return rc;
}
