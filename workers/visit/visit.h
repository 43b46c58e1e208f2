/*  visit.h - the field-visit worker's modules, shared inside workers/visit/.

    wob-visit is a command an account manager runs a few times a day, not a
    daemon: "sync" takes the manager's orders from the broker and keeps them
    on disk, "sheet" prints the day's route, "report" sends the outcomes the
    manager wrote down.  Between runs nobody is connected, and the broker
    keeps the manager's leases (--keep-leases visit) until the next run
    claims them again.
      state.c    the state directory: the orders held (one file per order),
                 the outcomes already reported, the manager and the regions
                 they own; every write is a temp file + rename
      session.c  one short broker session: hello claiming the stored orders,
                 taking new leases into the state, finding what the broker
                 took back, status queries, detach (no goodbye)
      sheet.c    the route sheet, CSV or printable HTML
      report.c   the outcome CSV: validation (all or nothing), reporting,
                 confirmation
      visit.c    options and the three commands                          */

#ifndef WOB_VISIT_H_INCLUDED
#define WOB_VISIT_H_INCLUDED

#include "wob_worker.h"

//  Exit codes (docs/VISIT.md)
#define VISIT_OK         0
#define VISIT_BAD_INPUT  1      //  bad arguments, bad file, local state problem
#define VISIT_BROKER     2      //  broker unreachable or refusing the session

//  --- state.c: the state directory ---------------------------------------

typedef struct _state_t state_t;

//  Opens (with create, makes) the state directory and locks it against a
//  second wob-visit, then loads it.  Leftover temp files of a crashed run
//  are removed; an unreadable order file is skipped with a warning (the
//  broker leases that order again at the next sync).  NULL with err set.
state_t *state_open (const char *dir, bool create, char *err);
//  Unlocks and frees.
void state_destroy (state_t **self_p);

const char *state_dir (state_t *self);
//  Warnings from loading, one per line, or "".
const char *state_warnings (state_t *self);

//  The manager the directory belongs to ("" before the first sync) and
//  the regions they declared at the last sync.
const char *state_manager (state_t *self);
size_t state_owns (state_t *self, const char ***owns_p);
//  Records the manager and the regions (durably).
int state_set_manager (state_t *self, const char *manager, const char **owns, size_t n_owns,
                       char *err);

//  Orders held, and their ids in ascending order (caller frees the array).
size_t state_size (state_t *self);
uint64_t *state_ids (state_t *self, size_t *count);
//  The stored lease of an order, or NULL.  Owned by the state.
Wob__LeaseItem *state_order (state_t *self, uint64_t id);
//  Stores a lease durably (replacing the order's older lease).  Takes
//  ownership of *item_p, also on failure.
int state_put (state_t *self, Wob__LeaseItem **item_p, char *err);
//  Forgets an order (the broker took it back).
int state_drop (state_t *self, uint64_t id, char *err);

//  The outcome this directory reported for an order, with when (epoch
//  ms), or NULL.  Owned by the state.
Wob__OutcomeItem *state_reported (state_t *self, uint64_t id, int64_t *at_ms);
//  Records that item was reported (durably), then forgets the order.
int state_mark_reported (state_t *self, const Wob__OutcomeItem *item, char *err);
//  Forgets reports older than max_age_ms whose order is not held.
size_t state_prune (state_t *self, int64_t max_age_ms);

//  --- session.c: one broker session ---------------------------------------

typedef struct _session_t session_t;

typedef struct {
    const char *endpoint;       //  broker
    const char *name;           //  worker name, "visit:<manager>"
    const char **owns;          //  regions
    size_t n_owns;
    uint32_t capacity;          //  orders held at once, the stored ones included
    int timeout_ms;             //  for the welcome, each query, the acks
    uint32_t heartbeat_ms;      //  0: the worker library's default
} session_config_t;

//  An order the broker no longer leases to this manager.
typedef struct {
    uint64_t id;
    bool reported;              //  because our report reached it (recorded)
    char what [200];            //  "now cancelled, last leased to visit:m1" / "accepted"
} revoked_t;

//  Says hello claiming every order in the state and waits for the
//  welcome.  NULL with err set and *rc VISIT_BROKER (no answer, refused).
session_t *session_open (const session_config_t *config, state_t *state, int *rc, char *err);
//  Leaves without goodbye, after pending reports are acknowledged: the
//  broker keeps the leases for the next run.
void session_detach (session_t **self_p);

//  Takes leases into the state until none has come for quiet_ms, or
//  limit_ms in all (0: only what has arrived already).  Counts orders new
//  to the state in *fresh, and held orders leased again at another
//  attempt (the broker took them back and gave them back) in *renewed
//  (either may be NULL).  With crash_after, kills the process with SIGKILL
//  after storing that many (for tests).
int session_take (session_t *self, int quiet_ms, int limit_ms, long crash_after,
                  size_t *fresh, size_t *renewed, char *err);
//  Finds the claimed orders the broker took back (Welcome.revoked, which
//  the worker library applies without telling which) and drops them from
//  the state; those our report reached become reported.  *revoked_p is an
//  array (caller frees) of *count entries.
int session_reconcile (session_t *self, revoked_t **revoked_p, size_t *count, char *err);
//  Asks the broker for an order (caller frees with wob__order__free_unpacked).
int session_query (session_t *self, uint64_t id, Wob__Order **order_p, char *err);
//  The worker session, for reports.
wob_worker_t *session_worker (session_t *self);
//  Orders claimed in the hello.
size_t session_claimed (session_t *self);

//  --- sheet.c: the route sheet ------------------------------------------

//  Writes the held orders grouped by district and grid, sorted by address,
//  as CSV (with the empty outcome columns report reads back) or HTML.
int sheet_write (state_t *state, const char *format, bool bom, FILE *out, char *err);

//  --- report.c: outcomes -------------------------------------------------

typedef struct {
    const char *path;           //  outcome CSV
    session_config_t session;   //  name, owns from the state
    bool dry_run;               //  validate only
    bool crash;                 //  SIGKILL once the reports are acknowledged,
                                //  before the state notes them (tests)
} report_opts_t;

//  Validates the file against the state, then reports (see docs/VISIT.md).
//  Returns an exit code; prints what it did and every error.
int report_run (state_t *state, report_opts_t *opts);

#endif
