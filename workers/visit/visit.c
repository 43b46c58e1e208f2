/*  visit.c - wob-visit: the field-visit worker for account managers
    (docs/VISIT.md).

    An account manager's day: `sync` in the morning takes the orders of
    the grids they own from the broker and keeps them in a state directory,
    `sheet` prints the route, the manager visits, and `report` sends the
    outcomes written on the sheet.  Each command is one short session; in
    between, nobody is connected and the broker keeps the manager's leases
    for them (visit leases last days, and --keep-leases visit keeps them
    when a session ends without goodbye).

    This file is the options and the sync command; the state directory,
    the session, the sheet and the report each have their own file
    (visit.h).                                                          */

#include "visit.h"
#include <getopt.h>
#include <sys/stat.h>

#define S_MANAGER_MAX 58        //  "visit:" + id fits the broker's 64
#define S_PRUNE_MS    (30LL * 24 * 3600 * 1000)

typedef struct {
    const char *command;        //  sync, sheet, report
    const char *endpoint;       //  broker
    const char *state_dir;      //  --state, or NULL
    const char *manager;        //  --manager, or NULL
    const char *owns [64];      //  --owns, split at commas
    size_t n_owns;
    char *owns_text [64];       //  the copies owns point into
    size_t n_texts;
    uint32_t capacity;          //  sync: orders held at once
    int64_t wait_ms;            //  sync: longest time taking leases
    int64_t quiet_ms;           //  sync: done when no lease came for this long
    int64_t timeout_ms;         //  welcome, queries, acknowledgements
    uint32_t heartbeat_ms;      //  to the broker (0: the library's 1000)
    long crash_after;           //  tests: sync: SIGKILL after storing N orders;
                                //  report: SIGKILL once the reports are acknowledged
    const char *format;         //  sheet: csv or html
    const char *out;            //  sheet: file, or NULL for stdout
    bool bom;                   //  sheet: UTF-8 byte order mark (Excel)
    bool check;                 //  report: validate only
    const char *file;           //  report: the outcome CSV
} s_opts_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: wob-visit COMMAND [options]\n"
        "  sync --manager ID [--owns REGION]... [--capacity N]\n"
        "        take the manager's orders from the broker into the state directory\n"
        "  sheet [--format csv|html] [--out FILE] [--bom]\n"
        "        the route sheet of the held orders (CSV: fill in outcome, note,\n"
        "        appointment and report it)\n"
        "  report [--check] OUTCOMES.csv\n"
        "        send the outcomes (columns order_id,outcome[,note][,appointment])\n"
        "options:\n"
        "  --manager ID        the account manager (worker visit:ID)\n"
        "  --state DIR         state directory (default ~/.wob-visit/ID)\n"
        "  --endpoint E        broker (default $WOB_ENDPOINT or tcp://127.0.0.1:5570)\n"
        "  --owns REGION       region or grid owned, e.g. 广东/深圳/南山/G012 (repeatable or\n"
        "                      comma-separated; default: those of the last sync)\n"
        "  --capacity N        orders held at once, kept ones included (default 100)\n"
        "  --wait D            sync: take leases for at most D (default 30s)\n"
        "  --quiet D           sync: done when no lease came for D (default 1s)\n"
        "  --timeout D         broker answers, acknowledgements (default 10s)\n"
        "  --heartbeat-ms N    heartbeat to the broker (default 1000; at most the\n"
        "                      broker's --heartbeat-ms)\n"
        "  --check             report: check the file only, send nothing\n"
        "exit codes: 0 ok, 1 bad input, 2 broker unreachable or refusing\n");
}

static bool
s_valid_manager (const char *id)
{
    size_t len = strlen (id);
    return len && len <= S_MANAGER_MAX
        && strspn (id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
           == len;
}

//  A duration option: 0 on success, else prints why.
static int
s_duration (const char *option, const char *text, int64_t min, int64_t *value)
{
    *value = wob_parse_duration (text);
    if (*value < min) {
        fprintf (stderr, "wob-visit: %s '%s': expected a duration (500ms, 30s, 2m)\n", option,
                 text);
        return -1;
    }
    return 0;
}

static int
s_parse (s_opts_t *o, int argc, char **argv)
{
    static struct option options [] = {
        { "endpoint", required_argument, 0, 'e' }, { "state", required_argument, 0, 's' },
        { "manager", required_argument, 0, 'm' }, { "owns", required_argument, 0, 'w' },
        { "capacity", required_argument, 0, 'k' }, { "wait", required_argument, 0, 'W' },
        { "quiet", required_argument, 0, 'q' }, { "timeout", required_argument, 0, 't' },
        { "crash-after", required_argument, 0, 'x' }, { "format", required_argument, 0, 'f' },
        { "out", required_argument, 0, 'o' }, { "bom", no_argument, 0, 'b' },
        { "check", no_argument, 0, 'c' }, { "heartbeat-ms", required_argument, 0, 'H' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    int c;
    char *end;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (c) {
            case 'e': o->endpoint = optarg; break;
            case 's': o->state_dir = optarg; break;
            case 'm': o->manager = optarg; break;
            case 'w': {
                if (o->n_texts == 64)
                    break;
                char *text = o->owns_text [o->n_texts++] = strdup (optarg), *save = NULL;
                for (char *tok = strtok_r (text, ",", &save); tok && o->n_owns < 64;
                     tok = strtok_r (NULL, ",", &save))
                    o->owns [o->n_owns++] = tok;
                break;
            }
            case 'k': {
                unsigned long n = strtoul (optarg, &end, 10);
                if (*end || !*optarg || n < 1 || n > 100000) {
                    fprintf (stderr, "wob-visit: --capacity '%s': expected 1 to 100000\n",
                             optarg);
                    return -1;
                }
                o->capacity = (uint32_t) n;
                break;
            }
            case 'W': if (s_duration ("--wait", optarg, 0, &o->wait_ms)) return -1; break;
            case 'q': if (s_duration ("--quiet", optarg, 1, &o->quiet_ms)) return -1; break;
            case 't': if (s_duration ("--timeout", optarg, 1, &o->timeout_ms)) return -1; break;
            case 'x': o->crash_after = atol (optarg); break;
            case 'f': o->format = optarg; break;
            case 'o': o->out = optarg; break;
            case 'b': o->bom = true; break;
            case 'c': o->check = true; break;
            case 'H': {
                unsigned long n = strtoul (optarg, &end, 10);
                if (*end || !*optarg || n < 10 || n > 60000) {
                    fprintf (stderr, "wob-visit: --heartbeat-ms '%s': expected 10 to 60000\n",
                             optarg);
                    return -1;
                }
                o->heartbeat_ms = (uint32_t) n;
                break;
            }
            case 'h': s_usage (stdout); exit (0);
            default:  return -1;
        }
    }
    return 0;
}

//  The state directory: --state, else ~/.wob-visit/MANAGER.
static int
s_state_dir (s_opts_t *o, char *path, size_t size, bool create)
{
    if (o->state_dir) {
        snprintf (path, size, "%s", o->state_dir);
        return 0;
    }
    const char *home = getenv ("HOME");
    if (!o->manager || !home || !*home) {
        fprintf (stderr, "wob-visit: %s needs --state DIR or --manager ID (state in "
                 "~/.wob-visit/ID)\n", o->command);
        return -1;
    }
    snprintf (path, size, "%s/.wob-visit", home);
    if (create && mkdir (path, 0700) && errno != EEXIST) {
        fprintf (stderr, "wob-visit: cannot create %s: %s\n", path, strerror (errno));
        return -1;
    }
    snprintf (path, size, "%s/.wob-visit/%s", home, o->manager);
    return 0;
}

static int
s_sync (s_opts_t *o, state_t *state)
{
    const char **owns = o->owns;
    size_t n_owns = o->n_owns;
    if (!n_owns)
        n_owns = state_owns (state, &owns);
    if (!n_owns) {
        fprintf (stderr, "wob-visit: the first sync needs --owns REGION (e.g. "
                 "广东/深圳/南山/G012)\n");
        return VISIT_BAD_INPUT;
    }
    for (size_t i = 0; i < n_owns; i++)
        if (!*owns [i] || strlen (owns [i]) > 200 || strpbrk (owns [i], "\r\n")) {
            fprintf (stderr, "wob-visit: --owns '%.200s' is not a region (one line, 1 to 200 "
                     "bytes)\n", owns [i]);
            return VISIT_BAD_INPUT;
        }
    char err [WOB_ERRLEN], name [80];
    state_prune (state, S_PRUNE_MS);
    snprintf (name, sizeof (name), "visit:%s", o->manager);
    session_config_t config = {
        .endpoint = o->endpoint, .name = name, .owns = owns, .n_owns = n_owns,
        .capacity = o->capacity, .timeout_ms = (int) o->timeout_ms,
        .heartbeat_ms = o->heartbeat_ms
    };
    size_t kept, fresh = 0, renewed = 0, n_revoked = 0;
    int status;
    session_t *session = session_open (&config, state, &status, err);
    if (!session) {
        fprintf (stderr, "wob-visit: %s\n", err);
        return status;
    }
    //  The broker accepted what the manager owns: record it (before the
    //  first lease is stored, so the directory always says whose it is)
    revoked_t *revoked = NULL;
    int rc = 0;
    if (o->n_owns || !*state_manager (state))
        rc = state_set_manager (state, o->manager, o->owns, o->n_owns, err);
    if (!rc)
        rc = session_take (session, (int) o->quiet_ms, (int) o->wait_ms, o->crash_after,
                           &fresh, &renewed, err);
    if (!rc)
        rc = session_reconcile (session, &revoked, &n_revoked, err);
    //  Appointments: orders that came back at the time the manager booked
    size_t appointments = 0;
    size_t n_ids;
    uint64_t *ids = state_ids (state, &n_ids);
    for (size_t i = 0; i < n_ids; i++) {
        Wob__Order *order = state_order (state, ids [i])->order;
        if (order->callback_at_ms > 0 && order->attempts > 1)
            appointments++;
    }
    free (ids);
    session_detach (&session);
    for (size_t i = 0; i < n_revoked; i++)
        printf ("order %" PRIu64 " revoked: %s%s\n", revoked [i].id, revoked [i].reported?
                "reported by an earlier run: ": "taken back by the broker, ", revoked [i].what);
    free (revoked);
    if (rc) {
        fprintf (stderr, "wob-visit: %s\n", err);
        return rc == WOB_ERR_UNREACHABLE? VISIT_BROKER: VISIT_BAD_INPUT;
    }
    kept = state_size (state) > fresh + renewed? state_size (state) - fresh - renewed: 0;
    char renewed_text [64] = "";
    if (renewed)
        snprintf (renewed_text, sizeof (renewed_text), ", renewed %zu", renewed);
    printf ("%s: held %zu (new %zu, kept %zu%s), revoked %zu, appointments %zu\n", name,
            state_size (state), fresh, kept, renewed_text, n_revoked, appointments);
    if (renewed)
        printf ("%s: %zu held order%s came back from the broker at a new attempt (the broker "
                "had taken %s back): print a new sheet\n", name, renewed,
                renewed == 1? "": "s", renewed == 1? "it": "them");
    if (state_size (state) >= o->capacity)
        printf ("%s: capacity %u reached: more orders wait for a later sync\n", name,
                o->capacity);
    return VISIT_OK;
}

static int
s_sheet (s_opts_t *o, state_t *state)
{
    char err [WOB_ERRLEN], tmp [PATH_MAX];
    FILE *out = stdout;
    if (o->out) {
        snprintf (tmp, sizeof (tmp), "%s.tmp-%d", o->out, (int) getpid ());
        if (!(out = fopen (tmp, "w"))) {
            fprintf (stderr, "wob-visit: cannot write %s: %s\n", tmp, strerror (errno));
            return VISIT_BAD_INPUT;
        }
    }
    int rc = sheet_write (state, o->format, o->bom, out, err);
    if (o->out) {
        if (fclose (out) && !rc)
            rc = wob_fail (err, WOB_ERR_IO, "cannot write %s: %s", tmp, strerror (errno));
        if (!rc && rename (tmp, o->out))
            rc = wob_fail (err, WOB_ERR_IO, "cannot rename %s to %s: %s", tmp, o->out,
                           strerror (errno));
        if (rc)
            unlink (tmp);
    }
    if (rc) {
        fprintf (stderr, "wob-visit: %s\n", err);
        return VISIT_BAD_INPUT;
    }
    if (o->out)
        fprintf (stderr, "wob-visit: %zu order%s written to %s\n", state_size (state),
                 state_size (state) == 1? "": "s", o->out);
    return VISIT_OK;
}

int
main (int argc, char *argv [])
{
    s_opts_t o = {
        .endpoint = getenv ("WOB_ENDPOINT"), .capacity = 100, .wait_ms = 30000,
        .quiet_ms = 1000, .timeout_ms = 10000, .format = "csv"
    };
    if (!o.endpoint || !*o.endpoint)
        o.endpoint = "tcp://127.0.0.1:5570";
    if (argc < 2 || streq (argv [1], "--help") || streq (argv [1], "-h")) {
        s_usage (argc < 2? stderr: stdout);
        return argc < 2? VISIT_BAD_INPUT: VISIT_OK;
    }
    o.command = argv [1];
    int status = VISIT_BAD_INPUT;
    state_t *state = NULL;
    if (!streq (o.command, "sync") && !streq (o.command, "sheet")
    &&  !streq (o.command, "report")) {
        fprintf (stderr, "wob-visit: unknown command '%s'\n", o.command);
        s_usage (stderr);
        goto done;
    }
    if (s_parse (&o, argc - 1, argv + 1))
        goto done;
    int rest = argc - 1 - optind;
    if (streq (o.command, "report") && rest == 1)
        o.file = argv [1 + optind];
    else
    if (rest > 0) {
        fprintf (stderr, "wob-visit: %s: unexpected argument '%s'\n", o.command,
                 argv [1 + optind]);
        goto done;
    }
    if (streq (o.command, "report") && !o.file) {
        fprintf (stderr, "usage: wob-visit report [--check] OUTCOMES.csv\n");
        goto done;
    }
    if (streq (o.command, "sync") && !o.manager) {
        fprintf (stderr, "wob-visit: sync needs --manager ID\n");
        goto done;
    }
    if (o.manager && !s_valid_manager (o.manager)) {
        fprintf (stderr, "wob-visit: --manager '%.80s': 1 to %d letters, digits, '.', '_', "
                 "'-' or '@'\n", o.manager, S_MANAGER_MAX);
        goto done;
    }
    zsys_init ();
    zsys_set_logident ("wob-visit");
    zsys_set_logstream (stderr);
    char dir [PATH_MAX], err [WOB_ERRLEN];
    bool sync = streq (o.command, "sync");
    if (s_state_dir (&o, dir, sizeof (dir), sync))
        goto done;
    if (!(state = state_open (dir, sync, err))) {
        fprintf (stderr, "wob-visit: %s\n", err);
        goto done;
    }
    fputs (state_warnings (state), stderr);
    const char *manager = state_manager (state);
    if (o.manager && *manager && !streq (o.manager, manager)) {
        fprintf (stderr, "wob-visit: state directory %s belongs to manager %s, not %s\n", dir,
                 manager, o.manager);
        goto done;
    }
    if (sync)
        status = s_sync (&o, state);
    else
    if (streq (o.command, "sheet"))
        status = s_sheet (&o, state);
    else {
        if (!*manager) {
            fprintf (stderr, "wob-visit: state directory %s has no manager yet: run "
                     "'wob-visit sync' first\n", dir);
            goto done;
        }
        char name [80];
        snprintf (name, sizeof (name), "visit:%s", manager);
        report_opts_t opts = {
            .path = o.file, .dry_run = o.check, .crash = o.crash_after > 0, .session = {
                .endpoint = o.endpoint, .name = name,
                .capacity = state_size (state)? (uint32_t) state_size (state): 1,
                .timeout_ms = (int) o.timeout_ms, .heartbeat_ms = o.heartbeat_ms
            }
        };
        opts.session.n_owns = state_owns (state, &opts.session.owns);
        status = report_run (state, &opts);
    }
done:
    state_destroy (&state);
    for (size_t i = 0; i < o.n_texts; i++)
        free (o.owns_text [i]);
    return status;
}
