/*  store_counts.c - the stored form of count arrays: a wave's running
    counts (store_stats_t) and its report tallies (wob_tally_t), and the
    upgrade of stores that kept them raw.

    Why: both are arrays of uint64_t that are mostly zero.  A tally row of
    a grid holds a handful of counts in 488 bytes, a wave's counts a dozen
    in 4,672 bytes (two overflow pages).  Every turn that moves an order
    rewrites the rows it counts under, so their size is pages written and
    fsync'ed per commit: at 220-order waves, raw rows were about a third
    of all bytes the broker wrote.  Stored, an array is its non-zero
    counts only, each as two LEB128 varints: the gap since the previous
    non-zero index, and the count.  A grid's row takes ~12 bytes.

    Format: wob-store-4 kept the raw structs; wob-store-5 keeps this form.
    store_counts_upgrade rewrites a version-4 store in place, inside the
    transaction that opens it.                                           */

#include "store_private.h"

//  Room for an array of n counts: each at most two 10-byte varints.
#define PACKED_MAX(n) ((n) * 20)

//  Packs n counts into out (PACKED_MAX (n) bytes); returns the length.
static size_t
s_pack (const uint64_t *counts, size_t n, uint8_t *out)
{
    size_t len = 0, next = 0;   //  next: the index a gap of 0 means
    for (size_t i = 0; i < n; i++) {
        if (!counts [i])
            continue;
        uint64_t fields [2] = { i - next, counts [i] };
        for (int f = 0; f < 2; f++) {
            uint64_t v = fields [f];
            while (v >= 0x80) {
                out [len++] = (uint8_t) (v | 0x80);
                v >>= 7;
            }
            out [len++] = (uint8_t) v;
        }
        next = i + 1;
    }
    return len;
}

//  Reads one varint from p (up to end); false if truncated or too long.
static bool
s_varint (const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t byte = *(*p)++;
        *v |= (uint64_t) (byte & 0x7F) << shift;
        if (!(byte & 0x80))
            return true;
    }
    return false;
}

//  Unpacks into counts (n of them, zeroed first); false if the bytes are
//  not a packed array of at most n counts.
static bool
s_unpack (const void *data, size_t size, uint64_t *counts, size_t n)
{
    memset (counts, 0, n * sizeof (uint64_t));
    const uint8_t *p = data, *end = p + size;
    size_t next = 0;
    while (p < end) {
        uint64_t gap, count;
        if (!s_varint (&p, end, &gap) || !s_varint (&p, end, &count)
        ||  gap >= n - next || count == 0)
            return false;
        next += gap;
        counts [next++] = count;
    }
    return true;
}

//  Writes n counts under key k in dbi, packed.
static int
s_put (store_t *self, MDB_dbi dbi, void *k, size_t klen, const uint64_t *counts, size_t n,
       char *err, const char *what)
{
    uint8_t packed [PACKED_MAX (sizeof (store_stats_t) / sizeof (uint64_t))];
    assert (n * sizeof (uint64_t) <= sizeof (store_stats_t));
    size_t len = s_pack (counts, n, packed);
    return store_priv_put (self, dbi, k, klen, packed, len, 0, err, what);
}

int
store_counts_put_tally (store_t *self, void *k, size_t klen, const wob_tally_t *tally,
                        char *err)
{
    return s_put (self, self->tallies, k, klen, (const uint64_t *) tally,
                  sizeof (*tally) / sizeof (uint64_t), err, "writing a report tally");
}

int
store_counts_get_tally (store_t *self, const MDB_val *val, wob_tally_t *tally, char *err)
{
    if (s_unpack (val->mv_data, val->mv_size, (uint64_t *) tally,
                  sizeof (*tally) / sizeof (uint64_t)))
        return 0;
    return store_priv_fail (self, err, MDB_CORRUPTED, "reading a report tally");
}

int
store_stats_get (store_t *self, uint32_t wave_seq, store_stats_t *stats, char *err)
{
    uint8_t k [4];
    store_priv_put_u32 (k, wave_seq);
    MDB_val key = { 4, k }, val;
    int rc = mdb_get (self->txn, self->stats, &key, &val);
    memset (stats, 0, sizeof (*stats));
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && !s_unpack (val.mv_data, val.mv_size, (uint64_t *) stats,
                              sizeof (*stats) / sizeof (uint64_t)))
        rc = MDB_CORRUPTED;
    return rc? store_priv_fail (self, err, rc, "reading wave counts"): 0;
}

int
store_stats_put (store_t *self, uint32_t wave_seq, const store_stats_t *stats, char *err)
{
    uint8_t k [4];
    store_priv_put_u32 (k, wave_seq);
    return s_put (self, self->stats, k, 4, (const uint64_t *) stats,
                  sizeof (*stats) / sizeof (uint64_t), err, "writing wave counts");
}

//  Rewrites every value of dbi, raw structs of n counts (shorter ones are
//  a prefix: older layouts grew at the end), in packed form.
static int
s_upgrade_dbi (MDB_txn *txn, MDB_dbi dbi, size_t n, size_t *rows_p)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc)
        return rc;
    uint64_t counts [sizeof (store_stats_t) / sizeof (uint64_t)];
    uint8_t packed [PACKED_MAX (sizeof (counts) / sizeof (uint64_t))];
    assert (n <= sizeof (counts) / sizeof (uint64_t));
    MDB_val key, val;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        memset (counts, 0, sizeof (counts));
        memcpy (counts, val.mv_data, val.mv_size < n * 8? val.mv_size: n * 8);
        //  The key must not point into the page the put rewrites
        uint8_t k [512];
        if (key.mv_size > sizeof (k)) {
            rc = MDB_BAD_VALSIZE;
            break;
        }
        memcpy (k, key.mv_data, key.mv_size);
        key.mv_data = k;
        MDB_val packed_val = { s_pack (counts, n, packed), packed };
        if ((rc = mdb_cursor_put (cursor, &key, &packed_val, MDB_CURRENT)))
            break;
        (*rows_p)++;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}

int
store_counts_upgrade (store_t *self, MDB_txn *txn, char *err)
{
    size_t rows = 0;
    int rc = s_upgrade_dbi (txn, self->stats, sizeof (store_stats_t) / sizeof (uint64_t), &rows);
    if (!rc)
        rc = s_upgrade_dbi (txn, self->tallies, sizeof (wob_tally_t) / sizeof (uint64_t), &rows);
    if (rc)
        return store_priv_fail (self, err, rc, "upgrading the store's counts");
    zsys_info ("store %s: upgraded from wob-store-4, %zu count rows repacked", self->path, rows);
    return 0;
}
