/*  wobctl_report.c - wobctl report: how a wave did, per channel.

    Computed from the wave's running counts (the broker keeps them per wave
    and channel as orders move), so a million-order wave costs the same as
    a small one.  Definitions, per channel and in total:
      orders      orders in the channel (a fallback order counts in both)
      eligible    orders - filtered - merged - control
      contacted   orders leased to a worker at least once
      reached     outcomes delivered, accepted, interested, declined, callback
      contact %   contacted / eligible
      success %   accepted / eligible
      conv/contact %  accepted / contacted                                */

#include "wobctl.h"

typedef struct {
    char channel [40];
    uint64_t orders, filtered, merged, control, transferred, contacted;
    uint64_t reached, accepted, interested, declined;
} row_t;

static uint64_t
s_get (Wob__Count **counts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (streq (counts [i]->name, name))
            return counts [i]->count;
    return 0;
}

static void
s_row (row_t *row, Wob__ChannelStatus *cs)
{
    snprintf (row->channel, sizeof (row->channel), "%s", *cs->channel? cs->channel: "(none)");
    for (size_t i = 0; i < cs->n_by_state; i++)
        row->orders += cs->by_state [i]->count;
    row->filtered = s_get (cs->by_state, cs->n_by_state, "filtered");
    row->merged = s_get (cs->by_state, cs->n_by_state, "merged");
    row->control = s_get (cs->by_state, cs->n_by_state, "control");
    row->transferred = s_get (cs->by_state, cs->n_by_state, "transferred");
    row->contacted = cs->contacted;
    const char *reached [] = { "delivered", "accepted", "interested", "declined", "callback" };
    for (size_t i = 0; i < 5; i++)
        row->reached += s_get (cs->by_outcome, cs->n_by_outcome, reached [i]);
    row->accepted = s_get (cs->by_outcome, cs->n_by_outcome, "accepted");
    row->interested = s_get (cs->by_outcome, cs->n_by_outcome, "interested");
    row->declined = s_get (cs->by_outcome, cs->n_by_outcome, "declined");
}

static void
s_add (row_t *total, const row_t *row)
{
    total->orders += row->orders;
    total->filtered += row->filtered;
    total->merged += row->merged;
    total->control += row->control;
    total->transferred += row->transferred;
    total->contacted += row->contacted;
    total->reached += row->reached;
    total->accepted += row->accepted;
    total->interested += row->interested;
    total->declined += row->declined;
}

static double
s_pct (uint64_t part, uint64_t whole)
{
    return whole? 100.0 * (double) part / (double) whole: 0;
}

static void
s_print (const row_t *r, int format)
{
    uint64_t eligible = r->orders - r->filtered - r->merged - r->control;
    double contact = s_pct (r->contacted, eligible), success = s_pct (r->accepted, eligible);
    double conversion = s_pct (r->accepted, r->contacted);
    if (format == 'j') {
        printf ("{\"channel\": ");
        wob_json_string (stdout, r->channel);
        printf (", \"orders\": %" PRIu64 ", \"filtered\": %" PRIu64 ", \"merged\": %" PRIu64
                ", \"control\": %" PRIu64 ", \"transferred\": %" PRIu64 ", \"eligible\": %" PRIu64
                ", \"contacted\": %" PRIu64 ", \"reached\": %" PRIu64 ", \"accepted\": %" PRIu64
                ", \"interested\": %" PRIu64 ", \"declined\": %" PRIu64
                ", \"contact_rate\": %.4f, \"success_rate\": %.4f, \"conversion_per_contact\": %.4f}",
                r->orders, r->filtered, r->merged, r->control, r->transferred, eligible,
                r->contacted, r->reached, r->accepted, r->interested, r->declined,
                contact / 100, success / 100, conversion / 100);
    }
    else
    if (format == 'c')
        printf ("%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.4f,%.4f,%.4f\n", r->channel,
                r->orders, r->filtered, r->merged, r->control, r->transferred, eligible,
                r->contacted, r->reached, r->accepted, r->interested, r->declined,
                contact / 100, success / 100, conversion / 100);
    else
        printf ("%-8s %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %7" PRIu64 " %9" PRIu64 " %9" PRIu64
                " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9.1f%% %9.1f%% %9.1f%%\n",
                r->channel, r->orders, r->filtered, r->merged, r->control, r->contacted,
                r->reached, r->accepted, r->interested, r->declined, contact, success,
                conversion);
}

int
ctl_report (ctl_t *ctl, int argc, char **argv)
{
    const char *wave = NULL;
    int format = ctl->json? 'j': 't';
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--wave") && i + 1 < argc)
            wave = argv [++i];
        else
        if (streq (argv [i], "--csv"))
            format = 'c';
        else
        if (streq (argv [i], "--by") && i + 1 < argc && streq (argv [i + 1], "channel"))
            i++;
        else {
            fprintf (stderr, "wobctl: report: '%s' not understood (this version reports "
                     "--wave W [--by channel] [--csv])\n", argv [i]);
            return 1;
        }
    }
    if (!wave) {
        fprintf (stderr, "usage: wobctl report --wave WAVE [--by channel] [--csv]\n");
        return 1;
    }
    Wob__StatusQuery query = WOB__STATUS_QUERY__INIT;
    query.wave = (char *) wave;
    int rc;
    Wob__Envelope *reply = ctl_request (ctl, WOB__ENVELOPE__BODY_STATUS_QUERY, &query, &rc);
    if (!reply)
        return rc;
    Wob__WaveStatus *st = reply->wave_status;
    row_t total = { .channel = "total" };
    if (format == 'j') {
        printf ("{\"wave\": ");
        wob_json_string (stdout, st->wave->id);
        printf (", \"campaign\": ");
        wob_json_string (stdout, st->wave->campaign);
        printf (", \"by_channel\": [");
    }
    else
    if (format == 'c')
        printf ("channel,orders,filtered,merged,control,transferred,eligible,contacted,reached,"
                "accepted,interested,declined,contact_rate,success_rate,conversion_per_contact\n");
    else {
        printf ("wave %s  campaign %s  state %s\n", st->wave->id, st->wave->campaign,
                wob_wave_state_name (st->wave->state));
        printf ("%-8s %9s %9s %7s %7s %9s %9s %9s %9s %9s %10s %10s %10s\n", "channel",
                "orders", "filtered", "merged", "control", "contacted", "reached", "accepted",
                "interest", "declined", "contact", "success", "conv/cont");
    }
    for (size_t i = 0; i < st->n_channels; i++) {
        row_t row = { 0 };
        s_row (&row, st->channels [i]);
        s_add (&total, &row);
        if (format == 'j' && i)
            printf (", ");
        s_print (&row, format);
    }
    if (format == 'j') {
        printf ("], \"total\": ");
        s_print (&total, format);
        printf ("}\n");
    }
    else
        s_print (&total, format);
    wob_msg_free (&reply);
    return 0;
}
