/*  test_wavefile.c - the wave descriptor parser.

    A full YAML descriptor and its JSON twin must give the same Wave; each
    kind of mistake must be refused with the file, the line and the key.
    Files live in a mkdtemp directory.                                      */

#include "wob_targets.h"
#include "testutil.h"

static const char *s_good_yaml =
    "# November retention wave\n"
    "campaign: C2026-11-retention\n"
    "wave: W2026-11-24-a\n"
    "kind: retention\n"
    "window: { start: \"2026-11-24T09:00:00+08:00\", end: \"2026-11-30T21:00:00+08:00\" }\n"
    "targets: targets.csv\n"
    "sms_template: \"{name}, 您的专属优惠 {offer} 已到账\"\n"
    "script: |\n"
    "  Hello {name}.\n"
    "  We have an offer.\n"
    "meta: { owner: alice, budget: 12000 }\n"
    "plan:\n"
    "  - channel: visit\n"
    "    where: { segment: key_account }\n"
    "  - channel: call\n"
    "    where: { arpu: { min: 150, max: 800.5 } }\n"
    "  - channel: sms\n"
    "    where:\n"
    "      lifecycle: [decline, stable]\n"
    "      tenure_months: { min: 6 }\n"
    "    fallback: call\n"
    "  - channel: preferred\n";

static const char *s_good_json =
    "{\n"
    "  \"campaign\": \"C2026-11-retention\",\n"
    "  \"wave\": \"W2026-11-24-a\",\n"
    "  \"kind\": \"retention\",\n"
    "  \"window\": {\"start\": \"2026-11-24T09:00:00+08:00\",\n"
    "             \"end\": \"2026-11-30T21:00:00+08:00\"},\n"
    "  \"targets\": \"targets.csv\",\n"
    "  \"sms_template\": \"{name}, \\u60a8\\u7684\\u4e13\\u5c5e\\u4f18\\u60e0 {offer} \\u5df2\\u5230\\u8d26\",\n"
    "  \"script\": \"Hello {name}.\\nWe have an offer.\\n\",\n"
    "  \"meta\": {\"owner\": \"alice\", \"budget\": 12000},\n"
    "  \"plan\": [\n"
    "    {\"channel\": \"visit\", \"where\": {\"segment\": \"key_account\"}},\n"
    "    {\"channel\": \"call\", \"where\": {\"arpu\": {\"min\": 150, \"max\": 800.5}}},\n"
    "    {\"channel\": \"sms\",\n"
    "     \"where\": {\"lifecycle\": [\"decline\", \"stable\"], \"tenure_months\": {\"min\": 6}},\n"
    "     \"fallback\": \"call\"},\n"
    "    {\"channel\":\"preferred\"}\n"
    "  ]\n"
    "}\n";

static void
s_check_good_wave (Wob__Wave *wave)
{
    CHECK (streq (wave->campaign, "C2026-11-retention"));
    CHECK (streq (wave->id, "W2026-11-24-a"));
    CHECK (streq (wave->kind, "retention"));
    CHECK (wave->start_ms == 1795482000000LL);
    CHECK (wave->end_ms == 1796043600000LL);
    CHECK (wave->state == 0);
    CHECK (streq (wave->sms_template, "{name}, 您的专属优惠 {offer} 已到账"));
    CHECK (streq (wave->script, "Hello {name}.\nWe have an offer.\n"));
    CHECK (wave->n_meta == 2);
    if (wave->n_meta == 2) {
        CHECK (streq (wave->meta [0]->key, "owner") && streq (wave->meta [0]->value, "alice"));
        CHECK (streq (wave->meta [1]->key, "budget") && streq (wave->meta [1]->value, "12000"));
    }
    CHECK (wave->n_plan == 4);
    if (wave->n_plan != 4)
        return;
    Wob__PlanStep **plan = wave->plan;
    CHECK (streq (plan [0]->channel, "visit"));
    CHECK (plan [0]->n_where == 1);
    CHECK (streq (plan [0]->where [0]->field, "segment"));
    CHECK (plan [0]->where [0]->n_values == 1
        && streq (plan [0]->where [0]->values [0], "key_account"));
    CHECK (!plan [0]->where [0]->has_min && !plan [0]->where [0]->has_max);
    CHECK (streq (plan [0]->fallback, ""));

    CHECK (streq (plan [1]->channel, "call"));
    CHECK (plan [1]->n_where == 1 && streq (plan [1]->where [0]->field, "arpu"));
    CHECK (plan [1]->where [0]->has_min && plan [1]->where [0]->min == 150);
    CHECK (plan [1]->where [0]->has_max && plan [1]->where [0]->max == 800.5);
    CHECK (plan [1]->where [0]->n_values == 0);

    CHECK (streq (plan [2]->channel, "sms"));
    CHECK (streq (plan [2]->fallback, "call"));
    CHECK (plan [2]->n_where == 2);
    if (plan [2]->n_where == 2) {
        Wob__Condition *c = plan [2]->where [0];
        CHECK (streq (c->field, "lifecycle") && c->n_values == 2
            && streq (c->values [0], "decline") && streq (c->values [1], "stable"));
        c = plan [2]->where [1];
        CHECK (streq (c->field, "tenure_months") && c->has_min && c->min == 6 && !c->has_max);
    }
    CHECK (streq (plan [3]->channel, "preferred"));
    CHECK (plan [3]->n_where == 0);
}

//  Packs a wave for byte comparison
static uint8_t *
s_pack (Wob__Wave *wave, size_t *size)
{
    *size = wob__wave__get_packed_size (wave);
    uint8_t *data = (uint8_t *) malloc (*size + 1);
    wob__wave__pack (wave, data);
    return data;
}

static void
test_good (void)
{
    char err [WOB_ERRLEN] = "";
    Wob__Wave *yaml_wave = NULL, *json_wave = NULL;
    char *targets = NULL;
    int rc = wob_wavefile_load (testutil_write_str ("wave.yaml", s_good_yaml), &yaml_wave, &targets, err);
    CHECK (rc == 0);
    if (rc)
        fprintf (stderr, "  wave.yaml: %s\n", err);
    CHECK (yaml_wave);
    char expected [600];
    snprintf (expected, sizeof (expected), "%s/targets.csv", testutil.dir);
    CHECK (targets && streq (targets, expected));
    free (targets);
    targets = NULL;
    if (yaml_wave)
        s_check_good_wave (yaml_wave);

    rc = wob_wavefile_load (testutil_write_str ("wave.json", s_good_json), &json_wave, &targets, err);
    CHECK (rc == 0);
    if (rc)
        fprintf (stderr, "  wave.json: %s\n", err);
    CHECK (json_wave);
    CHECK (targets && streq (targets, expected));
    free (targets);
    if (json_wave)
        s_check_good_wave (json_wave);

    if (yaml_wave && json_wave) {
        size_t size1, size2;
        uint8_t *data1 = s_pack (yaml_wave, &size1);
        uint8_t *data2 = s_pack (json_wave, &size2);
        CHECK (size1 == size2 && memcmp (data1, data2, size1) == 0);
        free (data1);
        free (data2);
    }
    if (yaml_wave)
        wob__wave__free_unpacked (yaml_wave, NULL);
    if (json_wave)
        wob__wave__free_unpacked (json_wave, NULL);

    //  Minimal: no window, no targets, absolute targets path elsewhere
    Wob__Wave *wave = NULL;
    rc = wob_wavefile_load (testutil_write_str ("min.yaml",
        "campaign: c\nwave: w\nplan: [ { channel: sms } ]\nsms_template: ~\n"),
        &wave, &targets, err);
    CHECK (rc == 0);
    CHECK (wave && targets == NULL);
    if (wave) {
        CHECK (wave->start_ms == 0 && wave->end_ms == 0 && streq (wave->kind, ""));
        CHECK (wave->n_plan == 1 && streq (wave->plan [0]->channel, "sms"));
        wob__wave__free_unpacked (wave, NULL);
    }
    rc = wob_wavefile_load (testutil_write_str ("abs.yaml",
        "campaign: c\nwave: w\ntargets: /data/t.csv\nplan: [ { channel: sms } ]\n"),
        &wave, &targets, err);
    CHECK (rc == 0 && targets && streq (targets, "/data/t.csv"));
    free (targets);
    if (wave)
        wob__wave__free_unpacked (wave, NULL);
}

//  Loads content expecting failure; checks err holds each text
static void
s_expect_error (const char *name, const char *content, const char *text1,
                const char *text2)
{
    char err [WOB_ERRLEN] = "";
    Wob__Wave *wave = NULL;
    char *targets = NULL;
    int rc = wob_wavefile_load (testutil_write_str (name, content), &wave, &targets, err);
    CHECK (rc == WOB_ERR_INVALID);
    CHECK (wave == NULL);
    CHECK (targets == NULL);
    if (wave)
        wob__wave__free_unpacked (wave, NULL);
    free (targets);
    CHECK_ERR (err, text1);
    if (text2)
        CHECK_ERR (err, text2);
}

static void
test_distribution (void)
{
    testutil_start ("rules: distribution overrides the strategy per channel");
    char err [WOB_ERRLEN] = "";
    Wob__Wave *wave = NULL;
    char *targets = NULL;
    int rc = wob_wavefile_load (testutil_write_str ("dist.yaml",
        "campaign: c\nwave: w\nplan: [ { channel: visit } ]\n"
        "rules: { distribution: { visit: address, call: range } }\n"), &wave, &targets, err);
    CHECK (rc == 0);
    CHECK (wave && wave->rules && wave->rules->n_distribution == 2);
    if (wave && wave->rules && wave->rules->n_distribution == 2) {
        CHECK (streq (wave->rules->distribution [0]->channel, "visit"));
        CHECK (streq (wave->rules->distribution [0]->strategy, "address"));
        CHECK (streq (wave->rules->distribution [1]->channel, "call"));
        CHECK (streq (wave->rules->distribution [1]->strategy, "range"));
    }
    if (wave)
        wob__wave__free_unpacked (wave, NULL);
    free (targets);
    testutil_end ();
}

static void
test_errors (void)
{
    s_expect_error ("unknown.yaml",
        "campaign: c\n"
        "wave: w\n"
        "plan:\n"
        "  - channel: sms\n"
        "  - chanel: call\n",
        "unknown.yaml:5:", "unknown key 'chanel' in plan step 2");
    s_expect_error ("unknown_top.yaml",
        "campaign: c\nwave: w\nwindows: {}\nplan: [ { channel: sms } ]\n",
        "unknown_top.yaml:3:", "unknown key 'windows'");
    s_expect_error ("unknown_range.json",
        "{\"campaign\": \"c\", \"wave\": \"w\",\n"
        " \"plan\": [{\"channel\": \"sms\",\n"
        "            \"where\": {\"arpu\": {\"minimum\": 3}}}]}\n",
        "unknown_range.json:3:", "unknown key 'minimum'");
    s_expect_error ("strategy.yaml",
        "campaign: c\nwave: w\nplan: [ { channel: visit } ]\n"
        "rules: { distribution: { visit: nearest } }\n",
        "strategy.yaml:4:", "rules: distribution: visit: 'nearest' is not a strategy");
    s_expect_error ("strategy_list.yaml",
        "campaign: c\nwave: w\nplan: [ { channel: visit } ]\n"
        "rules: { distribution: [ address ] }\n",
        "strategy_list.yaml:4:", "rules: distribution must be a map");
    s_expect_error ("noplan.yaml", "campaign: c\nwave: w\n",
        "noplan.yaml:1:", "missing required key 'plan'");
    s_expect_error ("nullplan.yaml", "campaign: c\nwave: w\nplan:\n",
        "nullplan.yaml:1:", "missing required key 'plan'");
    s_expect_error ("emptyplan.yaml", "campaign: c\nwave: w\nplan: []\n",
        "emptyplan.yaml:3:", "plan is empty");
    s_expect_error ("nocampaign.yaml", "wave: w\nplan: [ { channel: sms } ]\n",
        "nocampaign.yaml:1:", "'campaign'");
    s_expect_error ("nochannel.yaml", "campaign: c\nwave: w\nplan:\n  - where: { a: b }\n",
        "nochannel.yaml:4:", "plan step 1 has no channel");
    s_expect_error ("badtime.yaml",
        "campaign: c\nwave: w\nwindow:\n  start: 2026-13-45T09:00\nplan: [ { channel: sms } ]\n",
        "badtime.yaml:4:", "window start");
    s_expect_error ("badorder.yaml",
        "campaign: c\nwave: w\n"
        "window: { start: \"2026-11-24T09:00:00+08:00\",\n"
        "          end: \"2026-11-23T09:00:00+08:00\" }\n"
        "plan: [ { channel: sms } ]\n",
        "badorder.yaml:4:", "end is not after its start");
    s_expect_error ("badchannel.yaml",
        "campaign: c\nwave: w\nplan:\n  - channel: sms\n  - channel: SMS-Bulk\n",
        "badchannel.yaml:5:", "'SMS-Bulk' is not a channel name");
    s_expect_error ("badfallback.yaml",
        "campaign: c\nwave: w\nplan:\n  - channel: sms\n    fallback: preferred\n",
        "badfallback.yaml:5:", "not a channel name");
    s_expect_error ("samefallback.yaml",
        "campaign: c\nwave: w\nplan:\n  - channel: sms\n    fallback: sms\n",
        "samefallback.yaml:5:", "repeats its channel");
    s_expect_error ("badwave.yaml", "campaign: c\nwave: \"w 1\"\nplan: [ { channel: sms } ]\n",
        "badwave.yaml:2:", "not a wave id");
    s_expect_error ("badkind.yaml",
        "campaign: c\nwave: w\nkind: upsell\nplan: [ { channel: sms } ]\n",
        "badkind.yaml:3:", "'upsell'");
    s_expect_error ("listcampaign.yaml", "campaign: [a, b]\nwave: w\nplan: [ { channel: sms } ]\n",
        "listcampaign.yaml:1:", "campaign must be a string, not a list");
    s_expect_error ("planmap.yaml", "campaign: c\nwave: w\nplan: { channel: sms }\n",
        "planmap.yaml:3:", "plan must be a list");
    s_expect_error ("duplicate.yaml",
        "campaign: c\nwave: w\nplan: [ { channel: sms } ]\nwave: x\n",
        "duplicate.yaml:4:", "duplicate key 'wave'");
    s_expect_error ("range.yaml",
        "campaign: c\nwave: w\nplan:\n  - channel: sms\n    where: { arpu: { min: 10, max: 5 } }\n",
        "range.yaml:5:", "min 10 is not below max 5");
    s_expect_error ("nan.yaml",
        "campaign: c\nwave: w\nplan:\n  - channel: sms\n    where: { arpu: { min: lots } }\n",
        "nan.yaml:5:", "'lots' is not a number");
    s_expect_error ("emptylist.yaml",
        "campaign: c\nwave: w\nplan:\n  - channel: sms\n    where: { segment: [] }\n",
        "emptylist.yaml:5:", "empty list");
    s_expect_error ("nestedmeta.yaml",
        "campaign: c\nwave: w\nmeta:\n  owner: { name: a }\nplan: [ { channel: sms } ]\n",
        "nestedmeta.yaml:4:", "meta 'owner' must be a string, not a map");
    s_expect_error ("syntax.yaml", "campaign: c\nwave: w\nplan: [ { channel: sms }\n",
        "syntax.yaml:", "not valid YAML or JSON");
    s_expect_error ("syntax.json", "{\"campaign\": \"c\",\n \"wave\": \"w\",,\n}\n",
        "syntax.json:2:", "not valid YAML or JSON");
    s_expect_error ("scalar.yaml", "just a string\n", "scalar.yaml:1:", "is a map");
    s_expect_error ("empty.yaml", "", "empty.yaml", "empty wave descriptor");

    char err [WOB_ERRLEN] = "";
    char path [512];
    snprintf (path, sizeof (path), "%s/does-not-exist.yaml", testutil.dir);
    Wob__Wave *wave = NULL;
    char *targets = NULL;
    CHECK (wob_wavefile_load (path, &wave, &targets, err) == WOB_ERR_IO);
    CHECK (wave == NULL && targets == NULL);
    CHECK_ERR (err, "cannot open");
}

int
main (void)
{
    testutil_init ("test_wavefile");
    if (!testutil_mkdtemp ())
        return 1;
    test_good ();
    test_distribution ();
    test_errors ();
    return testutil_finish ();
}
