/*  json.c - JSON string output for --json modes.  wob writes JSON with
    plain fprintf; the one thing that needs care is escaping strings.    */

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
