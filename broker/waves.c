/*  waves.c - the waves in memory: every wave in use, by id and by seq,
    with its running counts and rule counts; the open ones (the
    only ones dispatch looks at); and, at the end of each turn, writing
    back the counts and report tallies of the waves that changed in it.

    Why in memory: waves are few (thousands at most) and every order's
    transition counts in its wave, so reading and writing its counts per
    order would cost a record per transition.  Counts change in memory,
    the waves that changed are listed (broker_wave_dirty), and the turn
    writes back only those before its commit (waves_flush).  A rollback
    rebuilds all of it from the store (waves_reset, waves_load).

    But not every wave stays: a wave costs some KB in memory (its counts
    alone 4.7 KB), and an operator submits waves for years.  A wave that is
    drained (every order in an end state, no window end or sweep still to
    come) and has not been looked up for WAVE_IDLE_MS is retired: only its
    id, campaign, seq and state stay (retired_t, ~100 bytes), its counts
    are added to the retired totals /metrics reports, and broker_wave and
    broker_wave_by_seq read it back from the store the moment anything
    asks for it (a status query, an imported outcome, a report on it, a
    control command, a resubmission of its id).  Listings and campaign
    reports (waves_each) read a retired wave into a copy instead, one at a
    time: a dashboard polling every wave must not keep them all in memory.
    At start-up, drained waves are retired as they are loaded.          */

#include "broker.h"

#define WAVE_IDLE_MS (10 * 60 * 1000)
#define RETIRE_BUDGET 64        //  waves retired per tick at most

//  What stays of a retired wave.
typedef struct {
    uint32_t seq;
    int state;                  //  Wob__WaveState
    char *campaign;
    char id [];
} retired_t;

static void
s_retired_destroy (void **item_p)
{
    retired_t *retired = *item_p;
    if (retired) {
        free (retired->campaign);
        free (retired);
        *item_p = NULL;
    }
}

static void
s_wave_destroy (void **item_p)
{
    wave_t *wave = *item_p;
    if (wave) {
        wob__wave__free_unpacked (wave->wave, NULL);
        zhashx_destroy (&wave->rule_counts);
        tally_wave_destroy (wave);
        free (wave);
        *item_p = NULL;
    }
}

void
waves_setup (broker_t *self)
{
    self->waves = zhashx_new ();
    zhashx_set_destructor (self->waves, s_wave_destroy);
    self->waves_by_seq = zhashx_new ();
    self->dirty_waves = zlistx_new ();
    self->retired = zhashx_new ();
    zhashx_set_destructor (self->retired, s_retired_destroy);
    self->retired_by_seq = wob_idmap_new (NULL);
}

void
waves_teardown (broker_t *self)
{
    zlistx_destroy (&self->dirty_waves);
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++)
        free (self->ready [c]);
    free (self->open_waves);
    zhashx_destroy (&self->waves_by_seq);
    zhashx_destroy (&self->waves);
    zhashx_destroy (&self->retired_by_seq);
    zhashx_destroy (&self->retired);
}

void
waves_reset (broker_t *self)
{
    self->last_wave = NULL;
    tally_forget (self);        //  the rows go with their waves
    zlistx_purge (self->dirty_waves);
    broker_waves_changed (self);
    zhashx_purge (self->waves_by_seq);
    zhashx_purge (self->waves);
    zhashx_purge (self->retired_by_seq);
    zhashx_purge (self->retired);
    memset (&self->retired_stats, 0, sizeof (self->retired_stats));
    memset (self->retired_states, 0, sizeof (self->retired_states));
}

static wave_t *s_recall (broker_t *self, retired_t *retired);

wave_t *
broker_wave (broker_t *self, const char *wave_id)
{
    wave_t *wave = zhashx_lookup (self->waves, wave_id);
    if (!wave) {
        retired_t *retired = zhashx_lookup (self->retired, wave_id);
        wave = retired? s_recall (self, retired): NULL;
    }
    if (wave)
        wave->used_ms = self->now;
    return wave;
}

wave_t *
broker_wave_by_seq (broker_t *self, uint32_t seq)
{
    //  Intake, dispatch and the counts ask for the same wave many times in
    //  a row: remember the last one
    wave_t *wave = self->last_wave;
    if (!wave || wave->wave->seq != seq) {
        char key [16];
        snprintf (key, sizeof (key), "%u", seq);
        wave = zhashx_lookup (self->waves_by_seq, key);
        if (!wave) {
            retired_t *retired = zhashx_lookup (self->retired_by_seq, WOB_ID_KEY (seq));
            wave = retired? s_recall (self, retired): NULL;
        }
        if (wave)
            self->last_wave = wave;
    }
    if (wave)
        wave->used_ms = self->now;
    return wave;
}

static void
s_free_count (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

uint64_t *
broker_wave_count (wave_t *wave, const char *key)
{
    if (!wave->rule_counts) {
        wave->rule_counts = zhashx_new ();
        zhashx_set_destructor (wave->rule_counts, s_free_count);
    }
    uint64_t *count = zhashx_lookup (wave->rule_counts, key);
    if (!count) {
        count = calloc (1, sizeof (uint64_t));
        zhashx_insert (wave->rule_counts, key, count);
    }
    return count;
}

static int
s_load_count (void *arg, const char *rule, uint64_t count)
{
    *broker_wave_count ((wave_t *) arg, rule) = count;
    return 0;
}

//  A wave with its counts read from the store, in no map yet (takes w).
static wave_t *
s_wave_new (broker_t *self, Wob__Wave *w, char *err)
{
    wave_t *wave = calloc (1, sizeof (wave_t));
    if (!wave) {
        wob__wave__free_unpacked (w, NULL);
        wob_fail (err, WOB_ERR_NOMEM, "out of memory loading wave");
        return NULL;
    }
    wave->wave = w;
    wave->used_ms = self->now;
    if (store_stats_get (self->store, w->seq, &wave->stats, err)
    ||  store_rule_count_each (self->store, w->seq, s_load_count, wave, err)) {
        void *item = wave;
        s_wave_destroy (&item);
        return NULL;
    }
    //  Assume every queue run may hold orders until a look says otherwise.
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++)
        wave->may_have_queued [c] = true;
    return wave;
}

wave_t *
broker_wave_add (broker_t *self, Wob__Wave *w, char *err)
{
    wave_t *wave = s_wave_new (self, w, err);
    if (!wave)
        return NULL;
    zhashx_update (self->waves, w->id, wave);
    broker_waves_changed (self);
    char key [16];
    snprintf (key, sizeof (key), "%u", w->seq);
    zhashx_update (self->waves_by_seq, key, wave);
    return wave;
}

void
broker_waves_changed (broker_t *self)
{
    self->open_dirty = true;
    self->ready_stale = true;
}

wave_t **
broker_open_waves (broker_t *self, size_t *count_p)
{
    if (self->open_dirty) {
        size_t n = 0, size = zhashx_size (self->waves);
        if (size > self->open_cap) {
            self->open_cap = size + 16;
            self->open_waves = realloc (self->open_waves, self->open_cap * sizeof (wave_t *));
        }
        for (wave_t *wave = zhashx_first (self->waves); wave; wave = zhashx_next (self->waves))
            if (wave->wave->state == WOB__WAVE_STATE__WAVE_OPEN)
                self->open_waves [n++] = wave;
        self->n_open = n;
        self->open_dirty = false;
    }
    *count_p = self->n_open;
    return self->open_waves;
}

//  Adds (sign 1) or takes (-1) a wave's counts to or from the retired totals.
static void
s_stats_add (store_stats_t *sum, const store_stats_t *stats, int sign)
{
    uint64_t *to = (uint64_t *) sum;
    const uint64_t *from = (const uint64_t *) stats;
    for (size_t i = 0; i < sizeof (store_stats_t) / sizeof (uint64_t); i++)
        to [i] += sign > 0? from [i]: -from [i];
}

//  Drained: no order can move any more unless someone asks (every order in
//  an end state), and no window end or sweep is still to come.
static bool
s_drained (wave_t *wave)
{
    Wob__Wave *w = wave->wave;
    const uint64_t *n = wave->stats.by_state;
    if (n [WOB__STATE__STATE_RECEIVED] || n [WOB__STATE__STATE_QUEUED]
    ||  n [WOB__STATE__STATE_DEFERRED] || n [WOB__STATE__STATE_DISPATCHED]
    ||  n [WOB__STATE__STATE_RETRY] || n [WOB__STATE__STATE_HELD])
        return false;
    if (w->sweep || wave->dirty_listed || wave->stats_dirty || wave->counts_dirty)
        return false;
    if (w->state == WOB__WAVE_STATE__WAVE_OPEN || w->state == WOB__WAVE_STATE__WAVE_PAUSED)
        return !w->end_ms || w->swept;
    return w->state == WOB__WAVE_STATE__WAVE_CANCELLED || w->state == WOB__WAVE_STATE__WAVE_ENDED;
}

//  Takes the wave out of memory, keeping what finds it again.
static void
s_retire (broker_t *self, wave_t *wave)
{
    Wob__Wave *w = wave->wave;
    size_t len = strlen (w->id);
    retired_t *retired = malloc (sizeof (retired_t) + len + 1);
    char *campaign = strdup (w->campaign);
    if (!retired || !campaign) {
        free (retired);         //  it stays in memory
        free (campaign);
        return;
    }
    retired->seq = w->seq;
    retired->state = w->state;
    retired->campaign = campaign;
    memcpy (retired->id, w->id, len + 1);
    s_stats_add (&self->retired_stats, &wave->stats, 1);
    if (w->state >= 0 && w->state < BROKER_WAVE_STATES)
        self->retired_states [w->state]++;
    //  Its report rows go with it, and any order's memory of them
    if (wave->tallies)
        self->tally_rows -= MIN (self->tally_rows, zhashx_size (wave->tallies));
    tally_forget (self);
    if (self->last_wave == wave)
        self->last_wave = NULL;
    char key [16];
    snprintf (key, sizeof (key), "%u", w->seq);
    zhashx_delete (self->waves_by_seq, key);
    zhashx_delete (self->waves, retired->id);       //  frees wave
    zhashx_insert (self->retired, retired->id, retired);
    zhashx_insert (self->retired_by_seq, WOB_ID_KEY (retired->seq), retired);
    broker_waves_changed (self);
}

//  Reads a retired wave back into memory.  On failure the turn cannot
//  go on as if the wave did not exist: it is spoilt (group_error).
static wave_t *
s_recall (broker_t *self, retired_t *retired)
{
    char err [WOB_ERRLEN];
    Wob__Wave *w;
    wave_t *wave = NULL;
    if (store_wave_get (self->store, retired->id, &w, err) == 0)
        wave = broker_wave_add (self, w, err);
    if (!wave) {
        zsys_error ("reading back wave %s: %s", retired->id, err);
        snprintf (self->group_error, sizeof (self->group_error), "reading back wave %.64s: %.400s",
                  retired->id, err);
        return NULL;
    }
    s_stats_add (&self->retired_stats, &wave->stats, -1);
    if (retired->state >= 0 && retired->state < BROKER_WAVE_STATES)
        self->retired_states [retired->state]--;
    zhashx_delete (self->retired_by_seq, WOB_ID_KEY (retired->seq));
    zhashx_delete (self->retired, wave->wave->id);  //  frees retired
    return wave;
}

void
waves_retire (broker_t *self)
{
    wave_t *chosen [RETIRE_BUDGET];
    size_t n = 0;
    for (wave_t *wave = zhashx_first (self->waves); wave && n < RETIRE_BUDGET;
         wave = zhashx_next (self->waves))
        if (self->now - wave->used_ms >= WAVE_IDLE_MS && s_drained (wave))
            chosen [n++] = wave;
    for (size_t i = 0; i < n; i++) {
        zsys_debug ("wave %s: drained and idle, out of memory", chosen [i]->wave->id);
        s_retire (self, chosen [i]);
    }
}

typedef struct {
    uint32_t seq;
    wave_t *wave;               //  in memory, or
    retired_t *retired;         //  out of it
} ref_t;

static int
s_ref_newest_first (const void *a, const void *b)
{
    uint32_t x = ((const ref_t *) a)->seq, y = ((const ref_t *) b)->seq;
    return x < y? 1: x > y? -1: 0;
}

int
waves_each (broker_t *self, const char *campaign, bool newest_first, waves_fn *fn, void *arg,
            char *err)
{
    size_t n = 0;
    ref_t *refs = malloc ((zhashx_size (self->waves) + zhashx_size (self->retired) + 1)
                          * sizeof (ref_t));
    if (!refs)
        return wob_fail (err, WOB_ERR_NOMEM, "out of memory listing waves");
    for (wave_t *wave = zhashx_first (self->waves); wave; wave = zhashx_next (self->waves))
        if (!campaign || streq (wave->wave->campaign, campaign))
            refs [n++] = (ref_t) { wave->wave->seq, wave, NULL };
    for (retired_t *retired = zhashx_first (self->retired); retired;
         retired = zhashx_next (self->retired))
        if (!campaign || streq (retired->campaign, campaign))
            refs [n++] = (ref_t) { retired->seq, NULL, retired };
    qsort (refs, n, sizeof (ref_t), s_ref_newest_first);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        ref_t *ref = &refs [newest_first? i: n - 1 - i];
        if (ref->wave) {
            rc = fn (self, ref->wave, arg);
            continue;
        }
        //  A copy, one at a time: a listing is not a use
        Wob__Wave *w;
        wave_t *copy = NULL;
        if (store_wave_get (self->store, ref->retired->id, &w, err) == 0)
            copy = s_wave_new (self, w, err);
        if (!copy) {
            rc = WOB_ERR_STORE;
            break;
        }
        rc = fn (self, copy, arg);
        void *item = copy;
        s_wave_destroy (&item);
    }
    free (refs);
    return rc;
}

size_t
waves_retired_count (broker_t *self)
{
    return zhashx_size (self->retired);
}

typedef struct {
    broker_t *broker;
    char *err;
} load_t;

static int
s_load_wave (void *arg, Wob__Wave *w)
{
    load_t *load = arg;
    wave_t *wave = broker_wave_add (load->broker, w, load->err);
    if (!wave)
        return WOB_ERR_STORE;
    if (s_drained (wave))      //  at start-up: no need to wait for idleness
        s_retire (load->broker, wave);
    return 0;
}

int
waves_load (broker_t *self, char *err)
{
    load_t load = { self, err };
    return store_wave_each (self->store, s_load_wave, &load, err);
}

void
broker_wave_dirty (broker_t *self, wave_t *wave)
{
    if (!wave->dirty_listed) {
        wave->dirty_listed = true;
        zlistx_add_end (self->dirty_waves, wave);
    }
}

//  Writes back the counts of the waves that changed.
static int
s_flush_stats (broker_t *self, char *err)
{
    for (wave_t *wave = zlistx_first (self->dirty_waves); wave;
         wave = zlistx_next (self->dirty_waves)) {
        if (wave->stats_dirty) {
            if (store_stats_put (self->store, wave->wave->seq, &wave->stats, err))
                return WOB_ERR_STORE;
            wave->stats_dirty = false;
        }
        if (wave->counts_dirty) {
            for (uint64_t *count = zhashx_first (wave->rule_counts); count;
                 count = zhashx_next (wave->rule_counts))
                if (store_rule_count_put (self->store, wave->wave->seq,
                                          zhashx_cursor (wave->rule_counts), *count, err))
                    return WOB_ERR_STORE;
            wave->counts_dirty = false;
        }
    }
    return 0;
}

int
waves_flush (broker_t *self, char *err)
{
    int rc = s_flush_stats (self, err);
    if (!rc)
        rc = tally_flush (self, err);
    if (!rc) {
        for (wave_t *wave = zlistx_first (self->dirty_waves); wave;
             wave = zlistx_next (self->dirty_waves))
            wave->dirty_listed = false;
        zlistx_purge (self->dirty_waves);
    }
    return rc;
}
