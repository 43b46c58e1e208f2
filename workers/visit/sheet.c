/*  sheet.c - the route sheet: the manager's held orders in walking order.

    Orders are grouped by district (province / city / district) and grid,
    and sorted within a grid by address: the target's "address" column when
    the wave's CSV had one (any extra column named address or 地址), then
    the order id.  Sorting is by bytes (strcmp), the same order as
    `LC_ALL=C sort`, so scripts can check it.

    Each order shows the customer view an account manager needs at the
    door: name, number, ARPU and value tier, tenure, segment, lifecycle,
    preferred channel, and the offers in priority order; an order that came
    back from an appointment shows when it was booked for.

    CSV: one header row, fields quoted where needed (wob_csv_field), and
    the empty outcome columns order_id ... outcome, note, appointment that
    `wob-visit report` reads back, so the sheet itself is the outcome
    file: fill in the last three columns and report it.
    HTML: one self-contained printable page (inline CSS, no script), every
    text escaped, UTF-8; one section per district, one table per grid,
    tick boxes for the outcome and room for notes; the waves' scripts at
    the end.                                                            */

#include "visit.h"
#include "wob_csv.h"
#include <math.h>
#include <strings.h>


static const char *
s_text (const char *s)
{
    return s? s: "";
}

//  The target's street address, from an extra column, or "".
static const char *
s_address (Wob__Target *t)
{
    for (size_t i = 0; i < t->n_extra; i++)
        if (strcasecmp (t->extra [i]->key, "address") == 0 || streq (t->extra [i]->key, "地址"))
            return s_text (t->extra [i]->value);
    return "";
}

static Wob__Target s_empty = WOB__TARGET__INIT;

static Wob__Target *
s_target (Wob__LeaseItem *item)
{
    return item->order->target? item->order->target: &s_empty;
}

static int
s_compare (const void *a, const void *b)
{
    Wob__LeaseItem *x = *(Wob__LeaseItem **) a, *y = *(Wob__LeaseItem **) b;
    Wob__Target *s = s_target (x), *t = s_target (y);
    const char *keys_s [] = { s->province, s->city, s->district, s->grid, s_address (s) };
    const char *keys_t [] = { t->province, t->city, t->district, t->grid, s_address (t) };
    for (size_t i = 0; i < 5; i++) {
        int c = strcmp (s_text (keys_s [i]), s_text (keys_t [i]));
        if (c)
            return c;
    }
    return x->order->id < y->order->id? -1: x->order->id > y->order->id;
}

//  The held orders in sheet order; caller frees the array (not the items).
static Wob__LeaseItem **
s_sorted (state_t *state, size_t *count)
{
    uint64_t *ids = state_ids (state, count);
    Wob__LeaseItem **items = calloc (*count + 1, sizeof (Wob__LeaseItem *));
    for (size_t i = 0; i < *count; i++)
        items [i] = state_order (state, ids [i]);
    free (ids);
    qsort (items, *count, sizeof (Wob__LeaseItem *), s_compare);
    return items;
}

static void
s_offers (FILE *out, Wob__Target *t, const char *separator)
{
    for (size_t i = 0; i < t->n_offers; i++)
        fprintf (out, "%s%s", i? separator: "", t->offers [i]);
}

static char *
s_time (int64_t ms, char *buf, size_t size)
{
    if (ms <= 0)
        *buf = 0;
    else
        wob_format_time (ms, buf, size);
    return buf;
}

//  --- CSV ------------------------------------------------------------------

static const char *s_csv_columns [] = {
    "order_id", "attempt", "province", "city", "district", "grid", "address", "name",
    "msisdn", "customer_id", "arpu", "tier", "tenure_months", "segment", "lifecycle",
    "preferred_channel", "offers", "campaign", "wave", "booked_at", "lease_until",
    "outcome", "note", "appointment"
};

static void
s_csv (FILE *out, Wob__LeaseItem **items, size_t count, bool bom)
{
    if (bom)
        fputs ("\xEF\xBB\xBF", out);
    size_t n_columns = sizeof (s_csv_columns) / sizeof (s_csv_columns [0]);
    for (size_t i = 0; i < n_columns; i++)
        fprintf (out, "%s%s", i? ",": "", s_csv_columns [i]);
    fputc ('\n', out);
    for (size_t i = 0; i < count; i++) {
        Wob__Order *o = items [i]->order;
        Wob__Target *t = s_target (items [i]);
        char arpu [32], offers [2048] = "", booked [32], lease [32];
        snprintf (arpu, sizeof (arpu), "%.2f", isfinite (t->arpu)? t->arpu: 0.0);
        FILE *list = fmemopen (offers, sizeof (offers) - 1, "w");
        if (list) {
            s_offers (list, t, "|");
            fclose (list);
        }
        const char *values [] = {
            t->province, t->city, t->district, t->grid, s_address (t), t->name, t->msisdn,
            t->customer_id, arpu, wob_value_tier (t->arpu)
        };
        fprintf (out, "%" PRIu64 ",%u", o->id, o->attempts);
        for (size_t v = 0; v < sizeof (values) / sizeof (values [0]); v++) {
            fputc (',', out);
            wob_csv_field (out, s_text (values [v]));
        }
        fprintf (out, ",%u", t->tenure_months);
        const char *more [] = {
            t->segment, t->lifecycle, t->preferred_channel, offers, o->campaign, o->wave,
            s_time (o->callback_at_ms, booked, sizeof (booked)),
            s_time (o->lease_deadline_ms, lease, sizeof (lease))
        };
        for (size_t v = 0; v < sizeof (more) / sizeof (more [0]); v++) {
            fputc (',', out);
            wob_csv_field (out, s_text (more [v]));
        }
        fputs (",,,\n", out);       //  outcome, note, appointment: for the manager
    }
}

//  --- HTML -----------------------------------------------------------------

static void
s_html_text (FILE *out, const char *s)
{
    for (const char *p = s_text (s); *p; p++)
        switch (*p) {
            case '&':  fputs ("&amp;", out); break;
            case '<':  fputs ("&lt;", out); break;
            case '>':  fputs ("&gt;", out); break;
            case '"':  fputs ("&quot;", out); break;
            case '\'': fputs ("&#39;", out); break;
            default:   fputc (*p, out);
        }
}

static const char s_css [] =
    "body{font:11pt/1.35 system-ui,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;"
    "margin:1.5em;color:#111}\n"
    "h1{font-size:16pt;margin:0}h2{font-size:13pt;margin:1.2em 0 .3em;"
    "border-bottom:2px solid #333}h3{font-size:11.5pt;margin:.8em 0 .3em}\n"
    ".count{font-weight:normal;color:#555}.meta{color:#444;margin:.2em 0 1em}\n"
    "table{border-collapse:collapse;width:100%;margin-bottom:.6em}\n"
    "th,td{border:1px solid #999;padding:3px 5px;vertical-align:top;text-align:left}\n"
    "th{background:#eee;font-weight:600}td.num{text-align:right;white-space:nowrap}\n"
    ".small{font-size:9pt;color:#444}.booked{font-weight:600}.offers{white-space:nowrap}\n"
    ".outcome{font-size:8.5pt;width:15em}.outcome span{white-space:nowrap}"
    ".note{min-width:12em}\n"
    ".script{white-space:pre-wrap;border-left:3px solid #999;padding-left:.6em}\n"
    "a{color:inherit;text-decoration:none}\n"
    "@page{size:A4 landscape;margin:12mm}\n"
    "@media print{body{margin:0}section.district+section.district{break-before:page}"
    "tr{break-inside:avoid}thead{display:table-header-group}}\n";

static const char *s_outcome_boxes [] = {
    "accepted", "interested", "declined", "unreachable", "wrong_number", "callback", "failed"
};

static void
s_html_row (FILE *out, size_t n, Wob__LeaseItem *item)
{
    Wob__Order *o = item->order;
    Wob__Target *t = s_target (item);
    char when [32];
    fprintf (out, "<tr><td class=num>%zu</td><td class=num>%" PRIu64 "</td><td>", n, o->id);
    s_html_text (out, t->name);
    if (*s_address (t)) {
        fputs ("<div class=small>", out);
        s_html_text (out, s_address (t));
        fputs ("</div>", out);
    }
    fputs ("<div class=small>", out);
    s_html_text (out, t->customer_id);
    fputs ("</div></td><td class=num><a href=\"tel:", out);
    s_html_text (out, t->msisdn);
    fputs ("\">", out);
    s_html_text (out, t->msisdn);
    fprintf (out, "</a></td><td class=num>%.2f<div class=small>%s</div></td>"
             "<td class=num>%u</td><td>", isfinite (t->arpu)? t->arpu: 0.0, wob_value_tier (t->arpu),
             t->tenure_months);
    s_html_text (out, t->segment);
    fputs ("</td><td>", out);
    s_html_text (out, t->lifecycle);
    fputs ("</td><td>", out);
    s_html_text (out, t->preferred_channel);
    fputs ("</td><td class=offers>", out);
    for (size_t i = 0; i < t->n_offers; i++) {
        fputs (i? "<br>": "", out);
        s_html_text (out, t->offers [i]);
    }
    fputs ("</td><td>", out);
    if (o->callback_at_ms > 0) {
        fputs ("<span class=booked>", out);
        s_html_text (out, wob_format_time (o->callback_at_ms, when, sizeof (when)));
        fputs ("</span>", out);
    }
    fputs ("</td><td class=outcome>", out);
    for (size_t i = 0; i < sizeof (s_outcome_boxes) / sizeof (s_outcome_boxes [0]); i++)
        fprintf (out, "%s<span>&#9744; %s</span>", i? " ": "", s_outcome_boxes [i]);
    fputs ("</td><td class=note></td></tr>\n", out);
}

static void
s_html_table_head (FILE *out)
{
    fputs ("<table><thead><tr><th>#</th><th>Order</th><th>Customer</th><th>Number</th>"
           "<th>ARPU / tier</th><th>Months</th><th>Segment</th><th>Lifecycle</th>"
           "<th>Prefers</th><th>Offers</th><th>Booked</th><th>Outcome</th>"
           "<th>Note / appointment</th></tr></thead><tbody>\n", out);
}

//  Orders from items [from] on with the same keys [0..depth).
static size_t
s_run (Wob__LeaseItem **items, size_t count, size_t from, int depth)
{
    Wob__Target *first = s_target (items [from]);
    size_t end = from + 1;
    for (; end < count; end++) {
        Wob__Target *t = s_target (items [end]);
        const char *a [] = { first->province, first->city, first->district, first->grid };
        const char *b [] = { t->province, t->city, t->district, t->grid };
        bool same = true;
        for (int k = 0; k < depth && same; k++)
            same = streq (s_text (a [k]), s_text (b [k]));
        if (!same)
            break;
    }
    return end - from;
}

static void
s_html (FILE *out, state_t *state, Wob__LeaseItem **items, size_t count)
{
    char now [32];
    fputs ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           "<title>Route sheet: ", out);
    s_html_text (out, state_manager (state));
    fprintf (out, "</title>\n<style>\n%s</style></head><body>\n<h1>Route sheet: ", s_css);
    s_html_text (out, state_manager (state));
    fputs ("</h1>\n<p class=meta>", out);
    const char **owns;
    size_t n_owns = state_owns (state, &owns);
    fputs ("Owns ", out);
    for (size_t i = 0; i < n_owns; i++) {
        fputs (i? ", ": "", out);
        s_html_text (out, owns [i]);
    }
    fprintf (out, " &middot; %zu order%s &middot; printed %s</p>\n", count, count == 1? "": "s",
             wob_format_time (wob_now_ms (), now, sizeof (now)));
    if (!count)
        fputs ("<p>No orders held: run <code>wob-visit sync</code>.</p>\n", out);
    size_t n = 0;
    for (size_t d = 0; d < count; ) {
        size_t in_district = s_run (items, count, d, 3);
        Wob__Target *t = s_target (items [d]);
        fputs ("<section class=district><h2>", out);
        s_html_text (out, *s_text (t->province)? t->province: "(no province)");
        fputs (" / ", out);
        s_html_text (out, *s_text (t->city)? t->city: "(no city)");
        fputs (" / ", out);
        s_html_text (out, *s_text (t->district)? t->district: "(no district)");
        fprintf (out, " <span class=count>(%zu)</span></h2>\n", in_district);
        for (size_t g = d; g < d + in_district; ) {
            size_t in_grid = s_run (items, count, g, 4);
            const char *grid = s_text (s_target (items [g])->grid);
            fputs ("<h3>Grid ", out);
            s_html_text (out, *grid? grid: "(none)");
            fprintf (out, " <span class=count>(%zu)</span></h3>\n", in_grid);
            s_html_table_head (out);
            for (size_t i = g; i < g + in_grid; i++)
                s_html_row (out, ++n, items [i]);
            fputs ("</tbody></table>\n", out);
            g += in_grid;
        }
        fputs ("</section>\n", out);
        d += in_district;
    }
    //  The waves' scripts, once each
    zhashx_t *seen = zhashx_new ();
    bool heading = false;
    for (size_t i = 0; i < count; i++) {
        Wob__Order *o = items [i]->order;
        const char *script = s_text (items [i]->script);
        if (!*script || zhashx_lookup (seen, s_text (o->wave)))
            continue;
        zhashx_insert (seen, s_text (o->wave), (void *) script);
        if (!heading)
            fputs ("<section class=scripts><h2>Scripts</h2>\n", out);
        heading = true;
        fputs ("<h3>Wave ", out);
        s_html_text (out, o->wave);
        fputs (" <span class=count>(campaign ", out);
        s_html_text (out, o->campaign);
        fputs (")</span></h3>\n<p class=script>", out);
        s_html_text (out, script);
        fputs ("</p>\n", out);
    }
    if (heading)
        fputs ("</section>\n", out);
    zhashx_destroy (&seen);
    fputs ("</body></html>\n", out);
}

int
sheet_write (state_t *state, const char *format, bool bom, FILE *out, char *err)
{
    if (!streq (format, "csv") && !streq (format, "html"))
        return wob_fail (err, WOB_ERR_INVALID, "--format '%s': expected csv or html", format);
    size_t count;
    Wob__LeaseItem **items = s_sorted (state, &count);
    if (streq (format, "csv"))
        s_csv (out, items, count, bom);
    else
        s_html (out, state, items, count);
    free (items);
    if (fflush (out) || ferror (out))
        return wob_fail (err, WOB_ERR_IO, "cannot write the sheet: %s", strerror (errno));
    return 0;
}
