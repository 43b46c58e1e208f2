/*  wob_report.h - how a wave did, per channel: the numbers of `wobctl
    report` and of the broker's dashboard (/api/waves), computed by one
    function so that the two cannot disagree.

    Input is a channel's running counts (orders by state, outcome reports,
    orders contacted), either as arrays indexed by Wob__State / Wob__Outcome
    (the broker's in-memory counts) or as the ChannelStatus message a
    status query returns (wobctl).  Definitions, per channel and in total:
      orders      orders in the channel (a fallback order counts in both)
      eligible    orders - filtered - merged - control
      contacted   orders leased to a worker at least once
      reached     outcomes delivered, accepted, interested, declined, callback
      contact_rate            contacted / eligible
      success_rate            accepted / eligible
      conversion_per_contact  accepted / contacted                        */

#ifndef WOB_REPORT_H_INCLUDED
#define WOB_REPORT_H_INCLUDED

#include "wob.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WOB_REPORT_SLOTS 16     //  entries of the by-state / by-outcome arrays

//  One row of a wave report: a channel, or the total.
typedef struct {
    char channel [40];          //  channel name, "(none)" or "total"
    uint64_t orders;            //  orders in any state
    uint64_t filtered;          //  orders in state filtered
    uint64_t merged;            //  orders in state merged
    uint64_t control;           //  orders held out as control group
    uint64_t transferred;       //  orders moved to the fallback channel
    uint64_t eligible;          //  orders - filtered - merged - control
    uint64_t contacted;         //  orders leased at least once
    uint64_t reached;           //  delivered + accepted + interested + declined + callback
    uint64_t accepted;          //  outcome reports "accepted"
    uint64_t interested;        //  outcome reports "interested"
    uint64_t declined;          //  outcome reports "declined"
    double contact_rate;        //  contacted / eligible (0 when none eligible)
    double success_rate;        //  accepted / eligible
    double conversion_per_contact;  //  accepted / contacted
} wob_report_row_t;

//  Fills row from counts indexed by Wob__State and Wob__Outcome
//  (WOB_REPORT_SLOTS each).  channel "" is named "(none)".
void wob_report_row_counts (wob_report_row_t *row, const char *channel,
                            const uint64_t *by_state, const uint64_t *by_outcome,
                            uint64_t contacted);
//  The same from a status reply's ChannelStatus (counts by name).
void wob_report_row_status (wob_report_row_t *row, const Wob__ChannelStatus *status);
//  Starts a total row (all zero, named "total").
void wob_report_total_init (wob_report_row_t *total);
//  Adds row to total and recomputes the total's rates.
void wob_report_total_add (wob_report_row_t *total, const wob_report_row_t *row);

//  Writes one row as a JSON object (no newline).
void wob_report_row_json (FILE *out, const wob_report_row_t *row);
//  Writes the whole report as `wobctl report --json` prints it:
//  {"wave", "campaign", "by_channel": [rows], "total": row} (no newline).
void wob_report_json (FILE *out, const char *wave, const char *campaign,
                      const wob_report_row_t *rows, size_t n_rows,
                      const wob_report_row_t *total);

#ifdef __cplusplus
}
#endif
#endif
