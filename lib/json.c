/*  json.c - JSON output for --json modes and the dashboard's API.  wob
    writes JSON with plain fprintf; what needs care is escaping strings,
    and an order's shape, which `wobctl status --json` and /api/orders
    must share.                                                          */

#include "wob.h"

void
wob_json_string (FILE *out, const char *s)
{
    fputc ('"', out);
    for (const unsigned char *p = (const unsigned char *) (s? s: ""); *p; p++) {
        switch (*p) {
            case '"':  fputs ("\\\"", out); break;
            case '\\': fputs ("\\\\", out); break;
            case '\n': fputs ("\\n", out); break;
            case '\r': fputs ("\\r", out); break;
            case '\t': fputs ("\\t", out); break;
            default:
                if (*p < 0x20)
                    fprintf (out, "\\u%04x", *p);
                else
                    fputc (*p, out);
        }
    }
    fputc ('"', out);
}

void
wob_order_json (FILE *out, const Wob__Order *o)
{
    fprintf (out, "{\"id\": %" PRIu64 ", \"state\": \"%s\", \"channel\": ", o->id,
             wob_state_name (o->state));
    wob_json_string (out, o->channel);
    fprintf (out, ", \"worker\": ");
    wob_json_string (out, o->worker);
    fprintf (out, ", \"wave\": ");
    wob_json_string (out, o->wave);
    fprintf (out, ", \"campaign\": ");
    wob_json_string (out, o->campaign);
    fprintf (out, ", \"msisdn\": ");
    wob_json_string (out, o->target? o->target->msisdn: "");
    fprintf (out, ", \"offers\": [");
    for (size_t i = 0; o->target && i < o->target->n_offers; i++) {
        fprintf (out, "%s", i? ", ": "");
        wob_json_string (out, o->target->offers [i]);
    }
    fprintf (out, "], \"attempts\": %u, \"outcome\": \"%s\", \"note\": ", o->attempts,
             wob_outcome_name (o->outcome));
    wob_json_string (out, o->outcome_note);
    fprintf (out, ", \"history\": [");
    for (size_t i = 0; i < o->n_history; i++) {
        const Wob__HistoryEntry *h = o->history [i];
        fprintf (out, "%s{\"at_ms\": %" PRId64 ", \"from\": \"%s\", \"to\": \"%s\", \"actor\": ",
                 i? ", ": "", h->at_ms, wob_state_name (h->from), wob_state_name (h->to));
        wob_json_string (out, h->actor);
        fprintf (out, ", \"reason\": ");
        wob_json_string (out, h->reason);
        fprintf (out, "}");
    }
    fprintf (out, "]}");
}
