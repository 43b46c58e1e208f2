/*  wob_csv.h - a small CSV reader and writer for files people edit:
    outcome sheets, import lists.

    The reader speaks RFC 4180 as lib/targets.c does (quoted fields with ""
    escapes, commas and line breaks inside quotes, CRLF or LF, a UTF-8 byte
    order mark, blank lines skipped) but knows nothing about the columns: it
    hands back each record's fields, and after wob_csv_header it checks the
    field count and names columns in its errors.  Every error names the
    file and the line where the record started ("outcomes.csv:7: field
    'note': not valid UTF-8").  A bad record is WOB_ROW_BAD and the reader
    carries on with the next; an unterminated quote at the end of the file
    and I/O errors are WOB_ROW_FATAL.                                      */

#ifndef WOB_CSV_H_INCLUDED
#define WOB_CSV_H_INCLUDED

#include "wob_targets.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _wob_csv_t wob_csv_t;

//  Opens a CSV file ("-" reads standard input).  NULL with err set.
wob_csv_t *wob_csv_open (const char *path, char *err);
void wob_csv_destroy (wob_csv_t **self_p);

//  Reads the first record as the header: column names, trimmed of blanks,
//  non-empty and distinct (case-insensitive).  Later records must have as
//  many fields.  Returns 0, or -1 with err set (empty file, bad header).
int wob_csv_header (wob_csv_t *self, char *err);
//  Index of the named column (case-insensitive), or -1.
int wob_csv_column (wob_csv_t *self, const char *name);

//  Reads the next record.  On WOB_ROW_OK, *fields_p holds *count_p
//  NUL-terminated fields, valid until the next call.  Fields are checked
//  for valid UTF-8 and NUL bytes; records over WOB_CSV_MAX_LINE bytes are
//  skipped as bad.
wob_row_t wob_csv_next (wob_csv_t *self, char ***fields_p, size_t *count_p, char *err);

//  Line in the file where the last record started (1-based).
uint64_t wob_csv_line (wob_csv_t *self);
//  The file name used in messages.
const char *wob_csv_path (wob_csv_t *self);

//  Writes value as one field, quoted when it holds a comma, a quote, a
//  line break or blanks at either end.  The caller writes the separators.
void wob_csv_field (FILE *out, const char *value);

#ifdef __cplusplus
}
#endif
#endif
