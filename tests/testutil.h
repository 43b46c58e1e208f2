/*  testutil.h - the harness shared by wob's C unit tests.

    One copy of what every tests/test_*.c program needs: pass / fail
    counters and the CHECK, CHECK_MSG and CHECK_ERR macros; named checks
    that print "NAME: check ... ok" or "FAILED"; a mkdtemp directory under
    $TMPDIR (or /tmp) with helpers to name and write files in it and to
    remove it; and the closing "NAME: N passed, M failed" line, which is
    always the last line a test prints on stdout.

    A test calls testutil_init ("test_foo") first, optionally
    testutil_mkdtemp (), and ends main with return testutil_finish ().  The
    temporary directory is removed when every check passed and kept, with
    its path printed, for inspection after a failure.

    Header-only: everything is static, so each test program gets its own
    state.  Names carry the testutil_ prefix so they never clash with a
    test's own s_ helpers.                                                */

#ifndef TESTUTIL_H_INCLUDED
#define TESTUTIL_H_INCLUDED

#include "wob.h"
#include <ftw.h>
#include <stdarg.h>
#include <unistd.h>

//  State of the running test program
static struct {
    const char *name;           //  program name, "test_codec"
    int passed;                 //  checks that held
    int failed;                 //  checks that did not
    const char *check;          //  name of the running named check, or ""
    int check_failed;           //  failures in the running named check
    char dir [256];             //  mkdtemp directory, "" until created
} testutil = { "test", 0, 0, "", 0, "" };

//  Counts one check; when ok is false prints file, line, the running
//  check's name (if any) and the formatted message to stderr.
static inline void CHECK_PRINTF (4)
testutil_record (bool ok, const char *file, int line, const char *format, ...)
{
    if (ok) {
        testutil.passed++;
        return;
    }
    testutil.failed++;
    testutil.check_failed++;
    if (*testutil.check)
        fprintf (stderr, "%s:%d: [%s] FAIL: ", file, line, testutil.check);
    else
        fprintf (stderr, "%s:%d: FAIL: ", file, line);
    va_list args;
    va_start (args, format);
    vfprintf (stderr, format, args);
    va_end (args);
    fprintf (stderr, "\n");
}

//  Checks cond, printing its source text when it does not hold
#define CHECK(cond) \
    testutil_record ((cond)? true: false, __FILE__, __LINE__, "%s", #cond)

//  Checks cond, printing a printf-style message when it does not hold
#define CHECK_MSG(cond, ...) \
    testutil_record ((cond)? true: false, __FILE__, __LINE__, __VA_ARGS__)

//  Checks that the string err contains text, printing err when it does not
#define CHECK_ERR(err, text) \
    testutil_check_err ((err), (text), __FILE__, __LINE__)

static inline void
testutil_check_err (const char *err, const char *text, const char *file, int line)
{
    testutil_record (strstr (err, text) != NULL, file, line,
                     "error '%s' lacks '%s'", err, text);
}

//  Names the test program; call first in main
static inline void
testutil_init (const char *name)
{
    testutil.name = name;
}

//  Starts a named check: failures until testutil_end are reported under it
static inline void
testutil_start (const char *check)
{
    testutil.check = check;
    testutil.check_failed = 0;
}

//  Ends the running named check, printing whether it passed
static inline void
testutil_end (void)
{
    printf ("%s: %-44s %s\n", testutil.name, testutil.check,
            testutil.check_failed? "FAILED": "ok");
    testutil.check = "";
    testutil.check_failed = 0;
}

//  Creates the test's temporary directory $TMPDIR/wob-NAME-XXXXXX (or under
//  /tmp) and prints its path.  Returns the path, or NULL after printing why
//  it could not be made.
static inline const char *
testutil_mkdtemp (void)
{
    const char *tmp = getenv ("TMPDIR");
    snprintf (testutil.dir, sizeof (testutil.dir), "%s/wob-%s-XXXXXX",
              tmp && *tmp? tmp: "/tmp", testutil.name);
    if (!mkdtemp (testutil.dir)) {
        perror ("mkdtemp");
        testutil.dir [0] = 0;
        return NULL;
    }
    printf ("%s: files in %s\n", testutil.name, testutil.dir);
    return testutil.dir;
}

//  Path of name inside the temporary directory (not created).  Returns a
//  static buffer, valid until the next testutil_path or testutil_write.
static inline const char *
testutil_path (const char *name)
{
    static char path [512];
    snprintf (path, sizeof (path), "%s/%s", testutil.dir, name);
    return path;
}

//  Writes len bytes of content to name in the temporary directory and
//  returns its path (as testutil_path).  Exits the test if it cannot.
static inline const char *
testutil_write (const char *name, const char *content, size_t len)
{
    const char *path = testutil_path (name);
    FILE *file = fopen (path, "wb");
    if (!file) {
        perror (path);
        exit (1);
    }
    if (len && fwrite (content, 1, len, file) != len) {
        perror (path);
        exit (1);
    }
    if (fclose (file)) {
        perror (path);
        exit (1);
    }
    return path;
}

//  Writes the C string content to name in the temporary directory
static inline const char *
testutil_write_str (const char *name, const char *content)
{
    return testutil_write (name, content, strlen (content));
}

//  Writes a string literal, embedded NULs included
#define TESTUTIL_WRITE(name, literal) \
    testutil_write ((name), (literal), sizeof (literal) - 1)

static inline int
s_testutil_remove_entry (const char *path, const struct stat *st, int flag,
                         struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    remove (path);
    return 0;
}

//  Removes path and everything below it, without following links
static inline void
testutil_rmtree (const char *path)
{
    nftw (path, s_testutil_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

//  Removes the temporary directory if every check passed (else says where
//  it is kept), prints "NAME: N passed, M failed" and returns main's exit
//  code.
static inline int
testutil_finish (void)
{
    if (*testutil.dir) {
        if (testutil.failed == 0)
            testutil_rmtree (testutil.dir);
        else
            printf ("%s: files kept in %s\n", testutil.name, testutil.dir);
    }
    printf ("%s: %d passed, %d failed\n", testutil.name, testutil.passed,
            testutil.failed);
    return testutil.failed? 1: 0;
}

#endif
