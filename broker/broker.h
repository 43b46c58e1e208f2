/*  broker.h - the broker's shared state, seen by its modules only.

    The broker is one actor (broker_actor) with one thread: a loop that reads
    a burst of messages, lets the modules handle them inside one LMDB write
    transaction, runs the timed work (dispatch, timers, lease and worker
    expiry), commits once, and only then sends the replies and leases that
    the group produced (broker_respond / broker_send put them in the outbox).

    Modules and what each owns:
      store.c      LMDB: every durable byte
      lifecycle.c  the one place an order changes state (indexes, history,
                   wave counts)
      plan.c       which channel a target goes to (the wave's channel plan)
      intake.c     submit begin / chunk / commit
      dispatch.c   which queued order goes to which worker
      leases.c     leases: grant, extend, expire, outcome reports
      workers.c    worker sessions: hello, heartbeat, liveness, bye
      query.c      status and workers queries (read only)
      rulebook.c   the rule file: parse, validate, defaults
      rules.c      the coordination rules applied to one order
      coordinate.c merge, absorb, fallback, collaboration across orders
      control.c    pause / resume / cancel, end of a wave's window
      routes.c     who owns which orders: ranges, regions, held orders
      tally.c      running tallies by channel, region, worker, segment, day
      reports.c    reports by dimension, imported outcomes and uplift
      admin.c      do-not-disturb list, rules show / reload, test clock
      http.c       the read-only dashboard and /metrics (libmicrohttpd,
                   served between turns, on the actor's thread)
      metrics.c    counters since start, throughput per minute, commit
                   times, and the Prometheus text of them all          */

#ifndef BROKER_H_INCLUDED
#define BROKER_H_INCLUDED

#include "wob.h"
#include "store.h"
#include "rulebook.h"
#include "leasebatch.h"

#define BROKER_WAVE_STATES (WOB__WAVE_STATE__WAVE_ENDED + 1)
#define BROKER_MAX_CHANNELS STORE_MAX_CHANNELS

//  Token bucket for throttling: refilled at a rate, spent one per lease.
typedef struct {
    double tokens;              //  leases allowed now
    int64_t last_ms;            //  last refill
} bucket_t;

typedef struct {
    char *name;                 //  "sms", "call", "visit", ...
    uint8_t id;                 //  store's channel id
    uint32_t lease_ms;          //  default lease
    uint32_t max_attempts;      //  retryable failures before "failed"
    uint32_t backoff_ms;        //  first retry delay, doubled per attempt
    uint32_t backoff_max_ms;    //  cap on the retry delay
    bool keep_leases;           //  a lost worker keeps its leases (visit)
    bucket_t bucket;            //  channel throttle (rule file)
    struct _worker_t **heap;    //  its workers, least loaded first (dispatch.c)
    size_t n_heap, heap_cap;
} channel_t;

typedef struct {
    char *endpoint;             //  ZeroMQ endpoint to bind
    char *data_dir;             //  LMDB data directory
    size_t map_size;            //  LMDB map size (0 = default 64 GiB)
    bool nosync;                //  benchmarks only
    uint32_t heartbeat_ms;      //  heartbeat interval both ways
    uint32_t worker_timeout_ms; //  silence after which a worker is lost
    uint32_t restart_grace_ms;  //  after start-up, time for workers to come
                                //  back and claim their leases
    size_t max_message;         //  largest frame accepted
    size_t max_chunk_targets;   //  largest submit chunk accepted
    uint64_t max_wave_targets;  //  most targets in one wave (0: no limit)
    uint32_t max_inflight;      //  requests one client may have in flight
                                //  (0: no limit); see s_inflight_over
    uint32_t dispatch_batch;    //  max leases granted per loop turn
    uint32_t lease_ms;          //  lease for all channels (0 = per channel)
    uint32_t max_attempts;      //  attempts per order (0 = 3)
    uint32_t backoff_ms;        //  first retry delay (0 = 30 s)
    char *rules_path;           //  rule file (NULL = built-in defaults)
    bool test_clock;            //  allow ClockSet (tests only)
    const char *keep_leases;    //  channels whose leases outlive sessions
    const char *channel_leases; //  lease length per channel, "visit=3d,call=20m"
    const char *http;           //  dashboard HOST:PORT (port 0: any), NULL = off
    const char *curve_cert;     //  the broker's certificate (CurveZMQ)
    const char *keys_path;      //  clients' public keys with their roles
    bool plain;                 //  no CurveZMQ: asked for explicitly
} broker_config_t;

//  One wave in memory (every wave in use; drained, idle ones retire, waves.c).
typedef struct {
    Wob__Wave *wave;            //  the stored record
    store_stats_t stats;        //  running counts, written back at commit
    bool stats_dirty;           //  stats changed in this group
    bool may_have_queued [BROKER_MAX_CHANNELS];  //  queue run maybe non-empty
    //  Head of the channel's shared run in this wave, while head_known:
    //  dispatch compares the open waves' heads for every pick, and reads
    //  a run again only after lifecycle put an order in or took one out
    bool head_known [BROKER_MAX_CHANNELS];
    uint8_t head_priority [BROKER_MAX_CHANNELS];
    uint64_t head_id [BROKER_MAX_CHANNELS];
    zhashx_t *rule_counts;      //  "filtered/RULE" etc. -> uint64_t *
    bool counts_dirty;          //  rule_counts changed in this group
    zhashx_t *tallies;          //  report rows cached by tally.c
    zlistx_t *tally_dirty;      //  the rows changed in this group
    bool dirty_listed;          //  in the broker's dirty_waves
    int64_t used_ms;            //  last looked up (broker clock): idle drained
                                //  waves leave memory (waves_retire)
} wave_t;

typedef struct _workers_t workers_t;
//  A client key from the keys file.
typedef struct {
    char *name;                 //  unique name, the ZAP user id
    int role;                   //  one AUTH_ role
    char *channel;              //  worker keys: their channel; else ""
} auth_peer_t;

typedef struct _auth_t auth_t;
typedef struct _routes_t routes_t;
typedef struct _backup_t backup_t;
typedef struct _route_t route_t;
typedef struct _worker_t worker_t;
typedef struct _leases_t leases_t;
typedef struct _broker_t broker_t;
typedef struct _http_t http_t;
typedef struct _metrics_t metrics_t;
typedef struct _tally_memo_t tally_memo_t;

struct _broker_t {
    broker_config_t config;     //  settings (owned)
    channel_t channels [BROKER_MAX_CHANNELS];   //  by store channel id
    store_t *store;             //  the LMDB store
    zsock_t *pipe;              //  actor pipe
    zsock_t *router;            //  clients and workers
    int port;                   //  bound port for tcp://...:*
    zhashx_t *waves;            //  wave id -> wave_t
    zhashx_t *waves_by_seq;     //  "seq" -> wave_t (not owned)
    //  Waves out of memory (waves.c): drained, idle, read back when asked for
    zhashx_t *retired;          //  wave id -> retired_t
    zhashx_t *retired_by_seq;   //  seq (id map) -> retired_t (not owned)
    store_stats_t retired_stats;    //  their counts summed, for /metrics
    uint64_t retired_states [BROKER_WAVE_STATES];   //  how many, by wave state
    wave_t *last_wave;          //  broker_wave_by_seq's last answer
    wave_t **open_waves;        //  the waves in state open (broker_open_waves)
    size_t n_open, open_cap;
    bool open_dirty;            //  a wave was added or changed state
    //  Per channel, the open waves whose shared run may hold orders: the
    //  only ones dispatch compares heads of (dispatch.c).  Rebuilt from
    //  the open waves after broker_waves_changed (ready_stale)
    wave_t **ready [BROKER_MAX_CHANNELS];
    size_t n_ready [BROKER_MAX_CHANNELS], ready_cap [BROKER_MAX_CHANNELS];
    bool ready_stale;
    workers_t *workers;         //  live worker sessions
    leases_t *leases;           //  dispatched orders
    routes_t *routes;           //  ownership of ranges and regions
    auth_t *auth;               //  CurveZMQ keys and roles, NULL in plain mode
    backup_t *backup;           //  online backup in progress (backup.c)
    const auth_peer_t *peer;    //  key of the message in hand (NULL: plain)
    zlistx_t *outbox;           //  frames to send after commit
    zlistx_t *dirty_waves;      //  waves with counts or tallies to write back
    zframe_t *sender;           //  routing id of the message in hand
    char sender_key [520];      //  its hex form, a hash key
    uint64_t request_id;        //  request id of the message in hand
    zhashx_t *inflight;         //  sender_key -> requests read this turn
                                //  (uintptr_t), emptied as each turn starts
    uint64_t busy_refused;      //  requests refused as busy, not yet logged
    int64_t busy_logged_ms;     //  when that was last logged
    char busy_peer [80];        //  who sent the first of them (for the log)
    rulebook_t *rules;          //  coordination rules in force
    int64_t rules_loaded_ms;    //  when they were loaded
    int64_t clock_offset;       //  test clock: added to the wall clock
    int64_t now;                //  clock of this loop turn (ms)
    int64_t started;            //  when the broker started (ms)
    uint64_t rng;               //  jitter for back-off
    char group_error [WOB_ERRLEN];  //  why this turn must roll back, or ""
    bool terminated;            //  $TERM received
    int64_t next_tick;          //  next timer / expiry pass
    int64_t turn_start_us;      //  when this turn began
    int64_t turn_deadline_us;   //  this turn stops reading and leasing then
    uint32_t turn_checks;       //  broker_turn_over calls (HTTP polled 1 in 32)
    size_t turn_targets;        //  targets stored in this turn
    int64_t last_message;       //  when a turn last handled one (zclock_mono)
    int64_t fold_after;         //  no idle fold before (zclock_mono): one failed
    tally_memo_t *tally_memo;   //  orders' rows, lease to outcome (tally.c)
    uint64_t tally_epoch;       //  bumped whenever cached rows are dropped
    size_t tally_rows;          //  tally rows cached, all waves (tally.c)
    char tally_day [16];        //  today, for the day tallies (tally.c)
    int64_t tally_day_from, tally_day_to;   //  today's bounds (ms)
    http_t *http;               //  dashboard server, or NULL (http.c)
    metrics_t *metrics;         //  counters for /metrics and /api (metrics.c)
};

//  --- broker.c -----------------------------------------------------------
//  Queues a reply to the sender of the message in hand (sent after commit;
//  replaced by an error if the group fails).  Takes ownership of reply.
void broker_reply (broker_t *self, Wob__Envelope *reply);
//  Wraps body (a message of the envelope's oneof, heap, owned from now on)
//  in an envelope answering the message in hand, and queues it as reply.
void broker_respond (broker_t *self, Wob__Envelope__BodyCase body_case, void *body);
//  A reply to an earlier request (its sender and request id), such as a
//  backup that took a while; error replies likewise.
void broker_answer (broker_t *self, zframe_t *routing, uint64_t request_id,
                    Wob__Envelope__BodyCase body_case, void *body);
void broker_answer_error (broker_t *self, zframe_t *routing, uint64_t request_id, int code,
                          const char *message);
//  The same for a message to a worker (dropped if the group fails).
void broker_send (broker_t *self, zframe_t *routing, Wob__Envelope__BodyCase body_case,
                  void *body);
//  The same for a message packed already (takes *frame_p).
void broker_send_frame (broker_t *self, zframe_t *routing, zframe_t **frame_p);
//  Queues an error reply to the message in hand.
void broker_error (broker_t *self, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
//  --- Waves in memory (waves.c) -----------------------------------------
void waves_setup (broker_t *self);
void waves_teardown (broker_t *self);
//  Forgets every wave; waves_load reads them back, in the open transaction.
void waves_reset (broker_t *self);
int waves_load (broker_t *self, char *err);
//  Writes back what changed in the turn's waves (counts, rule counts,
//  report tallies); none is listed as changed after.
int waves_flush (broker_t *self, char *err);
//  The wave, marked as used now.  A retired wave is read back from the
//  store first (a transaction must be open); when that fails the answer
//  is NULL and the turn is spoilt (group_error), since callers take NULL
//  for "no such wave".  A read-back adds to the maps: never look a wave up
//  inside a walk of self->waves.  A wave_t stays valid until the next tick
//  (waves_retire).
wave_t *broker_wave (broker_t *self, const char *wave_id);
wave_t *broker_wave_by_seq (broker_t *self, uint32_t seq);
//  Adds a wave loaded or created by intake (takes ownership of wave).
//  NULL with err set when its counts cannot be read (wave freed).
wave_t *broker_wave_add (broker_t *self, Wob__Wave *wave, char *err);
//  Takes drained waves that have not been looked up for WAVE_IDLE_MS out
//  of memory, a few per call (the tick): broker_wave and
//  broker_wave_by_seq read such a wave back when it is asked for.
void waves_retire (broker_t *self);
//  Calls fn for every wave of campaign (NULL: all), in memory or not,
//  by seq (newest or oldest first), until fn returns non-zero (returned).
//  A retired wave is read into a copy that lives for the call only: it is
//  not brought back into memory.  fn must not look waves up.
typedef int (waves_fn) (broker_t *self, wave_t *wave, void *arg);
int waves_each (broker_t *self, const char *campaign, bool newest_first, waves_fn *fn, void *arg,
                char *err);
size_t waves_retired_count (broker_t *self);
//  Says the wave's counts, rule counts or report tallies changed in this
//  turn: the turn's end writes back those of such waves only.
void broker_wave_dirty (broker_t *self, wave_t *wave);
//  The open waves (dispatch looks at no others), rebuilt after
//  broker_waves_changed: call it whenever a wave's state changes.
wave_t **broker_open_waves (broker_t *self, size_t *count_p);
void broker_waves_changed (broker_t *self);
//  The wave's count under key ("filtered/duplicate"), created at 0.
uint64_t *broker_wave_count (wave_t *wave, const char *key);
//  ---------------------------------------------------------------------------
channel_t *broker_channel (broker_t *self, const char *name);
//  Comma-separated configured channel names, for error messages.
const char *broker_channel_list (broker_t *self);
uint32_t broker_random (broker_t *self);
//  Counts targets stored in this turn: past TURN_TARGETS it reads no more.
void broker_count_targets (broker_t *self, size_t targets);
//  Someone waits for this turn's end (a query read): end it soon.
void broker_hurry (broker_t *self);
//  True when the turn should stop reading and leasing: its time is up, or
//  a query or an HTTP request waits for its end.
bool broker_turn_over (broker_t *self);

//  Starts the broker as a CZMQ actor.  args is a broker_config_t *.
//  Sends "READY" on the pipe when serving, or an error message and exits.
//  On the pipe: "PORT" -> the bound port number; "$TERM" stops it.
void broker_actor (zsock_t *pipe, void *args);

//  --- lifecycle.c --------------------------------------------------------
//  Stores a new order in state `to` (its first history entry says why).
int lifecycle_create (broker_t *self, Wob__Order *order, Wob__State to,
                      const char *actor, const char *reason, char *err);
//  Moves an order to state `to`: updates its indexes (queue, timers, leases),
//  wave counts and history, and writes it.  Set not_before_ms / worker /
//  lease fields before calling.
int lifecycle_move (broker_t *self, Wob__Order *order, Wob__State to,
                    const char *actor, const char *reason, char *err);
//  Appends a history entry without a state change (lease extended, ...).
int lifecycle_note (broker_t *self, Wob__Order *order, const char *actor,
                    const char *reason, char *err);
//  Counts an order's first contact (its first lease) in the wave's counts.
void lifecycle_count_contact (broker_t *self, Wob__Order *order);
//  Counts an outcome report in the wave's counts.
void lifecycle_count_outcome (broker_t *self, Wob__Order *order, int outcome);
bool lifecycle_is_final (int state);

//  --- plan.c -------------------------------------------------------------
//  Validates a wave's plan against the configured channels.
int plan_check (broker_t *self, Wob__Wave *wave, char *err);
//  Channel for a target (NULL if no step matches); *step_p is the deciding
//  step (for its fallback); *why says which step or why none.
const char *plan_route (broker_t *self, Wob__Wave *wave, Wob__Target *target,
                        const Wob__PlanStep **step_p, char *why, size_t why_size);
//  Sets the order's fallback (channel, attempts, triggers) from its step.
void plan_fallback (const Wob__PlanStep *step, Wob__Order *order);

//  --- rules.c ------------------------------------------------------------
typedef struct {
    Wob__State to;              //  what the rules say the order becomes
    const char *rule;           //  the deciding rule's name, or NULL
    char reason [256];          //  why, for the history
} rules_verdict_t;

//  Rules for a new order (channel already chosen by the plan; "" if none).
int rules_intake (broker_t *self, wave_t *wave, Wob__Order *order,
                  rules_verdict_t *verdict, char *err);
//  Rules for an order moving to its fallback channel: suppression and caps
//  of the new channel, quiet hours.
int rules_transfer (broker_t *self, Wob__Order *order, rules_verdict_t *verdict,
                    char *err);
//  Rules just before a lease: DISPATCHED means go ahead.
int rules_dispatch (broker_t *self, Wob__Order *order, rules_verdict_t *verdict,
                    char *err);
//  1 (and the verdict filled) when the number is on the do-not-disturb list.
int rules_suppressed (broker_t *self, Wob__Order *order, rules_verdict_t *verdict,
                      char *err);
//  Quiet hours / time: QUEUED or DEFERRED (with not_before_ms set).
int rules_timing (broker_t *self, Wob__Order *order, rules_verdict_t *verdict);
//  End of the channel's quiet hours if now is inside them, else 0.
int64_t rules_quiet_until (broker_t *self, const char *channel);
//  Records the first contact of an order (frequency caps count these).
//  Counts a verdict in the wave's counts by rule ("filtered/duplicate",
//  "merged/merge", "control/control", "deferred/quiet_hours").
void rules_count_verdict (broker_t *self, uint32_t wave_seq, rules_verdict_t *verdict);
//  Counts a decision in the wave's counts by rule ("filtered/duplicate").
void rules_count (broker_t *self, uint32_t wave_seq, const char *kind, const char *rule);
//  Applies a verdict to an order: the move, its history and its count.
int rules_apply (broker_t *self, Wob__Order *order, rules_verdict_t *verdict, char *err);

//  --- coordinate.c -------------------------------------------------------
//  True when this outcome moves the order to its wave's fallback channel.
bool coordinate_falls_back (broker_t *self, Wob__Order *order, int outcome);
//  After an outcome was recorded: the fallback order, cancelled siblings,
//  the outcome passed on to the orders merged into this one.
int coordinate_after_outcome (broker_t *self, Wob__Order *order, Wob__OutcomeItem *item,
                              char *err);
//  Merge at intake: folds order into the customer's open order of the same
//  channel (or the channel it is absorbed into).  *hit and the verdict say.
int coordinate_merge (broker_t *self, wave_t *wave, Wob__Order *order,
                      rules_verdict_t *verdict, bool *hit, char *err);
//  After a new order is stored: absorbs the customer's open orders of the
//  channels that this order's channel absorbs.
int coordinate_absorb (broker_t *self, Wob__Order *order, char *err);

//  --- admin.c ------------------------------------------------------------
void admin_suppress_add (broker_t *self, Wob__SuppressAdd *msg);
void admin_suppress_remove (broker_t *self, Wob__SuppressRemove *msg);
void admin_suppress_list (broker_t *self, Wob__SuppressList *msg);
void admin_rules (broker_t *self, Wob__RulesRequest *msg);
void admin_clock (broker_t *self, Wob__ClockSet *msg);
//  (Re)loads the rule file; on failure the rules in force stay.
int admin_load_rules (broker_t *self, char *err);

//  --- intake.c -----------------------------------------------------------
void intake_begin (broker_t *self, Wob__SubmitBegin *msg);
void intake_chunk (broker_t *self, Wob__SubmitChunk *msg);
void intake_commit (broker_t *self, Wob__SubmitCommit *msg);

//  --- control.c ----------------------------------------------------------
//  Pause, resume or cancel a wave.
void control_wave (broker_t *self, Wob__WaveControl *msg);
//  Ends waves whose window closed, and carries on the passes over waves'
//  orders (expire, cancel, history notes), a bounded number per call.
int control_sweep (broker_t *self, char *err);
//  The state an order of this wave takes instead of going back to the
//  queue: EXPIRED (window closed), CANCELLED (wave cancelled) or 0.
int control_closed (broker_t *self, uint32_t wave_seq);

//  --- dispatch.c ---------------------------------------------------------
//  Leases queued orders to workers with credit; bounded per call.
int dispatch_run (broker_t *self, char *err);
//  Moves due deferred / retry orders back to the queue.
int dispatch_timers (broker_t *self, char *err);
//  A worker joins / leaves its channel's heap, or its load changed.
//  An order entered the wave's shared run of channel (lifecycle; resume:
//  every run), or left it (lifecycle): the run's head is read again.
void dispatch_wave_queued (broker_t *self, wave_t *wave, uint8_t channel);
void dispatch_wave_dequeued (wave_t *wave, uint8_t channel);
void dispatch_worker_add (broker_t *self, worker_t *worker);
void dispatch_worker_remove (broker_t *self, worker_t *worker);
void dispatch_worker_changed (broker_t *self, worker_t *worker);

//  --- leases.c -----------------------------------------------------------
leases_t *leases_new (void);
void leases_destroy (leases_t **self_p);
//  Reloads the lease table from the store (start-up and after a failed group).
int leases_load (broker_t *self, char *err);
//  Leases order to worker (order must be queued): durable in this group.
//  Takes ownership of order, also on failure.
int leases_grant (broker_t *self, worker_t *worker, Wob__Order *order, char *err);
uint32_t leases_held_by (leases_t *self, const char *worker_name);
//  Returns every lease of a worker to the queue (reason for the history).
int leases_release_worker (broker_t *self, const char *worker_name,
                           const char *reason, char *err);
//  Drops an order's lease from the table (the order's state is the caller's).
void leases_forget (broker_t *self, Wob__Order *order);
//  Returns a worker's leases except those in keep.
int leases_release_unclaimed (broker_t *self, const char *worker_name,
                              const uint64_t *keep, size_t n_keep,
                              const char *reason, char *err);
//  Returns expired leases to the queue.
int leases_expire (broker_t *self, char *err);
bool leases_holds (leases_t *self, uint64_t order_id, const char *worker_name);
void leases_outcome (broker_t *self, worker_t *worker, Wob__OutcomeReport *msg);
void leases_extend (broker_t *self, worker_t *worker, Wob__ExtendLease *msg);
size_t leases_count (leases_t *self);

//  --- workers.c ----------------------------------------------------------
workers_t *workers_new (void);
void workers_destroy (workers_t **self_p);
//  The session of the message in hand, or NULL (then an error was queued).
worker_t *workers_session (broker_t *self);
//  The session of the message in hand, or NULL without complaint.
worker_t *workers_session_peek (broker_t *self);
void workers_hello (broker_t *self, Wob__Hello *msg);
void workers_bye (broker_t *self, worker_t *worker);
void workers_seen (broker_t *self, worker_t *worker);
//  Drops silent workers (their leases go back) and heartbeats the rest.
int workers_tick (broker_t *self, char *err);
worker_t *workers_by_name (workers_t *self, const char *name);
//  Who is connected (channel only, or "" for all) and the orders held for
//  want of an owner: the answer to a workers query and the dashboard's
//  /api/workers (heap; the caller frees it).
Wob__WorkerList *workers_build (broker_t *self, const char *channel);
void workers_list (broker_t *self, Wob__WorkersQuery *msg);
//  Recomputes outstanding counts from the lease table, drops unsent batches
//  (after a failed group).
void workers_recount (broker_t *self);
//  Queues each worker's batch of new leases (before commit; sent after).
void workers_flush (broker_t *self);
//  A worker got its first lease of the turn: workers_flush sends it.
void workers_pending (broker_t *self, worker_t *worker);
//  The test clock jumped: sessions stay as alive as they were.
void workers_clock_moved (broker_t *self, int64_t delta_ms);
//  routes_attach for every live worker (after the routes were reloaded).
int workers_attach_all (broker_t *self, char *err);

//  What a worker session is; dispatch and leases read it.
struct _worker_t {
    char *name;                 //  stable identity from hello
    uint8_t channel;            //  channel id
    uint32_t capacity;          //  credit
    uint32_t outstanding;       //  orders leased to it now
    uint64_t done;              //  outcomes it reported in this session
    zframe_t *routing;          //  ROUTER identity of its socket
    char *routing_key;          //  hex of routing, hash key
    int64_t connected_ms;       //  hello time
    int64_t last_seen_ms;       //  last message
    char **owns;                //  declared ranges / regions
    size_t n_owns;
    leasebatch_t *batch;        //  leases granted this turn, sent after commit
    bucket_t bucket;            //  per-worker throttle (rule file)
    uint64_t assigned;          //  orders leased to it in this session
    size_t heap_index;          //  position in its channel's heap
    route_t **routes;           //  routes it owns (routes.c)
    size_t n_routes;
    uint64_t stamp;             //  routes_candidates' dedupe mark
};

//  --- owns.c -------------------------------------------------------------
#define ROUTES_MAX_DECL 200     //  bytes in one ownership declaration
#define ROUTES_MAX_DIGITS 18    //  digits in a number range end

//  A parsed ownership declaration.
typedef struct {
    int kind;                   //  'n' number range / prefix, 'r' region, 'w' worker
    size_t len;                 //  'n': digits compared; 'r': bytes
    char lo [ROUTES_MAX_DIGITS + 1];    //  'n': first prefix owned
    char hi [ROUTES_MAX_DIGITS + 1];    //  'n': last prefix owned
} owns_t;

//  Parses "1390000-1394999", "186" or "广东/深圳/南山"; err names what is wrong.
int owns_parse (const char *text, owns_t *decl, char *err);
//  Do two declarations overlap (ranges intersect, or the same region)?
bool owns_overlap (const owns_t *a, const char *a_text, const owns_t *b, const char *b_text);
//  Does a number-range declaration cover this number?
bool owns_covers (const owns_t *decl, const char *number);
//  Width of a range (hi - lo), for "the most specific wins".
uint64_t owns_width (const owns_t *decl);
//  A target's region path, province/city/district/grid up to the first
//  empty level ("" without a province).
void owns_region_path (Wob__Target *target, char *path, size_t size);

//  --- auth.c -------------------------------------------------------------
#define AUTH_CAMPAIGN   1       //  submit waves, control its own, read status
#define AUTH_WORKER     2       //  take and report orders of its channel
#define AUTH_SUPERVISOR 4       //  read only
#define AUTH_ADMIN      8       //  everything

//  Loads the broker's certificate (with its _secret file) and the keys
//  file, binds the ZAP handler.  NULL with err naming the file and line.
auth_t *auth_new (const char *cert_path, const char *keys_path, char *err);
void auth_destroy (auth_t **self_p);
//  Makes router a CurveZMQ server with the broker's key, checked by ZAP.
void auth_apply (auth_t *self, zsock_t *router);
//  The ZAP socket, for the actor's poller; answers one request.
zsock_t *auth_zap (auth_t *self);
void auth_handle_zap (auth_t *self);
const char *auth_public_key (auth_t *self);
//  The key that sent this frame, or NULL.
const auth_peer_t *auth_peer (auth_t *self, zframe_t *frame);
//  0 if the peer's role may send this request; else WOB_ERR_REFUSED and err.
int auth_check (const auth_peer_t *peer, const Wob__Envelope *env, char *err);
const char *auth_role_name (int role);

//  --- verify.c -----------------------------------------------------------
//  Checks a stopped broker's data directory: every wave's counts against
//  its orders, leases against dispatched orders; findings go to out.
//  0 when all is well, else an error (err says how many problems).
int verify_store (const char *data_dir, FILE *out, char *err);

//  --- backup.c -----------------------------------------------------------
//  Starts a copy of the store into msg->path (admin); the reply comes when
//  it is done.
void backup_request (broker_t *self, Wob__BackupRequest *msg);
//  Each turn: answers the requester when the copy has finished.
void backup_poll (broker_t *self);
void backup_destroy (backup_t **self_p);

//  --- routes.c -----------------------------------------------------------

routes_t *routes_new (void);
void routes_destroy (routes_t **self_p);
//  Validates a worker's declarations against the live ones of its channel.
int routes_check (broker_t *self, uint8_t channel, const char *worker_name, char **owns,
                  size_t n_owns, char *err);
//  A worker connected: it owns its routes; held orders it can take are
//  placed again (routes_sweep).
int routes_attach (broker_t *self, worker_t *worker, char *err);
//  A worker left: routes left with no owner have their orders placed again.
void routes_detach (broker_t *self, worker_t *worker);
//  The strategy of a wave's orders in a channel.
rule_strategy_t routes_strategy (broker_t *self, uint32_t wave_seq, const char *channel);
//  Decides where an order entering the queue goes: order->route (0 =
//  shared), or *held with hold_kind / held_key set and why explained.
int routes_place (broker_t *self, Wob__Order *order, uint8_t channel, bool *held,
                  char *why, size_t why_size, char *err);
//  Counts an order entering (+1) or leaving (-1) HELD.
void routes_count_held (broker_t *self, Wob__Order *order, int delta);
uint64_t routes_held (routes_t *self, uint8_t channel, int kind);
//  "no_range_owner", "no_region_owner", "worker_away"
const char *routes_held_reason (int kind);
//  Bounded work of pending sweeps; 1 when more is left.
int routes_sweep (broker_t *self, char *err);
//  Workers of the channel with credit that own routes with queued orders
//  (array valid until the next call).
worker_t **routes_candidates (broker_t *self, uint8_t channel, size_t *count_p);
//  The best queued order on the worker's routes (priority, then age); 0 if none.
int routes_best_head (broker_t *self, worker_t *worker, uint64_t *id_p, char *err);
//  Routes may hold orders again (a wave opened or resumed).
void routes_wake (broker_t *self);
//  Reloads routes and held counts from the store (start-up, failed group).
int routes_load (broker_t *self, char *err);

//  --- query.c ------------------------------------------------------------
void query_status (broker_t *self, Wob__StatusQuery *msg);

//  --- metrics.c ----------------------------------------------------------
//  Counts made during a turn are pending until the turn commits (dropped
//  if it rolls back), so nothing is counted that did not happen.
metrics_t *metrics_new (void);
void metrics_destroy (metrics_t **self_p);
//  A lease was granted to a worker of channel (leases.c).
void metrics_leased (broker_t *self, uint8_t channel);
//  An outcome report was recorded; the order moved to state `to` (leases.c).
void metrics_outcome (broker_t *self, uint8_t channel, int to);
//  A lease ran out and its order went back (leases.c).
void metrics_expired (broker_t *self);
//  End of a turn (broker.c): committed or rolled back; wrote says whether
//  the commit wrote (then commit_s is its duration, for the histogram).
void metrics_turn_end (broker_t *self, bool committed, bool wrote, double commit_s);
//  The Prometheus text exposition of everything (metrics wob_*).
void metrics_prometheus (broker_t *self, FILE *out);
//  Leases granted and orders finished per minute over the last hour, JSON.
void metrics_throughput_json (broker_t *self, FILE *out);

//  --- http.c -------------------------------------------------------------
//  Starts the dashboard on listen ("127.0.0.1:8080", port 0 picks one) in
//  external polling mode: nothing is served until http_run.  NULL with err.
http_t *http_new (broker_t *broker, const char *listen, char *err);
void http_destroy (http_t **self_p);
uint16_t http_port (http_t *self);
//  The descriptor to poll for input (libmicrohttpd's epoll descriptor).
int http_fd (http_t *self);
//  Milliseconds until http_run is due anyway (connection timeouts), at most max_ms.
long http_timeout (http_t *self, long max_ms);
//  Serves what is ready.  Only between turns: handlers read the broker's
//  state and open their own read-only transaction.
void http_run (http_t *self);

//  The page's files, embedded at build time (cmake/embed.cmake).
typedef struct {
    const char *path;           //  URL path, e.g. "/dashboard.js"
    const char *type;           //  Content-Type
    const unsigned char *data;  //  the file's bytes
    size_t size;
} http_asset_t;
extern const http_asset_t http_assets [];
extern const size_t http_assets_count;

//  --- tally.c ------------------------------------------------------------
//  Counts an order's event in its rows of every dimension (lifecycle.c):
//  created (from 0) or entering state `to`, first contact, an outcome.
void tally_state (broker_t *self, Wob__Order *order, int from, int to);
void tally_contact (broker_t *self, Wob__Order *order);
void tally_outcome (broker_t *self, Wob__Order *order, int outcome);
//  Adds delta to an imported outcome (group WOB_GROUP_*, label slot).
void tally_imported (broker_t *self, Wob__Order *order, int group, int label, int delta);
//  Writes the rows changed in this turn (before the commit).
int tally_flush (broker_t *self, char *err);
//  Frees a wave's cached rows.
void tally_wave_destroy (wave_t *wave);
//  Forgets every row remembered for orders (the waves' caches were dropped).
void tally_forget (broker_t *self);
int tally_setup (broker_t *self, char *err);
void tally_teardown (broker_t *self);

//  --- reports.c ----------------------------------------------------------
//  The report a query asks for (*report_p heap), or an error code with err:
//  sums of the stored tallies (flushed: between turns, or after
//  tally_flush), no order read.  reports_query answers the request.
int reports_build (broker_t *self, Wob__ReportQuery *msg, Wob__Report **report_p, char *err);
//  The same over a wave in hand (msg->wave is its id): a listing's copy.
int reports_build_wave (broker_t *self, Wob__ReportQuery *msg, wave_t *wave,
                        Wob__Report **report_p, char *err);
void reports_query (broker_t *self, Wob__ReportQuery *msg);
//  outcome import: later outcomes per customer (validated whole first).
void reports_import (broker_t *self, Wob__OutcomeImport *msg);

#endif
