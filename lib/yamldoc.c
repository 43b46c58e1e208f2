/*  yamldoc.c - one YAML (or JSON) document being checked: what the wave
    descriptor (lib/wavefile.c) and the rule file (broker/rulebook.c) share.

    Loading reads the whole file (at most a set size) and parses its first
    document with libyaml; JSON is read as YAML, of which it is a subset.
    The checks below turn libyaml's nodes into values or into one message
    naming the file, the line and the key, as the header describes.       */

#include "wob_yamldoc.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>

struct _yamldoc_t {
    char *path;                 //  file name for messages
    const char *kind;           //  format for messages ("a rule file")
    char *err;                  //  caller's error buffer (may be NULL)
    int code;                   //  wob_err_t of the first failure, 0 = none
    char *text;                 //  the file's bytes, when yamldoc_load read them
    yaml_parser_t parser;       //  kept for yamldoc_expect_end
    bool have_parser;           //  parser was initialized
    yaml_document_t doc;        //  the first document
    bool have_doc;              //  doc was loaded
};

//  Reports libyaml's complaint at the line where it found the problem.
//  Returns -1.
static int
s_parser_error (yamldoc_t *self)
{
    yaml_parser_t *parser = &self->parser;
    self->code = parser->error == YAML_MEMORY_ERROR? WOB_ERR_NOMEM: WOB_ERR_INVALID;
    wob_fail (self->err, 0, "%s:%zu: not valid YAML or JSON: %s%s%s", self->path,
              parser->problem_mark.line + 1,
              parser->problem? parser->problem: "syntax error",
              parser->context? ", ": "", parser->context? parser->context: "");
    return -1;
}

int
yamldoc_read_file (const char *path, const char *kind, size_t limit,
                   char **text_p, size_t *size_p, char *err)
{
    *text_p = NULL;
    *size_p = 0;
    FILE *file = fopen (path, "rb");
    if (!file)
        return wob_fail (err, WOB_ERR_IO, "%s: cannot open: %s", path, strerror (errno));
    int rc;
    char *text = NULL;
    size_t size = 0;
    struct stat st;
    bool have_stat = fstat (fileno (file), &st) == 0;
    if (have_stat && S_ISDIR (st.st_mode)) {
        rc = wob_fail (err, WOB_ERR_INVALID, "%s: is a directory, not %s", path, kind);
        goto done;
    }
    if (have_stat && S_ISREG (st.st_mode) && (uintmax_t) st.st_size > limit) {
        rc = wob_fail (err, WOB_ERR_INVALID, "%s: %lld bytes is too large for %s "
                       "(limit %zu bytes)", path, (long long) st.st_size, kind, limit);
        goto done;
    }
    //  Reads one byte past the limit so that a growing file or a pipe that
    //  says nothing of its size is refused too
    text = (char *) malloc (limit + 1);
    if (!text) {
        rc = wob_fail (err, WOB_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size = fread (text, 1, limit + 1, file);
    if (ferror (file))
        rc = wob_fail (err, WOB_ERR_IO, "%s: cannot read: %s", path, strerror (errno));
    else
    if (size > limit)
        rc = wob_fail (err, WOB_ERR_INVALID, "%s: more than %zu bytes is too large for "
                       "%s", path, limit, kind);
    else {
        text [size] = 0;
        *text_p = text;
        *size_p = size;
        text = NULL;
        rc = 0;
    }
done:
    free (text);
    fclose (file);
    return rc;
}

int
yamldoc_parse (yamldoc_t **self_p, const char *text, size_t size,
               const char *path, const char *kind, size_t limit, char *err)
{
    *self_p = NULL;
    if (size > limit)
        return wob_fail (err, WOB_ERR_INVALID, "%s: %zu bytes is too large for %s "
                         "(limit %zu bytes)", path, size, kind, limit);
    yamldoc_t *self = (yamldoc_t *) calloc (1, sizeof (yamldoc_t));
    if (self) {
        self->path = strdup (path);
        self->have_parser = self->path && yaml_parser_initialize (&self->parser);
    }
    if (!self || !self->have_parser) {
        yamldoc_destroy (&self);
        return wob_fail (err, WOB_ERR_NOMEM, "%s: out of memory", path);
    }
    self->kind = kind;
    self->err = err;
    yaml_parser_set_input_string (&self->parser, (const unsigned char *) text, size);
    if (!yaml_parser_load (&self->parser, &self->doc)) {
        s_parser_error (self);
        int code = self->code;
        yamldoc_destroy (&self);
        return code;
    }
    self->have_doc = true;
    *self_p = self;
    return 0;
}

int
yamldoc_load (yamldoc_t **self_p, const char *path, const char *kind,
              size_t limit, char *err)
{
    *self_p = NULL;
    char *text;
    size_t size;
    int rc = yamldoc_read_file (path, kind, limit, &text, &size, err);
    if (rc == 0)
        rc = yamldoc_parse (self_p, text, size, path, kind, limit, err);
    if (rc == 0)
        (*self_p)->text = text;
    else
        free (text);
    return rc;
}

void
yamldoc_destroy (yamldoc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    yamldoc_t *self = *self_p;
    if (self->have_doc)
        yaml_document_delete (&self->doc);
    if (self->have_parser)
        yaml_parser_delete (&self->parser);
    free (self->text);
    free (self->path);
    free (self);
    *self_p = NULL;
}

yaml_node_t *
yamldoc_root (yamldoc_t *self)
{
    return yaml_document_get_root_node (&self->doc);
}

yaml_node_t *
yamldoc_node (yamldoc_t *self, int index)
{
    return yaml_document_get_node (&self->doc, index);
}

int
yamldoc_expect_end (yamldoc_t *self)
{
    //  Anything after the document is a mistake, not something to skip
    yaml_document_t next;
    if (!yaml_parser_load (&self->parser, &next))
        return s_parser_error (self);
    yaml_node_t *extra = yaml_document_get_root_node (&next);
    int rc = extra? yamldoc_fail (self, extra, "a second YAML document (%s holds one)",
                                  self->kind): 0;
    yaml_document_delete (&next);
    return rc;
}

int
yamldoc_code (yamldoc_t *self)
{
    return self->code;
}

int
yamldoc_fail (yamldoc_t *self, yaml_node_t *node, const char *format, ...)
{
    char text [WOB_ERRLEN];
    va_list ap;
    va_start (ap, format);
    vsnprintf (text, sizeof (text), format, ap);
    va_end (ap);
    if (node)
        wob_fail (self->err, 0, "%s:%zu: %s", self->path, node->start_mark.line + 1, text);
    else
        wob_fail (self->err, 0, "%s: %s", self->path, text);
    if (!self->code)
        self->code = WOB_ERR_INVALID;
    return -1;
}

int
yamldoc_no_memory (yamldoc_t *self)
{
    wob_fail (self->err, 0, "%s: out of memory", self->path);
    self->code = WOB_ERR_NOMEM;
    return -1;
}

const char *
yamldoc_type_name (yaml_node_t *node)
{
    return node->type == YAML_SEQUENCE_NODE? "a list":
           node->type == YAML_MAPPING_NODE? "a map": "a string";
}

bool
yamldoc_is_null (yaml_node_t *node)
{
    if (node->type != YAML_SCALAR_NODE
    ||  node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *value = (const char *) node->data.scalar.value;
    return streq (value, "") || streq (value, "~") || streq (value, "null")
        || streq (value, "Null") || streq (value, "NULL");
}

const char *
yamldoc_text (yamldoc_t *self, yaml_node_t *node, const char *what,
              const char *kind, bool allow_empty)
{
    if (node->type != YAML_SCALAR_NODE) {
        yamldoc_fail (self, node, "%s must be %s, not %s", what, kind,
                      yamldoc_type_name (node));
        return NULL;
    }
    const char *value = (const char *) node->data.scalar.value;
    if (strlen (value) != node->data.scalar.length) {
        yamldoc_fail (self, node, "%s contains a NUL character", what);
        return NULL;
    }
    if (!allow_empty && (*value == 0 || yamldoc_is_null (node))) {
        yamldoc_fail (self, node, "%s is empty", what);
        return NULL;
    }
    return value;
}

const char *
yamldoc_key (yamldoc_t *self, yaml_node_t *map, yaml_node_pair_t *pair,
             const char *where)
{
    yaml_node_t *key = yamldoc_node (self, pair->key);
    if (key->type != YAML_SCALAR_NODE) {
        yamldoc_fail (self, key, "keys in %s must be strings, not %s", where,
                      yamldoc_type_name (key));
        return NULL;
    }
    const char *name = (const char *) key->data.scalar.value;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair; p++) {
        yaml_node_t *prior = yamldoc_node (self, p->key);
        if (prior->type == YAML_SCALAR_NODE
        &&  streq ((const char *) prior->data.scalar.value, name)) {
            yamldoc_fail (self, key, "duplicate key '%.64s' in %s (first on line %zu)",
                          name, where, prior->start_mark.line + 1);
            return NULL;
        }
    }
    return name;
}

int
yamldoc_switch (yamldoc_t *self, yaml_node_t *node, const char *what, bool *dest)
{
    const char *text = yamldoc_text (self, node, what, "on or off", false);
    if (!text)
        return -1;
    if (!strcasecmp (text, "on") || !strcasecmp (text, "true")
    ||  !strcasecmp (text, "yes"))
        *dest = true;
    else
    if (!strcasecmp (text, "off") || !strcasecmp (text, "false")
    ||  !strcasecmp (text, "no"))
        *dest = false;
    else
        return yamldoc_fail (self, node, "%s: '%.64s' is not a boolean (on, off, true, "
                             "false, yes or no)", what, text);
    return 0;
}

int
yamldoc_number (yamldoc_t *self, yaml_node_t *node, const char *what,
                const char *text, double *dest)
{
    bool digit = false;
    for (const char *p = text; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digit = true;
        else
        if (!strchr (".eE+-", *p)) {
            digit = false;              //  a letter or space: refused below
            break;
        }
    }
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (!digit || end == text || *end || errno || !isfinite (value))
        return yamldoc_fail (self, node, "%s: '%.64s' is not a number", what, text);
    *dest = value;
    return 0;
}

int
yamldoc_uint (yamldoc_t *self, yaml_node_t *node, const char *what, uint32_t min,
              uint32_t max, uint32_t *dest)
{
    const char *text = yamldoc_text (self, node, what, "a whole number", false);
    if (!text)
        return -1;
    uint64_t value = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return yamldoc_fail (self, node, "%s: '%.64s' is not a whole number", what,
                                 text);
        value = value * 10 + (*p - '0');
        if (value > UINT32_MAX)
            break;
    }
    if (value < min || value > max)
        return yamldoc_fail (self, node, "%s: %.64s is out of range (%u to %u)", what,
                             text, min, max);
    *dest = (uint32_t) value;
    return 0;
}

int
yamldoc_duration (yamldoc_t *self, yaml_node_t *node, const char *what, int64_t *dest)
{
    const char *text = yamldoc_text (self, node, what, "a duration", false);
    if (!text)
        return -1;
    int64_t value = wob_parse_duration (text);
    if (value < 0)
        return yamldoc_fail (self, node, "%s: '%.64s' is not a duration (a whole "
                             "number and a unit: ms, s, m, h or d, as in 90s, 15m, "
                             "72h, 7d)", what, text);
    if (value == 0)
        return yamldoc_fail (self, node, "%s: %s is not longer than zero", what, text);
    *dest = value;
    return 0;
}

yaml_node_t *
yamldoc_lookup (yamldoc_t *self, yaml_node_t *map, const char *name)
{
    if (map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yamldoc_node (self, pair->key);
        yaml_node_t *value = yamldoc_node (self, pair->value);
        if (key->type == YAML_SCALAR_NODE
        &&  streq ((const char *) key->data.scalar.value, name)
        &&  !yamldoc_is_null (value))
            return value;
    }
    return NULL;
}

//  True when name is one of keys ("check, length, prefixes")
static bool
s_listed (const char *keys, const char *name)
{
    size_t len = strlen (name);
    for (const char *key = keys; *key; key += strspn (key, ", ")) {
        size_t key_len = strcspn (key, ",");
        if (key_len == len && memcmp (key, name, len) == 0)
            return true;
        key += key_len;
    }
    return false;
}

int
yamldoc_walk_map (yamldoc_t *self, yaml_node_t *node, const char *where,
                  const char *keys, yamldoc_setting_fn *fn, void *arg)
{
    if (node->type != YAML_MAPPING_NODE)
        return yamldoc_fail (self, node, "%s must be a map (%s), not %s", where, keys,
                             yamldoc_type_name (node));
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const char *name = yamldoc_key (self, node, pair, where);
        if (!name)
            return -1;
        if (!s_listed (keys, name))
            return yamldoc_fail (self, yamldoc_node (self, pair->key), "unknown key "
                                 "'%.64s' in %s (expected %s)", name, where, keys);
        yaml_node_t *value = yamldoc_node (self, pair->value);
        if (yamldoc_is_null (value))
            continue;
        char what [128];
        snprintf (what, sizeof (what), "%s.%s", where, name);
        if (fn (self, arg, name, value, what))
            return -1;
    }
    return 0;
}

int
yamldoc_walk_list (yamldoc_t *self, yaml_node_t *node, const char *what,
                   size_t max, const char *kind, yamldoc_item_fn *fn, void *arg)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return yamldoc_fail (self, node, "%s must be a list, not %s", what,
                             yamldoc_type_name (node));
    yaml_node_item_t *items = node->data.sequence.items.start;
    size_t count = node->data.sequence.items.top - items;
    if (count > max)
        return yamldoc_fail (self, node, "%s has %zu items (at most %zu)", what, count,
                             max);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = yamldoc_node (self, items [i]);
        const char *text = NULL;
        if (kind && !(text = yamldoc_text (self, item, what, kind, false)))
            return -1;
        if (fn (self, arg, item, text, what, count))
            return -1;
    }
    return 0;
}

bool
yamldoc_is_name (const char *text, size_t max, const char *extra)
{
    size_t len = strlen (text);
    if (len < 1 || len > max)
        return false;
    for (const char *p = text; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr (extra, *p)))
            return false;
    return true;
}

bool
yamldoc_is_channel (const char *name)
{
    return name [0] >= 'a' && name [0] <= 'z' && yamldoc_is_name (name, 32, "_");
}
