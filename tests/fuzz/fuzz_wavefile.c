/*  fuzz_wavefile.c - libFuzzer target for the wave descriptor parser,
    wob_wavefile_load (lib/wavefile.c, with lib/yamldoc.c): YAML or JSON
    written by people and campaign systems.

    The parser takes a path, so each input is written to one temporary file
    (made once per process with mkstemp, rewritten for every input) and
    loaded from there.  The checks follow include/wob_targets.h: a refusal
    leaves no wave and no targets path and says why; an accepted wave has
    its required keys (campaign, wave, a non-empty plan) and packs and
    unpacks as the client sends it in SubmitBegin.

    Findings are ASan / UBSan reports and the checks below, which abort with
    a line on stderr.  Build and run: tests/fuzz/README.md.              */

#define FUZZ_NAME "fuzz_wavefile"
#include "wob_targets.h"
#include "fuzzfile.h"

//  Replaces the file's content by the input
static void
s_file_set (const uint8_t *data, size_t size)
{
    s_file_init ();
    off_t offset = 0;
    s_write (data, size, &offset);
    if (ftruncate (s_fd, offset)) {
        fprintf (stderr, "fuzz_wavefile: cannot truncate %s: %s\n", s_path, strerror (errno));
        abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_file_set (data, size);
    char err [WOB_ERRLEN] = "";
    Wob__Wave *wave = (Wob__Wave *) &err;   //  must be reset
    char *targets = (char *) &err;          //  must be reset
    int rc = wob_wavefile_load (s_path, &wave, &targets, err);
    if (rc) {
        S_CHECK (wave == NULL);
        S_CHECK (targets == NULL);
        S_CHECK (memchr (err, 0, WOB_ERRLEN) != NULL);
        S_CHECK (err [0] != 0);
        return 0;
    }
    S_CHECK (wave);
    S_CHECK (wave->campaign && *wave->campaign);
    S_CHECK (wave->id && *wave->id && strlen (wave->id) <= 64);
    S_CHECK (wave->n_plan >= 1);
    for (size_t i = 0; i < wave->n_plan; i++)
        S_CHECK (wave->plan [i] && wave->plan [i]->channel && *wave->plan [i]->channel);
    if (targets)
        S_CHECK (*targets);

    size_t packed_size = wob__wave__get_packed_size (wave);
    uint8_t *packed = (uint8_t *) malloc (packed_size? packed_size: 1);
    S_CHECK (packed);
    S_CHECK (wob__wave__pack (wave, packed) == packed_size);
    Wob__Wave *back = wob__wave__unpack (NULL, packed_size, packed);
    S_CHECK (back);
    S_CHECK (strcmp (back->id, wave->id) == 0);
    S_CHECK (strcmp (back->campaign, wave->campaign) == 0);
    S_CHECK (back->n_plan == wave->n_plan);
    S_CHECK (back->start_ms == wave->start_ms && back->end_ms == wave->end_ms);
    wob__wave__free_unpacked (back, NULL);
    free (packed);

    //  Without a targets pointer the same file loads the same way
    Wob__Wave *plain = NULL;
    S_CHECK (wob_wavefile_load (s_path, &plain, NULL, err) == 0);
    S_CHECK (plain && strcmp (plain->id, wave->id) == 0);
    wob__wave__free_unpacked (plain, NULL);

    wob__wave__free_unpacked (wave, NULL);
    free (targets);
    return 0;
}
