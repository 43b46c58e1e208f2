/*  flood_client.c - a client that floods the broker, for tests/flood.sh.

    One DEALER pipelines status queries about one wave without waiting for
    their answers: it keeps --outstanding of them unanswered, sending more
    as answers come back, so the broker always has plenty of its requests
    to read.  With --count N it sends N and stops; without, it floods until
    SIGTERM / SIGINT (or --max-seconds).  Then it waits for the answers
    still due (at most --drain-ms) and prints one line:

        sent N answered A ok O busy B other X

    Before that, on stdout as they happen (flushed, for the test to wait
    on): "busy: MESSAGE" for the first ERR_BUSY answer, "other: MESSAGE"
    for the first answer that is neither busy nor the expected one.  Exit 0
    when every request was answered.

    With --worker NAME it is a worker instead (channel call, --capacity K):
    hello, then empty outcome reports, one per request, as a worker that
    reports each order on its own would send them; answers are acks.

    Usage:
      flood_client --endpoint E (--wave W | --worker NAME [--capacity K])
                   [--count N] [--outstanding K] [--max-seconds S]
                   [--drain-ms MS]                                          */

#include "wob.h"
#include <getopt.h>
#include <signal.h>

static volatile sig_atomic_t s_stop;     //  SIGTERM / SIGINT seen

static void
s_on_signal (int signum)
{
    (void) signum;
    s_stop = 1;
}

//  Reads every answer waiting on the socket; counts them.
static void
s_receive (zsock_t *dealer, int expected, uint64_t *answered, uint64_t *ok, uint64_t *busy,
           uint64_t *other)
{
    while (true) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, zsock_resolve (dealer), ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&msg);
            return;
        }
        int code;
        char err [WOB_ERRLEN];
        Wob__Envelope *env = wob_msg_decode (zmq_msg_data (&msg), zmq_msg_size (&msg),
                                             SIZE_MAX, &code, err);
        zmq_msg_close (&msg);
        if (env && env->request_id == 0) {
            wob_msg_free (&env);            //  not an answer (a heartbeat)
            continue;
        }
        (*answered)++;
        if (!env) {
            if (!(*other)++)
                printf ("other: undecodable answer: %s\n", err);
        }
        else
        if ((int) env->body_case == expected)
            (*ok)++;
        else
        if (env->body_case == WOB__ENVELOPE__BODY_ERROR
        &&  env->error->code == WOB__ERROR_CODE__ERR_BUSY) {
            if (!(*busy)++)
                printf ("busy: %s\n", env->error->message);
        }
        else
        if (env->body_case == WOB__ENVELOPE__BODY_ERROR) {
            if (!(*other)++)
                printf ("other: %s\n", env->error->message);
        }
        else
        if (!(*other)++)
            printf ("other: answer %d, expected %d\n", env->body_case, expected);
        fflush (stdout);
        wob_msg_free (&env);
    }
}

//  Opens a worker session of channel call; 0 when welcomed within 5 s.
static int
s_hello (zsock_t *dealer, const char *name, uint32_t capacity)
{
    Wob__Hello hello = WOB__HELLO__INIT;
    hello.worker = (char *) name;
    hello.channel = "call";
    hello.capacity = capacity;
    hello.heartbeat_ms = 1000;
    Wob__Envelope env = WOB__ENVELOPE__INIT;
    env.request_id = UINT64_MAX;        //  apart from the flood's 1, 2, ...
    env.body_case = WOB__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    wob_msg_send (dealer, &env);
    zmq_pollitem_t item = { zsock_resolve (dealer), 0, ZMQ_POLLIN, 0 };
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline && !s_stop) {
        if (zmq_poll (&item, 1, 100) <= 0)
            continue;
        zframe_t *frame = zframe_recv (dealer);
        int code;
        char err [WOB_ERRLEN];
        Wob__Envelope *reply = frame? wob_msg_decode (zframe_data (frame), zframe_size (frame),
                                                      SIZE_MAX, &code, err): NULL;
        zframe_destroy (&frame);
        int body = reply && reply->request_id == UINT64_MAX? (int) reply->body_case: 0;
        if (body == WOB__ENVELOPE__BODY_ERROR)
            fprintf (stderr, "flood_client: hello refused: %s\n", reply->error->message);
        wob_msg_free (&reply);
        if (body == WOB__ENVELOPE__BODY_WELCOME)
            return 0;
        if (body == WOB__ENVELOPE__BODY_ERROR)
            return -1;
    }
    fprintf (stderr, "flood_client: no welcome within 5 s\n");
    return -1;
}

int
main (int argc, char *argv [])
{
    const char *endpoint = NULL, *wave = NULL, *worker = NULL;
    long long count = 0, outstanding = 20000, max_seconds = 120, drain_ms = 20000;
    long long capacity = 10;
    static struct option options [] = {
        { "endpoint", required_argument, 0, 'e' }, { "wave", required_argument, 0, 'w' },
        { "worker", required_argument, 0, 'W' }, { "capacity", required_argument, 0, 'k' },
        { "count", required_argument, 0, 'n' }, { "outstanding", required_argument, 0, 'o' },
        { "max-seconds", required_argument, 0, 's' }, { "drain-ms", required_argument, 0, 'd' },
        { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (c) {
            case 'e': endpoint = optarg; break;
            case 'w': wave = optarg; break;
            case 'W': worker = optarg; break;
            case 'k': capacity = atoll (optarg); break;
            case 'n': count = atoll (optarg); break;
            case 'o': outstanding = atoll (optarg); break;
            case 's': max_seconds = atoll (optarg); break;
            case 'd': drain_ms = atoll (optarg); break;
            default:
                fprintf (stderr, "usage: flood_client --endpoint E (--wave W | --worker NAME "
                         "[--capacity K]) [--count N] [--outstanding K] [--max-seconds S] "
                         "[--drain-ms MS]\n");
                return 2;
        }
    }
    if (!endpoint || !(wave || worker) || outstanding < 1 || count < 0) {
        fprintf (stderr, "flood_client: --endpoint and --wave or --worker are required, "
                 "--outstanding must be at least 1\n");
        return 2;
    }
    //  Our own handler: CZMQ's would end zpoller waits, and we still want
    //  to read the answers due after SIGTERM
    zsys_handler_set (NULL);
    struct sigaction action = { .sa_handler = s_on_signal };
    sigemptyset (&action.sa_mask);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);

    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (dealer, 0);          //  no limit: --outstanding is the bound
    zsock_set_rcvhwm (dealer, 0);
    zsock_set_linger (dealer, 0);
    if (zsock_connect (dealer, "%s", endpoint)) {
        fprintf (stderr, "flood_client: cannot connect to %s\n", endpoint);
        zsock_destroy (&dealer);
        return 2;
    }
    Wob__StatusQuery query = WOB__STATUS_QUERY__INIT;
    Wob__OutcomeReport report = WOB__OUTCOME_REPORT__INIT;
    Wob__Envelope env = WOB__ENVELOPE__INIT;
    int expected = WOB__ENVELOPE__BODY_WAVE_STATUS;
    if (worker) {
        if (s_hello (dealer, worker, (uint32_t) capacity)) {
            zsock_destroy (&dealer);
            return 2;
        }
        env.body_case = WOB__ENVELOPE__BODY_OUTCOME_REPORT;
        env.outcome_report = &report;
        expected = WOB__ENVELOPE__BODY_OUTCOME_ACK;
    }
    else {
        query.wave = (char *) wave;
        env.body_case = WOB__ENVELOPE__BODY_STATUS_QUERY;
        env.status_query = &query;
    }

    uint64_t sent = 0, answered = 0, ok = 0, busy = 0, other = 0;
    int64_t stop_at = zclock_mono () + max_seconds * 1000;
    int64_t drain_until = 0;        //  set when sending stops
    zmq_pollitem_t item = { zsock_resolve (dealer), 0, ZMQ_POLLIN, 0 };
    while (true) {
        bool sending = !s_stop && zclock_mono () < stop_at
                    && (count == 0 || sent < (uint64_t) count);
        if (sending)
            while (sent - answered < (uint64_t) outstanding
               && (count == 0 || sent < (uint64_t) count)) {
                env.request_id = ++sent;
                if (wob_msg_send (dealer, &env)) {
                    fprintf (stderr, "flood_client: send failed: %s\n", zmq_strerror (zmq_errno ()));
                    sent--;
                    break;
                }
            }
        else {
            if (answered >= sent)
                break;
            if (!drain_until)
                drain_until = zclock_mono () + drain_ms;
            else
            if (zclock_mono () > drain_until)
                break;
        }
        if (zmq_poll (&item, 1, 10) > 0)
            s_receive (dealer, expected, &answered, &ok, &busy, &other);
    }
    printf ("sent %" PRIu64 " answered %" PRIu64 " ok %" PRIu64 " busy %" PRIu64
            " other %" PRIu64 "\n", sent, answered, ok, busy, other);
    zsock_destroy (&dealer);
    return answered == sent? 0: 1;
}
