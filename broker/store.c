/*  store.c - wob's durable state in LMDB.

    Why a module of its own: every byte the broker promises to keep goes
    through here, and nothing else in wob includes lmdb.h, so LMDB's codes,
    lifetimes and transaction rules stop at this file.

    Layout (one environment, named databases):
      meta      "magic" = "wob-store-5", "next_order", "next_wave"
      channels  channel name -> 1-byte id
      waves     wave id -> Wave (protobuf)
      stats     wave seq (u32 BE) -> store_stats_t, packed (store_counts.c)
      orders    order id (u64 BE) -> Order (protobuf, without target and history:
                the part that changes, rewritten at every transition)
      targets   order id (u64 BE) -> Target (protobuf: written once; again only
                when a merge adds offers)
      history   log seq (u64 BE) -> HistoryEntry (protobuf) with its order id
                and the seq of the order's previous entry: an append-only log
                in time order; an order's history is the chain back from its
                history_last
      msisdn    number -> wave seq (u32 BE) + order id (u64 BE), dupsort
      msisdn_new  order id (u64 BE) + wave seq (u32 BE) -> number: additions
                not yet folded into msisdn (store_numbers.c)
      wave_ord  wave seq (u32 BE) + order id (u64 BE) -> ""
      queue     channel (u8) + route (u32 BE) + wave seq (u32 BE)
                + 255-priority (u8) + id -> ""
      held      channel (u8) + kind (u8) + key text + NUL + id -> ""
      routes    channel (u8) + declaration text -> route id (u32 BE)
      timers    due ms (u64 BE) + order id (u64 BE) -> ""
      leases    order id (u64 BE) -> ""
      suppress  number + NUL + channel -> SuppressEntry (protobuf)
      rule_counts  wave seq (u32 BE) + rule name -> u64
      tallies   wave seq (u32 BE) + dimension (u8) + value -> wob_tally_t,
                packed (store_counts.c)
      imported  wave seq (u32 BE) + number -> store_imported_t

    Big-endian keys make LMDB's byte order the numeric order, so "head of a
    queue" and "timers due by now" are one cursor positioning each.

    What a transition writes is kept small and close together, because a
    write transaction copies and writes back every page it touches: orders
    leave the queue by priority, not by id, so their records are scattered
    over the orders table; a small record there (no target) and history
    appended at the log's end make a group of leases touch few pages.  The
    frequency caps count contacts from the number index and the orders'
    contacted_ms, so a contact writes nothing of its own.                  */

#include "store_private.h"
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <errno.h>

#define STORE_MAGIC "wob-store-5"
#define STORE_MAGIC_V4 "wob-store-4"   //  raw counts: upgraded on open
#define STORE_MAGIC_PREFIX "wob-store-"



int
store_priv_fail (store_t *self, char *err, int rc, const char *what)
{
    int code = rc == MDB_NOTFOUND? WOB_ERR_NOT_FOUND: WOB_ERR_STORE;
    if (rc == MDB_MAP_FULL)
        return wob_fail (err, code, "store %s is full (map size reached) while %s; "
                         "raise --map-size or free disk space", self->path, what);
    return wob_fail (err, code, "store %s: %s while %s", self->path, mdb_strerror (rc), what);
}

void
store_priv_put_u64 (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p [i] = (uint8_t) v;
        v >>= 8;
    }
}

uint64_t
store_priv_get_u64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p [i];
    return v;
}

uint32_t
store_priv_get_u32 (const uint8_t *p)
{
    return (uint32_t) p [0] << 24 | (uint32_t) p [1] << 16 | (uint32_t) p [2] << 8 | p [3];
}

void
store_priv_put_u32 (uint8_t *p, uint32_t v)
{
    p [0] = (uint8_t) (v >> 24); p [1] = (uint8_t) (v >> 16);
    p [2] = (uint8_t) (v >> 8);  p [3] = (uint8_t) v;
}

static int
s_load_counters (store_t *self, MDB_txn *txn)
{
    MDB_val key = { 10, "next_order" }, val;
    int rc = mdb_get (txn, self->meta, &key, &val);
    self->next_order = rc == 0 && val.mv_size == 8? store_priv_get_u64 (val.mv_data): 1;
    key = (MDB_val) { 9, "next_wave" };
    rc = mdb_get (txn, self->meta, &key, &val);
    self->next_wave = rc == 0 && val.mv_size == 8? (uint32_t) store_priv_get_u64 (val.mv_data): 1;
    //  The history log's next seq follows its last key: no counter to keep
    self->next_history = 1;
    MDB_cursor *cursor;
    if (mdb_cursor_open (txn, self->history, &cursor) == 0) {
        if (mdb_cursor_get (cursor, &key, &val, MDB_LAST) == 0 && key.mv_size == 8)
            self->next_history = store_priv_get_u64 (key.mv_data) + 1;
        mdb_cursor_close (cursor);
    }
    self->counters_dirty = false;
    return 0;
}

static int
s_open_dbs (store_t *self, char *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc)
        return store_priv_fail (self, err, rc, "opening databases");
    struct { const char *name; MDB_dbi *dbi; unsigned flags; } dbs [] = {
        { "meta", &self->meta, 0 }, { "channels", &self->channels, 0 },
        { "waves", &self->waves, 0 }, { "stats", &self->stats, 0 },
        { "orders", &self->orders, 0 }, { "targets", &self->targets, 0 },
        { "history", &self->history, 0 },
        { "msisdn", &self->msisdn, MDB_DUPSORT | MDB_DUPFIXED },
        { "msisdn_new", &self->msisdn_new, 0 },
        { "wave_ord", &self->wave_ord, 0 }, { "queue", &self->queue, 0 },
        { "timers", &self->timers, 0 }, { "leases", &self->leases, 0 },
        { "suppress", &self->suppress, 0 },
        { "rule_counts", &self->rule_counts, 0 },
        { "held", &self->held, 0 }, { "routes", &self->routes, 0 },
        { "tallies", &self->tallies, 0 }, { "imported", &self->imported, 0 }
    };
    //  A store that has data but no magic is someone else's LMDB.
    MDB_dbi main_dbi;
    MDB_stat st;
    bool fresh = false;
    if ((rc = mdb_dbi_open (txn, NULL, 0, &main_dbi)) == 0
    &&  (rc = mdb_stat (txn, main_dbi, &st)) == 0)
        fresh = st.ms_entries == 0;
    if (rc) {
        mdb_txn_abort (txn);
        return store_priv_fail (self, err, rc, "reading the main database");
    }
    bool upgrade = false;
    if (!fresh) {
        MDB_dbi meta;
        MDB_val key = { 5, "magic" }, val;
        if (mdb_dbi_open (txn, "meta", 0, &meta) != 0
        ||  mdb_get (txn, meta, &key, &val) != 0
        ||  val.mv_size < strlen (STORE_MAGIC_PREFIX)
        ||  memcmp (val.mv_data, STORE_MAGIC_PREFIX, strlen (STORE_MAGIC_PREFIX)) != 0) {
            mdb_txn_abort (txn);
            return wob_fail (err, WOB_ERR_STORE, "data directory %s holds an LMDB "
                             "database that is not a wob store (no '%s' marker); "
                             "refusing to touch it", self->path, STORE_MAGIC);
        }
        upgrade = val.mv_size == strlen (STORE_MAGIC_V4)
               && memcmp (val.mv_data, STORE_MAGIC_V4, val.mv_size) == 0;
        if (!upgrade && (val.mv_size != strlen (STORE_MAGIC)
        ||  memcmp (val.mv_data, STORE_MAGIC, val.mv_size) != 0)) {
            char found [33];
            size_t len = val.mv_size < 32? val.mv_size: 32;
            memcpy (found, val.mv_data, len);
            found [len] = 0;
            mdb_txn_abort (txn);
            return wob_fail (err, WOB_ERR_STORE, "data directory %s is a wob store of "
                             "another format ('%s'; this broker reads '%s'); start "
                             "it with the wob version that wrote it", self->path, found,
                             STORE_MAGIC);
        }
    }
    for (size_t i = 0; i < sizeof (dbs) / sizeof (dbs [0]); i++) {
        rc = mdb_dbi_open (txn, dbs [i].name, dbs [i].flags | MDB_CREATE, dbs [i].dbi);
        if (rc) {
            mdb_txn_abort (txn);
            return store_priv_fail (self, err, rc, "opening a database");
        }
    }
    if (upgrade && store_counts_upgrade (self, txn, err)) {
        mdb_txn_abort (txn);
        return WOB_ERR_STORE;
    }
    if (fresh || upgrade) {
        MDB_val key = { 5, "magic" }, val = { strlen (STORE_MAGIC), STORE_MAGIC };
        rc = mdb_put (txn, self->meta, &key, &val, 0);
        if (rc) {
            mdb_txn_abort (txn);
            return store_priv_fail (self, err, rc, "initialising the store");
        }
    }
    s_load_counters (self, txn);
    if ((rc = store_numbers_load (self, txn))) {
        mdb_txn_abort (txn);
        return store_priv_fail (self, err, rc, "reading the number index's recent entries");
    }
    //  Channel names
    MDB_cursor *cursor;
    MDB_val key, val;
    if (mdb_cursor_open (txn, self->channels, &cursor) == 0) {
        for (rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
            uint8_t id = *(uint8_t *) val.mv_data;
            if (id > 0 && id < STORE_MAX_CHANNELS)
                self->channel_names [id] = strndup (key.mv_data, key.mv_size);
        }
        mdb_cursor_close (cursor);
    }
    rc = mdb_txn_commit (txn);
    if (rc)
        return store_priv_fail (self, err, rc, "initialising the store");
    return 0;
}

store_t *
store_new (const store_config_t *config, char *err)
{
    store_t *self = calloc (1, sizeof (store_t));
    if (!self) {
        wob_fail (err, WOB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->path = strdup (config->path);
    self->nosync = config->nosync;
    self->cache = store_cache_new (STORE_CACHE_MAX);
    if (!self->cache) {
        wob_fail (err, WOB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    struct stat st;
    if (stat (config->path, &st) == 0) {
        if (!S_ISDIR (st.st_mode)) {
            wob_fail (err, WOB_ERR_STORE, "data directory %s exists but is not a directory",
                      config->path);
            goto fail;
        }
    }
    else
    if (zsys_dir_create ("%s", config->path) != 0) {
        wob_fail (err, WOB_ERR_STORE, "cannot create data directory %s: %s",
                  config->path, strerror (errno));
        goto fail;
    }
    int rc = mdb_env_create (&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (self->env, 32);
    if (rc == 0)
        rc = mdb_env_set_mapsize (self->env, config->map_size? config->map_size:
                                  (size_t) 64 << 30);
    if (rc == 0)
        rc = mdb_env_open (self->env, config->path,
                           MDB_NOTLS | (config->nosync? MDB_NOSYNC: 0), 0644);
    if (rc) {
        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
            wob_fail (err, WOB_ERR_STORE, "data directory %s: data.mdb is corrupt "
                      "or not an LMDB file (%s)", config->path, mdb_strerror (rc));
        else
            wob_fail (err, WOB_ERR_STORE, "cannot open data directory %s: %s",
                      config->path, mdb_strerror (rc));
        goto fail;
    }
    if (s_open_dbs (self, err))
        goto fail;
    return self;
fail:
    store_destroy (&self);
    return NULL;
}

void
store_destroy (store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    if (self->txn)
        mdb_txn_abort (self->txn);
    if (self->env)
        mdb_env_close (self->env);
    for (int i = 0; i < STORE_MAX_CHANNELS; i++)
        free (self->channel_names [i]);
    store_cache_destroy (&self->cache);
    store_numbers_destroy (self);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
store_begin (store_t *self, char *err)
{
    assert (!self->txn);
    int rc = mdb_txn_begin (self->env, NULL, 0, &self->txn);
    if (rc) {
        self->txn = NULL;
        return store_priv_fail (self, err, rc, "beginning a transaction");
    }
    self->dirty = false;
    self->number.valid = false;
    return 0;
}

static int
s_save_counters (store_t *self, char *err)
{
    uint8_t buf [8];
    store_priv_put_u64 (buf, self->next_order);
    MDB_val key = { 10, "next_order" }, val = { 8, buf };
    int rc = mdb_put (self->txn, self->meta, &key, &val, 0);
    if (rc == 0) {
        store_priv_put_u64 (buf, self->next_wave);
        key = (MDB_val) { 9, "next_wave" };
        rc = mdb_put (self->txn, self->meta, &key, &val, 0);
    }
    return rc? store_priv_fail (self, err, rc, "saving counters"): 0;
}

//  After a transaction that did not commit: what memory mirrors of the
//  store (counters, the number index's recent part) is read back.
static void
s_reload (store_t *self)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        s_load_counters (self, txn);
        rc = store_numbers_load (self, txn);
        mdb_txn_abort (txn);
    }
    if (rc)
        zsys_error ("store %s: reading back after a rollback: %s", self->path,
                    mdb_strerror (rc));
}

int
store_commit (store_t *self, char *err)
{
    assert (self->txn);
    if (!self->dirty) {
        mdb_txn_abort (self->txn);         //  read-only group: nothing to sync
        self->txn = NULL;
        store_cache_end (self->cache, true);
        return 0;
    }
    if (self->counters_dirty && s_save_counters (self, err)) {
        store_abort (self);
        return WOB_ERR_STORE;
    }
    int rc = mdb_txn_commit (self->txn);
    self->txn = NULL;
    self->counters_dirty = false;
    store_cache_end (self->cache, rc == 0);
    if (rc) {
        s_reload (self);
        store_priv_fail (self, err, rc, "committing");
        //  A write that failed on a full disk shows as an I/O error: say so
        struct statvfs fs;
        if (err && statvfs (self->path, &fs) == 0
        &&  (uint64_t) fs.f_bavail * fs.f_frsize < 64ULL << 20) {
            size_t len = strlen (err);
            snprintf (err + len, WOB_ERRLEN - len, " (disk full? %llu KiB free on the data "
                      "directory's file system; nothing of this was recorded, and work "
                      "resumes once there is room)",
                      (unsigned long long) ((uint64_t) fs.f_bavail * fs.f_frsize / 1024));
        }
        return WOB_ERR_STORE;
    }
    return 0;
}

void
store_abort (store_t *self)
{
    if (!self->txn)
        return;
    mdb_txn_abort (self->txn);
    self->txn = NULL;
    self->number.valid = false;
    store_cache_end (self->cache, false);
    s_reload (self);
}

int
store_read_begin (store_t *self, char *err)
{
    if (self->txn)
        return wob_fail (err, WOB_ERR_STORE, "store %s: a transaction is open; read-only "
                         "transactions are for between turns", self->path);
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &self->txn);
    if (rc) {
        self->txn = NULL;
        return store_priv_fail (self, err, rc, "beginning a read-only transaction");
    }
    self->dirty = false;
    self->number.valid = false;
    self->readonly = true;
    return 0;
}

void
store_read_end (store_t *self)
{
    //  Nothing was written (LMDB refuses writes in it): no counters to reload.
    if (self->txn)
        mdb_txn_abort (self->txn);
    self->txn = NULL;
    self->readonly = false;
}

bool
store_dirty (store_t *self)
{
    return self->dirty;
}

uint64_t
store_next_order_id (store_t *self)
{
    self->counters_dirty = true;
    self->dirty = true;
    return self->next_order++;
}

uint32_t
store_next_wave_seq (store_t *self)
{
    self->counters_dirty = true;
    self->dirty = true;
    return self->next_wave++;
}

//  Puts a key/value in the group transaction.
int
store_priv_put (store_t *self, MDB_dbi dbi, void *k, size_t klen, void *v, size_t vlen,
       unsigned flags, char *err, const char *what)
{
    MDB_val key = { klen, k }, val = { vlen, v };
    int rc = mdb_put (self->txn, dbi, &key, &val, flags);
    if (rc)
        return store_priv_fail (self, err, rc, what);
    self->dirty = true;
    return 0;
}

int
store_priv_del (store_t *self, MDB_dbi dbi, void *k, size_t klen, MDB_val *val, char *err,
       const char *what)
{
    MDB_val key = { klen, k };
    int rc = mdb_del (self->txn, dbi, &key, val);
    if (rc && rc != MDB_NOTFOUND)
        return store_priv_fail (self, err, rc, what);
    self->dirty = true;
    return 0;
}

int
store_priv_seek (store_t *self, MDB_dbi dbi, const void *k, size_t klen, size_t prefix,
                 MDB_val *key, char *err, const char *what)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, dbi, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, what);
    MDB_val val;
    *key = (MDB_val) { klen, (void *) k };
    rc = mdb_cursor_get (cursor, key, &val, MDB_SET_RANGE);
    mdb_cursor_close (cursor);
    if (rc == MDB_NOTFOUND
    || (rc == 0 && (key->mv_size < prefix || memcmp (key->mv_data, k, prefix) != 0)))
        return WOB_ERR_NOT_FOUND;
    return rc? store_priv_fail (self, err, rc, what): 0;
}

//  Packs a protobuf message into the transaction with MDB_RESERVE: no copy.
int
store_priv_put_message (store_t *self, MDB_dbi dbi, void *k, size_t klen,
               const ProtobufCMessage *msg, char *err, const char *what)
{
    return store_priv_put_message_flags (self, dbi, k, klen, msg, 0, err, what);
}

int
store_priv_put_message_flags (store_t *self, MDB_dbi dbi, void *k, size_t klen,
                              const ProtobufCMessage *msg, unsigned flags, char *err,
                              const char *what)
{
    MDB_val key = { klen, k }, val = { protobuf_c_message_get_packed_size (msg), NULL };
    int rc = mdb_put (self->txn, dbi, &key, &val, MDB_RESERVE | flags);
    if (rc)
        return store_priv_fail (self, err, rc, what);
    protobuf_c_message_pack (msg, val.mv_data);
    self->dirty = true;
    return 0;
}

int
store_channel_id (store_t *self, const char *name, bool create, uint8_t *id, char *err)
{
    uint8_t known = 0;
    for (uint8_t i = 1; i < STORE_MAX_CHANNELS && !known; i++)
        if (self->channel_names [i] && streq (self->channel_names [i], name))
            known = i;
    *id = known;
    if (known && !create)
        return 0;
    if (!known && !create)
        return wob_fail (err, WOB_ERR_NOT_FOUND, "unknown channel '%s'", name);
    //  Creating: the disk decides, since the cache may hold a name whose
    //  group was rolled back.
    MDB_val key = { strlen (name), (void *) name }, val;
    int rc = mdb_get (self->txn, self->channels, &key, &val);
    if (rc == 0 && val.mv_size == 1) {
        *id = *(uint8_t *) val.mv_data;
        return 0;
    }
    if (rc && rc != MDB_NOTFOUND)
        return store_priv_fail (self, err, rc, "reading channels");
    uint8_t new_id = known;
    for (uint8_t i = 1; i < STORE_MAX_CHANNELS && !new_id; i++)
        if (!self->channel_names [i])
            new_id = i;
    if (!new_id)
        return wob_fail (err, WOB_ERR_INVALID, "too many channels (at most %d)",
                         STORE_MAX_CHANNELS - 1);
    if (store_priv_put (self, self->channels, (void *) name, strlen (name), &new_id, 1, 0, err,
               "adding a channel"))
        return WOB_ERR_STORE;
    //  Cached at once; if this group aborts, the next create writes it again.
    if (!known)
        self->channel_names [new_id] = strdup (name);
    *id = new_id;
    return 0;
}

int
store_route_id (store_t *self, uint8_t channel, const char *text, bool create,
                uint32_t *id_p, char *err)
{
    size_t len = strlen (text);
    uint8_t k [STORE_MAX_HELD_KEY + 1];
    *id_p = 0;
    if (len == 0 || len > STORE_MAX_HELD_KEY)
        return wob_fail (err, WOB_ERR_INVALID, "route '%.32s' must be 1 to %d bytes",
                         text, STORE_MAX_HELD_KEY);
    k [0] = channel;
    memcpy (k + 1, text, len);
    MDB_val key = { len + 1, k }, val;
    int rc = mdb_get (self->txn, self->routes, &key, &val);
    if (rc == 0 && val.mv_size == 4) {
        *id_p = store_priv_get_u32 (val.mv_data);
        return 0;
    }
    if (rc && rc != MDB_NOTFOUND)
        return store_priv_fail (self, err, rc, "reading routes");
    if (!create)
        return 0;
    //  Ids are dense from 1 and never reused: the next is the count + 1.
    MDB_stat st;
    rc = mdb_stat (self->txn, self->routes, &st);
    if (rc)
        return store_priv_fail (self, err, rc, "reading routes");
    uint8_t v [4];
    store_priv_put_u32 (v, (uint32_t) st.ms_entries + 1);
    if (store_priv_put (self, self->routes, k, len + 1, v, 4, MDB_NOOVERWRITE, err,
                        "adding a route"))
        return WOB_ERR_STORE;
    *id_p = (uint32_t) st.ms_entries + 1;
    return 0;
}

int
store_route_each (store_t *self, store_route_fn *fn, void *arg, char *err)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->routes, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "reading routes");
    MDB_val key, val;
    int result = 0;
    char text [STORE_MAX_HELD_KEY + 1];
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST); rc == 0 && !result;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (key.mv_size < 2 || key.mv_size > STORE_MAX_HELD_KEY + 1 || val.mv_size != 4)
            continue;
        memcpy (text, (uint8_t *) key.mv_data + 1, key.mv_size - 1);
        text [key.mv_size - 1] = 0;
        result = fn (arg, *(uint8_t *) key.mv_data, text, store_priv_get_u32 (val.mv_data));
    }
    mdb_cursor_close (cursor);
    return result;
}

const char *
store_channel_name (store_t *self, uint8_t id)
{
    return id < STORE_MAX_CHANNELS && self->channel_names [id]? self->channel_names [id]: "?";
}

//  The order's changing part alone (no target).
static int
s_order_state_get (store_t *self, uint64_t id, Wob__Order **order_p, char *err)
{
    uint8_t k [8];
    store_priv_put_u64 (k, id);
    MDB_val key = { 8, k }, val;
    *order_p = NULL;
    int rc = mdb_get (self->txn, self->orders, &key, &val);
    if (rc == MDB_NOTFOUND)
        return wob_fail (err, WOB_ERR_NOT_FOUND, "order %" PRIu64 " does not exist", id);
    if (rc)
        return store_priv_fail (self, err, rc, "reading an order");
    *order_p = wob__order__unpack (NULL, val.mv_size, val.mv_data);
    if (!*order_p)
        return wob_fail (err, WOB_ERR_STORE, "store %s: order %" PRIu64 " record is corrupt",
                         self->path, id);
    return 0;
}

int
store_order_get (store_t *self, uint64_t id, Wob__Order **order_p, char *err)
{
    //  Leased a moment ago: the decoded order is still at hand (store_cache.c)
    if (self->txn && !self->readonly && (*order_p = store_cache_take (self->cache, id)))
        return 0;
    int rc = s_order_state_get (self, id, order_p, err);
    if (rc)
        return rc;
    uint8_t k [8];
    store_priv_put_u64 (k, id);
    MDB_val key = { 8, k }, val;
    rc = mdb_get (self->txn, self->targets, &key, &val);
    if (rc == 0)
        (*order_p)->target = wob__target__unpack (NULL, val.mv_size, val.mv_data);
    if (rc || !(*order_p)->target) {
        wob__order__free_unpacked (*order_p, NULL);
        *order_p = NULL;
        if (rc && rc != MDB_NOTFOUND)
            return store_priv_fail (self, err, rc, "reading an order's target");
        return wob_fail (err, WOB_ERR_STORE, "store %s: order %" PRIu64 " has no readable "
                         "target record", self->path, id);
    }
    return 0;
}

int
store_contact_count (store_t *self, const char *msisdn, int64_t since_ms, const char *channel,
                     uint64_t except_id, uint32_t *count_p, char *err)
{
    *count_p = 0;
    uint64_t *ids;
    size_t count;
    int rc = store_msisdn_list (self, msisdn, &ids, &count, err);
    for (size_t i = 0; i < count && !rc; i++) {
        Wob__Order *other;
        if (ids [i] == except_id || (rc = s_order_state_get (self, ids [i], &other, err)))
            continue;
        if (other->contacted_ms && other->contacted_ms >= since_ms
        &&  (!*channel || streq (channel, other->channel)))
            (*count_p)++;
        wob__order__free_unpacked (other, NULL);
    }
    free (ids);
    return rc;
}

int
store_order_put (store_t *self, Wob__Order *order, char *err)
{
    uint8_t k [8];
    store_priv_put_u64 (k, order->id);
    //  Target and history live in tables of their own; never store them twice.
    Wob__Target *target = order->target;
    size_t n_history = order->n_history;
    Wob__HistoryEntry **history = order->history;
    order->target = NULL;
    order->n_history = 0;
    order->history = NULL;
    int rc = store_priv_put_message (self, self->orders, k, 8, &order->base, err, "writing an order");
    order->target = target;
    order->n_history = n_history;
    order->history = history;
    store_cache_written (self->cache, order->id, rc == 0 && target? order: NULL);
    return rc;
}

void
store_order_keep (store_t *self, Wob__Order **order_p)
{
    store_cache_keep (self->cache, order_p);
}

int
store_target_put (store_t *self, Wob__Order *order, char *err)
{
    if (!order->target)
        return wob_fail (err, WOB_ERR_INVALID, "order %" PRIu64 " has no target", order->id);
    uint8_t k [8];
    store_priv_put_u64 (k, order->id);
    store_cache_written (self->cache, order->id, NULL);
    return store_priv_put_message (self, self->targets, k, 8, &order->target->base, err,
                                   "writing an order's target");
}

int
store_history_put (store_t *self, Wob__Order *order, Wob__HistoryEntry *entry, char *err)
{
    uint8_t k [8];
    store_priv_put_u64 (k, self->next_history);
    entry->order_id = order->id;
    entry->prev = order->history_last;
    //  The log only grows at its end: MDB_APPEND skips the search
    int rc = store_priv_put_message_flags (self, self->history, k, 8, &entry->base,
                                           MDB_APPEND, err, "writing history");
    if (rc == 0) {
        order->history_last = self->next_history++;
        order->history_len++;
    }
    return rc;
}

int
store_history_load (store_t *self, Wob__Order *order, char *err)
{
    for (size_t i = 0; i < order->n_history; i++)
        wob__history_entry__free_unpacked (order->history [i], NULL);
    free (order->history);
    order->history = NULL;
    order->n_history = 0;
    //  Follow the chain newest to oldest, then turn it round
    size_t cap = order->history_len > 4? order->history_len: 4, count = 0;
    Wob__HistoryEntry **entries = malloc (cap * sizeof (*entries));
    int rc = entries? 0: wob_fail (err, WOB_ERR_NOMEM, "out of memory reading history");
    for (uint64_t seq = order->history_last; seq && !rc; ) {
        uint8_t k [8];
        store_priv_put_u64 (k, seq);
        MDB_val key = { 8, k }, val;
        if ((rc = mdb_get (self->txn, self->history, &key, &val))) {
            rc = store_priv_fail (self, err, rc, "reading history");
            break;
        }
        Wob__HistoryEntry *entry = wob__history_entry__unpack (NULL, val.mv_size, val.mv_data);
        if (!entry || entry->order_id != order->id || entry->prev >= seq) {
            if (entry)
                wob__history_entry__free_unpacked (entry, NULL);
            rc = wob_fail (err, WOB_ERR_STORE, "store %s: history entry %" PRIu64 " of "
                           "order %" PRIu64 " is corrupt", self->path, seq, order->id);
            break;
        }
        if (count == cap) {
            Wob__HistoryEntry **more = realloc (entries, 2 * cap * sizeof (*more));
            if (!more) {
                wob__history_entry__free_unpacked (entry, NULL);
                rc = wob_fail (err, WOB_ERR_NOMEM, "out of memory reading history");
                break;
            }
            entries = more;
            cap *= 2;
        }
        entries [count++] = entry;
        seq = entry->prev;
    }
    if (rc) {
        for (size_t i = 0; i < count; i++)
            wob__history_entry__free_unpacked (entries [i], NULL);
        free (entries);
        return rc;
    }
    for (size_t i = 0; i < count / 2; i++) {
        Wob__HistoryEntry *swap = entries [i];
        entries [i] = entries [count - 1 - i];
        entries [count - 1 - i] = swap;
    }
    order->history = entries;
    order->n_history = count;
    return 0;
}

int
store_wave_get (store_t *self, const char *wave_id, Wob__Wave **wave_p, char *err)
{
    MDB_val key = { strlen (wave_id), (void *) wave_id }, val;
    *wave_p = NULL;
    int rc = mdb_get (self->txn, self->waves, &key, &val);
    if (rc == MDB_NOTFOUND)
        return wob_fail (err, WOB_ERR_NOT_FOUND, "wave '%s' does not exist", wave_id);
    if (rc)
        return store_priv_fail (self, err, rc, "reading a wave");
    *wave_p = wob__wave__unpack (NULL, val.mv_size, val.mv_data);
    if (!*wave_p)
        return wob_fail (err, WOB_ERR_STORE, "store %s: wave '%s' record is corrupt",
                         self->path, wave_id);
    return 0;
}

int
store_wave_put (store_t *self, Wob__Wave *wave, char *err)
{
    return store_priv_put_message (self, self->waves, wave->id, strlen (wave->id), &wave->base, err,
                          "writing a wave");
}

int
store_wave_each (store_t *self, store_wave_fn *fn, void *arg, char *err)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->waves, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "reading waves");
    MDB_val key, val;
    int result = 0;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST); rc == 0 && !result;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        Wob__Wave *wave = wob__wave__unpack (NULL, val.mv_size, val.mv_data);
        if (wave)
            result = fn (arg, wave);
    }
    mdb_cursor_close (cursor);
    return result;
}

int
store_copy (store_t *self, const char *path, uint64_t *bytes_p, char *err)
{
    *bytes_p = 0;
    int rc = mdb_env_copy2 (self->env, path, MDB_CP_COMPACT);
    if (rc)
        return wob_fail (err, WOB_ERR_STORE, "backup to %s: %s", path, mdb_strerror (rc));
    char file [4096];
    snprintf (file, sizeof (file), "%s/data.mdb", path);
    struct stat st;
    if (stat (file, &st) == 0)
        *bytes_p = (uint64_t) st.st_size;
    return 0;
}

uint64_t
store_order_count (store_t *self)
{
    MDB_stat st;
    if (self->txn && mdb_stat (self->txn, self->orders, &st) == 0)
        return st.ms_entries;
    return 0;
}

size_t
store_size_bytes (store_t *self)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info (self->env, &info) || mdb_env_stat (self->env, &st))
        return 0;
    return (info.me_last_pgno + 1) * (size_t) st.ms_psize;
}
