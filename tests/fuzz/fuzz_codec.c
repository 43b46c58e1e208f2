/*  fuzz_codec.c - libFuzzer target for the protocol decoder, wob_msg_decode
    (lib/codec.c): the bytes of one ZeroMQ frame from any peer.

    Every input is decoded with the default frame limit.  A refusal must
    come with a protocol error code and a message; an accepted envelope must
    be version 1 with a body, and must survive what the broker does with the
    envelopes it builds: get its packed size, pack it, and decode the packed
    bytes again, which must give the very same bytes once packed again
    (packing is canonical, so decode / pack is stable after one round).  The
    same input is also decoded with a limit one byte short of its size,
    which must be refused as too big.

    Findings are ASan / UBSan reports and the contract checks below, which
    abort with a line on stderr.  Build and run: tests/fuzz/README.md.    */

#include "wob.h"

//  Checks a contract of the code under test; a failure is a finding.
#define S_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf (stderr, "fuzz_codec: check failed at %s:%d: %s\n", \
                     __FILE__, __LINE__, #cond); \
            abort (); \
        } \
    } while (0)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  A refusal: no envelope, a protocol error code and a message
static void
s_check_refusal (int code, const char *err)
{
    S_CHECK (code != WOB__ERROR_CODE__ERR_NONE);
    S_CHECK (memchr (err, 0, WOB_ERRLEN) != NULL);
    S_CHECK (err [0] != 0);
}

//  Packs env into a new buffer of its packed size; *size_p gets the size
static uint8_t *
s_pack (const Wob__Envelope *env, size_t *size_p)
{
    size_t size = wob__envelope__get_packed_size (env);
    uint8_t *buf = (uint8_t *) malloc (size? size: 1);
    S_CHECK (buf);
    size_t written = wob__envelope__pack (env, buf);
    S_CHECK (written == size);
    *size_p = size;
    return buf;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err [WOB_ERRLEN] = "";
    int code = -1;
    Wob__Envelope *env = wob_msg_decode (data, size, WOB_MAX_MESSAGE, &code, err);

    //  One byte over the limit is too big, whatever the bytes are
    if (size > 0) {
        char small_err [WOB_ERRLEN] = "";
        int small_code = -1;
        Wob__Envelope *small = wob_msg_decode (data, size, size - 1,
                                               &small_code, small_err);
        S_CHECK (small == NULL);
        S_CHECK (small_code == WOB__ERROR_CODE__ERR_TOO_BIG);
        s_check_refusal (small_code, small_err);
    }
    if (!env) {
        s_check_refusal (code, err);
        return 0;
    }
    S_CHECK (code == WOB__ERROR_CODE__ERR_NONE);
    S_CHECK (env->version == WOB_PROTOCOL_VERSION);
    S_CHECK (env->body_case != WOB__ENVELOPE__BODY__NOT_SET);

    //  Re-pack what was decoded, as a reply or a forwarded message would be
    size_t packed_size;
    uint8_t *packed = s_pack (env, &packed_size);

    //  The library's own packer gives the same frame
    zframe_t *frame = wob_msg_pack (env);
    S_CHECK (frame);
    S_CHECK (zframe_size (frame) == packed_size);
    S_CHECK (packed_size == 0 || memcmp (zframe_data (frame), packed, packed_size) == 0);
    zframe_destroy (&frame);

    //  What we packed decodes again, and packs to the same bytes
    Wob__Envelope *again = wob_msg_decode (packed, packed_size, WOB_MAX_MESSAGE,
                                           &code, err);
    if (!again)
        fprintf (stderr, "fuzz_codec: re-packed envelope refused: %s\n", err);
    S_CHECK (again);
    S_CHECK (again->request_id == env->request_id);
    S_CHECK (again->body_case == env->body_case);
    size_t repacked_size;
    uint8_t *repacked = s_pack (again, &repacked_size);
    S_CHECK (repacked_size == packed_size);
    S_CHECK (packed_size == 0 || memcmp (repacked, packed, packed_size) == 0);

    free (repacked);
    free (packed);
    wob_msg_free (&again);
    wob_msg_free (&env);
    S_CHECK (env == NULL);
    return 0;
}
