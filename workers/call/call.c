/*  call.c - wob-call: the call-center worker (docs/CALL.md).

    One process serves a call-center floor: agents sign in on the web page
    it serves, each signed-in agent is one broker session with capacity 1,
    and the page shows the next order with the customer view and script and
    records the outcome.  A JSON API under the page does the same for a
    dialer or CTI system.

    This file is the options and the event loop.  Everything runs on the
    main thread: one zmq_poll over every agent's broker socket and the HTTP
    server's epoll descriptor, then the HTTP server serves what is ready
    (console.c) and the agents' sessions do their duties (agents.c).      */

#include "call.h"
#include <getopt.h>
#include <signal.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: wob-call [options]\n"
        "  --endpoint E        broker endpoint (default $WOB_ENDPOINT or tcp://127.0.0.1:5570)\n"
        "  --http HOST:PORT    where the agents' page listens (default 127.0.0.1:8070;\n"
        "                      port 0 = a free port, printed on stdout)\n"
        "  --port-file FILE    write the bound HTTP port there\n"
        "  --idle-timeout D    sign out an agent not heard from for D (default 60s;\n"
        "                      500ms, 90s, 5m...)\n"
        "  --owns X            what agents own unless they say at sign-in (repeatable,\n"
        "                      or comma-separated)\n"
        "  --log FILE          append one line per report: order attempt outcome worker\n"
        "                      callback_at_ms \"note\"\n"
        "  --heartbeat-ms N    heartbeat to the broker (default 1000)\n");
}

int
main (int argc, char *argv [])
{
    center_config_t config = { .endpoint = getenv ("WOB_ENDPOINT"), .idle_timeout_ms = 60000 };
    if (!config.endpoint)
        config.endpoint = "tcp://127.0.0.1:5570";
    const char *http = "127.0.0.1:8070", *port_file = NULL, *log_path = NULL;
    const char *owns [64];
    char *owns_text [64];
    size_t n_texts = 0;
    static struct option options [] = {
        { "endpoint", required_argument, 0, 'e' }, { "http", required_argument, 0, 'H' },
        { "port-file", required_argument, 0, 'p' }, { "idle-timeout", required_argument, 0, 'i' },
        { "owns", required_argument, 0, 'w' }, { "log", required_argument, 0, 'l' },
        { "heartbeat-ms", required_argument, 0, 'h' }, { "help", no_argument, 0, '?' },
        { 0, 0, 0, 0 }
    };
    int c, rc = 1;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (c) {
            case 'e': config.endpoint = optarg; break;
            case 'H': http = optarg; break;
            case 'p': port_file = optarg; break;
            case 'i':
                config.idle_timeout_ms = wob_parse_duration (optarg);
                if (config.idle_timeout_ms < 500) {
                    fprintf (stderr, "wob-call: --idle-timeout '%s': expected a duration of "
                             "500ms or more (90s, 5m)\n", optarg);
                    return 1;
                }
                break;
            case 'w': {
                if (n_texts == 64)
                    break;
                char *text = owns_text [n_texts++] = strdup (optarg), *save = NULL;
                for (char *tok = strtok_r (text, ",", &save); tok && config.n_owns < 64;
                     tok = strtok_r (NULL, ",", &save))
                    owns [config.n_owns++] = tok;
                break;
            }
            case 'l': log_path = optarg; break;
            case 'h': config.heartbeat_ms = (uint32_t) atol (optarg); break;
            default:
                s_usage (c == '?' && optopt == 0? stdout: stderr);
                rc = c == '?' && optopt == 0? 0: 1;
                goto done;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "wob-call: unexpected argument '%s'\n", argv [optind]);
        s_usage (stderr);
        goto done;
    }
    config.owns = owns;
    zsys_init ();
    zsys_set_logident ("wob-call");
    zsys_set_logstream (stderr);
    signal (SIGPIPE, SIG_IGN);
    if (log_path && !(config.log = fopen (log_path, "a"))) {
        fprintf (stderr, "wob-call: cannot open %s: %s\n", log_path, strerror (errno));
        goto done;
    }
    char err [WOB_ERRLEN];
    center_t *center = center_new (&config, err);
    console_t *console = center? console_new (center, http, err): NULL;
    if (!console) {
        fprintf (stderr, "wob-call: %s\n", err);
        center_destroy (&center);
        goto done;
    }
    char host [64];
    const char *colon = strrchr (http, ':');
    snprintf (host, sizeof (host), "%.*s", colon? (int) (colon - http): 0, http);
    printf ("wob-call: agents' console at http://%s:%u/\n", *host? host: "127.0.0.1",
            console_port (console));
    fflush (stdout);
    if (port_file) {
        FILE *file = fopen (port_file, "w");
        if (file) {
            fprintf (file, "%u\n", console_port (console));
            fclose (file);
        }
        else
            zsys_error ("cannot write %s: %s", port_file, strerror (errno));
    }
    zsys_info ("serving the call floor for broker %s", config.endpoint);

    zmq_pollitem_t *items = NULL;
    size_t capacity = 0;
    rc = 0;
    while (!zsys_interrupted) {
        size_t wanted = center_size (center) + 1;
        if (wanted > capacity) {
            capacity = wanted * 2;
            items = realloc (items, capacity * sizeof (zmq_pollitem_t));
        }
        items [0] = (zmq_pollitem_t) { .fd = console_fd (console), .events = ZMQ_POLLIN };
        size_t count = 1 + center_pollitems (center, items + 1, capacity - 1);
        //  At most 100 ms: the sessions' heartbeats and the idle sweep.
        if (zmq_poll (items, (int) count, console_timeout (console, 100)) == -1
        &&  errno != EINTR) {
            zsys_error ("poll failed: %s", zmq_strerror (errno));
            rc = 1;
            break;
        }
        console_run (console);
        center_service (center);
    }
    zsys_info ("stopping: signing out %zu agent%s", center_size (center),
               center_size (center) == 1? "": "s");
    free (items);
    console_destroy (&console);
    center_destroy (&center);
done:
    if (config.log)
        fclose (config.log);
    for (size_t i = 0; i < n_texts; i++)
        free (owns_text [i]);
    return rc;
}
