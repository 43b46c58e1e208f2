/*  store_cache.c - decoded orders kept between their lease and its outcome.

    Dispatch reads an order (its record and its target) to lease it, and
    the outcome reads the same order again a moment later: two B-tree
    lookups and two protobuf unpacks, the largest single cost of an order's
    round trip.  The cache keeps the decoded order the lease wrote, so the
    outcome's store_order_get finds it in memory.

    It never disagrees with the store:
    - store_order_keep takes an order only if it is the very object last
      written for its id in this transaction, i.e. what the record now says;
    - store_order_get (in a write transaction) hands a cached order over:
      it leaves the cache, the caller owns it, changes it, writes it back;
    - writing an order's record or target drops its cached copy;
    - an abort or a failed commit empties the cache, since what it kept in
      that transaction was never written.

    Bounded (STORE_CACHE_MAX orders, about 1 KB each): when full, the order
    kept longest ago leaves first (a lease that lasts days, a field visit,
    should not hold a place that a two-second SMS round trip could use).  */

#include "store.h"
#include "store_private.h"

struct _store_cache_t {
    zhashx_t *orders;           //  id -> Wob__Order (with target), owned
                                //  (freed here, not by the map: take hands them out)
    zhashx_t *written;          //  this transaction: id -> object last put
    uint64_t *ring;             //  ids in the order they were kept
    size_t head;                //  next slot of ring (the oldest id)
    size_t max;
};

static void
s_drop (store_cache_t *self, uint64_t id)
{
    Wob__Order *order = store_cache_take (self, id);
    if (order)
        wob__order__free_unpacked (order, NULL);
}

static void
s_drop_all (store_cache_t *self)
{
    for (Wob__Order *order = zhashx_first (self->orders); order;
         order = zhashx_next (self->orders))
        wob__order__free_unpacked (order, NULL);
    zhashx_purge (self->orders);
}

store_cache_t *
store_cache_new (size_t max)
{
    store_cache_t *self = calloc (1, sizeof (store_cache_t));
    if (!self)
        return NULL;
    self->orders = wob_idmap_new (NULL);
    self->written = wob_idmap_new (NULL);
    self->ring = calloc (max? max: 1, sizeof (uint64_t));
    self->max = max;
    if (!self->orders || !self->written || !self->ring)
        store_cache_destroy (&self);
    return self;
}

void
store_cache_destroy (store_cache_t **self_p)
{
    if (self_p && *self_p) {
        store_cache_t *self = *self_p;
        if (self->orders)
            s_drop_all (self);
        zhashx_destroy (&self->orders);
        zhashx_destroy (&self->written);
        free (self->ring);
        free (self);
        *self_p = NULL;
    }
}

Wob__Order *
store_cache_take (store_cache_t *self, uint64_t id)
{
    Wob__Order *order = zhashx_lookup (self->orders, WOB_ID_KEY (id));
    if (order)
        zhashx_delete (self->orders, WOB_ID_KEY (id));
    return order;
}

void
store_cache_written (store_cache_t *self, uint64_t id, const Wob__Order *order)
{
    s_drop (self, id);
    if (order)
        zhashx_update (self->written, WOB_ID_KEY (id), (void *) order);
    else
        zhashx_delete (self->written, WOB_ID_KEY (id));
}

void
store_cache_keep (store_cache_t *self, Wob__Order **order_p)
{
    Wob__Order *order = *order_p;
    *order_p = NULL;
    if (!order)
        return;
    if (!self->max || order->n_history
    ||  zhashx_lookup (self->written, WOB_ID_KEY (order->id)) != order) {
        wob__order__free_unpacked (order, NULL);
        return;
    }
    //  The slot's previous id is the oldest kept: it goes, if still here
    //  (an id kept twice is in the ring twice; its older slot may evict the
    //  newer copy early, which costs a lookup later, never a wrong answer)
    uint64_t oldest = self->ring [self->head];
    if (oldest)
        s_drop (self, oldest);
    self->ring [self->head] = order->id;
    self->head = (self->head + 1) % self->max;
    s_drop (self, order->id);       //  none: writing it dropped any copy
    zhashx_insert (self->orders, WOB_ID_KEY (order->id), order);
}

void
store_cache_end (store_cache_t *self, bool committed)
{
    zhashx_purge (self->written);
    if (!committed) {
        s_drop_all (self);
        memset (self->ring, 0, self->max * sizeof (uint64_t));
        self->head = 0;
    }
}

size_t
store_cache_size (store_cache_t *self)
{
    return zhashx_size (self->orders);
}
