/*  backup.c - online backup: a consistent, compacted copy of the store
    while the broker goes on working (wobctl backup DIR, admin only).

    LMDB copies in a read transaction of its own, so the copy is one
    consistent point in time and the writer is never blocked; it runs in a
    thread of its own (a CZMQ actor) so the loop is not blocked either.
    The requester's reply waits until the copy is complete: backup_poll,
    called each turn, picks up the result.  One backup at a time.  Restore
    is starting a broker on the copy.                                     */

#include "broker.h"
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>

typedef struct {
    store_t *store;             //  the broker's (LMDB env is thread-safe)
    char *path;                 //  where to copy
} s_job_t;

struct _backup_t {
    zactor_t *actor;            //  the copy in progress, or NULL
    zframe_t *routing;          //  who asked
    uint64_t request_id;        //  their request
    char *path;
    int64_t started_ms;         //  wall clock
};

//  The copying thread: reports "OK bytes" or "ERROR message", then waits
//  for $TERM.
static void
s_copy_actor (zsock_t *pipe, void *args)
{
    s_job_t *job = (s_job_t *) args;
    zsock_signal (pipe, 0);
    char err [WOB_ERRLEN];
    uint64_t bytes = 0;
    if (store_copy (job->store, job->path, &bytes, err))
        zstr_sendf (pipe, "ERROR %s", err);
    else
        zstr_sendf (pipe, "OK %" PRIu64, bytes);
    free (job->path);
    free (job);
    char *command;
    while ((command = zstr_recv (pipe))) {
        bool term = streq (command, "$TERM");
        free (command);
        if (term)
            break;
    }
}

//  A new or empty directory; err says why not.
static int
s_check_target (broker_t *self, const char *path, char *err)
{
    if (!path || path [0] != '/')
        return wob_fail (err, WOB_ERR_INVALID, "backup: '%.200s' is not an absolute path",
                         path? path: "");
    char real_data [4096];
    if (realpath (self->config.data_dir, real_data)
    &&  strncmp (path, real_data, strlen (real_data)) == 0)
        return wob_fail (err, WOB_ERR_INVALID, "backup: %.200s is inside the data directory "
                         "%s", path, real_data);
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        bool empty = true;
        while ((entry = readdir (dir)))
            if (!streq (entry->d_name, ".") && !streq (entry->d_name, ".."))
                empty = false;
        closedir (dir);
        if (!empty)
            return wob_fail (err, WOB_ERR_INVALID, "backup: %.200s is not empty (a backup "
                             "goes into a new or empty directory)", path);
        return 0;
    }
    if (errno != ENOENT || mkdir (path, 0755) != 0)
        return wob_fail (err, WOB_ERR_IO, "backup: cannot create %.200s: %s", path,
                         strerror (errno));
    return 0;
}

void
backup_request (broker_t *self, Wob__BackupRequest *msg)
{
    char err [WOB_ERRLEN];
    if (!self->backup)
        self->backup = calloc (1, sizeof (backup_t));
    backup_t *backup = self->backup;
    if (backup->actor) {
        broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "backup: one is running already "
                      "(into %s)", backup->path);
        return;
    }
    if (s_check_target (self, msg->path, err)) {
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "%s", err);
        return;
    }
    s_job_t *job = calloc (1, sizeof (s_job_t));
    job->store = self->store;
    job->path = strdup (msg->path);
    backup->actor = zactor_new (s_copy_actor, job);
    backup->routing = zframe_dup (self->sender);
    backup->request_id = self->request_id;
    backup->path = strdup (msg->path);
    backup->started_ms = wob_now_ms ();
    zsys_info ("backup into %s started", msg->path);
}

void
backup_poll (broker_t *self)
{
    backup_t *backup = self->backup;
    if (!backup || !backup->actor
    ||  !(zsock_events (zactor_sock (backup->actor)) & ZMQ_POLLIN))
        return;
    char *result = zstr_recv (backup->actor);
    int64_t took = wob_now_ms () - backup->started_ms;
    if (result && strncmp (result, "OK ", 3) == 0) {
        Wob__BackupReply *reply = calloc (1, sizeof (*reply));
        wob__backup_reply__init (reply);
        reply->path = strdup (backup->path);
        reply->bytes = strtoull (result + 3, NULL, 10);
        reply->took_ms = took;
        zsys_info ("backup into %s done: %" PRIu64 " bytes in %" PRId64 " ms", backup->path,
                   reply->bytes, took);
        broker_answer (self, backup->routing, backup->request_id,
                       WOB__ENVELOPE__BODY_BACKUP_REPLY, reply);
    }
    else {
        const char *why = result && strncmp (result, "ERROR ", 6) == 0? result + 6:
                          "the copying thread ended without a result";
        zsys_error ("backup into %s failed: %s", backup->path, why);
        broker_answer_error (self, backup->routing, backup->request_id,
                             WOB__ERROR_CODE__ERR_STORE, why);
    }
    free (result);
    zactor_destroy (&backup->actor);
    zframe_destroy (&backup->routing);
    zstr_free (&backup->path);
}

void
backup_destroy (backup_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    backup_t *self = *self_p;
    zactor_destroy (&self->actor);      //  waits for a copy in progress
    zframe_destroy (&self->routing);
    free (self->path);
    free (self);
    *self_p = NULL;
}
