/*  metrics.c - what the dashboard and Prometheus read besides the wave
    counts: counters since the broker started, leases granted and orders
    finished per minute over the last hour, and how long commits take.

    Why a module of its own: these numbers are counted where things happen
    (leases.c calls metrics_leased, metrics_outcome, metrics_expired, one
    line each) but are only true once the turn commits.  So counts go to a
    pending set first; broker.c ends every turn with metrics_turn_end,
    which adds them to the totals and to the current minute's bucket when
    the turn committed, and drops them when it rolled back.

    Everything here is O(channels) or O(60): /metrics and /api/throughput
    never touch the store, so they cost the same with a million orders
    stored as with ten.  Gauges of orders by state come from the waves'
    running counts (wave_t.stats), the same counts as `wobctl status` and
    `wobctl report`; counters since start live here and start at 0 when
    the broker starts (Prometheus' rate() handles the reset).            */

#include "broker.h"

#define S_MINUTES 60            //  throughput buckets: the last hour
#define S_MINUTE_MS 60000

//  Upper bounds of the commit-time histogram's buckets, in seconds.
static const double s_bounds [] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1
};
#define S_BOUNDS (sizeof (s_bounds) / sizeof (s_bounds [0]))

//  Counts that one turn adds.
typedef struct {
    uint64_t leased [BROKER_MAX_CHANNELS];      //  leases granted, by channel id
    uint64_t finished [BROKER_MAX_CHANNELS];    //  orders finished by an outcome
    uint64_t outcomes [BROKER_MAX_CHANNELS];    //  outcome reports recorded
    uint64_t expired;                           //  leases that ran out
} counts_t;

//  One minute of throughput.
typedef struct {
    int64_t minute;             //  epoch minute (ms / 60000); 0 = never used
    uint64_t dispatched;        //  leases granted in it
    uint64_t finished;          //  orders finished in it
} minute_t;

struct _metrics_t {
    counts_t pending;           //  this turn's, until it commits
    counts_t total;             //  since the broker started
    minute_t minutes [S_MINUTES];       //  ring, indexed by minute % 60
    uint64_t commit_buckets [S_BOUNDS]; //  commits per bucket (not cumulative)
    uint64_t commit_count;      //  commits that wrote
    double commit_sum;          //  their total seconds
    uint64_t rollbacks;         //  turns rolled back
};

metrics_t *
metrics_new (void)
{
    return calloc (1, sizeof (metrics_t));
}

void
metrics_destroy (metrics_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

void
metrics_leased (broker_t *self, uint8_t channel)
{
    if (self->metrics && channel < BROKER_MAX_CHANNELS)
        self->metrics->pending.leased [channel]++;
}

void
metrics_outcome (broker_t *self, uint8_t channel, int to)
{
    if (!self->metrics || channel >= BROKER_MAX_CHANNELS)
        return;
    self->metrics->pending.outcomes [channel]++;
    if (lifecycle_is_final (to))
        self->metrics->pending.finished [channel]++;
}

void
metrics_expired (broker_t *self)
{
    if (self->metrics)
        self->metrics->pending.expired++;
}

//  The ring's bucket for an epoch minute, emptied if it held an older one.
static minute_t *
s_minute (metrics_t *self, int64_t minute)
{
    minute_t *bucket = &self->minutes [((minute % S_MINUTES) + S_MINUTES) % S_MINUTES];
    if (bucket->minute != minute) {
        bucket->minute = minute;
        bucket->dispatched = bucket->finished = 0;
    }
    return bucket;
}

void
metrics_turn_end (broker_t *self, bool committed, bool wrote, double commit_s)
{
    metrics_t *m = self->metrics;
    if (!m)
        return;
    if (!committed) {
        m->rollbacks++;
        memset (&m->pending, 0, sizeof (m->pending));
        return;
    }
    uint64_t leased = 0, finished = 0;
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++) {
        m->total.leased [c] += m->pending.leased [c];
        m->total.finished [c] += m->pending.finished [c];
        m->total.outcomes [c] += m->pending.outcomes [c];
        leased += m->pending.leased [c];
        finished += m->pending.finished [c];
    }
    m->total.expired += m->pending.expired;
    if (leased || finished) {
        minute_t *bucket = s_minute (m, self->now / S_MINUTE_MS);
        bucket->dispatched += leased;
        bucket->finished += finished;
    }
    memset (&m->pending, 0, sizeof (m->pending));
    if (wrote) {
        size_t b = 0;
        while (b < S_BOUNDS && commit_s > s_bounds [b])
            b++;
        if (b < S_BOUNDS)
            m->commit_buckets [b]++;
        m->commit_count++;
        m->commit_sum += commit_s;
    }
}

void
metrics_throughput_json (broker_t *self, FILE *out)
{
    metrics_t *m = self->metrics;
    int64_t now_minute = self->now / S_MINUTE_MS;
    fprintf (out, "{\"now_ms\": %" PRId64 ", \"bucket_ms\": %d, \"minutes\": [",
             self->now, S_MINUTE_MS);
    for (int64_t minute = now_minute - S_MINUTES + 1; minute <= now_minute; minute++) {
        const minute_t *bucket = &m->minutes [((minute % S_MINUTES) + S_MINUTES) % S_MINUTES];
        bool live = bucket->minute == minute;
        fprintf (out, "%s{\"start_ms\": %" PRId64 ", \"dispatched\": %" PRIu64
                 ", \"finished\": %" PRIu64 "}", minute > now_minute - S_MINUTES + 1? ", ": "",
                 minute * S_MINUTE_MS, live? bucket->dispatched: 0, live? bucket->finished: 0);
    }
    uint64_t leased = 0, finished = 0;
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++) {
        leased += m->total.leased [c];
        finished += m->total.finished [c];
    }
    fprintf (out, "], \"dispatched_total\": %" PRIu64 ", \"finished_total\": %" PRIu64 "}",
             leased, finished);
}

//  --- Prometheus text format --------------------------------------------------

//  A label value: backslash, double quote and line feed escaped.
static void
s_label (FILE *out, const char *value)
{
    fputc ('"', out);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            fputc ('\\', out);
        if (*p == '\n')
            fputs ("\\n", out);
        else
            fputc (*p, out);
    }
    fputc ('"', out);
}

static void
s_family (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  A channel's label value: its name, "none" for orders no plan step routed.
static const char *
s_channel (broker_t *self, int c)
{
    return c == 0? "none": self->channels [c].name? self->channels [c].name:
                   store_channel_name (self->store, (uint8_t) c);
}

void
metrics_prometheus (broker_t *self, FILE *out)
{
    metrics_t *m = self->metrics;
    //  Orders and outcomes, summed over the waves' running counts.
    uint64_t states [BROKER_MAX_CHANNELS][16] = { { 0 } };
    uint64_t outcomes [BROKER_MAX_CHANNELS][16] = { { 0 } };
    uint64_t waves [BROKER_WAVE_STATES] = { 0 };
    //  Waves out of memory count with what they held when they left
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++)
        for (int s = 0; s < 16; s++) {
            states [c][s] = self->retired_stats.channel_state [c][s];
            outcomes [c][s] = self->retired_stats.channel_outcome [c][s];
        }
    memcpy (waves, self->retired_states, sizeof (waves));
    for (wave_t *wave = zhashx_first (self->waves); wave; wave = zhashx_next (self->waves)) {
        for (int c = 0; c < BROKER_MAX_CHANNELS; c++)
            for (int s = 0; s < 16; s++) {
                states [c][s] += wave->stats.channel_state [c][s];
                outcomes [c][s] += wave->stats.channel_outcome [c][s];
            }
        if (wave->wave->state >= 0 && wave->wave->state < BROKER_WAVE_STATES)
            waves [wave->wave->state]++;
    }
    s_family (out, "wob_orders", "gauge", "Orders by state and channel, summed over all "
              "waves (the waves' running counts).");
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++) {
        bool any = self->channels [c].name != NULL;
        for (int s = 1; s <= WOB__STATE__STATE_CONTROL && !any; s++)
            any = states [c][s] > 0;
        for (int s = 1; any && s <= WOB__STATE__STATE_CONTROL; s++) {
            fprintf (out, "wob_orders{state=\"%s\",channel=", wob_state_name (s));
            s_label (out, s_channel (self, c));
            fprintf (out, "} %" PRIu64 "\n", states [c][s]);
        }
    }
    s_family (out, "wob_outcomes_total", "counter", "Outcome reports recorded, by outcome "
              "and channel (the waves' running counts: kept across restarts).");
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++) {
        if (!self->channels [c].name)
            continue;
        for (int o = 1; o <= WOB__OUTCOME__OUTCOME_UNDELIVERED; o++) {
            fprintf (out, "wob_outcomes_total{outcome=\"%s\",channel=", wob_outcome_name (o));
            s_label (out, s_channel (self, c));
            fprintf (out, "} %" PRIu64 "\n", outcomes [c][o]);
        }
    }
    s_family (out, "wob_leases_granted_total", "counter", "Leases granted to workers since "
              "the broker started, by channel.");
    for (int c = 1; c < BROKER_MAX_CHANNELS; c++)
        if (self->channels [c].name) {
            fprintf (out, "wob_leases_granted_total{channel=");
            s_label (out, s_channel (self, c));
            fprintf (out, "} %" PRIu64 "\n", m->total.leased [c]);
        }
    s_family (out, "wob_orders_finished_total", "counter", "Outcome reports that finished "
              "their order (done, failed, transferred, expired, cancelled) since the broker "
              "started, by channel.");
    for (int c = 1; c < BROKER_MAX_CHANNELS; c++)
        if (self->channels [c].name) {
            fprintf (out, "wob_orders_finished_total{channel=");
            s_label (out, s_channel (self, c));
            fprintf (out, "} %" PRIu64 "\n", m->total.finished [c]);
        }
    s_family (out, "wob_lease_expiries_total", "counter", "Leases that ran out before an "
              "outcome (the order went back to the queue) since the broker started.");
    fprintf (out, "wob_lease_expiries_total %" PRIu64 "\n", m->total.expired);
    s_family (out, "wob_leases", "gauge", "Orders leased to workers now.");
    fprintf (out, "wob_leases %zu\n", leases_count (self->leases));
    s_family (out, "wob_held_orders", "gauge", "Orders held for want of a connected owner, "
              "by channel and reason.");
    for (uint8_t c = 1; c < BROKER_MAX_CHANNELS; c++)
        for (int k = 0; k < 3 && self->channels [c].name; k++) {
            fprintf (out, "wob_held_orders{channel=");
            s_label (out, s_channel (self, c));
            fprintf (out, ",reason=\"%s\"} %" PRIu64 "\n", routes_held_reason ("nrw" [k]),
                     routes_held (self->routes, c, "nrw" [k]));
        }
    s_family (out, "wob_workers", "gauge", "Connected worker sessions, by channel.");
    for (int c = 1; c < BROKER_MAX_CHANNELS; c++)
        if (self->channels [c].name) {
            fprintf (out, "wob_workers{channel=");
            s_label (out, s_channel (self, c));
            fprintf (out, "} %zu\n", self->channels [c].n_heap);
        }
    s_family (out, "wob_waves", "gauge", "Waves by state.");
    for (int s = WOB__WAVE_STATE__WAVE_LOADING; s <= WOB__WAVE_STATE__WAVE_ENDED; s++)
        fprintf (out, "wob_waves{state=\"%s\"} %" PRIu64 "\n", wob_wave_state_name (s), waves [s]);
    s_family (out, "wob_waves_in_memory", "gauge", "Waves held in memory; the others are "
              "drained and idle, read back from the store when asked for.");
    fprintf (out, "wob_waves_in_memory %zu\n", zhashx_size (self->waves));
    s_family (out, "wob_store_size_bytes", "gauge", "Bytes of the LMDB data file in use.");
    fprintf (out, "wob_store_size_bytes %zu\n", store_size_bytes (self->store));
    s_family (out, "wob_numbers_unfolded", "gauge", "Numbers indexed but not yet folded "
              "into the number index's B-tree (held in memory, folded when idle).");
    fprintf (out, "wob_numbers_unfolded %zu\n", store_numbers_recent (self->store));
    s_family (out, "wob_commit_seconds", "histogram", "Duration of the loop's group commits "
              "that wrote (one fsync each).");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < S_BOUNDS; b++) {
        cumulative += m->commit_buckets [b];
        fprintf (out, "wob_commit_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", s_bounds [b],
                 cumulative);
    }
    fprintf (out, "wob_commit_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", m->commit_count);
    fprintf (out, "wob_commit_seconds_sum %.6f\n", m->commit_sum);
    fprintf (out, "wob_commit_seconds_count %" PRIu64 "\n", m->commit_count);
    s_family (out, "wob_rollbacks_total", "counter", "Loop turns rolled back (store failure) "
              "since the broker started.");
    fprintf (out, "wob_rollbacks_total %" PRIu64 "\n", m->rollbacks);
}
