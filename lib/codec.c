/*  codec.c - framing of wob messages: one ZeroMQ frame, one Envelope.

    Decoding is where untrusted bytes enter every wob process, so it checks
    size before parsing, refuses other protocol versions and envelopes that
    carry no body, and reports each failure as a protocol error code with a
    sentence the peer can show.  It never asserts on input.                */

#include "wob.h"
#include <stdarg.h>

zframe_t *
wob_msg_pack (Wob__Envelope *env)
{
    env->version = WOB_PROTOCOL_VERSION;
    size_t size = wob__envelope__get_packed_size (env);
    zframe_t *frame = zframe_new (NULL, size);
    if (!frame)
        return NULL;
    wob__envelope__pack (env, zframe_data (frame));
    return frame;
}

int
wob_msg_send (zsock_t *sock, Wob__Envelope *env)
{
    zframe_t *frame = wob_msg_pack (env);
    if (!frame)
        return -1;
    return zframe_send (&frame, sock, 0);
}

//  Refuses unknown fields anywhere in the message tree: they are bad input
//  (and protobuf-c keeps some it cannot pack again, such as field 0).
static bool
s_known_fields_only (const ProtobufCMessage *msg, char *err, int depth)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    if (msg->n_unknown_fields) {
        wob_fail (err, 0, "%s carries field number %u, which protocol version %d does not "
                  "know", desc->short_name, msg->unknown_fields [0].tag, WOB_PROTOCOL_VERSION);
        return false;
    }
    if (depth > 16) {
        wob_fail (err, 0, "messages nested deeper than 16 levels");
        return false;
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields [i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *) msg;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *) (base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (items [k] && !s_known_fields_only (items [k], err, depth + 1))
                    return false;
        }
        else {
            //  A oneof member is present only when the case says so.
            if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            &&  *(const uint32_t *) (base + f->quantifier_offset) != f->id)
                continue;
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *) (base + f->offset);
            if (sub && !s_known_fields_only (sub, err, depth + 1))
                return false;
        }
    }
    return true;
}

Wob__Envelope *
wob_msg_decode (const uint8_t *data, size_t size, size_t max, int *code, char *err)
{
    if (size > max) {
        *code = WOB__ERROR_CODE__ERR_TOO_BIG;
        wob_fail (err, 0, "message of %zu bytes exceeds the limit of %zu bytes", size, max);
        return NULL;
    }
    Wob__Envelope *env = wob__envelope__unpack (NULL, size, data);
    if (!env) {
        *code = WOB__ERROR_CODE__ERR_DECODE;
        wob_fail (err, 0, "%zu-byte frame is not a wob protocol envelope "
                  "(truncated or not protobuf)", size);
        return NULL;
    }
    if (env->version != WOB_PROTOCOL_VERSION) {
        *code = WOB__ERROR_CODE__ERR_VERSION;
        wob_fail (err, 0, "protocol version %u not supported; this broker speaks version %d",
                  env->version, WOB_PROTOCOL_VERSION);
        wob__envelope__free_unpacked (env, NULL);
        return NULL;
    }
    if (env->body_case == WOB__ENVELOPE__BODY__NOT_SET) {
        *code = WOB__ERROR_CODE__ERR_UNKNOWN;
        wob_fail (err, 0, "envelope carries no command this version knows");
        wob__envelope__free_unpacked (env, NULL);
        return NULL;
    }
    if (!s_known_fields_only (&env->base, err, 0)) {
        *code = WOB__ERROR_CODE__ERR_DECODE;
        wob__envelope__free_unpacked (env, NULL);
        return NULL;
    }
    *code = WOB__ERROR_CODE__ERR_NONE;
    return env;
}

void
wob_msg_free (Wob__Envelope **env_p)
{
    if (env_p && *env_p) {
        wob__envelope__free_unpacked (*env_p, NULL);
        *env_p = NULL;
    }
}

Wob__Envelope *
wob_msg_new_error (uint64_t request_id, int code, const char *fmt, ...)
{
    Wob__Envelope *env = calloc (1, sizeof (Wob__Envelope));
    Wob__Error *error = calloc (1, sizeof (Wob__Error));
    char *message = malloc (WOB_ERRLEN);
    if (!env || !error || !message) {
        free (env);
        free (error);
        free (message);
        return NULL;
    }
    wob__envelope__init (env);
    wob__error__init (error);
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (message, WOB_ERRLEN, fmt, ap);
    va_end (ap);
    error->code = code;
    error->message = message;
    env->request_id = request_id;
    env->body_case = WOB__ENVELOPE__BODY_ERROR;
    env->error = error;
    return env;         //  freeable with wob_msg_free: all heap
}

Wob__Count *
wob_count_new (const char *name, uint64_t count)
{
    Wob__Count *c = calloc (1, sizeof (Wob__Count));
    if (!c)
        return NULL;
    wob__count__init (c);
    c->name = strdup (name);
    c->count = count;
    return c;
}
