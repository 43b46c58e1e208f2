/*  simworker.c - wob-simworker: a simulated channel worker.

    For rehearsing waves and for load and failure tests: it takes orders like
    a real worker, "handles" each for a configurable delay, and reports an
    outcome drawn from a configurable mix.  It can crash (SIGKILL itself)
    after N orders, to rehearse a worker dying with leases in hand, and it
    can log every report it makes, so tests can check exactly-once.      */

#include "wob_worker.h"
#include <getopt.h>
#include <signal.h>

typedef struct {
    int outcome;                //  Wob__Outcome
    double weight;              //  cumulative probability
} mix_t;

typedef struct {
    Wob__LeaseItem *item;       //  the order in hand
    int64_t due;                //  when its handling is over (mono ms)
} job_t;

static uint64_t s_rng;

static double
s_random (void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (double) ((s_rng * 0x2545F4914F6CDD1DULL) >> 11) / (double) (1ULL << 53);
}

//  Parses "delivered=0.9,failed=0.1" into a cumulative table.
static int
s_parse_mix (const char *text, mix_t *mix, size_t *count)
{
    char *copy = strdup (text), *save = NULL;
    double total = 0;
    *count = 0;
    for (char *tok = strtok_r (copy, ",", &save); tok && *count < 16;
         tok = strtok_r (NULL, ",", &save)) {
        char *eq = strchr (tok, '=');
        if (!eq) {
            fprintf (stderr, "wob-simworker: --outcomes: '%s' is not NAME=WEIGHT\n", tok);
            free (copy);
            return -1;
        }
        *eq = 0;
        int outcome = wob_outcome_from_name (tok);
        char *end;
        double weight = strtod (eq + 1, &end);
        if (outcome <= 0 || *end || weight < 0) {
            fprintf (stderr, "wob-simworker: --outcomes: '%s=%s' is not a known outcome "
                     "with a weight\n", tok, eq + 1);
            free (copy);
            return -1;
        }
        total += weight;
        mix [*count].outcome = outcome;
        mix [(*count)++].weight = total;
    }
    free (copy);
    if (total <= 0)
        return -1;
    for (size_t i = 0; i < *count; i++)
        mix [i].weight /= total;
    return 0;
}

static const char *
s_default_mix (const char *channel)
{
    if (streq (channel, "sms"))
        return "delivered=0.9,undelivered=0.05,failed=0.05";
    if (streq (channel, "call"))
        return "accepted=0.2,interested=0.2,declined=0.3,unreachable=0.2,failed=0.1";
    return "accepted=0.4,interested=0.3,declined=0.3";
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: wob-simworker --channel sms|call|visit [options]\n"
        "  --endpoint E        broker endpoint (default $WOB_ENDPOINT or tcp://127.0.0.1:5570)\n"
        "  --name NAME         worker identity (default CHANNEL-PID)\n"
        "  --capacity N        orders held at once (default 10)\n"
        "  --delay-ms N        handling time per order (default 0)\n"
        "  --outcomes MIX      e.g. delivered=0.9,failed=0.1 (default depends on channel)\n"
        "  --crash-after N     SIGKILL itself after taking N orders\n"
        "  --exit-after N      leave cleanly after reporting N outcomes\n"
        "  --idle-exit-ms N    leave cleanly after N ms without work\n"
        "  --owns X            declare a range / region (repeatable)\n"
        "  --log FILE          append 'order attempt outcome number region' per report\n"
        "  --seed N            outcome randomness (default: time)\n"
        "  --heartbeat-ms N    heartbeat interval (default 1000)\n");
}

int
main (int argc, char *argv [])
{
    wob_worker_config_t config = { .endpoint = getenv ("WOB_ENDPOINT"), .capacity = 10 };
    if (!config.endpoint)
        config.endpoint = "tcp://127.0.0.1:5570";
    const char *mix_text = NULL, *log_path = NULL;
    long delay_ms = 0, crash_after = 0, exit_after = 0, idle_exit_ms = 0;
    const char *owns [64];
    char name [80];
    s_rng = (uint64_t) wob_now_ms () * 2654435761u ^ (uint64_t) getpid ();
    static struct option options [] = {
        { "endpoint", required_argument, 0, 'e' }, { "channel", required_argument, 0, 'c' },
        { "name", required_argument, 0, 'n' }, { "capacity", required_argument, 0, 'k' },
        { "delay-ms", required_argument, 0, 'd' }, { "outcomes", required_argument, 0, 'o' },
        { "crash-after", required_argument, 0, 'x' }, { "exit-after", required_argument, 0, 'X' },
        { "idle-exit-ms", required_argument, 0, 'i' }, { "owns", required_argument, 0, 'w' },
        { "log", required_argument, 0, 'l' }, { "seed", required_argument, 0, 's' },
        { "heartbeat-ms", required_argument, 0, 'h' }, { "help", no_argument, 0, '?' },
        { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (c) {
            case 'e': config.endpoint = optarg; break;
            case 'c': config.channel = optarg; break;
            case 'n': config.name = optarg; break;
            case 'k': config.capacity = (uint32_t) atol (optarg); break;
            case 'd': delay_ms = atol (optarg); break;
            case 'o': mix_text = optarg; break;
            case 'x': crash_after = atol (optarg); break;
            case 'X': exit_after = atol (optarg); break;
            case 'i': idle_exit_ms = atol (optarg); break;
            case 'w': if (config.n_owns < 64) owns [config.n_owns++] = optarg; break;
            case 'l': log_path = optarg; break;
            case 's': s_rng = (uint64_t) strtoull (optarg, NULL, 10) * 0x9E3779B97F4A7C15ULL + 1; break;
            case 'h': config.heartbeat_ms = (uint32_t) atol (optarg); break;
            default:
                s_usage (c == '?' && optopt == 0? stdout: stderr);
                return c == '?' && optopt == 0? 0: 1;
        }
    }
    if (!config.channel || config.capacity == 0) {
        s_usage (stderr);
        return 1;
    }
    if (!config.name) {
        snprintf (name, sizeof (name), "%s-%d", config.channel, (int) getpid ());
        config.name = name;
    }
    config.owns = owns;
    mix_t mix [16];
    size_t n_mix;
    if (s_parse_mix (mix_text? mix_text: s_default_mix (config.channel), mix, &n_mix))
        return 1;
    FILE *log = log_path? fopen (log_path, "a"): NULL;
    if (log_path && !log) {
        fprintf (stderr, "wob-simworker: cannot open %s: %s\n", log_path, strerror (errno));
        return 1;
    }
    zsys_set_logident (config.name);
    char err [WOB_ERRLEN];
    wob_worker_t *worker = wob_worker_new (&config, err);
    if (!worker) {
        fprintf (stderr, "wob-simworker: %s\n", err);
        return 1;
    }
    job_t *jobs = calloc (config.capacity, sizeof (job_t));
    size_t n_jobs = 0;
    long taken = 0, reported = 0;
    int status = 0;
    int64_t last_work = zclock_mono ();
    while (!zsys_interrupted) {
        if (wob_worker_refused (worker)) {
            fprintf (stderr, "wob-simworker: %s\n", wob_worker_error (worker));
            status = 2;
            break;
        }
        //  Take orders while there is room and handle the ones that are due.
        int64_t now = zclock_mono ();
        int wait = 200;
        for (size_t i = 0; i < n_jobs; i++)
            if (jobs [i].due - now < wait)
                wait = (int) (jobs [i].due - now < 0? 0: jobs [i].due - now);
        Wob__LeaseItem *item = n_jobs < config.capacity? wob_worker_next (worker, wait): NULL;
        if (!item && n_jobs == config.capacity)
            wob_worker_poll (worker, wait);
        now = zclock_mono ();
        if (item) {
            jobs [n_jobs].item = item;
            jobs [n_jobs++].due = now + delay_ms;
            last_work = now;
            if (crash_after && ++taken >= crash_after) {
                fprintf (stderr, "%s: crashing on purpose after %ld orders\n", config.name, taken);
                fflush (log);
                raise (SIGKILL);
            }
        }
        for (size_t i = 0; i < n_jobs; ) {
            if (jobs [i].due > now) {
                i++;
                continue;
            }
            Wob__Order *order = jobs [i].item->order;
            double r = s_random ();
            int outcome = mix [n_mix - 1].outcome;
            for (size_t m = 0; m < n_mix; m++)
                if (r < mix [m].weight) {
                    outcome = mix [m].outcome;
                    break;
                }
            int64_t callback = outcome == WOB__OUTCOME__OUTCOME_CALLBACK? wob_now_ms () + 1000: 0;
            wob_worker_report (worker, order->id, order->attempts, outcome, "simulated", callback);
            if (log) {
                Wob__Target *t = order->target;
                fprintf (log, "%" PRIu64 " %u %s %s %s/%s/%s/%s\n", order->id, order->attempts,
                         wob_outcome_name (outcome), t && *t->msisdn? t->msisdn: "-",
                         t? t->province: "", t? t->city: "", t? t->district: "",
                         t? t->grid: "");
            }
            wob__lease_item__free_unpacked (jobs [i].item, NULL);
            jobs [i] = jobs [--n_jobs];
            reported++;
            last_work = now;
        }
        if (log)
            fflush (log);
        if (exit_after && reported >= exit_after)
            break;
        if (idle_exit_ms && n_jobs == 0 && now - last_work > idle_exit_ms
        &&  wob_worker_unacked (worker) == 0)
            break;
    }
    for (size_t i = 0; i < n_jobs; i++)
        wob__lease_item__free_unpacked (jobs [i].item, NULL);
    free (jobs);
    wob_worker_destroy (&worker);
    if (log)
        fclose (log);
    return status;
}
