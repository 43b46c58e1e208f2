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
    to the log instead, a wave's numbers fill a page or two.

    Folding moves the log into the B-tree, off the latency path: the
    broker folds in idle turns, a slice at a time that stops as soon as a
    message waits.  It folds a sweep at a time, the way an LSM tree merges
    a level: once STORE_NUMBERS_SWEEP_MIN entries wait (or fewer, when the
    broker has been idle a while), the log as it stands is sorted by number
    and folded in that order, so that the entries falling on one B-tree
    page are written with one page write.  Taken oldest first, each entry
    cost a page of its own: folding then took 1.9 ms of commit per 247
    numbers in a 370,000-number store, a turn that every wave arriving
    meanwhile waited behind.  How much a sweep saves is the log's entries
    per B-tree leaf: 16,384 entries over 4,400 leaves write about a
    quarter of the pages; in a store of tens of millions of numbers the
    saving shrinks towards none, and folding costs what it did before.
    Once folded, the sweep's entries are cleared from the front of the log
    (they are its oldest: ids only grow), a run of pages, not one each.

    The log holds at most STORE_NUMBERS_RECENT_MAX entries (memory is
    bounded): when folding has not kept up, as under a long intake,
    numbers go straight to the B-tree, as they did before the log.  So do
    those of a big chunk (bulk: they share pages among themselves), and
    an addition with an id the running sweep covers (it would be cleared
    unfolded).

    Every reader goes through s_number_read, which merges the two parts
    (an entry is in both between its fold and its clearing).
    Transactions: the hash follows the write transaction as it goes;
    abort and a failed commit rebuild it from the log (store.c calls
    store_numbers_load), and forget the sweep: the next one folds its
    entries again, which writes nothing new.                              */

#include "store_private.h"

#define NUMBER_MAX 64           //  longest number the log holds

//  A log entry
typedef struct {
    uint32_t wave_seq;
    uint64_t id;
    uint64_t number;            //  packed
    char msisdn [NUMBER_MAX];
} s_entry_t;

//  The log entry at key and val; false if it is not one (the log holds
//  only numbers that pack).
static bool
s_entry (const MDB_val *key, const MDB_val *val, s_entry_t *entry)
{
    if (key->mv_size != 12 || val->mv_size == 0 || val->mv_size >= NUMBER_MAX)
        return false;
    entry->id = store_priv_get_u64 (key->mv_data);
    entry->wave_seq = store_priv_get_u32 ((uint8_t *) key->mv_data + 8);
    memcpy (entry->msisdn, val->mv_data, val->mv_size);
    entry->msisdn [val->mv_size] = 0;
    return number_pack (entry->msisdn, &entry->number);
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

//  Makes room for one more entry; false when memory is short.
static bool
s_list_room (store_sweep_list_t *list)
{
    if (list->count < list->cap)
        return true;
    size_t cap = list->cap? list->cap * 2: 1024;
    store_sweep_entry_t *entries = realloc (list->entries, cap * sizeof (store_sweep_entry_t));
    if (!entries)
        return false;
    list->entries = entries;
    list->cap = cap;
    return true;
}

//  Adds an entry to a list with room for it (s_list_room).
static void
s_list_add (store_sweep_list_t *list, uint64_t number, uint32_t wave_seq, uint64_t id)
{
    assert (list->count < list->cap);
    list->entries [list->count++] = (store_sweep_entry_t) { number, id, wave_seq };
}

//  Sorts by number: LSD radix sort, a byte at a time, skipping the bytes
//  all entries share (numbers share their leading digits).  Stable, so a
//  number's entries stay in id order.
static void
s_list_sort (store_sweep_list_t *list)
{
    store_sweep_entry_t *from = list->entries;
    store_sweep_entry_t *to = malloc ((list->count + 1) * sizeof (store_sweep_entry_t));
    if (!to)
        return;                 //  unsorted: folded as well, with more page writes
    size_t to_cap = list->count + 1;
    for (int shift = 0; shift < 64; shift += 8) {
        size_t counts [256] = { 0 };
        for (size_t i = 0; i < list->count; i++)
            counts [(from [i].number >> shift) & 255]++;
        if (list->count == 0 || counts [(from [0].number >> shift) & 255] == list->count)
            continue;           //  one value: this byte does not reorder
        size_t at = 0;
        for (int b = 0; b < 256; b++) {
            size_t count = counts [b];
            counts [b] = at;
            at += count;
        }
        for (size_t i = 0; i < list->count; i++)
            to [counts [(from [i].number >> shift) & 255]++] = from [i];
        store_sweep_entry_t *swap = from;
        from = to;
        to = swap;
        size_t swap_cap = list->cap;
        list->cap = to_cap;
        to_cap = swap_cap;
    }
    free (to);
    list->entries = from;
}

static void
s_sweep_reset (store_t *self)
{
    free (self->sweep.list.entries);
    self->sweep = (store_sweep_t) { 0 };
}

int
store_numbers_load (store_t *self, MDB_txn *txn)
{
    s_sweep_reset (self);
    self->unswept.count = 0;
    if (!self->recent)
        self->recent = numbermap_new (STORE_NUMBERS_RECENT_MAX);
    if (!self->recent)
        return ENOMEM;
    numbermap_clear (self->recent);
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
        //  Every entry must be in the map and the list: a sweep clears
        //  what it did not fold otherwise (the log never holds more than
        //  the map takes: adds beyond that go to the B-tree)
        if (numbermap_size (self->recent) >= STORE_NUMBERS_RECENT_MAX
        ||  !s_list_room (&self->unswept)) {
            rc = ENOMEM;
            break;
        }
        if (numbermap_add (self->recent, entry.number, entry.wave_seq, entry.id))
            s_list_add (&self->unswept, entry.number, entry.wave_seq, entry.id);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}

void
store_numbers_destroy (store_t *self)
{
    s_sweep_reset (self);
    free (self->unswept.entries);
    self->unswept = (store_sweep_list_t) { 0 };
    numbermap_destroy (&self->recent);
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
    //  Many at once, the log is full (folding has not kept up), an id the
    //  running sweep would clear without folding, a number that does not
    //  pack (the sweep sorts packed numbers; intake lets none through), or
    //  no memory to list it for the next sweep
    uint64_t packed;
    if (bulk || numbermap_size (self->recent) >= STORE_NUMBERS_RECENT_MAX
    ||  (self->sweep.active && id <= self->sweep.last_id) || !number_pack (msisdn, &packed)
    ||  !s_list_room (&self->unswept))
        return s_index_put (self, msisdn, wave_seq, id, err);
    uint8_t k [12];
    store_priv_put_u64 (k, id);
    store_priv_put_u32 (k + 8, wave_seq);
    int rc = store_priv_put (self, self->msisdn_new, k, 12, (void *) msisdn, len, 0, err,
                             "indexing a number");
    if (!rc && numbermap_add (self->recent, packed, wave_seq, id))
        s_list_add (&self->unswept, packed, wave_seq, id);
    return rc;
}

size_t
store_numbers_recent (store_t *self)
{
    return numbermap_size (self->recent);
}

bool
store_numbers_foldable (store_t *self, bool drain)
{
    return self->sweep.active || self->unswept.count >= STORE_NUMBERS_SWEEP_MIN
        || (drain && numbermap_size (self->recent) > 0);
}

//  Starts a sweep of the log as it stands: every entry not swept yet.
static void
s_sweep_start (store_t *self)
{
    store_sweep_t *sweep = &self->sweep;
    sweep->list = self->unswept;
    self->unswept = (store_sweep_list_t) { 0 };
    s_list_sort (&sweep->list);
    sweep->last_id = 0;
    for (size_t i = 0; i < sweep->list.count; i++)
        if (sweep->list.entries [i].id > sweep->last_id)
            sweep->last_id = sweep->list.entries [i].id;
    sweep->pos = 0;
    sweep->active = true;
}

//  Clears up to max entries of a folded sweep from the front of the log.
static int
s_sweep_clear (store_t *self, size_t max, store_stop_fn *stop, void *arg, size_t *moved_p,
               char *err)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->msisdn_new, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "clearing the folded number log");
    MDB_val key, val;
    s_entry_t entry;
    while (*moved_p < max) {
        rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST);
        if (rc == 0 && !s_entry (&key, &val, &entry))
            rc = MDB_CORRUPTED;
        if (rc == 0 && entry.id > self->sweep.last_id)
            rc = MDB_NOTFOUND;
        if (rc == MDB_NOTFOUND) {
            s_sweep_reset (self);       //  swept
            rc = 0;
            break;
        }
        if (rc || (rc = mdb_cursor_del (cursor, 0)))
            break;
        numbermap_remove (self->recent, entry.number, entry.wave_seq, entry.id);
        (*moved_p)++;
        if (stop && *moved_p % 16 == 0 && stop (arg))
            break;
    }
    mdb_cursor_close (cursor);
    return rc? store_priv_fail (self, err, rc, "clearing the folded number log"): 0;
}

int
store_numbers_fold (store_t *self, size_t max, bool drain, store_stop_fn *stop, void *arg,
                    size_t *moved_p, char *err)
{
    *moved_p = 0;
    if (!max || !store_numbers_foldable (self, drain))
        return 0;
    store_sweep_t *sweep = &self->sweep;
    if (!sweep->active)
        s_sweep_start (self);
    self->number.valid = false;
    self->dirty = true;
    char msisdn [17];
    while (sweep->pos < sweep->list.count && *moved_p < max) {
        store_sweep_entry_t *entry = &sweep->list.entries [sweep->pos];
        number_unpack (entry->number, msisdn);
        if (s_index_put (self, msisdn, entry->wave_seq, entry->id, err))
            return WOB_ERR_STORE;
        sweep->pos++;
        (*moved_p)++;
        if (stop && *moved_p % 16 == 0 && stop (arg))
            return 0;
    }
    if (sweep->pos < sweep->list.count)
        return 0;
    //  Folded.  Clearing costs less than folding (the entries are in a
    //  row at the front of the log): a step clears more of them.
    return s_sweep_clear (self, *moved_p + max * 4, stop, arg, moved_p, err);
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

static void
s_memo_add (void *arg, uint32_t wave_seq, uint64_t id)
{
    store_number_t *memo = arg;
    s_memo_room (memo, 1);
    memo->values [memo->count++] = (store_number_value_t) { wave_seq, id };
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
    size_t folded = memo->count;
    uint64_t packed;
    if (number_pack (msisdn, &packed))
        numbermap_find (self->recent, packed, s_memo_add, memo);
    if (memo->count > folded) {
        qsort (memo->values, memo->count, sizeof (*memo->values), s_by_wave_then_id);
        //  A value folded by the running sweep is in both parts
        size_t kept = 0;
        for (size_t i = 0; i < memo->count; i++)
            if (!kept || s_by_wave_then_id (&memo->values [kept - 1], &memo->values [i]))
                memo->values [kept++] = memo->values [i];
        memo->count = kept;
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
