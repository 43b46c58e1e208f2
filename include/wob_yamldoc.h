/*  wob_yamldoc.h - one YAML (or JSON) document being checked: loading with
    a size limit, node access, and the checks and messages that wob's file
    formats share.

    wob reads two YAML formats: the wave descriptor (lib/wavefile.c) and the
    broker's rule file (broker/rulebook.c).  Both load one document of at
    most a set size, walk its nodes, and refuse the first mistake with a
    message naming the file, the 1-based line and the key, written into the
    caller's WOB_ERRLEN buffer: "rules.yaml:7: merge.window: 'soon' is not a
    duration ...".  This module holds what the two have in common, so that
    they load, name node types, treat null and read strings, keys, switches
    and numbers the same way.

    The loaders return a wob_err_t.  Once a document is loaded, the checks
    return 0 or -1; the first failure's wob_err_t is kept (yamldoc_code), so
    a parser can return -1 all the way up and read the code once at the top.
    Every message goes to the err buffer given to the loader (NULL = none);
    a later failure overwrites an earlier message, so parsers stop at the
    first one.  Node pointers belong to the document and are valid until
    yamldoc_destroy.                                                        */

#ifndef WOB_YAMLDOC_H_INCLUDED
#define WOB_YAMLDOC_H_INCLUDED

#include "wob.h"
#include <yaml.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _yamldoc_t yamldoc_t;

//  Reads the file at path into a heap buffer of *size_p bytes plus a
//  terminating NUL (free with free).  kind names the format in messages
//  ("a rule file").  Refuses directories and anything over limit bytes:
//  regular files by their size, pipes and growing files by reading one
//  byte past the limit.  Returns 0, or a wob_err_t with err set ("FILE:
//  cannot open: ...") and *text_p NULL.
int yamldoc_read_file (const char *path, const char *kind, size_t limit,
                       char **text_p, size_t *size_p, char *err);

//  Parses the first YAML document of size bytes of text (which need not
//  end in a NUL).  text must stay valid until yamldoc_destroy, for
//  yamldoc_expect_end.  path names the text in messages (it is copied);
//  kind names the format and is kept, so give a string constant; more
//  than limit bytes are refused.  Messages of this and every later call go
//  to err.  Returns 0 with *self_p set, or a wob_err_t with err set and
//  *self_p NULL.  A document that holds nothing (an empty file) is not an
//  error: yamldoc_root is NULL.
int yamldoc_parse (yamldoc_t **self_p, const char *text, size_t size,
                   const char *path, const char *kind, size_t limit, char *err);

//  yamldoc_read_file and yamldoc_parse together: the document keeps the
//  file's text.
int yamldoc_load (yamldoc_t **self_p, const char *path, const char *kind,
                  size_t limit, char *err);

//  Frees the document; nulls *self_p.  Safe on NULL and when called twice.
void yamldoc_destroy (yamldoc_t **self_p);

//  The first document's root node, or NULL when it is empty.
yaml_node_t *yamldoc_root (yamldoc_t *self);

//  The node with the given index (from a pair or a list item).
yaml_node_t *yamldoc_node (yamldoc_t *self, int index);

//  Refuses anything after the first document: a second document ("FILE:
//  LINE: a second YAML document (KIND holds one)") or a syntax error.
//  Returns 0 or -1.
int yamldoc_expect_end (yamldoc_t *self);

//  The wob_err_t of the first failure, 0 while there is none.
int yamldoc_code (yamldoc_t *self);

//  Reports a mistake at node's line, "FILE:LINE: message", or "FILE:
//  message" for the whole document when node is NULL.  Returns -1.
int yamldoc_fail (yamldoc_t *self, yaml_node_t *node, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Reports "FILE: out of memory" (WOB_ERR_NOMEM).  Returns -1.
int yamldoc_no_memory (yamldoc_t *self);

//  "a list", "a map" or "a string", for messages.
const char *yamldoc_type_name (yaml_node_t *node);

//  True for YAML's null: ~, null, Null, NULL or nothing, unquoted.
bool yamldoc_is_null (yaml_node_t *node);

//  Returns the text of a scalar node, or NULL after reporting "WHAT must
//  be KIND, not a list", a NUL character or, unless allow_empty, an empty
//  or null value.  The text lives as long as the document.
const char *yamldoc_text (yamldoc_t *self, yaml_node_t *node, const char *what,
                          const char *kind, bool allow_empty);

//  Returns the name of pair's key in map after checking that it is a
//  string not seen before in map; NULL after reporting the mistake.
//  where names the map in messages ("merge", "plan step 2").
const char *yamldoc_key (yamldoc_t *self, yaml_node_t *map, yaml_node_pair_t *pair,
                         const char *where);

//  Reads an on / off switch: on, true or yes; off, false or no; any case.
//  Returns 0 with *dest set, or -1.
int yamldoc_switch (yamldoc_t *self, yaml_node_t *node, const char *what,
                    bool *dest);

//  Reads text (taken from node, which gives the line) as a decimal number:
//  "200", "0.05", "-1", "2.5e2"; no hex, inf, nan or spaces.  Ranges are
//  the caller's to check.  Returns 0 with *dest set, or -1.
int yamldoc_number (yamldoc_t *self, yaml_node_t *node, const char *what,
                    const char *text, double *dest);

//  Reads a whole number within [min, max]: digits only, no sign.  Returns
//  0 with *dest set, or -1.
int yamldoc_uint (yamldoc_t *self, yaml_node_t *node, const char *what,
                  uint32_t min, uint32_t max, uint32_t *dest);

//  Reads a duration, a whole number and a unit ("500ms", "90s", "72h",
//  "7d", as wob_parse_duration), that is longer than zero.  Returns 0
//  with *dest in milliseconds, or -1.
int yamldoc_duration (yamldoc_t *self, yaml_node_t *node, const char *what,
                      int64_t *dest);

//  The value of the key called name in map, or NULL when map is not a map
//  or has no such key.  Null values count as absent, so a key given twice
//  yields its first value that is not null.
yaml_node_t *yamldoc_lookup (yamldoc_t *self, yaml_node_t *map, const char *name);

//  Reads one setting of a map for yamldoc_walk_map: name is its key, what
//  names it for messages ("merge.window"), arg is the walker's.  Returns 0
//  or -1.
typedef int (yamldoc_setting_fn) (yamldoc_t *doc, void *arg, const char *name,
                                  yaml_node_t *value, const char *what);

//  Walks a map of settings called where ("merge"): node must be a map
//  ("WHERE must be a map (KEYS), not a list") whose keys are strings, each
//  given once and each one of keys, ", " between them ("enabled, window,
//  absorb"; others are "unknown key 'x' in WHERE (expected KEYS)").  Calls
//  fn for each setting that is not null: a null setting counts as absent.
//  Returns 0 or -1.
int yamldoc_walk_map (yamldoc_t *self, yaml_node_t *node, const char *where,
                      const char *keys, yamldoc_setting_fn *fn, void *arg);

//  Reads one item of a list for yamldoc_walk_list: its node and, when the
//  list holds strings, its text (else NULL); what names the list and count
//  is its length.  Returns 0 or -1.
typedef int (yamldoc_item_fn) (yamldoc_t *doc, void *arg, yaml_node_t *item,
                               const char *text, const char *what, size_t count);

//  Walks a list called what of at most max items, calling fn for each in
//  order.  With kind, each item must be a non-empty string (kind names
//  what is expected: "an outcome name").  Returns 0 or -1.
int yamldoc_walk_list (yamldoc_t *self, yaml_node_t *node, const char *what,
                       size_t max, const char *kind, yamldoc_item_fn *fn, void *arg);

//  True for a name of 1 to max characters, each a lower-case ASCII letter,
//  a digit or one of extra: yamldoc_is_name (text, 48, "._-").
bool yamldoc_is_name (const char *text, size_t max, const char *extra);

//  True for a well-formed channel name: [a-z][a-z0-9_]{0,31}.
bool yamldoc_is_channel (const char *name);

#ifdef __cplusplus
}
#endif
#endif
