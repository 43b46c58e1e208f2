/*  store_tally.c - the store's side of the report tallies: rows of running
    counts per wave, dimension and value, and the outcomes imported per
    customer.  Rows are read and written whole, in the group's
    transaction: a tally (wob_tally_t) in the packed form of store_counts.c,
    an imported outcome (store_imported_t) as ten fixed bytes.           */

#include "store_private.h"

#define KEY_MAX 500             //  LMDB's default key limit is 511 bytes

//  wave seq (u32 BE) + one byte + text; returns the key length.
static size_t
s_key (uint8_t *k, uint32_t wave_seq, char tag, const char *text)
{
    store_priv_put_u32 (k, wave_seq);
    k [4] = (uint8_t) tag;
    size_t len = strlen (text);
    if (len > KEY_MAX - 5)
        len = KEY_MAX - 5;
    memcpy (k + 5, text, len);
    return 5 + len;
}

int
store_tally_get (store_t *self, uint32_t wave_seq, char dimension, const char *value,
                 wob_tally_t *tally, char *err)
{
    uint8_t k [KEY_MAX];
    MDB_val key = { s_key (k, wave_seq, dimension, value), k }, val;
    memset (tally, 0, sizeof (*tally));
    int rc = mdb_get (self->txn, self->tallies, &key, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_priv_fail (self, err, rc, "reading a report tally");
    return store_counts_get_tally (self, &val, tally, err);
}

int
store_tally_put (store_t *self, uint32_t wave_seq, char dimension, const char *value,
                 const wob_tally_t *tally, char *err)
{
    uint8_t k [KEY_MAX];
    return store_counts_put_tally (self, k, s_key (k, wave_seq, dimension, value), tally, err);
}

int
store_tally_each (store_t *self, uint32_t wave_seq, char dimension, store_tally_fn *fn,
                  void *arg, char *err)
{
    uint8_t k [5];
    s_key (k, wave_seq, dimension, "");
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (self->txn, self->tallies, &cursor);
    if (rc)
        return store_priv_fail (self, err, rc, "reading report tallies");
    MDB_val key = { 5, k }, val;
    int result = 0;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE); rc == 0 && !result;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (key.mv_size < 5 || memcmp (key.mv_data, k, 5) != 0)
            break;
        char value [KEY_MAX];
        memcpy (value, (char *) key.mv_data + 5, key.mv_size - 5);
        value [key.mv_size - 5] = 0;
        wob_tally_t tally;
        result = store_counts_get_tally (self, &val, &tally, err);
        if (!result)
            result = fn (arg, value, &tally);
    }
    mdb_cursor_close (cursor);
    return result;
}

int
store_imported_get (store_t *self, uint32_t wave_seq, const char *msisdn,
                    store_imported_t *imported, char *err)
{
    uint8_t k [KEY_MAX];
    MDB_val key = { s_key (k, wave_seq, 'i', msisdn), k }, val;
    int rc = mdb_get (self->txn, self->imported, &key, &val);
    if (rc == MDB_NOTFOUND)
        return WOB_ERR_NOT_FOUND;
    if (rc || val.mv_size != 10)
        return store_priv_fail (self, err, rc? rc: MDB_CORRUPTED, "reading an imported outcome");
    imported->order_id = store_priv_get_u64 (val.mv_data);
    imported->group = ((uint8_t *) val.mv_data) [8];
    imported->label = ((uint8_t *) val.mv_data) [9];
    return 0;
}

int
store_imported_put (store_t *self, uint32_t wave_seq, const char *msisdn,
                    const store_imported_t *imported, char *err)
{
    uint8_t k [KEY_MAX], v [10];
    store_priv_put_u64 (v, imported->order_id);
    v [8] = imported->group;
    v [9] = imported->label;
    return store_priv_put (self, self->imported, k, s_key (k, wave_seq, 'i', msisdn), v, 10, 0,
                           err, "recording an imported outcome");
}
