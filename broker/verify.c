/*  verify.c - wob-broker --verify: checks a data directory offline.

    Recounts every wave's orders from the orders themselves and compares
    with the running counts the broker keeps (what status and reports
    show, including the report tallies by channel, region, segment and
    day), and checks that the lease table and the dispatched orders agree.
    For operators after an incident, and for the crash tests: after a kill
    at any point, what is on disk must add up.  Read only; run it on a
    stopped broker's directory (or a backup).                            */

#include "broker.h"

typedef struct {
    store_t *store;
    FILE *out;
    int problems;               //  mismatches found
    zhashx_t *leases;           //  order id -> (void *) 1
    char err [WOB_ERRLEN];
} s_verify_t;

static int
s_lease (void *arg, uint64_t id)
{
    zhashx_insert (((s_verify_t *) arg)->leases, WOB_ID_KEY (id), (void *) 1);
    return 0;
}

static int
s_sum_tally (void *arg, const char *value, const wob_tally_t *tally)
{
    (void) value;
    wob_tally_add ((wob_tally_t *) arg, tally);
    return 0;
}

//  The report tallies of every dimension that counts every event must add
//  up to the orders: created = orders, and orders that entered a final
//  state = orders in it now (a final state is never left).
static int
s_tallies (s_verify_t *self, Wob__Wave *wave, uint64_t orders, const uint64_t *counted)
{
    const char dimensions [] = { 'c', 'r', 's', 'd' };
    const char *names [] = { "channel", "region", "segment", "day" };
    int mismatches = 0;
    for (size_t d = 0; d < sizeof (dimensions); d++) {
        wob_tally_t sum;
        memset (&sum, 0, sizeof (sum));
        int rc = store_tally_each (self->store, wave->seq, dimensions [d], s_sum_tally, &sum,
                                   self->err);
        if (rc)
            return -1;
        if (sum.created != orders) {
            fprintf (self->out, "wave %s: report by %s: %" PRIu64 " orders created, the "
                     "orders say %" PRIu64 "\n", wave->id, names [d], sum.created, orders);
            mismatches++;
        }
        for (int state = 1; state < 16; state++)
            if (lifecycle_is_final (state) && sum.entered [state] != counted [state]) {
                fprintf (self->out, "wave %s: report by %s: %" PRIu64 " orders %s, the orders "
                         "say %" PRIu64 "\n", wave->id, names [d], sum.entered [state],
                         wob_state_name (state), counted [state]);
                mismatches++;
            }
    }
    return mismatches;
}

static int
s_wave (void *arg, Wob__Wave *wave)
{
    s_verify_t *self = (s_verify_t *) arg;
    uint64_t counted [16] = { 0 }, orders = 0;
    uint64_t id = 0;
    int rc = 0;
    while (!rc && !(rc = store_wave_order_next (self->store, wave->seq, id, &id, self->err))
           && id) {
        Wob__Order *order;
        if ((rc = store_order_get (self->store, id, &order, self->err)))
            break;
        orders++;
        if (order->state > 0 && order->state < 16)
            counted [order->state]++;
        bool leased = zhashx_lookup (self->leases, WOB_ID_KEY (id)) != NULL;
        if (leased != (order->state == WOB__STATE__STATE_DISPATCHED)) {
            fprintf (self->out, "wave %s: order %" PRIu64 " is %s but %s in the lease table\n",
                     wave->id, id, wob_state_name (order->state), leased? "is": "is not");
            self->problems++;
        }
        zhashx_delete (self->leases, WOB_ID_KEY (id));
        wob__order__free_unpacked (order, NULL);
    }
    store_stats_t stats;
    if (!rc)
        rc = store_stats_get (self->store, wave->seq, &stats, self->err);
    if (rc) {
        wob__wave__free_unpacked (wave, NULL);
        return rc;
    }
    int mismatches = 0;
    for (int state = 1; state < 16; state++)
        if (stats.by_state [state] != counted [state]) {
            fprintf (self->out, "wave %s: %s: the counts say %" PRIu64 ", the orders %" PRIu64
                     "\n", wave->id, wob_state_name (state), stats.by_state [state],
                     counted [state]);
            mismatches++;
        }
    int tallies = s_tallies (self, wave, orders, counted);
    if (tallies < 0) {
        wob__wave__free_unpacked (wave, NULL);
        return WOB_ERR_STORE;
    }
    mismatches += tallies;
    fprintf (self->out, "wave %s: %" PRIu64 " orders, %s\n", wave->id, orders,
             mismatches? "counts DIFFER": "counts match");
    self->problems += mismatches;
    wob__wave__free_unpacked (wave, NULL);
    return 0;
}

int
verify_store (const char *data_dir, FILE *out, char *err)
{
    store_config_t config = { .path = data_dir };
    s_verify_t self = { .out = out };
    self.store = store_new (&config, err);
    if (!self.store)
        return WOB_ERR_STORE;
    self.leases = wob_idmap_new (NULL);
    int rc = store_read_begin (self.store, err);
    if (!rc)
        rc = store_lease_each (self.store, s_lease, &self, err);
    if (!rc && (rc = store_wave_each (self.store, s_wave, &self, err)) && *self.err)
        snprintf (err, WOB_ERRLEN, "%s", self.err);
    if (!rc)
        for (void *item = zhashx_first (self.leases); item; item = zhashx_next (self.leases)) {
            fprintf (out, "lease of order %" PRIu64 " belongs to no wave's orders\n",
                     (uint64_t) (uintptr_t) zhashx_cursor (self.leases));
            self.problems++;
        }
    store_read_end (self.store);
    zhashx_destroy (&self.leases);
    store_destroy (&self.store);
    if (!rc && self.problems)
        rc = wob_fail (err, WOB_ERR_STORE, "%s: %d problem%s found", data_dir, self.problems,
                       self.problems == 1? "": "s");
    return rc;
}
