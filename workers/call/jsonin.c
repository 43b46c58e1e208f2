/*  jsonin.c - reads the JSON objects that wob-call's API receives.

    The API's requests are flat objects: {"agent": "a1", "order": 12,
    "outcome": "callback", "callback_at": "2026-11-24T15:30"}.  This reader
    takes exactly that, strictly (RFC 8259 syntax, valid UTF-8, no
    duplicate keys), and says where the text goes wrong, so a dialer's
    mistake comes back as a 400 that names the byte and the problem.
    Nested objects and arrays of anything but strings are refused: no
    request needs them.  A full JSON library would be one more dependency
    for four field types.                                                 */

#include "call.h"

#define MAX_MEMBERS 64          //  more than any request has
#define MAX_ITEMS   64          //  per array

typedef enum { T_NULL, T_BOOL, T_NUMBER, T_STRING, T_ARRAY } type_t;

typedef struct {
    char *key;                  //  decoded key
    type_t type;
    char *text;                 //  string value, number literal, "true"/"false"
    char **items;               //  array of strings (NULL-terminated)
    size_t n_items;
} member_t;

struct _jsonin_t {
    member_t members [MAX_MEMBERS];
    size_t count;               //  members used
};

typedef struct {
    const char *text;           //  the whole body
    size_t size;
    size_t pos;                 //  next byte to read
    char *err;                  //  where to say what is wrong
} reader_t;

static int
s_fail (reader_t *r, const char *what)
{
    wob_fail (r->err, WOB_ERR_INVALID, "body is not a valid JSON object: at byte %zu: %s",
              r->pos, what);
    return -1;
}

static void
s_space (reader_t *r)
{
    while (r->pos < r->size && r->text [r->pos] && strchr (" \t\r\n", r->text [r->pos]))
        r->pos++;
}

static int
s_peek (reader_t *r)
{
    s_space (r);
    return r->pos < r->size? (unsigned char) r->text [r->pos]: -1;
}

static int
s_hex4 (reader_t *r, unsigned *value)
{
    *value = 0;
    for (int i = 0; i < 4; i++) {
        if (r->pos >= r->size || !isxdigit ((unsigned char) r->text [r->pos]))
            return s_fail (r, "\\u needs four hex digits");
        char c = r->text [r->pos++];
        *value = *value * 16 + (unsigned) (isdigit ((unsigned char) c)? c - '0':
                                           tolower ((unsigned char) c) - 'a' + 10);
    }
    return 0;
}

static void
s_utf8 (FILE *out, unsigned cp)
{
    if (cp < 0x80)
        fputc ((int) cp, out);
    else
    if (cp < 0x800) {
        fputc ((int) (0xC0 | (cp >> 6)), out);
        fputc ((int) (0x80 | (cp & 0x3F)), out);
    }
    else
    if (cp < 0x10000) {
        fputc ((int) (0xE0 | (cp >> 12)), out);
        fputc ((int) (0x80 | ((cp >> 6) & 0x3F)), out);
        fputc ((int) (0x80 | (cp & 0x3F)), out);
    }
    else {
        fputc ((int) (0xF0 | (cp >> 18)), out);
        fputc ((int) (0x80 | ((cp >> 12) & 0x3F)), out);
        fputc ((int) (0x80 | ((cp >> 6) & 0x3F)), out);
        fputc ((int) (0x80 | (cp & 0x3F)), out);
    }
}

//  Reads a string literal at pos (which is at the opening quote).
static int
s_string (reader_t *r, char **value_p)
{
    char *buffer = NULL;
    size_t length = 0;
    FILE *out = open_memstream (&buffer, &length);
    if (!out)
        return s_fail (r, "out of memory");
    int rc = 0;
    r->pos++;                   //  the opening quote
    while (true) {
        if (r->pos >= r->size) {
            rc = s_fail (r, "string not closed");
            break;
        }
        unsigned char c = (unsigned char) r->text [r->pos];
        if (c == '"') {
            r->pos++;
            break;
        }
        if (c < 0x20) {
            rc = s_fail (r, "control character in a string (escape it)");
            break;
        }
        r->pos++;
        if (c != '\\') {
            fputc (c, out);
            continue;
        }
        if (r->pos >= r->size) {
            rc = s_fail (r, "string not closed");
            break;
        }
        char e = r->text [r->pos++];
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *hit = e? strchr (from, e): NULL;
        if (hit) {
            fputc (to [hit - from], out);
            continue;
        }
        if (e != 'u') {
            r->pos--;
            rc = s_fail (r, "unknown escape in a string");
            break;
        }
        unsigned cp, low;
        if ((rc = s_hex4 (r, &cp)))
            break;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (r->pos + 2 > r->size || r->text [r->pos] != '\\' || r->text [r->pos + 1] != 'u') {
                rc = s_fail (r, "lone UTF-16 surrogate in \\u escape");
                break;
            }
            r->pos += 2;
            if ((rc = s_hex4 (r, &low)))
                break;
            if (low < 0xDC00 || low > 0xDFFF) {
                rc = s_fail (r, "bad UTF-16 surrogate pair in \\u escape");
                break;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        else
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            rc = s_fail (r, "lone UTF-16 surrogate in \\u escape");
            break;
        }
        if (cp == 0) {
            rc = s_fail (r, "\\u0000 is not accepted in a string");
            break;
        }
        s_utf8 (out, cp);
    }
    fclose (out);
    if (rc) {
        free (buffer);
        return rc;
    }
    *value_p = buffer;
    return 0;
}

//  Reads a number literal (JSON grammar) and keeps its text.
static int
s_number (reader_t *r, char **value_p)
{
    size_t start = r->pos;
    const char *t = r->text;
    size_t n = r->size;
    if (r->pos < n && t [r->pos] == '-')
        r->pos++;
    if (r->pos < n && t [r->pos] == '0')
        r->pos++;
    else
    if (r->pos < n && t [r->pos] >= '1' && t [r->pos] <= '9')
        while (r->pos < n && isdigit ((unsigned char) t [r->pos]))
            r->pos++;
    else
        return s_fail (r, "expected a value");
    if (r->pos < n && t [r->pos] == '.') {
        r->pos++;
        if (r->pos >= n || !isdigit ((unsigned char) t [r->pos]))
            return s_fail (r, "expected digits after the decimal point");
        while (r->pos < n && isdigit ((unsigned char) t [r->pos]))
            r->pos++;
    }
    if (r->pos < n && (t [r->pos] == 'e' || t [r->pos] == 'E')) {
        r->pos++;
        if (r->pos < n && (t [r->pos] == '+' || t [r->pos] == '-'))
            r->pos++;
        if (r->pos >= n || !isdigit ((unsigned char) t [r->pos]))
            return s_fail (r, "expected digits in the exponent");
        while (r->pos < n && isdigit ((unsigned char) t [r->pos]))
            r->pos++;
    }
    *value_p = strndup (t + start, r->pos - start);
    return 0;
}

static int
s_literal (reader_t *r, const char *word)
{
    size_t len = strlen (word);
    if (r->size - r->pos < len || memcmp (r->text + r->pos, word, len))
        return s_fail (r, "expected a value");
    r->pos += len;
    return 0;
}

static int
s_value (reader_t *r, member_t *m)
{
    int c = s_peek (r);
    if (c == '"') {
        m->type = T_STRING;
        return s_string (r, &m->text);
    }
    if (c == 't' || c == 'f') {
        m->type = T_BOOL;
        m->text = strdup (c == 't'? "true": "false");
        return s_literal (r, m->text);
    }
    if (c == 'n') {
        m->type = T_NULL;
        return s_literal (r, "null");
    }
    if (c == '{')
        return s_fail (r, "nested objects are not accepted");
    if (c == '[') {
        m->type = T_ARRAY;
        m->items = calloc (MAX_ITEMS + 1, sizeof (char *));
        r->pos++;
        if (s_peek (r) == ']') {
            r->pos++;
            return 0;
        }
        while (true) {
            if (s_peek (r) != '"')
                return s_fail (r, "arrays may hold strings only");
            if (m->n_items == MAX_ITEMS)
                return s_fail (r, "too many items in an array");
            if (s_string (r, &m->items [m->n_items]))
                return -1;
            m->n_items++;
            c = s_peek (r);
            r->pos++;
            if (c == ']')
                return 0;
            if (c != ',') {
                r->pos--;
                return s_fail (r, "expected ',' or ']' in an array");
            }
        }
    }
    m->type = T_NUMBER;
    return s_number (r, &m->text);
}

jsonin_t *
jsonin_parse (const char *text, size_t size, char *err)
{
    reader_t r = { .text = text, .size = size, .err = err };
    if (!wob_utf8_valid (text, size)) {
        wob_fail (err, WOB_ERR_INVALID, "body is not valid UTF-8");
        return NULL;
    }
    jsonin_t *self = calloc (1, sizeof (jsonin_t));
    if (s_peek (&r) != '{') {
        s_fail (&r, size? "expected '{' (the body must be one JSON object)": "empty body "
                "(expected a JSON object)");
        goto err;
    }
    r.pos++;
    if (s_peek (&r) == '}')
        r.pos++;
    else
        while (true) {
            if (s_peek (&r) != '"') {
                s_fail (&r, "expected a member name in double quotes");
                goto err;
            }
            if (self->count == MAX_MEMBERS) {
                s_fail (&r, "too many members");
                goto err;
            }
            member_t *m = &self->members [self->count++];
            if (s_string (&r, &m->key))
                goto err;
            for (size_t i = 0; i + 1 < self->count; i++)
                if (streq (self->members [i].key, m->key)) {
                    s_fail (&r, "duplicate member name");
                    goto err;
                }
            if (s_peek (&r) != ':') {
                s_fail (&r, "expected ':' after the member name");
                goto err;
            }
            r.pos++;
            if (s_value (&r, m))
                goto err;
            int c = s_peek (&r);
            r.pos++;
            if (c == '}')
                break;
            if (c != ',') {
                r.pos--;
                s_fail (&r, "expected ',' or '}' after a member");
                goto err;
            }
        }
    if (s_peek (&r) != -1) {
        s_fail (&r, "text after the object");
        goto err;
    }
    return self;
err:
    jsonin_destroy (&self);
    return NULL;
}

void
jsonin_destroy (jsonin_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jsonin_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        member_t *m = &self->members [i];
        free (m->key);
        free (m->text);
        for (size_t j = 0; j < m->n_items; j++)
            free (m->items [j]);
        free (m->items);
    }
    free (self);
    *self_p = NULL;
}

static member_t *
s_member (jsonin_t *self, const char *key)
{
    for (size_t i = 0; i < self->count; i++)
        if (streq (self->members [i].key, key))
            return &self->members [i];
    return NULL;
}

const char *
jsonin_unknown (jsonin_t *self, const char **known)
{
    for (size_t i = 0; i < self->count; i++) {
        bool found = false;
        for (const char **k = known; *k && !found; k++)
            found = streq (*k, self->members [i].key);
        if (!found)
            return self->members [i].key;
    }
    return NULL;
}

bool
jsonin_has (jsonin_t *self, const char *key)
{
    member_t *m = s_member (self, key);
    return m && m->type != T_NULL;
}

const char *
jsonin_type (jsonin_t *self, const char *key)
{
    static const char *names [] = { "null", "boolean", "number", "string", "array" };
    member_t *m = s_member (self, key);
    return m? names [m->type]: "absent";
}

int
jsonin_string (jsonin_t *self, const char *key, const char **value, char *err)
{
    member_t *m = s_member (self, key);
    if (!m || m->type != T_STRING) {
        wob_fail (err, WOB_ERR_INVALID, "field '%s' must be a string (it is %s)", key,
                  jsonin_type (self, key));
        return -1;
    }
    *value = m->text;
    return 0;
}

int
jsonin_uint (jsonin_t *self, const char *key, uint64_t *value, char *err)
{
    member_t *m = s_member (self, key);
    const char *text = m && (m->type == T_NUMBER || m->type == T_STRING)? m->text: NULL;
    size_t len = text? strlen (text): 0;
    if (!text || len == 0 || len > 19 || strspn (text, "0123456789") != len) {
        wob_fail (err, WOB_ERR_INVALID, "field '%s' must be a whole number >= 0 (it is %s%s%.40s)",
                  key, jsonin_type (self, key), text? " ": "", text? text: "");
        return -1;
    }
    *value = strtoull (text, NULL, 10);
    return 0;
}

int
jsonin_strings (jsonin_t *self, const char *key, const char ***items, size_t *count, char *err)
{
    member_t *m = s_member (self, key);
    if (m && m->type == T_STRING) {
        //  "a,b" becomes an array, kept in the member for its lifetime.
        m->items = calloc (MAX_ITEMS + 1, sizeof (char *));
        char *save = NULL, *copy = strdup (m->text);
        for (char *tok = strtok_r (copy, ",", &save); tok && m->n_items < MAX_ITEMS;
             tok = strtok_r (NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            size_t len = strlen (tok);
            while (len && tok [len - 1] == ' ')
                tok [--len] = 0;
            if (len)
                m->items [m->n_items++] = strdup (tok);
        }
        free (copy);
        m->type = T_ARRAY;
    }
    if (!m || m->type != T_ARRAY) {
        wob_fail (err, WOB_ERR_INVALID, "field '%s' must be an array of strings or a "
                  "comma-separated string (it is %s)", key, jsonin_type (self, key));
        return -1;
    }
    *items = (const char **) m->items;
    *count = m->n_items;
    return 0;
}
