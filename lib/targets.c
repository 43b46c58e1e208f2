/*  targets.c - the target CSV reader: one customer per row, streamed.

    Target files come from campaign systems and spreadsheets, run to millions
    of rows and are often wrong somewhere, so the reader

    - streams: the file is read through one fixed buffer (S_BUFSIZE) and each
      record is unquoted into one fixed record buffer of WOB_CSV_MAX_LINE
      bytes.  A longer record is not read into memory: the reader skips to
      its end (still honouring quotes) and reports the row as bad, so the
      caller can carry on with the next row;
    - speaks RFC 4180: quoted fields with "" escapes, commas and line breaks
      inside quotes, CRLF or LF line ends; plus a UTF-8 byte order mark at
      the start, which spreadsheets write; blank lines are skipped;
    - refuses bad input with the file, the line where the record started and
      the field: "targets.csv:7: field 'msisdn': empty".  A bad row returns
      WOB_ROW_BAD and the reader stays usable; a bad header, an empty file, an
      unterminated quote at the end of the file and I/O errors are fatal.

    Column names are matched case-insensitively after trimming blanks.  The
    values of msisdn, offer, arpu, tenure_months and priority are trimmed of
    blanks; other text is kept as written.  Empty arpu / tenure_months /
    priority mean 0.  The offer column may hold several offers separated by
    '|' (blank pieces are ignored), kept in order in Target.offers.  Columns
    the reader does not know become Target.extra fields, one per column on
    every row (value possibly empty), named as in the header.

    Parsing runs as one state machine over the read buffer with no function
    call per byte; a million typical rows take a fraction of a second.     */

#include "wob_targets.h"
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <strings.h>

#define S_BUFSIZE   (1024 * 1024)           //  fread buffer
#define S_RECSIZE   (WOB_CSV_MAX_LINE + 8)  //  unquoted record + NULs

//  What a column holds
typedef enum {
    COL_MSISDN, COL_CUSTOMER_ID, COL_NAME, COL_PROVINCE, COL_CITY,
    COL_DISTRICT, COL_GRID, COL_ARPU, COL_TENURE, COL_SEGMENT, COL_LIFECYCLE,
    COL_PREFERRED, COL_OFFER, COL_PRIORITY, COL_EXTRA
} s_column_t;

//  Known columns; offset is the Target string member for text columns
static const struct {
    const char *name;       //  header name
    s_column_t kind;        //  what the column holds
    size_t offset;          //  offsetof the char * member, or 0
} s_known [] = {
    { "msisdn",            COL_MSISDN,      0 },
    { "customer_id",       COL_CUSTOMER_ID, offsetof (Wob__Target, customer_id) },
    { "name",              COL_NAME,        offsetof (Wob__Target, name) },
    { "province",          COL_PROVINCE,    offsetof (Wob__Target, province) },
    { "city",              COL_CITY,        offsetof (Wob__Target, city) },
    { "district",          COL_DISTRICT,    offsetof (Wob__Target, district) },
    { "grid",              COL_GRID,        offsetof (Wob__Target, grid) },
    { "arpu",              COL_ARPU,        0 },
    { "tenure_months",     COL_TENURE,      0 },
    { "segment",           COL_SEGMENT,     offsetof (Wob__Target, segment) },
    { "lifecycle",         COL_LIFECYCLE,   offsetof (Wob__Target, lifecycle) },
    { "preferred_channel", COL_PREFERRED,   offsetof (Wob__Target, preferred_channel) },
    { "offer",             COL_OFFER,       0 },
    { "priority",          COL_PRIORITY,    0 }
};
#define S_KNOWN_COUNT (sizeof (s_known) / sizeof (s_known [0]))

//  Parser states within a record
typedef enum {
    S_START,                //  at the start of a field
    S_PLAIN,                //  in an unquoted field
    S_QUOTED,               //  in a quoted field
    S_QUOTE                 //  saw '"' in a quoted field: end or escape
} s_state_t;

//  What s_read_record found
typedef enum {
    S_REC_OK,               //  record in rec / fields
    S_REC_EOF,              //  no more records
    S_REC_LONG,             //  record over WOB_CSV_MAX_LINE, skipped
    S_REC_FATAL             //  I/O error, out of memory, unterminated quote
} s_rec_t;

struct _wob_targets_t {
    FILE *file;             //  input
    bool owns_file;         //  false for stdin ("-")
    char *path;             //  file name used in messages
    char *buf;              //  read buffer, S_BUFSIZE bytes
    size_t pos;             //  next unread byte in buf
    size_t end;             //  end of valid bytes in buf
    bool eof;               //  input exhausted
    char *rec;              //  current record, fields NUL-terminated
    size_t *fields;         //  start of each field in rec, plus a sentinel
    size_t nfields;         //  fields in the current record
    size_t maxfields;       //  allocated entries in fields
    bool junk;              //  text after a closing quote in the record
    size_t junk_field;      //  index of the first such field
    char **names;           //  header names, as written (trimmed)
    s_column_t *kinds;      //  kind of each header column
    size_t ncolumns;        //  columns in the header
    size_t nextra;          //  columns that become extra fields
    uint64_t line;          //  file line of the next unread byte, 1-based
    uint64_t rec_line;      //  file line where the last record started
    uint32_t row;           //  data rows read so far, bad ones included
    bool failed;            //  a fatal error was returned
};

static int
s_fill (wob_targets_t *self, char *err)
{
    if (self->eof)
        return 0;
    size_t n = fread (self->buf, 1, S_BUFSIZE, self->file);
    if (n == 0) {
        if (ferror (self->file))
            return wob_fail (err, -1, "%s:%llu: read error: %s", self->path,
                             (unsigned long long) self->line, strerror (errno));
        self->eof = true;
        return 0;
    }
    self->pos = 0;
    self->end = n;
    return 1;
}

static int
s_grow_fields (wob_targets_t *self)
{
    size_t max = self->maxfields * 2;
    size_t *fields = (size_t *) realloc (self->fields, max * sizeof (size_t));
    if (!fields)
        return -1;
    self->fields = fields;
    self->maxfields = max;
    return 0;
}

//  Name of column index for messages
static const char *
s_column_name (wob_targets_t *self, size_t index, char *buf, size_t size)
{
    if (self->names && index < self->ncolumns)
        return self->names [index];
    snprintf (buf, size, "#%zu", index + 1);
    return buf;
}

//  Skips the rest of an overlong record.  in_quotes says whether the cut
//  fell inside a quoted field.  Counts lines as it goes.
static s_rec_t
s_skip_record (wob_targets_t *self, bool in_quotes, char *err)
{
    for (;;) {
        if (self->pos == self->end) {
            int rc = s_fill (self, err);
            if (rc < 0)
                return S_REC_FATAL;
            if (rc == 0) {
                if (in_quotes) {
                    wob_fail (err, -1, "%s:%llu: quoted field never closed "
                              "(unterminated quote at end of file)", self->path,
                              (unsigned long long) self->rec_line);
                    return S_REC_FATAL;
                }
                return S_REC_LONG;
            }
        }
        const char *p = self->buf + self->pos;
        const char *end = self->buf + self->end;
        uint64_t line = self->line;
        while (p < end) {
            char c = *p++;
            if (c == '"')
                in_quotes = !in_quotes;
            else
            if (c == '\n') {
                line++;
                if (!in_quotes) {
                    self->line = line;
                    self->pos = p - self->buf;
                    return S_REC_LONG;
                }
            }
        }
        self->line = line;
        self->pos = self->end;
    }
}

//  Reads the next non-blank record into rec / fields.
static s_rec_t
s_read_record (wob_targets_t *self, char *err)
{
    char *rec = self->rec;
    char *o, *field_begin;
    s_state_t state;
    size_t raw;                     //  bytes of the record consumed
    size_t ignored;                 //  CRs dropped after closing quotes
    bool quoted;                    //  record has a quoted field
    bool newline;                   //  record ended with a line feed
    uint64_t line;

restart:
    o = field_begin = rec;
    state = S_START;
    raw = 0;
    ignored = 0;
    quoted = false;
    newline = false;
    self->nfields = 0;
    self->junk = false;
    self->rec_line = self->line;
    line = self->line;

    for (;;) {
        if (self->pos == self->end) {
            self->line = line;
            int rc = s_fill (self, err);
            if (rc < 0)
                return S_REC_FATAL;
            if (rc == 0)
                goto at_eof;
        }
        const char *p = self->buf + self->pos;
        const char *start = p;
        size_t avail = self->end - self->pos;
        //  Room for the longest record, a CR and the LF ending it
        size_t budget = WOB_CSV_MAX_LINE + 2 - raw;
        const char *limit = p + (avail < budget? avail: budget);

        while (p < limit) {
            char c = *p++;
            switch (state) {
                case S_PLAIN:
                plain:
                    if (c == ',')
                        goto end_field;
                    if (c == '\n')
                        goto end_record;
                    *o++ = c;
                    break;
                case S_START:
                    if (c == '"') {
                        state = S_QUOTED;
                        quoted = true;
                        break;
                    }
                    state = S_PLAIN;
                    goto plain;
                case S_QUOTED:
                    if (c == '"')
                        state = S_QUOTE;
                    else {
                        if (c == '\n')
                            line++;
                        *o++ = c;
                    }
                    break;
                case S_QUOTE:
                    if (c == '"') {
                        *o++ = '"';
                        state = S_QUOTED;
                    }
                    else
                    if (c == ',')
                        goto end_field;
                    else
                    if (c == '\n')
                        goto end_record;
                    else
                    if (c == '\r')
                        ignored++;
                    else {
                        //  Text after a closing quote: keep it, report it
                        if (!self->junk) {
                            self->junk = true;
                            self->junk_field = self->nfields;
                        }
                        *o++ = c;
                        state = S_PLAIN;
                    }
                    break;
            }
            continue;
        end_field:
            *o++ = 0;
            if (self->nfields + 2 > self->maxfields && s_grow_fields (self))
                goto no_memory;
            self->fields [self->nfields++] = field_begin - rec;
            field_begin = o;
            state = S_START;
            continue;
        end_record:
            raw += p - start;
            newline = true;
            line++;
            self->pos = p - self->buf;
            self->line = line;
            goto finish;
        }
        raw += p - start;
        self->pos = p - self->buf;
        if (raw >= WOB_CSV_MAX_LINE + 2) {
            self->line = line;
            return s_skip_record (self, state == S_QUOTED, err);
        }
    }

at_eof:
    if (raw == 0)
        return S_REC_EOF;
    if (state == S_QUOTED) {
        char name [32];
        wob_fail (err, -1, "%s:%llu: field '%s': quoted field never closed "
                  "(unterminated quote at end of file)", self->path,
                  (unsigned long long) self->rec_line,
                  s_column_name (self, self->nfields, name, sizeof (name)));
        return S_REC_FATAL;
    }
finish:
    raw -= newline + ignored;
    if (state == S_PLAIN && o > field_begin && o [-1] == '\r') {
        o--;                        //  CRLF line end
        raw--;
    }
    if (raw > WOB_CSV_MAX_LINE)
        return S_REC_LONG;          //  over by its last byte, read anyway
    *o++ = 0;
    if (self->nfields + 2 > self->maxfields && s_grow_fields (self))
        goto no_memory;
    self->fields [self->nfields++] = field_begin - rec;
    self->fields [self->nfields] = o - rec;     //  sentinel
    if (self->nfields == 1 && o - rec == 1 && !quoted)
        goto restart;               //  blank line
    return S_REC_OK;

no_memory:
    self->line = line;
    wob_fail (err, -1, "%s:%llu: out of memory", self->path,
              (unsigned long long) self->rec_line);
    return S_REC_FATAL;
}

//  Trims blanks (space, tab) from both ends of [*s, *s + *len)
static inline void
s_trim (const char **s, size_t *len)
{
    const char *p = *s;
    size_t n = *len;
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n && (p [n - 1] == ' ' || p [n - 1] == '\t'))
        n--;
    *s = p;
    *len = n;
}

static char *
s_strndup (const char *s, size_t len)
{
    char *copy = (char *) malloc (len + 1);
    if (copy) {
        memcpy (copy, s, len);
        copy [len] = 0;
    }
    return copy;
}

//  Parses a decimal number: [+-]digits[.digits][e[+-]digits].  Returns 0
//  or -1 when s is not such a number.
static int
s_parse_double (const char *s, size_t len, double *value)
{
    char tmp [64];
    if (len == 0 || len >= sizeof (tmp))
        return -1;
    size_t i = 0, digits = 0;
    if (s [i] == '+' || s [i] == '-')
        i++;
    while (i < len && s [i] >= '0' && s [i] <= '9') {
        i++;
        digits++;
    }
    if (i < len && s [i] == '.') {
        i++;
        while (i < len && s [i] >= '0' && s [i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return -1;
    if (i < len && (s [i] == 'e' || s [i] == 'E')) {
        i++;
        if (i < len && (s [i] == '+' || s [i] == '-'))
            i++;
        if (i == len)
            return -1;
        while (i < len && s [i] >= '0' && s [i] <= '9')
            i++;
    }
    if (i != len)
        return -1;
    memcpy (tmp, s, len);
    tmp [len] = 0;
    double d = strtod (tmp, NULL);
    if (!isfinite (d))
        return -1;
    *value = d;
    return 0;
}

//  Parses a decimal integer with optional sign within [min, max].
static int
s_parse_int (const char *s, size_t len, int64_t min, int64_t max, int64_t *value)
{
    size_t i = 0;
    bool negative = false;
    if (len && (s [0] == '+' || s [0] == '-')) {
        negative = s [0] == '-';
        i++;
    }
    if (i == len)
        return -1;
    int64_t v = 0;
    for (; i < len; i++) {
        if (s [i] < '0' || s [i] > '9')
            return -1;
        v = v * 10 + (s [i] - '0');
        if (v > (int64_t) 1 << 40)
            return -1;              //  far out of any range we accept
    }
    if (negative)
        v = -v;
    if (v < min || v > max)
        return -1;
    *value = v;
    return 0;
}

//  Splits offers on '|' into target->offers.  Returns number of offers or
//  -1 on out of memory.
static int
s_split_offers (Wob__Target *target, const char *s, size_t len)
{
    size_t pieces = 1;
    for (size_t i = 0; i < len; i++)
        if (s [i] == '|')
            pieces++;
    target->offers = (char **) calloc (pieces, sizeof (char *));
    if (!target->offers)
        return -1;
    const char *end = s + len;
    while (s <= end) {
        const char *bar = (const char *) memchr (s, '|', end - s);
        if (!bar)
            bar = end;
        const char *piece = s;
        size_t piece_len = bar - s;
        s_trim (&piece, &piece_len);
        if (piece_len) {
            char *offer = s_strndup (piece, piece_len);
            if (!offer)
                return -1;
            target->offers [target->n_offers++] = offer;
        }
        s = bar + 1;
    }
    return (int) target->n_offers;
}

//  Finds the field with invalid UTF-8 or a NUL byte in the current record
//  and describes it.
static void
s_describe_bad_text (wob_targets_t *self, char *err)
{
    for (size_t i = 0; i < self->nfields; i++) {
        const char *value = self->rec + self->fields [i];
        size_t len = self->fields [i + 1] - self->fields [i] - 1;
        char name [32];
        const char *column = s_column_name (self, i, name, sizeof (name));
        if (memchr (value, 0, len)) {
            wob_fail (err, -1, "%s:%llu: field '%s': contains a NUL byte",
                      self->path, (unsigned long long) self->rec_line, column);
            return;
        }
        if (!wob_utf8_valid (value, len)) {
            wob_fail (err, -1, "%s:%llu: field '%s': not valid UTF-8",
                      self->path, (unsigned long long) self->rec_line, column);
            return;
        }
    }
    wob_fail (err, -1, "%s:%llu: not valid UTF-8", self->path,
              (unsigned long long) self->rec_line);
}

//  True when the record's text is valid UTF-8 without stray NUL bytes
static bool
s_text_valid (wob_targets_t *self)
{
    const char *rec = self->rec;
    size_t size = self->fields [self->nfields];     //  includes NULs
    //  Each field ends in one NUL; any more is a NUL inside a field
    size_t nuls = 0;
    const char *p = rec, *end = rec + size;
    while (p < end && (p = (const char *) memchr (p, 0, end - p))) {
        nuls++;
        p++;
    }
    if (nuls != self->nfields)
        return false;
    return wob_utf8_valid (rec, size);
}

wob_targets_t *
wob_targets_open (const char *path, char *err)
{
    if (!path || !*path) {
        wob_fail (err, -1, "no target file given");
        return NULL;
    }
    wob_targets_t *self = (wob_targets_t *) calloc (1, sizeof (wob_targets_t));
    if (!self)
        goto no_memory;
    self->line = 1;
    self->path = strdup (path);
    self->buf = (char *) malloc (S_BUFSIZE);
    self->rec = (char *) malloc (S_RECSIZE);
    self->maxfields = 32;
    self->fields = (size_t *) malloc (self->maxfields * sizeof (size_t));
    if (!self->path || !self->buf || !self->rec || !self->fields)
        goto no_memory;
    if (streq (path, "-")) {
        self->file = stdin;
        self->owns_file = false;
    }
    else {
        self->file = fopen (path, "rb");
        self->owns_file = true;
        if (!self->file) {
            wob_fail (err, -1, "%s: cannot open: %s", path, strerror (errno));
            goto failed;
        }
    }
    //  A UTF-8 byte order mark, as spreadsheets write, is not data
    if (s_fill (self, err) < 0)
        goto failed;
    if (self->end - self->pos >= 3 && memcmp (self->buf, "\xEF\xBB\xBF", 3) == 0)
        self->pos += 3;

    s_rec_t rc = s_read_record (self, err);
    if (rc == S_REC_FATAL)
        goto failed;
    if (rc == S_REC_EOF) {
        wob_fail (err, -1, "%s: no header row (empty file)", path);
        goto failed;
    }
    if (rc == S_REC_LONG) {
        wob_fail (err, -1, "%s:%llu: header row longer than %u bytes", path,
                  (unsigned long long) self->rec_line, WOB_CSV_MAX_LINE);
        goto failed;
    }
    unsigned long long hline = self->rec_line;
    if (!s_text_valid (self)) {
        wob_fail (err, -1, "%s:%llu: header row is not valid UTF-8 text", path, hline);
        goto failed;
    }
    self->ncolumns = self->nfields;
    self->names = (char **) calloc (self->ncolumns, sizeof (char *));
    self->kinds = (s_column_t *) calloc (self->ncolumns, sizeof (s_column_t));
    if (!self->names || !self->kinds)
        goto no_memory;
    bool seen [S_KNOWN_COUNT] = { false };
    for (size_t i = 0; i < self->ncolumns; i++) {
        const char *name = self->rec + self->fields [i];
        size_t len = self->fields [i + 1] - self->fields [i] - 1;
        s_trim (&name, &len);
        if (len == 0) {
            wob_fail (err, -1, "%s:%llu: column %zu has an empty name in the header",
                      path, hline, i + 1);
            goto failed;
        }
        self->names [i] = s_strndup (name, len);
        if (!self->names [i])
            goto no_memory;
        for (size_t j = 0; j < i; j++)
            if (strcasecmp (self->names [j], self->names [i]) == 0) {
                wob_fail (err, -1, "%s:%llu: duplicate column '%s' (columns %zu and %zu)",
                          path, hline, self->names [i], j + 1, i + 1);
                goto failed;
            }
        self->kinds [i] = COL_EXTRA;
        for (size_t k = 0; k < S_KNOWN_COUNT; k++)
            if (strcasecmp (s_known [k].name, self->names [i]) == 0) {
                self->kinds [i] = s_known [k].kind;
                seen [k] = true;
            }
        if (self->kinds [i] == COL_EXTRA)
            self->nextra++;
    }
    for (size_t k = 0; k < S_KNOWN_COUNT; k++)
        if ((s_known [k].kind == COL_MSISDN || s_known [k].kind == COL_OFFER) && !seen [k]) {
            wob_fail (err, -1, "%s:%llu: header has no '%s' column (required: msisdn, offer)",
                      path, hline, s_known [k].name);
            goto failed;
        }
    return self;

no_memory:
    wob_fail (err, -1, "%s: out of memory", path);
failed:
    wob_targets_destroy (&self);
    return NULL;
}

void
wob_targets_destroy (wob_targets_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wob_targets_t *self = *self_p;
    if (self->file && self->owns_file)
        fclose (self->file);
    if (self->names)
        for (size_t i = 0; i < self->ncolumns; i++)
            free (self->names [i]);
    free (self->names);
    free (self->kinds);
    free (self->fields);
    free (self->rec);
    free (self->buf);
    free (self->path);
    free (self);
    *self_p = NULL;
}

uint64_t
wob_targets_line (wob_targets_t *self)
{
    return self? self->rec_line: 0;
}

//  Builds a Target from the current record.  Returns WOB_ROW_OK,
//  WOB_ROW_BAD or WOB_ROW_FATAL (out of memory).
static wob_row_t
s_build_target (wob_targets_t *self, Wob__Target **target_p, char *err)
{
    unsigned long long line = self->rec_line;
    Wob__Target *target = (Wob__Target *) malloc (sizeof (Wob__Target));
    if (!target)
        goto no_memory;
    wob__target__init (target);
    target->row = self->row;
    if (self->nextra) {
        target->extra = (Wob__Field **) calloc (self->nextra, sizeof (Wob__Field *));
        if (!target->extra)
            goto no_memory;
    }
    for (size_t i = 0; i < self->ncolumns; i++) {
        const char *value = self->rec + self->fields [i];
        size_t len = self->fields [i + 1] - self->fields [i] - 1;
        s_column_t kind = self->kinds [i];
        if (kind == COL_EXTRA) {
            Wob__Field *field = (Wob__Field *) malloc (sizeof (Wob__Field));
            if (!field)
                goto no_memory;
            wob__field__init (field);
            target->extra [target->n_extra++] = field;
            field->key = strdup (self->names [i]);
            if (!field->key)
                goto no_memory;
            if (len) {
                field->value = s_strndup (value, len);
                if (!field->value)
                    goto no_memory;
            }
            continue;
        }
        if (kind != COL_MSISDN && kind != COL_OFFER && kind != COL_ARPU
        &&  kind != COL_TENURE && kind != COL_PRIORITY) {
            if (len) {
                size_t k = 0;
                while (s_known [k].kind != kind)
                    k++;
                char *copy = s_strndup (value, len);
                if (!copy)
                    goto no_memory;
                *(char **) ((char *) target + s_known [k].offset) = copy;
            }
            continue;
        }
        s_trim (&value, &len);
        const char *column = self->names [i];
        if (kind == COL_MSISDN) {
            if (len == 0) {
                wob_fail (err, -1, "%s:%llu: field '%s': empty (a phone number is required)",
                          self->path, line, column);
                goto bad;
            }
            size_t j = value [0] == '+'? 1: 0;
            size_t digits = len - j;
            for (; j < len; j++)
                if (value [j] < '0' || value [j] > '9')
                    break;
            if (j < len || digits < 5 || digits > 15) {
                wob_fail (err, -1, "%s:%llu: field '%s': '%.*s' is not a phone number "
                          "(5 to 15 digits, optional leading '+')", self->path, line,
                          column, (int) (len > 40? 40: len), value);
                goto bad;
            }
            target->msisdn = s_strndup (value, len);
            if (!target->msisdn)
                goto no_memory;
        }
        else
        if (kind == COL_OFFER) {
            int offers = s_split_offers (target, value, len);
            if (offers < 0)
                goto no_memory;
            if (offers == 0) {
                wob_fail (err, -1, "%s:%llu: field '%s': empty (at least one offer is required)",
                          self->path, line, column);
                goto bad;
            }
        }
        else
        if (len == 0)
            ;                       //  empty number: 0
        else
        if (kind == COL_ARPU) {
            if (s_parse_double (value, len, &target->arpu) || target->arpu < 0) {
                wob_fail (err, -1, "%s:%llu: field '%s': '%.*s' is not a non-negative number",
                          self->path, line, column, (int) (len > 40? 40: len), value);
                goto bad;
            }
        }
        else
        if (kind == COL_TENURE) {
            int64_t v;
            if (s_parse_int (value, len, 0, UINT32_MAX, &v)) {
                wob_fail (err, -1, "%s:%llu: field '%s': '%.*s' is not a whole number of months",
                          self->path, line, column, (int) (len > 40? 40: len), value);
                goto bad;
            }
            target->tenure_months = (uint32_t) v;
        }
        else {
            int64_t v;
            if (s_parse_int (value, len, INT32_MIN, INT32_MAX, &v)) {
                wob_fail (err, -1, "%s:%llu: field '%s': '%.*s' is not an integer",
                          self->path, line, column, (int) (len > 40? 40: len), value);
                goto bad;
            }
            target->priority = (int32_t) v;
        }
    }
    *target_p = target;
    return WOB_ROW_OK;

bad:
    wob__target__free_unpacked (target, NULL);
    return WOB_ROW_BAD;

no_memory:
    if (target)
        wob__target__free_unpacked (target, NULL);
    wob_fail (err, -1, "%s:%llu: out of memory", self->path, line);
    return WOB_ROW_FATAL;
}

wob_row_t
wob_targets_next (wob_targets_t *self, Wob__Target **target_p, char *err)
{
    *target_p = NULL;
    if (!self)
        return wob_fail (err, WOB_ROW_FATAL, "no target reader");
    if (self->failed)
        return wob_fail (err, WOB_ROW_FATAL, "%s: reader stopped after an earlier error",
                         self->path);
    s_rec_t rc = s_read_record (self, err);
    if (rc == S_REC_EOF)
        return WOB_ROW_EOF;
    if (rc == S_REC_FATAL) {
        self->failed = true;
        return WOB_ROW_FATAL;
    }
    self->row++;
    unsigned long long line = self->rec_line;
    if (rc == S_REC_LONG)
        return wob_fail (err, WOB_ROW_BAD, "%s:%llu: record longer than %u bytes, skipped",
                         self->path, line, WOB_CSV_MAX_LINE);
    if (self->nfields != self->ncolumns)
        return wob_fail (err, WOB_ROW_BAD, "%s:%llu: %zu field%s, header has %zu",
                         self->path, line, self->nfields, self->nfields == 1? "": "s",
                         self->ncolumns);
    if (!s_text_valid (self)) {
        s_describe_bad_text (self, err);
        return WOB_ROW_BAD;
    }
    if (self->junk) {
        char name [32];
        return wob_fail (err, WOB_ROW_BAD, "%s:%llu: field '%s': text after the closing quote",
                         self->path, line,
                         s_column_name (self, self->junk_field, name, sizeof (name)));
    }
    wob_row_t row = s_build_target (self, target_p, err);
    if (row == WOB_ROW_FATAL)
        self->failed = true;
    return row;
}
