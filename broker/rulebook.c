/*  rulebook.c - the broker's rule file: the coordination rules of SPEC §4
    (filters, quiet hours, merge, fallback, collaboration, throttling, the
    control group) read from YAML or JSON (JSON is read as YAML, of which it
    is a subset) into an immutable rulebook_t.

    The format, every key shown with its default:

        version: 1                  # required, must be 1
        filters:
          suppression: on           # honour the do-not-disturb list
          duplicate: on             # same number twice in a wave
          open_offer: on            # customer already holds the offer
          number:
            check: on               # validate numbers
            length: 11              # digits, or [min, max] such as [5, 15];
                                    #   1 to 32
            prefixes: []            # allowed prefixes, ints or strings of
                                    #   digits ([] = any); at most 4096
          frequency_caps: []        # list of caps, at most 256:
            # - name: cap-sms-1d    #   required, [a-z0-9._-]{1,48}, unique
            #   channel: sms        #   optional (all channels together)
            #   max: 1              #   required, contacts allowed, >= 1
            #   window: 24h         #   required duration, > 0
        quiet_hours: {}             # channel: { quiet: "21:00-08:00",
                                    #            utc_offset: "+08:00" }
                                    #   quiet required, HH:MM-HH:MM local,
                                    #   may wrap midnight, from != to;
                                    #   utc_offset "+HH:MM" / "-HH:MM" within
                                    #   14:00, default "+00:00"
        merge:
          enabled: on
          window: 72h               # duration, > 0
          absorb: []                # "INTO > FROM", e.g. "call > sms": an
                                    #   order in FROM is folded into the
                                    #   customer's open order in INTO
        fallback:
          triggers: [undelivered, unreachable, wrong_number]
                                    # outcome names, not none; [] = never
          after: 1                  # attempts with a trigger outcome, >= 1
        collaboration:
          success: [accepted]       # outcomes that cancel sibling orders
        throttle: {}                # channel: { per_second: 200,
                                    #            per_worker_per_second: 50 }
                                    #   numbers >= 0, 0 = unlimited, each
                                    #   optional
        control: 0%                 # control-group share: "5%" or 0.05,
                                    #   0 to 50%

    Booleans are on, off, true, false, yes or no (any case).  Durations are
    a whole number and a unit, ms, s, m, h or d: 500ms, 90s, 15m, 72h, 7d.
    Null values (~, null or nothing) count as absent, so the default holds;
    within a section, keys left out keep their defaults too, while a list
    that is given (even empty) replaces the default list.

    Channel names are checked against the broker's configured channels; with
    no list (NULL, for fuzzing and offline checks) any [a-z][a-z0-9_]{0,31}
    name is taken.  Quiet hours and throttles take at most one entry per
    channel; in merge.absorb a channel is absorbed into at most one other,
    may not absorb itself, and absorption may chain ("visit > call",
    "call > sms") but never loop.

    Everything is checked before a rulebook exists: unknown keys, duplicate
    keys, wrong types, missing required keys, values out of range, unknown
    channels and outcomes, repeated cap names, prefixes and outcomes.  Every
    message names the file, the 1-based line and the key:
    "rules.yaml:7: unknown key 'supression' in filters (expected ...)".
    The version is checked first, so a file written for a later format says
    so instead of listing that format's keys as unknown.  Files over 1 MiB
    are refused, as is a second YAML document in the same file.          */

#include "rulebook.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#define S_MAX_RULE_FILE   (1024 * 1024)     //  larger files are refused
#define S_MAX_NUMBER_LEN  32                //  digits in a phone number
#define S_MAX_PREFIXES    4096              //  entries in number.prefixes
#define S_MAX_CAPS        256               //  entries in frequency_caps
#define S_MAX_CAP_NAME    48                //  characters in a cap's name
#define S_MAX_UTC_OFFSET  (14 * 60)         //  minutes either side of UTC
#define S_MAX_CONTROL     0.5               //  control-group share

//  The defaults, in the rule file's own format: what rulebook_default
//  shows as its text.  s_new_defaults sets the same values; the unit test
//  checks that parsing this text gives exactly the defaults.
static const char *s_default_text =
    "# Built-in rules: the broker was started without a rule file.\n"
    "version: 1\n"
    "filters:\n"
    "  suppression: on\n"
    "  duplicate: on\n"
    "  open_offer: on\n"
    "  number: { check: on, length: 11, prefixes: [] }\n"
    "  frequency_caps: []\n"
    "quiet_hours: {}\n"
    "merge: { enabled: on, window: 72h, absorb: [] }\n"
    "fallback: { triggers: [undelivered, unreachable, wrong_number], after: 1 }\n"
    "collaboration: { success: [accepted] }\n"
    "throttle: {}\n"
    "control: 0%\n";

typedef struct {
    const char *path;           //  file name for messages
    yaml_document_t *doc;       //  the parsed document
    const char **channels;      //  configured channels, NULL = any name
    rulebook_t *book;           //  the rulebook being filled in
    char *err;                  //  caller's error buffer (may be NULL)
} s_ctx_t;

static int
s_fail (s_ctx_t *ctx, yaml_node_t *node, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Reports an error at node's line (or for the whole file when node is
//  NULL).  Returns -1.
static int
s_fail (s_ctx_t *ctx, yaml_node_t *node, const char *fmt, ...)
{
    char text [WOB_ERRLEN];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (text, sizeof (text), fmt, ap);
    va_end (ap);
    if (node)
        wob_fail (ctx->err, 0, "%s:%zu: %s", ctx->path, node->start_mark.line + 1, text);
    else
        wob_fail (ctx->err, 0, "%s: %s", ctx->path, text);
    return -1;
}

static int
s_no_memory (s_ctx_t *ctx)
{
    wob_fail (ctx->err, 0, "%s: out of memory", ctx->path);
    return -1;
}

static yaml_node_t *
s_node (s_ctx_t *ctx, int index)
{
    return yaml_document_get_node (ctx->doc, index);
}

static const char *
s_type_name (yaml_node_t *node)
{
    return node->type == YAML_SEQUENCE_NODE? "a list":
           node->type == YAML_MAPPING_NODE? "a map": "a string";
}

//  True for ~, null and empty plain scalars: YAML's null
static bool
s_is_null (yaml_node_t *node)
{
    if (node->type != YAML_SCALAR_NODE
    ||  node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *value = (const char *) node->data.scalar.value;
    return streq (value, "") || streq (value, "~") || streq (value, "null")
        || streq (value, "Null") || streq (value, "NULL");
}

//  Returns the text of a non-empty scalar, or NULL with an error naming
//  what and the kind of value expected when node is not one.
static const char *
s_text (s_ctx_t *ctx, yaml_node_t *node, const char *what, const char *kind)
{
    if (node->type != YAML_SCALAR_NODE) {
        s_fail (ctx, node, "%s must be %s, not %s", what, kind, s_type_name (node));
        return NULL;
    }
    const char *value = (const char *) node->data.scalar.value;
    if (strlen (value) != node->data.scalar.length) {
        s_fail (ctx, node, "%s contains a NUL character", what);
        return NULL;
    }
    if (*value == 0 || s_is_null (node)) {
        s_fail (ctx, node, "%s is empty", what);
        return NULL;
    }
    return value;
}

//  Checks that node is a map; keys lists what it takes, for the message.
static int
s_expect_map (s_ctx_t *ctx, yaml_node_t *node, const char *what, const char *keys)
{
    if (node->type != YAML_MAPPING_NODE)
        return s_fail (ctx, node, "%s must be a map (%s), not %s", what, keys,
                       s_type_name (node));
    return 0;
}

//  Checks that node is a list of at most max items.
static int
s_expect_list (s_ctx_t *ctx, yaml_node_t *node, const char *what, size_t max)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return s_fail (ctx, node, "%s must be a list, not %s", what, s_type_name (node));
    size_t count = node->data.sequence.items.top - node->data.sequence.items.start;
    if (count > max)
        return s_fail (ctx, node, "%s has %zu items (at most %zu)", what, count, max);
    return 0;
}

//  Returns the name of pair's key in map after checking that it is a
//  string not seen before in the same map; NULL after an error.
static const char *
s_key (s_ctx_t *ctx, yaml_node_t *map, yaml_node_pair_t *pair, const char *where)
{
    yaml_node_t *key = s_node (ctx, pair->key);
    if (key->type != YAML_SCALAR_NODE) {
        s_fail (ctx, key, "keys in %s must be strings, not %s", where, s_type_name (key));
        return NULL;
    }
    const char *name = (const char *) key->data.scalar.value;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair; p++) {
        yaml_node_t *prior = s_node (ctx, p->key);
        if (prior->type == YAML_SCALAR_NODE
        &&  streq ((const char *) prior->data.scalar.value, name)) {
            s_fail (ctx, key, "duplicate key '%.64s' in %s (first on line %zu)",
                    name, where, prior->start_mark.line + 1);
            return NULL;
        }
    }
    return name;
}

static int
s_unknown_key (s_ctx_t *ctx, yaml_node_pair_t *pair, const char *where,
               const char *keys)
{
    yaml_node_t *key = s_node (ctx, pair->key);
    return s_fail (ctx, key, "unknown key '%.64s' in %s (expected %s)",
                   (const char *) key->data.scalar.value, where, keys);
}

static int
s_bool (s_ctx_t *ctx, yaml_node_t *node, const char *what, bool *dest)
{
    const char *text = s_text (ctx, node, what, "on or off");
    if (!text)
        return -1;
    if (!strcasecmp (text, "on") || !strcasecmp (text, "true") || !strcasecmp (text, "yes"))
        *dest = true;
    else
    if (!strcasecmp (text, "off") || !strcasecmp (text, "false") || !strcasecmp (text, "no"))
        *dest = false;
    else
        return s_fail (ctx, node, "%s: '%.64s' is not a boolean (on, off, true, "
                       "false, yes or no)", what, text);
    return 0;
}

//  Parses a whole number within [min, max]: digits only, no sign.
static int
s_uint (s_ctx_t *ctx, yaml_node_t *node, const char *what, uint32_t min,
        uint32_t max, uint32_t *dest)
{
    const char *text = s_text (ctx, node, what, "a whole number");
    if (!text)
        return -1;
    uint64_t value = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return s_fail (ctx, node, "%s: '%.64s' is not a whole number", what, text);
        value = value * 10 + (*p - '0');
        if (value > UINT32_MAX)
            break;
    }
    if (value < min || value > max)
        return s_fail (ctx, node, "%s: %.64s is out of range (%u to %u)", what,
                       text, min, max);
    *dest = (uint32_t) value;
    return 0;
}

//  Parses a decimal number ("200", "0.05", "-1", "2.5e2"); no hex, inf or
//  nan.  Ranges are the caller's to check.
static int
s_number (s_ctx_t *ctx, yaml_node_t *node, const char *what, const char *text,
          double *dest)
{
    bool digit = false;
    for (const char *p = text; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digit = true;
        else
        if (!strchr (".eE+-", *p)) {
            digit = false;              //  a letter or space: refused below
            break;
        }
    }
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (!digit || end == text || *end || errno || !isfinite (value))
        return s_fail (ctx, node, "%s: '%.64s' is not a number", what, text);
    *dest = value;
    return 0;
}

//  Parses a duration that must be longer than zero.
static int
s_duration (s_ctx_t *ctx, yaml_node_t *node, const char *what, int64_t *dest)
{
    const char *text = s_text (ctx, node, what, "a duration");
    if (!text)
        return -1;
    int64_t value = rulebook_duration (text);
    if (value < 0)
        return s_fail (ctx, node, "%s: '%.64s' is not a duration (a whole number "
                       "and a unit: ms, s, m, h or d, as in 90s, 15m, 72h, 7d)",
                       what, text);
    if (value == 0)
        return s_fail (ctx, node, "%s: %s is not longer than zero", what, text);
    *dest = value;
    return 0;
}

static bool
s_valid_channel_name (const char *name)
{
    size_t len = strlen (name);
    if (len < 1 || len > 32 || name [0] < 'a' || name [0] > 'z')
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

//  Checks that text names a configured channel.  node carries the line.
static int
s_check_channel (s_ctx_t *ctx, yaml_node_t *node, const char *what, const char *text)
{
    if (!ctx->channels) {
        if (!s_valid_channel_name (text))
            return s_fail (ctx, node, "%s: '%.64s' is not a channel name "
                           "([a-z][a-z0-9_]{0,31})", what, text);
        return 0;
    }
    char known [256] = "";
    size_t used = 0;
    for (const char **channel = ctx->channels; *channel; channel++) {
        if (streq (*channel, text))
            return 0;
        int len = snprintf (known + used, sizeof (known) - used, "%s%s",
                            used? ", ": "", *channel);
        if (len > 0)
            used = used + len < sizeof (known)? used + len: sizeof (known) - 1;
    }
    return s_fail (ctx, node, "%s: unknown channel '%.64s' (configured: %s)", what,
                   text, used? known: "none");
}

//  The names of every outcome but none, for messages
static void
s_outcome_names (char *buf, size_t size)
{
    size_t used = 0;
    buf [0] = 0;
    for (int outcome = 1; !streq (wob_outcome_name (outcome), "unknown"); outcome++) {
        int len = snprintf (buf + used, size - used, "%s%s", used? ", ": "",
                            wob_outcome_name (outcome));
        if (len < 0 || used + len >= size)
            break;
        used += len;
    }
}

//  Parses a list of outcome names into a bit set (1u << outcome).
static int
s_outcomes (s_ctx_t *ctx, yaml_node_t *node, const char *what, uint32_t *dest)
{
    if (s_expect_list (ctx, node, what, 32))
        return -1;
    uint32_t bits = 0;
    for (yaml_node_item_t *item = node->data.sequence.items.start;
         item < node->data.sequence.items.top; item++) {
        yaml_node_t *value = s_node (ctx, *item);
        const char *name = s_text (ctx, value, what, "an outcome name");
        if (!name)
            return -1;
        int outcome = wob_outcome_from_name (name);
        if (outcome <= 0 || outcome >= 32) {
            char names [256];
            s_outcome_names (names, sizeof (names));
            return s_fail (ctx, value, "%s: unknown outcome '%.64s' (expected %s)",
                           what, name, names);
        }
        if (bits & (1u << outcome))
            return s_fail (ctx, value, "%s: outcome '%s' is listed twice", what, name);
        bits |= 1u << outcome;
    }
    *dest = bits;
    return 0;
}

//  Parses "HH:MM" at text; -1 when it is not a time of day.
static int
s_clock (const char *text)
{
    for (int i = 0; i < 5; i++)
        if (i == 2? text [i] != ':': (text [i] < '0' || text [i] > '9'))
            return -1;
    int hours = (text [0] - '0') * 10 + text [1] - '0';
    int minutes = (text [3] - '0') * 10 + text [4] - '0';
    return hours < 24 && minutes < 60? hours * 60 + minutes: -1;
}

//  --- Filters ---------------------------------------------------------

static int
s_parse_length (s_ctx_t *ctx, yaml_node_t *node)
{
    const char *what = "filters.number.length";
    rulebook_t *book = ctx->book;
    if (node->type == YAML_SCALAR_NODE) {
        if (s_uint (ctx, node, what, 1, S_MAX_NUMBER_LEN, &book->number_min_len))
            return -1;
        book->number_max_len = book->number_min_len;
        return 0;
    }
    if (node->type != YAML_SEQUENCE_NODE)
        return s_fail (ctx, node, "%s must be a number of digits or a list [min, max], "
                       "not %s", what, s_type_name (node));
    yaml_node_item_t *start = node->data.sequence.items.start;
    size_t count = node->data.sequence.items.top - start;
    if (count != 2)
        return s_fail (ctx, node, "%s: give [min, max], not a list of %zu", what, count);
    if (s_uint (ctx, s_node (ctx, start [0]), what, 1, S_MAX_NUMBER_LEN,
                &book->number_min_len)
    ||  s_uint (ctx, s_node (ctx, start [1]), what, 1, S_MAX_NUMBER_LEN,
                &book->number_max_len))
        return -1;
    if (book->number_min_len > book->number_max_len)
        return s_fail (ctx, node, "%s: min %u is above max %u", what,
                       book->number_min_len, book->number_max_len);
    return 0;
}

static int
s_parse_prefixes (s_ctx_t *ctx, yaml_node_t *node)
{
    const char *what = "filters.number.prefixes";
    rulebook_t *book = ctx->book;
    if (s_expect_list (ctx, node, what, S_MAX_PREFIXES))
        return -1;
    size_t count = node->data.sequence.items.top - node->data.sequence.items.start;
    if (count == 0)
        return 0;
    book->number_prefixes = (char **) calloc (count, sizeof (char *));
    if (!book->number_prefixes)
        return s_no_memory (ctx);
    for (yaml_node_item_t *item = node->data.sequence.items.start;
         item < node->data.sequence.items.top; item++) {
        yaml_node_t *value = s_node (ctx, *item);
        const char *prefix = s_text (ctx, value, what, "a number prefix");
        if (!prefix)
            return -1;
        size_t len = strspn (prefix, "0123456789");
        if (prefix [len] || len > S_MAX_NUMBER_LEN)
            return s_fail (ctx, value, "%s: '%.64s' is not a number prefix (1 to %d "
                           "digits)", what, prefix, S_MAX_NUMBER_LEN);
        for (size_t i = 0; i < book->n_number_prefixes; i++)
            if (streq (book->number_prefixes [i], prefix))
                return s_fail (ctx, value, "%s: prefix '%s' is listed twice", what, prefix);
        if (!(book->number_prefixes [book->n_number_prefixes] = strdup (prefix)))
            return s_no_memory (ctx);
        book->n_number_prefixes++;
    }
    return 0;
}

static int
s_parse_number_filter (s_ctx_t *ctx, yaml_node_t *node)
{
    const char *where = "filters.number";
    const char *keys = "check, length, prefixes";
    rulebook_t *book = ctx->book;
    if (s_expect_map (ctx, node, where, keys))
        return -1;
    yaml_node_t *prefixes = NULL;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const char *name = s_key (ctx, node, pair, where);
        if (!name)
            return -1;
        yaml_node_t *value = s_node (ctx, pair->value);
        int rc = 0;
        if (streq (name, "check")) {
            if (!s_is_null (value))
                rc = s_bool (ctx, value, "filters.number.check", &book->number_check);
        }
        else
        if (streq (name, "length")) {
            if (!s_is_null (value))
                rc = s_parse_length (ctx, value);
        }
        else
        if (streq (name, "prefixes")) {
            if (!s_is_null (value)) {
                rc = s_parse_prefixes (ctx, value);
                prefixes = value;
            }
        }
        else
            rc = s_unknown_key (ctx, pair, where, keys);
        if (rc)
            return -1;
    }
    //  A prefix longer than the longest number could never match
    for (size_t i = 0; prefixes && i < book->n_number_prefixes; i++)
        if (strlen (book->number_prefixes [i]) > book->number_max_len)
            return s_fail (ctx, s_node (ctx, prefixes->data.sequence.items.start [i]),
                           "filters.number.prefixes: '%s' is longer than the longest "
                           "number (%u digits)", book->number_prefixes [i],
                           book->number_max_len);
    return 0;
}

static bool
s_valid_cap_name (const char *name)
{
    size_t len = strlen (name);
    if (len < 1 || len > S_MAX_CAP_NAME)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
        ||    *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

static int
s_parse_cap (s_ctx_t *ctx, yaml_node_t *node, rule_cap_t *cap, int number)
{
    const char *keys = "name, channel, max, window";
    char where [64];
    snprintf (where, sizeof (where), "filters.frequency_caps item %d", number);
    if (s_expect_map (ctx, node, where, keys))
        return -1;
    bool have_max = false, have_window = false;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const char *name = s_key (ctx, node, pair, where);
        if (!name)
            return -1;
        yaml_node_t *value = s_node (ctx, pair->value);
        char what [96];
        snprintf (what, sizeof (what), "%s of %s", name, where);
        if (!streq (name, "name") && !streq (name, "channel")
        &&  !streq (name, "max") && !streq (name, "window"))
            return s_unknown_key (ctx, pair, where, keys);
        if (s_is_null (value))
            continue;                   //  absent: required ones are caught below
        if (streq (name, "name")) {
            const char *text = s_text (ctx, value, what, "a string");
            if (!text)
                return -1;
            if (!s_valid_cap_name (text))
                return s_fail (ctx, value, "%s: '%.64s' is not a rule name "
                               "([a-z0-9._-], 1 to %d characters)", what, text,
                               S_MAX_CAP_NAME);
            rulebook_t *book = ctx->book;
            for (size_t i = 0; i + 1 < book->n_caps; i++)
                if (streq (book->caps [i].name, text))
                    return s_fail (ctx, value, "%s: duplicate cap name '%s' (also "
                                   "item %zu)", what, text, i + 1);
            if (!(cap->name = strdup (text)))
                return s_no_memory (ctx);
        }
        else
        if (streq (name, "channel")) {
            const char *text = s_text (ctx, value, what, "a channel name");
            if (!text || s_check_channel (ctx, value, what, text))
                return -1;
            if (!(cap->channel = strdup (text)))
                return s_no_memory (ctx);
        }
        else
        if (streq (name, "max")) {
            if (s_uint (ctx, value, what, 1, UINT32_MAX, &cap->max))
                return -1;
            have_max = true;
        }
        else {
            if (s_duration (ctx, value, what, &cap->window_ms))
                return -1;
            have_window = true;
        }
    }
    if (!cap->name)
        return s_fail (ctx, node, "%s has no name", where);
    if (!have_max)
        return s_fail (ctx, node, "%s ('%s') has no max", where, cap->name);
    if (!have_window)
        return s_fail (ctx, node, "%s ('%s') has no window", where, cap->name);
    if (!cap->channel && !(cap->channel = strdup ("")))
        return s_no_memory (ctx);
    return 0;
}

static int
s_parse_caps (s_ctx_t *ctx, yaml_node_t *node)
{
    rulebook_t *book = ctx->book;
    if (s_expect_list (ctx, node, "filters.frequency_caps", S_MAX_CAPS))
        return -1;
    size_t count = node->data.sequence.items.top - node->data.sequence.items.start;
    if (count == 0)
        return 0;
    book->caps = (rule_cap_t *) calloc (count, sizeof (rule_cap_t));
    if (!book->caps)
        return s_no_memory (ctx);
    for (yaml_node_item_t *item = node->data.sequence.items.start;
         item < node->data.sequence.items.top; item++) {
        //  Counted first so a half-parsed cap is freed with the book
        rule_cap_t *cap = &book->caps [book->n_caps++];
        if (s_parse_cap (ctx, s_node (ctx, *item), cap, (int) book->n_caps))
            return -1;
    }
    return 0;
}

static int
s_parse_filters (s_ctx_t *ctx, yaml_node_t *node)
{
    const char *keys = "suppression, duplicate, open_offer, number, frequency_caps";
    rulebook_t *book = ctx->book;
    if (s_expect_map (ctx, node, "filters", keys))
        return -1;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const char *name = s_key (ctx, node, pair, "filters");
        if (!name)
            return -1;
        yaml_node_t *value = s_node (ctx, pair->value);
        bool null = s_is_null (value);
        int rc = 0;
        if (streq (name, "suppression")) {
            if (!null)
                rc = s_bool (ctx, value, "filters.suppression", &book->suppression);
        }
        else
        if (streq (name, "duplicate")) {
            if (!null)
                rc = s_bool (ctx, value, "filters.duplicate", &book->duplicate);
        }
        else
        if (streq (name, "open_offer")) {
            if (!null)
                rc = s_bool (ctx, value, "filters.open_offer", &book->open_offer);
        }
        else
        if (streq (name, "number")) {
            if (!null)
                rc = s_parse_number_filter (ctx, value);
        }
        else
        if (streq (name, "frequency_caps")) {
            if (!null)
                rc = s_parse_caps (ctx, value);
        }
        else
            rc = s_unknown_key (ctx, pair, "filters", keys);
        if (rc)
            return -1;
    }
    return 0;
}

//  --- Quiet hours -----------------------------------------------------

static int
s_parse_quiet_entry (s_ctx_t *ctx, yaml_node_t *node, rule_quiet_t *quiet)
{
    const char *keys = "quiet, utc_offset";
    char where [64];
    snprintf (where, sizeof (where), "quiet_hours.%s", quiet->channel);
    if (s_expect_map (ctx, node, where, keys))
        return -1;
    bool have_quiet = false;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const char *name = s_key (ctx, node, pair, where);
        if (!name)
            return -1;
        yaml_node_t *value = s_node (ctx, pair->value);
        char what [96];
        snprintf (what, sizeof (what), "%s.%s", where, name);
        if (!streq (name, "quiet") && !streq (name, "utc_offset"))
            return s_unknown_key (ctx, pair, where, keys);
        if (s_is_null (value))
            continue;
        const char *text = s_text (ctx, value, what, "a string");
        if (!text)
            return -1;
        if (streq (name, "quiet")) {
            int from = s_clock (text);
            int to = strlen (text) == 11 && text [5] == '-'? s_clock (text + 6): -1;
            if (from < 0 || to < 0)
                return s_fail (ctx, value, "%s: '%.64s' is not a time range "
                               "(HH:MM-HH:MM, 00:00 to 23:59, such as 21:00-08:00)",
                               what, text);
            if (from == to)
                return s_fail (ctx, value, "%s: '%s' starts and ends at the same "
                               "time", what, text);
            quiet->from_min = from;
            quiet->to_min = to;
            have_quiet = true;
        }
        else {
            int offset = strlen (text) == 6 && (text [0] == '+' || text [0] == '-')?
                         s_clock (text + 1): -1;
            if (offset < 0 || offset > S_MAX_UTC_OFFSET)
                return s_fail (ctx, value, "%s: '%.64s' is not a UTC offset (+HH:MM "
                               "or -HH:MM, at most 14:00, such as +08:00)", what, text);
            quiet->utc_offset_min = text [0] == '-'? -offset: offset;
        }
    }
    if (!have_quiet)
        return s_fail (ctx, node, "%s has no quiet range (give quiet: \"21:00-08:00\")",
                       where);
    return 0;
}

static int
s_parse_quiet (s_ctx_t *ctx, yaml_node_t *node)
{
    rulebook_t *book = ctx->book;
    if (s_expect_map (ctx, node, "quiet_hours", "channel: { quiet, utc_offset }"))
        return -1;
    size_t count = node->data.mapping.pairs.top - node->data.mapping.pairs.start;
    if (count > RULEBOOK_MAX_CHANNELS)
        return s_fail (ctx, node, "quiet_hours has %zu channels (at most %d)", count,
                       RULEBOOK_MAX_CHANNELS);
    if (count == 0)
        return 0;
    book->quiet = (rule_quiet_t *) calloc (count, sizeof (rule_quiet_t));
    if (!book->quiet)
        return s_no_memory (ctx);
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const char *channel = s_key (ctx, node, pair, "quiet_hours");
        if (!channel || s_check_channel (ctx, s_node (ctx, pair->key), "quiet_hours",
                                         channel))
            return -1;
        yaml_node_t *value = s_node (ctx, pair->value);
        if (s_is_null (value))
            continue;
        rule_quiet_t *quiet = &book->quiet [book->n_quiet++];
        if (!(quiet->channel = strdup (channel)))
            return s_no_memory (ctx);
        if (s_parse_quiet_entry (ctx, value, quiet))
            return -1;
    }
    return 0;
}

//  --- Merge -----------------------------------------------------------

//  One "INTO > FROM" rule
static int
s_parse_absorb_rule (s_ctx_t *ctx, yaml_node_t *node, rule_absorb_t *absorb)
{
    const char *what = "merge.absorb";
    const char *text = s_text (ctx, node, what, "a string");
    if (!text)
        return -1;
    const char *arrow = strchr (text, '>');
    if (!arrow || strchr (arrow + 1, '>'))
        return s_fail (ctx, node, "%s: '%.64s' is not a rule (\"INTO > FROM\", such "
                       "as \"call > sms\")", what, text);
    //  Trims the spaces around each side
    const char *into = text + strspn (text, " ");
    size_t into_len = arrow - into;
    while (into_len && into [into_len - 1] == ' ')
        into_len--;
    const char *from = arrow + 1 + strspn (arrow + 1, " ");
    size_t from_len = strlen (from);
    while (from_len && from [from_len - 1] == ' ')
        from_len--;
    if (!into_len || !from_len)
        return s_fail (ctx, node, "%s: '%.64s' is not a rule (\"INTO > FROM\", such "
                       "as \"call > sms\")", what, text);
    if (!(absorb->into = strndup (into, into_len))
    ||  !(absorb->from = strndup (from, from_len)))
        return s_no_memory (ctx);
    if (s_check_channel (ctx, node, what, absorb->into)
    ||  s_check_channel (ctx, node, what, absorb->from))
        return -1;
    if (streq (absorb->into, absorb->from))
        return s_fail (ctx, node, "%s: '%s' absorbs a channel into itself", what, text);
    return 0;
}

static int
s_parse_absorb (s_ctx_t *ctx, yaml_node_t *node)
{
    rulebook_t *book = ctx->book;
    if (s_expect_list (ctx, node, "merge.absorb", RULEBOOK_MAX_CHANNELS))
        return -1;
    size_t count = node->data.sequence.items.top - node->data.sequence.items.start;
    if (count == 0)
        return 0;
    book->absorb = (rule_absorb_t *) calloc (count, sizeof (rule_absorb_t));
    if (!book->absorb)
        return s_no_memory (ctx);
    for (yaml_node_item_t *item = node->data.sequence.items.start;
         item < node->data.sequence.items.top; item++) {
        yaml_node_t *value = s_node (ctx, *item);
        rule_absorb_t *absorb = &book->absorb [book->n_absorb++];
        if (s_parse_absorb_rule (ctx, value, absorb))
            return -1;
        for (size_t i = 0; i + 1 < book->n_absorb; i++)
            if (streq (book->absorb [i].from, absorb->from))
                return s_fail (ctx, value, "merge.absorb: '%s' is already absorbed "
                               "into '%s'", absorb->from, book->absorb [i].into);
        //  The rules before this one hold no loop, so a loop has to pass
        //  through this one: follow the chain from INTO back to FROM
        const char *channel = absorb->into;
        for (size_t step = 0; channel && step < book->n_absorb; step++) {
            if (streq (channel, absorb->from))
                return s_fail (ctx, value, "merge.absorb: '%s > %s' closes a loop "
                               "(%s is already absorbed, through other rules, into %s)",
                               absorb->into, absorb->from, absorb->into, absorb->from);
            channel = rulebook_absorbed_into (book, channel);
        }
    }
    return 0;
}

static int
s_parse_merge (s_ctx_t *ctx, yaml_node_t *node)
{
    const char *keys = "enabled, window, absorb";
    rulebook_t *book = ctx->book;
    if (s_expect_map (ctx, node, "merge", keys))
        return -1;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const char *name = s_key (ctx, node, pair, "merge");
        if (!name)
            return -1;
        yaml_node_t *value = s_node (ctx, pair->value);
        bool null = s_is_null (value);
        int rc = 0;
        if (streq (name, "enabled")) {
            if (!null)
                rc = s_bool (ctx, value, "merge.enabled", &book->merge);
        }
        else
        if (streq (name, "window")) {
            if (!null)
                rc = s_duration (ctx, value, "merge.window", &book->merge_window_ms);
        }
        else
        if (streq (name, "absorb")) {
            if (!null)
                rc = s_parse_absorb (ctx, value);
        }
        else
            rc = s_unknown_key (ctx, pair, "merge", keys);
        if (rc)
            return -1;
    }
    return 0;
}

//  --- Cross-channel ---------------------------------------------------

static int
s_parse_fallback (s_ctx_t *ctx, yaml_node_t *node)
{
    const char *keys = "triggers, after";
    rulebook_t *book = ctx->book;
    if (s_expect_map (ctx, node, "fallback", keys))
        return -1;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const char *name = s_key (ctx, node, pair, "fallback");
        if (!name)
            return -1;
        yaml_node_t *value = s_node (ctx, pair->value);
        bool null = s_is_null (value);
        int rc = 0;
        if (streq (name, "triggers")) {
            if (!null)
                rc = s_outcomes (ctx, value, "fallback.triggers", &book->fallback_triggers);
        }
        else
        if (streq (name, "after")) {
            if (!null)
                rc = s_uint (ctx, value, "fallback.after", 1, UINT32_MAX,
                             &book->fallback_after);
        }
        else
            rc = s_unknown_key (ctx, pair, "fallback", keys);
        if (rc)
            return -1;
    }
    return 0;
}

static int
s_parse_collaboration (s_ctx_t *ctx, yaml_node_t *node)
{
    if (s_expect_map (ctx, node, "collaboration", "success"))
        return -1;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const char *name = s_key (ctx, node, pair, "collaboration");
        if (!name)
            return -1;
        yaml_node_t *value = s_node (ctx, pair->value);
        if (!streq (name, "success"))
            return s_unknown_key (ctx, pair, "collaboration", "success");
        if (!s_is_null (value)
        &&  s_outcomes (ctx, value, "collaboration.success", &ctx->book->success_outcomes))
            return -1;
    }
    return 0;
}

//  --- Throttling ------------------------------------------------------

static int
s_parse_throttle_entry (s_ctx_t *ctx, yaml_node_t *node, rule_throttle_t *throttle)
{
    const char *keys = "per_second, per_worker_per_second";
    char where [64];
    snprintf (where, sizeof (where), "throttle.%s", throttle->channel);
    if (s_expect_map (ctx, node, where, keys))
        return -1;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const char *name = s_key (ctx, node, pair, where);
        if (!name)
            return -1;
        yaml_node_t *value = s_node (ctx, pair->value);
        double *dest;
        if (streq (name, "per_second"))
            dest = &throttle->per_second;
        else
        if (streq (name, "per_worker_per_second"))
            dest = &throttle->per_worker_per_second;
        else
            return s_unknown_key (ctx, pair, where, keys);
        if (s_is_null (value))
            continue;
        char what [96];
        snprintf (what, sizeof (what), "%s.%s", where, name);
        const char *text = s_text (ctx, value, what, "a number");
        if (!text || s_number (ctx, value, what, text, dest))
            return -1;
        if (*dest < 0)
            return s_fail (ctx, value, "%s: %s is below 0 (0 means unlimited)", what, text);
    }
    return 0;
}

static int
s_parse_throttle (s_ctx_t *ctx, yaml_node_t *node)
{
    rulebook_t *book = ctx->book;
    if (s_expect_map (ctx, node, "throttle",
                      "channel: { per_second, per_worker_per_second }"))
        return -1;
    size_t count = node->data.mapping.pairs.top - node->data.mapping.pairs.start;
    if (count > RULEBOOK_MAX_CHANNELS)
        return s_fail (ctx, node, "throttle has %zu channels (at most %d)", count,
                       RULEBOOK_MAX_CHANNELS);
    if (count == 0)
        return 0;
    book->throttle = (rule_throttle_t *) calloc (count, sizeof (rule_throttle_t));
    if (!book->throttle)
        return s_no_memory (ctx);
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const char *channel = s_key (ctx, node, pair, "throttle");
        if (!channel || s_check_channel (ctx, s_node (ctx, pair->key), "throttle",
                                         channel))
            return -1;
        yaml_node_t *value = s_node (ctx, pair->value);
        if (s_is_null (value))
            continue;
        rule_throttle_t *throttle = &book->throttle [book->n_throttle++];
        if (!(throttle->channel = strdup (channel)))
            return s_no_memory (ctx);
        if (s_parse_throttle_entry (ctx, value, throttle))
            return -1;
    }
    return 0;
}

//  --- The file -------------------------------------------------------

//  "5%" or a fraction such as 0.05, within 0 to 50%
static int
s_parse_control (s_ctx_t *ctx, yaml_node_t *node)
{
    const char *text = s_text (ctx, node, "control", "a share");
    if (!text)
        return -1;
    char number [64];
    size_t len = strlen (text);
    bool percent = len && text [len - 1] == '%';
    if (percent)
        len--;
    if (len == 0 || len >= sizeof (number))
        return s_fail (ctx, node, "control: '%.64s' is not a share (a percentage such "
                       "as 5%%, or a fraction such as 0.05)", text);
    memcpy (number, text, len);
    number [len] = 0;
    double share;
    if (s_number (ctx, node, "control", number, &share))
        return -1;
    if (percent)
        share /= 100;
    if (share < 0 || share > S_MAX_CONTROL)
        return s_fail (ctx, node, "control: %s is out of range (0%% to 50%%, or 0 to "
                       "0.5)", text);
    ctx->book->control_share = share;
    return 0;
}

static int
s_parse_version (s_ctx_t *ctx, yaml_node_t *node)
{
    uint32_t version;
    if (s_uint (ctx, node, "version", 0, UINT32_MAX, &version))
        return -1;
    if (version != 1)
        return s_fail (ctx, node, "version %u is not supported (this broker reads "
                       "version 1)", version);
    return 0;
}

//  The top-level keys, in the order the format lists them
static const char *s_sections [] = {
    "version", "filters", "quiet_hours", "merge", "fallback", "collaboration",
    "throttle", "control", NULL
};

static int
s_parse_root (s_ctx_t *ctx, yaml_node_t *root)
{
    const char *keys = "version, filters, quiet_hours, merge, fallback, "
                       "collaboration, throttle, control";
    if (root->type != YAML_MAPPING_NODE)
        return s_fail (ctx, root, "a rule file is a map (%s), not %s", keys,
                       s_type_name (root));
    //  The version decides how to read the rest, so it goes first
    bool have_version = false;
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top && !have_version; pair++) {
        yaml_node_t *key = s_node (ctx, pair->key);
        yaml_node_t *value = s_node (ctx, pair->value);
        if (key->type == YAML_SCALAR_NODE
        &&  streq ((const char *) key->data.scalar.value, "version")
        &&  !s_is_null (value)) {
            if (s_parse_version (ctx, value))
                return -1;
            have_version = true;
        }
    }
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        const char *name = s_key (ctx, root, pair, "the rule file");
        if (!name)
            return -1;
        yaml_node_t *value = s_node (ctx, pair->value);
        bool known = false;
        for (const char **section = s_sections; *section && !known; section++)
            known = streq (*section, name);
        int rc = 0;
        if (!known)
            rc = s_unknown_key (ctx, pair, "the rule file", keys);
        else
        if (streq (name, "version") || s_is_null (value))
            ;                           //  version read above; null = absent
        else
        if (streq (name, "filters"))
            rc = s_parse_filters (ctx, value);
        else
        if (streq (name, "quiet_hours"))
            rc = s_parse_quiet (ctx, value);
        else
        if (streq (name, "merge"))
            rc = s_parse_merge (ctx, value);
        else
        if (streq (name, "fallback"))
            rc = s_parse_fallback (ctx, value);
        else
        if (streq (name, "collaboration"))
            rc = s_parse_collaboration (ctx, value);
        else
        if (streq (name, "throttle"))
            rc = s_parse_throttle (ctx, value);
        else
            rc = s_parse_control (ctx, value);
        if (rc)
            return -1;
    }
    if (!have_version)
        return s_fail (ctx, root, "missing required key 'version' (give version: 1)");
    return 0;
}

//  A rulebook holding the defaults, with no path or text yet
static rulebook_t *
s_new_defaults (void)
{
    rulebook_t *self = (rulebook_t *) calloc (1, sizeof (rulebook_t));
    if (!self)
        return NULL;
    self->suppression = true;
    self->duplicate = true;
    self->open_offer = true;
    self->number_check = true;
    self->number_min_len = 11;
    self->number_max_len = 11;
    self->merge = true;
    self->merge_window_ms = 72 * 3600 * 1000LL;
    self->fallback_triggers = (1u << WOB__OUTCOME__OUTCOME_UNDELIVERED)
                            | (1u << WOB__OUTCOME__OUTCOME_UNREACHABLE)
                            | (1u << WOB__OUTCOME__OUTCOME_WRONG_NUMBER);
    self->fallback_after = 1;
    self->success_outcomes = 1u << WOB__OUTCOME__OUTCOME_ACCEPTED;
    self->control_share = 0;
    return self;
}

rulebook_t *
rulebook_default (void)
{
    rulebook_t *self = s_new_defaults ();
    if (self
    && (!(self->path = strdup ("")) || !(self->text = strdup (s_default_text))))
        rulebook_destroy (&self);
    return self;
}

rulebook_t *
rulebook_parse (const char *text, size_t size, const char *path,
                const char **channels, char *err)
{
    const char *name = path && *path? path: "(rules)";
    if (!text) {
        wob_fail (err, 0, "%s: no rule text given", name);
        return NULL;
    }
    if (size > S_MAX_RULE_FILE) {
        wob_fail (err, 0, "%s: %zu bytes is too large for a rule file (limit %d "
                  "bytes)", name, size, S_MAX_RULE_FILE);
        return NULL;
    }
    rulebook_t *self = s_new_defaults ();
    if (self) {
        self->path = strdup (path? path: "");
        self->text = (char *) malloc (size + 1);
    }
    if (!self || !self->path || !self->text) {
        wob_fail (err, 0, "%s: out of memory", name);
        rulebook_destroy (&self);
        return NULL;
    }
    memcpy (self->text, text, size);
    self->text [size] = 0;

    yaml_parser_t parser;
    if (!yaml_parser_initialize (&parser)) {
        wob_fail (err, 0, "%s: out of memory", name);
        rulebook_destroy (&self);
        return NULL;
    }
    yaml_parser_set_input_string (&parser, (const unsigned char *) text, size);
    yaml_document_t doc;
    if (!yaml_parser_load (&parser, &doc)) {
        wob_fail (err, 0, "%s:%zu: not valid YAML or JSON: %s%s%s", name,
                  parser.problem_mark.line + 1,
                  parser.problem? parser.problem: "syntax error",
                  parser.context? ", ": "", parser.context? parser.context: "");
        yaml_parser_delete (&parser);
        rulebook_destroy (&self);
        return NULL;
    }
    s_ctx_t ctx = { name, &doc, channels, self, err };
    yaml_node_t *root = yaml_document_get_root_node (&doc);
    int rc = root? s_parse_root (&ctx, root):
                   s_fail (&ctx, NULL, "empty rule file (it needs at least version: 1)");
    if (rc == 0) {
        //  Anything after the document is a mistake, not something to skip
        yaml_document_t next;
        if (!yaml_parser_load (&parser, &next))
            rc = wob_fail (err, -1, "%s:%zu: not valid YAML or JSON: %s%s%s", name,
                           parser.problem_mark.line + 1,
                           parser.problem? parser.problem: "syntax error",
                           parser.context? ", ": "", parser.context? parser.context: "");
        else {
            yaml_node_t *extra = yaml_document_get_root_node (&next);
            if (extra)
                rc = wob_fail (err, -1, "%s:%zu: a second YAML document (a rule file "
                               "holds one)", name, extra->start_mark.line + 1);
            yaml_document_delete (&next);
        }
    }
    yaml_document_delete (&doc);
    yaml_parser_delete (&parser);
    if (rc)
        rulebook_destroy (&self);
    return self;
}

rulebook_t *
rulebook_load (const char *path, const char **channels, char *err)
{
    if (!path || !*path) {
        wob_fail (err, 0, "no rule file given");
        return NULL;
    }
    FILE *file = fopen (path, "rb");
    if (!file) {
        wob_fail (err, 0, "%s: cannot open: %s", path, strerror (errno));
        return NULL;
    }
    rulebook_t *self = NULL;
    char *text = NULL;
    struct stat st;
    bool have_stat = fstat (fileno (file), &st) == 0;
    if (have_stat && S_ISDIR (st.st_mode)) {
        wob_fail (err, 0, "%s: is a directory, not a rule file", path);
        goto done;
    }
    if (have_stat && S_ISREG (st.st_mode) && st.st_size > S_MAX_RULE_FILE) {
        wob_fail (err, 0, "%s: %lld bytes is too large for a rule file (limit %d "
                  "bytes)", path, (long long) st.st_size, S_MAX_RULE_FILE);
        goto done;
    }
    //  Reads one byte past the limit so that a growing file or a pipe that
    //  says nothing of its size is refused too
    text = (char *) malloc (S_MAX_RULE_FILE + 1);
    if (!text) {
        wob_fail (err, 0, "%s: out of memory", path);
        goto done;
    }
    size_t size = fread (text, 1, S_MAX_RULE_FILE + 1, file);
    if (ferror (file)) {
        wob_fail (err, 0, "%s: cannot read: %s", path, strerror (errno));
        goto done;
    }
    if (size > S_MAX_RULE_FILE) {
        wob_fail (err, 0, "%s: more than %d bytes is too large for a rule file",
                  path, S_MAX_RULE_FILE);
        goto done;
    }
    self = rulebook_parse (text, size, path, channels, err);
done:
    free (text);
    fclose (file);
    return self;
}

void
rulebook_destroy (rulebook_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rulebook_t *self = *self_p;
    free (self->path);
    free (self->text);
    for (size_t i = 0; i < self->n_number_prefixes; i++)
        free (self->number_prefixes [i]);
    free (self->number_prefixes);
    for (size_t i = 0; i < self->n_caps; i++) {
        free (self->caps [i].name);
        free (self->caps [i].channel);
    }
    free (self->caps);
    for (size_t i = 0; i < self->n_quiet; i++)
        free (self->quiet [i].channel);
    free (self->quiet);
    for (size_t i = 0; i < self->n_absorb; i++) {
        free (self->absorb [i].into);
        free (self->absorb [i].from);
    }
    free (self->absorb);
    for (size_t i = 0; i < self->n_throttle; i++)
        free (self->throttle [i].channel);
    free (self->throttle);
    free (self);
    *self_p = NULL;
}

const rule_quiet_t *
rulebook_quiet (const rulebook_t *self, const char *channel)
{
    if (!self || !channel)
        return NULL;
    for (size_t i = 0; i < self->n_quiet; i++)
        if (streq (self->quiet [i].channel, channel))
            return &self->quiet [i];
    return NULL;
}

const rule_throttle_t *
rulebook_throttle (const rulebook_t *self, const char *channel)
{
    if (!self || !channel)
        return NULL;
    for (size_t i = 0; i < self->n_throttle; i++)
        if (streq (self->throttle [i].channel, channel))
            return &self->throttle [i];
    return NULL;
}

const char *
rulebook_absorbed_into (const rulebook_t *self, const char *channel)
{
    if (!self || !channel)
        return NULL;
    for (size_t i = 0; i < self->n_absorb; i++)
        if (self->absorb [i].from && streq (self->absorb [i].from, channel))
            return self->absorb [i].into;
    return NULL;
}

int64_t
rulebook_duration (const char *text)
{
    return wob_parse_duration (text);
}
