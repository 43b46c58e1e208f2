/*  sms.c - wob-sms: the SMS channel worker, sending through Kannel.

    Holds up to --capacity leased orders.  Each order's text is the wave's
    template rendered for its customer (template.c); it goes to Kannel's
    sendsms (gateway.c) with a dlr-url pointing at our own listener
    (dlr.c), and the order stays in hand until its delivery report says
    what happened:
      DLR 1 (delivered)                      -> OUTCOME_DELIVERED
      DLR 2 (undelivered), 16 (SMSC rejected) -> OUTCOME_UNDELIVERED, which
                                                the broker's fallback rule
                                                turns into a call order
      no final report within --dlr-timeout   -> --no-dlr-outcome
    A template that names an unknown field, or a message Kannel refuses for
    good (a number it cannot route), is UNDELIVERED with a note saying so.
    A gateway that is down or refusing is the gateway's problem, not the
    customer's: the gateway module retries, and after --give-back-after
    attempts the order is reported FAILED (retryable), so the broker
    re-queues it.  Leases are extended while an order waits, so a slow
    gateway or a late report does not hand the order to another worker.

    One thread, one zmq_poll over the broker socket, curl's sockets and the
    listener's epoll fd.  SIGTERM: stop taking orders, let requests on the
    wire finish and wait --drain for their reports, say bye; orders still
    in hand go back to the queue.                                        */

#include "sms.h"
#include <getopt.h>
#include <signal.h>

#define S_TICK_MS      100      //  longest poll: heartbeats, timers
#define S_REFUSED_WAIT 5000     //  after "Not routable", wait this for DLR 16
#define S_MAX_ITEMS    1024     //  poll items (curl's sockets + 2)
#define S_TIMERS_MS    50       //  how often timers are checked

typedef enum { JOB_SENDING, JOB_WAITING } job_stage_t;

typedef struct {
    Wob__LeaseItem *item;       //  the order in hand (owned)
    job_stage_t stage;          //  at the gateway, or waiting for a report
    int64_t report_due;         //  mono ms: stop waiting for a report
    int64_t lease_due;          //  mono ms: our lease ends
    uint32_t lease_ms;          //  length of the lease we were given
    uint32_t sent_attempt;      //  the lease attempt named in the dlr-url
    bool refused;               //  Kannel refused it; waiting for its DLR 16
    int last_dlr;               //  last intermediate report (8, 4), 0 none
    char note [256];            //  the gateway's answer
} job_t;

typedef struct {
    wob_worker_t *worker;       //  the broker session
    gateway_t *gateway;         //  Kannel sendsms
    dlr_t *dlr;                 //  delivery-report listener
    zhashx_t *jobs;             //  order id -> job_t *
    FILE *log;                  //  --log, one line per report, or NULL
    int64_t dlr_timeout_ms;     //  --dlr-timeout
    int no_dlr_outcome;         //  --no-dlr-outcome
    size_t max_parts;           //  --max-parts
    uint64_t counts [16];       //  reports by outcome
    uint64_t given_back;        //  orders handed back unreported
    int64_t timers_at;          //  when s_timers last ran (mono ms)
} app_t;

static volatile sig_atomic_t s_stop;

static void
s_on_signal (int signal)
{
    (void) signal;
    s_stop = 1;
}

void
sms_log (const char *fmt, ...)
{
    char when [32];
    va_list args;
    va_start (args, fmt);
    fprintf (stderr, "%s wob-sms: ", wob_format_time (wob_now_ms (), when, sizeof (when)));
    vfprintf (stderr, fmt, args);
    fputc ('\n', stderr);
    va_end (args);
}

static void
s_job_destroy (void **job_p)
{
    job_t *job = *job_p;
    if (job) {
        wob__lease_item__free_unpacked (job->item, NULL);
        free (job);
        *job_p = NULL;
    }
}

//  Reports the order's outcome and lets it go.
static void
s_finish (app_t *app, job_t *job, int outcome, const char *note)
{
    Wob__Order *order = job->item->order;
    wob_worker_report (app->worker, order->id, order->attempts, outcome, note, 0);
    if (app->log) {
        fprintf (app->log, "%" PRIu64 " %u %s %s\n", order->id, order->attempts,
                 wob_outcome_name (outcome), note);
        fflush (app->log);
    }
    app->counts [outcome & 15]++;
    gateway_cancel (app->gateway, order->id);
    zhashx_delete (app->jobs, WOB_ID_KEY (order->id));
}

//  Sets the lease clock from the order's deadline (the broker's clock).
static void
s_lease (job_t *job)
{
    int64_t left = job->item->order->lease_deadline_ms - wob_now_ms ();
    job->lease_ms = (uint32_t) (left < 1000? 1000: left > 86400000? 86400000: left);
    job->lease_due = zclock_mono () + job->lease_ms;
}

//  A new lease: render and queue the message.
static void
s_take (app_t *app, Wob__LeaseItem *item)
{
    Wob__Order *order = item->order;
    job_t *job = zhashx_lookup (app->jobs, WOB_ID_KEY (order->id));
    if (job) {
        //  Leased to us again (we reconnected): same message, newer lease.
        wob__lease_item__free_unpacked (job->item, NULL);
        job->item = item;
        s_lease (job);
        return;
    }
    job = calloc (1, sizeof (job_t));
    job->item = item;
    s_lease (job);
    zhashx_insert (app->jobs, WOB_ID_KEY (order->id), job);

    char err [WOB_ERRLEN];
    const Wob__Target *target = order->target;
    char *text = target? sms_render (item->sms_template, target, err): NULL;
    if (!target)
        snprintf (err, sizeof (err), "order has no target");
    if (!text) {
        s_finish (app, job, WOB__OUTCOME__OUTCOME_UNDELIVERED, err);
        return;
    }
    bool ucs2;
    size_t parts;
    sms_measure (text, &ucs2, &parts);
    if (parts > app->max_parts) {
        snprintf (err, sizeof (err), "template: the text takes %zu SMS, more than --max-parts %zu",
                  parts, app->max_parts);
        free (text);
        s_finish (app, job, WOB__OUTCOME__OUTCOME_UNDELIVERED, err);
        return;
    }
    if (!*target->msisdn) {
        free (text);
        s_finish (app, job, WOB__OUTCOME__OUTCOME_WRONG_NUMBER, "no msisdn");
        return;
    }
    job->sent_attempt = order->attempts;
    char *url = dlr_url (app->dlr, order->id, order->attempts);
    if (gateway_send (app->gateway, order->id, target->msisdn, text, ucs2, url))
        s_finish (app, job, WOB__OUTCOME__OUTCOME_FAILED, "wob-sms: cannot build the request");
    free (url);
    free (text);
}

//  gateway.c: a message's fate at Kannel.
static void
s_on_gateway (void *arg, uint64_t key, gateway_status_t status, const char *note)
{
    app_t *app = (app_t *) arg;
    job_t *job = zhashx_lookup (app->jobs, WOB_ID_KEY (key));
    if (!job)
        return;                         //  finished already (early report)
    snprintf (job->note, sizeof (job->note), "%s", note);
    int64_t now = zclock_mono ();
    switch (status) {
        case GATEWAY_ACCEPTED:
            job->stage = JOB_WAITING;
            job->report_due = now + app->dlr_timeout_ms;
            break;
        case GATEWAY_REFUSED:
            //  Kannel follows "Not routable" with a DLR 16 carrying the
            //  SMSC's reason: wait a little for it.
            if (strstr (note, "Not routable")) {
                job->stage = JOB_WAITING;
                job->refused = true;
                job->report_due = now + (app->dlr_timeout_ms < S_REFUSED_WAIT?
                                         app->dlr_timeout_ms: S_REFUSED_WAIT);
            }
            else
                s_finish (app, job, WOB__OUTCOME__OUTCOME_UNDELIVERED, note);
            break;
        case GATEWAY_GAVE_UP:
            s_finish (app, job, WOB__OUTCOME__OUTCOME_FAILED, note);
            break;
        case GATEWAY_DROPPED:
            app->given_back++;
            zhashx_delete (app->jobs, WOB_ID_KEY (key));
            break;
    }
}

//  dlr.c: a delivery report.
static void
s_on_dlr (void *arg, uint64_t order_id, uint32_t attempt, int type, const char *reply)
{
    app_t *app = (app_t *) arg;
    job_t *job = zhashx_lookup (app->jobs, WOB_ID_KEY (order_id));
    if (!job || job->sent_attempt != attempt)
        return;                         //  an old lease, or reported already
    char note [512];
    switch (type) {
        case 1:
            snprintf (note, sizeof (note), "DLR 1 delivered%s%s", *reply? ": ": "", reply);
            s_finish (app, job, WOB__OUTCOME__OUTCOME_DELIVERED, note);
            break;
        case 2:
        case 16:
            snprintf (note, sizeof (note), "DLR %d %s: %s", type,
                      type == 2? "not delivered": "rejected by the SMSC", reply);
            s_finish (app, job, WOB__OUTCOME__OUTCOME_UNDELIVERED, note);
            break;
        case 4:
        case 8:
            job->last_dlr = type;       //  buffered / accepted by the SMSC
            break;
        default:
            break;
    }
}

//  Timed duties: reports that did not come, leases to extend.
static void
s_timers (app_t *app)
{
    int64_t now = zclock_mono ();
    if (now - app->timers_at < S_TIMERS_MS)
        return;
    app->timers_at = now;
    size_t n_late = 0;
    uint64_t *late = calloc (zhashx_size (app->jobs) + 1, sizeof (uint64_t));
    for (job_t *job = zhashx_first (app->jobs); job; job = zhashx_next (app->jobs)) {
        uint64_t id = job->item->order->id;
        if (job->stage == JOB_WAITING && now >= job->report_due)
            late [n_late++] = id;
        else
        if (now >= job->lease_due - job->lease_ms / 3) {
            wob_worker_extend (app->worker, id, job->lease_ms);
            job->lease_due = now + job->lease_ms;
        }
    }
    for (size_t i = 0; i < n_late; i++) {
        job_t *job = zhashx_lookup (app->jobs, WOB_ID_KEY (late [i]));
        char note [512];
        if (job->refused) {
            s_finish (app, job, WOB__OUTCOME__OUTCOME_UNDELIVERED, job->note);
            continue;
        }
        char wait [32];
        int64_t ms = app->dlr_timeout_ms;
        if (ms && ms % 60000 == 0)
            snprintf (wait, sizeof (wait), "%" PRId64 " min", ms / 60000);
        else
        if (ms && ms % 1000 == 0)
            snprintf (wait, sizeof (wait), "%" PRId64 " s", ms / 1000);
        else
            snprintf (wait, sizeof (wait), "%" PRId64 " ms", ms);
        snprintf (note, sizeof (note), "no delivery report within %s (gateway: %s%s)", wait,
                  job->note, job->last_dlr == 8? "; SMSC accepted it": job->last_dlr == 4?
                  "; buffered at the SMSC": "");
        s_finish (app, job, app->no_dlr_outcome, note);
    }
    free (late);
}

//  One turn of the loop: poll everything, then do what is ready.
static void
s_turn (app_t *app, bool taking, uint32_t capacity)
{
    zmq_pollitem_t items [S_MAX_ITEMS];
    items [0] = (zmq_pollitem_t) { zsock_resolve (wob_worker_sock (app->worker)), 0,
                                   ZMQ_POLLIN, 0 };
    dlr_pollitem (app->dlr, &items [1]);
    size_t n_curl = gateway_pollitems (app->gateway, items + 2, S_MAX_ITEMS - 2);
    int64_t wait = S_TICK_MS, t;
    if ((t = gateway_timeout (app->gateway)) >= 0 && t < wait)
        wait = t;
    if ((t = dlr_timeout (app->dlr)) >= 0 && t < wait)
        wait = t;
    if (zmq_poll (items, (int) (n_curl + 2), (long) wait) < 0 && errno != EINTR)
        sms_log ("poll failed: %s", zmq_strerror (errno));
    dlr_run (app->dlr);
    gateway_run (app->gateway, items + 2, n_curl);
    Wob__LeaseItem *item;
    bool took = false;
    while (taking && zhashx_size (app->jobs) < capacity
       &&  (item = wob_worker_next (app->worker, 0))) {
        s_take (app, item);
        took = true;
    }
    if (!took)
        wob_worker_poll (app->worker, 0);
    s_timers (app);
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: wob-sms --sendsms-url URL [options]\n"
        "  --sendsms-url URL    Kannel sendsms URL with username and password\n"
        "                       (default $WOB_SENDSMS_URL)\n"
        "  --from SENDER        sender id (default WOB)\n"
        "  --endpoint E         broker endpoint (default $WOB_ENDPOINT or tcp://127.0.0.1:5570)\n"
        "  --name NAME          worker identity (default sms-PID)\n"
        "  --capacity N         orders held at once (default 100)\n"
        "  --owns X             declare a number range / region (repeatable)\n"
        "  --rate N             sendsms requests per second, 0 = no limit (default 50)\n"
        "  --max-inflight N     requests on the wire at once (default 10)\n"
        "  --dlr-listen A:P     delivery-report listener (default 127.0.0.1:0, any port)\n"
        "  --dlr-url-base URL   how Kannel reaches it (default http://A:P)\n"
        "  --dlr-mask N         reports asked of Kannel: 1 delivered, 2 undelivered,\n"
        "                       4 buffered, 8 SMSC accepted, 16 SMSC rejected (default 31)\n"
        "  --dlr-timeout D      wait for a final report (default 10m)\n"
        "  --no-dlr-outcome O   outcome when none comes (default undelivered)\n"
        "  --give-back-after N  gateway attempts before the order goes back (default 8)\n"
        "  --retry-ms N         first retry delay, doubled per attempt (default 1000)\n"
        "  --retry-max-ms N     longest retry delay (default 60000)\n"
        "  --http-timeout D     one sendsms request (default 30s)\n"
        "  --max-parts N        longest text in SMS parts, as Kannel's max-messages\n"
        "                       (default 10)\n"
        "  --drain D            on SIGTERM, wait this for reports (default 5s)\n"
        "  --log FILE           append 'order attempt outcome note' per report\n"
        "  --heartbeat-ms N     heartbeat interval (default 1000)\n"
        "Durations: 500ms, 30s, 10m, 1h.\n");
}

static int64_t
s_duration (const char *option, const char *text)
{
    int64_t ms = wob_parse_duration (text);
    if (ms < 0 || ms > UINT32_MAX) {
        fprintf (stderr, "wob-sms: %s: '%s' is not a duration (500ms, 30s, 10m)\n", option, text);
        exit (1);
    }
    return ms;
}

static long
s_count (const char *option, const char *text, long min)
{
    char *end;
    long value = strtol (text, &end, 10);
    if (*end || end == text || value < min || value > INT32_MAX) {
        fprintf (stderr, "wob-sms: %s: '%s' is not a number >= %ld\n", option, text, min);
        exit (1);
    }
    return value;
}

int
main (int argc, char *argv [])
{
    wob_worker_config_t config = { .endpoint = getenv ("WOB_ENDPOINT"), .channel = "sms",
                                   .capacity = 100 };
    if (!config.endpoint)
        config.endpoint = "tcp://127.0.0.1:5570";
    gateway_config_t gw = { .sendsms_url = getenv ("WOB_SENDSMS_URL"), .from = "WOB",
                            .rate = 50, .max_inflight = 10, .give_back_after = 8,
                            .retry_ms = 1000, .retry_max_ms = 60000, .timeout_ms = 30000,
                            .dlr_mask = 31 };
    app_t app = { .dlr_timeout_ms = 600000, .no_dlr_outcome = WOB__OUTCOME__OUTCOME_UNDELIVERED,
                  .max_parts = 10 };
    const char *log_path = NULL, *listen = "127.0.0.1:0", *url_base = NULL;
    int64_t drain_ms = 5000;
    const char *owns [64];
    char name [80];
    static struct option options [] = {
        { "endpoint", required_argument, 0, 'e' }, { "name", required_argument, 0, 'n' },
        { "capacity", required_argument, 0, 'k' }, { "owns", required_argument, 0, 'w' },
        { "sendsms-url", required_argument, 0, 'u' }, { "from", required_argument, 0, 'f' },
        { "rate", required_argument, 0, 'r' }, { "max-inflight", required_argument, 0, 'm' },
        { "dlr-listen", required_argument, 0, 'L' }, { "dlr-url-base", required_argument, 0, 'B' },
        { "dlr-timeout", required_argument, 0, 'T' }, { "no-dlr-outcome", required_argument, 0, 'O' },
        { "give-back-after", required_argument, 0, 'g' }, { "retry-ms", required_argument, 0, 'R' },
        { "retry-max-ms", required_argument, 0, 'M' }, { "http-timeout", required_argument, 0, 't' },
        { "max-parts", required_argument, 0, 'p' }, { "drain", required_argument, 0, 'd' },
        { "dlr-mask", required_argument, 0, 'D' }, { "log", required_argument, 0, 'l' },
        { "heartbeat-ms", required_argument, 0, 'h' },
        { "help", no_argument, 0, '?' }, { 0, 0, 0, 0 }
    };
    int c;
    char *end;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (c) {
            case 'e': config.endpoint = optarg; break;
            case 'n': config.name = optarg; break;
            case 'k': config.capacity = (uint32_t) s_count ("--capacity", optarg, 1); break;
            case 'w': if (config.n_owns < 64) owns [config.n_owns++] = optarg; break;
            case 'u': gw.sendsms_url = optarg; break;
            case 'f': gw.from = optarg; break;
            case 'r':
                gw.rate = strtod (optarg, &end);
                if (*end || end == optarg || gw.rate < 0) {
                    fprintf (stderr, "wob-sms: --rate: '%s' is not a number >= 0\n", optarg);
                    return 1;
                }
                break;
            case 'm': gw.max_inflight = (uint32_t) s_count ("--max-inflight", optarg, 1); break;
            case 'L': listen = optarg; break;
            case 'B': url_base = optarg; break;
            case 'D': gw.dlr_mask = (int) s_count ("--dlr-mask", optarg, 0);
                if (gw.dlr_mask > 31) {
                    fprintf (stderr, "wob-sms: --dlr-mask: %d is not a mask of 1, 2, 4, 8, 16\n",
                             gw.dlr_mask);
                    return 1;
                }
                break;
            case 'T': app.dlr_timeout_ms = s_duration ("--dlr-timeout", optarg); break;
            case 'O':
                app.no_dlr_outcome = wob_outcome_from_name (optarg);
                if (app.no_dlr_outcome <= 0 || app.no_dlr_outcome == WOB__OUTCOME__OUTCOME_CALLBACK) {
                    fprintf (stderr, "wob-sms: --no-dlr-outcome: '%s' is not an outcome "
                             "(delivered, undelivered, failed ...)\n", optarg);
                    return 1;
                }
                break;
            case 'g': gw.give_back_after = (uint32_t) s_count ("--give-back-after", optarg, 1); break;
            case 'R': gw.retry_ms = (uint32_t) s_count ("--retry-ms", optarg, 1); break;
            case 'M': gw.retry_max_ms = (uint32_t) s_count ("--retry-max-ms", optarg, 1); break;
            case 't': gw.timeout_ms = (uint32_t) s_duration ("--http-timeout", optarg); break;
            case 'p': app.max_parts = (size_t) s_count ("--max-parts", optarg, 1); break;
            case 'd': drain_ms = s_duration ("--drain", optarg); break;
            case 'l': log_path = optarg; break;
            case 'h': config.heartbeat_ms = (uint32_t) s_count ("--heartbeat-ms", optarg, 1); break;
            default:
                s_usage (c == '?' && optopt == 0? stdout: stderr);
                return c == '?' && optopt == 0? 0: 1;
        }
    }
    if (optind < argc || !gw.sendsms_url) {
        s_usage (stderr);
        return 1;
    }
    if (!config.name) {
        snprintf (name, sizeof (name), "sms-%d", (int) getpid ());
        config.name = name;
    }
    config.owns = owns;
    if (gw.max_inflight > S_MAX_ITEMS - 24) {
        fprintf (stderr, "wob-sms: --max-inflight: at most %d\n", S_MAX_ITEMS - 24);
        return 1;
    }
    if (gw.timeout_ms == 0)
        gw.timeout_ms = 1;
    if (log_path && !(app.log = fopen (log_path, "a"))) {
        fprintf (stderr, "wob-sms: cannot open %s: %s\n", log_path, strerror (errno));
        return 1;
    }
    //  Our own SIGTERM handling: the worker library keeps heartbeating
    //  while requests finish, which CZMQ's handler would stop.
    zsys_init ();
    zsys_handler_set (s_on_signal);
    signal (SIGPIPE, SIG_IGN);
    zsys_set_logident (config.name);

    char err [WOB_ERRLEN];
    int rc = 1;
    gw.done = s_on_gateway;
    gw.arg = &app;
    app.jobs = wob_idmap_new (s_job_destroy);
    app.gateway = gateway_new (&gw, err);
    app.dlr = app.gateway? dlr_new (listen, url_base, s_on_dlr, &app, err): NULL;
    app.worker = app.dlr? wob_worker_new (&config, err): NULL;
    if (!app.worker) {
        fprintf (stderr, "wob-sms: %s\n", err);
        goto done;
    }
    sms_log ("%s: sending through %s as '%s', %g/s, %u in flight, reports at %s",
             config.name, gateway_name (app.gateway), gw.from, gw.rate, gw.max_inflight,
             dlr_base (app.dlr));
    while (!s_stop)
        s_turn (&app, true, config.capacity);

    //  Stopping: nothing new goes out; what is on the wire finishes and
    //  reports for accepted messages get --drain to arrive.
    gateway_stop (app.gateway);
    sms_log ("stopping: %zu orders in hand, %zu requests on the wire", zhashx_size (app.jobs),
             gateway_inflight (app.gateway));
    int64_t deadline = zclock_mono () + drain_ms;
    while ((gateway_inflight (app.gateway) || zhashx_size (app.jobs))
       &&  zclock_mono () < deadline)
        s_turn (&app, false, config.capacity);
    for (job_t *job = zhashx_first (app.jobs); job; job = zhashx_next (app.jobs)) {
        if (job->stage == JOB_WAITING && !job->refused)
            sms_log ("order %" PRIu64 " goes back without a delivery report; it may be sent "
                     "twice", job->item->order->id);
        app.given_back++;
    }
    rc = 0;
done:
    if (app.worker)
        sms_log ("bye: %" PRIu64 " delivered, %" PRIu64 " undelivered, %" PRIu64 " failed, %"
                 PRIu64 " given back", app.counts [WOB__OUTCOME__OUTCOME_DELIVERED],
                 app.counts [WOB__OUTCOME__OUTCOME_UNDELIVERED],
                 app.counts [WOB__OUTCOME__OUTCOME_FAILED], app.given_back);
    wob_worker_destroy (&app.worker);
    zhashx_destroy (&app.jobs);
    dlr_destroy (&app.dlr);
    gateway_destroy (&app.gateway);
    if (app.log)
        fclose (app.log);
    return rc;
}
