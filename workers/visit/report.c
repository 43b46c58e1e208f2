/*  report.c - wob-visit report: the day's outcomes, all or nothing.

    The outcome file is a CSV with the columns order_id and outcome, and
    optionally note and appointment; other columns are ignored, so the
    route sheet's CSV with its last three columns filled in is an outcome
    file.  A row with an empty outcome is an order not visited yet and is
    left alone.

    Every row is checked before anything is sent, and every error names the
    file, the line and the field ("outcomes.csv:7: field 'outcome':
    'acceptd' is not one of ...").  One error and nothing is reported (exit
    1), like `wobctl suppress import`.  Then the session claims the held
    orders; an order of the file that the broker took back meanwhile is an
    error too, still before anything is sent.

    Running the same file twice reports nothing twice.  A reported order
    leaves the state's held orders and its outcome is kept in reported/;
    a row that repeats a reported outcome (same outcome, note and
    appointment; and same attempt when the file has the sheet's attempt
    column) is skipped with a message, and a row that contradicts one is
    an error.  An appointment that brought the order back is a new
    attempt: the order is held again and a different outcome for it is a
    new report.  A run that dies after sending is safe to repeat: the
    broker treats a resent report as a no-op, and a report it recorded is
    recognised at the next hello (session_reconcile).

    The worker library acknowledges refused reports like recorded ones
    (and logs them), so after the acknowledgements every report is checked
    with a status query: recorded means the order's outcome, attempt and
    worker are ours.                                                     */

#include "visit.h"
#include "wob_csv.h"
#include <signal.h>
#include <strings.h>

#define S_NOTE_MAX   1000                       //  bytes, as the call console
#define S_YEAR_MS    (366LL * 24 * 3600 * 1000)
#define S_BOUNCE_MS  500                        //  wait for orders given back

static const int s_outcomes [] = {
    WOB__OUTCOME__OUTCOME_ACCEPTED, WOB__OUTCOME__OUTCOME_INTERESTED,
    WOB__OUTCOME__OUTCOME_DECLINED, WOB__OUTCOME__OUTCOME_UNREACHABLE,
    WOB__OUTCOME__OUTCOME_WRONG_NUMBER, WOB__OUTCOME__OUTCOME_CALLBACK,
    WOB__OUTCOME__OUTCOME_FAILED
};
#define S_OUTCOME_COUNT (sizeof (s_outcomes) / sizeof (s_outcomes [0]))
#define S_OUTCOME_LIST "accepted, interested, declined, unreachable, wrong_number, callback, " \
                       "failed"

typedef struct {
    uint64_t line;              //  where the row starts in the file
    uint64_t id;                //  order
    int outcome;                //  Wob__Outcome
    char *note;
    int64_t appointment_ms;     //  callback only, else 0
    uint32_t attempt;           //  from the stored lease
    uint32_t file_attempt;      //  from the file's attempt column, or 0
    bool skip;                  //  already reported, same outcome
} s_row_t;

typedef struct {
    const char *path;           //  the file, as named in messages
    s_row_t *rows;              //  rows with an outcome
    size_t n_rows, cap;
    size_t blank;               //  rows without an outcome
    size_t errors;              //  errors printed
    size_t skipped;             //  already reported
} s_file_t;

static void
s_error (s_file_t *file, uint64_t line, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_error (s_file_t *file, uint64_t line, const char *fmt, ...)
{
    char text [WOB_ERRLEN];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (text, sizeof (text), fmt, ap);
    va_end (ap);
    if (line)
        fprintf (stderr, "%s:%" PRIu64 ": %s\n", file->path, line, text);
    else
        fprintf (stderr, "%s: %s\n", file->path, text);
    file->errors++;
}

//  Trims blanks in place.
static char *
s_trim (char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen (s);
    while (len && (s [len - 1] == ' ' || s [len - 1] == '\t'))
        s [--len] = 0;
    return s;
}

static int
s_outcome (const char *name)
{
    for (size_t i = 0; i < S_OUTCOME_COUNT; i++)
        if (strcasecmp (name, wob_outcome_name (s_outcomes [i])) == 0)
            return s_outcomes [i];
    return -1;
}

static bool
s_same (const Wob__OutcomeItem *done, const s_row_t *row)
{
    return done->outcome == (Wob__Outcome) row->outcome && streq (done->note, row->note)
        && done->callback_at_ms == row->appointment_ms;
}

//  Says that a row repeats a reported outcome, and marks it skipped.
static void
s_skip (s_file_t *file, s_row_t *row, int64_t at_ms)
{
    char when [32];
    printf ("%s:%" PRIu64 ": order %" PRIu64 " already reported (%s, %s), skipped\n",
            file->path, row->line, row->id, wob_outcome_name (row->outcome),
            at_ms? wob_format_time (at_ms, when, sizeof (when)): "earlier");
    row->skip = true;
    file->skipped++;
}

//  Is the row the report done already?  With an attempt column (the route
//  sheet has one) the attempts must match; without, a row identical to the
//  order's last report is taken for a repeat.
static bool
s_repeat (const Wob__OutcomeItem *done, const s_row_t *row)
{
    return done && s_same (done, row) && (!row->file_attempt
                                          || row->file_attempt == done->attempt);
}

//  Checks a row against what the state holds and has reported.
static void
s_check_held (s_file_t *file, state_t *state, s_row_t *row, int64_t now)
{
    int64_t at_ms;
    char when [32];
    Wob__OutcomeItem *done = state_reported (state, row->id, &at_ms);
    Wob__LeaseItem *lease = state_order (state, row->id);
    if (s_repeat (done, row)) {
        s_skip (file, row, at_ms);
        return;
    }
    if (done && (!lease || row->file_attempt == done->attempt)) {
        s_error (file, row->line, "field 'order_id': order %" PRIu64 " attempt %u was "
                 "already reported as %s on %s (this row says %s)", row->id, done->attempt,
                 wob_outcome_name (done->outcome), wob_format_time (at_ms, when, sizeof (when)),
                 wob_outcome_name (row->outcome));
        return;
    }
    if (!lease) {
        s_error (file, row->line, "field 'order_id': order %" PRIu64 " is not held by "
                 "manager %s (not in %s: run 'wob-visit sync', or check the id)", row->id,
                 state_manager (state), state_dir (state));
        return;
    }
    row->attempt = lease->order->attempts;
    if (row->outcome == WOB__OUTCOME__OUTCOME_CALLBACK && row->appointment_ms <= now)
        s_error (file, row->line, "field 'appointment': %s is in the past",
                 wob_format_time (row->appointment_ms, when, sizeof (when)));
}

//  Reads and checks the whole file; errors are printed and counted.
static void
s_load (s_file_t *file, state_t *state)
{
    char err [WOB_ERRLEN];
    wob_csv_t *csv = wob_csv_open (file->path, err);
    if (!csv || wob_csv_header (csv, err)) {
        fprintf (stderr, "%s\n", err);
        file->errors++;
        wob_csv_destroy (&csv);
        return;
    }
    int c_id = wob_csv_column (csv, "order_id"), c_outcome = wob_csv_column (csv, "outcome");
    int c_note = wob_csv_column (csv, "note"), c_when = wob_csv_column (csv, "appointment");
    int c_attempt = wob_csv_column (csv, "attempt");
    if (c_id < 0 || c_outcome < 0) {
        s_error (file, 1, "header has no '%s' column (needed: order_id, outcome; optional: "
                 "note, appointment)", c_id < 0? "order_id": "outcome");
        wob_csv_destroy (&csv);
        return;
    }
    zhashx_t *lines = wob_idmap_new (NULL);     //  order id -> first line
    int64_t now = wob_now_ms ();
    char **fields;
    size_t count;
    wob_row_t rc;
    while ((rc = wob_csv_next (csv, &fields, &count, err)) != WOB_ROW_EOF) {
        if (rc != WOB_ROW_OK) {
            fprintf (stderr, "%s\n", err);
            file->errors++;
            if (rc == WOB_ROW_FATAL)
                break;
            continue;
        }
        uint64_t line = wob_csv_line (csv);
        char *id_text = s_trim (fields [c_id]), *outcome = s_trim (fields [c_outcome]);
        char *note = c_note >= 0? fields [c_note]: "";
        char *when = c_when >= 0? s_trim (fields [c_when]): "";
        if (!*outcome) {
            if (*when || *s_trim (note))
                s_error (file, line, "field 'outcome': empty, but the row has %s (fill in "
                         "the outcome, or clear the row)", *when? "an appointment": "a note");
            else
                file->blank++;
            continue;
        }
        s_row_t row = { .line = line };
        size_t errors = file->errors;
        size_t digits = strspn (id_text, "0123456789");
        if (!*id_text || digits != strlen (id_text) || digits > 19
        ||  !(row.id = strtoull (id_text, NULL, 10)))
            s_error (file, line, "field 'order_id': '%.40s' is not an order id", id_text);
        char *attempt = c_attempt >= 0? s_trim (fields [c_attempt]): "";
        if (*attempt && (strspn (attempt, "0123456789") != strlen (attempt)
                     ||  strlen (attempt) > 9 || !(row.file_attempt = atoi (attempt))))
            s_error (file, line, "field 'attempt': '%.40s' is not an attempt number", attempt);
        if ((row.outcome = s_outcome (outcome)) < 0)
            s_error (file, line, "field 'outcome': '%.40s' is not one of " S_OUTCOME_LIST,
                     outcome);
        if (strlen (note) > S_NOTE_MAX)
            s_error (file, line, "field 'note': %zu bytes long; at most %d", strlen (note),
                     S_NOTE_MAX);
        if (row.outcome == WOB__OUTCOME__OUTCOME_CALLBACK) {
            char when_text [32];
            if (!*when)
                s_error (file, line, "field 'appointment': required with outcome callback "
                         "(when to come back: an ISO 8601 time like 2026-11-25T14:30 or "
                         "epoch seconds)");
            else
            if (wob_parse_time (when, &row.appointment_ms))
                s_error (file, line, "field 'appointment': '%.40s' is not a time (ISO 8601 "
                         "like 2026-11-25T14:30, 2026-11-25 14:30+08:00, or epoch seconds)",
                         when);
            else
            if (row.appointment_ms > now + S_YEAR_MS)
                s_error (file, line, "field 'appointment': %s is more than a year ahead",
                         wob_format_time (row.appointment_ms, when_text, sizeof (when_text)));
        }
        else
        if (*when && row.outcome > 0)
            s_error (file, line, "field 'appointment': only with outcome callback (the "
                     "outcome is %s)", wob_outcome_name (row.outcome));
        if (row.id) {
            uint64_t first = (uint64_t) (uintptr_t) zhashx_lookup (lines, WOB_ID_KEY (row.id));
            if (first)
                s_error (file, line, "field 'order_id': order %" PRIu64 " is already on "
                         "line %" PRIu64, row.id, first);
            else
                zhashx_insert (lines, WOB_ID_KEY (row.id), WOB_ID_KEY (line));
        }
        if (file->errors > errors)
            continue;
        row.note = strdup (note);
        s_check_held (file, state, &row, now);
        if (file->n_rows == file->cap)
            file->rows = realloc (file->rows, (file->cap = file->cap? file->cap * 2: 64)
                                  * sizeof (s_row_t));
        file->rows [file->n_rows++] = row;
    }
    zhashx_destroy (&lines);
    wob_csv_destroy (&csv);
}

static s_row_t *
s_find (s_file_t *file, uint64_t id)
{
    for (size_t i = 0; i < file->n_rows; i++)
        if (file->rows [i].id == id)
            return &file->rows [i];
    return NULL;
}

//  Orders the broker took back since the last run: those in the file are
//  errors (or, when our own report reached the broker, skipped rows).
static void
s_revoked (s_file_t *file, state_t *state, revoked_t *revoked, size_t n_revoked)
{
    for (size_t i = 0; i < n_revoked; i++) {
        revoked_t *r = &revoked [i];
        s_row_t *row = s_find (file, r->id);
        if (!row || row->skip) {
            printf ("order %" PRIu64 ": %s; removed from the held orders\n", r->id,
                    r->reported? "reported by an earlier run": r->what);
            continue;
        }
        int64_t at_ms;
        Wob__OutcomeItem *done = r->reported? state_reported (state, r->id, &at_ms): NULL;
        if (s_repeat (done, row))
            s_skip (file, row, at_ms);
        else
        if (done)
            s_error (file, row->line, "field 'order_id': order %" PRIu64 " was already "
                     "reported as %s by an earlier run (this row says %s)", r->id, r->what,
                     wob_outcome_name (row->outcome));
        else
            s_error (file, row->line, "field 'order_id': order %" PRIu64 " is no longer held: "
                     "the broker took it back (%s)", r->id, r->what);
    }
}

//  Waits for the acknowledgements, then checks each report with the broker.
static int
s_confirm (s_file_t *file, session_t *session, state_t *state, const char *name,
           int timeout_ms, bool crash, size_t *recorded, size_t *by_outcome)
{
    wob_worker_t *worker = session_worker (session);
    int64_t deadline = zclock_mono () + timeout_ms;
    while (wob_worker_unacked (worker) && zclock_mono () < deadline && !zsys_interrupted)
        wob_worker_poll (worker, 50);
    if (wob_worker_unacked (worker)) {
        fprintf (stderr, "wob-visit: %zu report%s not acknowledged by the broker within %d "
                 "ms; run the same report again (what reached the broker is recognised)\n",
                 wob_worker_unacked (worker), wob_worker_unacked (worker) == 1? "": "s",
                 timeout_ms);
        return VISIT_BROKER;
    }
    if (crash) {
        fprintf (stderr, "wob-visit: crashing on purpose after the acknowledgements\n");
        raise (SIGKILL);
    }
    char err [WOB_ERRLEN];
    for (size_t i = 0; i < file->n_rows; i++) {
        s_row_t *row = &file->rows [i];
        if (row->skip)
            continue;
        Wob__Order *order;
        int rc = session_query (session, row->id, &order, err);
        if (rc == WOB_ERR_UNREACHABLE) {
            fprintf (stderr, "wob-visit: cannot confirm the reports: %s; run the same report "
                     "again\n", err);
            return VISIT_BROKER;
        }
        bool ours = order && order->outcome == (Wob__Outcome) row->outcome
                 && order->outcome_attempt == row->attempt && streq (order->outcome_worker, name);
        if (ours) {
            Wob__OutcomeItem item = WOB__OUTCOME_ITEM__INIT;
            item.order_id = row->id;
            item.attempt = row->attempt;
            item.outcome = row->outcome;
            item.note = row->note;
            item.callback_at_ms = row->appointment_ms;
            rc = state_mark_reported (state, &item, err);
            if (rc)
                fprintf (stderr, "wob-visit: %s\n", err);
            (*recorded)++;
            by_outcome [row->outcome]++;
        }
        else {
            s_error (file, row->line, "order %" PRIu64 ": the broker refused the report (it "
                     "is %s, attempt %u, holder %s)", row->id,
                     order? wob_state_name (order->state): "unknown",
                     order? order->attempts: 0, order && *order->worker? order->worker: "none");
            if (!order || order->state != WOB__STATE__STATE_DISPATCHED
            ||  !streq (order->worker, name))
                state_drop (state, row->id, err);
        }
        if (order)
            wob__order__free_unpacked (order, NULL);
    }
    return file->errors? VISIT_BAD_INPUT: VISIT_OK;
}

int
report_run (state_t *state, report_opts_t *opts)
{
    s_file_t file = { .path = opts->path };
    session_t *session = NULL;
    int status = VISIT_BAD_INPUT;
    char err [WOB_ERRLEN];
    s_load (&file, state);
    size_t to_send = file.n_rows - file.skipped;
    if (file.errors) {
        fprintf (stderr, "wob-visit: %s: %zu error%s; nothing was reported\n", file.path,
                 file.errors, file.errors == 1? "": "s");
        goto done;
    }
    if (opts->dry_run || to_send == 0) {
        printf ("%s: %zu outcome%s to report, %zu already reported, %zu row%s left blank%s\n",
                file.path, to_send, to_send == 1? "": "s", file.skipped, file.blank,
                file.blank == 1? "": "s", opts->dry_run? " (checked only)": "");
        status = VISIT_OK;
        goto done;
    }
    session = session_open (&opts->session, state, &status, err);
    if (!session) {
        fprintf (stderr, "wob-visit: %s; nothing was reported\n", err);
        goto done;
    }
    //  Orders the broker took back (lease expired) go to their region's
    //  owner again, that is to us, at once: wait for them so that their
    //  rows can be reported at the new attempt.
    int rc = 0;
    size_t fresh = 0;
    if (wob_worker_held (session_worker (session)) < session_claimed (session))
        rc = session_take (session, S_BOUNCE_MS, opts->session.timeout_ms, 0, &fresh, NULL,
                           err);
    revoked_t *revoked = NULL;
    size_t n_revoked = 0;
    if (!rc)
        rc = session_reconcile (session, &revoked, &n_revoked, err);
    s_revoked (&file, state, revoked, n_revoked);
    free (revoked);
    for (size_t i = 0; i < file.n_rows; i++) {
        Wob__LeaseItem *lease = state_order (state, file.rows [i].id);
        if (lease)
            file.rows [i].attempt = lease->order->attempts;
    }
    if (rc) {
        fprintf (stderr, "wob-visit: %s; nothing was reported\n", err);
        status = rc == WOB_ERR_UNREACHABLE? VISIT_BROKER: VISIT_BAD_INPUT;
        goto done;
    }
    if (file.errors) {
        fprintf (stderr, "wob-visit: %s: %zu error%s; nothing was reported\n", file.path,
                 file.errors, file.errors == 1? "": "s");
        status = VISIT_BAD_INPUT;
        goto done;
    }
    wob_worker_t *worker = session_worker (session);
    size_t sent = 0;
    for (size_t i = 0; i < file.n_rows; i++) {
        s_row_t *row = &file.rows [i];
        if (row->skip)
            continue;
        wob_worker_report (worker, row->id, row->attempt, row->outcome, row->note,
                           row->appointment_ms);
        sent++;
    }
    size_t recorded = 0, by_outcome [WOB__OUTCOME__OUTCOME_UNDELIVERED + 1] = { 0 };
    if (sent)
        status = s_confirm (&file, session, state, opts->session.name,
                            opts->session.timeout_ms, opts->crash, &recorded, by_outcome);
    else
        status = VISIT_OK;
    //  An appointment that came due, or a new order, may have been leased
    //  meanwhile: keep it for the next sheet.
    if (session_take (session, 0, 0, 0, &fresh, NULL, err))
        fprintf (stderr, "wob-visit: %s\n", err);
    printf ("%s: reported %zu outcome%s", opts->session.name, recorded, recorded == 1? "": "s");
    const char *sep = " (";
    for (size_t i = 0; i < S_OUTCOME_COUNT; i++)
        if (by_outcome [s_outcomes [i]]) {
            printf ("%s%s %zu", sep, wob_outcome_name (s_outcomes [i]),
                    by_outcome [s_outcomes [i]]);
            sep = ", ";
        }
    printf ("%s; %zu already reported, skipped; %zu row%s left blank; %zu order%s held%s\n",
            *sep == ','? ")": "", file.skipped, file.blank, file.blank == 1? "": "s",
            state_size (state), state_size (state) == 1? "": "s",
            fresh? " (new ones arrived: print a new sheet)": "");
    if (file.errors)
        fprintf (stderr, "wob-visit: %s: %zu report%s refused by the broker\n", file.path,
                 file.errors, file.errors == 1? "": "s");
done:
    session_detach (&session);
    for (size_t i = 0; i < file.n_rows; i++)
        free (file.rows [i].note);
    free (file.rows);
    return status;
}
