/*  wob.h - the wob client library: errors, names, the wire codec and the
    request/reply client that campaign systems, wobctl and workers share.

    The protocol's message types are the protobuf-c structs generated from
    proto/wob.proto (wob.pb-c.h, produced by the build).  This header adds
    what the generated code does not: one error space with wob_strerror,
    state / outcome names, framing with version and size checks, and a client
    that never hangs on a dead broker.                                      */

#ifndef WOB_H_INCLUDED
#define WOB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include "wob.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WOB_PROTOCOL_VERSION 1
#define WOB_MAX_MESSAGE      (16u * 1024 * 1024)  //  default frame size limit
#define WOB_ERRLEN           512                   //  size of error buffers

//  Every wob function that can fail returns one of these (0 = success).
typedef enum {
    WOB_OK = 0,
    WOB_ERR_INVALID = 1,       //  bad input: file, row, field, argument
    WOB_ERR_UNREACHABLE = 2,   //  broker did not answer in time
    WOB_ERR_REFUSED = 3,       //  broker answered with an error
    WOB_ERR_STORE = 4,         //  storage failed (full, unwritable, corrupt)
    WOB_ERR_NOMEM = 5,
    WOB_ERR_IO = 6,            //  file system or socket error
    WOB_ERR_DECODE = 7,        //  bytes that are not a wob message
    WOB_ERR_NOT_FOUND = 8
} wob_err_t;

//  Static text for an error code.
const char *wob_strerror (int err);

//  Writes a formatted message into err (WOB_ERRLEN bytes) and returns code.
int wob_fail (char *err, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Names used on the command line, in JSON and in the store's reports.
const char *wob_state_name (int state);
int wob_state_from_name (const char *name);       //  -1 if unknown
const char *wob_outcome_name (int outcome);
int wob_outcome_from_name (const char *name);     //  -1 if unknown
const char *wob_wave_state_name (int state);
const char *wob_errcode_name (int code);

//  Wall clock, epoch milliseconds.
int64_t wob_now_ms (void);
//  Formats epoch ms as "2026-11-24 19:14:01" local time into buf (>= 32).
char *wob_format_time (int64_t ms, char *buf, size_t size);
//  Parses ISO 8601 ("2026-11-24T09:00:00+08:00", "2026-11-24 09:00", date
//  only) or epoch seconds; returns 0 and sets *ms, or -1.
int wob_parse_time (const char *text, int64_t *ms);

//  Appends text, or n in decimal, to out (of size) at *len, truncating:
//  for texts built on every order's path, where printf's parsing shows.
void wob_append (char *out, size_t size, size_t *len, const char *text);
void wob_append_u64 (char *out, size_t size, size_t *len, uint64_t n);

//  Replaces a protobuf-c string field with a copy of value, freeing the old
//  one unless it is protobuf-c's shared empty string.
void wob_str_set (char **field, const char *value);
//  Frees what wob_str_set put in a field of a message on the stack.
void wob_str_free (char **field);

//  A zhashx keyed by 64-bit ids stored in the key pointer itself (no key
//  copies); values are destroyed with destructor (may be NULL).
zhashx_t *wob_idmap_new (zhashx_destructor_fn *destructor);
#define WOB_ID_KEY(id) ((void *) (uintptr_t) (id))

//  Parses a duration: "500ms", "90s", "15m", "72h", "7d"; -1 if invalid.
int64_t wob_parse_duration (const char *text);

//  True when s is valid UTF-8 of len bytes.
bool wob_utf8_valid (const char *s, size_t len);

//  Writes s as a JSON string literal (quoted, escaped).
void wob_json_string (FILE *out, const char *s);
//  Writes an order with its history as `wobctl status --json` prints it
//  (and the dashboard's /api/orders): {"id", "state", "channel", "worker",
//  "wave", "campaign", "msisdn", "offers", "attempts", "outcome", "note",
//  "history": [{"at_ms", "from", "to", "actor", "reason"}]}.
void wob_order_json (FILE *out, const Wob__Order *order);

//  --- Codec -------------------------------------------------------------
//  Packs env (setting its version) into a new frame.  Returns NULL on OOM.
zframe_t *wob_msg_pack (Wob__Envelope *env);
//  Sends env as one frame on sock (after any routing frame the caller sent).
int wob_msg_send (zsock_t *sock, Wob__Envelope *env);
//  Decodes a frame.  On failure returns NULL, *code is a Wob__ErrorCode and
//  err says what is wrong (size, version, not protobuf, no body).
Wob__Envelope *wob_msg_decode (const uint8_t *data, size_t size, size_t max,
                               int *code, char *err);
void wob_msg_free (Wob__Envelope **env_p);
//  A heap Count (name copied), freed with its parent message.
Wob__Count *wob_count_new (const char *name, uint64_t count);
//  Builds an error envelope (strings copied) for replying.
Wob__Envelope *wob_msg_new_error (uint64_t request_id, int code,
                                  const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  --- Client ------------------------------------------------------------
typedef struct _wob_client_t wob_client_t;

//  Connects a DEALER to endpoint.  timeout_ms bounds every request.
//  CurveZMQ for clients and workers (lib/curve.c), from the environment:
//  WOB_CURVE_SERVERKEY (the broker's public key) and WOB_CURVE_CERT (this
//  client's certificate file, with FILE_secret), both or neither.
//  wob_curve_check validates them (err says what is wrong); wob_curve_apply
//  makes sock a CurveZMQ client with them (nothing when neither is set).
int wob_curve_check (char *err);
int wob_curve_apply (zsock_t *sock, char *err);
//  Writes a new key pair to path and path_secret; public_key gets its
//  public key (41 bytes, Z85).
int wob_curve_keygen (const char *path, char *public_key, char *err);

wob_client_t *wob_client_new (const char *endpoint, int timeout_ms);
void wob_client_destroy (wob_client_t **self_p);

//  Sends req (takes nothing; caller still owns req) and waits for the reply
//  with the same request id.  Returns the reply (caller frees with
//  wob_msg_free) or NULL with *rc set: WOB_ERR_UNREACHABLE on timeout,
//  WOB_ERR_REFUSED when the broker answered with an Error (err holds its
//  message, prefixed by the code name).
Wob__Envelope *wob_client_request (wob_client_t *self, Wob__Envelope *req,
                                   int *rc, char *err);

//  Submits a wave: descriptor file (YAML or JSON) plus its target CSV.
//  progress (may be NULL) is called after each durable chunk.  On success
//  *summary_p receives the broker's summary (free with wob_msg_free on the
//  envelope returned in *reply_p).  With skip_bad_rows, bad rows are
//  reported through bad_row (may be NULL) and left out; without it the
//  first bad row refuses the whole wave before anything is sent.
typedef void (wob_progress_fn) (void *arg, uint64_t rows_durable, uint64_t rows_total);
typedef void (wob_bad_row_fn) (void *arg, const char *message);
typedef struct {
    const char *wave_file;          //  descriptor path
    const char *wave_id;            //  overrides the descriptor's id if set
    const char *targets_file;       //  overrides the descriptor's targets
    bool skip_bad_rows;
    size_t chunk_rows;              //  targets per chunk (default 5000)
    wob_progress_fn *progress;
    wob_bad_row_fn *bad_row;
    void *arg;
} wob_submit_opts_t;
int wob_client_submit (wob_client_t *self, const wob_submit_opts_t *opts,
                       Wob__Envelope **reply_p, char *err);

#ifdef __cplusplus
}
#endif
#endif
