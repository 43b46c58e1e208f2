/*  fuzzfile.h - what the file-based fuzz targets share: the contract check
    macro and the one temporary file per process that each input is
    written to (the parsers under test take a path).  Define FUZZ_NAME
    before including.                                                     */

#ifndef FUZZFILE_H_INCLUDED
#define FUZZFILE_H_INCLUDED

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

//  Checks a contract of the code under test; a failure is a finding.
#define S_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf (stderr, FUZZ_NAME ": check failed at %s:%d: %s\n", \
                     __FILE__, __LINE__, #cond); \
            abort (); \
        } \
    } while (0)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  The temporary file that holds the current input
static int s_fd = -1;                   //  open descriptor, or -1
static char s_path [64];                //  name the reader opens
static char s_made [64];                //  name mkstemp made, if still linked

static void
s_remove_file (void)
{
    if (*s_made)
        unlink (s_made);
}

//  Makes the temporary file once.  Where /proc is mounted the file is
//  unlinked at once and opened as /proc/self/fd/N, so that nothing is left
//  behind even when a finding kills the process.
static void
s_file_init (void)
{
    if (s_fd >= 0)
        return;
    const char *dir = getenv ("TMPDIR");
    if (!dir || !*dir || strlen (dir) > 32)
        dir = "/tmp";
    snprintf (s_made, sizeof (s_made), "%s/wob-fuzz-XXXXXX", dir);
    s_fd = mkstemp (s_made);
    if (s_fd < 0) {
        fprintf (stderr, FUZZ_NAME ": mkstemp %s: %s\n", s_made, strerror (errno));
        abort ();
    }
    snprintf (s_path, sizeof (s_path), "/proc/self/fd/%d", s_fd);
    if (access (s_path, R_OK) == 0) {
        unlink (s_made);
        *s_made = 0;
    }
    else {
        snprintf (s_path, sizeof (s_path), "%s", s_made);
        atexit (s_remove_file);
    }
}

//  Writes size bytes at *offset, advancing it
static void
s_write (const void *data, size_t size, off_t *offset)
{
    const char *p = (const char *) data;
    while (size) {
        ssize_t n = pwrite (s_fd, p, size, *offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf (stderr, FUZZ_NAME ": cannot write %s: %s\n", s_path,
                     n < 0? strerror (errno): "no progress");
            abort ();
        }
        p += n;
        size -= (size_t) n;
        *offset += n;
    }
}


#endif
