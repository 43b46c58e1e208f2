/*  store_index.c - the store's indexes: what makes an order findable by
    number or wave, and its state actionable (ready queue, timers, leases).
    Part of the store: only store.c and this file see LMDB.              */

#include "store_private.h"

int
store_msisdn_add (store_t *self, const char *msisdn, uint64_t id, char *err)
{
    uint8_t v [8];
    store_priv_put_u64 (v, id);
    return store_priv_put (self, self->msisdn, (void *) msisdn, strlen (msisdn), v, 8, 0, err,
                  "indexing a number");
}

int
store_msisdn_list (store_t *self, const char *msisdn, uint64_t **ids_p, size_t *count_p,
                   char *err)
{
    *ids_p = NULL;
    *count_p = 0;
    if (!*msisdn)
        return 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->msisdn, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "reading the number index");
    MDB_val key = { strlen (msisdn), (void *) msisdn }, val;
    size_t cap = 0;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_KEY); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT_DUP)) {
        if (*count_p == cap) {
            cap = cap? cap * 2: 8;
            *ids_p = realloc (*ids_p, cap * sizeof (uint64_t));
        }
        (*ids_p) [(*count_p)++] = store_priv_get_u64 (val.mv_data);
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND)
        return store_priv_fail (self, err, rc, "reading the number index");
    return 0;
}

int
store_wave_order_add (store_t *self, uint32_t wave_seq, uint64_t id, char *err)
{
    uint8_t k [12];
    store_priv_put_u32 (k, wave_seq);
    store_priv_put_u64 (k + 4, id);
    return store_priv_put (self, self->wave_ord, k, 12, "", 0, 0, err, "indexing a wave");
}

int
store_wave_order_next (store_t *self, uint32_t wave_seq, uint64_t after, uint64_t *id_p,
                       char *err)
{
    uint8_t k [12];
    *id_p = 0;
    if (after == UINT64_MAX)
        return 0;
    store_priv_put_u32 (k, wave_seq);
    store_priv_put_u64 (k + 4, after + 1);
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->wave_ord, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "reading a wave");
    MDB_val key = { 12, k }, val;
    rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    if (rc == 0 && key.mv_size == 12 && memcmp (key.mv_data, k, 4) == 0)
        *id_p = store_priv_get_u64 ((uint8_t *) key.mv_data + 4);
    mdb_cursor_close (cursor);
    return 0;
}

static void
s_queue_key (uint8_t *k, uint8_t channel, uint32_t wave_seq, uint8_t priority, uint64_t id)
{
    k [0] = channel;
    store_priv_put_u32 (k + 1, wave_seq);
    k [5] = 255 - priority;
    store_priv_put_u64 (k + 6, id);
}

int
store_queue_put (store_t *self, uint8_t channel, uint32_t wave_seq, uint8_t priority,
                 uint64_t id, char *err)
{
    uint8_t k [14];
    s_queue_key (k, channel, wave_seq, priority, id);
    return store_priv_put (self, self->queue, k, 14, "", 0, 0, err, "queueing an order");
}

int
store_queue_del (store_t *self, uint8_t channel, uint32_t wave_seq, uint8_t priority,
                 uint64_t id, char *err)
{
    uint8_t k [14];
    s_queue_key (k, channel, wave_seq, priority, id);
    return store_priv_del (self, self->queue, k, 14, NULL, err, "dequeueing an order");
}

int
store_queue_head (store_t *self, uint8_t channel, uint32_t wave_seq, uint8_t *priority_p,
                  uint64_t *id_p, char *err)
{
    uint8_t k [14];
    s_queue_key (k, channel, wave_seq, 255, 0);
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->queue, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "reading the queue");
    MDB_val key = { 14, k }, val;
    rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    int result = WOB_ERR_NOT_FOUND;
    if (rc == 0 && key.mv_size == 14 && memcmp (key.mv_data, k, 5) == 0) {
        const uint8_t *p = key.mv_data;
        *priority_p = 255 - p [5];
        *id_p = store_priv_get_u64 (p + 6);
        result = 0;
    }
    else
    if (rc && rc != MDB_NOTFOUND)
        result = store_priv_fail (self, err, rc, "reading the queue");
    mdb_cursor_close (cursor);
    return result;
}

int
store_timer_put (store_t *self, int64_t due_ms, uint64_t id, char *err)
{
    uint8_t k [16];
    store_priv_put_u64 (k, (uint64_t) (due_ms < 0? 0: due_ms));
    store_priv_put_u64 (k + 8, id);
    return store_priv_put (self, self->timers, k, 16, "", 0, 0, err, "setting a timer");
}

int
store_timer_del (store_t *self, int64_t due_ms, uint64_t id, char *err)
{
    uint8_t k [16];
    store_priv_put_u64 (k, (uint64_t) (due_ms < 0? 0: due_ms));
    store_priv_put_u64 (k + 8, id);
    return store_priv_del (self, self->timers, k, 16, NULL, err, "clearing a timer");
}

int
store_timer_due (store_t *self, int64_t now_ms, uint64_t *ids, int64_t *dues, size_t max,
                 size_t *count_p, char *err)
{
    *count_p = 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->timers, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "reading timers");
    MDB_val key, val;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST); rc == 0 && *count_p < max;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        int64_t due = (int64_t) store_priv_get_u64 (key.mv_data);
        if (due > now_ms)
            break;
        dues [*count_p] = due;
        ids [(*count_p)++] = store_priv_get_u64 ((uint8_t *) key.mv_data + 8);
    }
    mdb_cursor_close (cursor);
    return 0;
}

int
store_lease_put (store_t *self, uint64_t id, char *err)
{
    uint8_t k [8];
    store_priv_put_u64 (k, id);
    return store_priv_put (self, self->leases, k, 8, "", 0, 0, err, "recording a lease");
}

int
store_lease_del (store_t *self, uint64_t id, char *err)
{
    uint8_t k [8];
    store_priv_put_u64 (k, id);
    return store_priv_del (self, self->leases, k, 8, NULL, err, "ending a lease");
}

int
store_lease_each (store_t *self, store_id_fn *fn, void *arg, char *err)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->leases, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "reading leases");
    MDB_val key, val;
    int result = 0;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST); rc == 0 && !result;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT))
        result = fn (arg, store_priv_get_u64 (key.mv_data));
    mdb_cursor_close (cursor);
    return result;
}

