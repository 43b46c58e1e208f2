/*  wobctl_admin.c - wobctl's administration commands: the do-not-disturb
    list (add, remove, import, list), the rules in force (show, reload),
    pause / resume / cancel of a wave, and the test clock.  An import is checked whole, line by line, before any
    of it is sent.                                                        */

#include "wobctl.h"
#include <getopt.h>

#define IMPORT_BATCH 20000      //  entries per request

static const char *s_reasons [] = {
    "dnd", "complaint", "ported_out", "deactivated", "open_ticket", NULL
};

static bool
s_known_reason (const char *reason)
{
    for (const char **r = s_reasons; *r; r++)
        if (streq (*r, reason))
            return true;
    return false;
}

static Wob__SuppressEntry *
s_entry_new (const char *msisdn, const char *reason, const char *channel, int64_t expires,
             const char *note)
{
    Wob__SuppressEntry *e = calloc (1, sizeof (*e));
    wob__suppress_entry__init (e);
    e->msisdn = strdup (msisdn);
    e->reason = strdup (reason && *reason? reason: "dnd");
    e->channel = strdup (channel? channel: "");
    e->expires_ms = expires;
    e->note = strdup (note? note: "");
    return e;
}

static void
s_entries_free (Wob__SuppressEntry **entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        wob__suppress_entry__free_unpacked (entries [i], NULL);
    free (entries);
}

//  Sends entries in batches; prints the totals.
static int
s_send_add (ctl_t *ctl, Wob__SuppressEntry **entries, size_t count)
{
    uint64_t added = 0, total = 0;
    for (size_t start = 0; start < count; start += IMPORT_BATCH) {
        Wob__SuppressAdd add = WOB__SUPPRESS_ADD__INIT;
        add.entries = entries + start;
        add.n_entries = count - start < IMPORT_BATCH? count - start: IMPORT_BATCH;
        int rc;
        Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_SUPPRESS_ADD, &add, &rc);
        if (!reply) {
            if (added)
                fprintf (stderr, "wobctl: %" PRIu64 " entries were added before the "
                         "failure\n", added);
            return rc;
        }
        added += reply->suppress_entries->added;
        total = reply->suppress_entries->total;
        wob_msg_free (&reply);
    }
    if (ctl->json)
        printf ("{\"added\": %" PRIu64 ", \"total\": %" PRIu64 "}\n", added, total);
    else
        printf ("%" PRIu64 " added; %" PRIu64 " entries on the do-not-disturb list\n",
                added, total);
    return 0;
}

static int
s_add (ctl_t *ctl, int argc, char **argv)
{
    const char *reason = "dnd", *channel = "", *note = "";
    int64_t expires = 0;
    static struct option options [] = {
        { "reason", required_argument, 0, 'r' }, { "channel", required_argument, 0, 'c' },
        { "expires", required_argument, 0, 'e' }, { "note", required_argument, 0, 'n' },
        { 0, 0, 0, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        if (c == 'r')
            reason = optarg;
        else
        if (c == 'c')
            channel = optarg;
        else
        if (c == 'n')
            note = optarg;
        else
        if (c == 'e') {
            if (wob_parse_time (optarg, &expires)) {
                fprintf (stderr, "wobctl: --expires '%s' is not a time\n", optarg);
                return 1;
            }
        }
        else
            return 1;
    }
    if (optind != argc - 1) {
        fprintf (stderr, "usage: wobctl suppress add MSISDN [--reason R] [--channel C] "
                 "[--expires TIME] [--note TEXT]\n");
        return 1;
    }
    if (!s_known_reason (reason)) {
        fprintf (stderr, "wobctl: --reason '%s' is not one of dnd, complaint, ported_out, "
                 "deactivated, open_ticket\n", reason);
        return 1;
    }
    Wob__SuppressEntry *entry = s_entry_new (argv [optind], reason, channel, expires, note);
    int rc = s_send_add (ctl, &entry, 1);
    wob__suppress_entry__free_unpacked (entry, NULL);
    return rc;
}

static int
s_remove (ctl_t *ctl, int argc, char **argv)
{
    const char *channel = "";
    static struct option options [] = {
        { "channel", required_argument, 0, 'c' }, { 0, 0, 0, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        if (c != 'c')
            return 1;
        channel = optarg;
    }
    if (optind != argc - 1) {
        fprintf (stderr, "usage: wobctl suppress remove MSISDN [--channel C]\n");
        return 1;
    }
    Wob__SuppressEntry *entry = s_entry_new (argv [optind], "", channel, 0, "");
    Wob__SuppressRemove remove = WOB__SUPPRESS_REMOVE__INIT;
    remove.entries = &entry;
    remove.n_entries = 1;
    int rc;
    Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_SUPPRESS_REMOVE, &remove, &rc);
    wob__suppress_entry__free_unpacked (entry, NULL);
    if (!reply)
        return rc;
    uint64_t removed = reply->suppress_entries->removed;
    if (ctl->json)
        printf ("{\"removed\": %" PRIu64 "}\n", removed);
    else
        printf ("%s\n", removed? "removed": "not on the list (nothing removed)");
    wob_msg_free (&reply);
    return 0;
}

//  Splits line at commas into at most max fields (no quoting).
static size_t
s_split (char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields [n++] = p;
        char *comma = strchr (p, ',');
        if (!comma)
            break;
        *comma = 0;
        p = comma + 1;
    }
    return strchr (p, ',')? max + 1: n;     //  more fields than allowed
}

static int
s_import (ctl_t *ctl, int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: wobctl suppress import FILE   (CSV with a header row: "
                 "msisdn[,reason,channel,expires,note])\n");
        return 1;
    }
    const char *path = argv [1];
    FILE *file = fopen (path, "r");
    if (!file) {
        fprintf (stderr, "wobctl: cannot read %s: %s\n", path, strerror (errno));
        return 1;
    }
    size_t cap = 1024, count = 0, bad = 0;
    Wob__SuppressEntry **entries = malloc (cap * sizeof (*entries));
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    uint64_t number = 0;
    int column [5] = { -1, -1, -1, -1, -1 };    //  msisdn reason channel expires note
    const char *names [] = { "msisdn", "reason", "channel", "expires", "note" };
    size_t n_columns = 0;
    while ((len = getline (&line, &size, file)) != -1) {
        number++;
        while (len && (line [len - 1] == '\n' || line [len - 1] == '\r'))
            line [--len] = 0;
        char *fields [6];
        if (number == 1) {
            n_columns = s_split (line, fields, 5);
            for (size_t i = 0; i < n_columns && i < 5; i++)
                for (int k = 0; k < 5; k++)
                    if (streq (fields [i], names [k]))
                        column [k] = (int) i;
            if (column [0] < 0) {
                fprintf (stderr, "wobctl: %s:1: header has no 'msisdn' column\n", path);
                bad++;
                break;
            }
            continue;
        }
        if (len == 0)
            continue;
        size_t n = s_split (line, fields, 5);
        const char *error = NULL;
        char problem [160];
        if (n != n_columns) {
            snprintf (problem, sizeof (problem), "%zu fields, header has %zu", n, n_columns);
            error = problem;
        }
        const char *get [5] = { "", "", "", "", "" };
        for (int k = 0; k < 5 && !error; k++)
            if (column [k] >= 0)
                get [k] = fields [column [k]];
        int64_t expires = 0;
        const char *digits = get [0] [0] == '+'? get [0] + 1: get [0];
        if (error)
            ;
        else
        if (strlen (digits) < 5 || strlen (digits) > 15 || strspn (digits, "0123456789") != strlen (digits))
            snprintf (problem, sizeof (problem), "field 'msisdn': '%.32s' is not a phone number",
                      get [0]), error = problem;
        else
        if (*get [1] && !s_known_reason (get [1]))
            snprintf (problem, sizeof (problem), "field 'reason': '%.32s' is not one of dnd, "
                      "complaint, ported_out, deactivated, open_ticket", get [1]), error = problem;
        else
        if (*get [3] && wob_parse_time (get [3], &expires))
            snprintf (problem, sizeof (problem), "field 'expires': '%.40s' is not a time",
                      get [3]), error = problem;
        else
        if (!wob_utf8_valid (get [4], strlen (get [4])))
            snprintf (problem, sizeof (problem), "field 'note': not valid UTF-8"), error = problem;
        if (error) {
            if (bad++ < 20)
                fprintf (stderr, "wobctl: %s:%" PRIu64 ": %s\n", path, number, error);
            continue;
        }
        if (count == cap)
            entries = realloc (entries, (cap *= 2) * sizeof (*entries));
        entries [count++] = s_entry_new (get [0], get [1], get [2], expires, get [4]);
    }
    free (line);
    fclose (file);
    int rc = 1;
    if (bad)
        fprintf (stderr, "wobctl: %zu bad line%s in %s; nothing was imported\n", bad,
                 bad == 1? "": "s", path);
    else
    if (number == 0)
        fprintf (stderr, "wobctl: %s is empty (no header row)\n", path);
    else
        rc = s_send_add (ctl, entries, count);
    s_entries_free (entries, count);
    return rc;
}

static int
s_list (ctl_t *ctl, int argc, char **argv)
{
    Wob__SuppressList query = WOB__SUPPRESS_LIST__INIT;
    if (argc > 1)
        query.msisdn = argv [1];
    int rc;
    Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_SUPPRESS_LIST, &query, &rc);
    if (!reply)
        return rc;
    Wob__SuppressEntries *list = reply->suppress_entries;
    if (ctl->json) {
        printf ("{\"total\": %" PRIu64 ", \"entries\": [", list->total);
        for (size_t i = 0; i < list->n_entries; i++) {
            Wob__SuppressEntry *e = list->entries [i];
            printf ("%s{\"msisdn\": ", i? ", ": "");
            wob_json_string (stdout, e->msisdn);
            printf (", \"channel\": ");
            wob_json_string (stdout, e->channel);
            printf (", \"reason\": ");
            wob_json_string (stdout, e->reason);
            printf (", \"expires_ms\": %" PRId64 ", \"added_ms\": %" PRId64 ", \"note\": ",
                    e->expires_ms, e->added_ms);
            wob_json_string (stdout, e->note);
            printf ("}");
        }
        printf ("]}\n");
    }
    else {
        printf ("%-16s %-8s %-12s %-19s %s\n", "msisdn", "channel", "reason", "expires", "note");
        for (size_t i = 0; i < list->n_entries; i++) {
            Wob__SuppressEntry *e = list->entries [i];
            char when [32];
            printf ("%-16s %-8s %-12s %-19s %s\n", e->msisdn, *e->channel? e->channel: "all",
                    e->reason, e->expires_ms? wob_format_time (e->expires_ms, when, 32): "never",
                    e->note);
        }
        printf ("%zu shown, %" PRIu64 " on the list\n", list->n_entries, list->total);
    }
    wob_msg_free (&reply);
    return 0;
}

int
ctl_suppress (ctl_t *ctl, int argc, char **argv)
{
    const char *verb = argc > 1? argv [1]: "";
    if (streq (verb, "add"))
        return s_add (ctl, argc - 1, argv + 1);
    if (streq (verb, "remove"))
        return s_remove (ctl, argc - 1, argv + 1);
    if (streq (verb, "import"))
        return s_import (ctl, argc - 1, argv + 1);
    if (streq (verb, "list"))
        return s_list (ctl, argc - 1, argv + 1);
    fprintf (stderr, "usage: wobctl suppress add|remove|import|list ...\n");
    return 1;
}

int
ctl_rules (ctl_t *ctl, int argc, char **argv)
{
    const char *verb = argc > 1? argv [1]: "show";
    if (!streq (verb, "show") && !streq (verb, "reload")) {
        fprintf (stderr, "usage: wobctl rules show | reload\n");
        return 1;
    }
    Wob__RulesRequest request = WOB__RULES_REQUEST__INIT;
    request.reload = streq (verb, "reload");
    int rc;
    Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_RULES_REQUEST, &request, &rc);
    if (!reply)
        return rc;
    Wob__RulesInfo *info = reply->rules_info;
    char when [32];
    if (ctl->json) {
        printf ("{\"path\": ");
        wob_json_string (stdout, info->path);
        printf (", \"loaded_ms\": %" PRId64 ", \"text\": ", info->loaded_ms);
        wob_json_string (stdout, info->text);
        printf ("}\n");
    }
    else {
        printf ("# rules %s from %s, loaded %s\n", request.reload? "reloaded": "in force",
                *info->path? info->path: "built-in defaults",
                wob_format_time (info->loaded_ms, when, sizeof (when)));
        fputs (info->text, stdout);
        if (*info->text && info->text [strlen (info->text) - 1] != '\n')
            putchar ('\n');
    }
    wob_msg_free (&reply);
    return 0;
}

int
ctl_clock (ctl_t *ctl, int argc, char **argv)
{
    int64_t advance = argc == 3 && streq (argv [1], "advance")? wob_parse_duration (argv [2]): -1;
    if (advance < 0) {
        fprintf (stderr, "usage: wobctl clock advance DURATION   (e.g. 90m, 8h, 1d)\n");
        return 1;
    }
    Wob__ClockSet set = WOB__CLOCK_SET__INIT;
    set.advance_ms = advance;
    int rc;
    Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_CLOCK_SET, &set, &rc);
    if (!reply)
        return rc;
    char when [32];
    if (ctl->json)
        printf ("{\"now_ms\": %" PRId64 ", \"offset_ms\": %" PRId64 "}\n",
                reply->clock_info->now_ms, reply->clock_info->offset_ms);
    else
        printf ("broker clock now %s\n", wob_format_time (reply->clock_info->now_ms, when, 32));
    wob_msg_free (&reply);
    return 0;
}

int
ctl_backup (ctl_t *ctl, int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: wobctl backup DIR   (absolute, on the broker's machine; a "
                 "new or empty directory)\n");
        return 1;
    }
    Wob__BackupRequest request = WOB__BACKUP_REQUEST__INIT;
    request.path = argv [1];
    //  The reply comes when the copy is complete: wait up to an hour
    if (ctl->timeout_ms < 3600 * 1000)
        ctl->timeout_ms = 3600 * 1000;
    int rc;
    Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_BACKUP_REQUEST, &request, &rc);
    if (!reply)
        return rc;
    Wob__BackupReply *done = reply->backup_reply;
    if (ctl->json) {
        printf ("{\"path\": ");
        wob_json_string (stdout, done->path);
        printf (", \"bytes\": %" PRIu64 ", \"took_ms\": %" PRId64 "}\n", done->bytes,
                done->took_ms);
    }
    else
        printf ("backup in %s: %.1f MB, %" PRId64 " ms (restore: wob-broker --data %s)\n",
                done->path, done->bytes / 1048576.0, done->took_ms, done->path);
    wob_msg_free (&reply);
    return 0;
}

int
ctl_wave_control (ctl_t *ctl, int argc, char **argv)
{
    Wob__WaveControl control = WOB__WAVE_CONTROL__INIT;
    const char *verb = argv [0];
    control.action = streq (verb, "pause")? WOB__WAVE_CONTROL__ACTION__PAUSE:
                     streq (verb, "resume")? WOB__WAVE_CONTROL__ACTION__RESUME:
                     WOB__WAVE_CONTROL__ACTION__CANCEL;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--recall") && control.action == WOB__WAVE_CONTROL__ACTION__CANCEL)
            control.recall = true;
        else
        if (*argv [i] != '-' && !*control.wave)
            control.wave = argv [i];
        else {
            fprintf (stderr, "usage: wobctl pause WAVE | resume WAVE | cancel WAVE [--recall]\n");
            return 1;
        }
    }
    if (!*control.wave) {
        fprintf (stderr, "usage: wobctl %s WAVE%s\n", verb,
                 control.action == WOB__WAVE_CONTROL__ACTION__CANCEL? " [--recall]": "");
        return 1;
    }
    char actor [96];
    const char *user = getenv ("USER");
    snprintf (actor, sizeof (actor), "wobctl:%s", user? user: "unknown");
    control.actor = actor;
    int rc;
    Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_WAVE_CONTROL, &control, &rc);
    if (!reply)
        return rc;
    Wob__Wave *w = reply->wave_status->wave;
    if (ctl->json) {
        printf ("{\"wave\": ");
        wob_json_string (stdout, w->id);
        printf (", \"state\": \"%s\"}\n", wob_wave_state_name (w->state));
    }
    else
        printf ("wave %s is %s%s\n", w->id, wob_wave_state_name (w->state),
                control.recall? " (leased orders recalled)": "");
    wob_msg_free (&reply);
    return 0;
}
