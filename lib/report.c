/*  report.c - report rows and their printing: the one computation behind
    `wobctl report` and the broker's dashboard (include/wob_report.h says
    what each number means).  Everything comes from running tallies, so a
    report on a million-order wave costs what one on ten orders does.    */

#include "wob_report.h"
#include "wob_csv.h"

static double
s_rate (uint64_t part, uint64_t whole)
{
    return whole? (double) part / (double) whole: 0;
}

//  Derived fields: eligible and the rates.
static void
s_derive (wob_report_row_t *row)
{
    uint64_t out = row->filtered + row->merged + row->control;
    row->eligible = row->orders > out? row->orders - out: 0;
    row->contact_rate = s_rate (row->contacted, row->eligible);
    row->success_rate = s_rate (row->accepted, row->eligible);
    row->conversion_per_contact = s_rate (row->accepted, row->contacted);
}

static void
s_outcomes (wob_report_row_t *row, const uint64_t *by_outcome)
{
    const int reached [] = {
        WOB__OUTCOME__OUTCOME_DELIVERED, WOB__OUTCOME__OUTCOME_ACCEPTED,
        WOB__OUTCOME__OUTCOME_INTERESTED, WOB__OUTCOME__OUTCOME_DECLINED,
        WOB__OUTCOME__OUTCOME_CALLBACK
    };
    for (size_t i = 0; i < sizeof (reached) / sizeof (reached [0]); i++)
        row->reached += by_outcome [reached [i]];
    row->accepted = by_outcome [WOB__OUTCOME__OUTCOME_ACCEPTED];
    row->interested = by_outcome [WOB__OUTCOME__OUTCOME_INTERESTED];
    row->declined = by_outcome [WOB__OUTCOME__OUTCOME_DECLINED];
}

static void
s_key (wob_report_row_t *row, const char *key)
{
    snprintf (row->key, sizeof (row->key), "%s", key && *key? key: "(none)");
}

void
wob_report_row_counts (wob_report_row_t *row, const char *key, const uint64_t *by_state,
                       const uint64_t *by_outcome, uint64_t contacted)
{
    memset (row, 0, sizeof (*row));
    s_key (row, key);
    for (int s = 1; s < WOB_REPORT_SLOTS; s++)
        row->orders += by_state [s];
    row->filtered = by_state [WOB__STATE__STATE_FILTERED];
    row->merged = by_state [WOB__STATE__STATE_MERGED];
    row->control = by_state [WOB__STATE__STATE_CONTROL];
    row->transferred = by_state [WOB__STATE__STATE_TRANSFERRED];
    row->done = by_state [WOB__STATE__STATE_DONE];
    row->contacted = contacted;
    s_outcomes (row, by_outcome);
    s_derive (row);
}

void
wob_report_row_tally (wob_report_row_t *row, const char *key, const wob_tally_t *t,
                      const wob_tally_t *control_base, size_t n_labels)
{
    memset (row, 0, sizeof (*row));
    s_key (row, key);
    row->orders = t->created;
    row->filtered = t->entered [WOB__STATE__STATE_FILTERED];
    row->merged = t->entered [WOB__STATE__STATE_MERGED];
    row->control = t->entered [WOB__STATE__STATE_CONTROL];
    row->transferred = t->entered [WOB__STATE__STATE_TRANSFERRED];
    row->done = t->entered [WOB__STATE__STATE_DONE];
    row->contacted = t->contacted;
    s_outcomes (row, t->outcomes);
    s_derive (row);
    //  Uplift: against the row's own control customers, else the base's
    const wob_tally_t *control = t->imported_n [WOB_GROUP_CONTROL] || !control_base?
                                 t: control_base;
    row->n_labels = n_labels < WOB_TALLY_LABELS? n_labels: WOB_TALLY_LABELS;
    row->imported_contacted = t->imported_n [WOB_GROUP_CONTACTED];
    row->imported_control = control->imported_n [WOB_GROUP_CONTROL];
    for (size_t l = 0; l < row->n_labels; l++) {
        row->contacted_rate [l] = s_rate (t->imported [WOB_GROUP_CONTACTED][l],
                                          row->imported_contacted);
        row->control_rate [l] = s_rate (control->imported [WOB_GROUP_CONTROL][l],
                                        row->imported_control);
        row->uplift [l] = row->contacted_rate [l] - row->control_rate [l];
    }
}

void
wob_report_total_init (wob_report_row_t *total)
{
    memset (total, 0, sizeof (*total));
    snprintf (total->key, sizeof (total->key), "total");
}

void
wob_report_total_add (wob_report_row_t *total, const wob_report_row_t *row)
{
    total->orders += row->orders;
    total->filtered += row->filtered;
    total->merged += row->merged;
    total->control += row->control;
    total->transferred += row->transferred;
    total->done += row->done;
    total->contacted += row->contacted;
    total->reached += row->reached;
    total->accepted += row->accepted;
    total->interested += row->interested;
    total->declined += row->declined;
    s_derive (total);
}

void
wob_tally_add (wob_tally_t *sum, const wob_tally_t *t)
{
    //  The struct is all uint64_t: add it as an array
    uint64_t *a = (uint64_t *) sum;
    const uint64_t *b = (const uint64_t *) t;
    for (size_t i = 0; i < sizeof (*t) / sizeof (uint64_t); i++)
        a [i] += b [i];
}

static void
s_copy (uint64_t *to, size_t slots, const uint64_t *from, size_t n)
{
    for (size_t i = 0; i < slots && i < n; i++)
        to [i] = from [i];
}

void
wob_tally_from_msg (wob_tally_t *t, const Wob__ReportRow *msg)
{
    memset (t, 0, sizeof (*t));
    t->created = msg->created;
    t->contacted = msg->contacted;
    s_copy (t->entered, WOB_REPORT_SLOTS, msg->entered, msg->n_entered);
    s_copy (t->outcomes, WOB_REPORT_SLOTS, msg->outcomes, msg->n_outcomes);
    s_copy (t->imported_n, WOB_TALLY_GROUPS, msg->imported_n, msg->n_imported_n);
    s_copy (&t->imported [0][0], WOB_TALLY_GROUPS * WOB_TALLY_LABELS,
            msg->imported, msg->n_imported);
}

static uint64_t *
s_dup (const uint64_t *from, size_t n, size_t *n_p)
{
    uint64_t *to = malloc (n * sizeof (uint64_t));
    memcpy (to, from, n * sizeof (uint64_t));
    *n_p = n;
    return to;
}

void
wob_tally_to_msg (Wob__ReportRow *msg, const wob_tally_t *t)
{
    msg->created = t->created;
    msg->contacted = t->contacted;
    msg->entered = s_dup (t->entered, WOB_REPORT_SLOTS, &msg->n_entered);
    msg->outcomes = s_dup (t->outcomes, WOB_REPORT_SLOTS, &msg->n_outcomes);
    msg->imported_n = s_dup (t->imported_n, WOB_TALLY_GROUPS, &msg->n_imported_n);
    msg->imported = s_dup (&t->imported [0][0], WOB_TALLY_GROUPS * WOB_TALLY_LABELS,
                           &msg->n_imported);
}

void
wob_tally_msg_clear (Wob__ReportRow *msg)
{
    free (msg->entered);
    free (msg->outcomes);
    free (msg->imported_n);
    free (msg->imported);
    msg->entered = msg->outcomes = msg->imported_n = msg->imported = NULL;
    msg->n_entered = msg->n_outcomes = msg->n_imported_n = msg->n_imported = 0;
}

void
wob_report_from_msg (wob_report_t *report, const Wob__Report *msg)
{
    memset (report, 0, sizeof (*report));
    report->wave = msg->wave;
    report->campaign = msg->campaign;
    report->by = msg->by;
    report->level = msg->level;
    report->waves = msg->waves;
    report->labels = (const char **) msg->labels;
    report->n_labels = msg->n_labels;
    wob_tally_t total;
    memset (&total, 0, sizeof (total));
    if (msg->total)
        wob_tally_from_msg (&total, msg->total);
    report->rows = calloc (msg->n_rows + 1, sizeof (wob_report_row_t));
    for (size_t i = 0; i < msg->n_rows; i++) {
        wob_tally_t t;
        wob_tally_from_msg (&t, msg->rows [i]);
        wob_report_row_tally (&report->rows [report->n_rows++], msg->rows [i]->key, &t,
                              &total, msg->n_labels);
    }
    wob_report_row_tally (&report->total, "total", &total, NULL, msg->n_labels);
}

void
wob_report_clear (wob_report_t *report)
{
    free (report->rows);
    report->rows = NULL;
    report->n_rows = 0;
}

void
wob_report_row_json (FILE *out, const char *key_name, const wob_report_row_t *r,
                     const char **labels)
{
    fprintf (out, "{");
    wob_json_string (out, key_name);
    fprintf (out, ": ");
    wob_json_string (out, r->key);
    fprintf (out, ", \"orders\": %" PRIu64 ", \"filtered\": %" PRIu64 ", \"merged\": %" PRIu64
             ", \"control\": %" PRIu64 ", \"transferred\": %" PRIu64 ", \"eligible\": %" PRIu64
             ", \"contacted\": %" PRIu64 ", \"reached\": %" PRIu64 ", \"accepted\": %" PRIu64
             ", \"interested\": %" PRIu64 ", \"declined\": %" PRIu64 ", \"done\": %" PRIu64
             ", \"contact_rate\": %.4f, \"success_rate\": %.4f, \"conversion_per_contact\": %.4f",
             r->orders, r->filtered, r->merged, r->control, r->transferred, r->eligible,
             r->contacted, r->reached, r->accepted, r->interested, r->declined, r->done,
             r->contact_rate, r->success_rate, r->conversion_per_contact);
    if (r->n_labels) {
        fprintf (out, ", \"uplift\": [");
        for (size_t l = 0; l < r->n_labels; l++) {
            fprintf (out, "%s{\"outcome\": ", l? ", ": "");
            wob_json_string (out, labels [l]);
            fprintf (out, ", \"contacted\": %" PRIu64 ", \"contacted_rate\": %.4f"
                     ", \"control\": %" PRIu64 ", \"control_rate\": %.4f, \"uplift\": %.4f}",
                     r->imported_contacted, r->contacted_rate [l], r->imported_control,
                     r->control_rate [l], r->uplift [l]);
        }
        fprintf (out, "]");
    }
    fprintf (out, "}");
}

void
wob_report_json (FILE *out, const wob_report_t *report)
{
    fprintf (out, "{\"wave\": ");
    wob_json_string (out, report->wave);
    fprintf (out, ", \"campaign\": ");
    wob_json_string (out, report->campaign);
    fprintf (out, ", \"by\": ");
    wob_json_string (out, report->by);
    if (report->level)
        fprintf (out, ", \"level\": %u", report->level);
    fprintf (out, ", \"waves\": %u, \"labels\": [", report->waves);
    for (size_t l = 0; l < report->n_labels; l++) {
        fprintf (out, "%s", l? ", ": "");
        wob_json_string (out, report->labels [l]);
    }
    fprintf (out, "], \"by_%s\": [", report->by);
    for (size_t i = 0; i < report->n_rows; i++) {
        fprintf (out, "%s", i? ", ": "");
        wob_report_row_json (out, report->by, &report->rows [i], report->labels);
    }
    fprintf (out, "], \"total\": ");
    wob_report_row_json (out, report->by, &report->total, report->labels);
    fprintf (out, "}");
}

static void
s_csv_row (FILE *out, const wob_report_row_t *r)
{
    wob_csv_field (out, r->key);
    fprintf (out, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
             ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.4f,%.4f,%.4f",
             r->orders, r->filtered, r->merged, r->control, r->transferred, r->eligible,
             r->contacted, r->reached, r->accepted, r->interested, r->declined, r->done,
             r->contact_rate, r->success_rate, r->conversion_per_contact);
    if (r->n_labels)
        fprintf (out, ",%" PRIu64 ",%" PRIu64, r->imported_contacted, r->imported_control);
    for (size_t l = 0; l < r->n_labels; l++)
        fprintf (out, ",%.4f,%.4f,%.4f", r->contacted_rate [l], r->control_rate [l],
                 r->uplift [l]);
    fprintf (out, "\n");
}

void
wob_report_csv (FILE *out, const wob_report_t *report)
{
    fprintf (out, "%s,orders,filtered,merged,control,transferred,eligible,contacted,reached,"
             "accepted,interested,declined,done,contact_rate,success_rate,"
             "conversion_per_contact", report->by);
    if (report->n_labels)
        fprintf (out, ",imported_contacted,imported_control");
    for (size_t l = 0; l < report->n_labels; l++)
        fprintf (out, ",%s_contacted_rate,%s_control_rate,%s_uplift", report->labels [l],
                 report->labels [l], report->labels [l]);
    fprintf (out, "\n");
    for (size_t i = 0; i < report->n_rows; i++)
        s_csv_row (out, &report->rows [i]);
    s_csv_row (out, &report->total);
}

//  Display width of UTF-8 text, counting CJK characters as two columns.
static int
s_width (const char *text)
{
    int width = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if ((*p & 0xC0) != 0x80)
            width += *p >= 0xE0? 2: 1;
    return width;
}

//  A rate in a table column: "-" where it has no base (a worker row has
//  no eligible orders of its own; a row without imported customers).
static void
s_table_rate (FILE *out, double rate, uint64_t base, const char *unit)
{
    if (base)
        fprintf (out, streq (unit, "pp")? " %+*.1f%s": " %*.1f%s", 10 - (int) strlen (unit),
                 100 * rate, unit);
    else
        fprintf (out, " %10s", "-");
}

static void
s_table_row (FILE *out, const wob_report_row_t *r, int key_width)
{
    fprintf (out, "%s%*s", r->key, key_width - s_width (r->key), "");
    fprintf (out, " %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %7" PRIu64 " %9" PRIu64 " %9" PRIu64
             " %9" PRIu64 " %9" PRIu64 " %9" PRIu64, r->orders, r->filtered, r->merged,
             r->control, r->contacted, r->reached, r->accepted, r->interested, r->declined);
    s_table_rate (out, r->contact_rate, r->eligible, "%");
    s_table_rate (out, r->success_rate, r->eligible, "%");
    s_table_rate (out, r->conversion_per_contact, r->contacted, "%");
    for (size_t l = 0; l < r->n_labels; l++)
        s_table_rate (out, r->uplift [l], r->imported_contacted && r->imported_control, "pp");
    fprintf (out, "\n");
}

void
wob_report_table (FILE *out, const wob_report_t *report)
{
    if (*report->wave)
        fprintf (out, "wave %s  campaign %s", report->wave, report->campaign);
    else
        fprintf (out, "campaign %s  (%u waves)", report->campaign, report->waves);
    fprintf (out, "  by %s\n", report->by);
    int key_width = 8;
    for (size_t i = 0; i < report->n_rows; i++)
        if (s_width (report->rows [i].key) > key_width)
            key_width = s_width (report->rows [i].key);
    fprintf (out, "%-*s %9s %9s %7s %7s %9s %9s %9s %9s %9s %10s %10s %10s", key_width,
             report->by, "orders", "filtered", "merged", "control", "contacted", "reached",
             "accepted", "interest", "declined", "contact", "success", "conv/cont");
    for (size_t l = 0; l < report->n_labels; l++)
        fprintf (out, " %10.10s", report->labels [l]);
    fprintf (out, "\n");
    for (size_t i = 0; i < report->n_rows; i++)
        s_table_row (out, &report->rows [i], key_width);
    s_table_row (out, &report->total, key_width);
    if (report->n_labels) {
        fprintf (out, "uplift (contacted vs control, percentage points) of imported outcomes;"
                 " total: ");
        for (size_t l = 0; l < report->n_labels; l++)
            fprintf (out, "%s%s %.1f%% vs %.1f%% (%" PRIu64 " / %" PRIu64 " customers)",
                     l? ", ": "", report->labels [l], 100 * report->total.contacted_rate [l],
                     100 * report->total.control_rate [l], report->total.imported_contacted,
                     report->total.imported_control);
        fprintf (out, "\n");
    }
}
