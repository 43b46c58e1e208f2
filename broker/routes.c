/*  routes.c - who owns which orders of a channel (SPEC §5, 工单派发规则).

    Workers declare what they own in their hello: number ranges
    ("1390000-1394999"), number prefixes ("186") and regions as address
    paths ("广东/深圳/南山/G012").  Each distinct declaration of a channel is
    a *route* with a small durable id (store_route_id); a worker also has a
    personal route ("@name") for call-backs and appointments that must come
    back to it.

    An order entering the queue is *placed* once (routes_place): under its
    wave's strategy for the channel (rule file, overridable per wave) it
    goes to the shared run (route 0, any worker: "even"), to the route of
    the most specific live declaration that matches its number ("range") or
    the longest live region that contains its address ("address"), or, when
    no connected worker owns it, it is HELD in an index keyed by number,
    region or worker name.  Dispatch then only ever looks at a worker's own
    routes and the shared run: choosing an order is never a scan over
    workers or orders.

    Ownership changes are sweeps, bounded per loop turn:
      - an owner connects: held orders in its ranges / regions (one cursor
        range each in the held index) are placed again, so it gets them
        first, before anything newer;
      - the last owner of a route leaves: the route's queued orders are
        placed again (another owner, or held).
    An order already queued for a live owner stays with it when a more
    specific owner connects later; new and held orders go to the new one.

    Held orders spill to any worker of the channel after the channel's
    spill_after when the rule file says orphans: spill (dispatch_timers).

    Overlap: two live workers of a channel may not own overlapping number
    ranges, or the same region, unless the rule file says overlap: allow;
    the second hello is refused with an error naming both.  Nested regions
    are not an overlap: the longest match wins.                          */

#include "broker.h"

#define S_SWEEP_BATCH 1000      //  orders placed again per sweep call

struct _route_t {
    uint32_t id;                //  durable id (store)
    uint8_t channel;            //  channel id
    char *text;                 //  the declaration
    owns_t decl;         //  parsed
    worker_t **owners;          //  live workers owning it
    size_t n_owners, owners_cap;
    bool may_have_queued;       //  its queue runs may hold orders
    void *active;               //  handle in its channel's active list
};

//  A pending pass over held orders (adopt) or a route's queue (orphan).
typedef struct {
    bool orphan;                //  true: re-place the route's queued orders
    uint8_t channel;
    uint32_t route;             //  orphan: the route id
    owns_t decl;         //  adopt: what to look for in the held index
    char want [STORE_MAX_HELD_KEY + 1];    //  adopt: region or worker name
    char from [STORE_MAX_HELD_KEY + 1];    //  adopt: resume position
    uint64_t after;
} s_sweep_t;

//  The owned declarations of one channel, for placing orders.
typedef struct {
    route_t **ranges;           //  owned number routes, by (len, lo)
    size_t n_ranges, ranges_cap;
    bool ranges_dirty;          //  ownership changed: rebuild ranges
    zhashx_t *regions;          //  region text -> owned route_t
} s_live_t;

struct _routes_t {
    zhashx_t *by_key;           //  "channel/text" -> route_t (owned)
    route_t **by_id;            //  id -> route_t
    size_t by_id_cap;
    zlistx_t *active [BROKER_MAX_CHANNELS];     //  owned routes maybe holding orders
    zlistx_t *sweeps;           //  s_sweep_t pending
    bool grace_over;            //  restart grace ended: ownerless routes swept
    bool reattach;              //  routes reloaded: attach the live workers again
    uint64_t stamp;             //  dedupes candidate workers
    uint64_t held [BROKER_MAX_CHANNELS][3];    //  held orders by kind (n, r, w)
    s_live_t live [BROKER_MAX_CHANNELS];        //  owned declarations by channel
};

static void
s_sweep_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}
static const char s_kinds [3] = { 'n', 'r', 'w' };
static const char *s_reasons [3] = { "no_range_owner", "no_region_owner", "worker_away" };

static int
s_kind_slot (int kind)
{
    return kind == 'n'? 0: kind == 'r'? 1: 2;
}

const char *
routes_held_reason (int kind)
{
    return s_reasons [s_kind_slot (kind)];
}

//  The number as routes compare it: digits only, no leading +.
static const char *
s_number (Wob__Order *order)
{
    const char *number = order->target && order->target->msisdn? order->target->msisdn: "";
    return *number == '+'? number + 1: number;
}

//  --- Routes in memory ----------------------------------------------------

static void
s_route_destroy (void **item_p)
{
    route_t *route = *item_p;
    if (!route)
        return;
    free (route->text);
    free (route->owners);
    free (route);
    *item_p = NULL;
}

static route_t *
s_route_find (routes_t *self, uint8_t channel, const char *text)
{
    char key [STORE_MAX_HELD_KEY + 8];
    snprintf (key, sizeof (key), "%u/%s", channel, text);
    return zhashx_lookup (self->by_key, key);
}

static route_t *
s_route_add (routes_t *self, uint8_t channel, const char *text, uint32_t id)
{
    route_t *route = calloc (1, sizeof (route_t));
    route->id = id;
    route->channel = channel;
    route->text = strdup (text);
    route->may_have_queued = true;
    if (*text == '@')
        route->decl.kind = 'w';
    else
        owns_parse (text, &route->decl, NULL);
    char key [STORE_MAX_HELD_KEY + 8];
    snprintf (key, sizeof (key), "%u/%s", channel, text);
    zhashx_update (self->by_key, key, route);
    if (id >= self->by_id_cap) {
        size_t cap = self->by_id_cap? self->by_id_cap: 64;
        while (cap <= id)
            cap *= 2;
        self->by_id = realloc (self->by_id, cap * sizeof (route_t *));
        memset (self->by_id + self->by_id_cap, 0, (cap - self->by_id_cap) * sizeof (route_t *));
        self->by_id_cap = cap;
    }
    self->by_id [id] = route;
    return route;
}

//  The route of a declaration, created (durably, in this group) if new.
static int
s_route_get (broker_t *self, uint8_t channel, const char *text, route_t **route_p,
             char *err)
{
    routes_t *routes = self->routes;
    *route_p = s_route_find (routes, channel, text);
    if (*route_p)
        return 0;
    uint32_t id;
    if (store_route_id (self->store, channel, text, true, &id, err))
        return WOB_ERR_STORE;
    *route_p = s_route_add (routes, channel, text, id);
    return 0;
}

//  Puts a route with owners that may hold orders on its channel's list.
static void
s_activate (routes_t *self, route_t *route)
{
    route->may_have_queued = true;
    if (!route->active && route->n_owners)
        route->active = zlistx_add_end (self->active [route->channel], route);
}

static void
s_deactivate (routes_t *self, route_t *route)
{
    if (route->active)
        zlistx_delete (self->active [route->channel], route->active);
    route->active = NULL;
}

routes_t *
routes_new (void)
{
    routes_t *self = calloc (1, sizeof (routes_t));
    self->by_key = zhashx_new ();
    zhashx_set_destructor (self->by_key, s_route_destroy);
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++) {
        self->active [c] = zlistx_new ();
        self->live [c].regions = zhashx_new ();
    }
    self->sweeps = zlistx_new ();
    zlistx_set_destructor (self->sweeps, s_sweep_destroy);
    return self;
}

void
routes_destroy (routes_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    routes_t *self = *self_p;
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++) {
        zlistx_destroy (&self->active [c]);
        zhashx_destroy (&self->live [c].regions);
        free (self->live [c].ranges);
    }
    zlistx_destroy (&self->sweeps);
    zhashx_destroy (&self->by_key);
    free (self->by_id);
    free (self);
    *self_p = NULL;
}

//  --- Owners ----------------------------------------------------------

//  A route gained its first owner (owned) or lost its last.
static void
s_live_changed (routes_t *self, route_t *route, bool owned)
{
    s_live_t *live = &self->live [route->channel];
    if (route->decl.kind == 'n')
        live->ranges_dirty = true;
    else
    if (route->decl.kind == 'r') {
        if (owned)
            zhashx_update (live->regions, route->text, route);
        else
            zhashx_delete (live->regions, route->text);
    }
}

static int
s_range_order (const void *a, const void *b)
{
    const route_t *x = *(route_t * const *) a, *y = *(route_t * const *) b;
    if (x->decl.len != y->decl.len)
        return x->decl.len < y->decl.len? -1: 1;
    return strcmp (x->decl.lo, y->decl.lo);
}

//  Rebuilds the channel's sorted array of owned number routes.
static void
s_ranges_rebuild (routes_t *self, uint8_t channel)
{
    s_live_t *live = &self->live [channel];
    live->n_ranges = 0;
    for (route_t *route = zhashx_first (self->by_key); route;
         route = zhashx_next (self->by_key)) {
        if (route->channel != channel || route->decl.kind != 'n' || !route->n_owners)
            continue;
        if (live->n_ranges == live->ranges_cap) {
            live->ranges_cap = live->ranges_cap? live->ranges_cap * 2: 16;
            live->ranges = realloc (live->ranges, live->ranges_cap * sizeof (route_t *));
        }
        live->ranges [live->n_ranges++] = route;
    }
    qsort (live->ranges, live->n_ranges, sizeof (route_t *), s_range_order);
    live->ranges_dirty = false;
}

static void
s_add_owner (routes_t *self, route_t *route, worker_t *worker)
{
    for (size_t i = 0; i < route->n_owners; i++)
        if (route->owners [i] == worker)
            return;
    if (route->n_owners == route->owners_cap) {
        route->owners_cap = route->owners_cap? route->owners_cap * 2: 2;
        route->owners = realloc (route->owners, route->owners_cap * sizeof (worker_t *));
    }
    route->owners [route->n_owners++] = worker;
    if (route->n_owners == 1)
        s_live_changed (self, route, true);
    worker->routes = realloc (worker->routes, (worker->n_routes + 1) * sizeof (route_t *));
    worker->routes [worker->n_routes++] = route;
    if (route->may_have_queued)
        s_activate (self, route);
}

static void
s_sweep_add (routes_t *self, const s_sweep_t *sweep)
{
    s_sweep_t *copy = malloc (sizeof (s_sweep_t));
    *copy = *sweep;
    zlistx_add_end (self->sweeps, copy);
}

//  Held orders this route's owner can take: a pass over the held index.
static void
s_adopt (routes_t *self, route_t *route)
{
    s_sweep_t sweep = { .channel = route->channel, .decl = route->decl };
    if (route->decl.kind == 'n')
        snprintf (sweep.from, sizeof (sweep.from), "%s", route->decl.lo);
    else
        snprintf (sweep.from, sizeof (sweep.from), "%s", route->text);
    snprintf (sweep.want, sizeof (sweep.want), "%s", sweep.from);
    s_sweep_add (self, &sweep);
}

int
routes_check (broker_t *self, uint8_t channel, const char *worker_name, char **owns,
              size_t n_owns, char *err)
{
    const char *name = self->channels [channel].name;
    bool overlap = rulebook_distribution (self->rules, name)->overlap;
    owns_t decl;
    for (size_t i = 0; i < n_owns; i++) {
        if (owns_parse (owns [i], &decl, err))
            return WOB_ERR_INVALID;
        for (size_t j = 0; j < i; j++)
            if (streq (owns [i], owns [j]))
                return wob_fail (err, WOB_ERR_INVALID, "owns '%s' is declared twice",
                                 owns [i]);
        if (overlap)
            continue;
        //  Live declarations of other workers of the channel
        for (route_t *route = zhashx_first (self->routes->by_key); route;
             route = zhashx_next (self->routes->by_key)) {
            if (route->channel != channel || route->decl.kind == 'w')
                continue;
            for (size_t k = 0; k < route->n_owners; k++)
                if (!streq (route->owners [k]->name, worker_name)
                &&  owns_overlap (&decl, owns [i], &route->decl, route->text))
                    return wob_fail (err, WOB_ERR_REFUSED, "owns '%s' overlaps '%s' owned "
                                     "by %s (allow it with distribution: { %s: "
                                     "{ overlap: allow } } in the rule file)", owns [i],
                                     route->text, route->owners [k]->name, name);
        }
    }
    return 0;
}

int
routes_attach (broker_t *self, worker_t *worker, char *err)
{
    routes_t *routes = self->routes;
    for (size_t i = 0; i < worker->n_owns; i++) {
        route_t *route;
        if (s_route_get (self, worker->channel, worker->owns [i], &route, err))
            return WOB_ERR_STORE;
        bool was_owned = route->n_owners > 0;
        s_add_owner (routes, route, worker);
        if (!was_owned)
            s_adopt (routes, route);
    }
    //  The personal route exists once something was queued for the worker.
    char personal [80];
    snprintf (personal, sizeof (personal), "@%s", worker->name);
    uint32_t id = 0;
    route_t *route = s_route_find (routes, worker->channel, personal);
    if (!route && store_route_id (self->store, worker->channel, personal, false, &id, err))
        return WOB_ERR_STORE;
    if (!route && id)
        route = s_route_add (routes, worker->channel, personal, id);
    if (route)
        s_add_owner (routes, route, worker);
    //  Orders held for this worker by name (call-backs, appointments)
    s_sweep_t sweep = { .channel = worker->channel, .decl.kind = 'w' };
    snprintf (sweep.from, sizeof (sweep.from), "%s", worker->name);
    snprintf (sweep.want, sizeof (sweep.want), "%s", worker->name);
    s_sweep_add (routes, &sweep);
    return 0;
}

void
routes_detach (broker_t *self, worker_t *worker)
{
    routes_t *routes = self->routes;
    for (size_t i = 0; i < worker->n_routes; i++) {
        route_t *route = worker->routes [i];
        for (size_t k = 0; k < route->n_owners; k++)
            if (route->owners [k] == worker) {
                route->owners [k] = route->owners [--route->n_owners];
                break;
            }
        if (route->n_owners == 0) {
            s_live_changed (routes, route, false);
            s_deactivate (routes, route);
            s_sweep_t sweep = { .orphan = true, .channel = route->channel,
                                .route = route->id };
            s_sweep_add (routes, &sweep);
        }
    }
    free (worker->routes);
    worker->routes = NULL;
    worker->n_routes = 0;
}

//  --- Placing an order --------------------------------------------------

rule_strategy_t
routes_strategy (broker_t *self, uint32_t wave_seq, const char *channel)
{
    wave_t *wave = broker_wave_by_seq (self, wave_seq);
    Wob__WaveRules *rules = wave? wave->wave->rules: NULL;
    for (size_t i = 0; rules && i < rules->n_distribution; i++)
        if (streq (rules->distribution [i]->channel, channel)) {
            int strategy = rulebook_strategy (rules->distribution [i]->strategy);
            if (strategy >= 0)
                return (rule_strategy_t) strategy;
        }
    return rulebook_distribution (self->rules, channel)->strategy;
}

//  The most specific owned number route covering number: longer ranges
//  first, then the narrower.  Per length, a binary search for the last
//  range starting at or below the number; with overlap allowed, every
//  range of that length is looked at.
static route_t *
s_match_number (broker_t *self, uint8_t channel, const char *number)
{
    s_live_t *live = &self->routes->live [channel];
    if (live->ranges_dirty)
        s_ranges_rebuild (self->routes, channel);
    bool overlap = rulebook_distribution (self->rules, self->channels [channel].name)->overlap;
    size_t number_len = strlen (number);
    route_t *best = NULL;
    for (size_t start = 0; start < live->n_ranges; ) {
        size_t len = live->ranges [start]->decl.len, end = start;
        while (end < live->n_ranges && live->ranges [end]->decl.len == len)
            end++;
        if (len <= number_len) {
            size_t lo = start, hi = end;        //  last with lo <= number in [start, hi)
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strncmp (live->ranges [mid]->decl.lo, number, len) <= 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (size_t i = lo; i > start; i--) {
                route_t *route = live->ranges [i - 1];
                if (owns_covers (&route->decl, number)
                && (!best || len > best->decl.len
                ||  owns_width (&route->decl) < owns_width (&best->decl)))
                    best = route;
                if (!overlap)
                    break;
            }
        }
        start = end;
    }
    return best;
}

//  The longest owned region containing path.
static route_t *
s_match_region (routes_t *self, uint8_t channel, const char *path)
{
    char prefix [STORE_MAX_HELD_KEY + 1];
    snprintf (prefix, sizeof (prefix), "%s", path);
    while (*prefix) {
        route_t *route = zhashx_lookup (self->live [channel].regions, prefix);
        if (route)
            return route;
        char *slash = strrchr (prefix, '/');
        if (!slash)
            break;
        *slash = 0;
    }
    return NULL;
}

int
routes_place (broker_t *self, Wob__Order *order, uint8_t channel, bool *held,
              char *why, size_t why_size, char *err)
{
    routes_t *routes = self->routes;
    route_t *route = NULL;
    int kind = 0;
    char key [STORE_MAX_HELD_KEY + 1] = "";
    *held = false;
    *why = 0;
    order->route = 0;
    //  A call-back or appointment goes back to the worker who made it
    if (order->prefer_worker && *order->prefer_worker && !order->spilled) {
        worker_t *worker = workers_by_name (self->workers, order->prefer_worker);
        if (worker && worker->channel == channel) {
            char personal [80];
            snprintf (personal, sizeof (personal), "@%s", worker->name);
            if (s_route_get (self, channel, personal, &route, err))
                return WOB_ERR_STORE;
            s_add_owner (routes, route, worker);
        }
        else {
            kind = 'w';
            snprintf (key, sizeof (key), "%s", order->prefer_worker);
            snprintf (why, why_size, "held for %s, who is not connected",
                      order->prefer_worker);
        }
    }
    else {
        rule_strategy_t strategy = routes_strategy (self, order->wave_seq, order->channel);
        if (strategy == RULE_RANGE) {
            const char *number = s_number (order);
            route = s_match_number (self, channel, number);
            kind = 'n';
            snprintf (key, sizeof (key), "%s", number);
            snprintf (why, why_size, "no connected worker owns number %s", number);
        }
        else
        if (strategy == RULE_ADDRESS) {
            char path [STORE_MAX_HELD_KEY + 1] = "";
            if (order->target)
                owns_region_path (order->target, path, sizeof (path));
            route = s_match_region (routes, channel, path);
            kind = 'r';
            snprintf (key, sizeof (key), "%s", path);
            snprintf (why, why_size, *path? "no connected worker owns region %s":
                                            "no region in the target's address", path);
        }
    }
    if (route) {
        order->route = route->id;
        s_activate (routes, route);
        *why = 0;
    }
    else
    if (kind && !order->spilled) {
        *held = true;
        order->hold_kind = kind;
        wob_str_set (&order->held_key, key);
    }
    else
        *why = 0;                   //  shared run: even, or spilled
    return 0;
}

//  --- Held orders and sweeps ------------------------------------------

void
routes_count_held (broker_t *self, Wob__Order *order, int delta)
{
    channel_t *channel = broker_channel (self, order->channel);
    if (!channel)
        return;
    uint64_t *count = &self->routes->held [channel->id][s_kind_slot (order->hold_kind)];
    if (delta > 0 || *count > 0)
        *count += delta;
}

uint64_t
routes_held (routes_t *self, uint8_t channel, int kind)
{
    return self->held [channel][s_kind_slot (kind)];
}

//  Is a held key inside what the sweep looks for (and not past it)?
//  1 inside, 0 not inside but the pass goes on, -1 past the end.
static int
s_sweep_match (const s_sweep_t *sweep, const char *text)
{
    const owns_t *decl = &sweep->decl;
    if (decl->kind == 'n') {
        if (strncmp (text, decl->hi, decl->len) > 0)
            return -1;
        return owns_covers (decl, text)? 1: 0;
    }
    size_t len = strlen (sweep->want);
    if (strncmp (text, sweep->want, len) != 0)
        return -1;
    if (decl->kind == 'w')
        return text [len] == 0? 1: -1;
    return text [len] == 0 || text [len] == '/'? 1: 0;
}

//  Places again one order found by a sweep (held, or queued on an
//  ownerless route).
static int
s_replace (broker_t *self, uint64_t id, const char *reason, char *err)
{
    Wob__Order *order;
    int rc = store_order_get (self->store, id, &order, err);
    if (rc == WOB_ERR_NOT_FOUND)
        return 0;
    if (rc)
        return rc;
    if (order->state == WOB__STATE__STATE_HELD || order->state == WOB__STATE__STATE_QUEUED)
        rc = lifecycle_move (self, order, WOB__STATE__STATE_QUEUED, "dispatch", reason, err);
    wob__order__free_unpacked (order, NULL);
    return rc;
}

//  One bounded step of a sweep; 1 when it has more to do.
static int
s_sweep_step (broker_t *self, s_sweep_t *sweep, size_t *budget, char *err)
{
    char reason [160];
    if (sweep->orphan) {
        route_t *route = sweep->route < self->routes->by_id_cap?
                         self->routes->by_id [sweep->route]: NULL;
        if (!route || route->n_owners)
            return 0;               //  an owner came back: nothing to do
        snprintf (reason, sizeof (reason), "no connected owner of %.100s any more", route->text);
        while (*budget) {
            uint32_t wave;
            uint64_t id;
            int rc = store_queue_any (self->store, sweep->channel, sweep->route, &wave,
                                      &id, err);
            if (rc == WOB_ERR_NOT_FOUND) {
                route->may_have_queued = false;
                return 0;
            }
            if (rc || (rc = s_replace (self, id, reason, err)))
                return -1;
            (*budget)--;
        }
        return 1;
    }
    snprintf (reason, sizeof (reason), "owner of %.100s connected",
              sweep->decl.kind == 'n'? sweep->decl.lo: sweep->want);
    char text [STORE_MAX_HELD_KEY + 1];
    while (*budget) {
        uint64_t id;
        if (store_held_next (self->store, sweep->channel, (uint8_t) sweep->decl.kind,
                             sweep->from, sweep->after, text, &id, err))
            return -1;
        int match = id? s_sweep_match (sweep, text): -1;
        if (match < 0)
            return 0;
        if (match && s_replace (self, id, reason, err))
            return -1;
        //  Resume after this entry (it is gone if it was placed)
        snprintf (sweep->from, sizeof (sweep->from), "%s", text);
        sweep->after = id;
        (*budget)--;
    }
    return 1;
}

int
routes_sweep (broker_t *self, char *err)
{
    routes_t *routes = self->routes;
    //  After a restart, routes nobody claimed within the grace period
    if (!routes->grace_over
    &&  self->now >= self->started + self->config.restart_grace_ms) {
        routes->grace_over = true;
        for (route_t *route = zhashx_first (routes->by_key); route;
             route = zhashx_next (routes->by_key))
            if (!route->n_owners) {
                s_sweep_t sweep = { .orphan = true, .channel = route->channel,
                                    .route = route->id };
                s_sweep_add (routes, &sweep);
            }
    }
    if (routes->reattach) {
        routes->reattach = false;
        if (workers_attach_all (self, err))
            return WOB_ERR_STORE;
    }
    size_t budget = S_SWEEP_BATCH;
    s_sweep_t *sweep;
    while (budget && (sweep = zlistx_first (routes->sweeps))) {
        int rc = s_sweep_step (self, sweep, &budget, err);
        if (rc < 0)
            return WOB_ERR_STORE;
        if (rc == 0)
            zlistx_delete (routes->sweeps, zlistx_cursor (routes->sweeps));
    }
    return zlistx_size (routes->sweeps)? 1: 0;
}

//  --- Dispatch's view -------------------------------------------------

worker_t **
routes_candidates (broker_t *self, uint8_t channel, size_t *count_p)
{
    routes_t *routes = self->routes;
    static worker_t **scratch;
    static size_t scratch_cap;
    size_t count = 0;
    routes->stamp++;
    for (route_t *route = zlistx_first (routes->active [channel]); route;
         route = zlistx_next (routes->active [channel]))
        for (size_t i = 0; i < route->n_owners; i++) {
            worker_t *worker = route->owners [i];
            if (worker->stamp == routes->stamp || worker->outstanding >= worker->capacity)
                continue;
            worker->stamp = routes->stamp;
            if (count == scratch_cap) {
                scratch_cap = scratch_cap? scratch_cap * 2: 64;
                scratch = realloc (scratch, scratch_cap * sizeof (worker_t *));
            }
            scratch [count++] = worker;
        }
    *count_p = count;
    return scratch;
}

int
routes_best_head (broker_t *self, worker_t *worker, uint64_t *id_p, char *err)
{
    uint64_t best_id = 0;
    int best_priority = -1;
    for (size_t i = 0; i < worker->n_routes; i++) {
        route_t *route = worker->routes [i];
        if (!route->may_have_queued)
            continue;
        bool found = false;
        size_t n_open;
        wave_t **open = broker_open_waves (self, &n_open);
        for (size_t k = 0; k < n_open; k++) {
            //  Only open waves: routes_wake when one opens again
            Wob__Wave *w = open [k]->wave;
            uint8_t priority;
            uint64_t id;
            int rc = store_queue_head (self->store, route->channel, route->id, w->seq,
                                       &priority, &id, err);
            if (rc == WOB_ERR_NOT_FOUND)
                continue;
            if (rc)
                return rc;
            found = true;
            if (priority > best_priority || (priority == best_priority && id < best_id)) {
                best_priority = priority;
                best_id = id;
            }
        }
        if (!found) {
            route->may_have_queued = false;
            s_deactivate (self->routes, route);
        }
    }
    *id_p = best_id;
    return 0;
}

//  --- Loading ---------------------------------------------------------

static int
s_load_route (void *arg, uint8_t channel, const char *text, uint32_t id)
{
    s_route_add ((routes_t *) arg, channel, text, id);
    return 0;
}

int
routes_load (broker_t *self, char *err)
{
    routes_t *routes = self->routes;
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++) {
        zlistx_purge (routes->active [c]);
        zhashx_purge (routes->live [c].regions);
        routes->live [c].n_ranges = 0;
        routes->live [c].ranges_dirty = true;
    }
    zlistx_purge (routes->sweeps);
    zhashx_purge (routes->by_key);
    if (routes->by_id)
        memset (routes->by_id, 0, routes->by_id_cap * sizeof (route_t *));
    memset (routes->held, 0, sizeof (routes->held));
    int rc = store_route_each (self->store, s_load_route, routes, err);
    //  Held orders by channel and kind
    char text [STORE_MAX_HELD_KEY + 1];
    for (int c = 1; c < BROKER_MAX_CHANNELS && !rc; c++)
        for (int k = 0; k < 3 && !rc; k++) {
            uint64_t id = 0;
            text [0] = 0;
            while (!(rc = store_held_next (self->store, (uint8_t) c, (uint8_t) s_kinds [k],
                                           text, id, text, &id, err)) && id)
                routes->held [c][k]++;
        }
    //  Owners: the live sessions, attached again at the next sweep (in a
    //  write transaction, as attaching may create routes)
    routes->reattach = true;
    return rc;
}

void
routes_wake (broker_t *self)
{
    routes_t *routes = self->routes;
    for (route_t *route = zhashx_first (routes->by_key); route;
         route = zhashx_next (routes->by_key))
        s_activate (routes, route);
}
