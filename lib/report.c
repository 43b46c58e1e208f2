/*  report.c - a wave's report rows: the one computation behind `wobctl
    report` and the broker's dashboard (include/wob_report.h says what each
    number means).  Everything comes from running counts, so a report on a
    million-order wave costs what one on ten orders does.                */

#include "wob_report.h"

static double
s_rate (uint64_t part, uint64_t whole)
{
    return whole? (double) part / (double) whole: 0;
}

//  Derived fields: eligible and the rates.
static void
s_derive (wob_report_row_t *row)
{
    uint64_t out = row->filtered + row->merged + row->control;
    row->eligible = row->orders > out? row->orders - out: 0;
    row->contact_rate = s_rate (row->contacted, row->eligible);
    row->success_rate = s_rate (row->accepted, row->eligible);
    row->conversion_per_contact = s_rate (row->accepted, row->contacted);
}

void
wob_report_row_counts (wob_report_row_t *row, const char *channel, const uint64_t *by_state,
                       const uint64_t *by_outcome, uint64_t contacted)
{
    memset (row, 0, sizeof (*row));
    snprintf (row->channel, sizeof (row->channel), "%s",
              channel && *channel? channel: "(none)");
    for (int s = 1; s < WOB_REPORT_SLOTS; s++)
        row->orders += by_state [s];
    row->filtered = by_state [WOB__STATE__STATE_FILTERED];
    row->merged = by_state [WOB__STATE__STATE_MERGED];
    row->control = by_state [WOB__STATE__STATE_CONTROL];
    row->transferred = by_state [WOB__STATE__STATE_TRANSFERRED];
    row->contacted = contacted;
    const int reached [] = {
        WOB__OUTCOME__OUTCOME_DELIVERED, WOB__OUTCOME__OUTCOME_ACCEPTED,
        WOB__OUTCOME__OUTCOME_INTERESTED, WOB__OUTCOME__OUTCOME_DECLINED,
        WOB__OUTCOME__OUTCOME_CALLBACK
    };
    for (size_t i = 0; i < sizeof (reached) / sizeof (reached [0]); i++)
        row->reached += by_outcome [reached [i]];
    row->accepted = by_outcome [WOB__OUTCOME__OUTCOME_ACCEPTED];
    row->interested = by_outcome [WOB__OUTCOME__OUTCOME_INTERESTED];
    row->declined = by_outcome [WOB__OUTCOME__OUTCOME_DECLINED];
    s_derive (row);
}

void
wob_report_row_status (wob_report_row_t *row, const Wob__ChannelStatus *status)
{
    uint64_t by_state [WOB_REPORT_SLOTS] = { 0 }, by_outcome [WOB_REPORT_SLOTS] = { 0 };
    for (size_t i = 0; i < status->n_by_state; i++) {
        int s = wob_state_from_name (status->by_state [i]->name);
        if (s > 0 && s < WOB_REPORT_SLOTS)
            by_state [s] += status->by_state [i]->count;
    }
    for (size_t i = 0; i < status->n_by_outcome; i++) {
        int o = wob_outcome_from_name (status->by_outcome [i]->name);
        if (o > 0 && o < WOB_REPORT_SLOTS)
            by_outcome [o] += status->by_outcome [i]->count;
    }
    wob_report_row_counts (row, status->channel, by_state, by_outcome, status->contacted);
}

void
wob_report_total_init (wob_report_row_t *total)
{
    memset (total, 0, sizeof (*total));
    snprintf (total->channel, sizeof (total->channel), "total");
}

void
wob_report_total_add (wob_report_row_t *total, const wob_report_row_t *row)
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
    s_derive (total);
}

void
wob_report_row_json (FILE *out, const wob_report_row_t *r)
{
    fprintf (out, "{\"channel\": ");
    wob_json_string (out, r->channel);
    fprintf (out, ", \"orders\": %" PRIu64 ", \"filtered\": %" PRIu64 ", \"merged\": %" PRIu64
             ", \"control\": %" PRIu64 ", \"transferred\": %" PRIu64 ", \"eligible\": %" PRIu64
             ", \"contacted\": %" PRIu64 ", \"reached\": %" PRIu64 ", \"accepted\": %" PRIu64
             ", \"interested\": %" PRIu64 ", \"declined\": %" PRIu64
             ", \"contact_rate\": %.4f, \"success_rate\": %.4f, \"conversion_per_contact\": %.4f}",
             r->orders, r->filtered, r->merged, r->control, r->transferred, r->eligible,
             r->contacted, r->reached, r->accepted, r->interested, r->declined,
             r->contact_rate, r->success_rate, r->conversion_per_contact);
}

void
wob_report_json (FILE *out, const char *wave, const char *campaign,
                 const wob_report_row_t *rows, size_t n_rows, const wob_report_row_t *total)
{
    fprintf (out, "{\"wave\": ");
    wob_json_string (out, wave);
    fprintf (out, ", \"campaign\": ");
    wob_json_string (out, campaign);
    fprintf (out, ", \"by_channel\": [");
    for (size_t i = 0; i < n_rows; i++) {
        fprintf (out, "%s", i? ", ": "");
        wob_report_row_json (out, &rows [i]);
    }
    fprintf (out, "], \"total\": ");
    wob_report_row_json (out, total);
    fprintf (out, "}");
}
