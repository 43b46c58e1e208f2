/*  main.c - wob-broker: read the config file and the command line, start
    the broker actor, wait for SIGINT / SIGTERM, stop it.  Everything else
    is in broker.c.

    The config file (--config FILE) is ZPL, CZMQ's config format; command
    line options override it:

        broker
            data = /var/lib/wob
            endpoint = tcp://0.0.0.0:5570
            heartbeat_ms = 1000
            worker_timeout_ms = 3000
            restart_grace_ms = 10000
            lease_ms = 0                 # 0: per channel defaults
            max_attempts = 3
            backoff_ms = 30000
            map_size = 68719476736
            max_message = 16777216
            rules = /etc/wob/rules.yaml  # coordination rules (SIGHUP reloads)
            keep_leases = visit          # channels whose leases outlive the session
            channel_lease = visit=5d     # lease length per channel (over lease_ms)
            max_wave_targets = 20000000  # most targets in one wave (0: no limit)
            max_inflight = 1000          # requests one client may have in flight;
                                         # over it: "busy" errors (0: no limit)
            http = 127.0.0.1:8080        # read-only dashboard and /metrics (off
                                         # without it; port 0 picks one)
            curve_cert = /etc/wob/broker.cert   # CurveZMQ key pair (and broker.cert_secret)
            keys = /etc/wob/keys         # clients' public keys with their roles
            plain = 0                    # 1: no encryption, no authentication */

#include "broker.h"
#ifdef WOB_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#include <getopt.h>
#include <signal.h>

static volatile sig_atomic_t s_reload;     //  SIGHUP seen

static void
s_on_hup (int signum)
{
    (void) signum;
    s_reload = 1;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: wob-broker [options]\n"
        "  --config FILE          ZPL config file (section 'broker'; options override it)\n"
        "  --data DIR             LMDB data directory (default ./wob-data)\n"
        "  --endpoint ENDPOINT    ZeroMQ endpoint to bind (default tcp://127.0.0.1:5570)\n"
        "  --heartbeat-ms N       heartbeat interval both ways (default 1000)\n"
        "  --worker-timeout-ms N  silence after which a worker is lost (default 3 x heartbeat)\n"
        "  --restart-grace-ms N   after start-up, time for workers to reclaim their\n"
        "                         leases before they return to the queue (default 10000)\n"
        "  --lease-ms N           lease length for every channel (default sms 5 min,\n"
        "                         call 30 min, visit 3 days)\n"
        "  --max-attempts N       attempts per order before it fails (default 3)\n"
        "  --backoff-ms N         first retry delay, doubled per attempt (default 30000)\n"
        "  --map-size BYTES       LMDB map size (default 64 GiB; sparse)\n"
        "  --max-message BYTES    largest message accepted (default 16 MiB)\n"
        "  --port-file FILE       write the bound port there (for tcp://...:*)\n"
        "  --rules FILE           coordination rule file (YAML); SIGHUP or\n"
        "                         'wobctl rules reload' re-reads it (default: built-in rules)\n"
        "  --keep-leases LIST     channels whose workers keep their leases when their\n"
        "                         session ends without goodbye, until the leases expire\n"
        "                         or the worker comes back (default visit; \"\" for none)\n"
        "  --max-wave-targets N   most targets in one wave (default 20,000,000; 0: no limit)\n"
        "  --max-inflight N       requests one client connection may have in flight (read,\n"
        "                         not yet answered); more are refused at once as busy\n"
        "                         (default 1000; 0: no limit; else at least 8)\n"
        "  --channel-lease LIST   lease length per channel, over --lease-ms, such as\n"
        "                         visit=5d,call=20m\n"
        "  --test-clock           let 'wobctl clock advance' move the broker's clock (tests only)\n"
        "  --verify               check the (stopped broker's) --data directory: counts against\n"
        "                         orders, leases against dispatched orders; exit 0 if all is well\n"
        "  --http HOST:PORT       serve the read-only dashboard, its JSON API and Prometheus\n"
        "                         /metrics there (default off; port 0 picks a free one,\n"
        "                         logged; docs/DASHBOARD.md)\n"
        "  --http-port-file FILE  write the dashboard's bound port there\n"
        "  --curve-cert FILE      the broker's CurveZMQ certificate (FILE and FILE_secret,\n"
        "                         from 'wobctl keygen'); needs --keys\n"
        "  --keys FILE            clients' public keys with their roles: lines of\n"
        "                         ROLE NAME KEY [CHANNEL], roles campaign, worker (with its\n"
        "                         channel), supervisor, admin\n"
        "  --plain                no CurveZMQ: no encryption, no authentication (tests, a\n"
        "                         closed lab); one of --plain or --curve-cert is required\n");
}

//  Asks the broker for a bound port (command PORT or HTTP_PORT) and writes
//  it to path, if one was given.
static void
s_write_port (zactor_t *broker, const char *command, const char *path)
{
    if (!path)
        return;
    zstr_send (broker, command);
    char *port = zstr_recv (broker);
    FILE *file = fopen (path, "w");
    if (file) {
        fprintf (file, "%s\n", port? port: "");
        fclose (file);
    }
    free (port);
}

static long long
s_number (const char *option, const char *text)
{
    char *end;
    long long value = strtoll (text, &end, 10);
    if (!*text || *end || value < 0) {
        fprintf (stderr, "wob-broker: %s expects a non-negative number, got '%s'\n", option, text);
        exit (1);
    }
    return value;
}

//  --max-inflight: requests one client connection may have in flight.  The
//  default, 1000, is far above what well-behaved clients ever have: wobctl
//  one request at a time, the client library's submission a begin or 4
//  chunks, workers a hello plus their heartbeats, reports and extensions
//  (which have an allowance of their own on top, see s_inflight_over in
//  broker.c), an integration pipelining status look-ups a few hundred.  It
//  is also a quarter of what the broker reads in one turn (4096 messages),
//  so one client cannot fill a turn with work while others wait: beyond it
//  each request costs a decode and a short error.  Below MIN_INFLIGHT the
//  client library's own pipelined submission would be refused.
#define MIN_INFLIGHT 8

static uint32_t
s_inflight (const char *option, const char *text)
{
    long long value = s_number (option, text);
    if (value > UINT32_MAX || (value > 0 && value < MIN_INFLIGHT)) {
        fprintf (stderr, "wob-broker: %s %s: expected 0 (no limit) or %d..%u (the client "
                 "library keeps 4 chunks in flight when it submits a wave)\n",
                 option, text, MIN_INFLIGHT, UINT32_MAX);
        exit (1);
    }
    return (uint32_t) value;
}

//  Applies a ZPL config file; unknown keys are errors.  Returns the loaded
//  tree (config strings point into it) or NULL after printing why.
static zconfig_t *
s_load_config (const char *path, broker_config_t *config)
{
    zconfig_t *root = zconfig_load (path);
    if (!root) {
        fprintf (stderr, "wob-broker: cannot read config file %s (missing or not ZPL)\n", path);
        return NULL;
    }
    for (zconfig_t *section = zconfig_child (root); section; section = zconfig_next (section)) {
        if (!streq (zconfig_name (section), "broker")) {
            fprintf (stderr, "wob-broker: %s: unknown section '%s' (expected 'broker')\n",
                     path, zconfig_name (section));
            zconfig_destroy (&root);
            return NULL;
        }
        for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
            const char *key = zconfig_name (item);
            char *value = zconfig_value (item);
            char option [80];
            snprintf (option, sizeof (option), "%s: broker/%s", path, key);
            if (streq (key, "data"))                   config->data_dir = value;
            else if (streq (key, "endpoint"))          config->endpoint = value;
            else if (streq (key, "heartbeat_ms"))      config->heartbeat_ms = (uint32_t) s_number (option, value);
            else if (streq (key, "worker_timeout_ms")) config->worker_timeout_ms = (uint32_t) s_number (option, value);
            else if (streq (key, "restart_grace_ms"))  config->restart_grace_ms = (uint32_t) s_number (option, value);
            else if (streq (key, "lease_ms"))          config->lease_ms = (uint32_t) s_number (option, value);
            else if (streq (key, "max_attempts"))      config->max_attempts = (uint32_t) s_number (option, value);
            else if (streq (key, "backoff_ms"))        config->backoff_ms = (uint32_t) s_number (option, value);
            else if (streq (key, "map_size"))          config->map_size = (size_t) s_number (option, value);
            else if (streq (key, "max_message"))       config->max_message = (size_t) s_number (option, value);
            else if (streq (key, "rules"))             config->rules_path = value;
            else if (streq (key, "keep_leases"))       config->keep_leases = value;
            else if (streq (key, "channel_lease"))     config->channel_leases = value;
            else if (streq (key, "max_wave_targets"))  config->max_wave_targets = (uint64_t) s_number (option, value);
            else if (streq (key, "max_inflight"))      config->max_inflight = s_inflight (option, value);
            else if (streq (key, "http"))              config->http = value;
            else if (streq (key, "curve_cert"))        config->curve_cert = value;
            else if (streq (key, "keys"))              config->keys_path = value;
            else if (streq (key, "plain"))             config->plain = s_number (option, value) != 0;
            else {
                fprintf (stderr, "wob-broker: %s: unknown key 'broker/%s'\n", path, key);
                zconfig_destroy (&root);
                return NULL;
            }
        }
    }
    return root;
}

//  Which malloc the broker runs on (CMakeLists.txt, WOB_JEMALLOC): it
//  moves CPU per order and the shape of RssAnon, so the log says it.
static void
s_log_allocator (void)
{
#ifdef WOB_JEMALLOC
    const char *version = "?";
    size_t size = sizeof (version);
    mallctl ("version", &version, &size, NULL, 0);
    zsys_info ("allocator: jemalloc %s", version);
#else
    zsys_info ("allocator: the C library's malloc");
#endif
}

int
main (int argc, char *argv [])
{
    broker_config_t config = {
        .endpoint = "tcp://127.0.0.1:5570", .data_dir = "wob-data",
        .heartbeat_ms = 1000, .max_message = WOB_MAX_MESSAGE,
        .max_chunk_targets = 50000, .dispatch_batch = 2000, .restart_grace_ms = 10000,
        .max_wave_targets = 20000000,
        .max_inflight = 1000,
        .keep_leases = "visit"
    };
    const char *port_file = NULL, *http_port_file = NULL;
    bool verify = false;
    zconfig_t *file_config = NULL;
    for (int i = 1; i < argc - 1; i++)
        if (streq (argv [i], "--config")
        &&  !(file_config = s_load_config (argv [i + 1], &config)))
            return 1;
    static struct option options [] = {
        { "data", required_argument, 0, 'd' }, { "endpoint", required_argument, 0, 'e' },
        { "heartbeat-ms", required_argument, 0, 'h' },
        { "worker-timeout-ms", required_argument, 0, 't' },
        { "restart-grace-ms", required_argument, 0, 'g' },
        { "lease-ms", required_argument, 0, 'l' }, { "max-attempts", required_argument, 0, 'a' },
        { "backoff-ms", required_argument, 0, 'b' }, { "map-size", required_argument, 0, 'm' },
        { "max-message", required_argument, 0, 'M' }, { "port-file", required_argument, 0, 'p' },
        { "config", required_argument, 0, 'C' }, { "rules", required_argument, 0, 'r' },
        { "test-clock", no_argument, 0, 'T' }, { "keep-leases", required_argument, 0, 'K' },
        { "http", required_argument, 0, 'H' }, { "http-port-file", required_argument, 0, 'P' },
        { "curve-cert", required_argument, 0, 'c' }, { "keys", required_argument, 0, 'k' },
        { "plain", no_argument, 0, 'N' }, { "channel-lease", required_argument, 0, 'V' },
        { "max-wave-targets", required_argument, 0, 'W' }, { "verify", no_argument, 0, 'Y' },
        { "max-inflight", required_argument, 0, 'I' },
        { "help", no_argument, 0, '?' }, { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (c) {
            case 'd': config.data_dir = optarg; break;
            case 'e': config.endpoint = optarg; break;
            case 'h': config.heartbeat_ms = (uint32_t) s_number ("--heartbeat-ms", optarg); break;
            case 't': config.worker_timeout_ms = (uint32_t) s_number ("--worker-timeout-ms", optarg); break;
            case 'g': config.restart_grace_ms = (uint32_t) s_number ("--restart-grace-ms", optarg); break;
            case 'l': config.lease_ms = (uint32_t) s_number ("--lease-ms", optarg); break;
            case 'a': config.max_attempts = (uint32_t) s_number ("--max-attempts", optarg); break;
            case 'b': config.backoff_ms = (uint32_t) s_number ("--backoff-ms", optarg); break;
            case 'm': config.map_size = (size_t) s_number ("--map-size", optarg); break;
            case 'M': config.max_message = (size_t) s_number ("--max-message", optarg); break;
            case 'p': port_file = optarg; break;
            case 'C': break;                //  read above
            case 'r': config.rules_path = optarg; break;
            case 'T': config.test_clock = true; break;
            case 'K': config.keep_leases = optarg; break;
            case 'H': config.http = optarg; break;
            case 'P': http_port_file = optarg; break;
            case 'c': config.curve_cert = optarg; break;
            case 'k': config.keys_path = optarg; break;
            case 'N': config.plain = true; break;
            case 'V': config.channel_leases = optarg; break;
            case 'Y': verify = true; break;
            case 'W': config.max_wave_targets = (uint64_t) s_number ("--max-wave-targets", optarg); break;
            case 'I': config.max_inflight = s_inflight ("--max-inflight", optarg); break;
            default:
                s_usage (c == '?' && optopt == 0? stdout: stderr);
                return c == '?' && optopt == 0? 0: 1;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "wob-broker: unexpected argument '%s'\n", argv [optind]);
        s_usage (stderr);
        return 1;
    }
    if (verify) {
        char err [WOB_ERRLEN];
        int rc = verify_store (config.data_dir, stdout, err);
        if (rc)
            fprintf (stderr, "wob-broker: verify: %s\n", err);
        else
            printf ("%s: all counts match their orders, leases match dispatched orders\n",
                    config.data_dir);
        return rc? 1: 0;
    }
    if (config.heartbeat_ms == 0)
        config.heartbeat_ms = 1000;
    if (config.worker_timeout_ms == 0)
        config.worker_timeout_ms = 3 * config.heartbeat_ms;
    zsys_set_logident ("wob-broker");
    zsys_set_logstream (stderr);
    s_log_allocator ();
    zactor_t *broker = zactor_new (broker_actor, &config);
    char *status = zstr_recv (broker);
    if (!status || !streq (status, "READY")) {
        fprintf (stderr, "wob-broker: %s\n", status? status: "failed to start");
        free (status);
        zactor_destroy (&broker);
        zconfig_destroy (&file_config);
        return 1;
    }
    free (status);
    //  The dashboard's port first: scripts wait for --port-file.
    s_write_port (broker, "HTTP_PORT", http_port_file);
    s_write_port (broker, "PORT", port_file);
    //  CZMQ's handler sets zsys_interrupted on SIGINT and SIGTERM; SIGHUP
    //  interrupts the wait too (no SA_RESTART) and asks for a rules reload.
    struct sigaction action = { .sa_handler = s_on_hup };
    sigemptyset (&action.sa_mask);
    sigaction (SIGHUP, &action, NULL);
    while (!zsys_interrupted) {
        char *message = zstr_recv (broker);
        free (message);
        if (s_reload) {
            s_reload = 0;
            zstr_send (broker, "RELOAD");
            continue;
        }
        if (!message)
            break;
    }
    zactor_destroy (&broker);
    zconfig_destroy (&file_config);
    return 0;
}
