/*  test_rulebook.c - the broker's rule file.

    A full YAML rule file and its JSON twin must give the same rulebook,
    with every field as written; "version: 1" alone and the built-in text
    must give the defaults; each kind of mistake must be refused with the
    file, the line and the key; durations and the lookups must hold to
    their contracts; and examples/rules.yaml must load.  Files live in a
    mkdtemp directory.                                                      */

#include "rulebook.h"
#include "testutil.h"

static const char *s_channels [] = { "sms", "call", "visit", NULL };

#define S_BIT(outcome) (1u << WOB__OUTCOME__OUTCOME_ ## outcome)
#define S_MINUTE       (60 * 1000LL)
#define S_HOUR         (60 * S_MINUTE)
#define S_DAY          (24 * S_HOUR)

static const char *s_good_yaml =
    "# rules for the tests\n"                                           //  1
    "version: 1\n"
    "filters:\n"
    "  suppression: off\n"
    "  duplicate: yes\n"                                                //  5
    "  open_offer: False\n"
    "  number:\n"
    "    check: on\n"
    "    length: [5, 15]\n"
    "    prefixes: [130, \"0086\", 1703, '147']\n"                      //  10
    "  frequency_caps:\n"
    "    - name: cap-overall-7d\n"
    "      max: 2\n"
    "      window: 7d\n"
    "    - name: cap-sms-1d\n"                                          //  15
    "      channel: sms\n"
    "      max: 1\n"
    "      window: 24h\n"
    "quiet_hours:\n"
    "  sms:  { quiet: \"21:00-08:00\", utc_offset: \"+08:00\" }\n"     //  20
    "  call: { quiet: \"12:30-13:45\" }\n"
    "  visit: { quiet: \"00:00-06:00\", utc_offset: \"-09:30\" }\n"
    "merge:\n"
    "  enabled: off\n"
    "  window: 90m\n"                                                   //  25
    "  absorb: [\"call > sms\", \" visit>call \"]\n"
    "fallback:\n"
    "  triggers: [unreachable, failed]\n"
    "  after: 3\n"
    "collaboration:\n"                                                  //  30
    "  success: [accepted, interested]\n"
    "throttle:\n"
    "  sms: { per_second: 200, per_worker_per_second: 50 }\n"
    "  call: { per_worker_per_second: 0.5 }\n"
    "control: 5%\n"                                                     //  35
    "distribution:\n"
    "  call: { strategy: range, orphans: spill, spill_after: 90s }\n"
    "  visit: { strategy: address, overlap: allow }\n";

static const char *s_good_json =
    "{\n"
    "  \"version\": 1,\n"
    "  \"filters\": {\n"
    "    \"suppression\": false, \"duplicate\": true, \"open_offer\": false,\n"
    "    \"number\": {\"check\": true, \"length\": [5, 15],\n"
    "               \"prefixes\": [130, \"0086\", \"1703\", 147]},\n"
    "    \"frequency_caps\": [\n"
    "      {\"name\": \"cap-overall-7d\", \"max\": 2, \"window\": \"7d\"},\n"
    "      {\"name\": \"cap-sms-1d\", \"channel\": \"sms\", \"max\": 1, \"window\": \"24h\"}\n"
    "    ]\n"
    "  },\n"
    "  \"quiet_hours\": {\n"
    "    \"sms\": {\"quiet\": \"21:00-08:00\", \"utc_offset\": \"+08:00\"},\n"
    "    \"call\": {\"quiet\": \"12:30-13:45\"},\n"
    "    \"visit\": {\"quiet\": \"00:00-06:00\", \"utc_offset\": \"-09:30\"}\n"
    "  },\n"
    "  \"merge\": {\"enabled\": false, \"window\": \"90m\",\n"
    "            \"absorb\": [\"call > sms\", \"visit > call\"]},\n"
    "  \"fallback\": {\"triggers\": [\"unreachable\", \"failed\"], \"after\": 3},\n"
    "  \"collaboration\": {\"success\": [\"accepted\", \"interested\"]},\n"
    "  \"throttle\": {\n"
    "    \"sms\": {\"per_second\": 200, \"per_worker_per_second\": 50},\n"
    "    \"call\": {\"per_worker_per_second\": 0.5}\n"
    "  },\n"
    "  \"control\": 0.05,\n"
    "  \"distribution\": {\n"
    "    \"call\": {\"strategy\": \"range\", \"orphans\": \"spill\", \"spill_after\": \"90s\"},\n"
    "    \"visit\": {\"strategy\": \"address\", \"overlap\": \"allow\"}\n"
    "  }\n"
    "}\n";

//  True when two rulebooks hold the same rules (path and text aside)
static bool
s_same_rules (const rulebook_t *a, const rulebook_t *b)
{
    if (a->suppression != b->suppression || a->duplicate != b->duplicate
    ||  a->open_offer != b->open_offer || a->number_check != b->number_check
    ||  a->number_min_len != b->number_min_len
    ||  a->number_max_len != b->number_max_len
    ||  a->n_number_prefixes != b->n_number_prefixes
    ||  a->n_caps != b->n_caps || a->n_quiet != b->n_quiet
    ||  a->merge != b->merge || a->merge_window_ms != b->merge_window_ms
    ||  a->n_absorb != b->n_absorb
    ||  a->fallback_triggers != b->fallback_triggers
    ||  a->fallback_after != b->fallback_after
    ||  a->success_outcomes != b->success_outcomes
    ||  a->n_throttle != b->n_throttle || a->n_distribution != b->n_distribution
    ||  a->control_share != b->control_share)
        return false;
    for (size_t i = 0; i < a->n_number_prefixes; i++)
        if (!streq (a->number_prefixes [i], b->number_prefixes [i]))
            return false;
    for (size_t i = 0; i < a->n_caps; i++)
        if (!streq (a->caps [i].name, b->caps [i].name)
        ||  !streq (a->caps [i].channel, b->caps [i].channel)
        ||  a->caps [i].max != b->caps [i].max
        ||  a->caps [i].window_ms != b->caps [i].window_ms)
            return false;
    for (size_t i = 0; i < a->n_quiet; i++)
        if (!streq (a->quiet [i].channel, b->quiet [i].channel)
        ||  a->quiet [i].from_min != b->quiet [i].from_min
        ||  a->quiet [i].to_min != b->quiet [i].to_min
        ||  a->quiet [i].utc_offset_min != b->quiet [i].utc_offset_min)
            return false;
    for (size_t i = 0; i < a->n_absorb; i++)
        if (!streq (a->absorb [i].into, b->absorb [i].into)
        ||  !streq (a->absorb [i].from, b->absorb [i].from))
            return false;
    for (size_t i = 0; i < a->n_throttle; i++)
        if (!streq (a->throttle [i].channel, b->throttle [i].channel)
        ||  a->throttle [i].per_second != b->throttle [i].per_second
        ||  a->throttle [i].per_worker_per_second
         != b->throttle [i].per_worker_per_second)
            return false;
    for (size_t i = 0; i < a->n_distribution; i++)
        if (memcmp (&a->distribution [i].strategy, &b->distribution [i].strategy,
                    sizeof (rule_distribution_t) - offsetof (rule_distribution_t, strategy))
        ||  !streq (a->distribution [i].channel, b->distribution [i].channel))
            return false;
    return true;
}

static void
s_check_good (const rulebook_t *r)
{
    CHECK (!r->suppression);
    CHECK (r->duplicate);
    CHECK (!r->open_offer);
    CHECK (r->number_check);
    CHECK (r->number_min_len == 5 && r->number_max_len == 15);
    CHECK (r->n_number_prefixes == 4);
    if (r->n_number_prefixes == 4) {
        CHECK (streq (r->number_prefixes [0], "130"));      //  int
        CHECK (streq (r->number_prefixes [1], "0086"));     //  string, leading zeros kept
        CHECK (streq (r->number_prefixes [2], "1703"));
        CHECK (streq (r->number_prefixes [3], "147"));
    }
    CHECK (r->n_caps == 2);
    if (r->n_caps == 2) {
        CHECK (streq (r->caps [0].name, "cap-overall-7d"));
        CHECK (streq (r->caps [0].channel, ""));
        CHECK (r->caps [0].max == 2);
        CHECK (r->caps [0].window_ms == 7 * S_DAY);
        CHECK (streq (r->caps [1].name, "cap-sms-1d"));
        CHECK (streq (r->caps [1].channel, "sms"));
        CHECK (r->caps [1].max == 1);
        CHECK (r->caps [1].window_ms == 24 * S_HOUR);
    }
    CHECK (r->n_quiet == 3);
    if (r->n_quiet == 3) {
        //  Wraps midnight
        CHECK (streq (r->quiet [0].channel, "sms"));
        CHECK (r->quiet [0].from_min == 21 * 60 && r->quiet [0].to_min == 8 * 60);
        CHECK (r->quiet [0].utc_offset_min == 8 * 60);
        //  Same day, default offset
        CHECK (streq (r->quiet [1].channel, "call"));
        CHECK (r->quiet [1].from_min == 12 * 60 + 30 && r->quiet [1].to_min == 13 * 60 + 45);
        CHECK (r->quiet [1].utc_offset_min == 0);
        //  Negative offset
        CHECK (streq (r->quiet [2].channel, "visit"));
        CHECK (r->quiet [2].from_min == 0 && r->quiet [2].to_min == 6 * 60);
        CHECK (r->quiet [2].utc_offset_min == -(9 * 60 + 30));
    }
    CHECK (!r->merge);
    CHECK (r->merge_window_ms == 90 * S_MINUTE);
    CHECK (r->n_absorb == 2);
    if (r->n_absorb == 2) {
        CHECK (streq (r->absorb [0].into, "call") && streq (r->absorb [0].from, "sms"));
        CHECK (streq (r->absorb [1].into, "visit") && streq (r->absorb [1].from, "call"));
    }
    CHECK (r->fallback_triggers == (S_BIT (UNREACHABLE) | S_BIT (FAILED)));
    CHECK (r->fallback_after == 3);
    CHECK (r->success_outcomes == (S_BIT (ACCEPTED) | S_BIT (INTERESTED)));
    CHECK (r->n_throttle == 2);
    if (r->n_throttle == 2) {
        CHECK (streq (r->throttle [0].channel, "sms"));
        CHECK (r->throttle [0].per_second == 200);
        CHECK (r->throttle [0].per_worker_per_second == 50);
        CHECK (streq (r->throttle [1].channel, "call"));
        CHECK (r->throttle [1].per_second == 0);
        CHECK (r->throttle [1].per_worker_per_second == 0.5);
    }
    CHECK (r->control_share > 0.0499999 && r->control_share < 0.0500001);
    const rule_distribution_t *d = rulebook_distribution (r, "call");
    CHECK (d->strategy == RULE_RANGE && d->spill && d->spill_after_ms == 90000 && !d->overlap);
    d = rulebook_distribution (r, "visit");
    CHECK (d->strategy == RULE_ADDRESS && !d->spill && d->spill_after_ms == 600000
           && d->overlap);
    d = rulebook_distribution (r, "sms");      //  not in the file: defaults
    CHECK (d->strategy == RULE_EVEN && !d->spill && !d->overlap);
}

static void
test_good (void)
{
    testutil_start ("full YAML file, every field");
    char err [WOB_ERRLEN] = "";
    const char *path = testutil_write_str ("rules.yaml", s_good_yaml);
    rulebook_t *yaml = rulebook_load (path, s_channels, err);
    CHECK_MSG (yaml, "rules.yaml: %s", err);
    if (yaml) {
        s_check_good (yaml);
        CHECK (streq (yaml->path, testutil_path ("rules.yaml")));
        CHECK (streq (yaml->text, s_good_yaml));
    }
    testutil_end ();

    testutil_start ("JSON twin gives the same rules");
    path = testutil_write_str ("rules.json", s_good_json);
    rulebook_t *json = rulebook_load (path, s_channels, err);
    CHECK_MSG (json, "rules.json: %s", err);
    if (json) {
        s_check_good (json);
        CHECK (streq (json->text, s_good_json));
    }
    if (yaml && json)
        CHECK (s_same_rules (yaml, json));
    rulebook_destroy (&json);
    testutil_end ();

    testutil_start ("parse from memory, NULL channels");
    rulebook_t *parsed = rulebook_parse (s_good_yaml, strlen (s_good_yaml), "mem.yaml",
                                         NULL, err);
    CHECK_MSG (parsed, "mem.yaml: %s", err);
    if (parsed && yaml) {
        CHECK (s_same_rules (parsed, yaml));
        CHECK (streq (parsed->path, "mem.yaml"));
    }
    rulebook_destroy (&parsed);
    //  Text without a terminating NUL: only size bytes are read
    char buffer [] = "version: 1\ncontrol: 10%XXXX";
    parsed = rulebook_parse (buffer, strlen (buffer) - 4, "part.yaml", s_channels, err);
    CHECK_MSG (parsed, "part.yaml: %s", err);
    if (parsed) {
        CHECK (parsed->control_share == 0.1);
        CHECK (streq (parsed->text, "version: 1\ncontrol: 10%"));
    }
    rulebook_destroy (&parsed);
    rulebook_destroy (&yaml);
    CHECK (yaml == NULL);
    rulebook_destroy (&yaml);               //  idempotent
    rulebook_destroy (NULL);
    testutil_end ();

    testutil_start ("short forms and nulls");
    const char *text =
        "version: 1\n"
        "filters: { number: { length: 13, prefixes: [] }, frequency_caps: ~ }\n"
        "quiet_hours: { sms: ~ }\n"
        "merge: { window: 500ms }\n"
        "fallback: { triggers: [] }\n"
        "collaboration: { success: [] }\n"
        "throttle: { sms: {} }\n"
        "control: ~\n";
    parsed = rulebook_parse (text, strlen (text), "short.yaml", s_channels, err);
    CHECK_MSG (parsed, "short.yaml: %s", err);
    if (parsed) {
        CHECK (parsed->number_min_len == 13 && parsed->number_max_len == 13);
        CHECK (parsed->n_number_prefixes == 0 && parsed->number_prefixes == NULL);
        CHECK (parsed->n_caps == 0 && parsed->n_quiet == 0);
        CHECK (parsed->merge && parsed->merge_window_ms == 500);
        CHECK (parsed->fallback_triggers == 0 && parsed->fallback_after == 1);
        CHECK (parsed->success_outcomes == 0);
        CHECK (parsed->n_throttle == 1);
        const rule_throttle_t *throttle = rulebook_throttle (parsed, "sms");
        CHECK (throttle && throttle->per_second == 0 && throttle->per_worker_per_second == 0);
        CHECK (parsed->control_share == 0);
    }
    rulebook_destroy (&parsed);
    testutil_end ();
}

//  Checks the defaults, whatever their origin
static void
s_check_defaults (const rulebook_t *r)
{
    CHECK (r->suppression && r->duplicate && r->open_offer);
    CHECK (r->number_check);
    CHECK (r->number_min_len == 11 && r->number_max_len == 11);
    CHECK (r->n_number_prefixes == 0);
    CHECK (r->n_caps == 0 && r->n_quiet == 0 && r->n_throttle == 0);
    CHECK (r->merge && r->merge_window_ms == 72 * S_HOUR);
    CHECK (r->n_absorb == 0);
    CHECK (r->fallback_triggers
        == (S_BIT (UNDELIVERED) | S_BIT (UNREACHABLE) | S_BIT (WRONG_NUMBER)));
    CHECK (r->fallback_after == 1);
    CHECK (r->success_outcomes == S_BIT (ACCEPTED));
    CHECK (r->control_share == 0);
}

static void
test_defaults (void)
{
    testutil_start ("defaults");
    char err [WOB_ERRLEN] = "";
    rulebook_t *defaults = rulebook_default ();
    CHECK (defaults);
    if (!defaults) {
        testutil_end ();
        return;
    }
    s_check_defaults (defaults);
    CHECK (streq (defaults->path, ""));
    CHECK (defaults->text && strstr (defaults->text, "version: 1"));
    CHECK (rulebook_quiet (defaults, "sms") == NULL);
    CHECK (rulebook_throttle (defaults, "sms") == NULL);
    CHECK (rulebook_absorbed_into (defaults, "sms") == NULL);

    //  The text shown for the defaults is a rule file giving the defaults
    rulebook_t *shown = rulebook_parse (defaults->text, strlen (defaults->text), "",
                                        s_channels, err);
    CHECK_MSG (shown, "default text: %s", err);
    if (shown) {
        s_check_defaults (shown);
        CHECK (s_same_rules (shown, defaults));
    }
    rulebook_destroy (&shown);

    //  A file with the version only
    rulebook_t *minimal = rulebook_load (TESTUTIL_WRITE ("min.yaml", "version: 1\n"),
                                         s_channels, err);
    CHECK_MSG (minimal, "min.yaml: %s", err);
    if (minimal) {
        s_check_defaults (minimal);
        CHECK (s_same_rules (minimal, defaults));
        CHECK (streq (minimal->text, "version: 1\n"));
    }
    rulebook_destroy (&minimal);
    //  Every section present but null
    const char *nulls = "version: 1\nfilters:\nquiet_hours:\nmerge: ~\nfallback: null\n"
                        "collaboration:\nthrottle:\ncontrol:\n";
    minimal = rulebook_parse (nulls, strlen (nulls), "nulls.yaml", s_channels, err);
    CHECK_MSG (minimal, "nulls.yaml: %s", err);
    if (minimal)
        CHECK (s_same_rules (minimal, defaults));
    rulebook_destroy (&minimal);
    rulebook_destroy (&defaults);
    CHECK (defaults == NULL);
    testutil_end ();
}

//  Parses content expecting failure; checks err holds each text
static void
s_expect_error (const char *name, const char *content, const char *text1,
                const char *text2)
{
    char err [WOB_ERRLEN] = "";
    rulebook_t *rules = rulebook_parse (content, strlen (content), name, s_channels, err);
    CHECK_MSG (rules == NULL, "%s was accepted", name);
    rulebook_destroy (&rules);
    CHECK_ERR (err, text1);
    if (text2)
        CHECK_ERR (err, text2);
}

static void
test_errors (void)
{
    testutil_start ("errors name file, line and key");
    s_expect_error ("strategy.yaml",
        "version: 1\ndistribution:\n  visit: { strategy: nearest }\n",
        "strategy.yaml:3:", "distribution.visit.strategy: 'nearest' is not a strategy");
    s_expect_error ("orphans.yaml",
        "version: 1\ndistribution:\n  call: { orphans: drop }\n",
        "orphans.yaml:3:", "'drop' is not hold or spill");
    s_expect_error ("spill.yaml",
        "version: 1\ndistribution:\n  call: { orphans: spill, spill_after: 0s }\n",
        "spill.yaml:3:", "spill_after: 0s is not longer than zero");
    s_expect_error ("dist_key.yaml",
        "version: 1\ndistribution:\n  call: { strategi: range }\n",
        "dist_key.yaml:3:", "unknown key 'strategi'");
    s_expect_error ("dist_channel.yaml",
        "version: 1\ndistribution:\n  fax: { strategy: even }\n",
        "dist_channel.yaml:3:", "fax");
    //  Unknown keys at each level
    s_expect_error ("unknown.yaml",
        "version: 1\n"
        "filters:\n"
        "  suppression: on\n"
        "  supression: off\n",
        "unknown.yaml:4:", "unknown key 'supression' in filters");
    s_expect_error ("unknown_top.yaml", "version: 1\ncontrols: 5%\n",
        "unknown_top.yaml:2:", "unknown key 'controls' in the rule file");
    s_expect_error ("unknown_null.yaml", "version: 1\nsion:\n",
        "unknown_null.yaml:2:", "unknown key 'sion'");
    s_expect_error ("unknown_cap.yaml",
        "version: 1\nfilters:\n  frequency_caps:\n"
        "    - { name: a, max: 1, window: 1d }\n"
        "    - name: b\n"
        "      chanel: sms\n",
        "unknown_cap.yaml:6:", "unknown key 'chanel' in filters.frequency_caps item 2");
    s_expect_error ("unknown_quiet.yaml",
        "version: 1\nquiet_hours:\n  sms: { quiet: \"21:00-08:00\", utc: \"+08:00\" }\n",
        "unknown_quiet.yaml:3:", "unknown key 'utc' in quiet_hours.sms");
    s_expect_error ("unknown_throttle.json",
        "{\"version\": 1,\n \"throttle\": {\"sms\": {\"rate\": 5}}}\n",
        "unknown_throttle.json:2:", "unknown key 'rate' in throttle.sms");
    s_expect_error ("duplicate.yaml",
        "version: 1\nmerge:\n  window: 1h\n  enabled: on\n  window: 2h\n",
        "duplicate.yaml:5:", "duplicate key 'window' in merge (first on line 3)");
    s_expect_error ("duplicate_channel.yaml",
        "version: 1\nthrottle:\n  sms: {}\n  sms: {}\n",
        "duplicate_channel.yaml:4:", "duplicate key 'sms'");

    //  Wrong types
    s_expect_error ("filters_list.yaml", "version: 1\nfilters: [suppression]\n",
        "filters_list.yaml:2:", "filters must be a map");
    s_expect_error ("bool.yaml", "version: 1\nfilters:\n  duplicate: maybe\n",
        "bool.yaml:3:", "filters.duplicate: 'maybe' is not a boolean");
    s_expect_error ("bool_map.yaml", "version: 1\nmerge: { enabled: { a: b } }\n",
        "bool_map.yaml:2:", "merge.enabled must be on or off, not a map");
    s_expect_error ("caps_map.yaml", "version: 1\nfilters:\n  frequency_caps: { a: 1 }\n",
        "caps_map.yaml:3:", "filters.frequency_caps must be a list");
    s_expect_error ("root_list.yaml", "- version: 1\n",
        "root_list.yaml:1:", "a rule file is a map");

    //  Durations
    s_expect_error ("duration.yaml", "version: 1\nmerge:\n  window: 3 days\n",
        "duration.yaml:3:", "merge.window: '3 days' is not a duration");
    s_expect_error ("duration_zero.yaml", "version: 1\nmerge: { window: 0h }\n",
        "duration_zero.yaml:2:", "merge.window: 0h is not longer than zero");
    s_expect_error ("cap_window.yaml",
        "version: 1\nfilters:\n  frequency_caps:\n    - name: a\n      max: 1\n"
        "      window: 7days\n",
        "cap_window.yaml:6:", "window of filters.frequency_caps item 1: '7days'");

    //  Times
    s_expect_error ("time.yaml",
        "version: 1\nquiet_hours:\n  sms:\n    quiet: \"21:00-24:00\"\n",
        "time.yaml:4:", "quiet_hours.sms.quiet: '21:00-24:00' is not a time range");
    s_expect_error ("time_minutes.yaml",
        "version: 1\nquiet_hours:\n  sms: { quiet: \"21:60-08:00\" }\n",
        "time_minutes.yaml:3:", "is not a time range");
    s_expect_error ("time_short.yaml",
        "version: 1\nquiet_hours:\n  sms: { quiet: \"9:00-18:00\" }\n",
        "time_short.yaml:3:", "is not a time range");
    s_expect_error ("time_same.yaml",
        "version: 1\nquiet_hours:\n  sms: { quiet: \"08:00-08:00\" }\n",
        "time_same.yaml:3:", "starts and ends at the same time");
    s_expect_error ("time_missing.yaml",
        "version: 1\nquiet_hours:\n  sms: { utc_offset: \"+08:00\" }\n",
        "time_missing.yaml:3:", "quiet_hours.sms has no quiet range");
    s_expect_error ("offset.yaml",
        "version: 1\nquiet_hours:\n  sms: { quiet: \"21:00-08:00\", utc_offset: \"+14:30\" }\n",
        "offset.yaml:3:", "quiet_hours.sms.utc_offset: '+14:30' is not a UTC offset");
    s_expect_error ("offset_sign.yaml",
        "version: 1\nquiet_hours:\n  sms: { quiet: \"21:00-08:00\", utc_offset: \"08:00\" }\n",
        "offset_sign.yaml:3:", "is not a UTC offset");

    //  Channels
    s_expect_error ("channel_quiet.yaml",
        "version: 1\nquiet_hours:\n  sms: { quiet: \"21:00-08:00\" }\n"
        "  fax: { quiet: \"21:00-08:00\" }\n",
        "channel_quiet.yaml:4:", "quiet_hours: unknown channel 'fax' (configured: sms, call, visit)");
    s_expect_error ("channel_cap.yaml",
        "version: 1\nfilters:\n  frequency_caps:\n"
        "    - { name: a, channel: email, max: 1, window: 1d }\n",
        "channel_cap.yaml:4:", "unknown channel 'email'");
    s_expect_error ("channel_absorb.yaml", "version: 1\nmerge:\n  absorb: [\"call > push\"]\n",
        "channel_absorb.yaml:3:", "merge.absorb: unknown channel 'push'");
    s_expect_error ("channel_throttle.yaml", "version: 1\nthrottle:\n  SMS: {}\n",
        "channel_throttle.yaml:3:", "unknown channel 'SMS'");
    s_expect_error ("absorb_self.yaml", "version: 1\nmerge:\n  absorb: [\"sms > sms\"]\n",
        "absorb_self.yaml:3:", "absorbs a channel into itself");
    s_expect_error ("absorb_syntax.yaml", "version: 1\nmerge:\n  absorb: [\"call, sms\"]\n",
        "absorb_syntax.yaml:3:", "is not a rule (\"INTO > FROM\"");
    s_expect_error ("absorb_twice.yaml",
        "version: 1\nmerge:\n  absorb:\n    - call > sms\n    - visit > sms\n",
        "absorb_twice.yaml:5:", "'sms' is already absorbed into 'call'");
    s_expect_error ("absorb_loop.yaml",
        "version: 1\nmerge:\n  absorb:\n    - call > sms\n    - visit > call\n"
        "    - sms > visit\n",
        "absorb_loop.yaml:6:", "closes a loop");

    //  Outcomes
    s_expect_error ("outcome.yaml",
        "version: 1\nfallback:\n  triggers: [undelivered,\n             bounced]\n",
        "outcome.yaml:4:", "fallback.triggers: unknown outcome 'bounced' (expected delivered,");
    s_expect_error ("outcome_none.yaml", "version: 1\ncollaboration: { success: [none] }\n",
        "outcome_none.yaml:2:", "collaboration.success: unknown outcome 'none'");
    s_expect_error ("outcome_twice.yaml",
        "version: 1\ncollaboration:\n  success: [accepted, accepted]\n",
        "outcome_twice.yaml:3:", "outcome 'accepted' is listed twice");
    s_expect_error ("after.yaml", "version: 1\nfallback:\n  after: 0\n",
        "after.yaml:3:", "fallback.after: 0 is out of range (1 to");

    //  Caps
    s_expect_error ("cap_dup.yaml",
        "version: 1\nfilters:\n  frequency_caps:\n"
        "    - { name: cap-a, max: 1, window: 1d }\n"
        "    - { name: cap-b, max: 1, window: 1d }\n"
        "    - { name: cap-a, max: 2, window: 7d }\n",
        "cap_dup.yaml:6:", "duplicate cap name 'cap-a' (also item 1)");
    s_expect_error ("cap_name.yaml",
        "version: 1\nfilters:\n  frequency_caps:\n    - { name: Cap A, max: 1, window: 1d }\n",
        "cap_name.yaml:4:", "'Cap A' is not a rule name");
    s_expect_error ("cap_max.yaml",
        "version: 1\nfilters:\n  frequency_caps:\n    - { name: a, max: 0, window: 1d }\n",
        "cap_max.yaml:4:", "max of filters.frequency_caps item 1: 0 is out of range");
    s_expect_error ("cap_nomax.yaml",
        "version: 1\nfilters:\n  frequency_caps:\n    - name: a\n      window: 1d\n",
        "cap_nomax.yaml:4:", "filters.frequency_caps item 1 ('a') has no max");
    s_expect_error ("cap_noname.yaml",
        "version: 1\nfilters:\n  frequency_caps:\n    - { max: 1, window: 1d }\n",
        "cap_noname.yaml:4:", "has no name");

    //  Numbers
    s_expect_error ("length.yaml", "version: 1\nfilters:\n  number: { length: [15, 5] }\n",
        "length.yaml:3:", "filters.number.length: min 15 is above max 5");
    s_expect_error ("length_zero.yaml", "version: 1\nfilters:\n  number: { length: 0 }\n",
        "length_zero.yaml:3:", "filters.number.length: 0 is out of range (1 to 32)");
    s_expect_error ("length_three.yaml",
        "version: 1\nfilters:\n  number: { length: [5, 10, 15] }\n",
        "length_three.yaml:3:", "give [min, max], not a list of 3");
    s_expect_error ("prefix.yaml",
        "version: 1\nfilters:\n  number:\n    prefixes: [130,\n               13a]\n",
        "prefix.yaml:5:", "filters.number.prefixes: '13a' is not a number prefix");
    s_expect_error ("prefix_dup.yaml",
        "version: 1\nfilters:\n  number: { prefixes: [130, \"130\"] }\n",
        "prefix_dup.yaml:3:", "prefix '130' is listed twice");
    s_expect_error ("prefix_long.yaml",
        "version: 1\nfilters:\n  number:\n    length: 4\n    prefixes:\n      - 13\n"
        "      - 13800\n",
        "prefix_long.yaml:7:", "'13800' is longer than the longest number (4 digits)");
    s_expect_error ("throttle_negative.yaml",
        "version: 1\nthrottle:\n  sms: { per_second: -1 }\n",
        "throttle_negative.yaml:3:", "throttle.sms.per_second: -1 is below 0");
    s_expect_error ("throttle_nan.yaml",
        "version: 1\nthrottle:\n  sms: { per_second: .nan }\n",
        "throttle_nan.yaml:3:", "'.nan' is not a number");
    s_expect_error ("throttle_hex.yaml",
        "version: 1\nthrottle:\n  sms: { per_second: 0x10 }\n",
        "throttle_hex.yaml:3:", "'0x10' is not a number");

    //  Control share
    s_expect_error ("control.yaml", "version: 1\ncontrol: 80%\n",
        "control.yaml:2:", "control: 80% is out of range (0% to 50%");
    s_expect_error ("control_fraction.yaml", "version: 1\ncontrol: 0.8\n",
        "control_fraction.yaml:2:", "control: 0.8 is out of range");
    s_expect_error ("control_negative.yaml", "version: 1\ncontrol: -5%\n",
        "control_negative.yaml:2:", "out of range");
    s_expect_error ("control_text.yaml", "version: 1\ncontrol: some\n",
        "control_text.yaml:2:", "'some' is not a number");

    //  Version
    s_expect_error ("noversion.yaml", "filters:\n  suppression: on\n",
        "noversion.yaml:1:", "missing required key 'version'");
    s_expect_error ("nullversion.yaml", "version:\ncontrol: 5%\n",
        "nullversion.yaml:1:", "missing required key 'version'");
    s_expect_error ("version2.yaml", "control: 5%\nversion: 2\nnew_section: {}\n",
        "version2.yaml:2:", "version 2 is not supported");
    s_expect_error ("version_text.yaml", "version: one\n",
        "version_text.yaml:1:", "version: 'one' is not a whole number");
    s_expect_error ("version_dup.yaml", "version: 1\nversion: 1\n",
        "version_dup.yaml:2:", "duplicate key 'version'");

    //  Syntax
    s_expect_error ("syntax.yaml", "version: 1\nmerge: { window: 1h\ncontrol: 5%\n",
        "syntax.yaml:", "not valid YAML or JSON");
    s_expect_error ("syntax.json", "{\"version\": 1,\n \"control\": \"5%\",,\n}\n",
        "syntax.json:2:", "not valid YAML or JSON");
    s_expect_error ("tabs.yaml", "version: 1\nfilters:\n\tduplicate: on\n",
        "tabs.yaml:3:", "not valid YAML or JSON");
    s_expect_error ("two_docs.yaml", "version: 1\n---\nversion: 1\n",
        "two_docs.yaml:3:", "a second YAML document");
    s_expect_error ("empty.yaml", "", "empty.yaml", "empty rule file");
    s_expect_error ("comment.yaml", "# nothing here\n", "comment.yaml", "empty rule file");
    testutil_end ();

    testutil_start ("file too big, missing file, bad paths");
    char err [WOB_ERRLEN] = "";
    //  1 MiB + 1 of valid YAML (a comment) is still refused
    size_t size = 1024 * 1024 + 1;
    char *big = (char *) malloc (size);
    memset (big, ' ', size);
    memcpy (big, "version: 1\n#", 12);
    big [size - 1] = '\n';
    const char *path = testutil_write ("big.yaml", big, size);
    rulebook_t *rules = rulebook_load (path, s_channels, err);
    CHECK (rules == NULL);
    CHECK_ERR (err, "big.yaml: 1048577 bytes is too large for a rule file (limit 1048576");
    rules = rulebook_parse (big, size, "big.yaml", s_channels, err);
    CHECK (rules == NULL);
    CHECK_ERR (err, "too large");
    //  Exactly 1 MiB is fine
    path = testutil_write ("limit.yaml", big, size - 1);
    rules = rulebook_load (path, s_channels, err);
    CHECK_MSG (rules, "limit.yaml: %s", err);
    if (rules)
        CHECK (strlen (rules->text) == size - 1);
    rulebook_destroy (&rules);
    free (big);

    rules = rulebook_load (testutil_path ("does-not-exist.yaml"), s_channels, err);
    CHECK (rules == NULL);
    CHECK_ERR (err, "does-not-exist.yaml: cannot open: No such file");
    rules = rulebook_load (testutil.dir, s_channels, err);
    CHECK (rules == NULL);
    CHECK_ERR (err, "is a directory");
    rules = rulebook_load ("", s_channels, err);
    CHECK (rules == NULL);
    CHECK_ERR (err, "no rule file given");
    rules = rulebook_load (NULL, s_channels, err);
    CHECK (rules == NULL);
    rules = rulebook_parse (NULL, 0, "x.yaml", s_channels, NULL);     //  err may be NULL
    CHECK (rules == NULL);
    //  Errors of a loaded file carry its path
    path = TESTUTIL_WRITE ("bad.yaml", "version: 1\n\nmerge:\n  window: soon\n");
    rules = rulebook_load (path, s_channels, err);
    CHECK (rules == NULL);
    char expected [600];
    snprintf (expected, sizeof (expected), "%s:4: merge.window: 'soon'", path);
    CHECK_ERR (err, expected);
    //  Channel names without a configured list
    const char *text = "version: 1\nthrottle: { Fax: {} }\n";
    rules = rulebook_parse (text, strlen (text), "any.yaml", NULL, err);
    CHECK (rules == NULL);
    CHECK_ERR (err, "any.yaml:2: throttle: 'Fax' is not a channel name");
    //  An empty channel list knows no channel
    const char *none [] = { NULL };
    text = "version: 1\nthrottle: { sms: {} }\n";
    rules = rulebook_parse (text, strlen (text), "none.yaml", none, err);
    CHECK (rules == NULL);
    CHECK_ERR (err, "unknown channel 'sms' (configured: none)");
    testutil_end ();
}

static void
test_duration (void)
{
    testutil_start ("rulebook_duration");
    struct {
        const char *text;
        int64_t ms;
    } table [] = {
        { "500ms", 500 },
        { "0ms", 0 },
        { "0s", 0 },
        { "90s", 90000 },
        { "15m", 15 * S_MINUTE },
        { "72h", 72 * S_HOUR },
        { "7d", 7 * S_DAY },
        { "007s", 7000 },
        { "9223372036854775807ms", INT64_MAX },
        { "9223372036854775s", 9223372036854775000LL },
        { "9223372036854776s", -1 },            //  overflows after the unit
        { "9223372036854775808ms", -1 },        //  overflows in the digits
        { "99999999999999999999999d", -1 },
        { "106751991167d", 106751991167LL * S_DAY },
        { "106751991168d", -1 },
        { "", -1 },
        { "s", -1 },
        { "ms", -1 },
        { "10", -1 },                           //  no unit
        { "-5s", -1 },
        { "+5s", -1 },
        { " 5s", -1 },
        { "5 s", -1 },
        { "5s ", -1 },
        { "5S", -1 },
        { "5sec", -1 },
        { "5w", -1 },
        { "1.5h", -1 },
        { "5h30m", -1 },
        { "0x10s", -1 },
        { "5mss", -1 },
    };
    for (size_t i = 0; i < sizeof (table) / sizeof (table [0]); i++) {
        int64_t ms = rulebook_duration (table [i].text);
        CHECK_MSG (ms == table [i].ms, "rulebook_duration (\"%s\") = %lld, expected %lld",
                   table [i].text, (long long) ms, (long long) table [i].ms);
    }
    CHECK (rulebook_duration (NULL) == -1);
    testutil_end ();
}

static void
test_lookups (void)
{
    testutil_start ("lookups");
    char err [WOB_ERRLEN] = "";
    rulebook_t *rules = rulebook_parse (s_good_yaml, strlen (s_good_yaml), "rules.yaml",
                                        s_channels, err);
    CHECK_MSG (rules, "%s", err);
    if (!rules) {
        testutil_end ();
        return;
    }
    const rule_quiet_t *quiet = rulebook_quiet (rules, "sms");
    CHECK (quiet && streq (quiet->channel, "sms") && quiet->from_min == 21 * 60);
    quiet = rulebook_quiet (rules, "visit");
    CHECK (quiet && quiet->utc_offset_min == -570);
    CHECK (rulebook_quiet (rules, "fax") == NULL);
    CHECK (rulebook_quiet (rules, NULL) == NULL);
    CHECK (rulebook_quiet (NULL, "sms") == NULL);

    const rule_throttle_t *throttle = rulebook_throttle (rules, "sms");
    CHECK (throttle && throttle->per_second == 200 && throttle->per_worker_per_second == 50);
    throttle = rulebook_throttle (rules, "call");
    CHECK (throttle && throttle->per_second == 0);
    CHECK (rulebook_throttle (rules, "visit") == NULL);
    CHECK (rulebook_throttle (NULL, "sms") == NULL);

    const char *into = rulebook_absorbed_into (rules, "sms");
    CHECK (into && streq (into, "call"));
    into = rulebook_absorbed_into (rules, "call");
    CHECK (into && streq (into, "visit"));
    CHECK (rulebook_absorbed_into (rules, "visit") == NULL);
    CHECK (rulebook_absorbed_into (rules, "fax") == NULL);
    CHECK (rulebook_absorbed_into (NULL, "sms") == NULL);
    rulebook_destroy (&rules);
    testutil_end ();
}

static void
test_example (void)
{
    testutil_start ("examples/rules.yaml loads");
    //  ctest sets WOB_SOURCE_DIR; run by hand, the source tree is found
    //  from this file's own path
    const char *source = getenv ("WOB_SOURCE_DIR");
    char path [512];
    if (source && *source)
        snprintf (path, sizeof (path), "%s/examples/rules.yaml", source);
    else {
        const char *slash = strrchr (__FILE__, '/');
        int dirlen = slash? (int) (slash - __FILE__): 1;
        snprintf (path, sizeof (path), "%.*s/../examples/rules.yaml", dirlen,
                  slash? __FILE__: ".");
    }
    char err [WOB_ERRLEN] = "";
    rulebook_t *rules = rulebook_load (path, s_channels, err);
    CHECK_MSG (rules, "%s", err);
    if (rules) {
        CHECK (rules->n_caps == 3);
        CHECK (rules->n_number_prefixes > 40);
        const rule_quiet_t *quiet = rulebook_quiet (rules, "sms");
        CHECK (quiet && quiet->from_min == 21 * 60 && quiet->to_min == 8 * 60
            && quiet->utc_offset_min == 8 * 60);
        const char *into = rulebook_absorbed_into (rules, "sms");
        CHECK (into && streq (into, "call"));
        CHECK (rules->control_share > 0.0499 && rules->control_share < 0.0501);
    }
    rulebook_destroy (&rules);
    testutil_end ();
}

int
main (void)
{
    testutil_init ("test_rulebook");
    if (!testutil_mkdtemp ())
        return 1;
    test_good ();
    test_defaults ();
    test_errors ();
    test_duration ();
    test_lookups ();
    test_example ();
    return testutil_finish ();
}
