/*  waves.c - the waves in memory: every wave the store holds, by id and
    by seq, with its running counts and rule counts; the open ones (the
    only ones dispatch looks at); and, at the end of each turn, writing
    back the counts and report tallies of the waves that changed in it.

    Why in memory: waves are few (thousands at most) and every order's
    transition counts in its wave, so reading and writing its counts per
    order would cost a record per transition.  Counts change in memory,
    the waves that changed are listed (broker_wave_dirty), and the turn
    writes back only those before its commit (waves_flush).  A rollback
    rebuilds all of it from the store (waves_reset, waves_load).         */

#include "broker.h"

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
}

wave_t *
broker_wave (broker_t *self, const char *wave_id)
{
    return zhashx_lookup (self->waves, wave_id);
}

wave_t *
broker_wave_by_seq (broker_t *self, uint32_t seq)
{
    //  Intake, dispatch and the counts ask for the same wave many times in
    //  a row: remember the last one
    if (self->last_wave && self->last_wave->wave->seq == seq)
        return self->last_wave;
    char key [16];
    snprintf (key, sizeof (key), "%u", seq);
    wave_t *wave = zhashx_lookup (self->waves_by_seq, key);
    if (wave)
        self->last_wave = wave;
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

wave_t *
broker_wave_add (broker_t *self, Wob__Wave *w)
{
    char err [WOB_ERRLEN];
    wave_t *wave = calloc (1, sizeof (wave_t));
    wave->wave = w;
    store_stats_get (self->store, w->seq, &wave->stats, err);
    store_rule_count_each (self->store, w->seq, s_load_count, wave, err);
    //  Assume every queue run may hold orders until a look says otherwise.
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++)
        wave->may_have_queued [c] = true;
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

static int
s_load_wave (void *arg, Wob__Wave *wave)
{
    broker_wave_add ((broker_t *) arg, wave);
    return 0;
}

int
waves_load (broker_t *self, char *err)
{
    return store_wave_each (self->store, s_load_wave, self, err);
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
