/*  tally.c - running tallies for reports by channel, region, worker,
    segment and day, and the outcomes imported after a campaign.

    Why: a supervisor asks "how did Shenzhen do", "how did agent 7 do",
    "what did Tuesday bring" about waves of millions of orders, and the
    answer must not cost a scan of the orders.  So every event that a
    report counts (an order created, entering a state, first contacted, an
    outcome reported, an outcome imported) adds one to a row per dimension
    of its wave, in the same transaction as the event (lifecycle.c calls
    in here).  Rows are cached per wave while a turn runs and written back
    before the commit (tally_flush); a report sums the stored rows of the
    waves asked about (a few thousand at most: one per grid), rolling
    regions up to the level asked for.

    Dimensions and the value an event counts under:
      'c' channel  the order's channel ("" when no plan step routed it)
      'r' region   the target's province/city/district/grid (full path)
      'w' worker   the order's worker when the event happens (none: not
                   counted: rules act before any worker has the order)
      's' segment  the target's segment
      'd' day      the day of the event, broker's local time (YYYY-MM-DD)
    Imported outcomes count under channel, region, worker and segment (not
    day: a control customer has no contact day).                       */

#include "broker.h"
#include "wob_report.h"

//  Rows kept between turns: at most TALLY_CACHE_MAX for one wave, and
//  TALLY_CACHE_TOTAL for all (about 10 MB).  Without the total, every
//  wave kept its rows for as long as it was in memory: small waves of
//  ~250 regions each, 100 a second, grew the heap by 7 MB a second
//  (265 MB after a 15 s run of the latency bench at its max rate).
#define TALLY_CACHE_MAX 4096
#define TALLY_CACHE_TOTAL 16384
//  Orders whose rows are remembered between events (direct-mapped by id):
//  an order's lease and its outcome a moment later count under the same
//  rows, and finding them (a region path built, five string-hashed
//  lookups) was 5% of the broker's time in dispatch.  Ids are handed out
//  in sequence and dispatch leases them roughly so, so the orders in
//  flight rarely share a slot.
#define TALLY_MEMO 4096

//  One cached row.
typedef struct {
    wob_tally_t tally;
    bool dirty;                 //  changed since the last flush
    char key [];                //  dimension byte + value
} tally_row_t;

//  One order's rows, valid while no cache was dropped (epoch) and on the
//  day they count under.
typedef struct {
    uint64_t order_id;          //  0: empty
    uint64_t epoch;             //  broker's tally_epoch when found
    int64_t day_from;           //  the day row's day
    wave_t *wave;
    int n;
    bool has_worker;            //  rows [3] is the worker's
    tally_row_t *rows [5];
} memo_t;

struct _tally_memo_t {
    memo_t slots [TALLY_MEMO];
};

static void
s_row_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  The day of now, local time, computed once per day boundary.
static const char *
s_day (broker_t *self)
{
    if (self->now < self->tally_day_from || self->now >= self->tally_day_to) {
        time_t t = (time_t) (self->now / 1000);
        struct tm tm;
        localtime_r (&t, &tm);
        strftime (self->tally_day, sizeof (self->tally_day), "%Y-%m-%d", &tm);
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_isdst = -1;
        int64_t from = (int64_t) mktime (&tm) * 1000;
        tm.tm_mday++;
        tm.tm_isdst = -1;
        self->tally_day_from = from;
        self->tally_day_to = (int64_t) mktime (&tm) * 1000;
    }
    return self->tally_day;
}

//  "province/city/district/grid" without trailing empty levels.
static void
s_region (const Wob__Target *t, char *out, size_t size)
{
    const char *levels [4] = { t->province, t->city, t->district, t->grid };
    int last = -1;
    for (int i = 0; i < 4; i++)
        if (levels [i] && *levels [i])
            last = i;
    size_t len = 0;
    out [0] = 0;
    for (int i = 0; i <= last; i++) {
        if (i)
            wob_append (out, size, &len, "/");
        wob_append (out, size, &len, levels [i]? levels [i]: "");
    }
}

//  Lists a row as changed in this turn, once.
static void
s_touch (broker_t *self, wave_t *wave, tally_row_t *row)
{
    if (!row->dirty) {
        row->dirty = true;
        zlistx_add_end (wave->tally_dirty, row);
        broker_wave_dirty (self, wave);
    }
}

//  The cached row of (wave, dimension, value), read from the store when
//  not cached.  NULL with err set when the store fails.
static tally_row_t *
s_row (broker_t *self, wave_t *wave, char dimension, const char *value, char *err)
{
    char key [512];
    key [0] = dimension;
    size_t len = 1;
    wob_append (key, sizeof (key), &len, value);
    if (!wave->tallies) {
        wave->tallies = zhashx_new ();
        zhashx_set_destructor (wave->tallies, s_row_destroy);
        wave->tally_dirty = zlistx_new ();
    }
    tally_row_t *row = zhashx_lookup (wave->tallies, key);
    if (!row) {
        row = calloc (1, sizeof (tally_row_t) + strlen (key) + 1);
        strcpy (row->key, key);
        if (store_tally_get (self->store, wave->wave->seq, dimension, value, &row->tally, err)) {
            free (row);
            return NULL;
        }
        zhashx_insert (wave->tallies, key, row);
        self->tally_rows++;
    }
    s_touch (self, wave, row);
    return row;
}

typedef struct {
    char dimension;
    const char *value;
} dim_t;

typedef enum { EVENT_CREATED, EVENT_ENTERED, EVENT_CONTACT, EVENT_OUTCOME } event_t;

static void
s_apply (wob_tally_t *t, event_t event, int slot)
{
    switch (event) {
        case EVENT_CREATED: t->created++;           //  and it enters its state
        /* fallthrough */
        case EVENT_ENTERED: t->entered [slot]++; break;
        case EVENT_CONTACT: t->contacted++; break;
        case EVENT_OUTCOME: t->outcomes [slot]++; break;
    }
}

//  The order's rows in every dimension (day: only when with_day), at most
//  5; -1 after a store failure, which spoils the turn (group_error): the
//  counts must not drift from the orders.  *wave_p (if given): their wave.
static int
s_rows (broker_t *self, Wob__Order *order, bool with_day, tally_row_t **rows, wave_t **wave_p)
{
    wave_t *wave = broker_wave_by_seq (self, order->wave_seq);
    if (wave_p)
        *wave_p = wave;
    if (!wave)
        return 0;
    char region [400] = "";
    const Wob__Target *target = order->target;
    if (target)
        s_region (target, region, sizeof (region));
    dim_t dims [5] = {
        { 'c', order->channel }, { 'r', region },
        { 's', target && target->segment? target->segment: "" }
    };
    int n = 3;
    if (order->worker && *order->worker)
        dims [n++] = (dim_t) { 'w', order->worker };
    if (with_day)
        dims [n++] = (dim_t) { 'd', s_day (self) };
    char err [WOB_ERRLEN];
    for (int i = 0; i < n; i++) {
        rows [i] = s_row (self, wave, dims [i].dimension, dims [i].value, err);
        if (!rows [i]) {
            snprintf (self->group_error, sizeof (self->group_error), "%s", err);
            return -1;
        }
    }
    return n;
}

//  Whether the memo holds the order's rows as they are now: same order,
//  no cache dropped since, same worker, same day.
static bool
s_memo_fits (broker_t *self, memo_t *memo, Wob__Order *order, const char *worker)
{
    if (memo->order_id != order->id || memo->epoch != self->tally_epoch)
        return false;
    s_day (self);
    if (memo->day_from != self->tally_day_from)
        return false;
    if (!*worker)
        return !memo->has_worker;
    return memo->has_worker && streq (memo->rows [3]->key + 1, worker);
}

//  Counts one event of the order in every dimension.  The rows found are
//  remembered for the order's next event (its outcome after its lease,
//  or the second event of one transition); a remembered row is listed as
//  changed again, since a flush may have written it since.
static void
s_event (broker_t *self, Wob__Order *order, event_t event, int slot)
{
    if (slot < 0 || slot >= WOB_REPORT_SLOTS)
        return;
    const char *worker = order->worker && *order->worker? order->worker: "";
    memo_t *memo = &self->tally_memo->slots [order->id % TALLY_MEMO];
    if (s_memo_fits (self, memo, order, worker)) {
        for (int i = 0; i < memo->n; i++)
            s_touch (self, memo->wave, memo->rows [i]);
    }
    else {
        memo->order_id = 0;
        memo->n = s_rows (self, order, true, memo->rows, &memo->wave);
        if (memo->n < 0)
            return;
        memo->order_id = memo->n? order->id: 0;
        memo->epoch = self->tally_epoch;
        memo->day_from = self->tally_day_from;
        memo->has_worker = *worker != 0;
    }
    for (int i = 0; i < memo->n; i++)
        s_apply (&memo->rows [i]->tally, event, slot);
}

void
tally_state (broker_t *self, Wob__Order *order, int from, int to)
{
    s_event (self, order, from? EVENT_ENTERED: EVENT_CREATED, to);
}

void
tally_contact (broker_t *self, Wob__Order *order)
{
    s_event (self, order, EVENT_CONTACT, 0);
}

void
tally_outcome (broker_t *self, Wob__Order *order, int outcome)
{
    s_event (self, order, EVENT_OUTCOME, outcome);
}

//  Writes the rows one wave changed in this turn.
static int
s_flush_wave (broker_t *self, wave_t *wave, char *err)
{
    if (!wave->tally_dirty)
        return 0;
    for (tally_row_t *row = zlistx_first (wave->tally_dirty); row;
         row = zlistx_next (wave->tally_dirty)) {
        if (store_tally_put (self->store, wave->wave->seq, row->key [0], row->key + 1,
                             &row->tally, err))
            return WOB_ERR_STORE;
        row->dirty = false;
    }
    zlistx_purge (wave->tally_dirty);
    //  Everything is stored now: a wave with very many rows (grids, days)
    //  starts its cache again rather than grow it
    if (zhashx_size (wave->tallies) > TALLY_CACHE_MAX) {
        self->tally_rows -= MIN (self->tally_rows, zhashx_size (wave->tallies));
        zhashx_purge (wave->tallies);
        self->tally_epoch++;
    }
    return 0;
}

int
tally_flush (broker_t *self, char *err)
{
    for (wave_t *wave = zlistx_first (self->dirty_waves); wave;
         wave = zlistx_next (self->dirty_waves))
        if (s_flush_wave (self, wave, err))
            return WOB_ERR_STORE;
    //  Everything is stored: over the total, every wave starts again (its
    //  rows are read back as its orders move).  tally_rows only ever
    //  overcounts (waves destroyed with their rows), so this also resets it.
    if (self->tally_rows > TALLY_CACHE_TOTAL) {
        for (wave_t *wave = zhashx_first (self->waves); wave; wave = zhashx_next (self->waves))
            if (wave->tallies)
                zhashx_purge (wave->tallies);
        self->tally_rows = 0;
        self->tally_epoch++;
    }
    return 0;
}

void
tally_wave_destroy (wave_t *wave)
{
    zhashx_destroy (&wave->tallies);
    zlistx_destroy (&wave->tally_dirty);
}

void
tally_forget (broker_t *self)
{
    self->tally_epoch++;
}

int
tally_setup (broker_t *self, char *err)
{
    self->tally_memo = calloc (1, sizeof (tally_memo_t));
    return self->tally_memo? 0: wob_fail (err, WOB_ERR_NOMEM, "out of memory for the tallies");
}

void
tally_teardown (broker_t *self)
{
    free (self->tally_memo);
    self->tally_memo = NULL;
}

void
tally_imported (broker_t *self, Wob__Order *order, int group, int label, int delta)
{
    if (group < 0 || group >= WOB_TALLY_GROUPS || label < 0 || label >= WOB_TALLY_LABELS)
        return;
    tally_row_t *rows [5];
    int n = s_rows (self, order, false, rows, NULL);
    for (int i = 0; i < n; i++) {
        rows [i]->tally.imported_n [group] += (uint64_t) delta;
        rows [i]->tally.imported [group][label] += (uint64_t) delta;
    }
}
