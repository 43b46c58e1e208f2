/*  csv.c - a generic CSV reader and writer (see wob_csv.h).

    lib/targets.c reads the big target files with a hand-tuned parser that
    knows the Target columns.  The files this module serves are small and
    written by people (an account manager's day of outcomes, an import
    list), so it trades speed for simplicity: one getc loop that unquotes a
    record into a growing buffer, with the same rules and the same kind of
    errors as the target reader - file, line where the record started,
    field by name once the header is known.                             */

#include "wob_csv.h"
#include <strings.h>

struct _wob_csv_t {
    FILE *file;                 //  input
    bool owns_file;             //  false for stdin
    char *path;                 //  file name for messages
    char *rec;                  //  current record, fields NUL-terminated
    size_t rec_size, rec_cap;   //  bytes used / allocated in rec
    size_t *starts;             //  start of each field in rec, plus a sentinel
    char **fields;              //  pointers handed to the caller
    size_t n_fields, fields_cap;
    char **names;               //  header names (after wob_csv_header)
    size_t n_names;
    uint64_t line;              //  line of the next unread byte
    uint64_t rec_line;          //  line where the last record started
    int ahead [3];              //  bytes read to look for a byte order mark
    size_t n_ahead, ahead_pos;  //  how many, and the next one to hand out
};

//  What s_read found
typedef enum { S_OK, S_EOF, S_LONG, S_JUNK, S_OPEN_QUOTE } s_read_t;

wob_csv_t *
wob_csv_open (const char *path, char *err)
{
    if (!path || !*path) {
        wob_fail (err, WOB_ERR_INVALID, "no CSV file given");
        return NULL;
    }
    wob_csv_t *self = calloc (1, sizeof (wob_csv_t));
    if (!self) {
        wob_fail (err, WOB_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    self->path = strdup (path);
    self->line = 1;
    if (streq (path, "-"))
        self->file = stdin;
    else {
        self->file = fopen (path, "rb");
        self->owns_file = true;
        if (!self->file) {
            wob_fail (err, WOB_ERR_IO, "%s: cannot open: %s", path, strerror (errno));
            self->owns_file = false;
            wob_csv_destroy (&self);
            return NULL;
        }
    }
    //  A UTF-8 byte order mark, as spreadsheets write, is not data
    while (self->n_ahead < 3) {
        int c = getc_unlocked (self->file);
        if (c == EOF)
            break;
        self->ahead [self->n_ahead++] = c;
    }
    if (self->n_ahead == 3 && self->ahead [0] == 0xEF && self->ahead [1] == 0xBB
    &&  self->ahead [2] == 0xBF)
        self->n_ahead = 0;
    return self;
}

void
wob_csv_destroy (wob_csv_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wob_csv_t *self = *self_p;
    if (self->owns_file)
        fclose (self->file);
    for (size_t i = 0; i < self->n_names; i++)
        free (self->names [i]);
    free (self->names);
    free (self->fields);
    free (self->starts);
    free (self->rec);
    free (self->path);
    free (self);
    *self_p = NULL;
}

uint64_t wob_csv_line (wob_csv_t *self) { return self->rec_line; }
const char *wob_csv_path (wob_csv_t *self) { return self->path; }

static void
s_put (wob_csv_t *self, char c)
{
    if (self->rec_size == self->rec_cap) {
        self->rec_cap = self->rec_cap? self->rec_cap * 2: 256;
        self->rec = realloc (self->rec, self->rec_cap);
    }
    self->rec [self->rec_size++] = c;
}

//  Ends the field that started at *start; keeps the sentinel after it.
static void
s_end_field (wob_csv_t *self, size_t *start)
{
    s_put (self, 0);
    if (self->n_fields + 2 > self->fields_cap) {
        self->fields_cap = self->fields_cap? self->fields_cap * 2: 16;
        self->starts = realloc (self->starts, self->fields_cap * sizeof (size_t));
        self->fields = realloc (self->fields, self->fields_cap * sizeof (char *));
    }
    self->starts [self->n_fields++] = *start;
    self->starts [self->n_fields] = self->rec_size;
    *start = self->rec_size;
}

static int
s_getc (wob_csv_t *self)
{
    if (self->ahead_pos < self->n_ahead)
        return self->ahead [self->ahead_pos++];
    return getc_unlocked (self->file);
}

//  Reads one record (blank lines skipped).  *junk_field is the field with
//  text after its closing quote (S_JUNK: the record is read to its end).
static s_read_t
s_read (wob_csv_t *self, size_t *junk_field)
{
    enum { START, PLAIN, QUOTED, QUOTE } state;
    bool junk, any, inside;
    size_t start;
    int c;
again:
    state = START;
    junk = any = inside = false;
    start = self->rec_size = self->n_fields = 0;
    self->rec_line = self->line;
    while ((c = s_getc (self)) != EOF) {
        any = true;
        if (c == '\n')
            self->line++;
        if (self->rec_size > WOB_CSV_MAX_LINE) {
            //  Too long: skip to the end of the record, honouring quotes
            if (c == '"')
                inside = !inside;
            else
            if (c == '\n' && !inside)
                return S_LONG;
            continue;
        }
        switch (state) {
            case START:
                if (c == '"') {
                    state = QUOTED;
                    break;
                }
                state = PLAIN;
                //  fall through
            case PLAIN:
                if (c == ',') {
                    s_end_field (self, &start);
                    state = START;
                }
                else
                if (c == '\n')
                    goto end;
                else
                    s_put (self, (char) c);
                break;
            case QUOTED:
                if (c == '"')
                    state = QUOTE;
                else
                    s_put (self, (char) c);
                break;
            case QUOTE:
                if (c == '"') {
                    s_put (self, '"');
                    state = QUOTED;
                }
                else
                if (c == ',') {
                    s_end_field (self, &start);
                    state = START;
                }
                else
                if (c == '\n')
                    goto end;
                else
                if (c != '\r') {
                    if (!junk)
                        *junk_field = self->n_fields;
                    junk = true;
                    s_put (self, (char) c);
                    state = PLAIN;
                }
                break;
        }
        inside = state == QUOTED;
    }
    if (self->rec_size > WOB_CSV_MAX_LINE)
        return inside? S_OPEN_QUOTE: S_LONG;
    if (!any)
        return S_EOF;
    if (state == QUOTED)
        return S_OPEN_QUOTE;
end:
    if (state == PLAIN && self->rec_size > start && self->rec [self->rec_size - 1] == '\r')
        self->rec_size--;           //  CRLF
    bool blank = state == START || (state == PLAIN && self->rec_size == start);
    s_end_field (self, &start);
    if (self->n_fields == 1 && blank)
        goto again;                 //  blank line
    for (size_t i = 0; i < self->n_fields; i++)
        self->fields [i] = self->rec + self->starts [i];
    return junk? S_JUNK: S_OK;
}

static const char *
s_name (wob_csv_t *self, size_t index, char *buf, size_t size)
{
    if (index < self->n_names)
        return self->names [index];
    snprintf (buf, size, "#%zu", index + 1);
    return buf;
}

wob_row_t
wob_csv_next (wob_csv_t *self, char ***fields_p, size_t *count_p, char *err)
{
    size_t junk_field = 0;
    char name [32];
    unsigned long long line;
    s_read_t rc = s_read (self, &junk_field);
    line = self->rec_line;
    *fields_p = NULL;
    *count_p = 0;
    if (ferror (self->file))
        return wob_fail (err, WOB_ROW_FATAL, "%s:%llu: read error: %s", self->path,
                         (unsigned long long) self->line, strerror (errno));
    if (rc == S_EOF)
        return WOB_ROW_EOF;
    if (rc == S_OPEN_QUOTE)
        return wob_fail (err, WOB_ROW_FATAL, "%s:%llu: quoted field never closed "
                         "(unterminated quote at end of file)", self->path, line);
    if (rc == S_LONG)
        return wob_fail (err, WOB_ROW_BAD, "%s:%llu: record longer than %u bytes, skipped",
                         self->path, line, WOB_CSV_MAX_LINE);
    if (rc == S_JUNK)
        return wob_fail (err, WOB_ROW_BAD, "%s:%llu: field '%s': text after the closing quote",
                         self->path, line, s_name (self, junk_field, name, sizeof (name)));
    for (size_t i = 0; i < self->n_fields; i++) {
        //  len counts the field's NUL: another NUL inside is a stray byte
        size_t len = self->starts [i + 1] - self->starts [i];
        if (strlen (self->fields [i]) + 1 != len)
            return wob_fail (err, WOB_ROW_BAD, "%s:%llu: field '%s': contains a NUL byte",
                             self->path, line, s_name (self, i, name, sizeof (name)));
        if (!wob_utf8_valid (self->fields [i], len - 1))
            return wob_fail (err, WOB_ROW_BAD, "%s:%llu: field '%s': not valid UTF-8",
                             self->path, line, s_name (self, i, name, sizeof (name)));
    }
    if (self->n_names && self->n_fields != self->n_names)
        return wob_fail (err, WOB_ROW_BAD, "%s:%llu: %zu field%s, header has %zu", self->path,
                         line, self->n_fields, self->n_fields == 1? "": "s", self->n_names);
    *fields_p = self->fields;
    *count_p = self->n_fields;
    return WOB_ROW_OK;
}

int
wob_csv_header (wob_csv_t *self, char *err)
{
    char **fields;
    size_t count;
    wob_row_t rc = wob_csv_next (self, &fields, &count, err);
    if (rc == WOB_ROW_EOF)
        return wob_fail (err, -1, "%s: no header row (empty file)", self->path);
    if (rc != WOB_ROW_OK)
        return -1;
    unsigned long long line = self->rec_line;
    char **names = calloc (count, sizeof (char *));
    for (size_t i = 0; i < count; i++) {
        const char *p = fields [i];
        size_t len = strlen (p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p [len - 1] == ' ' || p [len - 1] == '\t'))
            len--;
        names [i] = strndup (p, len);
        bool twice = false;
        for (size_t j = 0; j < i && !twice; j++)
            twice = strcasecmp (names [j], names [i]) == 0;
        if (!len || twice) {
            if (!len)
                wob_fail (err, -1, "%s:%llu: column %zu has an empty name in the header",
                          self->path, line, i + 1);
            else
                wob_fail (err, -1, "%s:%llu: duplicate column '%s' in the header",
                          self->path, line, names [i]);
            for (size_t j = 0; j <= i; j++)
                free (names [j]);
            free (names);
            return -1;
        }
    }
    self->names = names;
    self->n_names = count;
    return 0;
}

int
wob_csv_column (wob_csv_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_names; i++)
        if (strcasecmp (self->names [i], name) == 0)
            return (int) i;
    return -1;
}

void
wob_csv_field (FILE *out, const char *value)
{
    value = value? value: "";
    size_t len = strlen (value);
    bool quote = strpbrk (value, ",\"\r\n") != NULL
              || (len && (value [0] == ' ' || value [0] == '\t'
                      ||  value [len - 1] == ' ' || value [len - 1] == '\t'));
    if (!quote) {
        fputs (value, out);
        return;
    }
    fputc ('"', out);
    for (const char *p = value; *p; p++) {
        if (*p == '"')
            fputc ('"', out);
        fputc (*p, out);
    }
    fputc ('"', out);
}
