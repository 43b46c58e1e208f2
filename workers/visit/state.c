/*  state.c - the state directory of one account manager.

    What a manager holds must survive between runs, a laptop's battery and
    a kill -9, because nobody is connected to the broker in between:

        DIR/lock                 flock: one wob-visit at a time
        DIR/manager              "manager ID" and one "owns REGION" per line
        DIR/orders/ID.lease      a held order: the LeaseItem as the broker
                                 sent it (order, target, offers, the wave's
                                 script), protobuf as on the wire
        DIR/reported/ID.outcome  what was reported for it (OutcomeItem), so
                                 running the same outcome file again is
                                 recognised; its mtime is when

    One file per order rather than one file for all: a lease is durable the
    moment it arrives (write to a temp file, fsync, rename, fsync the
    directory) without rewriting the others, a report removes exactly the
    files of the orders it reported, and a crash leaves at worst one
    temporary file, which the next run deletes.  The broker's hello
    reconciliation covers what a crash loses between the broker's send and
    our rename: the order is leased to us but not claimed, so the next
    hello returns it to the queue and it is leased to us again.          */

#include "visit.h"
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#define S_TMP_PREFIX ".tmp-"

typedef struct {
    Wob__OutcomeItem *item;     //  the report
    int64_t at_ms;              //  when it was recorded here
} s_tomb_t;

struct _state_t {
    char *dir;                  //  the directory
    int lock_fd;                //  DIR/lock, flocked
    char *manager;              //  "" until the first sync
    char **owns;                //  regions of the last sync
    size_t n_owns;
    zhashx_t *orders;           //  id -> Wob__LeaseItem *
    zhashx_t *reported;         //  id -> s_tomb_t *
    char *warnings;             //  from loading, or ""
};

static void
s_lease_destroy (void **item_p)
{
    if (*item_p)
        wob__lease_item__free_unpacked (*item_p, NULL);
    *item_p = NULL;
}

static void
s_tomb_destroy (void **item_p)
{
    s_tomb_t *tomb = *item_p;
    if (tomb) {
        wob__outcome_item__free_unpacked (tomb->item, NULL);
        free (tomb);
    }
    *item_p = NULL;
}

static void
s_warn (state_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static char *
s_path (char *buf, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  Formats a path into buf (PATH_MAX bytes).  state_open refuses a
//  directory name so long that a path under it would not fit.
static char *
s_path (char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (buf, PATH_MAX, fmt, ap);
    va_end (ap);
    return buf;
}

static void
s_warn (state_t *self, const char *fmt, ...)
{
    char line [WOB_ERRLEN];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line, sizeof (line), fmt, ap);
    va_end (ap);
    size_t had = strlen (self->warnings);
    self->warnings = realloc (self->warnings, had + strlen (line) + 2);
    sprintf (self->warnings + had, "%s\n", line);
}

//  Writes data to DIR/sub/name durably: temp file, fsync, rename, fsync
//  of the directory.
static int
s_write (state_t *self, const char *sub, const char *name, const void *data, size_t size,
         char *err)
{
    char dir [PATH_MAX], tmp [PATH_MAX], path [PATH_MAX];
    s_path (dir, "%s%s%s", self->dir, *sub? "/": "", sub);
    s_path (tmp, "%s/" S_TMP_PREFIX "%s.%d", dir, name, (int) getpid ());
    s_path (path, "%s/%s", dir, name);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return wob_fail (err, WOB_ERR_IO, "%s: cannot create: %s", tmp, strerror (errno));
    const char *p = data;
    size_t left = size;
    while (left) {
        ssize_t n = write (fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto failed;
        p += n;
        left -= (size_t) n;
    }
    if (fsync (fd))
        goto failed;
    close (fd);
    fd = -1;
    if (rename (tmp, path))
        goto failed;
    int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync (dfd);
        close (dfd);
    }
    return 0;
failed:
    wob_fail (err, WOB_ERR_IO, "%s: cannot write: %s", path, strerror (errno? errno: EIO));
    if (fd >= 0)
        close (fd);
    unlink (tmp);
    return WOB_ERR_IO;
}

static int
s_unlink (state_t *self, const char *sub, uint64_t id, const char *ext, char *err)
{
    char path [PATH_MAX];
    s_path (path, "%s/%s/%" PRIu64 "%s", self->dir, sub, id, ext);
    if (unlink (path) && errno != ENOENT)
        return wob_fail (err, WOB_ERR_IO, "%s: cannot remove: %s", path, strerror (errno));
    return 0;
}

//  Reads a whole small file; caller frees.  NULL on error.
static uint8_t *
s_slurp (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    uint8_t *data = NULL;
    size_t cap = 0;
    *size = 0;
    for (;;) {
        if (*size == cap)
            data = realloc (data, cap = cap? cap * 2: 4096);
        size_t n = fread (data + *size, 1, cap - *size, file);
        if (n == 0)
            break;
        *size += n;
    }
    bool bad = ferror (file);
    fclose (file);
    if (bad) {
        free (data);
        return NULL;
    }
    return data;
}

//  "123.lease" -> 123 when name is digits + ext; 0 otherwise.
static uint64_t
s_id_of (const char *name, const char *ext)
{
    size_t digits = strspn (name, "0123456789");
    if (digits == 0 || digits > 19 || !streq (name + digits, ext))
        return 0;
    return strtoull (name, NULL, 10);
}

//  Loads every file of DIR/sub; removes leftover temp files.
static int
s_load_dir (state_t *self, const char *sub, const char *ext, bool leases, char *err)
{
    char dir [PATH_MAX];
    s_path (dir, "%s/%s", self->dir, sub);
    if (mkdir (dir, 0700) && errno != EEXIST)
        return wob_fail (err, WOB_ERR_IO, "%s: cannot create: %s", dir, strerror (errno));
    DIR *handle = opendir (dir);
    if (!handle)
        return wob_fail (err, WOB_ERR_IO, "%s: cannot read: %s", dir, strerror (errno));
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        const char *name = entry->d_name;
        char path [PATH_MAX];
        s_path (path, "%s/%s", dir, name);
        if (strncmp (name, S_TMP_PREFIX, strlen (S_TMP_PREFIX)) == 0) {
            unlink (path);          //  a write that a crash interrupted
            continue;
        }
        uint64_t id = s_id_of (name, ext);
        if (!id)
            continue;
        size_t size;
        uint8_t *data = s_slurp (path, &size);
        void *item = NULL;
        if (data && leases) {
            Wob__LeaseItem *lease = wob__lease_item__unpack (NULL, size, data);
            if (lease && (!lease->order || lease->order->id != id)) {
                wob__lease_item__free_unpacked (lease, NULL);
                lease = NULL;
            }
            item = lease;
        }
        else
        if (data) {
            Wob__OutcomeItem *outcome = wob__outcome_item__unpack (NULL, size, data);
            if (outcome && outcome->order_id != id) {
                wob__outcome_item__free_unpacked (outcome, NULL);
                outcome = NULL;
            }
            item = outcome;
        }
        free (data);
        if (!item) {
            s_warn (self, "%s: unreadable, ignored (%s)", path, leases?
                    "the broker will lease the order again at the next sync":
                    "a report of the same order will be sent again");
            continue;
        }
        if (leases)
            zhashx_update (self->orders, WOB_ID_KEY (id), item);
        else {
            s_tomb_t *tomb = calloc (1, sizeof (s_tomb_t));
            struct stat st;
            tomb->item = item;
            tomb->at_ms = stat (path, &st)? 0: (int64_t) st.st_mtime * 1000;
            zhashx_update (self->reported, WOB_ID_KEY (id), tomb);
        }
    }
    closedir (handle);
    return 0;
}

static int
s_load_manager (state_t *self, char *err)
{
    char path [PATH_MAX];
    s_path (path, "%s/manager", self->dir);
    FILE *file = fopen (path, "r");
    if (!file)
        return errno == ENOENT? 0: wob_fail (err, WOB_ERR_IO, "%s: cannot read: %s", path,
                                             strerror (errno));
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    while ((len = getline (&line, &size, file)) != -1) {
        while (len && (line [len - 1] == '\n' || line [len - 1] == '\r'))
            line [--len] = 0;
        if (strncmp (line, "manager ", 8) == 0) {
            free (self->manager);
            self->manager = strdup (line + 8);
        }
        else
        if (strncmp (line, "owns ", 5) == 0) {
            self->owns = realloc (self->owns, (self->n_owns + 1) * sizeof (char *));
            self->owns [self->n_owns++] = strdup (line + 5);
        }
    }
    free (line);
    fclose (file);
    return 0;
}

state_t *
state_open (const char *dir, bool create, char *err)
{
    if (strlen (dir) > PATH_MAX - 300) {
        wob_fail (err, WOB_ERR_INVALID, "state directory name too long (%zu bytes)",
                  strlen (dir));
        return NULL;
    }
    if (create && mkdir (dir, 0700) && errno != EEXIST) {
        wob_fail (err, WOB_ERR_IO, "state directory %s: cannot create: %s", dir,
                  strerror (errno));
        return NULL;
    }
    struct stat st;
    if (stat (dir, &st) || !S_ISDIR (st.st_mode)) {
        wob_fail (err, WOB_ERR_INVALID, "state directory %s does not exist (run 'wob-visit "
                  "sync' first, or give --state DIR)", dir);
        return NULL;
    }
    state_t *self = calloc (1, sizeof (state_t));
    self->dir = strdup (dir);
    self->manager = strdup ("");
    self->warnings = strdup ("");
    self->orders = wob_idmap_new (s_lease_destroy);
    self->reported = wob_idmap_new (s_tomb_destroy);
    char path [PATH_MAX];
    s_path (path, "%s/lock", dir);
    self->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0) {
        wob_fail (err, WOB_ERR_IO, "%s: cannot open: %s", path, strerror (errno));
        goto failed;
    }
    if (flock (self->lock_fd, LOCK_EX | LOCK_NB)) {
        wob_fail (err, WOB_ERR_INVALID, "state directory %s is in use by another wob-visit "
                  "(%s)", dir, strerror (errno));
        goto failed;
    }
    if (s_load_manager (self, err)
    ||  s_load_dir (self, "orders", ".lease", true, err)
    ||  s_load_dir (self, "reported", ".outcome", false, err))
        goto failed;
    return self;
failed:
    state_destroy (&self);
    return NULL;
}

void
state_destroy (state_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    state_t *self = *self_p;
    if (self->lock_fd > 0)
        close (self->lock_fd);          //  releases the flock
    zhashx_destroy (&self->orders);
    zhashx_destroy (&self->reported);
    for (size_t i = 0; i < self->n_owns; i++)
        free (self->owns [i]);
    free (self->owns);
    free (self->manager);
    free (self->warnings);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

const char *state_dir (state_t *self) { return self->dir; }
const char *state_warnings (state_t *self) { return self->warnings; }
const char *state_manager (state_t *self) { return self->manager; }
size_t state_size (state_t *self) { return zhashx_size (self->orders); }

size_t
state_owns (state_t *self, const char ***owns_p)
{
    *owns_p = (const char **) self->owns;
    return self->n_owns;
}

int
state_set_manager (state_t *self, const char *manager, const char **owns, size_t n_owns,
                   char *err)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    fprintf (out, "# wob-visit state directory (docs/VISIT.md): written by sync\n");
    fprintf (out, "manager %s\n", manager);
    for (size_t i = 0; i < n_owns; i++)
        fprintf (out, "owns %s\n", owns [i]);
    fclose (out);
    int rc = s_write (self, "", "manager", text, size, err);
    free (text);
    if (rc)
        return rc;
    //  Copy first: owns may be this state's own array
    char **copy = calloc (n_owns + 1, sizeof (char *));
    for (size_t i = 0; i < n_owns; i++)
        copy [i] = strdup (owns [i]);
    for (size_t i = 0; i < self->n_owns; i++)
        free (self->owns [i]);
    free (self->owns);
    self->owns = copy;
    self->n_owns = n_owns;
    free (self->manager);
    self->manager = strdup (manager);
    return 0;
}

static int
s_compare_ids (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

uint64_t *
state_ids (state_t *self, size_t *count)
{
    *count = 0;
    uint64_t *ids = calloc (zhashx_size (self->orders) + 1, sizeof (uint64_t));
    for (void *item = zhashx_first (self->orders); item; item = zhashx_next (self->orders))
        ids [(*count)++] = (uint64_t) (uintptr_t) zhashx_cursor (self->orders);
    qsort (ids, *count, sizeof (uint64_t), s_compare_ids);
    return ids;
}

Wob__LeaseItem *
state_order (state_t *self, uint64_t id)
{
    return zhashx_lookup (self->orders, WOB_ID_KEY (id));
}

int
state_put (state_t *self, Wob__LeaseItem **item_p, char *err)
{
    Wob__LeaseItem *item = *item_p;
    *item_p = NULL;
    if (!item->order || !item->order->id) {
        wob__lease_item__free_unpacked (item, NULL);
        return wob_fail (err, WOB_ERR_INVALID, "lease without an order");
    }
    uint64_t id = item->order->id;
    size_t size = wob__lease_item__get_packed_size (item);
    uint8_t *data = malloc (size + 1);
    wob__lease_item__pack (item, data);
    char name [40];
    snprintf (name, sizeof (name), "%" PRIu64 ".lease", id);
    int rc = s_write (self, "orders", name, data, size, err);
    free (data);
    if (rc) {
        wob__lease_item__free_unpacked (item, NULL);
        return rc;
    }
    zhashx_update (self->orders, WOB_ID_KEY (id), item);
    return 0;
}

int
state_drop (state_t *self, uint64_t id, char *err)
{
    int rc = s_unlink (self, "orders", id, ".lease", err);
    if (!rc)
        zhashx_delete (self->orders, WOB_ID_KEY (id));
    return rc;
}

Wob__OutcomeItem *
state_reported (state_t *self, uint64_t id, int64_t *at_ms)
{
    s_tomb_t *tomb = zhashx_lookup (self->reported, WOB_ID_KEY (id));
    if (at_ms)
        *at_ms = tomb? tomb->at_ms: 0;
    return tomb? tomb->item: NULL;
}

int
state_mark_reported (state_t *self, const Wob__OutcomeItem *item, char *err)
{
    size_t size = wob__outcome_item__get_packed_size (item);
    uint8_t *data = malloc (size + 1);
    wob__outcome_item__pack (item, data);
    char name [40];
    snprintf (name, sizeof (name), "%" PRIu64 ".outcome", item->order_id);
    int rc = s_write (self, "reported", name, data, size, err);
    if (!rc) {
        s_tomb_t *tomb = calloc (1, sizeof (s_tomb_t));
        tomb->item = wob__outcome_item__unpack (NULL, size, data);
        tomb->at_ms = wob_now_ms ();
        zhashx_update (self->reported, WOB_ID_KEY (item->order_id), tomb);
        //  The order stays held only when the broker leased it again
        //  (a later attempt: an appointment that came back)
        Wob__LeaseItem *lease = state_order (self, item->order_id);
        if (lease && lease->order->attempts <= item->attempt)
            rc = state_drop (self, item->order_id, err);
    }
    free (data);
    return rc;
}

size_t
state_prune (state_t *self, int64_t max_age_ms)
{
    int64_t now = wob_now_ms ();
    size_t pruned = 0;
    zlistx_t *old = zlistx_new ();
    for (s_tomb_t *tomb = zhashx_first (self->reported); tomb;
         tomb = zhashx_next (self->reported)) {
        uint64_t id = (uint64_t) (uintptr_t) zhashx_cursor (self->reported);
        if (now - tomb->at_ms > max_age_ms && !state_order (self, id))
            zlistx_add_end (old, WOB_ID_KEY (id));
    }
    for (void *key = zlistx_first (old); key; key = zlistx_next (old)) {
        uint64_t id = (uint64_t) (uintptr_t) key;
        char err [WOB_ERRLEN];
        if (s_unlink (self, "reported", id, ".outcome", err) == 0) {
            zhashx_delete (self->reported, key);
            pruned++;
        }
    }
    zlistx_destroy (&old);
    return pruned;
}
