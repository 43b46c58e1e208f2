/*  wob_report.h - how a wave or a campaign did, by channel, region, worker,
    segment or day: the numbers of `wobctl report` and of the broker's
    dashboard, computed by one set of functions so that they cannot
    disagree.

    The broker keeps running tallies (wob_tally_t) per wave and per value
    of each dimension, updated in the transaction that moves the order
    (broker/tally.c); a report sums a few of them, never the orders.
    Definitions, per row and in total:
      orders      orders created (a fallback order counts in its channel)
      eligible    orders - filtered - merged - control
      contacted   orders leased to a worker at least once
      reached     outcomes delivered, accepted, interested, declined, callback
      contact_rate            contacted / eligible
      success_rate            accepted / eligible
      conversion_per_contact  accepted / contacted
    Events count in the row of the value the order has when they happen:
    region and segment are the target's; a worker row counts what happened
    while the order was that worker's (contacts, outcomes, orders done); a
    day row counts the events of that day (broker's local time).

    Uplift: outcomes the campaign system learns later (`wobctl outcome
    import`: retained, churned, ...) are tallied per customer in three
    groups: contacted, control (held out by the wave's control share) and
    others (targeted, never contacted).  For each label, a row shows the
    rate among its contacted customers, the rate among its control
    customers, and the difference (the uplift).  Rows without control
    customers of their own (channel, worker, day) compare with the whole
    control group of the report.                                        */

#ifndef WOB_REPORT_H_INCLUDED
#define WOB_REPORT_H_INCLUDED

#include "wob.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WOB_REPORT_SLOTS 16     //  entries of the by-state / by-outcome arrays
#define WOB_TALLY_GROUPS 3      //  imported outcomes: contacted, control, others
#define WOB_TALLY_LABELS 8      //  imported outcome labels per wave

enum { WOB_GROUP_CONTACTED, WOB_GROUP_CONTROL, WOB_GROUP_OTHERS };

//  Running tallies of one row (stored as is: fixed layout).
typedef struct {
    uint64_t created;                           //  orders created
    uint64_t entered [WOB_REPORT_SLOTS];        //  orders entering each state
    uint64_t contacted;                         //  first leases
    uint64_t outcomes [WOB_REPORT_SLOTS];       //  outcome reports
    uint64_t imported_n [WOB_TALLY_GROUPS];     //  customers with an imported outcome
    uint64_t imported [WOB_TALLY_GROUPS][WOB_TALLY_LABELS];    //  ... with each label
} wob_tally_t;

//  One row of a report: a channel, region, worker, segment, day, or total.
typedef struct {
    char key [160];             //  the value, "(none)" or "total"
    uint64_t orders;            //  orders created
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
    uint64_t done;              //  orders finished with an outcome
    double contact_rate;        //  contacted / eligible (0 when none eligible)
    double success_rate;        //  accepted / eligible
    double conversion_per_contact;  //  accepted / contacted
    //  Uplift, per imported label (n_labels of them)
    size_t n_labels;
    uint64_t imported_contacted, imported_control;     //  customers imported
    double contacted_rate [WOB_TALLY_LABELS];   //  label share among contacted
    double control_rate [WOB_TALLY_LABELS];     //  label share among control
    double uplift [WOB_TALLY_LABELS];           //  contacted_rate - control_rate
} wob_report_row_t;

//  A whole report, as printed.
typedef struct {
    const char *wave;           //  "" for a campaign report
    const char *campaign;
    const char *by;             //  channel, region, worker, segment, day
    uint32_t level;             //  region level (1..4), 0 otherwise
    uint32_t waves;             //  waves summed
    const char **labels;        //  imported outcome labels
    size_t n_labels;
    wob_report_row_t *rows;
    size_t n_rows;
    wob_report_row_t total;
} wob_report_t;

//  Fills row from counts indexed by Wob__State and Wob__Outcome
//  (WOB_REPORT_SLOTS each; by_state are orders now in each state).
//  key "" is named "(none)".
void wob_report_row_counts (wob_report_row_t *row, const char *key,
                            const uint64_t *by_state, const uint64_t *by_outcome,
                            uint64_t contacted);
//  Fills row from a tally; control_base is the tally whose control group
//  a row without control customers is compared with (NULL: none).
void wob_report_row_tally (wob_report_row_t *row, const char *key, const wob_tally_t *tally,
                           const wob_tally_t *control_base, size_t n_labels);
//  Starts a total row (all zero, named "total").
void wob_report_total_init (wob_report_row_t *total);
//  Adds row to total and recomputes the total's rates (not the uplift).
void wob_report_total_add (wob_report_row_t *total, const wob_report_row_t *row);

//  Tallies: sum, and to / from the ReportRow message.
void wob_tally_add (wob_tally_t *sum, const wob_tally_t *tally);
void wob_tally_from_msg (wob_tally_t *tally, const Wob__ReportRow *msg);
//  Fills msg (initialised by the caller) with heap arrays;
//  wob_tally_msg_clear frees them.
void wob_tally_to_msg (Wob__ReportRow *msg, const wob_tally_t *tally);
void wob_tally_msg_clear (Wob__ReportRow *msg);

//  Builds the printable report from a Report reply (rows and total
//  allocated; wob_report_clear frees them).
void wob_report_from_msg (wob_report_t *report, const Wob__Report *msg);
void wob_report_clear (wob_report_t *report);

//  Writes one row as a JSON object; key_name names its key ("channel").
void wob_report_row_json (FILE *out, const char *key_name, const wob_report_row_t *row,
                          const char **labels);
//  The whole report as `wobctl report --json` prints it: {"wave",
//  "campaign", "by", "labels", "by_<by>": [rows], "total": row} (no newline).
void wob_report_json (FILE *out, const wob_report_t *report);
//  CSV with a header line; one column per label and measure for uplift.
void wob_report_csv (FILE *out, const wob_report_t *report);
//  A table for people.
void wob_report_table (FILE *out, const wob_report_t *report);

#ifdef __cplusplus
}
#endif
#endif
