/*  wob_latency.c - wob's latency under a paced load, for bench/run.

    One process plays both sides of the broker at a fixed rate:

      pacer    (main thread) submits the target CSV as many small waves,
               one every --wave-ms, each of rate x wave-ms / 1000 rows,
               through the client library (wob_client_submit: a wave of
               one chunk is one request, begin carrying its chunk and
               commit, answered after its LMDB commit).  The
               wall clock just before each submit call is that wave's
               submit time.
      workers  --workers threads, each its own DEALER connection speaking
               the worker protocol (hello, leases, outcome reports, acks,
               heartbeats) by hand, so that every message is timestamped
               when it arrives rather than when a library loop gets to it.
               A worker reports every order of a lease batch as delivered
               at once, in one OutcomeReport, as the worker library does.

    Measured per order (wall clock, CLOCK_REALTIME, microseconds):
      submit_to_lease      lease batch arrived at a worker - its wave's submit
                           call started (the client's whole wave submission,
                           its reading of the files and its durable round
                           trip, is inside this)
      created_to_lease     same arrival - the order's created_ms (the broker's
                           clock when intake created it; millisecond grain)
      outcome_to_durable   outcome acknowledgement arrived - report sent; the
                           broker acknowledges only after the LMDB commit that
                           holds the outcome, so this is report-to-durable as
                           the worker sees it

    Prints one JSON object: {"orders", "waves", "wave_rows", "rate_target",
    "rate_achieved" (submitted per second), "rate_done" (first submit to last
    acknowledgement), "<figure>_ms": {"p50", "p99", "p999", "max"}, ...}.

    Usage:
      wob_latency --endpoint E --targets CSV --dir DIR --rate R
                  [--seconds S] [--wave-ms T] [--workers 8] [--capacity 100]  */

#include "wob.h"
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>

typedef struct {
    const char *endpoint;       //  broker endpoint
    const char *targets;        //  generated target CSV (enough rows)
    const char *dir;            //  scratch directory for the wave files
    double rate;                //  orders per second to submit
    double seconds;             //  how long to submit
    int wave_ms;                //  one wave every wave_ms
    int workers;                //  worker threads
    int capacity;               //  credit of each worker
} s_config_t;

static s_config_t s_config = { NULL, NULL, NULL, 0, 2, 10, 8, 100 };

//  Shared between the pacer and the workers.  Order ids on a fresh broker
//  run 1..total, so per-order figures live in arrays indexed by id; each
//  order is leased to one worker only, so no two threads write one slot.
static _Atomic int64_t *s_submit_us;    //  per wave: submit call started
static int64_t *s_lease_us;             //  per order: lease arrived
static int64_t *s_created_ms;           //  per order: broker's created_ms
static int64_t *s_wave_of;              //  per order: wave index
static int64_t *s_report_us;            //  per order: report sent
static int64_t *s_ack_us;               //  per order: ack arrived
static uint64_t s_max_id;               //  size of the arrays - 1
static atomic_long s_acked;             //  orders acknowledged as done
static atomic_long s_expected;          //  orders queued (known once submitted)
static atomic_int s_welcomed;           //  workers welcomed
static atomic_int s_stop;               //  workers leave
static atomic_long s_refused;           //  reports refused (should stay 0)

static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  --- Worker -----------------------------------------------------------

static void
s_send (zsock_t *dealer, Wob__Envelope *env, uint64_t *next_id, int64_t *last_sent)
{
    env->request_id = ++*next_id;
    wob_msg_send (dealer, env);
    *last_sent = s_now_us ();
}

//  Reports every order of a lease batch as delivered, in one message.
static void
s_report (zsock_t *dealer, Wob__Leases *leases, int64_t arrived, uint64_t *next_id,
          int64_t *last_sent)
{
    Wob__OutcomeReport report = WOB__OUTCOME_REPORT__INIT;
    report.items = calloc (leases->n_items, sizeof (Wob__OutcomeItem *));
    Wob__OutcomeItem *items = calloc (leases->n_items, sizeof (Wob__OutcomeItem));
    for (size_t i = 0; i < leases->n_items; i++) {
        Wob__Order *order = leases->items [i]->order;
        if (order->id <= s_max_id) {
            s_lease_us [order->id] = arrived;
            s_created_ms [order->id] = order->created_ms;
            const char *dash = strrchr (order->wave, '-');
            s_wave_of [order->id] = dash? atol (dash + 1): -1;
        }
        wob__outcome_item__init (&items [i]);
        items [i].order_id = order->id;
        items [i].attempt = order->attempts;
        items [i].outcome = WOB__OUTCOME__OUTCOME_DELIVERED;
        items [i].note = "bench";
        report.items [report.n_items++] = &items [i];
    }
    Wob__Envelope env = WOB__ENVELOPE__INIT;
    env.body_case = WOB__ENVELOPE__BODY_OUTCOME_REPORT;
    env.outcome_report = &report;
    int64_t sent = s_now_us ();
    for (size_t i = 0; i < leases->n_items; i++)
        if (leases->items [i]->order->id <= s_max_id)
            s_report_us [leases->items [i]->order->id] = sent;
    s_send (dealer, &env, next_id, last_sent);
    free (items);
    free (report.items);
}

static void *
s_worker (void *arg)
{
    int index = (int) (intptr_t) arg;
    char name [32];
    snprintf (name, sizeof (name), "lat-%d", index);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (dealer, 100);
    zsock_set_sndhwm (dealer, 100000);
    zsock_set_rcvhwm (dealer, 100000);
    zsock_connect (dealer, "%s", s_config.endpoint);
    uint64_t next_id = 0;
    int64_t last_sent = 0;

    Wob__Hello hello = WOB__HELLO__INIT;
    hello.worker = name;
    hello.channel = "sms";
    hello.capacity = (uint32_t) s_config.capacity;
    hello.heartbeat_ms = 1000;
    Wob__Envelope env = WOB__ENVELOPE__INIT;
    env.body_case = WOB__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    s_send (dealer, &env, &next_id, &last_sent);

    zmq_pollitem_t item = { zsock_resolve (dealer), 0, ZMQ_POLLIN, 0 };
    while (!atomic_load (&s_stop)) {
        if (zmq_poll (&item, 1, 100) < 0)
            break;
        while (zsock_events (dealer) & ZMQ_POLLIN) {
            zframe_t *frame = zframe_recv (dealer);
            int64_t arrived = s_now_us ();
            if (!frame)
                break;
            int code;
            char err [WOB_ERRLEN];
            Wob__Envelope *msg = wob_msg_decode (zframe_data (frame), zframe_size (frame),
                                                 SIZE_MAX, &code, err);
            zframe_destroy (&frame);
            if (!msg) {
                fprintf (stderr, "wob_latency: %s: undecodable message: %s\n", name, err);
                continue;
            }
            if (msg->body_case == WOB__ENVELOPE__BODY_WELCOME)
                atomic_fetch_add (&s_welcomed, 1);
            else
            if (msg->body_case == WOB__ENVELOPE__BODY_LEASES)
                s_report (dealer, msg->leases, arrived, &next_id, &last_sent);
            else
            if (msg->body_case == WOB__ENVELOPE__BODY_OUTCOME_ACK) {
                Wob__OutcomeAck *ack = msg->outcome_ack;
                for (size_t i = 0; i < ack->n_results; i++) {
                    Wob__ItemResult *result = ack->results [i];
                    if (result->code != WOB__ERROR_CODE__ERR_NONE) {
                        fprintf (stderr, "wob_latency: %s: report refused: %s\n", name,
                                 result->message);
                        atomic_fetch_add (&s_refused, 1);
                        continue;
                    }
                    if (result->order_id <= s_max_id)
                        s_ack_us [result->order_id] = arrived;
                    atomic_fetch_add (&s_acked, 1);
                }
            }
            else
            if (msg->body_case == WOB__ENVELOPE__BODY_ERROR)
                fprintf (stderr, "wob_latency: %s: broker says: %s\n", name, msg->error->message);
            wob_msg_free (&msg);
        }
        if (s_now_us () - last_sent > 300000) {
            Wob__Heartbeat beat = WOB__HEARTBEAT__INIT;
            Wob__Envelope hb = WOB__ENVELOPE__INIT;
            hb.body_case = WOB__ENVELOPE__BODY_HEARTBEAT;
            hb.heartbeat = &beat;
            s_send (dealer, &hb, &next_id, &last_sent);
        }
    }
    Wob__Bye bye = WOB__BYE__INIT;
    Wob__Envelope out = WOB__ENVELOPE__INIT;
    out.body_case = WOB__ENVELOPE__BODY_BYE;
    out.bye = &bye;
    s_send (dealer, &out, &next_id, &last_sent);
    zsock_destroy (&dealer);
    return NULL;
}

//  --- Pacer ------------------------------------------------------------

//  Splits the CSV into waves files dir/wave-K.csv of rows rows each.
static void
s_split (const char *path, long waves, long rows)
{
    FILE *in = fopen (path, "r");
    if (!in) {
        fprintf (stderr, "wob_latency: cannot open %s\n", path);
        exit (1);
    }
    char *header = NULL, *line = NULL;
    size_t header_cap = 0, line_cap = 0;
    if (getline (&header, &header_cap, in) < 0) {
        fprintf (stderr, "wob_latency: %s is empty\n", path);
        exit (1);
    }
    for (long k = 0; k < waves; k++) {
        char name [4096];
        snprintf (name, sizeof (name), "%s/wave-%ld.csv", s_config.dir, k);
        FILE *out = fopen (name, "w");
        if (!out) {
            fprintf (stderr, "wob_latency: cannot write %s\n", name);
            exit (1);
        }
        fputs (header, out);
        for (long r = 0; r < rows; r++) {
            if (getline (&line, &line_cap, in) < 0) {
                fprintf (stderr, "wob_latency: %s has fewer than %ld rows\n", path, waves * rows);
                exit (1);
            }
            fputs (line, out);
        }
        fclose (out);
    }
    free (header);
    free (line);
    fclose (in);
}

static int
s_cmp (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y? -1: x > y;
}

//  Prints "name": {"p50", "p99", "p999", "max", "n"} in milliseconds.
static void
s_print_dist (const char *name, int64_t *values, size_t n, double unit_per_ms, bool last)
{
    qsort (values, n, sizeof (int64_t), s_cmp);
    printf ("\"%s\": {", name);
    const double ranks [] = { 0.50, 0.99, 0.999 };
    const char *labels [] = { "p50", "p99", "p999" };
    for (int i = 0; i < 3; i++) {
        //  Nearest rank: the smallest value with at least p of the samples
        //  at or below it.
        size_t rank = (size_t) ceil (ranks [i] * (double) n);
        double value = n? (double) values [rank? rank - 1: 0] / unit_per_ms: 0;
        printf ("\"%s\": %.3f, ", labels [i], value);
    }
    printf ("\"max\": %.3f, \"n\": %zu}%s", n? (double) values [n - 1] / unit_per_ms: 0, n,
            last? "": ", ");
}

static void
s_usage (void)
{
    fprintf (stderr, "usage: wob_latency --endpoint E --targets CSV --dir DIR --rate R\n"
                     "                   [--seconds S] [--wave-ms T] [--workers 8] [--capacity 100]\n");
    exit (1);
}

int
main (int argc, char **argv)
{
    static struct option options [] = {
        { "endpoint", required_argument, 0, 'e' }, { "targets", required_argument, 0, 't' },
        { "dir", required_argument, 0, 'd' }, { "rate", required_argument, 0, 'r' },
        { "seconds", required_argument, 0, 's' }, { "wave-ms", required_argument, 0, 'w' },
        { "workers", required_argument, 0, 'n' }, { "capacity", required_argument, 0, 'k' },
        { 0, 0, 0, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1)
        switch (opt) {
            case 'e': s_config.endpoint = optarg; break;
            case 't': s_config.targets = optarg; break;
            case 'd': s_config.dir = optarg; break;
            case 'r': s_config.rate = atof (optarg); break;
            case 's': s_config.seconds = atof (optarg); break;
            case 'w': s_config.wave_ms = atoi (optarg); break;
            case 'n': s_config.workers = atoi (optarg); break;
            case 'k': s_config.capacity = atoi (optarg); break;
            default: s_usage ();
        }
    if (!s_config.endpoint || !s_config.targets || !s_config.dir || s_config.rate <= 0
    ||  s_config.seconds <= 0 || s_config.wave_ms <= 0 || s_config.workers <= 0
    ||  s_config.capacity <= 0)
        s_usage ();
    zsys_init ();
    zsys_set_logstream (stderr);

    long rows = lround (s_config.rate * s_config.wave_ms / 1000.0);
    if (rows < 1)
        rows = 1;
    long waves = lround (s_config.seconds * 1000.0 / s_config.wave_ms);
    if (waves < 1)
        waves = 1;
    s_split (s_config.targets, waves, rows);
    char descriptor [4096];
    snprintf (descriptor, sizeof (descriptor), "%s/wave.yaml", s_config.dir);
    FILE *file = fopen (descriptor, "w");
    if (!file) {
        fprintf (stderr, "wob_latency: cannot write %s\n", descriptor);
        return 1;
    }
    fprintf (file, "campaign: C-latency\nwave: L-0\ntargets: wave-0.csv\n"
                   "plan:\n  - channel: sms\n");
    fclose (file);

    s_max_id = (uint64_t) (waves * rows);
    s_submit_us = calloc ((size_t) waves, sizeof (*s_submit_us));
    s_lease_us = calloc (s_max_id + 1, sizeof (int64_t));
    s_created_ms = calloc (s_max_id + 1, sizeof (int64_t));
    s_wave_of = calloc (s_max_id + 1, sizeof (int64_t));
    s_report_us = calloc (s_max_id + 1, sizeof (int64_t));
    s_ack_us = calloc (s_max_id + 1, sizeof (int64_t));

    pthread_t *threads = calloc ((size_t) s_config.workers, sizeof (pthread_t));
    for (int i = 0; i < s_config.workers; i++)
        pthread_create (&threads [i], NULL, s_worker, (void *) (intptr_t) i);
    int64_t deadline = s_now_us () + 10000000;
    while (atomic_load (&s_welcomed) < s_config.workers && s_now_us () < deadline)
        zclock_sleep (5);
    if (atomic_load (&s_welcomed) < s_config.workers) {
        fprintf (stderr, "wob_latency: workers not welcomed by %s\n", s_config.endpoint);
        return 1;
    }

    wob_client_t *client = wob_client_new (s_config.endpoint, 30000);
    long expected = 0;
    int64_t start = s_now_us ();
    for (long k = 0; k < waves; k++) {
        int64_t due = start + k * s_config.wave_ms * 1000;
        int64_t now = s_now_us ();
        if (due > now)
            usleep ((useconds_t) (due - now));
        char wave_id [32], targets [4096], err [WOB_ERRLEN];
        snprintf (wave_id, sizeof (wave_id), "L-%ld", k);
        snprintf (targets, sizeof (targets), "%s/wave-%ld.csv", s_config.dir, k);
        wob_submit_opts_t opts = { .wave_file = descriptor, .wave_id = wave_id,
                                   .targets_file = targets };
        Wob__Envelope *reply = NULL;
        atomic_store (&s_submit_us [k], s_now_us ());
        if (wob_client_submit (client, &opts, &reply, err)) {
            fprintf (stderr, "wob_latency: submitting wave %s: %s\n", wave_id, err);
            return 1;
        }
        expected += (long) reply->submit_summary->queued;
        wob_msg_free (&reply);
    }
    int64_t submitted = s_now_us ();
    atomic_store (&s_expected, expected);
    deadline = s_now_us () + 60000000;
    while (atomic_load (&s_acked) + atomic_load (&s_refused) < expected && s_now_us () < deadline)
        zclock_sleep (2);
    atomic_store (&s_stop, 1);
    for (int i = 0; i < s_config.workers; i++)
        pthread_join (threads [i], NULL);
    wob_client_destroy (&client);
    if (atomic_load (&s_acked) < expected) {
        fprintf (stderr, "wob_latency: %ld of %ld orders done after 60 s\n",
                 atomic_load (&s_acked), expected);
        return 1;
    }

    //  Gather the samples.
    size_t n_s2l = 0, n_c2l = 0, n_o2d = 0;
    int64_t *s2l = calloc (s_max_id + 1, sizeof (int64_t));
    int64_t *c2l = calloc (s_max_id + 1, sizeof (int64_t));
    int64_t *o2d = calloc (s_max_id + 1, sizeof (int64_t));
    for (uint64_t id = 1; id <= s_max_id; id++) {
        if (!s_lease_us [id])
            continue;
        int64_t wave = s_wave_of [id];
        if (wave >= 0 && wave < waves)
            s2l [n_s2l++] = s_lease_us [id] - atomic_load (&s_submit_us [wave]);
        c2l [n_c2l++] = s_lease_us [id] - s_created_ms [id] * 1000;
        if (s_ack_us [id])
            o2d [n_o2d++] = s_ack_us [id] - s_report_us [id];
    }
    //  Orders done per second, from the first submit to the last
    //  acknowledgement: what the whole workload sustained (rate_done), next
    //  to what the pacer managed to submit (rate_achieved)
    int64_t last_ack = start;
    for (uint64_t id = 1; id <= s_max_id; id++)
        if (s_ack_us [id] > last_ack)
            last_ack = s_ack_us [id];
    printf ("{\"orders\": %ld, \"waves\": %ld, \"wave_rows\": %ld, \"rate_target\": %.0f, "
            "\"rate_achieved\": %.0f, \"rate_done\": %.0f, ", expected, waves, rows,
            s_config.rate, (double) expected * 1e6 / (double) (submitted - start),
            last_ack > start? (double) expected * 1e6 / (double) (last_ack - start): 0.0);
    s_print_dist ("submit_to_lease_ms", s2l, n_s2l, 1000.0, false);
    s_print_dist ("created_to_lease_ms", c2l, n_c2l, 1000.0, false);
    s_print_dist ("outcome_to_durable_ms", o2d, n_o2d, 1000.0, true);
    printf ("}\n");
    free (s2l);
    free (c2l);
    free (o2d);
    free (threads);
    free ((void *) s_submit_us);
    free (s_lease_us);
    free (s_created_ms);
    free (s_wave_of);
    free (s_report_us);
    free (s_ack_us);
    return 0;
}
