/*  admin.c - what administrators change and ask: the do-not-disturb list,
    the rules in force (show, reload) and, in tests only, the clock.

    A do-not-disturb import is one request: validated whole, then stored in
    the group transaction, so it is all in or all out.                   */

#include "broker.h"

#define ADMIN_MAX_LIST 10000    //  entries returned by one list request

static const char *s_reasons [] = {
    "dnd", "complaint", "ported_out", "deactivated", "open_ticket", NULL
};

static bool
s_valid_number (const char *msisdn)
{
    const char *p = *msisdn == '+'? msisdn + 1: msisdn;
    size_t len = strlen (p);
    return len >= 5 && len <= 15 && strspn (p, "0123456789") == len;
}

//  Names what is wrong with entry i of a request, or returns 0.
static int
s_check_entry (broker_t *self, Wob__SuppressEntry *e, size_t i, bool need_reason, char *err)
{
    if (!s_valid_number (e->msisdn))
        return wob_fail (err, WOB_ERR_INVALID, "entry %zu: '%.32s' is not a phone number "
                         "(5-15 digits)", i + 1, e->msisdn);
    if (*e->channel && !broker_channel (self, e->channel))
        return wob_fail (err, WOB_ERR_INVALID, "entry %zu (%s): channel '%.32s' is not "
                         "configured (configured: %s, or empty for all)", i + 1, e->msisdn,
                         e->channel, broker_channel_list (self));
    if (need_reason) {
        bool known = false;
        for (const char **r = s_reasons; *r && !known; r++)
            known = streq (*r, e->reason);
        if (!known)
            return wob_fail (err, WOB_ERR_INVALID, "entry %zu (%s): reason '%.32s' is not one "
                             "of dnd, complaint, ported_out, deactivated, open_ticket",
                             i + 1, e->msisdn, e->reason);
        if (e->expires_ms < 0)
            return wob_fail (err, WOB_ERR_INVALID, "entry %zu (%s): expiry is negative",
                             i + 1, e->msisdn);
    }
    return 0;
}

static void
s_reply_counts (broker_t *self, uint64_t added, uint64_t removed)
{
    Wob__SuppressEntries *reply = calloc (1, sizeof (*reply));
    wob__suppress_entries__init (reply);
    reply->added = added;
    reply->removed = removed;
    reply->total = store_suppress_count (self->store);
    broker_respond (self, WOB__ENVELOPE__BODY_SUPPRESS_ENTRIES, reply);
}

void
admin_suppress_add (broker_t *self, Wob__SuppressAdd *msg)
{
    char err [WOB_ERRLEN];
    for (size_t i = 0; i < msg->n_entries; i++)
        if (s_check_entry (self, msg->entries [i], i, true, err)) {
            broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "suppress: %s; nothing was added",
                          err);
            return;
        }
    for (size_t i = 0; i < msg->n_entries; i++) {
        Wob__SuppressEntry *e = msg->entries [i];
        e->added_ms = self->now;
        if (store_suppress_put (self->store, e, err)) {
            broker_error (self, WOB__ERROR_CODE__ERR_STORE, "suppress: %s", err);
            return;
        }
    }
    zsys_info ("do-not-disturb list: %zu entr%s added", msg->n_entries,
               msg->n_entries == 1? "y": "ies");
    s_reply_counts (self, msg->n_entries, 0);
}

void
admin_suppress_remove (broker_t *self, Wob__SuppressRemove *msg)
{
    char err [WOB_ERRLEN];
    uint64_t removed = 0;
    for (size_t i = 0; i < msg->n_entries; i++)
        if (s_check_entry (self, msg->entries [i], i, false, err)) {
            broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "suppress: %s; nothing was "
                          "removed", err);
            return;
        }
    for (size_t i = 0; i < msg->n_entries; i++) {
        bool gone;
        if (store_suppress_del (self->store, msg->entries [i]->msisdn,
                                msg->entries [i]->channel, &gone, err)) {
            broker_error (self, WOB__ERROR_CODE__ERR_STORE, "suppress: %s", err);
            return;
        }
        removed += gone;
    }
    s_reply_counts (self, 0, removed);
}

void
admin_suppress_list (broker_t *self, Wob__SuppressList *msg)
{
    char err [WOB_ERRLEN];
    size_t limit = msg->limit && msg->limit < ADMIN_MAX_LIST? msg->limit: ADMIN_MAX_LIST;
    Wob__SuppressEntries *reply = calloc (1, sizeof (*reply));
    wob__suppress_entries__init (reply);
    if (store_suppress_list (self->store, msg->msisdn, msg->after, limit, &reply->entries,
                             &reply->n_entries, err)) {
        wob__suppress_entries__free_unpacked (reply, NULL);
        broker_error (self, WOB__ERROR_CODE__ERR_STORE, "suppress: %s", err);
        return;
    }
    reply->total = store_suppress_count (self->store);
    broker_respond (self, WOB__ENVELOPE__BODY_SUPPRESS_ENTRIES, reply);
}

int
admin_load_rules (broker_t *self, char *err)
{
    const char *channels [BROKER_MAX_CHANNELS + 1];
    size_t n = 0;
    for (int c = 1; c < BROKER_MAX_CHANNELS; c++)
        if (self->channels [c].name)
            channels [n++] = self->channels [c].name;
    channels [n] = NULL;
    rulebook_t *rules = self->config.rules_path?
                        rulebook_load (self->config.rules_path, channels, err):
                        rulebook_default ();
    if (!rules)
        return WOB_ERR_INVALID;
    //  Only decisions from now on use the new rules; nothing is re-decided.
    rulebook_destroy (&self->rules);
    self->rules = rules;
    self->rules_loaded_ms = self->now;
    zsys_info ("rules loaded from %s", *rules->path? rules->path: "built-in defaults");
    return 0;
}

void
admin_rules (broker_t *self, Wob__RulesRequest *msg)
{
    char err [WOB_ERRLEN];
    if (msg->reload && admin_load_rules (self, err)) {
        zsys_error ("rules reload refused, the rules in force stay: %s", err);
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "rules reload refused, the rules "
                      "in force stay: %s", err);
        return;
    }
    Wob__RulesInfo *info = calloc (1, sizeof (*info));
    wob__rules_info__init (info);
    info->path = strdup (self->rules->path);
    info->text = strdup (self->rules->text);
    info->loaded_ms = self->rules_loaded_ms;
    broker_respond (self, WOB__ENVELOPE__BODY_RULES_INFO, info);
}

void
admin_clock (broker_t *self, Wob__ClockSet *msg)
{
    if (!self->config.test_clock) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "clock: this broker's clock is the "
                      "wall clock (start it with --test-clock to move it in tests)");
        return;
    }
    if (msg->advance_ms < 0) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "clock: time only moves forward");
        return;
    }
    self->clock_offset += msg->advance_ms;
    self->now += msg->advance_ms;
    //  Orders' times move (windows, call-backs, leases); sessions' liveness
    //  does not: a jump is not silence.
    workers_clock_moved (self, msg->advance_ms);
    Wob__ClockInfo *info = calloc (1, sizeof (*info));
    wob__clock_info__init (info);
    info->now_ms = self->now;
    info->offset_ms = self->clock_offset;
    broker_respond (self, WOB__ENVELOPE__BODY_CLOCK_INFO, info);
}
