/*  reports.c - reports by dimension and the import of later outcomes.

    reports_query answers `wobctl report --wave W | --campaign C --by D`
    from the tallies tally.c keeps: it sums the stored rows of the waves
    asked about, rolls regions up to the level asked for, and merges the
    waves' imported-outcome labels.  It never reads an order.

    reports_import records outcomes the campaign system learnt after the
    campaign (retained, churned, ...) per customer of a wave, and tallies
    them by the customer's group: contacted (some order of theirs in the
    wave, or the order it was merged into or fell back to, was leased),
    control (held out by the wave's control share) or others.  A request
    is validated whole before anything is recorded; importing a customer
    again replaces their earlier outcome, so a file can be re-sent.    */

#include "broker.h"
#include "wob_report.h"

#define REPORT_ROWS_MAX 100000  //  rows in one reply
#define LABEL_MAX 24            //  characters in an outcome label
#define IMPORT_ERRORS 5         //  bad rows named in one refusal

//  --- Reports ------------------------------------------------------------

typedef struct {
    char dimension;             //  tally dimension byte
    uint32_t level;             //  region: levels kept (1..4)
    const char *under;          //  region: only rows under this path
    zhashx_t *rows;             //  key -> wob_tally_t *
    wob_tally_t *into;          //  or one row (the total)
    wob_tally_t *shown;         //  sum of the rows under `under`, if any
    uint8_t map [WOB_TALLY_LABELS];     //  wave label slot -> report slot
} collect_t;

static void
s_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  Adds t to sum with the wave's label slots moved to the report's.
static void
s_add_mapped (wob_tally_t *sum, const wob_tally_t *t, const uint8_t *map)
{
    wob_tally_t moved = *t;
    memset (moved.imported, 0, sizeof (moved.imported));
    for (int g = 0; g < WOB_TALLY_GROUPS; g++)
        for (int l = 0; l < WOB_TALLY_LABELS; l++)
            if (map [l] < WOB_TALLY_LABELS)
                moved.imported [g][map [l]] += t->imported [g][l];
    wob_tally_add (sum, &moved);
}

//  The region path cut to its first `level` parts; false when the row is
//  not under the path asked for.
static bool
s_region_key (const char *value, const char *under, uint32_t level, char *key, size_t size)
{
    size_t len = under? strlen (under): 0;
    if (len && (strncmp (value, under, len) != 0 || (value [len] && value [len] != '/')))
        return false;
    snprintf (key, size, "%s", value);
    uint32_t parts = 1;
    for (char *p = key; *p; p++)
        if (*p == '/' && ++parts > level) {
            *p = 0;
            break;
        }
    return true;
}

static int
s_collect (void *arg, const char *value, const wob_tally_t *tally)
{
    collect_t *c = arg;
    if (c->into) {
        s_add_mapped (c->into, tally, c->map);
        return 0;
    }
    char key [512];
    if (c->dimension == 'r') {
        if (!s_region_key (value, c->under, c->level, key, sizeof (key)))
            return 0;
    }
    else
        snprintf (key, sizeof (key), "%s", value);
    wob_tally_t *sum = zhashx_lookup (c->rows, key);
    if (!sum) {
        if (zhashx_size (c->rows) >= REPORT_ROWS_MAX)
            return 0;
        sum = calloc (1, sizeof (wob_tally_t));
        zhashx_insert (c->rows, key, sum);
    }
    s_add_mapped (sum, tally, c->map);
    if (c->under)
        s_add_mapped (c->shown, tally, c->map);
    return 0;
}

static char
s_dimension (const char *by)
{
    const char *names [] = { "channel", "region", "worker", "segment", "day" };
    const char tags [] = { 'c', 'r', 'w', 's', 'd' };
    for (size_t i = 0; i < sizeof (tags); i++)
        if (streq (by, names [i]))
            return tags [i];
    return 0;
}

//  The report's labels: the union of the waves', in order of first sight.
static void
s_labels (Wob__Report *report, wave_t *wave, uint8_t *map)
{
    memset (map, 0xFF, WOB_TALLY_LABELS);
    Wob__Wave *w = wave->wave;
    for (size_t l = 0; l < w->n_outcome_labels && l < WOB_TALLY_LABELS; l++) {
        size_t slot = 0;
        while (slot < report->n_labels && !streq (report->labels [slot], w->outcome_labels [l]))
            slot++;
        if (slot == report->n_labels && slot < WOB_TALLY_LABELS)
            report->labels [report->n_labels++] = strdup (w->outcome_labels [l]);
        if (slot < WOB_TALLY_LABELS)
            map [l] = (uint8_t) slot;
    }
}

static int
s_compare (const void *a, const void *b)
{
    return strcmp ((const char *) a, (const char *) b);
}

static Wob__ReportRow *
s_row_msg (const char *key, const wob_tally_t *tally)
{
    Wob__ReportRow *row = calloc (1, sizeof (*row));
    wob__report_row__init (row);
    row->key = strdup (key);
    wob_tally_to_msg (row, tally);
    return row;
}

//  A report in the making: what each wave adds to.
typedef struct {
    Wob__Report *report;
    collect_t c;
    wob_tally_t total;          //  every row of the waves
    wob_tally_t shown;          //  the rows under c.under
    size_t waves;               //  added so far
    char *err;
} build_t;

//  Adds one wave's rows to the report (waves_fn).
static int
s_add_wave (broker_t *self, wave_t *wave, void *arg)
{
    build_t *b = arg;
    s_labels (b->report, wave, b->c.map);
    b->c.into = NULL;
    int rc = store_tally_each (self->store, wave->wave->seq, b->c.dimension, s_collect, &b->c,
                               b->err);
    b->c.into = &b->total;          //  under a region, its rows' sum is the total
    if (!rc && !b->c.under)
        rc = store_tally_each (self->store, wave->wave->seq, 'c', s_collect, &b->c, b->err);
    if (!rc && !b->waves++)
        b->report->campaign = strdup (wave->wave->campaign);
    return rc;
}

//  The report msg asks for, over the given wave or, when NULL, the wave or
//  campaign msg names.  A campaign's waves out of memory are read as
//  copies (waves_each): a report polled every few seconds must not keep
//  a campaign's old waves in memory.
static int
s_build (broker_t *self, Wob__ReportQuery *msg, wave_t *wave, Wob__Report **report_p, char *err)
{
    *report_p = NULL;
    const char *by = *msg->by? msg->by: "channel";
    char dimension = s_dimension (by);
    if (!dimension)
        return wob_fail (err, WOB_ERR_INVALID, "report: --by '%.40s' is not a dimension "
                         "(channel, region, worker, segment, day)", by);
    if (!*msg->wave == !*msg->campaign)
        return wob_fail (err, WOB_ERR_INVALID, "report: give a wave or a campaign (not both)");
    if (dimension != 'r' && (msg->level || *msg->under))
        return wob_fail (err, WOB_ERR_INVALID, "report: --level and --under are for --by "
                         "region only");
    if (msg->level > 4)
        return wob_fail (err, WOB_ERR_INVALID, "report: region level %u: levels are 1 "
                         "province, 2 city, 3 district, 4 grid", msg->level);
    build_t b = {
        .c = { .dimension = dimension, .level = dimension == 'r'? (msg->level? msg->level: 1): 0,
               .under = *msg->under? msg->under: NULL, .rows = zhashx_new () },
        .err = err
    };
    b.c.shown = &b.shown;
    zhashx_set_destructor (b.c.rows, s_free);
    b.report = calloc (1, sizeof (Wob__Report));
    wob__report__init (b.report);
    b.report->labels = calloc (WOB_TALLY_LABELS, sizeof (char *));
    int rc = 0;
    if (*msg->wave) {
        if (!wave)
            wave = broker_wave (self, msg->wave);
        if (wave)
            rc = s_add_wave (self, wave, &b);
    }
    else
        rc = waves_each (self, msg->campaign, false, s_add_wave, &b, err);
    if (!rc && !b.waves)
        rc = *msg->wave?
            wob_fail (err, WOB_ERR_NOT_FOUND, "report: wave '%.64s' does not exist", msg->wave):
            wob_fail (err, WOB_ERR_NOT_FOUND, "report: campaign '%.64s' has no waves",
                      msg->campaign);
    if (!rc) {
        Wob__Report *report = b.report;
        report->wave = strdup (msg->wave);
        report->by = strdup (by);
        report->level = b.c.level;
        report->waves = (uint32_t) b.waves;
        zlistx_t *keys = zhashx_keys (b.c.rows);
        zlistx_set_comparator (keys, (zlistx_comparator_fn *) s_compare);
        zlistx_sort (keys);
        report->rows = calloc (zlistx_size (keys) + 1, sizeof (Wob__ReportRow *));
        for (const char *key = zlistx_first (keys); key; key = zlistx_next (keys))
            report->rows [report->n_rows++] = s_row_msg (key, zhashx_lookup (b.c.rows, key));
        zlistx_destroy (&keys);
        //  Under a region, the total is that region's
        report->total = s_row_msg ("total", b.c.under? &b.shown: &b.total);
        *report_p = report;
    }
    else
        wob__report__free_unpacked (b.report, NULL);
    zhashx_destroy (&b.c.rows);
    return rc;
}

int
reports_build (broker_t *self, Wob__ReportQuery *msg, Wob__Report **report_p, char *err)
{
    return s_build (self, msg, NULL, report_p, err);
}

int
reports_build_wave (broker_t *self, Wob__ReportQuery *msg, wave_t *wave, Wob__Report **report_p,
                    char *err)
{
    return s_build (self, msg, wave, report_p, err);
}

void
reports_query (broker_t *self, Wob__ReportQuery *msg)
{
    char err [WOB_ERRLEN];
    Wob__Report *report = NULL;
    //  This turn's changes go to the store first, then the rows are read
    int rc = tally_flush (self, err);
    if (!rc)
        rc = reports_build (self, msg, &report, err);
    if (rc)
        broker_error (self, rc == WOB_ERR_NOT_FOUND? WOB__ERROR_CODE__ERR_NOT_FOUND:
                      rc == WOB_ERR_INVALID? WOB__ERROR_CODE__ERR_INVALID:
                      WOB__ERROR_CODE__ERR_STORE, "%s", err);
    else
        broker_respond (self, WOB__ENVELOPE__BODY_REPORT, report);
}

//  --- Imported outcomes --------------------------------------------------

//  The customer's group in the wave, and the order whose channel and
//  worker their outcome counts under.  Caller frees *order_p.
static int
s_classify (broker_t *self, uint64_t first_id, Wob__Order **order_p, int *group_p, char *err)
{
    Wob__Order *counted;
    int rc = store_order_get (self->store, first_id, &counted, err);
    if (rc)
        return rc;
    if (counted->state == WOB__STATE__STATE_CONTROL) {
        *group_p = WOB_GROUP_CONTROL;
        *order_p = counted;
        return 0;
    }
    //  Follow the merge and the fallback: the contact may have been there.
    //  The order counted is the chain's last that was leased, else the
    //  first (region and segment are the customer's, the same on each)
    uint64_t next = counted->merged_into? counted->merged_into: counted->transferred_to;
    for (int hops = 0; next && hops < 8; hops++) {
        Wob__Order *o;
        if ((rc = store_order_get (self->store, next, &o, err))) {
            wob__order__free_unpacked (counted, NULL);
            return rc;
        }
        next = o->merged_into? o->merged_into: o->transferred_to;
        if (o->attempts > 0) {
            wob__order__free_unpacked (counted, NULL);
            counted = o;
        }
        else
            wob__order__free_unpacked (o, NULL);
    }
    *group_p = counted->attempts > 0? WOB_GROUP_CONTACTED: WOB_GROUP_OTHERS;
    *order_p = counted;
    return 0;
}

static bool
s_label_ok (const char *label)
{
    size_t len = strlen (label);
    if (len == 0 || len > LABEL_MAX)
        return false;
    for (const char *p = label; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

//  The label's slot in the wave, adding it when there is room.
static int
s_label_slot (Wob__Wave *w, const char *label, bool add)
{
    for (size_t l = 0; l < w->n_outcome_labels; l++)
        if (streq (w->outcome_labels [l], label))
            return (int) l;
    if (w->n_outcome_labels >= WOB_TALLY_LABELS)
        return -1;
    if (!add)
        return (int) w->n_outcome_labels;
    w->outcome_labels = realloc (w->outcome_labels, (w->n_outcome_labels + 1) * sizeof (char *));
    w->outcome_labels [w->n_outcome_labels] = strdup (label);
    return (int) w->n_outcome_labels++;
}

//  Checks every row; returns how many are bad, naming the first few.
static size_t
s_check (broker_t *self, wave_t *wave, Wob__OutcomeImport *msg, char *errors, size_t size)
{
    size_t bad = 0, len = 0;
    const char *fresh [WOB_TALLY_LABELS];
    size_t n_fresh = 0;
    char err [WOB_ERRLEN];
    for (size_t i = 0; i < msg->n_outcomes; i++) {
        Wob__ImportedOutcome *row = msg->outcomes [i];
        char why [200] = "";
        uint64_t id = 0;
        if (!s_label_ok (row->outcome))
            snprintf (why, sizeof (why), "outcome '%.40s' is not a label ([a-z0-9_], 1 to %d "
                      "characters)", row->outcome, LABEL_MAX);
        else
        if (!*row->msisdn)
            snprintf (why, sizeof (why), "no phone number");
        else
        if (store_wave_msisdn_get (self->store, wave->wave->seq, row->msisdn, &id, err) || !id)
            snprintf (why, sizeof (why), "%.40s is not a target of wave %.64s", row->msisdn,
                      wave->wave->id);
        else
        if (s_label_slot (wave->wave, row->outcome, false) < 0) {
            size_t k = 0;
            while (k < n_fresh && !streq (fresh [k], row->outcome))
                k++;
            if (k == n_fresh && wave->wave->n_outcome_labels + n_fresh >= WOB_TALLY_LABELS)
                snprintf (why, sizeof (why), "outcome '%.40s' would be label number %zu of "
                          "the wave; at most %d are kept", row->outcome,
                          wave->wave->n_outcome_labels + n_fresh + 1, WOB_TALLY_LABELS);
            else
            if (k == n_fresh)
                fresh [n_fresh++] = row->outcome;
        }
        if (*why && bad++ < IMPORT_ERRORS && len < size)
            len += (size_t) snprintf (errors + len, size - len, "%sline %u: %s",
                                      len? "; ": "", row->line, why);
    }
    return bad;
}

//  Adds delta to the imported tallies of the customer's rows.
static int
s_tally_imported (broker_t *self, wave_t *wave, Wob__Order *order, int group, int label,
                  int delta, char *err)
{
    Wob__Order counted = *order;
    counted.wave_seq = wave->wave->seq;     //  a merge survivor may be another wave's
    tally_imported (self, &counted, group, label, delta);
    if (*self->group_error)
        return wob_fail (err, WOB_ERR_STORE, "%s", self->group_error);
    return 0;
}

//  Records one row (or, check_only, only counts its group).
static int
s_record (broker_t *self, wave_t *wave, Wob__ImportedOutcome *row, bool check_only,
          Wob__OutcomeImportReply *reply, char *err)
{
    uint64_t id = 0;
    int rc = store_wave_msisdn_get (self->store, wave->wave->seq, row->msisdn, &id, err);
    Wob__Order *order = NULL;
    int group = 0;
    if (!rc)
        rc = s_classify (self, id, &order, &group, err);
    if (rc)
        return rc;
    reply->recorded++;
    uint64_t *groups [] = { &reply->contacted, &reply->control, &reply->others };
    (*groups [group])++;
    if (check_only) {
        wob__order__free_unpacked (order, NULL);
        return 0;
    }
    store_imported_t before;
    rc = store_imported_get (self->store, wave->wave->seq, row->msisdn, &before, err);
    if (rc == 0) {
        reply->replaced++;
        Wob__Order *old;
        rc = store_order_get (self->store, before.order_id, &old, err);
        if (!rc) {
            rc = s_tally_imported (self, wave, old, before.group, before.label, -1, err);
            wob__order__free_unpacked (old, NULL);
        }
    }
    else
    if (rc == WOB_ERR_NOT_FOUND)
        rc = 0;
    int label = s_label_slot (wave->wave, row->outcome, true);
    if (!rc)
        rc = s_tally_imported (self, wave, order, group, label, +1, err);
    store_imported_t now = { order->id, (uint8_t) group, (uint8_t) label };
    if (!rc)
        rc = store_imported_put (self->store, wave->wave->seq, row->msisdn, &now, err);
    wob__order__free_unpacked (order, NULL);
    return rc;
}

void
reports_import (broker_t *self, Wob__OutcomeImport *msg)
{
    char err [WOB_ERRLEN], errors [WOB_ERRLEN];
    wave_t *wave = broker_wave (self, msg->wave);
    if (!wave) {
        broker_error (self, WOB__ERROR_CODE__ERR_NOT_FOUND, "outcome import: wave '%.64s' does "
                      "not exist", msg->wave);
        return;
    }
    Wob__Wave *w = wave->wave;
    if (self->peer && self->peer->role == AUTH_CAMPAIGN && !streq (w->submitted_by, self->peer->name)) {
        broker_error (self, WOB__ERROR_CODE__ERR_FORBIDDEN, "outcome import: wave '%s' was "
                      "submitted by '%s': campaign key '%s' may only import outcomes of its "
                      "own waves", w->id, *w->submitted_by? w->submitted_by: "(plain mode)",
                      self->peer->name);
        return;
    }
    size_t bad = s_check (self, wave, msg, errors, sizeof (errors));
    if (bad) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "outcome import: %zu of %zu rows "
                      "refused, nothing recorded: %s%s", bad, msg->n_outcomes, errors,
                      bad > IMPORT_ERRORS? "; ...": "");
        return;
    }
    Wob__OutcomeImportReply *reply = calloc (1, sizeof (*reply));
    wob__outcome_import_reply__init (reply);
    int rc = 0;
    size_t labels = w->n_outcome_labels;
    for (size_t i = 0; i < msg->n_outcomes && !rc; i++)
        rc = s_record (self, wave, msg->outcomes [i], msg->check_only, reply, err);
    if (!rc && w->n_outcome_labels != labels)
        rc = store_wave_put (self->store, w, err);
    if (rc) {
        //  The turn rolls back (group_error): nothing of this request stays
        broker_error (self, WOB__ERROR_CODE__ERR_STORE, "outcome import: %s", err);
        wob__outcome_import_reply__free_unpacked (reply, NULL);
        return;
    }
    broker_respond (self, WOB__ENVELOPE__BODY_OUTCOME_IMPORT_REPLY, reply);
}
