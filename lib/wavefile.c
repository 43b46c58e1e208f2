/*  wavefile.c - the wave descriptor: what a wave is and how its targets are
    routed to channels, read from YAML or JSON (JSON is read as YAML, of
    which it is a subset).

    The format, every key shown:

        campaign: C2026-11-retention      # required, non-empty
        wave: W2026-11-24-a               # required, [A-Za-z0-9._-]{1,64}
        kind: retention                   # optional: acquisition, cross_sell,
                                          #   up_sell, retention, winback
        window:                           # optional, either end optional
          start: "2026-11-24T09:00:00+08:00"   # ISO 8601 or epoch seconds
          end: "2026-11-30T21:00:00+08:00"     # must be after start
        targets: targets.csv              # optional; relative paths are
                                          #   relative to this file's folder
        sms_template: "{name}, ..."       # optional
        script: "..."                     # optional
        meta: { owner: alice }            # optional map of strings
        rules:                            # optional overrides of the rule file
          control: 5%                     #   control group share (0..50%)
          control_seed: 42                #   same seed, same control group
          frequency_caps: off             #   on / off, as quiet_hours, merge,
          quiet_hours: on                 #   duplicate, open_offer
        plan:                             # required, non-empty; the first
          - channel: visit                #   step whose conditions all
            where: { segment: key_account }    # match picks the channel
          - channel: call
            where: { arpu: { min: 150 } }      # min inclusive, max exclusive
          - channel: sms
            where: { lifecycle: [decline, stable] }   # one of
            fallback: call                # optional auxiliary channel
          - channel: preferred            # the target's preferred_channel

    A where value is a string (equals), a non-empty list of strings (equals
    one of) or a map with min and / or max (numeric range).  The where keys
    name Target fields or extra CSV columns.  Channel names are
    [a-z][a-z0-9_]{0,31}; "preferred" is allowed as a step's channel but not
    as a fallback, and a fallback may not repeat its step's channel.

    Everything is checked here, before a wave reaches the broker: unknown
    keys, duplicate keys, wrong types, missing or empty required keys, bad
    names and times.  Every message names the file, the 1-based line and the
    key: "wave.yaml:12: unknown key 'chanel' in plan step 2 (expected
    channel, where, fallback)".  Null values (~, null or nothing) count as
    absent.  The wave's state is left at WAVE_NONE for the caller to set.  */

#include "wob_targets.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <yaml.h>

#define S_MAX_DESCRIPTOR (1024 * 1024)      //  larger files are refused

typedef struct {
    const char *path;       //  descriptor path for messages
    yaml_document_t *doc;   //  the parsed document
    char *err;              //  caller's error buffer
    int code;               //  wob_err_t of the first failure
} s_ctx_t;

static int
s_fail (s_ctx_t *ctx, yaml_node_t *node, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Reports an error at node's line.  Returns -1.
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
    if (!ctx->code)
        ctx->code = WOB_ERR_INVALID;
    return -1;
}

static int
s_no_memory (s_ctx_t *ctx)
{
    wob_fail (ctx->err, 0, "%s: out of memory", ctx->path);
    ctx->code = WOB_ERR_NOMEM;
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

//  Returns the text of a scalar node, or NULL with an error naming what
//  when node is not a string.  Empty strings are refused unless allow_empty.
static const char *
s_text (s_ctx_t *ctx, yaml_node_t *node, const char *what, bool allow_empty)
{
    if (node->type != YAML_SCALAR_NODE) {
        s_fail (ctx, node, "%s must be a string, not %s", what, s_type_name (node));
        return NULL;
    }
    const char *value = (const char *) node->data.scalar.value;
    if (strlen (value) != node->data.scalar.length) {
        s_fail (ctx, node, "%s contains a NUL character", what);
        return NULL;
    }
    if (!allow_empty && (*value == 0 || s_is_null (node))) {
        s_fail (ctx, node, "%s is empty", what);
        return NULL;
    }
    return value;
}

//  Copies a scalar into *dest; an empty (or allowed null) value leaves
//  *dest as it is.
static int
s_set_text (s_ctx_t *ctx, yaml_node_t *node, const char *what, bool allow_empty,
            char **dest)
{
    const char *value = s_text (ctx, node, what, allow_empty);
    if (!value)
        return -1;
    if (allow_empty && s_is_null (node))
        value = "";
    if (*value == 0)
        return 0;                   //  leave the generated default
    char *copy = strdup (value);
    if (!copy)
        return s_no_memory (ctx);
    *dest = copy;
    return 0;
}

//  Returns a mapping key's name, or NULL when the key is not a string.
static const char *
s_key (s_ctx_t *ctx, yaml_node_t *key, const char *where)
{
    if (key->type != YAML_SCALAR_NODE) {
        s_fail (ctx, key, "keys in %s must be strings, not %s", where, s_type_name (key));
        return NULL;
    }
    return (const char *) key->data.scalar.value;
}

//  Refuses a key seen before in the same mapping.
static int
s_check_duplicate (s_ctx_t *ctx, yaml_node_t *map, yaml_node_pair_t *pair,
                   const char *name, const char *where)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair; p++) {
        yaml_node_t *key = s_node (ctx, p->key);
        if (key->type == YAML_SCALAR_NODE
        &&  streq ((const char *) key->data.scalar.value, name))
            return s_fail (ctx, s_node (ctx, pair->key), "duplicate key '%s' in %s "
                           "(first on line %zu)", name, where, key->start_mark.line + 1);
    }
    return 0;
}

static bool
s_valid_wave_id (const char *id)
{
    size_t len = strlen (id);
    if (len < 1 || len > 64)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
        ||    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

static bool
s_valid_channel (const char *name)
{
    size_t len = strlen (name);
    if (len < 1 || len > 32 || name [0] < 'a' || name [0] > 'z')
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

static int
s_parse_number (s_ctx_t *ctx, yaml_node_t *node, const char *what, double *value)
{
    const char *text = s_text (ctx, node, what, false);
    if (!text)
        return -1;
    char *end;
    errno = 0;
    double d = strtod (text, &end);
    if (end == text || *end || errno || !isfinite (d))
        return s_fail (ctx, node, "%s: '%s' is not a number", what, text);
    *value = d;
    return 0;
}

//  Parses one where entry: field -> string | [strings] | {min, max}
static int
s_parse_condition (s_ctx_t *ctx, const char *field, yaml_node_t *value,
                   Wob__Condition *cond, int step)
{
    char what [160];
    snprintf (what, sizeof (what), "where '%s' in plan step %d", field, step);
    cond->field = strdup (field);
    if (!cond->field)
        return s_no_memory (ctx);

    if (value->type == YAML_SCALAR_NODE) {
        if (s_is_null (value))
            return s_fail (ctx, value, "%s has no value (give a string, a list "
                           "or a range with min / max)", what);
        const char *text = s_text (ctx, value, what, true);
        if (!text)
            return -1;
        cond->values = (char **) calloc (1, sizeof (char *));
        if (!cond->values || !(cond->values [0] = strdup (text)))
            return s_no_memory (ctx);
        cond->n_values = 1;
        return 0;
    }
    if (value->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *start = value->data.sequence.items.start;
        yaml_node_item_t *top = value->data.sequence.items.top;
        if (top == start)
            return s_fail (ctx, value, "%s is an empty list", what);
        cond->values = (char **) calloc (top - start, sizeof (char *));
        if (!cond->values)
            return s_no_memory (ctx);
        for (yaml_node_item_t *item = start; item < top; item++) {
            yaml_node_t *node = s_node (ctx, *item);
            if (node->type == YAML_SCALAR_NODE && s_is_null (node))
                return s_fail (ctx, node, "%s: list item %d is null", what,
                               (int) (item - start) + 1);
            const char *text = s_text (ctx, node, what, true);
            if (!text)
                return -1;
            if (!(cond->values [cond->n_values] = strdup (text)))
                return s_no_memory (ctx);
            cond->n_values++;
        }
        return 0;
    }
    //  Range
    yaml_node_pair_t *start = value->data.mapping.pairs.start;
    yaml_node_pair_t *top = value->data.mapping.pairs.top;
    if (top == start)
        return s_fail (ctx, value, "%s is an empty range (give min and / or max)", what);
    for (yaml_node_pair_t *pair = start; pair < top; pair++) {
        yaml_node_t *key = s_node (ctx, pair->key);
        const char *name = s_key (ctx, key, what);
        if (!name || s_check_duplicate (ctx, value, pair, name, what))
            return -1;
        yaml_node_t *node = s_node (ctx, pair->value);
        char label [200];
        snprintf (label, sizeof (label), "%s: %s", what, name);
        if (streq (name, "min")) {
            if (s_parse_number (ctx, node, label, &cond->min))
                return -1;
            cond->has_min = true;
        }
        else
        if (streq (name, "max")) {
            if (s_parse_number (ctx, node, label, &cond->max))
                return -1;
            cond->has_max = true;
        }
        else
            return s_fail (ctx, key, "unknown key '%s' in the range of %s "
                           "(expected min, max)", name, what);
    }
    if (cond->has_min && cond->has_max && cond->min >= cond->max)
        return s_fail (ctx, value, "%s: min %g is not below max %g (max is exclusive)",
                       what, cond->min, cond->max);
    return 0;
}

static int
s_parse_step (s_ctx_t *ctx, yaml_node_t *node, Wob__PlanStep *step, int number)
{
    char what [64];
    snprintf (what, sizeof (what), "plan step %d", number);
    if (node->type != YAML_MAPPING_NODE)
        return s_fail (ctx, node, "%s must be a map with channel, where, fallback, "
                       "not %s", what, s_type_name (node));
    yaml_node_t *fallback_node = NULL;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = s_node (ctx, pair->key);
        yaml_node_t *value = s_node (ctx, pair->value);
        const char *name = s_key (ctx, key, what);
        if (!name || s_check_duplicate (ctx, node, pair, name, what))
            return -1;
        if (streq (name, "channel")) {
            char label [96];
            snprintf (label, sizeof (label), "channel of %s", what);
            if (s_set_text (ctx, value, label, false, &step->channel))
                return -1;
            if (!streq (step->channel, "preferred") && !s_valid_channel (step->channel))
                return s_fail (ctx, value, "%s: '%s' is not a channel name "
                               "([a-z][a-z0-9_]{0,31} or preferred)", label, step->channel);
        }
        else
        if (streq (name, "fallback")) {
            if (s_is_null (value))
                continue;
            char label [96];
            snprintf (label, sizeof (label), "fallback of %s", what);
            if (s_set_text (ctx, value, label, false, &step->fallback))
                return -1;
            if (!s_valid_channel (step->fallback) || streq (step->fallback, "preferred"))
                return s_fail (ctx, value, "%s: '%s' is not a channel name "
                               "([a-z][a-z0-9_]{0,31}, not preferred)", label,
                               step->fallback);
            fallback_node = value;
        }
        else
        if (streq (name, "where")) {
            if (s_is_null (value))
                continue;
            if (value->type != YAML_MAPPING_NODE)
                return s_fail (ctx, value, "where of %s must be a map of field: "
                               "condition, not %s", what, s_type_name (value));
            yaml_node_pair_t *start = value->data.mapping.pairs.start;
            yaml_node_pair_t *top = value->data.mapping.pairs.top;
            step->where = (Wob__Condition **) calloc (top - start + 1,
                                                      sizeof (Wob__Condition *));
            if (!step->where)
                return s_no_memory (ctx);
            for (yaml_node_pair_t *cp = start; cp < top; cp++) {
                yaml_node_t *ckey = s_node (ctx, cp->key);
                char label [96];
                snprintf (label, sizeof (label), "where of %s", what);
                const char *field = s_key (ctx, ckey, label);
                if (!field || s_check_duplicate (ctx, value, cp, field, label))
                    return -1;
                if (!*field)
                    return s_fail (ctx, ckey, "%s: empty field name", label);
                Wob__Condition *cond = (Wob__Condition *) malloc (sizeof (Wob__Condition));
                if (!cond)
                    return s_no_memory (ctx);
                wob__condition__init (cond);
                step->where [step->n_where++] = cond;
                if (s_parse_condition (ctx, field, s_node (ctx, cp->value), cond, number))
                    return -1;
            }
        }
        else
            return s_fail (ctx, key, "unknown key '%s' in %s (expected channel, "
                           "where, fallback)", name, what);
    }
    if (!*step->channel)
        return s_fail (ctx, node, "%s has no channel", what);
    if (fallback_node && streq (step->fallback, step->channel))
        return s_fail (ctx, fallback_node, "fallback of %s repeats its channel '%s'",
                       what, step->channel);
    return 0;
}

static int
s_parse_window (s_ctx_t *ctx, yaml_node_t *node, Wob__Wave *wave)
{
    if (node->type != YAML_MAPPING_NODE)
        return s_fail (ctx, node, "window must be a map with start and / or end, not %s",
                       s_type_name (node));
    yaml_node_t *start_node = NULL, *end_node = NULL;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = s_node (ctx, pair->key);
        yaml_node_t *value = s_node (ctx, pair->value);
        const char *name = s_key (ctx, key, "window");
        if (!name || s_check_duplicate (ctx, node, pair, name, "window"))
            return -1;
        int64_t *dest;
        if (streq (name, "start")) {
            dest = &wave->start_ms;
            start_node = value;
        }
        else
        if (streq (name, "end")) {
            dest = &wave->end_ms;
            end_node = value;
        }
        else
            return s_fail (ctx, key, "unknown key '%s' in window (expected start, end)", name);
        if (s_is_null (value))
            continue;
        char label [32];
        snprintf (label, sizeof (label), "window %s", name);
        const char *text = s_text (ctx, value, label, false);
        if (!text)
            return -1;
        if (wob_parse_time (text, dest) || *dest <= 0)
            return s_fail (ctx, value, "%s: '%s' is not a time (ISO 8601 such as "
                           "2026-11-24T09:00:00+08:00, or epoch seconds)", label, text);
    }
    if (start_node && end_node && wave->start_ms && wave->end_ms
    &&  wave->end_ms <= wave->start_ms)
        return s_fail (ctx, end_node, "window end is not after its start");
    return 0;
}

static int
s_parse_meta (s_ctx_t *ctx, yaml_node_t *node, Wob__Wave *wave)
{
    if (node->type != YAML_MAPPING_NODE)
        return s_fail (ctx, node, "meta must be a map of strings, not %s", s_type_name (node));
    yaml_node_pair_t *start = node->data.mapping.pairs.start;
    yaml_node_pair_t *top = node->data.mapping.pairs.top;
    wave->meta = (Wob__Field **) calloc (top - start + 1, sizeof (Wob__Field *));
    if (!wave->meta)
        return s_no_memory (ctx);
    for (yaml_node_pair_t *pair = start; pair < top; pair++) {
        yaml_node_t *key = s_node (ctx, pair->key);
        const char *name = s_key (ctx, key, "meta");
        if (!name || s_check_duplicate (ctx, node, pair, name, "meta"))
            return -1;
        if (!*name)
            return s_fail (ctx, key, "meta: empty key");
        Wob__Field *field = (Wob__Field *) malloc (sizeof (Wob__Field));
        if (!field)
            return s_no_memory (ctx);
        wob__field__init (field);
        wave->meta [wave->n_meta++] = field;
        if (!(field->key = strdup (name)))
            return s_no_memory (ctx);
        char label [96];
        snprintf (label, sizeof (label), "meta '%.64s'", name);
        if (s_set_text (ctx, s_node (ctx, pair->value), label, true, &field->value))
            return -1;
    }
    return 0;
}

static int
s_parse_plan (s_ctx_t *ctx, yaml_node_t *node, Wob__Wave *wave)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return s_fail (ctx, node, "plan must be a list of steps, not %s", s_type_name (node));
    yaml_node_item_t *start = node->data.sequence.items.start;
    yaml_node_item_t *top = node->data.sequence.items.top;
    if (top == start)
        return s_fail (ctx, node, "plan is empty (give at least one step)");
    wave->plan = (Wob__PlanStep **) calloc (top - start, sizeof (Wob__PlanStep *));
    if (!wave->plan)
        return s_no_memory (ctx);
    for (yaml_node_item_t *item = start; item < top; item++) {
        Wob__PlanStep *step = (Wob__PlanStep *) malloc (sizeof (Wob__PlanStep));
        if (!step)
            return s_no_memory (ctx);
        wob__plan_step__init (step);
        wave->plan [wave->n_plan++] = step;
        if (s_parse_step (ctx, s_node (ctx, *item), step, (int) wave->n_plan))
            return -1;
    }
    return 0;
}

//  on / off, true / false, yes / no
static int
s_parse_switch (s_ctx_t *ctx, yaml_node_t *node, const char *what, bool *value)
{
    const char *text = s_text (ctx, node, what, false);
    if (!text)
        return -1;
    if (streq (text, "on") || streq (text, "true") || streq (text, "yes"))
        *value = true;
    else
    if (streq (text, "off") || streq (text, "false") || streq (text, "no"))
        *value = false;
    else
        return s_fail (ctx, node, "%s: '%.32s' is not on or off", what, text);
    return 0;
}

//  rules: per-wave overrides of the broker's rule file.
static int
s_parse_rules (s_ctx_t *ctx, yaml_node_t *node, Wob__Wave *wave)
{
    if (node->type != YAML_MAPPING_NODE)
        return s_fail (ctx, node, "rules must be a map (control, control_seed, "
                       "frequency_caps, quiet_hours, merge, duplicate, open_offer), not %s",
                       s_type_name (node));
    Wob__WaveRules *rules = (Wob__WaveRules *) malloc (sizeof (Wob__WaveRules));
    if (!rules)
        return s_no_memory (ctx);
    wob__wave_rules__init (rules);
    wave->rules = rules;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = s_node (ctx, pair->key);
        yaml_node_t *value = s_node (ctx, pair->value);
        const char *name = s_key (ctx, key, "rules");
        if (!name || s_check_duplicate (ctx, node, pair, name, "rules"))
            return -1;
        bool on = true;
        int rc = 0;
        if (streq (name, "control")) {
            //  "5%" or 0.05
            const char *text = s_text (ctx, value, "rules: control", false);
            if (!text)
                return -1;
            char *end;
            double share = strtod (text, &end);
            if (end != text && streq (end, "%"))
                share /= 100;
            else
            if (end == text || *end)
                return s_fail (ctx, value, "rules: control: '%.32s' is not a share "
                               "(e.g. 5%% or 0.05)", text);
            if (!(share >= 0 && share <= 0.5))
                return s_fail (ctx, value, "rules: control: %.32s is outside 0..50%%", text);
            rules->has_control = true;
            rules->control = share;
        }
        else
        if (streq (name, "control_seed")) {
            double seed = 0;
            rc = s_parse_number (ctx, value, "rules: control_seed", &seed);
            if (!rc && (seed < 0 || seed != (double) (uint64_t) seed))
                rc = s_fail (ctx, value, "rules: control_seed must be a whole number >= 0");
            rules->control_seed = (uint64_t) seed;
        }
        else
        if (streq (name, "frequency_caps")) {
            rc = s_parse_switch (ctx, value, "rules: frequency_caps", &on);
            rules->no_caps = !on;
        }
        else
        if (streq (name, "quiet_hours")) {
            rc = s_parse_switch (ctx, value, "rules: quiet_hours", &on);
            rules->no_quiet_hours = !on;
        }
        else
        if (streq (name, "merge")) {
            rc = s_parse_switch (ctx, value, "rules: merge", &on);
            rules->no_merge = !on;
        }
        else
        if (streq (name, "duplicate")) {
            rc = s_parse_switch (ctx, value, "rules: duplicate", &on);
            rules->no_duplicate = !on;
        }
        else
        if (streq (name, "open_offer")) {
            rc = s_parse_switch (ctx, value, "rules: open_offer", &on);
            rules->no_open_offer = !on;
        }
        else
            rc = s_fail (ctx, key, "unknown key '%s' in rules (expected control, "
                         "control_seed, frequency_caps, quiet_hours, merge, duplicate, "
                         "open_offer)", name);
        if (rc)
            return -1;
    }
    return 0;
}

static const char *s_kinds [] = {
    "acquisition", "cross_sell", "up_sell", "retention", "winback", NULL
};

static int
s_parse_wave (s_ctx_t *ctx, yaml_node_t *root, Wob__Wave *wave, char **targets)
{
    if (root->type != YAML_MAPPING_NODE)
        return s_fail (ctx, root, "a wave descriptor is a map (campaign, wave, plan, ...), "
                       "not %s", s_type_name (root));
    bool have_plan = false;
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = s_node (ctx, pair->key);
        yaml_node_t *value = s_node (ctx, pair->value);
        const char *name = s_key (ctx, key, "the descriptor");
        if (!name || s_check_duplicate (ctx, root, pair, name, "the descriptor"))
            return -1;
        int rc = 0;
        if (streq (name, "campaign"))
            rc = s_set_text (ctx, value, "campaign", false, &wave->campaign);
        else
        if (streq (name, "wave")) {
            rc = s_set_text (ctx, value, "wave", false, &wave->id);
            if (rc == 0 && !s_valid_wave_id (wave->id))
                rc = s_fail (ctx, value, "wave: '%.80s' is not a wave id "
                             "([A-Za-z0-9._-], 1 to 64 characters)", wave->id);
        }
        else
        if (streq (name, "kind")) {
            if (s_is_null (value))
                continue;
            rc = s_set_text (ctx, value, "kind", false, &wave->kind);
            bool known = false;
            for (int i = 0; rc == 0 && s_kinds [i]; i++)
                known |= streq (s_kinds [i], wave->kind);
            if (rc == 0 && !known)
                rc = s_fail (ctx, value, "kind: '%.80s' is not one of acquisition, "
                             "cross_sell, up_sell, retention, winback", wave->kind);
        }
        else
        if (streq (name, "window")) {
            if (!s_is_null (value))
                rc = s_parse_window (ctx, value, wave);
        }
        else
        if (streq (name, "targets")) {
            if (s_is_null (value))
                continue;
            rc = s_set_text (ctx, value, "targets", false, targets);
        }
        else
        if (streq (name, "sms_template"))
            rc = s_set_text (ctx, value, "sms_template", true, &wave->sms_template);
        else
        if (streq (name, "script"))
            rc = s_set_text (ctx, value, "script", true, &wave->script);
        else
        if (streq (name, "meta")) {
            if (!s_is_null (value))
                rc = s_parse_meta (ctx, value, wave);
        }
        else
        if (streq (name, "plan")) {
            if (s_is_null (value))
                continue;
            have_plan = true;
            rc = s_parse_plan (ctx, value, wave);
        }
        else
        if (streq (name, "rules")) {
            if (!s_is_null (value))
                rc = s_parse_rules (ctx, value, wave);
        }
        else
            rc = s_fail (ctx, key, "unknown key '%s' (expected campaign, wave, kind, "
                         "window, targets, sms_template, script, meta, plan, rules)", name);
        if (rc)
            return -1;
    }
    if (!*wave->campaign)
        return s_fail (ctx, root, "missing required key 'campaign'");
    if (!*wave->id)
        return s_fail (ctx, root, "missing required key 'wave'");
    if (!have_plan)
        return s_fail (ctx, root, "missing required key 'plan'");
    return 0;
}

//  Resolves target relative to the descriptor's folder.
static char *
s_resolve (const char *descriptor, const char *target)
{
    const char *slash = strrchr (descriptor, '/');
    if (target [0] == '/' || !slash)
        return strdup (target);
    size_t dirlen = slash - descriptor + 1;
    char *path = (char *) malloc (dirlen + strlen (target) + 1);
    if (path) {
        memcpy (path, descriptor, dirlen);
        strcpy (path + dirlen, target);
    }
    return path;
}

int
wob_wavefile_load (const char *path, Wob__Wave **wave_p, char **targets_p, char *err)
{
    *wave_p = NULL;
    if (targets_p)
        *targets_p = NULL;
    if (!path || !*path)
        return wob_fail (err, WOB_ERR_INVALID, "no wave descriptor given");

    FILE *file = fopen (path, "rb");
    if (!file)
        return wob_fail (err, WOB_ERR_IO, "%s: cannot open: %s", path, strerror (errno));
    struct stat st;
    if (fstat (fileno (file), &st) == 0 && S_ISREG (st.st_mode)
    &&  st.st_size > S_MAX_DESCRIPTOR) {
        fclose (file);
        return wob_fail (err, WOB_ERR_INVALID, "%s: %lld bytes is too large for a wave "
                         "descriptor (limit %d)", path, (long long) st.st_size,
                         S_MAX_DESCRIPTOR);
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize (&parser)) {
        fclose (file);
        return wob_fail (err, WOB_ERR_NOMEM, "%s: out of memory", path);
    }
    yaml_parser_set_input_file (&parser, file);
    if (!yaml_parser_load (&parser, &doc)) {
        int code = parser.error == YAML_MEMORY_ERROR? WOB_ERR_NOMEM: WOB_ERR_INVALID;
        wob_fail (err, code, "%s:%zu: not valid YAML or JSON: %s%s%s", path,
                  parser.problem_mark.line + 1,
                  parser.problem? parser.problem: "syntax error",
                  parser.context? ", ": "", parser.context? parser.context: "");
        yaml_parser_delete (&parser);
        fclose (file);
        return code;
    }
    s_ctx_t ctx = { path, &doc, err, 0 };
    Wob__Wave *wave = NULL;
    char *targets = NULL;
    yaml_node_t *root = yaml_document_get_root_node (&doc);
    if (!root)
        s_fail (&ctx, NULL, "empty wave descriptor");
    else {
        wave = (Wob__Wave *) malloc (sizeof (Wob__Wave));
        if (!wave)
            s_no_memory (&ctx);
        else {
            wob__wave__init (wave);
            s_parse_wave (&ctx, root, wave, &targets);
        }
    }
    if (ctx.code == 0 && targets && targets_p) {
        *targets_p = s_resolve (path, targets);
        if (!*targets_p)
            s_no_memory (&ctx);
    }
    free (targets);
    yaml_document_delete (&doc);
    yaml_parser_delete (&parser);
    fclose (file);
    if (ctx.code) {
        if (wave)
            wob__wave__free_unpacked (wave, NULL);
        if (targets_p && *targets_p) {
            free (*targets_p);
            *targets_p = NULL;
        }
        return ctx.code;
    }
    *wave_p = wave;
    return 0;
}
