/*  wob_targets.h - wave input: the target CSV reader, the wave descriptor
    parser and the synthetic target generator.

    These run in the client (wobctl, campaign systems) so that bad input is
    refused with its file, line and field before anything reaches the broker.
    The broker validates what arrives again (see broker/intake.c).          */

#ifndef WOB_TARGETS_H_INCLUDED
#define WOB_TARGETS_H_INCLUDED

#include "wob.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WOB_CSV_MAX_LINE (64u * 1024)   //  longest accepted CSV record

//  Result of wob_targets_next.
typedef enum {
    WOB_ROW_OK = 0,     //  *target_p holds the row
    WOB_ROW_EOF = 1,    //  no more rows
    WOB_ROW_BAD = 2,    //  this row is invalid (err names line and field);
                        //  the reader is positioned at the next row
    WOB_ROW_FATAL = 3   //  cannot go on (I/O error, bad header, empty file)
} wob_row_t;

typedef struct _wob_targets_t wob_targets_t;

//  A target's field by name, as text: msisdn, customer_id, name, province,
//  city, district, grid, segment, lifecycle, preferred_channel, offer (the
//  first), offers (all, ", "-separated), arpu, tenure_months, priority, or
//  an extra CSV column.  Numbers and offers are written into buf (size
//  bytes).  NULL when the target has no such field.  (lib/fields.c)
const char *wob_target_field (const Wob__Target *target, const char *name, char *buf,
                              size_t size);
//  The customer's value tier by ARPU, as the call center's customer view
//  and the visit route sheet show it: "platinum" from 300, "gold" from 150
//  (the high value the call center serves), "silver" from 60, else
//  "bronze" (also for an unknown ARPU).
const char *wob_value_tier (double arpu);

//  Opens a target CSV and reads its header.  Required columns: msisdn and
//  offer; known columns are the Target fields; other columns become extra
//  fields.  Returns NULL with err set (file name and reason) on failure.
//  A path of "-" reads standard input.
wob_targets_t *wob_targets_open (const char *path, char *err);
void wob_targets_destroy (wob_targets_t **self_p);

//  Reads the next row.  A row's Target is heap allocated so that
//  wob__target__free_unpacked (target, NULL) frees it.  target->row is the
//  1-based data row (the header is not a row); err messages name the file
//  line ("targets.csv:7: field 'msisdn': ...").  A record longer than
//  WOB_CSV_MAX_LINE is skipped without being held in memory and counts as a
//  bad row; a quote left open at the end of the file is WOB_ROW_FATAL.
wob_row_t wob_targets_next (wob_targets_t *self, Wob__Target **target_p, char *err);

//  Line number in the file where the last returned record started.
uint64_t wob_targets_line (wob_targets_t *self);

//  Parses a wave descriptor (YAML or JSON; JSON is read as YAML).  On
//  success *wave_p is a heap Wave (free with wob__wave__free_unpacked) and
//  *targets_p the target CSV path resolved relative to the descriptor (free
//  with free; NULL when the descriptor names none).  Errors name the file,
//  line and key.
int wob_wavefile_load (const char *path, Wob__Wave **wave_p, char **targets_p,
                       char *err);

//  Writes count synthetic targets as CSV (with header) to out.  The same
//  seed always gives the same file.
int wob_gen_write (FILE *out, uint64_t count, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
