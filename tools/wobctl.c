/*  wobctl - the command line for campaign systems, analysts and operators.

    Every command talks to the broker through the client library and has two
    outputs: aligned tables for people and --json for scripts.  Exit codes:
    0 ok, 1 refused or invalid input, 2 broker unreachable.                */

#include "wobctl.h"
#include "wob_targets.h"
#include <getopt.h>
#include <unistd.h>

static int
s_exit_code (int rc)
{
    return rc == WOB_OK? 0: rc == WOB_ERR_UNREACHABLE? 2: 1;
}

int
ctl_fail (int rc, const char *err)
{
    fprintf (stderr, "wobctl: %s\n", err);
    return s_exit_code (rc);
}

static wob_client_t *
s_client (ctl_t *ctl)
{
    if (!ctl->client)
        ctl->client = wob_client_new (ctl->endpoint, ctl->timeout_ms);
    return ctl->client;
}

Wob__Envelope *
ctl_request (ctl_t *ctl, Wob__Envelope__BodyCase body_case, void *body, int *exit_p)
{
    Wob__Envelope req = WOB__ENVELOPE__INIT;
    req.body_case = body_case;
    req.error = (Wob__Error *) body;        //  every oneof member is a pointer
    int rc;
    char err [WOB_ERRLEN];
    Wob__Envelope *reply = wob_client_request (s_client (ctl), &req, &rc, err);
    *exit_p = reply? 0: ctl_fail (rc, err);
    return reply;
}

//  --- submit -------------------------------------------------------------

static void
s_progress (void *arg, uint64_t durable, uint64_t total)
{
    if (arg) {
        //  --progress: one line per acknowledged chunk, for scripts
        fprintf (stderr, "durable %" PRIu64 " of %" PRIu64 "\n", durable, total);
        return;
    }
    if (!isatty (STDERR_FILENO) || total == 0)
        return;
    int width = 40, filled = (int) (durable * width / total);
    fprintf (stderr, "\r  [");
    for (int i = 0; i < width; i++)
        fputc (i < filled? '#': '.', stderr);
    fprintf (stderr, "] %" PRIu64 "/%" PRIu64 " rows durable", durable, total);
    if (durable >= total)
        fputc ('\n', stderr);
}

static bool s_skipping;         //  --skip-bad-rows given

static void
s_bad_row (void *arg, const char *message)
{
    (void) arg;
    fprintf (stderr, "wobctl: %s: %s\n", s_skipping? "skipped": "bad row", message);
}

static void
s_counts_json (const char *name, Wob__Count **counts, size_t n)
{
    printf (", \"%s\": {", name);
    for (size_t i = 0; i < n; i++) {
        printf ("%s", i? ", ": "");
        wob_json_string (stdout, counts [i]->name);
        printf (": %" PRIu64, counts [i]->count);
    }
    printf ("}");
}

static int
s_submit (ctl_t *ctl, int argc, char **argv)
{
    wob_submit_opts_t opts = { .bad_row = s_bad_row, .progress = s_progress };
    static struct option options [] = {
        { "skip-bad-rows", no_argument, 0, 's' }, { "wave", required_argument, 0, 'w' },
        { "targets", required_argument, 0, 't' }, { "chunk", required_argument, 0, 'c' },
        { "progress", no_argument, 0, 'p' }, { 0, 0, 0, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (c) {
            case 's': opts.skip_bad_rows = s_skipping = true; break;
            case 'w': opts.wave_id = optarg; break;
            case 't': opts.targets_file = optarg; break;
            case 'c': opts.chunk_rows = (size_t) atol (optarg); break;
            case 'p': opts.arg = &opts; break;
            default: return 1;
        }
    }
    if (optind != argc - 1) {
        fprintf (stderr, "usage: wobctl submit [--skip-bad-rows] [--wave ID] [--targets CSV] "
                 "[--chunk ROWS] [--progress] WAVEFILE\n");
        return 1;
    }
    opts.wave_file = argv [optind];
    char err [WOB_ERRLEN];
    Wob__Envelope *reply;
    int rc = wob_client_submit (s_client (ctl), &opts, &reply, err);
    if (rc)
        return ctl_fail (rc, err);
    Wob__SubmitSummary *sum = reply->submit_summary;
    if (ctl->json) {
        printf ("{\"wave\": ");
        wob_json_string (stdout, sum->wave);
        printf (", \"received\": %" PRIu64 ", \"accepted\": %" PRIu64 ", \"queued\": %" PRIu64
                ", \"deferred\": %" PRIu64 ", \"merged\": %" PRIu64 ", \"filtered\": %" PRIu64,
                sum->received, sum->accepted, sum->queued, sum->deferred, sum->merged,
                sum->filtered);
        printf (", \"control\": %" PRIu64, sum->control);
        s_counts_json ("filtered_by_rule", sum->filtered_by_rule, sum->n_filtered_by_rule);
        s_counts_json ("deferred_by_rule", sum->deferred_by_rule, sum->n_deferred_by_rule);
        s_counts_json ("by_channel", sum->by_channel, sum->n_by_channel);
        printf ("}\n");
    }
    else {
        printf ("wave %s submitted\n", sum->wave);
        printf ("  %-12s %10" PRIu64 "\n", "received", sum->received);
        printf ("  %-12s %10" PRIu64 "\n", "accepted", sum->accepted);
        printf ("  %-12s %10" PRIu64 "\n", "queued", sum->queued);
        printf ("  %-12s %10" PRIu64 "\n", "deferred", sum->deferred);
        for (size_t i = 0; i < sum->n_deferred_by_rule; i++)
            printf ("    by %-9s %10" PRIu64 "\n", sum->deferred_by_rule [i]->name,
                    sum->deferred_by_rule [i]->count);
        printf ("  %-12s %10" PRIu64 "\n", "merged", sum->merged);
        printf ("  %-12s %10" PRIu64 "\n", "filtered", sum->filtered);
        for (size_t i = 0; i < sum->n_filtered_by_rule; i++)
            printf ("    by %-9s %10" PRIu64 "\n", sum->filtered_by_rule [i]->name,
                    sum->filtered_by_rule [i]->count);
        printf ("  %-12s %10" PRIu64 "\n", "control", sum->control);
        printf ("  by channel:\n");
        for (size_t i = 0; i < sum->n_by_channel; i++)
            printf ("    %-10s %10" PRIu64 "\n", sum->by_channel [i]->name, sum->by_channel [i]->count);
    }
    wob_msg_free (&reply);
    return 0;
}

//  --- status ---------------------------------------------------------------

static void
s_counts_table (const char *title, Wob__Count **counts, size_t n, bool skip_zero)
{
    printf ("  %s\n", title);
    for (size_t i = 0; i < n; i++)
        if (counts [i]->count || !skip_zero)
            printf ("    %-14s %10" PRIu64 "\n", counts [i]->name, counts [i]->count);
}

static void
s_wave_print (ctl_t *ctl, Wob__WaveStatus *st)
{
    Wob__Wave *w = st->wave;
    if (ctl->json) {
        printf ("{\"wave\": ");
        wob_json_string (stdout, w->id);
        printf (", \"campaign\": ");
        wob_json_string (stdout, w->campaign);
        printf (", \"state\": \"%s\", \"rows\": %" PRIu64, wob_wave_state_name (w->state), w->rows);
        s_counts_json ("by_state", st->by_state, st->n_by_state);
        s_counts_json ("by_outcome", st->by_outcome, st->n_by_outcome);
        s_counts_json ("by_channel", st->by_channel, st->n_by_channel);
        s_counts_json ("by_rule", st->by_rule, st->n_by_rule);
        printf ("}\n");
        return;
    }
    char start [32], end [32];
    printf ("wave %s  campaign %s  kind %s  state %s\n", w->id, w->campaign,
            *w->kind? w->kind: "-", wob_wave_state_name (w->state));
    printf ("  window %s .. %s, %" PRIu64 " rows\n", wob_format_time (w->start_ms, start, 32),
            wob_format_time (w->end_ms, end, 32), w->rows);
    s_counts_table ("orders by state", st->by_state, st->n_by_state, true);
    s_counts_table ("outcomes reported", st->by_outcome, st->n_by_outcome, true);
    s_counts_table ("orders by channel", st->by_channel, st->n_by_channel, false);
    if (st->n_by_rule)
        s_counts_table ("decisions by rule", st->by_rule, st->n_by_rule, true);
}

static void
s_order_print (Wob__Order *o)
{
    Wob__Target *t = o->target;
    printf ("order %" PRIu64 "  %s  channel %s  wave %s  campaign %s\n", o->id,
            wob_state_name (o->state), *o->channel? o->channel: "-", o->wave, o->campaign);
    if (t) {
        printf ("  customer %s %s (%s)  %s/%s/%s/%s  arpu %.2f\n", t->msisdn, t->name,
                t->customer_id, t->province, t->city, t->district, t->grid, t->arpu);
        printf ("  offers");
        for (size_t i = 0; i < t->n_offers; i++)
            printf (" %s", t->offers [i]);
        printf ("\n");
    }
    printf ("  attempts %u  worker %s  outcome %s%s%s\n", o->attempts,
            *o->worker? o->worker: "-", wob_outcome_name (o->outcome),
            *o->outcome_note? "  note: ": "", o->outcome_note);
    printf ("  %-19s  %-11s  %-11s  %-14s  %s\n", "time", "from", "to", "actor", "reason");
    for (size_t i = 0; i < o->n_history; i++) {
        Wob__HistoryEntry *h = o->history [i];
        char when [32];
        printf ("  %-19s  %-11s  %-11s  %-14s  %s\n", wob_format_time (h->at_ms, when, 32),
                wob_state_name (h->from), wob_state_name (h->to), h->actor, h->reason);
    }
}

static int
s_status (ctl_t *ctl, int argc, char **argv)
{
    Wob__StatusQuery query = WOB__STATUS_QUERY__INIT;
    static struct option options [] = {
        { "msisdn", required_argument, 0, 'm' }, { "wave", required_argument, 0, 'w' },
        { 0, 0, 0, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        if (c == 'm')
            query.msisdn = optarg;
        else
        if (c == 'w')
            query.wave = optarg;
        else
            return 1;
    }
    if (optind == argc - 1) {
        char *end;
        query.order_id = strtoull (argv [optind], &end, 10);
        if (*end || !query.order_id) {
            fprintf (stderr, "wobctl: status: '%s' is not an order id\n", argv [optind]);
            return 1;
        }
    }
    else
    if (!query.msisdn && !query.wave) {
        fprintf (stderr, "usage: wobctl status ORDER_ID | --msisdn NUMBER | --wave WAVE\n");
        return 1;
    }
    int rc;
    Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_STATUS_QUERY, &query, &rc);
    if (!reply)
        return rc;
    if (reply->body_case == WOB__ENVELOPE__BODY_WAVE_STATUS)
        s_wave_print (ctl, reply->wave_status);
    else
    if (reply->body_case == WOB__ENVELOPE__BODY_ORDER_LIST) {
        Wob__OrderList *list = reply->order_list;
        if (ctl->json) {
            if (query.order_id && list->n_orders == 1)
                wob_order_json (stdout, list->orders [0]);
            else {
                printf ("[");
                for (size_t i = 0; i < list->n_orders; i++) {
                    printf ("%s", i? ",\n ": "");
                    wob_order_json (stdout, list->orders [i]);
                }
                printf ("]");
            }
            printf ("\n");
        }
        else {
            if (list->n_orders == 0)
                printf ("no orders for %s\n", query.msisdn);
            for (size_t i = 0; i < list->n_orders; i++) {
                printf ("%s", i? "\n": "");
                s_order_print (list->orders [i]);
            }
        }
    }
    wob_msg_free (&reply);
    return 0;
}

//  --- workers --------------------------------------------------------------

static int
s_workers (ctl_t *ctl, int argc, char **argv)
{
    Wob__WorkersQuery query = WOB__WORKERS_QUERY__INIT;
    if (argc > 1)
        query.channel = argv [1];
    int rc;
    Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_WORKERS_QUERY, &query, &rc);
    if (!reply)
        return rc;
    Wob__WorkerList *list = reply->worker_list;
    if (ctl->json) {
        printf ("{\"workers\": [");
        for (size_t i = 0; i < list->n_workers; i++) {
            Wob__WorkerInfo *w = list->workers [i];
            printf ("%s{\"id\": ", i? ",\n  ": "");
            wob_json_string (stdout, w->id);
            printf (", \"channel\": ");
            wob_json_string (stdout, w->channel);
            printf (", \"capacity\": %u, \"outstanding\": %u, \"assigned\": %" PRIu64
                    ", \"done\": %" PRIu64 ", \"last_seen_ms\": %" PRId64 ", \"owns\": [",
                    w->capacity, w->outstanding, w->assigned, w->done, w->last_seen_ms);
            for (size_t j = 0; j < w->n_owns; j++) {
                printf ("%s", j? ", ": "");
                wob_json_string (stdout, w->owns [j]);
            }
            printf ("]}");
        }
        printf ("],\n \"held\": [");
        for (size_t i = 0; i < list->n_held; i++) {
            printf ("%s{\"channel\": ", i? ", ": "");
            wob_json_string (stdout, list->held [i]->channel);
            printf (", \"reason\": ");
            wob_json_string (stdout, list->held [i]->reason);
            printf (", \"orders\": %" PRIu64 "}", list->held [i]->orders);
        }
        printf ("]}\n");
    }
    else {
        printf ("%-24s %-8s %8s %11s %10s %10s  %s\n", "worker", "channel", "capacity",
                "outstanding", "assigned", "done", "owns");
        for (size_t i = 0; i < list->n_workers; i++) {
            Wob__WorkerInfo *w = list->workers [i];
            printf ("%-24s %-8s %8u %11u %10" PRIu64 " %10" PRIu64 "  ", w->id, w->channel,
                    w->capacity, w->outstanding, w->assigned, w->done);
            for (size_t j = 0; j < w->n_owns; j++)
                printf ("%s%s", j? ",": "", w->owns [j]);
            printf ("%s\n", w->n_owns? "": "-");
        }
        printf ("%zu worker%s connected\n", list->n_workers, list->n_workers == 1? "": "s");
        for (size_t i = 0; i < list->n_held; i++)
            printf ("held in %s: %" PRIu64 " order%s (%s)\n", list->held [i]->channel,
                    list->held [i]->orders, list->held [i]->orders == 1? "": "s",
                    list->held [i]->reason);
    }
    wob_msg_free (&reply);
    return 0;
}

//  --- gen ---------------------------------------------------------------------

static int
s_gen (int argc, char **argv)
{
    uint64_t count = 1000, seed = 1;
    const char *out_path = NULL;
    static struct option options [] = {
        { "count", required_argument, 0, 'n' }, { "seed", required_argument, 0, 's' },
        { "out", required_argument, 0, 'o' }, { 0, 0, 0, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        if (c == 'n')
            count = strtoull (optarg, NULL, 10);
        else
        if (c == 's')
            seed = strtoull (optarg, NULL, 10);
        else
        if (c == 'o')
            out_path = optarg;
        else
            return 1;
    }
    FILE *out = out_path? fopen (out_path, "w"): stdout;
    if (!out) {
        fprintf (stderr, "wobctl: gen: cannot write %s: %s\n", out_path, strerror (errno));
        return 1;
    }
    int rc = wob_gen_write (out, count, seed);
    if (out != stdout)
        fclose (out);
    return rc? 1: 0;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: wobctl [--endpoint E] [--json] [--timeout-ms N] COMMAND ...\n"
        "  submit [--skip-bad-rows] [--wave ID] [--targets CSV] [--chunk ROWS] [--progress]\n"
        "         WAVEFILE\n"
        "  status ORDER_ID | --msisdn NUMBER | --wave WAVE\n"
        "  workers [CHANNEL]\n"
        "  gen [--count N] [--seed S] [--out FILE]   synthetic target CSV\n"
        "  suppress add MSISDN [--reason R] [--channel C] [--expires TIME] [--note TEXT]\n"
        "  suppress remove MSISDN [--channel C]\n"
        "  suppress import FILE     CSV: msisdn[,reason,channel,expires,note]\n"
        "  suppress list [MSISDN]\n"
        "  rules show | rules reload\n"
        "  pause WAVE | resume WAVE | cancel WAVE [--recall]\n"
        "  report --wave WAVE | --campaign CAMPAIGN [--by channel|region|worker|segment|day]\n"
        "         [--level province|city|district|grid] [--under REGION] [--csv]\n"
        "  outcome import --wave WAVE FILE.csv   later outcomes (msisdn,outcome) for uplift\n"
        "  clock advance DURATION   (broker started with --test-clock)\n"
        "  keygen FILE              a CurveZMQ key pair: FILE (public) and FILE_secret\n"
        "  backup DIR               the broker copies its store into DIR (admin; restore:\n"
        "                           start wob-broker --data DIR)\n"
        "exit codes: 0 ok, 1 refused or invalid input, 2 broker unreachable\n"
        "endpoint default: $WOB_ENDPOINT or tcp://127.0.0.1:5570\n"
        "CurveZMQ: $WOB_CURVE_SERVERKEY (the broker's public key) and $WOB_CURVE_CERT\n"
        "(this client's certificate from wobctl keygen)\n");
}

int
main (int argc, char *argv [])
{
    ctl_t ctl = { .endpoint = getenv ("WOB_ENDPOINT"), .timeout_ms = 5000 };
    if (!ctl.endpoint)
        ctl.endpoint = "tcp://127.0.0.1:5570";
    int i = 1;
    for (; i < argc && argv [i][0] == '-'; i++) {
        if (streq (argv [i], "--json"))
            ctl.json = true;
        else
        if (streq (argv [i], "--endpoint") && i + 1 < argc)
            ctl.endpoint = argv [++i];
        else
        if (streq (argv [i], "--timeout-ms") && i + 1 < argc)
            ctl.timeout_ms = atoi (argv [++i]);
        else
        if (streq (argv [i], "--help")) {
            s_usage (stdout);
            return 0;
        }
        else {
            fprintf (stderr, "wobctl: unknown option '%s'\n", argv [i]);
            s_usage (stderr);
            return 1;
        }
    }
    if (i >= argc) {
        s_usage (stderr);
        return 1;
    }
    //  --json may also follow the command
    int sub_argc = 0;
    char **sub_argv = calloc ((size_t) argc + 1, sizeof (char *));
    for (int j = i; j < argc; j++) {
        if (streq (argv [j], "--json"))
            ctl.json = true;
        else
            sub_argv [sub_argc++] = argv [j];
    }
    zsys_init ();
    zsys_set_logstream (NULL);
    const char *command = sub_argv [0];
    char err [WOB_ERRLEN];
    int rc;
    if (!streq (command, "gen") && !streq (command, "keygen") && wob_curve_check (err)) {
        fprintf (stderr, "wobctl: %s\n", err);
        free (sub_argv);
        return 1;
    }
    if (streq (command, "keygen")) {
        char key [41];
        rc = sub_argc == 2? wob_curve_keygen (sub_argv [1], key, err):
                            wob_fail (err, WOB_ERR_INVALID, "usage: wobctl keygen FILE");
        if (rc == 0)
            printf ("%s\n", key);
        else
            fprintf (stderr, "wobctl: %s\n", err);
        rc = rc? 1: 0;
    }
    else
    if (streq (command, "submit"))
        rc = s_submit (&ctl, sub_argc, sub_argv);
    else
    if (streq (command, "status"))
        rc = s_status (&ctl, sub_argc, sub_argv);
    else
    if (streq (command, "workers"))
        rc = s_workers (&ctl, sub_argc, sub_argv);
    else
    if (streq (command, "gen"))
        rc = s_gen (sub_argc, sub_argv);
    else
    if (streq (command, "suppress"))
        rc = ctl_suppress (&ctl, sub_argc, sub_argv);
    else
    if (streq (command, "rules"))
        rc = ctl_rules (&ctl, sub_argc, sub_argv);
    else
    if (streq (command, "clock"))
        rc = ctl_clock (&ctl, sub_argc, sub_argv);
    else
    if (streq (command, "backup"))
        rc = ctl_backup (&ctl, sub_argc, sub_argv);
    else
    if (streq (command, "report"))
        rc = ctl_report (&ctl, sub_argc, sub_argv);
    else
    if (streq (command, "outcome"))
        rc = ctl_outcome (&ctl, sub_argc, sub_argv);
    else
    if (streq (command, "pause") || streq (command, "resume") || streq (command, "cancel"))
        rc = ctl_wave_control (&ctl, sub_argc, sub_argv);
    else {
        fprintf (stderr, "wobctl: unknown command '%s'\n", command);
        s_usage (stderr);
        rc = 1;
    }
    wob_client_destroy (&ctl.client);
    free (sub_argv);
    return rc;
}
