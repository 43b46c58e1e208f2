/*  wobctl_report.c - wobctl report: how a wave did, per channel.

    Computed from the wave's running counts (the broker keeps them per wave
    and channel as orders move), so a million-order wave costs the same as
    a small one.  The numbers come from lib/report.c (definitions in
    include/wob_report.h), which the broker's dashboard uses too: the two
    cannot disagree.  Here: asking the broker and printing (table, CSV or
    JSON).                                                               */

#include "wobctl.h"
#include "wob_report.h"

static void
s_print (const wob_report_row_t *r, int format)
{
    if (format == 'c')
        printf ("%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.4f,%.4f,%.4f\n", r->channel,
                r->orders, r->filtered, r->merged, r->control, r->transferred, r->eligible,
                r->contacted, r->reached, r->accepted, r->interested, r->declined,
                r->contact_rate, r->success_rate, r->conversion_per_contact);
    else
        printf ("%-8s %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %7" PRIu64 " %9" PRIu64 " %9" PRIu64
                " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9.1f%% %9.1f%% %9.1f%%\n",
                r->channel, r->orders, r->filtered, r->merged, r->control, r->contacted,
                r->reached, r->accepted, r->interested, r->declined, 100 * r->contact_rate,
                100 * r->success_rate, 100 * r->conversion_per_contact);
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
    wob_report_row_t *rows = calloc (st->n_channels + 1, sizeof (wob_report_row_t));
    wob_report_row_t total;
    wob_report_total_init (&total);
    for (size_t i = 0; i < st->n_channels; i++) {
        wob_report_row_status (&rows [i], st->channels [i]);
        wob_report_total_add (&total, &rows [i]);
    }
    if (format == 'j') {
        wob_report_json (stdout, st->wave->id, st->wave->campaign, rows, st->n_channels, &total);
        printf ("\n");
    }
    else {
        if (format == 'c')
            printf ("channel,orders,filtered,merged,control,transferred,eligible,contacted,"
                    "reached,accepted,interested,declined,contact_rate,success_rate,"
                    "conversion_per_contact\n");
        else {
            printf ("wave %s  campaign %s  state %s\n", st->wave->id, st->wave->campaign,
                    wob_wave_state_name (st->wave->state));
            printf ("%-8s %9s %9s %7s %7s %9s %9s %9s %9s %9s %10s %10s %10s\n", "channel",
                    "orders", "filtered", "merged", "control", "contacted", "reached",
                    "accepted", "interest", "declined", "contact", "success", "conv/cont");
        }
        for (size_t i = 0; i < st->n_channels; i++)
            s_print (&rows [i], format);
        s_print (&total, format);
    }
    free (rows);
    wob_msg_free (&reply);
    return 0;
}
