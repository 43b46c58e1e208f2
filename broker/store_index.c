/*  store_index.c - the store's indexes: what makes an order findable by
    number or wave, and its state actionable (ready queue, timers, leases).
    Part of the store: only store.c and this file see LMDB.              */

#include "store_private.h"

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
    MDB_val key;
    int rc = store_priv_seek (self, self->wave_ord, k, 12, 4, &key, err, "reading a wave");
    if (rc == 0 && key.mv_size == 12)
        *id_p = store_priv_get_u64 ((uint8_t *) key.mv_data + 4);
    return rc == WOB_ERR_NOT_FOUND? 0: rc;
}

static void
s_queue_key (uint8_t *k, uint8_t channel, uint32_t route, uint32_t wave_seq,
             uint8_t priority, uint64_t id)
{
    k [0] = channel;
    store_priv_put_u32 (k + 1, route);
    store_priv_put_u32 (k + 5, wave_seq);
    k [9] = 255 - priority;
    store_priv_put_u64 (k + 10, id);
}

#define S_QUEUE_KEY 18

int
store_queue_put (store_t *self, uint8_t channel, uint32_t route, uint32_t wave_seq,
                 uint8_t priority, uint64_t id, char *err)
{
    uint8_t k [S_QUEUE_KEY];
    s_queue_key (k, channel, route, wave_seq, priority, id);
    return store_priv_put (self, self->queue, k, S_QUEUE_KEY, "", 0, 0, err,
                           "queueing an order");
}

int
store_queue_del (store_t *self, uint8_t channel, uint32_t route, uint32_t wave_seq,
                 uint8_t priority, uint64_t id, char *err)
{
    uint8_t k [S_QUEUE_KEY];
    s_queue_key (k, channel, route, wave_seq, priority, id);
    return store_priv_del (self, self->queue, k, S_QUEUE_KEY, NULL, err,
                           "dequeueing an order");
}

//  First entry at or after k whose first `prefix` bytes equal k's.
static int
s_queue_first (store_t *self, uint8_t *k, size_t prefix, uint32_t *wave_p,
               uint8_t *priority_p, uint64_t *id_p, char *err)
{
    MDB_val key;
    int rc = store_priv_seek (self, self->queue, k, S_QUEUE_KEY, prefix, &key, err,
                              "reading the queue");
    if (rc == 0 && key.mv_size != S_QUEUE_KEY)
        rc = WOB_ERR_NOT_FOUND;
    if (rc == 0) {
        const uint8_t *p = key.mv_data;
        if (wave_p)
            *wave_p = store_priv_get_u32 (p + 5);
        *priority_p = 255 - p [9];
        *id_p = store_priv_get_u64 (p + 10);
    }
    return rc;
}

int
store_queue_head (store_t *self, uint8_t channel, uint32_t route, uint32_t wave_seq,
                  uint8_t *priority_p, uint64_t *id_p, char *err)
{
    uint8_t k [S_QUEUE_KEY];
    s_queue_key (k, channel, route, wave_seq, 255, 0);
    return s_queue_first (self, k, 9, NULL, priority_p, id_p, err);
}

int
store_queue_any (store_t *self, uint8_t channel, uint32_t route, uint32_t *wave_p,
                 uint64_t *id_p, char *err)
{
    uint8_t k [S_QUEUE_KEY], priority;
    s_queue_key (k, channel, route, 0, 255, 0);
    return s_queue_first (self, k, 5, wave_p, &priority, id_p, err);
}

//  --- Held orders ---------------------------------------------------------

//  channel + kind + key text + NUL + id; *len_p its length.
static int
s_held_key (uint8_t *k, uint8_t channel, uint8_t kind, const char *text, uint64_t id,
            size_t *len_p)
{
    size_t len = strlen (text);
    if (len > STORE_MAX_HELD_KEY)
        return -1;
    k [0] = channel;
    k [1] = kind;
    memcpy (k + 2, text, len);
    k [2 + len] = 0;
    store_priv_put_u64 (k + 3 + len, id);
    *len_p = len + 11;
    return 0;
}

int
store_held_put (store_t *self, uint8_t channel, uint8_t kind, const char *text, uint64_t id,
                char *err)
{
    uint8_t k [STORE_MAX_HELD_KEY + 11];
    size_t len;
    if (s_held_key (k, channel, kind, text, id, &len))
        return wob_fail (err, WOB_ERR_INVALID, "order %" PRIu64 ": hold key '%.32s...' "
                         "is too long", id, text);
    return store_priv_put (self, self->held, k, len, "", 0, 0, err, "holding an order");
}

int
store_held_del (store_t *self, uint8_t channel, uint8_t kind, const char *text, uint64_t id,
                char *err)
{
    uint8_t k [STORE_MAX_HELD_KEY + 11];
    size_t len;
    if (s_held_key (k, channel, kind, text, id, &len))
        return 0;
    return store_priv_del (self, self->held, k, len, NULL, err, "releasing a held order");
}

int
store_held_next (store_t *self, uint8_t channel, uint8_t kind, const char *from,
                 uint64_t after, char *text, uint64_t *id_p, char *err)
{
    uint8_t k [STORE_MAX_HELD_KEY + 11];
    size_t len;
    *id_p = 0;
    if (after == UINT64_MAX || s_held_key (k, channel, kind, from, after + 1, &len))
        return 0;
    MDB_val key;
    int rc = store_priv_seek (self, self->held, k, len, 2, &key, err, "reading held orders");
    const uint8_t *p = key.mv_data;
    if (rc == 0 && key.mv_size >= 11 && key.mv_size <= sizeof (k)) {
        size_t text_len = key.mv_size - 11;
        memcpy (text, p + 2, text_len);
        text [text_len] = 0;
        *id_p = store_priv_get_u64 (p + 3 + text_len);
    }
    return rc == WOB_ERR_NOT_FOUND? 0: rc;
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

//  --- Do-not-disturb list -------------------------------------------------

//  Key: number, NUL, channel.  Returns the key length.
static size_t
s_suppress_key (char *k, size_t size, const char *msisdn, const char *channel)
{
    //  "NUMBER\0CHANNEL", truncated to size - 1 (by hand: dispatch looks
    //  up every order's number)
    size_t len = 0;
    wob_append (k, size, &len, msisdn);
    if (len < size - 1) {
        k [len++] = 0;
        wob_append (k, size, &len, channel? channel: "");
    }
    return len;
}

int
store_suppress_put (store_t *self, Wob__SuppressEntry *entry, char *err)
{
    char k [128];
    size_t klen = s_suppress_key (k, sizeof (k), entry->msisdn, entry->channel);
    return store_priv_put_message (self, self->suppress, k, klen, &entry->base, err,
                                   "writing the do-not-disturb list");
}

int
store_suppress_del (store_t *self, const char *msisdn, const char *channel, bool *removed,
                    char *err)
{
    char k [128];
    size_t klen = s_suppress_key (k, sizeof (k), msisdn, channel);
    MDB_val key = { klen, k };
    int rc = mdb_del (self->txn, self->suppress, &key, NULL);
    *removed = rc == 0;
    if (rc && rc != MDB_NOTFOUND)
        return store_priv_fail (self, err, rc, "removing from the do-not-disturb list");
    self->dirty = self->dirty || *removed;
    return 0;
}

static int
s_suppress_get (store_t *self, const char *msisdn, const char *channel, int64_t now_ms,
                Wob__SuppressEntry **entry_p, char *err)
{
    char k [128];
    size_t klen = s_suppress_key (k, sizeof (k), msisdn, channel);
    MDB_val key = { klen, k }, val;
    int rc = mdb_get (self->txn, self->suppress, &key, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_priv_fail (self, err, rc, "reading the do-not-disturb list");
    Wob__SuppressEntry *entry = wob__suppress_entry__unpack (NULL, val.mv_size, val.mv_data);
    if (entry && entry->expires_ms && entry->expires_ms <= now_ms) {
        wob__suppress_entry__free_unpacked (entry, NULL);
        entry = NULL;
    }
    *entry_p = entry;
    return 0;
}

int
store_suppress_find (store_t *self, const char *msisdn, const char *channel, int64_t now_ms,
                     Wob__SuppressEntry **entry_p, char *err)
{
    *entry_p = NULL;
    int rc = s_suppress_get (self, msisdn, "", now_ms, entry_p, err);
    if (!rc && !*entry_p && channel && *channel)
        rc = s_suppress_get (self, msisdn, channel, now_ms, entry_p, err);
    return rc;
}

int
store_suppress_list (store_t *self, const char *msisdn, const char *after, size_t limit,
                     Wob__SuppressEntry ***entries_p, size_t *count_p, char *err)
{
    *entries_p = calloc (limit + 1, sizeof (Wob__SuppressEntry *));
    *count_p = 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->suppress, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "reading the do-not-disturb list");
    char k [128];
    size_t klen;
    if (msisdn && *msisdn)
        klen = s_suppress_key (k, sizeof (k), msisdn, "");
    else {
        //  After "N": the first key past every channel of N
        klen = snprintf (k, sizeof (k), "%s%c", after? after: "", after && *after? 1: 0);
    }
    MDB_val key = { klen, k }, val;
    size_t prefix = msisdn && *msisdn? strlen (msisdn) + 1: 0;
    for (rc = mdb_cursor_get (cursor, &key, &val, klen? MDB_SET_RANGE: MDB_FIRST);
         rc == 0 && *count_p < limit; rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (prefix && (key.mv_size < prefix || memcmp (key.mv_data, k, prefix) != 0))
            break;
        Wob__SuppressEntry *entry = wob__suppress_entry__unpack (NULL, val.mv_size, val.mv_data);
        if (entry)
            (*entries_p) [(*count_p)++] = entry;
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND)
        return store_priv_fail (self, err, rc, "reading the do-not-disturb list");
    return 0;
}

uint64_t
store_suppress_count (store_t *self)
{
    MDB_stat st;
    return mdb_stat (self->txn, self->suppress, &st) == 0? st.ms_entries: 0;
}

//  --- Counts by rule -------------------------------------------------------------

int
store_rule_count_put (store_t *self, uint32_t wave_seq, const char *rule, uint64_t count,
                      char *err)
{
    uint8_t k [4 + 64], v [8];
    size_t len = strlen (rule);
    if (len > 64)
        len = 64;
    store_priv_put_u32 (k, wave_seq);
    memcpy (k + 4, rule, len);
    store_priv_put_u64 (v, count);
    return store_priv_put (self, self->rule_counts, k, 4 + len, v, 8, 0, err,
                           "writing rule counts");
}

int
store_rule_count_each (store_t *self, uint32_t wave_seq, store_count_fn *fn, void *arg,
                       char *err)
{
    uint8_t k [4];
    store_priv_put_u32 (k, wave_seq);
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->rule_counts, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "reading rule counts");
    MDB_val key = { 4, k }, val;
    int result = 0;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE); rc == 0 && !result;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (key.mv_size < 4 || memcmp (key.mv_data, k, 4) != 0)
            break;
        char name [65];
        size_t len = key.mv_size - 4 < 64? key.mv_size - 4: 64;
        memcpy (name, (char *) key.mv_data + 4, len);
        name [len] = 0;
        result = fn (arg, name, val.mv_size == 8? store_priv_get_u64 (val.mv_data): 0);
    }
    mdb_cursor_close (cursor);
    return result;
}
