/*  store.h - the broker's durable state in LMDB.

    The only module that includes lmdb.h.  The broker runs one write
    transaction per turn of its loop (group commit): store_begin opens it,
    every handler reads and writes through it, store_commit makes the whole
    group durable before any reply leaves.  All records returned are heap
    copies: they stay valid after the transaction ends.                     */

#ifndef STORE_H_INCLUDED
#define STORE_H_INCLUDED

#include "wob.h"
#include "wob_report.h"

typedef struct _store_t store_t;

#define STORE_MAX_CHANNELS 16   //  channel ids 1..15; 0 is unused

//  Running counts of one wave, kept in the same transaction as its orders.
typedef struct {
    uint64_t by_state [16];                     //  Wob__State -> orders
    uint64_t by_outcome [16];                   //  Wob__Outcome -> reports
    uint64_t by_channel [STORE_MAX_CHANNELS];   //  channel id -> orders
    uint64_t filtered_by_reason [8];            //  reserved
    //  Per channel (index 0: orders no plan step routed)
    uint64_t channel_state [STORE_MAX_CHANNELS][16];    //  orders by state
    uint64_t channel_outcome [STORE_MAX_CHANNELS][16];  //  outcome reports
    uint64_t contacted [STORE_MAX_CHANNELS];            //  orders leased at least once
} store_stats_t;

typedef struct {
    const char *path;           //  data directory (created if missing)
    size_t map_size;            //  LMDB map size in bytes (0 = default)
    bool nosync;                //  benchmarks only: no fsync on commit
} store_config_t;

//  Opens or creates the store.  NULL with err set when the directory is
//  unusable, corrupt or not a wob store.
store_t *store_new (const store_config_t *config, char *err);
void store_destroy (store_t **self_p);

//  --- Transactions -------------------------------------------------------
int store_begin (store_t *self, char *err);
//  Commits (durably) if anything was written; ends the transaction either way.
int store_commit (store_t *self, char *err);
void store_abort (store_t *self);
bool store_dirty (store_t *self);
//  A short read-only transaction (MDB_RDONLY) for readers outside the
//  loop's turns (the HTTP dashboard): only when no transaction is open
//  (else WOB_ERR_STORE).  Every reader (store_order_get, store_msisdn_list,
//  store_history_load ...) works inside it; writes fail.  End it before the
//  next store_begin: records read stay valid (they are heap copies).
int store_read_begin (store_t *self, char *err);
void store_read_end (store_t *self);

//  --- Ids and names ------------------------------------------------------
uint64_t store_next_order_id (store_t *self);           //  takes one
uint32_t store_next_wave_seq (store_t *self);           //  takes one
//  Channel name -> small id, created when create is true.  0 if unknown.
int store_channel_id (store_t *self, const char *name, bool create, uint8_t *id, char *err);
const char *store_channel_name (store_t *self, uint8_t id);

//  --- Orders and history -------------------------------------------------
//  An order with its target (history: store_history_load).
int store_order_get (store_t *self, uint64_t id, Wob__Order **order_p, char *err);
//  Writes what changes of an order (not its target): every transition.
int store_order_put (store_t *self, Wob__Order *order, char *err);
//  Writes the order's target: when it is created, and when a merge adds offers.
int store_target_put (store_t *self, Wob__Order *order, char *err);
//  Takes *order_p, just written, to hand to the next store_order_get of its
//  id without reading it (store_cache.c): for a leased order, whose outcome
//  comes soon.  An order that is not what the store now holds is freed.
void store_order_keep (store_t *self, Wob__Order **order_p);
//  Appends entry to the history log as the order's newest (sets the
//  order's history_last and history_len: store the order after).
int store_history_put (store_t *self, Wob__Order *order, Wob__HistoryEntry *entry,
                       char *err);
//  Fills order->history with all entries (heap; freed with the order).
int store_history_load (store_t *self, Wob__Order *order, char *err);

//  --- Indexes ------------------------------------------------------------
//  Indexes order id of wave wave_seq under its number.  bulk: one of many
//  added at once (a big intake chunk), written straight into the index's
//  B-tree where they share pages; else into its log of recent numbers.
int store_msisdn_add (store_t *self, const char *msisdn, uint32_t wave_seq, uint64_t id,
                      bool bulk, char *err);
//  Order ids of one number, oldest first; *ids_p is malloc'd.
int store_msisdn_list (store_t *self, const char *msisdn, uint64_t **ids_p,
                       size_t *count_p, char *err);
//  Numbers added go to a log first, cheap to write, and are folded into
//  the B-tree by number later, a sweep of the log at a time (store_numbers.c
//  says why).  recent: how many are in the log.  foldable: whether a fold
//  has work: a sweep is running, or enough wait to start one, or (drain)
//  any wait.  fold: one step of the sweep in the open transaction, up to
//  max entries folded or cleared from the log (*moved_p), stopping early
//  once stop (if given, asked every 16) says so.
size_t store_numbers_recent (store_t *self);
bool store_numbers_foldable (store_t *self, bool drain);
typedef bool (store_stop_fn) (void *arg);
int store_numbers_fold (store_t *self, size_t max, bool drain, store_stop_fn *stop, void *arg,
                        size_t *moved_p, char *err);
int store_wave_order_add (store_t *self, uint32_t wave_seq, uint64_t id, char *err);
//  Next order id of a wave after `after` (0 to start); 0 when done.
int store_wave_order_next (store_t *self, uint32_t wave_seq, uint64_t after,
                           uint64_t *id_p, char *err);

//  Ready queue: one ordered run per (channel, route, wave): higher priority
//  first, then lower (older) id.  Route 0 is the channel's shared run; other
//  routes are ownership declarations (store_route_id).
int store_queue_put (store_t *self, uint8_t channel, uint32_t route, uint32_t wave_seq,
                     uint8_t priority, uint64_t id, char *err);
int store_queue_del (store_t *self, uint8_t channel, uint32_t route, uint32_t wave_seq,
                     uint8_t priority, uint64_t id, char *err);
//  Head of the (channel, route, wave) run.  WOB_ERR_NOT_FOUND when empty.
int store_queue_head (store_t *self, uint8_t channel, uint32_t route, uint32_t wave_seq,
                      uint8_t *priority_p, uint64_t *id_p, char *err);
//  Any order of the (channel, route) runs, whatever its wave (the first in
//  key order).  WOB_ERR_NOT_FOUND when there is none.
int store_queue_any (store_t *self, uint8_t channel, uint32_t route, uint32_t *wave_p,
                     uint64_t *id_p, char *err);

//  Held orders (no connected owner), by (channel, kind, key, id): kind 'n'
//  keys are numbers, 'r' region paths, 'w' worker names, so the orders an
//  owner can take are one cursor range.
#define STORE_MAX_HELD_KEY 256
int store_held_put (store_t *self, uint8_t channel, uint8_t kind, const char *text,
                    uint64_t id, char *err);
int store_held_del (store_t *self, uint8_t channel, uint8_t kind, const char *text,
                    uint64_t id, char *err);
//  The first held entry of (channel, kind) at or after (from, after + 1):
//  its key into text (STORE_MAX_HELD_KEY + 1 bytes) and id; *id_p 0 when
//  there is none.
int store_held_next (store_t *self, uint8_t channel, uint8_t kind, const char *from,
                     uint64_t after, char *text, uint64_t *id_p, char *err);

//  Routes: ownership declarations ("1390000-1394999", "广东/深圳") of a
//  channel get a small durable id, so queue keys survive restarts.  0 with
//  create false and no such route.
int store_route_id (store_t *self, uint8_t channel, const char *text, bool create,
                    uint32_t *id_p, char *err);
typedef int (store_route_fn) (void *arg, uint8_t channel, const char *text, uint32_t id);
int store_route_each (store_t *self, store_route_fn *fn, void *arg, char *err);

//  Timers: orders waiting until a time (deferred, retry back-off, callback).
int store_timer_put (store_t *self, int64_t due_ms, uint64_t id, char *err);
int store_timer_del (store_t *self, int64_t due_ms, uint64_t id, char *err);
//  Up to max ids due at or before now; *count_p how many.
int store_timer_due (store_t *self, int64_t now_ms, uint64_t *ids, int64_t *dues,
                     size_t max, size_t *count_p, char *err);

//  Leases: the set of dispatched order ids (details are in the order).
int store_lease_put (store_t *self, uint64_t id, char *err);
int store_lease_del (store_t *self, uint64_t id, char *err);
typedef int (store_id_fn) (void *arg, uint64_t id);
int store_lease_each (store_t *self, store_id_fn *fn, void *arg, char *err);

//  Do-not-disturb list: key (number, channel); "" channel = all channels.
int store_suppress_put (store_t *self, Wob__SuppressEntry *entry, char *err);
//  Removes (number, channel); *removed says whether it existed.
int store_suppress_del (store_t *self, const char *msisdn, const char *channel,
                        bool *removed, char *err);
//  The entry that bars number on channel at now (all-channel entries
//  first), or *entry_p NULL.  Expired entries do not count.
int store_suppress_find (store_t *self, const char *msisdn, const char *channel,
                         int64_t now_ms, Wob__SuppressEntry **entry_p, char *err);
//  Up to limit entries in number order, starting after `after` ("" = from
//  the start) or only those of `msisdn` when given; *count_p entries.
int store_suppress_list (store_t *self, const char *msisdn, const char *after,
                         size_t limit, Wob__SuppressEntry ***entries_p, size_t *count_p,
                         char *err);
uint64_t store_suppress_count (store_t *self);

//  Contacts of number since since_ms, on channel ("" = all), not counting
//  order except_id: the number's orders first leased since then (an
//  order's contacted_ms; its retries are the same contact).
int store_contact_count (store_t *self, const char *msisdn, int64_t since_ms,
                         const char *channel, uint64_t except_id, uint32_t *count_p,
                         char *err);

//  The number's first order in a wave (duplicate filter, imports), or 0:
//  from the number index (store_msisdn_add), no index of its own.
int store_wave_msisdn_get (store_t *self, uint32_t wave_seq, const char *msisdn,
                           uint64_t *id_p, char *err);

//  Per-wave counts by rule name (filtered, deferred, merged by which rule).
int store_rule_count_put (store_t *self, uint32_t wave_seq, const char *rule,
                          uint64_t count, char *err);
typedef int (store_count_fn) (void *arg, const char *rule, uint64_t count);
int store_rule_count_each (store_t *self, uint32_t wave_seq, store_count_fn *fn, void *arg,
                           char *err);

//  --- Waves --------------------------------------------------------------
int store_wave_get (store_t *self, const char *wave_id, Wob__Wave **wave_p, char *err);
int store_wave_put (store_t *self, Wob__Wave *wave, char *err);
typedef int (store_wave_fn) (void *arg, Wob__Wave *wave);   //  fn owns wave
int store_wave_each (store_t *self, store_wave_fn *fn, void *arg, char *err);
int store_stats_get (store_t *self, uint32_t wave_seq, store_stats_t *stats, char *err);
int store_stats_put (store_t *self, uint32_t wave_seq, const store_stats_t *stats, char *err);

//  --- Tallies by dimension (tally.c) -------------------------------------
//  A row of a wave's tallies: dimension is one byte ('c' channel, 'r'
//  region, 'w' worker, 's' segment, 'd' day), value its text.  Absent
//  rows read as zero.
int store_tally_get (store_t *self, uint32_t wave_seq, char dimension, const char *value,
                     wob_tally_t *tally, char *err);
int store_tally_put (store_t *self, uint32_t wave_seq, char dimension, const char *value,
                     const wob_tally_t *tally, char *err);
typedef int (store_tally_fn) (void *arg, const char *value, const wob_tally_t *tally);
//  Calls fn for every row of the wave's dimension, in value order.
int store_tally_each (store_t *self, uint32_t wave_seq, char dimension, store_tally_fn *fn,
                      void *arg, char *err);

//  An imported outcome of one customer of a wave (the last one imported).
typedef struct {
    uint64_t order_id;          //  the order its tallies were counted under
    uint8_t group;              //  WOB_GROUP_*
    uint8_t label;              //  slot in the wave's outcome_labels
} store_imported_t;
//  0, WOB_ERR_NOT_FOUND when the customer has none yet, or an error.
int store_imported_get (store_t *self, uint32_t wave_seq, const char *msisdn,
                        store_imported_t *imported, char *err);
int store_imported_put (store_t *self, uint32_t wave_seq, const char *msisdn,
                        const store_imported_t *imported, char *err);

//  --- Backup -------------------------------------------------------------
//  Writes a consistent, compacted copy of the store into directory path
//  (which must exist and be empty), in its own read transaction: safe from
//  another thread while the broker writes.  *bytes_p the copy's size.
int store_copy (store_t *self, const char *path, uint64_t *bytes_p, char *err);

//  --- Information --------------------------------------------------------
uint64_t store_order_count (store_t *self);
size_t store_size_bytes (store_t *self);

#endif
