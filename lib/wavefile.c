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
          distribution: { visit: address }   # strategy per channel: even,
                                          #   range or address
        plan:                             # required, non-empty; the first
          - channel: visit                #   step whose conditions all
            where: { segment: key_account }    # match picks the channel
          - channel: call
            where: { arpu: { min: 150 } }      # min inclusive, max exclusive
          - channel: sms
            where: { lifecycle: [decline, stable] }   # one of
            fallback: call                # optional auxiliary channel
            fallback_after: 2             # attempts first (default: rule file)
            fallback_on: [undelivered]    # trigger outcomes (default: rule file)
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
    absent.  The wave's state is left at WAVE_NONE for the caller to set.
    Loading, keys, types and messages are shared with the rule file in
    yamldoc.c; switches and numbers are read here as they always were.  */

#include "wob_targets.h"
#include "wob_yamldoc.h"
#include <errno.h>
#include <math.h>

#define S_MAX_DESCRIPTOR (1024 * 1024)      //  larger files are refused

//  Copies a scalar into *dest; an empty (or allowed null) value leaves
//  *dest as it is.
static int
s_set_text (yamldoc_t *doc, yaml_node_t *node, const char *what, bool allow_empty,
            char **dest)
{
    const char *value = yamldoc_text (doc, node, what, "a string", allow_empty);
    if (!value)
        return -1;
    if (allow_empty && yamldoc_is_null (node))
        value = "";
    if (*value == 0)
        return 0;                   //  leave the generated default
    char *copy = strdup (value);
    if (!copy)
        return yamldoc_no_memory (doc);
    *dest = copy;
    return 0;
}

//  A new, initialised message of descriptor's type (its parent's
//  free_unpacked frees it), or NULL after reporting no memory
static void *
s_new_message (yamldoc_t *doc, const ProtobufCMessageDescriptor *descriptor)
{
    ProtobufCMessage *message = (ProtobufCMessage *) malloc (descriptor->sizeof_message);
    if (message)
        protobuf_c_message_init (descriptor, message);
    else
        yamldoc_no_memory (doc);
    return message;
}

//  A finite number as strtod reads it.  Looser than the rule file's
//  yamldoc_number (hex and leading spaces pass), as descriptors always were.
static int
s_parse_number (yamldoc_t *doc, yaml_node_t *node, const char *what, double *value)
{
    const char *text = yamldoc_text (doc, node, what, "a string", false);
    if (!text)
        return -1;
    char *end;
    errno = 0;
    double number = strtod (text, &end);
    if (end == text || *end || errno || !isfinite (number))
        return yamldoc_fail (doc, node, "%s: '%s' is not a number", what, text);
    *value = number;
    return 0;
}

//  Parses one where entry: field -> string | [strings] | {min, max}
static int
s_parse_condition (yamldoc_t *doc, const char *field, yaml_node_t *value,
                   Wob__Condition *cond, int step)
{
    char what [160];
    snprintf (what, sizeof (what), "where '%s' in plan step %d", field, step);
    cond->field = strdup (field);
    if (!cond->field)
        return yamldoc_no_memory (doc);

    if (value->type == YAML_SCALAR_NODE) {
        if (yamldoc_is_null (value))
            return yamldoc_fail (doc, value, "%s has no value (give a string, a list "
                                 "or a range with min / max)", what);
        const char *text = yamldoc_text (doc, value, what, "a string", true);
        if (!text)
            return -1;
        cond->values = (char **) calloc (1, sizeof (char *));
        if (!cond->values || !(cond->values [0] = strdup (text)))
            return yamldoc_no_memory (doc);
        cond->n_values = 1;
        return 0;
    }
    if (value->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *start = value->data.sequence.items.start;
        yaml_node_item_t *top = value->data.sequence.items.top;
        if (top == start)
            return yamldoc_fail (doc, value, "%s is an empty list", what);
        cond->values = (char **) calloc (top - start, sizeof (char *));
        if (!cond->values)
            return yamldoc_no_memory (doc);
        for (yaml_node_item_t *item = start; item < top; item++) {
            yaml_node_t *node = yamldoc_node (doc, *item);
            if (node->type == YAML_SCALAR_NODE && yamldoc_is_null (node))
                return yamldoc_fail (doc, node, "%s: list item %d is null", what,
                                     (int) (item - start) + 1);
            const char *text = yamldoc_text (doc, node, what, "a string", true);
            if (!text)
                return -1;
            if (!(cond->values [cond->n_values] = strdup (text)))
                return yamldoc_no_memory (doc);
            cond->n_values++;
        }
        return 0;
    }
    //  Range
    yaml_node_pair_t *start = value->data.mapping.pairs.start;
    yaml_node_pair_t *top = value->data.mapping.pairs.top;
    if (top == start)
        return yamldoc_fail (doc, value, "%s is an empty range (give min and / or max)",
                             what);
    for (yaml_node_pair_t *pair = start; pair < top; pair++) {
        yaml_node_t *key = yamldoc_node (doc, pair->key);
        const char *name = yamldoc_key (doc, value, pair, what);
        if (!name)
            return -1;
        yaml_node_t *node = yamldoc_node (doc, pair->value);
        char label [200];
        snprintf (label, sizeof (label), "%s: %s", what, name);
        if (streq (name, "min")) {
            if (s_parse_number (doc, node, label, &cond->min))
                return -1;
            cond->has_min = true;
        }
        else
        if (streq (name, "max")) {
            if (s_parse_number (doc, node, label, &cond->max))
                return -1;
            cond->has_max = true;
        }
        else
            return yamldoc_fail (doc, key, "unknown key '%s' in the range of %s "
                                 "(expected min, max)", name, what);
    }
    if (cond->has_min && cond->has_max && cond->min >= cond->max)
        return yamldoc_fail (doc, value, "%s: min %g is not below max %g (max is "
                             "exclusive)", what, cond->min, cond->max);
    return 0;
}

static int
s_parse_step (yamldoc_t *doc, yaml_node_t *node, Wob__PlanStep *step, int number)
{
    char what [64];
    snprintf (what, sizeof (what), "plan step %d", number);
    if (node->type != YAML_MAPPING_NODE)
        return yamldoc_fail (doc, node, "%s must be a map with channel, where, fallback, "
                             "not %s", what, yamldoc_type_name (node));
    yaml_node_t *fallback_node = NULL;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yamldoc_node (doc, pair->key);
        yaml_node_t *value = yamldoc_node (doc, pair->value);
        const char *name = yamldoc_key (doc, node, pair, what);
        if (!name)
            return -1;
        if (streq (name, "channel")) {
            char label [96];
            snprintf (label, sizeof (label), "channel of %s", what);
            if (s_set_text (doc, value, label, false, &step->channel))
                return -1;
            if (!streq (step->channel, "preferred") && !yamldoc_is_channel (step->channel))
                return yamldoc_fail (doc, value, "%s: '%s' is not a channel name "
                                     "([a-z][a-z0-9_]{0,31} or preferred)", label,
                                     step->channel);
        }
        else
        if (streq (name, "fallback")) {
            if (yamldoc_is_null (value))
                continue;
            char label [96];
            snprintf (label, sizeof (label), "fallback of %s", what);
            if (s_set_text (doc, value, label, false, &step->fallback))
                return -1;
            if (!yamldoc_is_channel (step->fallback) || streq (step->fallback, "preferred"))
                return yamldoc_fail (doc, value, "%s: '%s' is not a channel name "
                                     "([a-z][a-z0-9_]{0,31}, not preferred)", label,
                                     step->fallback);
            fallback_node = value;
        }
        else
        if (streq (name, "where")) {
            if (yamldoc_is_null (value))
                continue;
            if (value->type != YAML_MAPPING_NODE)
                return yamldoc_fail (doc, value, "where of %s must be a map of field: "
                                     "condition, not %s", what, yamldoc_type_name (value));
            yaml_node_pair_t *start = value->data.mapping.pairs.start;
            yaml_node_pair_t *top = value->data.mapping.pairs.top;
            step->where = (Wob__Condition **) calloc (top - start + 1,
                                                      sizeof (Wob__Condition *));
            if (!step->where)
                return yamldoc_no_memory (doc);
            for (yaml_node_pair_t *cp = start; cp < top; cp++) {
                yaml_node_t *ckey = yamldoc_node (doc, cp->key);
                char label [96];
                snprintf (label, sizeof (label), "where of %s", what);
                const char *field = yamldoc_key (doc, value, cp, label);
                if (!field)
                    return -1;
                if (!*field)
                    return yamldoc_fail (doc, ckey, "%s: empty field name", label);
                Wob__Condition *cond = s_new_message (doc, &wob__condition__descriptor);
                if (!cond)
                    return -1;
                step->where [step->n_where++] = cond;
                if (s_parse_condition (doc, field, yamldoc_node (doc, cp->value), cond,
                                       number))
                    return -1;
            }
        }
        else
        if (streq (name, "fallback_after")) {
            double after = 0;
            if (s_parse_number (doc, value, "fallback_after", &after))
                return -1;
            if (after < 1 || after > 100 || after != floor (after))
                return yamldoc_fail (doc, value, "fallback_after of %s must be a whole "
                                     "number 1..100", what);
            step->fallback_after = (uint32_t) after;
        }
        else
        if (streq (name, "fallback_on")) {
            if (value->type != YAML_SEQUENCE_NODE)
                return yamldoc_fail (doc, value, "fallback_on of %s must be a list of "
                                     "outcomes, not %s", what, yamldoc_type_name (value));
            yaml_node_item_t *start = value->data.sequence.items.start;
            yaml_node_item_t *top = value->data.sequence.items.top;
            step->fallback_on = (char **) calloc (top - start + 1, sizeof (char *));
            if (!step->fallback_on)
                return yamldoc_no_memory (doc);
            for (yaml_node_item_t *item = start; item < top; item++) {
                yaml_node_t *entry = yamldoc_node (doc, *item);
                char *outcome = NULL;
                if (s_set_text (doc, entry, "fallback_on item", false, &outcome))
                    return -1;
                step->fallback_on [step->n_fallback_on++] = outcome;
                if (wob_outcome_from_name (outcome) <= 0)
                    return yamldoc_fail (doc, entry, "fallback_on of %s: '%s' is not an "
                                         "outcome (delivered, undelivered, unreachable, "
                                         "wrong_number, ...)", what, outcome);
            }
        }
        else
            return yamldoc_fail (doc, key, "unknown key '%s' in %s (expected channel, "
                                 "where, fallback, fallback_after, fallback_on)", name, what);
    }
    if (!*step->channel)
        return yamldoc_fail (doc, node, "%s has no channel", what);
    if (fallback_node && streq (step->fallback, step->channel))
        return yamldoc_fail (doc, fallback_node, "fallback of %s repeats its channel '%s'",
                             what, step->channel);
    return 0;
}

static int
s_parse_window (yamldoc_t *doc, yaml_node_t *node, Wob__Wave *wave)
{
    if (node->type != YAML_MAPPING_NODE)
        return yamldoc_fail (doc, node, "window must be a map with start and / or end, "
                             "not %s", yamldoc_type_name (node));
    yaml_node_t *start_node = NULL, *end_node = NULL;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yamldoc_node (doc, pair->key);
        yaml_node_t *value = yamldoc_node (doc, pair->value);
        const char *name = yamldoc_key (doc, node, pair, "window");
        if (!name)
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
            return yamldoc_fail (doc, key, "unknown key '%s' in window (expected start, "
                                 "end)", name);
        if (yamldoc_is_null (value))
            continue;
        char label [32];
        snprintf (label, sizeof (label), "window %s", name);
        const char *text = yamldoc_text (doc, value, label, "a string", false);
        if (!text)
            return -1;
        if (wob_parse_time (text, dest) || *dest <= 0)
            return yamldoc_fail (doc, value, "%s: '%s' is not a time (ISO 8601 such as "
                                 "2026-11-24T09:00:00+08:00, or epoch seconds)", label,
                                 text);
    }
    if (start_node && end_node && wave->start_ms && wave->end_ms
    &&  wave->end_ms <= wave->start_ms)
        return yamldoc_fail (doc, end_node, "window end is not after its start");
    return 0;
}

static int
s_parse_meta (yamldoc_t *doc, yaml_node_t *node, Wob__Wave *wave)
{
    if (node->type != YAML_MAPPING_NODE)
        return yamldoc_fail (doc, node, "meta must be a map of strings, not %s",
                             yamldoc_type_name (node));
    yaml_node_pair_t *start = node->data.mapping.pairs.start;
    yaml_node_pair_t *top = node->data.mapping.pairs.top;
    wave->meta = (Wob__Field **) calloc (top - start + 1, sizeof (Wob__Field *));
    if (!wave->meta)
        return yamldoc_no_memory (doc);
    for (yaml_node_pair_t *pair = start; pair < top; pair++) {
        yaml_node_t *key = yamldoc_node (doc, pair->key);
        const char *name = yamldoc_key (doc, node, pair, "meta");
        if (!name)
            return -1;
        if (!*name)
            return yamldoc_fail (doc, key, "meta: empty key");
        Wob__Field *field = s_new_message (doc, &wob__field__descriptor);
        if (!field)
            return -1;
        wave->meta [wave->n_meta++] = field;
        if (!(field->key = strdup (name)))
            return yamldoc_no_memory (doc);
        char label [96];
        snprintf (label, sizeof (label), "meta '%.64s'", name);
        if (s_set_text (doc, yamldoc_node (doc, pair->value), label, true, &field->value))
            return -1;
    }
    return 0;
}

static int
s_parse_plan (yamldoc_t *doc, yaml_node_t *node, Wob__Wave *wave)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return yamldoc_fail (doc, node, "plan must be a list of steps, not %s",
                             yamldoc_type_name (node));
    yaml_node_item_t *start = node->data.sequence.items.start;
    yaml_node_item_t *top = node->data.sequence.items.top;
    if (top == start)
        return yamldoc_fail (doc, node, "plan is empty (give at least one step)");
    wave->plan = (Wob__PlanStep **) calloc (top - start, sizeof (Wob__PlanStep *));
    if (!wave->plan)
        return yamldoc_no_memory (doc);
    for (yaml_node_item_t *item = start; item < top; item++) {
        Wob__PlanStep *step = s_new_message (doc, &wob__plan_step__descriptor);
        if (!step)
            return -1;
        wave->plan [wave->n_plan++] = step;
        if (s_parse_step (doc, yamldoc_node (doc, *item), step, (int) wave->n_plan))
            return -1;
    }
    return 0;
}

//  rules: distribution: { channel: even | range | address }
static int
s_parse_distribution (yamldoc_t *doc, yaml_node_t *node, Wob__WaveRules *rules)
{
    if (node->type != YAML_MAPPING_NODE)
        return yamldoc_fail (doc, node, "rules: distribution must be a map (channel: "
                             "even, range or address), not %s", yamldoc_type_name (node));
    yaml_node_pair_t *start = node->data.mapping.pairs.start;
    yaml_node_pair_t *top = node->data.mapping.pairs.top;
    rules->distribution = calloc (top - start + 1, sizeof (Wob__ChannelStrategy *));
    if (!rules->distribution)
        return yamldoc_no_memory (doc);
    for (yaml_node_pair_t *pair = start; pair < top; pair++) {
        yaml_node_t *key = yamldoc_node (doc, pair->key);
        const char *channel = yamldoc_key (doc, node, pair, "rules: distribution");
        if (!channel)
            return -1;
        if (!yamldoc_is_channel (channel))
            return yamldoc_fail (doc, key, "rules: distribution: '%.64s' is not a channel "
                                 "name", channel);
        yaml_node_t *value = yamldoc_node (doc, pair->value);
        char what [96];
        snprintf (what, sizeof (what), "rules: distribution: %s", channel);
        const char *text = yamldoc_text (doc, value, what, "a string", false);
        if (!text)
            return -1;
        if (!streq (text, "even") && !streq (text, "range") && !streq (text, "address"))
            return yamldoc_fail (doc, value, "%s: '%.32s' is not a strategy (even, range "
                                 "or address)", what, text);
        Wob__ChannelStrategy *entry = s_new_message (doc, &wob__channel_strategy__descriptor);
        if (!entry)
            return -1;
        rules->distribution [rules->n_distribution++] = entry;
        if (!(entry->channel = strdup (channel)) || !(entry->strategy = strdup (text)))
            return yamldoc_no_memory (doc);
    }
    return 0;
}

//  The field a switch in rules turns off, or NULL when name is none
static protobuf_c_boolean *
s_rules_switch (Wob__WaveRules *rules, const char *name)
{
    return streq (name, "frequency_caps")? &rules->no_caps:
           streq (name, "quiet_hours")? &rules->no_quiet_hours:
           streq (name, "merge")? &rules->no_merge:
           streq (name, "duplicate")? &rules->no_duplicate:
           streq (name, "open_offer")? &rules->no_open_offer: NULL;
}

//  rules: per-wave overrides of the broker's rule file.
static int
s_parse_rules (yamldoc_t *doc, yaml_node_t *node, Wob__Wave *wave)
{
    if (node->type != YAML_MAPPING_NODE)
        return yamldoc_fail (doc, node, "rules must be a map (control, control_seed, "
                             "frequency_caps, quiet_hours, merge, duplicate, "
                             "open_offer, distribution), not %s", yamldoc_type_name (node));
    Wob__WaveRules *rules = wave->rules = s_new_message (doc, &wob__wave_rules__descriptor);
    if (!rules)
        return -1;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yamldoc_node (doc, pair->key);
        yaml_node_t *value = yamldoc_node (doc, pair->value);
        const char *name = yamldoc_key (doc, node, pair, "rules");
        if (!name)
            return -1;
        protobuf_c_boolean *off;
        int rc = 0;
        if (streq (name, "control")) {
            //  "5%" or 0.05
            const char *text = yamldoc_text (doc, value, "rules: control", "a string",
                                             false);
            if (!text)
                return -1;
            char *end;
            double share = strtod (text, &end);
            if (end != text && streq (end, "%"))
                share /= 100;
            else
            if (end == text || *end)
                return yamldoc_fail (doc, value, "rules: control: '%.32s' is not a share "
                                     "(e.g. 5%% or 0.05)", text);
            if (!(share >= 0 && share <= 0.5))
                return yamldoc_fail (doc, value, "rules: control: %.32s is outside "
                                     "0..50%%", text);
            rules->has_control = true;
            rules->control = share;
        }
        else
        if (streq (name, "control_seed")) {
            double seed = 0;
            rc = s_parse_number (doc, value, "rules: control_seed", &seed);
            //  Range first: casting an out-of-range double is undefined.
            if (!rc && (seed < 0 || seed >= 18446744073709551616.0 || seed != floor (seed)))
                rc = yamldoc_fail (doc, value, "rules: control_seed must be a whole "
                                   "number >= 0");
            if (!rc)
                rules->control_seed = (uint64_t) seed;
        }
        else
        if (streq (name, "distribution"))
            rc = s_parse_distribution (doc, value, rules);
        else
        if ((off = s_rules_switch (rules, name))) {
            //  on / off, true / false, yes / no: lower case, unlike the
            //  rule file's yamldoc_switch, as descriptors always were
            char what [64];
            snprintf (what, sizeof (what), "rules: %s", name);
            const char *text = yamldoc_text (doc, value, what, "a string", false);
            if (!text)
                return -1;
            bool on = streq (text, "on") || streq (text, "true") || streq (text, "yes");
            if (!on && !streq (text, "off") && !streq (text, "false")
            &&  !streq (text, "no"))
                return yamldoc_fail (doc, value, "%s: '%.32s' is not on or off", what,
                                     text);
            *off = !on;
        }
        else
            rc = yamldoc_fail (doc, key, "unknown key '%s' in rules (expected control, "
                               "control_seed, frequency_caps, quiet_hours, merge, "
                               "duplicate, open_offer, distribution)", name);
        if (rc)
            return -1;
    }
    return 0;
}

static const char *s_kinds [] = {
    "acquisition", "cross_sell", "up_sell", "retention", "winback", NULL
};

static int
s_parse_wave (yamldoc_t *doc, yaml_node_t *root, Wob__Wave *wave, char **targets)
{
    if (root->type != YAML_MAPPING_NODE)
        return yamldoc_fail (doc, root, "a wave descriptor is a map (campaign, wave, "
                             "plan, ...), not %s", yamldoc_type_name (root));
    bool have_plan = false;
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yamldoc_node (doc, pair->key);
        yaml_node_t *value = yamldoc_node (doc, pair->value);
        const char *name = yamldoc_key (doc, root, pair, "the descriptor");
        if (!name)
            return -1;
        int rc = 0;
        if (streq (name, "campaign"))
            rc = s_set_text (doc, value, "campaign", false, &wave->campaign);
        else
        if (streq (name, "wave")) {
            rc = s_set_text (doc, value, "wave", false, &wave->id);
            if (rc == 0 && !yamldoc_is_name (wave->id, 64, "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-"))
                rc = yamldoc_fail (doc, value, "wave: '%.80s' is not a wave id "
                                   "([A-Za-z0-9._-], 1 to 64 characters)", wave->id);
        }
        else
        if (streq (name, "kind")) {
            if (yamldoc_is_null (value))
                continue;
            rc = s_set_text (doc, value, "kind", false, &wave->kind);
            bool known = false;
            for (int i = 0; rc == 0 && s_kinds [i]; i++)
                known |= streq (s_kinds [i], wave->kind);
            if (rc == 0 && !known)
                rc = yamldoc_fail (doc, value, "kind: '%.80s' is not one of acquisition, "
                                   "cross_sell, up_sell, retention, winback", wave->kind);
        }
        else
        if (streq (name, "window")) {
            if (!yamldoc_is_null (value))
                rc = s_parse_window (doc, value, wave);
        }
        else
        if (streq (name, "targets")) {
            if (yamldoc_is_null (value))
                continue;
            rc = s_set_text (doc, value, "targets", false, targets);
        }
        else
        if (streq (name, "sms_template"))
            rc = s_set_text (doc, value, "sms_template", true, &wave->sms_template);
        else
        if (streq (name, "script"))
            rc = s_set_text (doc, value, "script", true, &wave->script);
        else
        if (streq (name, "meta")) {
            if (!yamldoc_is_null (value))
                rc = s_parse_meta (doc, value, wave);
        }
        else
        if (streq (name, "plan")) {
            if (yamldoc_is_null (value))
                continue;
            have_plan = true;
            rc = s_parse_plan (doc, value, wave);
        }
        else
        if (streq (name, "rules")) {
            if (!yamldoc_is_null (value))
                rc = s_parse_rules (doc, value, wave);
        }
        else
            rc = yamldoc_fail (doc, key, "unknown key '%s' (expected campaign, wave, "
                               "kind, window, targets, sms_template, script, meta, plan, "
                               "rules)", name);
        if (rc)
            return -1;
    }
    if (!*wave->campaign)
        return yamldoc_fail (doc, root, "missing required key 'campaign'");
    if (!*wave->id)
        return yamldoc_fail (doc, root, "missing required key 'wave'");
    if (!have_plan)
        return yamldoc_fail (doc, root, "missing required key 'plan'");
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
    yamldoc_t *doc;
    int rc = yamldoc_load (&doc, path, "a wave descriptor", S_MAX_DESCRIPTOR, err);
    if (rc)
        return rc;
    Wob__Wave *wave = NULL;
    char *targets = NULL;
    yaml_node_t *root = yamldoc_root (doc);
    if (!root)
        yamldoc_fail (doc, NULL, "empty wave descriptor");
    else
    if ((wave = s_new_message (doc, &wob__wave__descriptor)))
        s_parse_wave (doc, root, wave, &targets);
    if (yamldoc_code (doc) == 0 && targets && targets_p
    &&  !(*targets_p = s_resolve (path, targets)))
        yamldoc_no_memory (doc);
    free (targets);
    rc = yamldoc_code (doc);
    yamldoc_destroy (&doc);
    if (rc) {
        if (wave)
            wob__wave__free_unpacked (wave, NULL);
        return rc;
    }
    *wave_p = wave;
    return 0;
}
