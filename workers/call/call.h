/*  call.h - the call-center worker's modules, shared inside workers/call/.

    wob-call serves one call-center floor from one process:
      agents.c   the agents' sessions: one wob_worker_t (capacity 1) per
                 signed-in agent, the order on each agent's screen, its
                 customer view, outcome reports, lease extension and the
                 idle sweep (the "center")
      console.c  the web console and JSON API over libmicrohttpd, run in
                 external polling mode from the main thread
      jsonin.c   a small strict reader for the JSON objects that the API
                 receives
      call.c     options and the one event loop that polls the broker
                 sockets and the HTTP server together
    Everything runs on the main thread: ZeroMQ sockets are not thread-safe,
    and no request needs more than a few milliseconds of work.            */

#ifndef WOB_CALL_H_INCLUDED
#define WOB_CALL_H_INCLUDED

#include "wob_worker.h"

//  --- agents.c: the center --------------------------------------------------

typedef struct _center_t center_t;
typedef struct _agent_t agent_t;

typedef struct {
    const char *endpoint;       //  broker endpoint
    const char **owns;          //  what agents own when they declare nothing
    size_t n_owns;
    int64_t idle_timeout_ms;    //  not heard from this long: signed out
    uint32_t heartbeat_ms;      //  worker heartbeat to the broker
    FILE *log;                  //  one line per report (may be NULL)
} center_config_t;

//  Errors the center returns; the console maps them to HTTP statuses.
//  0 = success, else a wob_err_t: WOB_ERR_INVALID (400, bad input),
//  WOB_ERR_NOT_FOUND (404, unknown agent), WOB_ERR_REFUSED (409, the
//  order is not the agent's), WOB_ERR_UNREACHABLE (503).

//  Creates the center (no agents yet).  The config's strings must outlive
//  it.  NULL with err set on failure.
center_t *center_new (const center_config_t *config, char *err);
//  Signs every agent out (their orders go back to the queue) and frees.
void center_destroy (center_t **self_p);

//  Signs an agent in: a new broker session "call:<agent>" with capacity 1
//  (waits up to a second for the broker's welcome; a refused hello is
//  WOB_ERR_REFUSED with the broker's reason).
//  owns (may be NULL, n_owns 0) overrides the center's default.  Signing in
//  an agent that is signed in already resumes that session (*resumed set).
int center_signin (center_t *self, const char *agent, const char **owns, size_t n_owns,
                   bool *resumed, char *err);
//  Signs an agent out; the order on the agent's screen, if any, goes back
//  to the queue (its id in *returned, 0 if none).  why is logged.
int center_signout (center_t *self, const char *agent, const char *why, uint64_t *returned,
                    char *err);
//  Records that the agent was heard from.  idle_ms is how long the agent
//  has not touched the page (-1: unknown, counts as active now).
int center_seen (center_t *self, const char *agent, int64_t idle_ms, char *err);
//  Records an outcome for the order on the agent's screen.  callback_at
//  (epoch ms, 0 = none) is required with "callback" and refused otherwise.
int center_report (center_t *self, const char *agent, uint64_t order_id,
                   const char *outcome, const char *note, int64_t callback_at, char *err);

//  Writes the agent's state and the order on screen (with its customer
//  view) as one JSON object.
int center_agent_json (center_t *self, const char *agent, FILE *out, char *err);
//  Writes every signed-in agent as a JSON array.
void center_agents_json (center_t *self, FILE *out);

//  Number of agents signed in.
size_t center_size (center_t *self);
//  Fills items with each agent's broker socket (POLLIN); returns how many
//  (at most max).  Valid until the next call into the center.
size_t center_pollitems (center_t *self, zmq_pollitem_t *items, size_t max);
//  Handles broker traffic, takes new orders, extends leases of active
//  agents and signs out idle ones.  Call after every poll, at least every
//  100 ms.
void center_service (center_t *self);

//  --- console.c: the web console and JSON API ------------------------------

typedef struct _console_t console_t;

//  Starts the HTTP server on "HOST:PORT" (PORT 0 = a free port) in
//  external polling mode.  NULL with err set on failure.
console_t *console_new (center_t *center, const char *listen, char *err);
void console_destroy (console_t **self_p);
//  The bound port, and the file descriptor to poll for readability.
uint16_t console_port (console_t *self);
int console_fd (console_t *self);
//  How long the caller may wait before console_run, at most max_ms.
long console_timeout (console_t *self, long max_ms);
//  Serves whatever is ready, without blocking.
void console_run (console_t *self);

//  --- jsonin.c: request bodies ---------------------------------------------

typedef struct _jsonin_t jsonin_t;

//  Parses a JSON object whose members are strings, numbers, booleans,
//  null or arrays of strings (what the API accepts).  NULL with err set
//  ("at byte 14: expected ':'").
jsonin_t *jsonin_parse (const char *text, size_t size, char *err);
void jsonin_destroy (jsonin_t **self_p);
//  First member whose key is not in the NULL-terminated list, or NULL.
const char *jsonin_unknown (jsonin_t *self, const char **known);
//  True when the member is present and not null.
bool jsonin_has (jsonin_t *self, const char *key);
//  The member as a string: 0, or -1 with err naming the key and the type.
int jsonin_string (jsonin_t *self, const char *key, const char **value, char *err);
//  The member as a whole number >= 0 (a JSON number or a string of digits).
int jsonin_uint (jsonin_t *self, const char *key, uint64_t *value, char *err);
//  The member as an array of strings, or one comma-separated string.
//  *items is valid until jsonin_destroy.
int jsonin_strings (jsonin_t *self, const char *key, const char ***items, size_t *count,
                    char *err);
//  The member's JSON type name ("string", "number"...), "absent" if none.
const char *jsonin_type (jsonin_t *self, const char *key);

//  --- assets (generated from console.html, .css, .js by embed.cmake) -------

typedef struct {
    const char *path;           //  URL path, e.g. "/console.js"
    const char *type;           //  Content-Type
    const unsigned char *data;  //  the file's bytes
    size_t size;
} call_asset_t;

extern const call_asset_t call_assets [];
extern const size_t call_assets_count;

#endif
