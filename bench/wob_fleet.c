/*  wob_fleet.c - many worker sessions in one process, for the dispatch
    benchmark with 20 against 2,000 connected workers (issue 4).

    Opens --workers sessions of one channel, each with --capacity credit,
    through the worker library (one DEALER socket each, polled together),
    reports every leased order at once and stops after --orders outcomes
    are acknowledged.  Prints "ready" on stdout when every session is
    welcomed, then one line of results:

        workers 2000 capacity 1 orders 100000 seconds 5.123 rate 19520

    where seconds run from the first lease to the last acknowledgement.  */

#include "wob_worker.h"
#include <getopt.h>

int
main (int argc, char *argv [])
{
    const char *endpoint = "tcp://127.0.0.1:5570", *channel = "sms";
    long n_workers = 20, capacity = 100, orders = 100000;
    static struct option options [] = {
        { "endpoint", required_argument, 0, 'e' }, { "channel", required_argument, 0, 'c' },
        { "workers", required_argument, 0, 'w' }, { "capacity", required_argument, 0, 'k' },
        { "orders", required_argument, 0, 'o' }, { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (c) {
            case 'e': endpoint = optarg; break;
            case 'c': channel = optarg; break;
            case 'w': n_workers = atol (optarg); break;
            case 'k': capacity = atol (optarg); break;
            case 'o': orders = atol (optarg); break;
            default:
                fprintf (stderr, "usage: wob_fleet --endpoint E [--channel C] --workers N "
                         "--capacity K --orders M\n");
                return 1;
        }
    }
    if (n_workers < 1 || capacity < 1 || orders < 1)
        return 1;
    zsys_set_max_sockets (0);           //  as many as the OS allows
    zsys_set_logident ("wob_fleet");
    zsys_set_logstream (stderr);        //  stdout is for "ready" and the result
    wob_worker_t **workers = calloc (n_workers, sizeof (wob_worker_t *));
    zmq_pollitem_t *items = calloc (n_workers, sizeof (zmq_pollitem_t));
    char err [WOB_ERRLEN];
    for (long i = 0; i < n_workers; i++) {
        char name [32];
        snprintf (name, sizeof (name), "fleet-%ld", i);
        wob_worker_config_t config = { .endpoint = endpoint, .name = name, .channel = channel,
                                       .capacity = (uint32_t) capacity, .heartbeat_ms = 2000 };
        if (!(workers [i] = wob_worker_new (&config, err))) {
            fprintf (stderr, "wob_fleet: %s\n", err);
            return 2;
        }
        items [i].socket = zsock_resolve (wob_worker_sock (workers [i]));
        items [i].events = ZMQ_POLLIN;
    }
    //  Wait until every session is welcomed, serving all of them meanwhile:
    //  the first ones welcomed must keep up their heartbeats while the last
    //  ones wait (2,000 handshakes can take seconds on a loaded machine)
    int64_t deadline = zclock_mono () + 60000;
    long welcomed = 0;
    while (welcomed < n_workers && zclock_mono () < deadline) {
        zmq_poll (items, (int) n_workers, 10);
        welcomed = 0;
        for (long i = 0; i < n_workers; i++) {
            wob_worker_poll (workers [i], 0);
            welcomed += wob_worker_connected (workers [i]);
        }
    }
    for (long i = 0; i < n_workers; i++)
        if (!wob_worker_connected (workers [i])) {
            fprintf (stderr, "wob_fleet: %s not welcomed: %s\n", "a session",
                     wob_worker_error (workers [i]));
            return 2;
        }
    printf ("ready\n");
    fflush (stdout);

    long reported = 0;
    int64_t first = 0, last_duties = zclock_mono ();
    while (!zsys_interrupted) {
        //  The library replaces a socket when it reconnects: ask each time
        for (long i = 0; i < n_workers; i++)
            items [i].socket = zsock_resolve (wob_worker_sock (workers [i]));
        if (zmq_poll (items, (int) n_workers, 100) < 0)
            break;
        //  Every 500 ms, every session: heartbeats and resends for the quiet
        bool duties = zclock_mono () - last_duties > 500;
        if (duties)
            last_duties = zclock_mono ();
        for (long i = 0; i < n_workers; i++) {
            if (!(items [i].revents & ZMQ_POLLIN) && !duties)
                continue;
            //  Take every order received, report it at once; wob_worker_next
            //  polls (sending the reports, reading more) when none is left,
            //  so this ends with nothing received and not taken
            Wob__LeaseItem *item;
            while ((item = wob_worker_next (workers [i], 0))) {
                if (!first)
                    first = zclock_usecs ();
                wob_worker_report (workers [i], item->order->id, item->order->attempts,
                                   WOB__OUTCOME__OUTCOME_DELIVERED, NULL, 0);
                wob__lease_item__free_unpacked (item, NULL);
                reported++;
            }
        }
        if (reported >= orders) {
            size_t unacked = 0;
            for (long i = 0; i < n_workers; i++)
                unacked += wob_worker_unacked (workers [i]);
            if (unacked == 0)
                break;
        }
    }
    double seconds = first? (double) (zclock_usecs () - first) / 1e6: 0;
    printf ("workers %ld capacity %ld orders %ld seconds %.3f rate %.0f\n", n_workers,
            capacity, reported, seconds, seconds > 0? reported / seconds: 0);
    for (long i = 0; i < n_workers; i++)
        wob_worker_destroy (&workers [i]);
    free (workers);
    free (items);
    return reported >= orders? 0: 1;
}
