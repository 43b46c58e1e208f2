/*  store_private.h - what the store's files (store.c, store_index.c,
    store_tally.c, store_counts.c, store_cache.c) share and nobody else
    sees: the LMDB handles and the key / put helpers.                     */

#ifndef STORE_PRIVATE_H_INCLUDED
#define STORE_PRIVATE_H_INCLUDED

#include "store.h"
#include <lmdb.h>
#include "numbermap.h"

typedef struct _store_cache_t store_cache_t;

//  The number index's log (store_numbers.c): at most RECENT_MAX entries;
//  a sweep folds them once SWEEP_MIN wait (or fewer when idle)
#define STORE_NUMBERS_RECENT_MAX 65536
#define STORE_NUMBERS_SWEEP_MIN 16384

//  One value of the number index
typedef struct {
    uint32_t wave_seq;
    uint64_t id;
} store_number_value_t;

//  The last number read from the number index (store_numbers.c)
typedef struct {
    bool valid;
    char msisdn [32];
    store_number_value_t *values;
    size_t count, cap;
} store_number_t;

//  Log entries to fold, with the number packed (store_numbers.c)
typedef struct {
    uint64_t number;            //  4 bits a character, in index order
    uint64_t id;
    uint32_t wave_seq;
} store_sweep_entry_t;

typedef struct {
    store_sweep_entry_t *entries;
    size_t count, cap;
} store_sweep_list_t;

//  A sweep in progress: the log as it stood, folded in number order, then
//  cleared from the log
typedef struct {
    store_sweep_list_t list;    //  sorted by number
    size_t pos;                 //  entries folded so far
    uint64_t last_id;           //  the sweep holds the log up to this id
    bool active;
} store_sweep_t;

struct _store_t {
    MDB_env *env;               //  the LMDB environment
    MDB_txn *txn;               //  the group's write transaction, or NULL
    bool dirty;                 //  something was written in txn
    bool nosync;                //  commits without fsync (benchmarks)
    MDB_dbi meta, channels, waves, stats, orders, targets, history;
    MDB_dbi msisdn, msisdn_new, wave_ord, queue, timers, leases;
    MDB_dbi suppress, rule_counts, held, routes;
    MDB_dbi tallies, imported;
    uint64_t next_order;        //  next order id to hand out
    uint32_t next_wave;         //  next wave seq to hand out
    uint64_t next_history;      //  next key of the history log (its last + 1)
    bool counters_dirty;        //  next_* changed in this transaction
    char *channel_names [STORE_MAX_CHANNELS];  //  id -> name cache
    char *path;                 //  data directory, for messages
    bool readonly;              //  txn is a read-only one (store_read_begin)
    store_cache_t *cache;       //  orders between lease and outcome
    store_number_t number;      //  the last number read, while valid
    numbermap_t *recent;        //  msisdn_new in memory, by number
    store_sweep_t sweep;        //  folding msisdn_new into msisdn
    store_sweep_list_t unswept; //  the log's entries the sweep does not hold
};

//  Turns an LMDB code into a wob error with a message; returns the code.
int store_priv_fail (store_t *self, char *err, int rc, const char *what);
void store_priv_put_u64 (uint8_t *p, uint64_t v);
uint64_t store_priv_get_u64 (const uint8_t *p);
void store_priv_put_u32 (uint8_t *p, uint32_t v);
uint32_t store_priv_get_u32 (const uint8_t *p);
//  Put / delete in the group transaction (marks it dirty).
int store_priv_put (store_t *self, MDB_dbi dbi, void *k, size_t klen, void *v, size_t vlen,
                    unsigned flags, char *err, const char *what);
int store_priv_del (store_t *self, MDB_dbi dbi, void *k, size_t klen, MDB_val *val,
                    char *err, const char *what);
//  The first key at or after k (klen bytes) that starts with k's first
//  prefix bytes: 0 with *key set (valid until the next write), or
//  WOB_ERR_NOT_FOUND, or a store error.
int store_priv_seek (store_t *self, MDB_dbi dbi, const void *k, size_t klen, size_t prefix,
                     MDB_val *key, char *err, const char *what);
//  Report tallies in their stored form (store_counts.c): put packs one,
//  get unpacks a value read from the tallies database.
int store_counts_put_tally (store_t *self, void *k, size_t klen, const wob_tally_t *tally,
                            char *err);
int store_counts_get_tally (store_t *self, const MDB_val *val, wob_tally_t *tally, char *err);
//  Repacks a wob-store-4 store's raw counts, in the transaction opening it.
int store_counts_upgrade (store_t *self, MDB_txn *txn, char *err);
//  Packs a protobuf message straight into the map (MDB_RESERVE).
int store_priv_put_message (store_t *self, MDB_dbi dbi, void *k, size_t klen,
                            const ProtobufCMessage *msg, char *err, const char *what);
int store_priv_put_message_flags (store_t *self, MDB_dbi dbi, void *k, size_t klen,
                                  const ProtobufCMessage *msg, unsigned flags, char *err,
                                  const char *what);

//  The number index's recent part (store_numbers.c), at most this many
//  entries (measured: 155 bytes of memory each, 5 MB in all); load (re)builds it
//  in memory from the log as txn sees it (open, abort, failed commit).
int store_numbers_load (store_t *self, MDB_txn *txn);
void store_numbers_destroy (store_t *self);

//  Decoded orders kept between lease and outcome (store_cache.c).
#define STORE_CACHE_MAX 16384
store_cache_t *store_cache_new (size_t max);
void store_cache_destroy (store_cache_t **self_p);
//  The cached order with this id, handed over (NULL: not cached).
Wob__Order *store_cache_take (store_cache_t *self, uint64_t id);
//  The record (or the target) of order id was written in this transaction,
//  from order (NULL: not from a whole decoded order): drops any copy.
void store_cache_written (store_cache_t *self, uint64_t id, const Wob__Order *order);
//  Takes *order_p: kept if it is what was last written for its id, else freed.
void store_cache_keep (store_cache_t *self, Wob__Order **order_p);
//  The transaction ended: committed, or not (then nothing kept is trusted).
void store_cache_end (store_cache_t *self, bool committed);
size_t store_cache_size (store_cache_t *self);

#endif
