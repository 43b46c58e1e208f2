/*  wobctl_report.c - wobctl report (how a wave or a campaign did, by
    channel, region, worker, segment or day) and wobctl outcome import
    (what the campaign system learnt afterwards, for uplift).

    The broker keeps running tallies per dimension (broker/tally.c), so a
    report on a million-order wave costs what one on ten orders does.  The
    numbers and their printing come from lib/report.c (definitions in
    include/wob_report.h), which the broker's dashboard uses too: the two
    cannot disagree.                                                     */

#include "wobctl.h"
#include "wob_report.h"
#include "wob_csv.h"

#define IMPORT_CHUNK 5000       //  rows per import request

static const char *s_report_usage =
    "usage: wobctl report (--wave WAVE | --campaign CAMPAIGN)\n"
    "                     [--by channel|region|worker|segment|day]\n"
    "                     [--level province|city|district|grid] [--under REGION] [--csv]\n";

static int
s_level (const char *name)
{
    const char *levels [] = { "province", "city", "district", "grid" };
    for (int i = 0; i < 4; i++)
        if (streq (name, levels [i]))
            return i + 1;
    char *end;
    long n = strtol (name, &end, 10);
    return *name && !*end && n >= 1 && n <= 4? (int) n: 0;
}

int
ctl_report (ctl_t *ctl, int argc, char **argv)
{
    Wob__ReportQuery query = WOB__REPORT_QUERY__INIT;
    int format = ctl->json? 'j': 't';
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        bool value = i + 1 < argc;
        if (streq (arg, "--wave") && value)
            query.wave = argv [++i];
        else
        if (streq (arg, "--campaign") && value)
            query.campaign = argv [++i];
        else
        if (streq (arg, "--by") && value)
            query.by = argv [++i];
        else
        if (streq (arg, "--under") && value)
            query.under = argv [++i];
        else
        if (streq (arg, "--level") && value) {
            int level = s_level (argv [++i]);
            if (!level) {
                fprintf (stderr, "wobctl: report: --level '%s': give province, city, district "
                         "or grid\n", argv [i]);
                return 1;
            }
            query.level = (uint32_t) level;
        }
        else
        if (streq (arg, "--csv"))
            format = 'c';
        else
        if (streq (arg, "--json"))
            format = 'j';
        else {
            fprintf (stderr, "wobctl: report: '%s' not understood\n%s", arg, s_report_usage);
            return 1;
        }
    }
    if (!*query.wave == !*query.campaign) {
        fprintf (stderr, "wobctl: report: give --wave or --campaign\n%s", s_report_usage);
        return 1;
    }
    int rc;
    Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_REPORT_QUERY, &query, &rc);
    if (!reply)
        return rc;
    wob_report_t report;
    wob_report_from_msg (&report, reply->report);
    if (format == 'j') {
        wob_report_json (stdout, &report);
        printf ("\n");
    }
    else
    if (format == 'c')
        wob_report_csv (stdout, &report);
    else
        wob_report_table (stdout, &report);
    wob_report_clear (&report);
    wob_msg_free (&reply);
    return 0;
}

//  --- outcome import -----------------------------------------------------

typedef struct {
    Wob__ImportedOutcome **rows;
    size_t n_rows, cap;
} rows_t;

static void
s_rows_free (rows_t *rows)
{
    for (size_t i = 0; i < rows->n_rows; i++) {
        free (rows->rows [i]->msisdn);
        free (rows->rows [i]->outcome);
        free (rows->rows [i]);
    }
    free (rows->rows);
}

//  Reads the whole file first: a file with a bad row sends nothing.
static int
s_read_file (const char *path, rows_t *rows, char *err)
{
    wob_csv_t *csv = wob_csv_open (path, err);
    if (!csv || wob_csv_header (csv, err)) {
        wob_csv_destroy (&csv);
        return 1;
    }
    int c_msisdn = wob_csv_column (csv, "msisdn"), c_outcome = wob_csv_column (csv, "outcome");
    if (c_msisdn < 0 || c_outcome < 0) {
        snprintf (err, WOB_ERRLEN, "%s: the header must name the columns msisdn and outcome",
                  path);
        wob_csv_destroy (&csv);
        return 1;
    }
    char **fields;
    size_t count;
    int bad = 0;
    wob_row_t r;
    while ((r = wob_csv_next (csv, &fields, &count, err)) != WOB_ROW_EOF) {
        if (r != WOB_ROW_OK) {
            fprintf (stderr, "wobctl: %s\n", err);
            bad++;
            if (r == WOB_ROW_FATAL)
                break;
            continue;
        }
        if (rows->n_rows == rows->cap) {
            rows->cap = rows->cap? 2 * rows->cap: 1024;
            rows->rows = realloc (rows->rows, rows->cap * sizeof (*rows->rows));
        }
        Wob__ImportedOutcome *row = calloc (1, sizeof (*row));
        wob__imported_outcome__init (row);
        row->msisdn = strdup (fields [c_msisdn]);
        row->outcome = strdup (fields [c_outcome]);
        row->line = (uint32_t) wob_csv_line (csv);
        rows->rows [rows->n_rows++] = row;
    }
    wob_csv_destroy (&csv);
    if (bad) {
        snprintf (err, WOB_ERRLEN, "%s: %d bad rows, nothing imported", path, bad);
        return 1;
    }
    return 0;
}

//  Sends the rows in chunks: first all of them as a check (the broker
//  refuses a chunk naming its bad rows), then for real.  Importing a
//  customer again replaces their outcome, so a run cut short can be
//  repeated as it is.
static int
s_send (ctl_t *ctl, const char *wave, rows_t *rows, bool check_only,
        Wob__OutcomeImportReply *total)
{
    for (size_t at = 0; at < rows->n_rows; at += IMPORT_CHUNK) {
        Wob__OutcomeImport msg = WOB__OUTCOME_IMPORT__INIT;
        msg.wave = (char *) wave;
        msg.outcomes = rows->rows + at;
        msg.n_outcomes = rows->n_rows - at < IMPORT_CHUNK? rows->n_rows - at: IMPORT_CHUNK;
        msg.check_only = check_only;
        int rc;
        Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_OUTCOME_IMPORT, &msg, &rc);
        if (!reply)
            return rc;
        Wob__OutcomeImportReply *r = reply->outcome_import_reply;
        total->recorded += r->recorded;
        total->replaced += r->replaced;
        total->contacted += r->contacted;
        total->control += r->control;
        total->others += r->others;
        wob_msg_free (&reply);
    }
    return 0;
}

int
ctl_outcome (ctl_t *ctl, int argc, char **argv)
{
    const char *wave = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (i == 1 && streq (argv [i], "import"))
            continue;
        if (streq (argv [i], "--wave") && i + 1 < argc)
            wave = argv [++i];
        else
        if (!path && argv [i][0] != '-')
            path = argv [i];
        else
        if (!path && streq (argv [i], "-"))
            path = argv [i];
        else {
            fprintf (stderr, "wobctl: outcome: '%s' not understood\n", argv [i]);
            path = NULL;
            break;
        }
    }
    if (argc < 2 || !streq (argv [1], "import") || !wave || !path) {
        fprintf (stderr, "usage: wobctl outcome import --wave WAVE FILE.csv\n"
                 "  FILE.csv: header msisdn,outcome; outcome a label such as retained or\n"
                 "  churned ([a-z0-9_], at most 8 labels per wave)\n");
        return 1;
    }
    char err [WOB_ERRLEN];
    rows_t rows = { 0 };
    if (s_read_file (path, &rows, err)) {
        s_rows_free (&rows);
        return ctl_fail (WOB_ERR_INVALID, err);
    }
    Wob__OutcomeImportReply checked = WOB__OUTCOME_IMPORT_REPLY__INIT;
    Wob__OutcomeImportReply done = WOB__OUTCOME_IMPORT_REPLY__INIT;
    int rc = s_send (ctl, wave, &rows, true, &checked);
    if (!rc)
        rc = s_send (ctl, wave, &rows, false, &done);
    s_rows_free (&rows);
    if (rc)
        return rc;
    if (ctl->json) {
        printf ("{\"wave\": ");
        wob_json_string (stdout, wave);
        printf (", \"recorded\": %" PRIu64 ", \"replaced\": %" PRIu64
                ", \"contacted\": %" PRIu64 ", \"control\": %" PRIu64 ", \"others\": %" PRIu64
                "}\n", done.recorded, done.replaced, done.contacted, done.control,
                done.others);
    }
    else
        printf ("imported %" PRIu64 " outcomes into wave %s (%" PRIu64 " replaced earlier ones):"
                " %" PRIu64 " contacted, %" PRIu64 " control group, %" PRIu64 " never "
                "contacted\n", done.recorded, wave, done.replaced, done.contacted, done.control,
                done.others);
    return 0;
}
