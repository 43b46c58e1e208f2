/*  store_numbers.c - the number index: a phone number's orders.

    Intake asks four questions of every target's number (already in this
    wave? open offers? frequency caps? merge?), the duplicate filter and
    imports ask for a number's first order in a wave, supervisors look a
    number up.  One index answers all of them, in two parts:

      msisdn      number -> wave seq (u32 BE) + order id (u64 BE), dupsort:
                  the folded index, a B-tree by number
      msisdn_new  order id (u64 BE) + wave seq (u32 BE) -> number: the
                  recent additions, a log in id order, mirrored in memory
                  (a hash by number) for the lookups

    Why two: phone numbers arrive in random order, so adding one to a
    B-tree by number dirties a page of its own, and the commit writes and
    fsyncs it.  At 220-target waves that was half of all bytes written and
    1.3 ms of every wave's turn, inside submit-to-lease latency.  Appended
    to the log instead, a wave's numbers fill a page or two.  The broker
    folds the oldest log entries into the B-tree in quiet turns (idle, or
    creating no orders), a slice at a time that stops as soon as a message
    waits.  Folding costs what adding cost before, but off the latency
    path.  The log holds at most STORE_NUMBERS_RECENT_MAX entries (memory
    is bounded): when folding has not kept up, as under a long intake,
    numbers go straight to the B-tree, as they did before the log.

    Every reader goes through s_number_read, which merges the two parts.
    Transactions: the hash follows the write transaction as it goes;
    abort and a failed commit rebuild it from the log (store.c calls
    store_numbers_load).                                                  */

#include "store_private.h"

#define NUMBER_MAX 64           //  longest number the log holds

//  A number's recent entries
typedef struct {
    size_t count, cap;
    store_number_value_t *values;
} s_recent_t;

static void
s_recent_destroy (void **item_p)
{
    s_recent_t *self = *item_p;
    if (self) {
        free (self->values);
        free (self);
        *item_p = NULL;
    }
}

static void
s_recent_add (store_t *self, const char *msisdn, uint32_t wave_seq, uint64_t id)
{
    s_recent_t *recent = zhashx_lookup (self->recent, msisdn);
    if (!recent) {
        recent = calloc (1, sizeof (*recent));
        zhashx_insert (self->recent, msisdn, recent);
    }
    for (size_t i = 0; i < recent->count; i++)
        if (recent->values [i].wave_seq == wave_seq && recent->values [i].id == id)
            return;             //  added again: the log entry was overwritten
    if (recent->count == recent->cap) {
        recent->cap = recent->cap? recent->cap * 2: 2;
        recent->values = realloc (recent->values, recent->cap * sizeof (*recent->values));
    }
    recent->values [recent->count++] = (store_number_value_t) { wave_seq, id };
    self->recent_count++;
}

static void
s_recent_remove (store_t *self, const char *msisdn, uint32_t wave_seq, uint64_t id)
{
    s_recent_t *recent = zhashx_lookup (self->recent, msisdn);
    for (size_t i = 0; recent && i < recent->count; i++)
        if (recent->values [i].wave_seq == wave_seq && recent->values [i].id == id) {
            recent->values [i] = recent->values [--recent->count];
            self->recent_count--;
            if (!recent->count)
                zhashx_delete (self->recent, msisdn);
            return;
        }
}

//  A log entry
typedef struct {
    uint32_t wave_seq;
    uint64_t id;
    char msisdn [NUMBER_MAX];
} s_entry_t;

//  The log entry at key and val; false if it is not one.
static bool
s_entry (const MDB_val *key, const MDB_val *val, s_entry_t *entry)
{
    if (key->mv_size != 12 || val->mv_size == 0 || val->mv_size >= NUMBER_MAX)
        return false;
    entry->id = store_priv_get_u64 (key->mv_data);
    entry->wave_seq = store_priv_get_u32 ((uint8_t *) key->mv_data + 8);
    memcpy (entry->msisdn, val->mv_data, val->mv_size);
    entry->msisdn [val->mv_size] = 0;
    return true;
}

//  Adds a value to the B-tree by number (the folded part).
static int
s_index_put (store_t *self, const char *msisdn, uint32_t wave_seq, uint64_t id, char *err)
{
    uint8_t v [12];
    store_priv_put_u32 (v, wave_seq);
    store_priv_put_u64 (v + 4, id);
    //  A value already there is written over: a number's values are a set
    return store_priv_put (self, self->msisdn, (void *) msisdn, strlen (msisdn), v, 12, 0,
                           err, "indexing a number");
}

int
store_numbers_load (store_t *self, MDB_txn *txn)
{
    if (!self->recent) {
        self->recent = zhashx_new ();
        zhashx_set_destructor (self->recent, s_recent_destroy);
    }
    zhashx_purge (self->recent);
    self->recent_count = 0;
    self->number.valid = false;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, self->msisdn_new, &cursor);
    if (rc)
        return rc;
    MDB_val key, val;
    s_entry_t entry;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (!s_entry (&key, &val, &entry)) {
            rc = MDB_CORRUPTED;
            break;
        }
        s_recent_add (self, entry.msisdn, entry.wave_seq, entry.id);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}

void
store_numbers_destroy (store_t *self)
{
    zhashx_destroy (&self->recent);
    free (self->number.values);
    self->number.values = NULL;
}

int
store_msisdn_add (store_t *self, const char *msisdn, uint32_t wave_seq, uint64_t id, bool bulk,
                  char *err)
{
    size_t len = strlen (msisdn);
    if (len == 0 || len >= NUMBER_MAX)
        return wob_fail (err, WOB_ERR_INVALID, "indexing a number: '%.20s...' is %zu "
                         "characters, at most %d are kept", msisdn, len, NUMBER_MAX - 1);
    self->number.valid = false;
    //  Many at once, or the log is full (folding has not kept up)
    if (bulk || self->recent_count >= STORE_NUMBERS_RECENT_MAX)
        return s_index_put (self, msisdn, wave_seq, id, err);
    uint8_t k [12];
    store_priv_put_u64 (k, id);
    store_priv_put_u32 (k + 8, wave_seq);
    int rc = store_priv_put (self, self->msisdn_new, k, 12, (void *) msisdn, len, 0, err,
                             "indexing a number");
    if (!rc)
        s_recent_add (self, msisdn, wave_seq, id);
    return rc;
}

size_t
store_numbers_recent (store_t *self)
{
    return self->recent_count;
}

int
store_numbers_fold (store_t *self, size_t max, store_stop_fn *stop, void *arg,
                    size_t *folded_p, char *err)
{
    *folded_p = 0;
    if (!self->recent_count || !max)
        return 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->msisdn_new, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "folding the number index");
    self->number.valid = false;
    self->dirty = true;
    MDB_val key, val;
    s_entry_t entry;
    while (*folded_p < max
       &&  (rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST)) == 0) {
        if (!s_entry (&key, &val, &entry)) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (s_index_put (self, entry.msisdn, entry.wave_seq, entry.id, err)) {
            mdb_cursor_close (cursor);
            return WOB_ERR_STORE;
        }
        if ((rc = mdb_cursor_del (cursor, 0)))
            break;
        s_recent_remove (self, entry.msisdn, entry.wave_seq, entry.id);
        (*folded_p)++;
        if (stop && *folded_p % 16 == 0 && stop (arg))
            break;
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND)
        return store_priv_fail (self, err, rc, "folding the number index");
    return 0;
}

static int
s_by_wave_then_id (const void *a, const void *b)
{
    const store_number_value_t *x = a, *y = b;
    if (x->wave_seq != y->wave_seq)
        return x->wave_seq < y->wave_seq? -1: 1;
    return x->id < y->id? -1: x->id > y->id;
}

static void
s_memo_room (store_number_t *memo, size_t more)
{
    if (memo->count + more > memo->cap) {
        memo->cap = (memo->count + more) * 2 + 8;
        memo->values = realloc (memo->values, memo->cap * sizeof (*memo->values));
    }
}

//  The number's index values, both parts, in index order (wave, then id),
//  read once: intake asks four questions of each target's number, and one
//  B-tree descent answers them all.  Remembered until the index changes or
//  the transaction ends (store_begin, commit, abort forget it).
static int
s_number_read (store_t *self, const char *msisdn, char *err)
{
    store_number_t *memo = &self->number;
    size_t len = strlen (msisdn);
    if (memo->valid && len == strlen (memo->msisdn) && memcmp (memo->msisdn, msisdn, len) == 0)
        return 0;
    memo->valid = false;
    memo->count = 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->msisdn, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "reading the number index");
    MDB_val key = { len, (void *) msisdn }, val;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_KEY); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT_DUP)) {
        if (val.mv_size != 12)
            continue;
        s_memo_room (memo, 1);
        memo->values [memo->count].wave_seq = store_priv_get_u32 (val.mv_data);
        memo->values [memo->count].id = store_priv_get_u64 ((uint8_t *) val.mv_data + 4);
        memo->count++;
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND)
        return store_priv_fail (self, err, rc, "reading the number index");
    s_recent_t *recent = zhashx_lookup (self->recent, msisdn);
    if (recent) {
        s_memo_room (memo, recent->count);
        memcpy (memo->values + memo->count, recent->values,
                recent->count * sizeof (*memo->values));
        memo->count += recent->count;
        qsort (memo->values, memo->count, sizeof (*memo->values), s_by_wave_then_id);
    }
    //  Numbers are short: a longer one is read again each time
    if (len < sizeof (memo->msisdn)) {
        memcpy (memo->msisdn, msisdn, len + 1);
        memo->valid = true;
    }
    return 0;
}

static int
s_ascending (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

int
store_msisdn_list (store_t *self, const char *msisdn, uint64_t **ids_p, size_t *count_p,
                   char *err)
{
    *ids_p = NULL;
    *count_p = 0;
    if (!*msisdn)
        return 0;
    int rc = s_number_read (self, msisdn, err);
    if (rc || !self->number.count)
        return rc;
    size_t count = self->number.count;
    *ids_p = malloc (count * sizeof (uint64_t));
    for (size_t i = 0; i < count; i++)
        (*ids_p) [i] = self->number.values [i].id;
    *count_p = count;
    //  Values sort by wave first: the caller wants orders oldest first
    if (count > 1)
        qsort (*ids_p, count, sizeof (uint64_t), s_ascending);
    return 0;
}

int
store_wave_msisdn_get (store_t *self, uint32_t wave_seq, const char *msisdn, uint64_t *id_p,
                       char *err)
{
    *id_p = 0;
    if (!*msisdn)
        return 0;
    int rc = s_number_read (self, msisdn, err);
    //  Values are in index order, wave then id: the first of the wave is
    //  the number's first order in it
    for (size_t i = 0; !rc && i < self->number.count && !*id_p; i++)
        if (self->number.values [i].wave_seq == wave_seq)
            *id_p = self->number.values [i].id;
    return rc;
}
