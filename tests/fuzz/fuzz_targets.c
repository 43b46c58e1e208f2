/*  fuzz_targets.c - libFuzzer target for the target CSV reader,
    wob_targets_open / wob_targets_next (lib/targets.c): files that come
    from campaign systems and spreadsheets.

    The reader takes a path, so each input is written to one temporary file
    (made once per process with mkstemp, rewritten for every input) and read
    to the end: every row, good or bad, until end of file or a fatal error.
    The checks follow include/wob_targets.h: an accepted row has a number
    and at least one offer and its Target packs and unpacks (the client
    sends rows to the broker that way); bad and fatal rows carry a message;
    row numbers count up; after a fatal error the reader stays stopped.

    The reader fills a 1 MiB buffer (S_BUFSIZE in targets.c) and keeps
    state across refills, which small inputs never reach.  An input that
    starts with the 4 bytes "\0PAD" is therefore laid out differently: the
    next 2 bytes (big endian) are a distance D, and the rest is the CSV
    text, written with one line of filler ("xxx...x\n") inserted after its
    first line so that the second line starts D bytes before the 1 MiB
    mark.  The filler is one record over WOB_CSV_MAX_LINE, which the reader
    skips as one bad row (quickly: a blank-line filler would cost a million
    records per input), so the records after it straddle a refill.

    Findings are ASan / UBSan reports and the checks below, which abort with
    a line on stderr.  Build and run: tests/fuzz/README.md.              */

#define FUZZ_NAME "fuzz_targets"
#include "wob_targets.h"

#define S_READ_BUFSIZE  (1024 * 1024)   //  S_BUFSIZE in lib/targets.c
#define S_PAD_MAGIC     "\0PAD"         //  selects the refill layout
#define S_PAD_MAGIC_LEN 4

#include "fuzzfile.h"

//  Replaces the file's content by the input (see the banner for "\0PAD")
static void
s_file_set (const uint8_t *data, size_t size)
{
    s_file_init ();
    off_t offset = 0;
    if (size >= S_PAD_MAGIC_LEN + 2 && memcmp (data, S_PAD_MAGIC, S_PAD_MAGIC_LEN) == 0) {
        size_t distance = ((size_t) data [4] << 8) | data [5];
        const uint8_t *text = data + S_PAD_MAGIC_LEN + 2;
        size_t text_size = size - S_PAD_MAGIC_LEN - 2;
        const uint8_t *eol = (const uint8_t *) memchr (text, '\n', text_size);
        size_t first = eol? (size_t) (eol - text) + 1: text_size;
        s_write (text, first, &offset);
        //  One line of filler up to D bytes before the refill, if there is room
        if (first < S_READ_BUFSIZE && distance + 1 < S_READ_BUFSIZE - first) {
            static char *s_filler = NULL;
            if (!s_filler) {
                s_filler = (char *) malloc (S_READ_BUFSIZE);
                S_CHECK (s_filler);
                memset (s_filler, 'x', S_READ_BUFSIZE);
            }
            s_write (s_filler, S_READ_BUFSIZE - first - distance - 1, &offset);
            s_write ("\n", 1, &offset);
        }
        s_write (text + first, text_size - first, &offset);
    }
    else
        s_write (data, size, &offset);
    if (ftruncate (s_fd, offset)) {
        fprintf (stderr, "fuzz_targets: cannot truncate %s: %s\n", s_path, strerror (errno));
        abort ();
    }
}

//  An accepted row: what the header promises, and a Target that packs
static void
s_check_target (const Wob__Target *target, uint32_t row)
{
    S_CHECK (target);
    S_CHECK (target->row == row);
    S_CHECK (target->msisdn && *target->msisdn);
    S_CHECK (target->n_offers >= 1);
    for (size_t i = 0; i < target->n_offers; i++)
        S_CHECK (target->offers [i] && *target->offers [i]);
    for (size_t i = 0; i < target->n_extra; i++)
        S_CHECK (target->extra [i] && target->extra [i]->key);

    size_t size = wob__target__get_packed_size (target);
    uint8_t *buf = (uint8_t *) malloc (size? size: 1);
    S_CHECK (buf);
    S_CHECK (wob__target__pack (target, buf) == size);
    Wob__Target *back = wob__target__unpack (NULL, size, buf);
    S_CHECK (back);
    S_CHECK (strcmp (back->msisdn, target->msisdn) == 0);
    S_CHECK (back->n_offers == target->n_offers);
    S_CHECK (back->n_extra == target->n_extra);
    wob__target__free_unpacked (back, NULL);
    free (buf);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_file_set (data, size);
    char err [WOB_ERRLEN] = "";
    wob_targets_t *reader = wob_targets_open (s_path, err);
    if (!reader) {
        S_CHECK (memchr (err, 0, WOB_ERRLEN) != NULL);
        S_CHECK (err [0] != 0);
        return 0;
    }
    uint32_t rows = 0;
    uint64_t last_line = wob_targets_line (reader);
    for (;;) {
        Wob__Target *target = (Wob__Target *) &rows;    //  must be reset
        err [0] = 0;
        wob_row_t rc = wob_targets_next (reader, &target, err);
        if (rc == WOB_ROW_EOF) {
            S_CHECK (target == NULL);
            //  End of file stays end of file
            rc = wob_targets_next (reader, &target, err);
            S_CHECK (rc == WOB_ROW_EOF && target == NULL);
            break;
        }
        if (rc == WOB_ROW_FATAL) {
            S_CHECK (target == NULL);
            S_CHECK (memchr (err, 0, WOB_ERRLEN) != NULL);
            S_CHECK (err [0] != 0);
            //  The reader stays stopped
            err [0] = 0;
            rc = wob_targets_next (reader, &target, err);
            S_CHECK (rc == WOB_ROW_FATAL && target == NULL && err [0] != 0);
            break;
        }
        rows++;
        S_CHECK (wob_targets_line (reader) > last_line);
        last_line = wob_targets_line (reader);
        if (rc == WOB_ROW_BAD) {
            S_CHECK (target == NULL);
            S_CHECK (memchr (err, 0, WOB_ERRLEN) != NULL);
            S_CHECK (err [0] != 0);
            continue;
        }
        S_CHECK (rc == WOB_ROW_OK);
        s_check_target (target, rows);
        wob__target__free_unpacked (target, NULL);
    }
    wob_targets_destroy (&reader);
    S_CHECK (reader == NULL);
    wob_targets_destroy (&reader);      //  idempotent
    return 0;
}
