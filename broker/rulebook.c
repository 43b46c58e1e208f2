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
        distribution: {}            # channel: { strategy: even,
                                    #            orphans: hold,
                                    #            spill_after: 10m,
                                    #            overlap: refuse }
                                    #   strategy even, range or address
                                    #   (SPEC §5); orphans (orders whose
                                    #   number or region has no connected
                                    #   owner) hold until one connects, or
                                    #   spill to any worker of the channel
                                    #   after spill_after (> 0; orders kept
                                    #   for an absent worker, such as
                                    #   call-backs, always spill); overlap
                                    #   refuse or allow (two live workers
                                    #   owning overlapping number ranges)

    Booleans are on, off, true, false, yes or no (any case).  Durations are
    a whole number and a unit, ms, s, m, h or d: 500ms, 90s, 15m, 72h, 7d.
    Null values (~, null or nothing) count as absent, so the default holds;
    within a section, keys left out keep their defaults too, while a list
    that is given (even empty) replaces the default list.

    Channel names are checked against the broker's configured channels; with
    no list (NULL, for fuzzing and offline checks) any [a-z][a-z0-9_]{0,31}
    name is taken.  Quiet hours, throttles and distributions take at most one
    entry per channel; in merge.absorb a channel is absorbed into at most one other,
    may not absorb itself, and absorption may chain ("visit > call",
    "call > sms") but never loop.

    Everything is checked before a rulebook exists: unknown keys, duplicate
    keys, wrong types, missing required keys, values out of range, unknown
    channels and outcomes, repeated cap names, prefixes and outcomes.  Every
    message names the file, the 1-based line and the key:
    "rules.yaml:7: unknown key 'supression' in filters (expected ...)".
    The version is checked first, so a file written for a later format says
    so instead of listing that format's keys as unknown.  Files over 1 MiB
    are refused, as is a second YAML document in the same file.

    What this shares with the wave descriptor (loading, walking maps and
    lists, keys, switches, numbers, messages) is in lib/yamldoc.c.      */

#include "rulebook.h"
#include "wob_yamldoc.h"

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
    "control: 0%\n"
    "distribution: {}\n";

//  What the walkers' callbacks get as arg.  The quiet hours, throttle, cap
//  or absorb rule being read is always the last in its array of the book.
typedef struct {
    yamldoc_t *doc;             //  the rule file, which takes the messages
    const char **channels;      //  configured channels, NULL = any name
    rulebook_t *book;           //  the rulebook being filled in
    uint32_t *outcomes;         //  the outcome list being read, a bit each
    yaml_node_t *prefixes;      //  filters.number.prefixes, when given
} s_ctx_t;

//  Reads the plain settings of the sections; defined below
static int
s_setting (yamldoc_t *doc, void *arg, const char *name, yaml_node_t *value,
           const char *what);

//  --- Channels and outcomes -------------------------------------------

//  Checks that text names a configured channel.  node carries the line.
static int
s_check_channel (s_ctx_t *ctx, yaml_node_t *node, const char *what, const char *text)
{
    if (!ctx->channels) {
        if (!yamldoc_is_channel (text))
            return yamldoc_fail (ctx->doc, node, "%s: '%.64s' is not a channel name "
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
    return yamldoc_fail (ctx->doc, node, "%s: unknown channel '%.64s' (configured: %s)",
                         what, text, used? known: "none");
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

//  One name of an outcome list, added to *ctx->outcomes
static int
s_parse_outcome (yamldoc_t *doc, void *arg, yaml_node_t *item, const char *name,
                 const char *what, size_t count)
{
    s_ctx_t *ctx = (s_ctx_t *) arg;
    (void) count;
    int outcome = wob_outcome_from_name (name);
    if (outcome <= 0 || outcome >= 32) {
        char names [256];
        s_outcome_names (names, sizeof (names));
        return yamldoc_fail (doc, item, "%s: unknown outcome '%.64s' (expected %s)",
                             what, name, names);
    }
    if (*ctx->outcomes & (1u << outcome))
        return yamldoc_fail (doc, item, "%s: outcome '%s' is listed twice", what, name);
    *ctx->outcomes |= 1u << outcome;
    return 0;
}

//  --- Filters ---------------------------------------------------------

//  filters.number.length: digits, or [min, max]
static int
s_parse_length (s_ctx_t *ctx, yaml_node_t *node, const char *what)
{
    rulebook_t *book = ctx->book;
    bool range = node->type == YAML_SEQUENCE_NODE;
    yaml_node_item_t *items = range? node->data.sequence.items.start: NULL;
    size_t count = range? (size_t) (node->data.sequence.items.top - items): 0;
    if (node->type == YAML_MAPPING_NODE)
        return yamldoc_fail (ctx->doc, node, "%s must be a number of digits or a list "
                             "[min, max], not %s", what, yamldoc_type_name (node));
    if (range && count != 2)
        return yamldoc_fail (ctx->doc, node, "%s: give [min, max], not a list of %zu",
                             what, count);
    //  A single number is both ends
    if (yamldoc_uint (ctx->doc, range? yamldoc_node (ctx->doc, items [0]): node, what, 1,
                      S_MAX_NUMBER_LEN, &book->number_min_len)
    ||  yamldoc_uint (ctx->doc, range? yamldoc_node (ctx->doc, items [1]): node, what, 1,
                      S_MAX_NUMBER_LEN, &book->number_max_len))
        return -1;
    if (book->number_min_len > book->number_max_len)
        return yamldoc_fail (ctx->doc, node, "%s: min %u is above max %u", what,
                             book->number_min_len, book->number_max_len);
    return 0;
}

//  One of filters.number.prefixes: digits, each prefix once
static int
s_parse_prefix (yamldoc_t *doc, void *arg, yaml_node_t *item, const char *prefix,
                const char *what, size_t count)
{
    rulebook_t *book = ((s_ctx_t *) arg)->book;
    size_t len = strspn (prefix, "0123456789");
    if (prefix [len] || len > S_MAX_NUMBER_LEN)
        return yamldoc_fail (doc, item, "%s: '%.64s' is not a number prefix (1 to %d "
                             "digits)", what, prefix, S_MAX_NUMBER_LEN);
    for (size_t i = 0; i < book->n_number_prefixes; i++)
        if (streq (book->number_prefixes [i], prefix))
            return yamldoc_fail (doc, item, "%s: prefix '%s' is listed twice", what,
                                 prefix);
    if (!book->number_prefixes)
        book->number_prefixes = (char **) calloc (count, sizeof (char *));
    if (!book->number_prefixes
    ||  !(book->number_prefixes [book->n_number_prefixes] = strdup (prefix)))
        return yamldoc_no_memory (doc);
    book->n_number_prefixes++;
    return 0;
}

//  filters.number; prefixes are checked against the length once both are read
static int
s_parse_number_filter (s_ctx_t *ctx, yaml_node_t *node, const char *where)
{
    rulebook_t *book = ctx->book;
    if (yamldoc_walk_map (ctx->doc, node, where, "check, length, prefixes", s_setting,
                          ctx))
        return -1;
    //  A prefix longer than the longest number could never match
    for (size_t i = 0; ctx->prefixes && i < book->n_number_prefixes; i++)
        if (strlen (book->number_prefixes [i]) > book->number_max_len)
            return yamldoc_fail (ctx->doc, yamldoc_node (ctx->doc,
                                 ctx->prefixes->data.sequence.items.start [i]),
                                 "filters.number.prefixes: '%s' is longer than the "
                                 "longest number (%u digits)", book->number_prefixes [i],
                                 book->number_max_len);
    return 0;
}

//  A setting of the cap being read; messages call it "max of
//  filters.frequency_caps item 2" rather than what the walker says
static int
s_cap_setting (yamldoc_t *doc, void *arg, const char *name, yaml_node_t *value,
               const char *path)
{
    s_ctx_t *ctx = (s_ctx_t *) arg;
    rulebook_t *book = ctx->book;
    rule_cap_t *cap = &book->caps [book->n_caps - 1];
    char what [96];
    snprintf (what, sizeof (what), "%s of filters.frequency_caps item %zu", name,
              book->n_caps);
    (void) path;
    if (streq (name, "max"))
        return yamldoc_uint (doc, value, what, 1, UINT32_MAX, &cap->max);
    if (streq (name, "window"))
        return yamldoc_duration (doc, value, what, &cap->window_ms);
    bool is_name = streq (name, "name");
    const char *text = yamldoc_text (doc, value, what,
                                     is_name? "a string": "a channel name", false);
    if (!text)
        return -1;
    if (!is_name) {
        if (s_check_channel (ctx, value, what, text))
            return -1;
        return (cap->channel = strdup (text))? 0: yamldoc_no_memory (doc);
    }
    if (!yamldoc_is_name (text, S_MAX_CAP_NAME, "._-"))
        return yamldoc_fail (doc, value, "%s: '%.64s' is not a rule name ([a-z0-9._-], "
                             "1 to %d characters)", what, text, S_MAX_CAP_NAME);
    for (size_t i = 0; i + 1 < book->n_caps; i++)
        if (streq (book->caps [i].name, text))
            return yamldoc_fail (doc, value, "%s: duplicate cap name '%s' (also item "
                                 "%zu)", what, text, i + 1);
    return (cap->name = strdup (text))? 0: yamldoc_no_memory (doc);
}

//  One item of filters.frequency_caps
static int
s_parse_cap (yamldoc_t *doc, void *arg, yaml_node_t *node, const char *text,
             const char *what, size_t count)
{
    rulebook_t *book = ((s_ctx_t *) arg)->book;
    (void) text;
    if (!book->caps
    &&  !(book->caps = (rule_cap_t *) calloc (count, sizeof (rule_cap_t))))
        return yamldoc_no_memory (doc);
    //  Counted first so a half-parsed cap is freed with the book
    rule_cap_t *cap = &book->caps [book->n_caps++];
    char where [64];
    snprintf (where, sizeof (where), "%s item %zu", what, book->n_caps);
    if (yamldoc_walk_map (doc, node, where, "name, channel, max, window",
                          s_cap_setting, arg))
        return -1;
    //  max is at least 1 and window longer than zero: 0 means not given
    if (!cap->name)
        return yamldoc_fail (doc, node, "%s has no name", where);
    if (!cap->max)
        return yamldoc_fail (doc, node, "%s ('%s') has no max", where, cap->name);
    if (!cap->window_ms)
        return yamldoc_fail (doc, node, "%s ('%s') has no window", where, cap->name);
    if (!cap->channel && !(cap->channel = strdup ("")))
        return yamldoc_no_memory (doc);
    return 0;
}

//  --- Merge -----------------------------------------------------------

//  One "INTO > FROM" rule of merge.absorb
static int
s_parse_absorb (yamldoc_t *doc, void *arg, yaml_node_t *node, const char *text,
                const char *what, size_t count)
{
    s_ctx_t *ctx = (s_ctx_t *) arg;
    rulebook_t *book = ctx->book;
    if (!book->absorb
    &&  !(book->absorb = (rule_absorb_t *) calloc (count, sizeof (rule_absorb_t))))
        return yamldoc_no_memory (doc);
    rule_absorb_t *absorb = &book->absorb [book->n_absorb++];
    //  Trims the spaces around each side of the one '>'
    const char *arrow = strchr (text, '>');
    const char *into = text + strspn (text, " ");
    size_t into_len = arrow? (size_t) (arrow - into): 0;
    while (into_len && into [into_len - 1] == ' ')
        into_len--;
    const char *from = arrow? arrow + 1 + strspn (arrow + 1, " "): "";
    size_t from_len = strlen (from);
    while (from_len && from [from_len - 1] == ' ')
        from_len--;
    if (!arrow || strchr (arrow + 1, '>') || !into_len || !from_len)
        return yamldoc_fail (doc, node, "%s: '%.64s' is not a rule (\"INTO > FROM\", "
                             "such as \"call > sms\")", what, text);
    if (!(absorb->into = strndup (into, into_len))
    ||  !(absorb->from = strndup (from, from_len)))
        return yamldoc_no_memory (doc);
    if (s_check_channel (ctx, node, what, absorb->into)
    ||  s_check_channel (ctx, node, what, absorb->from))
        return -1;
    if (streq (absorb->into, absorb->from))
        return yamldoc_fail (doc, node, "%s: '%s' absorbs a channel into itself", what,
                             text);
    for (size_t i = 0; i + 1 < book->n_absorb; i++)
        if (streq (book->absorb [i].from, absorb->from))
            return yamldoc_fail (doc, node, "%s: '%s' is already absorbed into '%s'",
                                 what, absorb->from, book->absorb [i].into);
    //  The rules before this one hold no loop, so a loop has to pass
    //  through this one: follow the chain from INTO back to FROM
    const char *channel = absorb->into;
    for (size_t step = 0; channel && step < book->n_absorb; step++) {
        if (streq (channel, absorb->from))
            return yamldoc_fail (doc, node, "%s: '%s > %s' closes a loop (%s is "
                                 "already absorbed, through other rules, into %s)",
                                 what, absorb->into, absorb->from, absorb->into,
                                 absorb->from);
        channel = rulebook_absorbed_into (book, channel);
    }
    return 0;
}

//  --- Quiet hours and throttling: maps of channels --------------------

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

//  A setting of the quiet hours being read, the book's last
static int
s_quiet_setting (yamldoc_t *doc, void *arg, const char *name, yaml_node_t *value,
                 const char *what)
{
    rulebook_t *book = ((s_ctx_t *) arg)->book;
    rule_quiet_t *quiet = &book->quiet [book->n_quiet - 1];
    const char *text = yamldoc_text (doc, value, what, "a string", false);
    if (!text)
        return -1;
    if (streq (name, "quiet")) {
        int from = s_clock (text);
        int to = strlen (text) == 11 && text [5] == '-'? s_clock (text + 6): -1;
        if (from < 0 || to < 0)
            return yamldoc_fail (doc, value, "%s: '%.64s' is not a time range "
                                 "(HH:MM-HH:MM, 00:00 to 23:59, such as 21:00-08:00)",
                                 what, text);
        if (from == to)
            return yamldoc_fail (doc, value, "%s: '%s' starts and ends at the same "
                                 "time", what, text);
        quiet->from_min = from;
        quiet->to_min = to;
        return 0;
    }
    int offset = strlen (text) == 6 && (text [0] == '+' || text [0] == '-')?
                 s_clock (text + 1): -1;
    if (offset < 0 || offset > S_MAX_UTC_OFFSET)
        return yamldoc_fail (doc, value, "%s: '%.64s' is not a UTC offset (+HH:MM or "
                             "-HH:MM, at most 14:00, such as +08:00)", what, text);
    quiet->utc_offset_min = text [0] == '-'? -offset: offset;
    return 0;
}

//  A setting of the throttle being read, the book's last
static int
s_throttle_setting (yamldoc_t *doc, void *arg, const char *name, yaml_node_t *value,
                    const char *what)
{
    rulebook_t *book = ((s_ctx_t *) arg)->book;
    rule_throttle_t *throttle = &book->throttle [book->n_throttle - 1];
    double *dest = streq (name, "per_second")? &throttle->per_second:
                                               &throttle->per_worker_per_second;
    const char *text = yamldoc_text (doc, value, what, "a number", false);
    if (!text || yamldoc_number (doc, value, what, text, dest))
        return -1;
    if (*dest < 0)
        return yamldoc_fail (doc, value, "%s: %s is below 0 (0 means unlimited)", what,
                             text);
    return 0;
}

//  A setting of the distribution being read, the book's last
static int
s_distribution_setting (yamldoc_t *doc, void *arg, const char *name, yaml_node_t *value,
                        const char *what)
{
    rulebook_t *book = ((s_ctx_t *) arg)->book;
    rule_distribution_t *dist = &book->distribution [book->n_distribution - 1];
    if (streq (name, "spill_after"))       //  a duration above zero
        return yamldoc_duration (doc, value, what, &dist->spill_after_ms);
    const char *text = yamldoc_text (doc, value, what, "a string", false);
    if (!text)
        return -1;
    if (streq (name, "strategy")) {
        int strategy = rulebook_strategy (text);
        if (strategy < 0)
            return yamldoc_fail (doc, value, "%s: '%.32s' is not a strategy (even, range "
                                 "or address)", what, text);
        dist->strategy = (rule_strategy_t) strategy;
    }
    else {
        //  orphans: hold | spill, overlap: refuse | allow
        bool orphans = streq (name, "orphans");
        const char *no = orphans? "hold": "refuse", *yes = orphans? "spill": "allow";
        if (!streq (text, no) && !streq (text, yes))
            return yamldoc_fail (doc, value, "%s: '%.32s' is not %s or %s", what, text,
                                 no, yes);
        *(orphans? &dist->spill: &dist->overlap) = streq (text, yes);
    }
    return 0;
}

//  The sections read by s_parse_channel_map: one entry per channel each.
typedef struct {
    const char *section;        //  key in the rule file
    const char *keys;           //  keys of an entry
    size_t size;                //  bytes per entry; the channel name first
    yamldoc_setting_fn *setting;    //  reads one key of the last entry
} s_channel_map_t;

static const s_channel_map_t s_channel_maps [] = {
    { "quiet_hours", "quiet, utc_offset", sizeof (rule_quiet_t), s_quiet_setting },
    { "throttle", "per_second, per_worker_per_second", sizeof (rule_throttle_t),
      s_throttle_setting },
    { "distribution", "strategy, orphans, spill_after, overlap",
      sizeof (rule_distribution_t), s_distribution_setting }
};

//  The entries and count of a channel-map section in the book.
static void
s_channel_map_slots (rulebook_t *book, const s_channel_map_t *map, void ***entries,
                     size_t **count)
{
    if (map->setting == s_quiet_setting) {
        *entries = (void **) &book->quiet;
        *count = &book->n_quiet;
    }
    else
    if (map->setting == s_throttle_setting) {
        *entries = (void **) &book->throttle;
        *count = &book->n_throttle;
    }
    else {
        *entries = (void **) &book->distribution;
        *count = &book->n_distribution;
    }
}

//  quiet_hours, throttle or distribution, section: { channel: { keys } }.
//  Keys are unique, so there is at most one entry per channel,
//  RULEBOOK_MAX_CHANNELS in all; null entries are left out.
static int
s_parse_channel_map (s_ctx_t *ctx, yaml_node_t *node, const s_channel_map_t *map)
{
    rulebook_t *book = ctx->book;
    const char *section = map->section;
    if (node->type != YAML_MAPPING_NODE)
        return yamldoc_fail (ctx->doc, node, "%s must be a map (channel: { %s }), not %s",
                             section, map->keys, yamldoc_type_name (node));
    yaml_node_pair_t *pairs = node->data.mapping.pairs.start;
    size_t count = node->data.mapping.pairs.top - pairs;
    if (count > RULEBOOK_MAX_CHANNELS)
        return yamldoc_fail (ctx->doc, node, "%s has %zu channels (at most %d)",
                             section, count, RULEBOOK_MAX_CHANNELS);
    if (count == 0)
        return 0;
    void **entries;
    size_t *n_entries;
    s_channel_map_slots (book, map, &entries, &n_entries);
    if (!(*entries = calloc (count, map->size)))
        return yamldoc_no_memory (ctx->doc);
    for (yaml_node_pair_t *pair = pairs; pair < pairs + count; pair++) {
        const char *channel = yamldoc_key (ctx->doc, node, pair, section);
        if (!channel || s_check_channel (ctx, yamldoc_node (ctx->doc, pair->key),
                                         section, channel))
            return -1;
        yaml_node_t *value = yamldoc_node (ctx->doc, pair->value);
        if (yamldoc_is_null (value))
            continue;
        //  Counted first so a half-read entry is freed with the book; every
        //  entry type starts with its channel name
        char **name = (char **) ((char *) *entries + map->size * (*n_entries)++);
        if (!(*name = strdup (channel)))
            return yamldoc_no_memory (ctx->doc);
        if (map->setting == s_distribution_setting)
            book->distribution [*n_entries - 1].spill_after_ms = 10 * 60 * 1000;
        char where [64];
        snprintf (where, sizeof (where), "%s.%s", section, channel);
        if (yamldoc_walk_map (ctx->doc, value, where, map->keys, map->setting, ctx))
            return -1;
        //  A range never starts where it ends: from == to means none given
        rule_quiet_t *last = map->setting == s_quiet_setting?
                             &book->quiet [book->n_quiet - 1]: NULL;
        if (last && last->from_min == last->to_min)
            return yamldoc_fail (ctx->doc, value, "%s has no quiet range (give quiet: "
                                 "\"21:00-08:00\")", where);
    }
    return 0;
}

//  --- The file -------------------------------------------------------

//  "5%" or a fraction such as 0.05, within 0 to 50%
static int
s_parse_control (yamldoc_t *doc, yaml_node_t *node, double *dest)
{
    const char *text = yamldoc_text (doc, node, "control", "a share", false);
    if (!text)
        return -1;
    char number [64];
    size_t len = strlen (text);
    bool percent = len && text [len - 1] == '%';
    if (percent)
        len--;
    if (len == 0 || len >= sizeof (number))
        return yamldoc_fail (doc, node, "control: '%.64s' is not a share (a percentage "
                             "such as 5%%, or a fraction such as 0.05)", text);
    memcpy (number, text, len);
    number [len] = 0;
    double share;
    if (yamldoc_number (doc, node, "control", number, &share))
        return -1;
    if (percent)
        share /= 100;
    if (share < 0 || share > S_MAX_CONTROL)
        return yamldoc_fail (doc, node, "control: %s is out of range (0%% to 50%%, or 0 "
                             "to 0.5)", text);
    *dest = share;
    return 0;
}

//  A setting of filters, filters.number, merge, fallback or collaboration:
//  no two of these share a key, so the name says which
static int
s_setting (yamldoc_t *doc, void *arg, const char *name, yaml_node_t *value,
           const char *what)
{
    s_ctx_t *ctx = (s_ctx_t *) arg;
    rulebook_t *book = ctx->book;
    bool *flag = streq (name, "suppression")? &book->suppression:
                 streq (name, "duplicate")? &book->duplicate:
                 streq (name, "open_offer")? &book->open_offer:
                 streq (name, "check")? &book->number_check:
                 streq (name, "enabled")? &book->merge: NULL;
    if (flag)
        return yamldoc_switch (doc, value, what, flag);
    if (streq (name, "number"))
        return s_parse_number_filter (ctx, value, what);
    if (streq (name, "length"))
        return s_parse_length (ctx, value, what);
    if (streq (name, "prefixes")) {
        ctx->prefixes = value;
        return yamldoc_walk_list (doc, value, what, S_MAX_PREFIXES, "a number prefix",
                                  s_parse_prefix, ctx);
    }
    if (streq (name, "frequency_caps"))
        return yamldoc_walk_list (doc, value, what, S_MAX_CAPS, NULL, s_parse_cap, ctx);
    if (streq (name, "window"))
        return yamldoc_duration (doc, value, what, &book->merge_window_ms);
    if (streq (name, "absorb"))
        return yamldoc_walk_list (doc, value, what, RULEBOOK_MAX_CHANNELS, "a string",
                                  s_parse_absorb, ctx);
    if (streq (name, "after"))
        return yamldoc_uint (doc, value, what, 1, UINT32_MAX, &book->fallback_after);
    //  triggers or success: a list of outcome names, a bit each
    ctx->outcomes = streq (name, "triggers")? &book->fallback_triggers:
                                              &book->success_outcomes;
    *ctx->outcomes = 0;
    return yamldoc_walk_list (doc, value, what, 32, "an outcome name",
                              s_parse_outcome, ctx);
}

//  One section of the rule file; the version is read before the others
static int
s_section (yamldoc_t *doc, void *arg, const char *name, yaml_node_t *value,
           const char *what)
{
    s_ctx_t *ctx = (s_ctx_t *) arg;
    (void) what;
    if (streq (name, "filters"))
        return yamldoc_walk_map (doc, value, name, "suppression, duplicate, open_offer, "
                                 "number, frequency_caps", s_setting, ctx);
    for (size_t i = 0; i < sizeof (s_channel_maps) / sizeof (s_channel_maps [0]); i++)
        if (streq (name, s_channel_maps [i].section))
            return s_parse_channel_map (ctx, value, &s_channel_maps [i]);
    if (streq (name, "merge"))
        return yamldoc_walk_map (doc, value, name, "enabled, window, absorb", s_setting,
                                 ctx);
    if (streq (name, "fallback"))
        return yamldoc_walk_map (doc, value, name, "triggers, after", s_setting, ctx);
    if (streq (name, "collaboration"))
        return yamldoc_walk_map (doc, value, name, "success", s_setting, ctx);
    if (streq (name, "control"))
        return s_parse_control (doc, value, &ctx->book->control_share);
    return 0;
}

//  The document: a map of sections, the version first
static int
s_parse_root (s_ctx_t *ctx, yaml_node_t *root)
{
    //  The top-level keys, in the order the format lists them
    const char *keys = "version, filters, quiet_hours, merge, fallback, "
                       "collaboration, throttle, control, distribution";
    if (root->type != YAML_MAPPING_NODE)
        return yamldoc_fail (ctx->doc, root, "a rule file is a map (%s), not %s", keys,
                             yamldoc_type_name (root));
    //  The version decides how to read the rest, so it goes first
    yaml_node_t *node = yamldoc_lookup (ctx->doc, root, "version");
    uint32_t version = 0;
    if (node && yamldoc_uint (ctx->doc, node, "version", 0, UINT32_MAX, &version))
        return -1;
    if (node && version != 1)
        return yamldoc_fail (ctx->doc, node, "version %u is not supported (this broker "
                             "reads version 1)", version);
    if (yamldoc_walk_map (ctx->doc, root, "the rule file", keys, s_section, ctx))
        return -1;
    if (!node)
        return yamldoc_fail (ctx->doc, root, "missing required key 'version' (give "
                             "version: 1)");
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
    yamldoc_t *doc;
    if (yamldoc_parse (&doc, text, size, name, "a rule file", S_MAX_RULE_FILE, err))
        return NULL;
    rulebook_t *self = s_new_defaults ();
    if (self) {
        self->path = strdup (path? path: "");
        self->text = (char *) malloc (size + 1);
    }
    int rc = -1;
    if (!self || !self->path || !self->text)
        yamldoc_no_memory (doc);
    else {
        memcpy (self->text, text, size);
        self->text [size] = 0;
        s_ctx_t ctx = { doc, channels, self, NULL, NULL };
        yaml_node_t *root = yamldoc_root (doc);
        rc = root? s_parse_root (&ctx, root):
                   yamldoc_fail (doc, NULL, "empty rule file (it needs at least "
                                 "version: 1)");
        if (rc == 0)
            rc = yamldoc_expect_end (doc);
    }
    yamldoc_destroy (&doc);
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
    char *text;
    size_t size;
    if (yamldoc_read_file (path, "a rule file", S_MAX_RULE_FILE, &text, &size, err))
        return NULL;
    rulebook_t *self = rulebook_parse (text, size, path, channels, err);
    free (text);
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
    for (size_t i = 0; i < self->n_distribution; i++)
        free (self->distribution [i].channel);
    free (self->distribution);
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

const rule_distribution_t *
rulebook_distribution (const rulebook_t *self, const char *channel)
{
    static const rule_distribution_t defaults = { NULL, RULE_EVEN, false,
                                                  10 * 60 * 1000, false };
    for (size_t i = 0; self && channel && i < self->n_distribution; i++)
        if (streq (self->distribution [i].channel, channel))
            return &self->distribution [i];
    return &defaults;
}

int
rulebook_strategy (const char *name)
{
    return !name? -1: streq (name, "even")? RULE_EVEN: streq (name, "range")? RULE_RANGE:
           streq (name, "address")? RULE_ADDRESS: -1;
}

const char *
rulebook_strategy_name (rule_strategy_t strategy)
{
    return strategy == RULE_RANGE? "range": strategy == RULE_ADDRESS? "address": "even";
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
