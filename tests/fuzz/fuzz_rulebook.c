/*  fuzz_rulebook.c - libFuzzer target for the rule file parser,
    rulebook_parse (broker/rulebook.c, with lib/yamldoc.c): the YAML or
    JSON an operator hands the broker with --rules and reloads with SIGHUP.

    Each input is parsed straight from libFuzzer's buffer (exactly size
    bytes, no NUL after them: rulebook_parse must not read past the end)
    with the broker's three channels.  The checks follow broker/rulebook.h:
    a refusal gives NULL and a message; an accepted rulebook keeps a copy
    of the text, every rule in it is well formed and names a known channel,
    the hot-path lookups work on it, and it is freed by an idempotent
    rulebook_destroy.

    Findings are ASan / UBSan reports and the checks below, which abort with
    a line on stderr.  Build and run: tests/fuzz/README.md.              */

#include "rulebook.h"

//  Checks a contract of the code under test; a failure is a finding.
#define S_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf (stderr, "fuzz_rulebook: check failed at %s:%d: %s\n", \
                     __FILE__, __LINE__, #cond); \
            abort (); \
        } \
    } while (0)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  The broker's channels (broker.c's channel table)
static const char *s_channels [] = { "sms", "call", "visit", NULL };

//  True when name is one of s_channels
static bool
s_known_channel (const char *name)
{
    if (!name)
        return false;
    for (const char **channel = s_channels; *channel; channel++)
        if (strcmp (*channel, name) == 0)
            return true;
    return false;
}

//  An accepted rulebook: everything it holds is there and consistent
static void
s_check_rulebook (const rulebook_t *book, const uint8_t *data, size_t size)
{
    S_CHECK (book->path && strcmp (book->path, "fuzz.yaml") == 0);
    S_CHECK (book->text && memcmp (book->text, data, size) == 0 && book->text [size] == 0);
    S_CHECK (book->number_min_len <= book->number_max_len);
    for (size_t i = 0; i < book->n_number_prefixes; i++)
        S_CHECK (book->number_prefixes [i] && *book->number_prefixes [i]);
    for (size_t i = 0; i < book->n_caps; i++) {
        const rule_cap_t *cap = &book->caps [i];
        S_CHECK (cap->name && *cap->name);
        S_CHECK (cap->channel && (!*cap->channel || s_known_channel (cap->channel)));
        S_CHECK (cap->max >= 1 && cap->window_ms > 0);
    }
    for (size_t i = 0; i < book->n_quiet; i++) {
        const rule_quiet_t *quiet = &book->quiet [i];
        S_CHECK (s_known_channel (quiet->channel));
        S_CHECK (quiet->from_min >= 0 && quiet->from_min < 24 * 60);
        S_CHECK (quiet->to_min >= 0 && quiet->to_min < 24 * 60);
        S_CHECK (quiet->from_min != quiet->to_min);
        S_CHECK (rulebook_quiet (book, quiet->channel) == quiet);
    }
    for (size_t i = 0; i < book->n_absorb; i++) {
        const rule_absorb_t *absorb = &book->absorb [i];
        S_CHECK (s_known_channel (absorb->into) && s_known_channel (absorb->from));
        S_CHECK (strcmp (absorb->into, absorb->from) != 0);
    }
    for (size_t i = 0; i < book->n_throttle; i++) {
        const rule_throttle_t *throttle = &book->throttle [i];
        S_CHECK (s_known_channel (throttle->channel));
        S_CHECK (throttle->per_second >= 0 && throttle->per_worker_per_second >= 0);
        S_CHECK (rulebook_throttle (book, throttle->channel) == throttle);
    }
    S_CHECK (book->merge_window_ms > 0);
    S_CHECK (book->fallback_after >= 1);
    S_CHECK (book->control_share >= 0 && book->control_share <= 0.5);

    //  Lookups for every channel and an unknown one; absorption never loops
    for (const char **channel = s_channels; *channel; channel++) {
        rulebook_quiet (book, *channel);
        rulebook_throttle (book, *channel);
        const char *into = *channel;
        int hops = 0;
        while ((into = rulebook_absorbed_into (book, into)))
            S_CHECK (++hops <= RULEBOOK_MAX_CHANNELS);
    }
    S_CHECK (rulebook_quiet (book, "fax") == NULL);
    S_CHECK (rulebook_throttle (book, "fax") == NULL);
    S_CHECK (rulebook_absorbed_into (book, "fax") == NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err [WOB_ERRLEN] = "";
    rulebook_t *book = rulebook_parse ((const char *) data, size, "fuzz.yaml",
                                       s_channels, err);
    if (!book) {
        S_CHECK (memchr (err, 0, WOB_ERRLEN) != NULL);
        S_CHECK (err [0] != 0);
        return 0;
    }
    s_check_rulebook (book, data, size);
    rulebook_destroy (&book);
    S_CHECK (book == NULL);
    rulebook_destroy (&book);           //  idempotent
    return 0;
}
