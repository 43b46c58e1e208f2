/*  test_targets.c - the target CSV reader and the synthetic generator.

    Covers RFC 4180 quoting, BOM, CRLF, blank lines, extra columns and
    multiple offers; every kind of bad header and bad row; a 100 MB record
    that must be skipped in bounded memory with the next row still read; and
    a generator round trip.  Files live in a mkdtemp directory.             */

#include "wob_targets.h"
#include "testutil.h"
#include <sys/resource.h>

//  Opens a file written from a literal, failing the test when it cannot
static wob_targets_t *
s_open (const char *name, const char *content, size_t len, char *err)
{
    const char *path = testutil_write (name, content, len);
    wob_targets_t *reader = wob_targets_open (path, err);
    if (!reader)
        fprintf (stderr, "open %s: %s\n", name, err);
    return reader;
}

#define S_OPEN(name, literal, err) s_open ((name), (literal), sizeof (literal) - 1, (err))

static const char *
s_extra (Wob__Target *target, const char *key)
{
    for (size_t i = 0; i < target->n_extra; i++)
        if (streq (target->extra [i]->key, key))
            return target->extra [i]->value;
    return NULL;
}

static void
test_good_file (void)
{
    char err [WOB_ERRLEN] = "";
    wob_targets_t *reader = S_OPEN ("good.csv",
        "\xEF\xBB\xBFmsisdn,name,Offer,arpu,tenure_months,priority,region_code,segment\r\n"
        "13800138000,\"Wang, Wei\",OFR-A|OFR-B,88.50,12,3,R1,price_sensitive\r\n"
        "\r\n"
        "+8613900139000,\"Li \"\"Na\"\"\r\nsecond, line\",OFR-C,,,,,\r\n"
        "\n"
        " 13700137000 ,张伟, OFR-D | OFR-E ,1e2,0,-1,\"\",x", err);
    CHECK (reader);
    if (!reader)
        return;
    Wob__Target *t = NULL;

    CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_OK);
    CHECK (t && t->row == 1);
    CHECK (wob_targets_line (reader) == 2);
    if (t) {
        CHECK (streq (t->msisdn, "13800138000"));
        CHECK (streq (t->name, "Wang, Wei"));
        CHECK (t->n_offers == 2 && streq (t->offers [0], "OFR-A") && streq (t->offers [1], "OFR-B"));
        CHECK (t->arpu == 88.5);
        CHECK (t->tenure_months == 12);
        CHECK (t->priority == 3);
        CHECK (streq (t->segment, "price_sensitive"));
        CHECK (streq (t->province, ""));
        CHECK (t->n_extra == 1);
        CHECK (s_extra (t, "region_code") && streq (s_extra (t, "region_code"), "R1"));
        CHECK (wob__target__get_packed_size (t) > 0);
        wob__target__free_unpacked (t, NULL);
    }

    CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_OK);
    CHECK (t && t->row == 2);
    CHECK (wob_targets_line (reader) == 4);
    if (t) {
        CHECK (streq (t->msisdn, "+8613900139000"));
        CHECK (streq (t->name, "Li \"Na\"\r\nsecond, line"));
        CHECK (t->n_offers == 1 && streq (t->offers [0], "OFR-C"));
        CHECK (t->arpu == 0 && t->tenure_months == 0 && t->priority == 0);
        CHECK (s_extra (t, "region_code") && streq (s_extra (t, "region_code"), ""));
        CHECK (streq (t->segment, ""));
        wob__target__free_unpacked (t, NULL);
    }

    //  Last record has no line end
    CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_OK);
    CHECK (t && t->row == 3);
    CHECK (wob_targets_line (reader) == 7);
    if (t) {
        CHECK (streq (t->msisdn, "13700137000"));
        CHECK (streq (t->name, "张伟"));
        CHECK (t->n_offers == 2 && streq (t->offers [0], "OFR-D") && streq (t->offers [1], "OFR-E"));
        CHECK (t->arpu == 100);
        CHECK (t->priority == -1);
        CHECK (streq (t->segment, "x"));
        wob__target__free_unpacked (t, NULL);
    }
    CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_EOF);
    CHECK (t == NULL);
    CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_EOF);
    wob_targets_destroy (&reader);
    CHECK (reader == NULL);
    wob_targets_destroy (&reader);          //  idempotent
}

static void
test_bad_headers (void)
{
    char err [WOB_ERRLEN] = "";
    const char *path = TESTUTIL_WRITE ("nooffer.csv", "msisdn,name\n13800138000,x\n");
    CHECK (wob_targets_open (path, err) == NULL);
    CHECK_ERR (err, "nooffer.csv:1:");
    CHECK_ERR (err, "'offer'");

    path = TESTUTIL_WRITE ("nomsisdn.csv", "\n\nname,offer\nx,OFR\n");
    CHECK (wob_targets_open (path, err) == NULL);
    CHECK_ERR (err, "nomsisdn.csv:3:");
    CHECK_ERR (err, "'msisdn'");

    path = TESTUTIL_WRITE ("empty.csv", "");
    CHECK (wob_targets_open (path, err) == NULL);
    CHECK_ERR (err, "empty.csv");
    CHECK_ERR (err, "no header row");

    path = TESTUTIL_WRITE ("blank.csv", "\r\n\n\n");
    CHECK (wob_targets_open (path, err) == NULL);
    CHECK_ERR (err, "no header row");

    path = TESTUTIL_WRITE ("bomonly.csv", "\xEF\xBB\xBF");
    CHECK (wob_targets_open (path, err) == NULL);
    CHECK_ERR (err, "no header row");

    path = TESTUTIL_WRITE ("dup.csv", "msisdn,offer,name,MSISDN\n");
    CHECK (wob_targets_open (path, err) == NULL);
    CHECK_ERR (err, "dup.csv:1:");
    CHECK_ERR (err, "duplicate column 'MSISDN'");

    path = TESTUTIL_WRITE ("emptyname.csv", "msisdn,offer,,name\n");
    CHECK (wob_targets_open (path, err) == NULL);
    CHECK_ERR (err, "column 3 has an empty name");

    path = TESTUTIL_WRITE ("badheader.csv", "msisdn,offer,n\xff\n");
    CHECK (wob_targets_open (path, err) == NULL);
    CHECK_ERR (err, "UTF-8");

    snprintf (err, sizeof (err), "%s/missing.csv", testutil.dir);
    char missing [512];
    snprintf (missing, sizeof (missing), "%s", err);
    CHECK (wob_targets_open (missing, err) == NULL);
    CHECK_ERR (err, "cannot open");

    //  A header with only the required columns is enough
    wob_targets_t *reader = S_OPEN ("minimal.csv", "offer,msisdn\nOFR,12345\n", err);
    CHECK (reader);
    Wob__Target *t = NULL;
    CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_OK);
    CHECK (t && streq (t->msisdn, "12345") && t->n_offers == 1 && t->n_extra == 0);
    if (t)
        wob__target__free_unpacked (t, NULL);
    wob_targets_destroy (&reader);
}

//  Reads one row expecting a bad one, checks err for each of the texts
static void
s_expect_bad (wob_targets_t *reader, const char *text1, const char *text2)
{
    char err [WOB_ERRLEN] = "";
    Wob__Target *t = NULL;
    wob_row_t rc = wob_targets_next (reader, &t, err);
    CHECK (rc == WOB_ROW_BAD);
    CHECK (t == NULL);
    if (rc == WOB_ROW_OK && t)
        wob__target__free_unpacked (t, NULL);
    CHECK_ERR (err, text1);
    if (text2)
        CHECK_ERR (err, text2);
}

//  Reads one row expecting a good one with this msisdn and row number
static void
s_expect_ok (wob_targets_t *reader, const char *msisdn, uint32_t row)
{
    char err [WOB_ERRLEN] = "";
    Wob__Target *t = NULL;
    wob_row_t rc = wob_targets_next (reader, &t, err);
    CHECK (rc == WOB_ROW_OK);
    if (rc != WOB_ROW_OK)
        fprintf (stderr, "  unexpected: %s\n", err);
    if (t) {
        CHECK (streq (t->msisdn, msisdn));
        CHECK (t->row == row);
        wob__target__free_unpacked (t, NULL);
    }
}

static void
test_bad_rows (void)
{
    char err [WOB_ERRLEN] = "";
    wob_targets_t *reader = S_OPEN ("rows.csv",
        "msisdn,offer,name,arpu,tenure_months,priority\n"       //  1
        "13800138000,OFR,a,1,2,3\n"                             //  2 row 1
        "13800138001,OFR,b\n"                                   //  3 row 2
        "13800138002,OFR,c,1,2,3,4\n"                           //  4 row 3
        ",OFR,d,1,2,3\n"                                        //  5 row 4
        "1380013800a,OFR,e,1,2,3\n"                             //  6 row 5
        "1234,OFR,f,1,2,3\n"                                    //  7 row 6
        "13800138003,,g,1,2,3\n"                                //  8 row 7
        "13800138004, | ,g,1,2,3\n"                             //  9 row 8
        "13800138005,OFR,\xC3\x28,1,2,3\n"                      //  10 row 9
        "13800138006,OFR,h,abc,2,3\n"                           //  11 row 10
        "13800138007,OFR,i,1,2.5,3\n"                           //  12 row 11
        "13800138008,OFR,j,1,2,high\n"                          //  13 row 12
        "13800138009,OFR,\"k\"x,1,2,3\n"                        //  14 row 13
        "13800138010,OFR,\"multi\n"                             //  15 row 14
        "line\",1,2\n"                                          //  16
        "13800138011,OFR,l,-5,2,3\n"                            //  17 row 15
        "13800138012,OFR,m\0n,1,2,3\n"                          //  18 row 16
        "13800138013,OFR,ok,1,2,3\n", err);                     //  19 row 17
    CHECK (reader);
    if (!reader)
        return;
    s_expect_ok (reader, "13800138000", 1);
    s_expect_bad (reader, "rows.csv:3: 3 fields, header has 6", NULL);
    CHECK (wob_targets_line (reader) == 3);
    s_expect_bad (reader, "rows.csv:4: 7 fields, header has 6", NULL);
    s_expect_bad (reader, "rows.csv:5: field 'msisdn'", "empty");
    s_expect_bad (reader, "rows.csv:6: field 'msisdn'", "1380013800a");
    s_expect_bad (reader, "rows.csv:7: field 'msisdn'", "not a phone number");
    s_expect_bad (reader, "rows.csv:8: field 'offer'", "empty");
    s_expect_bad (reader, "rows.csv:9: field 'offer'", "empty");
    s_expect_bad (reader, "rows.csv:10: field 'name'", "UTF-8");
    s_expect_bad (reader, "rows.csv:11: field 'arpu'", "abc");
    s_expect_bad (reader, "rows.csv:12: field 'tenure_months'", "2.5");
    s_expect_bad (reader, "rows.csv:13: field 'priority'", "high");
    s_expect_bad (reader, "rows.csv:14: field 'name'", "closing quote");
    s_expect_bad (reader, "rows.csv:15: 5 fields, header has 6", NULL);
    CHECK (wob_targets_line (reader) == 15);
    s_expect_bad (reader, "rows.csv:17: field 'arpu'", "-5");
    s_expect_bad (reader, "rows.csv:18: field 'name'", "NUL");
    s_expect_ok (reader, "13800138013", 17);
    CHECK (wob_targets_line (reader) == 19);
    Wob__Target *t = NULL;
    CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_EOF);
    wob_targets_destroy (&reader);
}

static void
test_unterminated_quote (void)
{
    char err [WOB_ERRLEN] = "";
    wob_targets_t *reader = S_OPEN ("unterminated.csv",
        "msisdn,offer,name\n"
        "13800138000,OFR,ok\n"
        "13800138001,OFR,\"never closed\n"
        "13800138002,OFR,x\n", err);
    CHECK (reader);
    if (!reader)
        return;
    s_expect_ok (reader, "13800138000", 1);
    Wob__Target *t = NULL;
    CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_FATAL);
    CHECK (t == NULL);
    CHECK_ERR (err, "unterminated.csv:3:");
    CHECK_ERR (err, "field 'name'");
    CHECK_ERR (err, "unterminated quote");
    CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_FATAL);
    wob_targets_destroy (&reader);
}

//  Peak resident set size in KiB
static long
s_max_rss_kb (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

static void
s_write_repeated (FILE *file, char c, size_t total, size_t newline_every)
{
    static char chunk [1024 * 1024];
    memset (chunk, c, sizeof (chunk));
    if (newline_every)
        for (size_t i = newline_every - 1; i < sizeof (chunk); i += newline_every)
            chunk [i] = '\n';
    while (total) {
        size_t n = total < sizeof (chunk)? total: sizeof (chunk);
        if (fwrite (chunk, 1, n, file) != n) {
            perror ("write");
            exit (1);
        }
        total -= n;
    }
}

static void
test_long_records (void)
{
    char path [512];
    snprintf (path, sizeof (path), "%s/long.csv", testutil.dir);
    FILE *file = fopen (path, "wb");
    CHECK (file);
    if (!file)
        return;
    fputs ("msisdn,offer,name\n", file);                        //  1
    fputs ("13800138000,OFR-A,first\n", file);                  //  2 row 1
    fputs ("13800138001,OFR-A,", file);                         //  3 row 2
    s_write_repeated (file, 'x', 100u * 1024 * 1024, 0);        //  100 MB
    fputs ("\n", file);
    fputs ("13800138002,OFR-B,after\n", file);                  //  4 row 3
    //  A long quoted field with line breaks: 2 MB over 2,048 lines
    fputs ("13800138003,OFR-A,\"", file);                       //  5 row 4
    s_write_repeated (file, 'y', 2u * 1024 * 1024, 1024);       //  to 2053
    fputs ("\"\"end\"\n", file);
    fputs ("13800138004,OFR-C,after quoted\n", file);           //  2054 row 5
    //  Exactly the longest record accepted, then one byte more
    const char *lead = "13800138005,OFR-D,";
    fputs (lead, file);                                         //  2055 row 6
    s_write_repeated (file, 'z', WOB_CSV_MAX_LINE - strlen (lead), 0);
    fputs ("\r\n", file);
    fputs (lead, file);                                         //  2056 row 7
    s_write_repeated (file, 'z', WOB_CSV_MAX_LINE - strlen (lead) + 1, 0);
    fputs ("\n", file);
    fputs ("13800138006,OFR-E,last\n", file);                   //  2057 row 8
    fclose (file);

    long rss_before = s_max_rss_kb ();
    char err [WOB_ERRLEN] = "";
    wob_targets_t *reader = wob_targets_open (path, err);
    CHECK (reader);
    if (!reader)
        return;
    s_expect_ok (reader, "13800138000", 1);
    s_expect_bad (reader, "long.csv:3: record longer than", "skipped");
    CHECK (wob_targets_line (reader) == 3);
    s_expect_ok (reader, "13800138002", 3);
    CHECK (wob_targets_line (reader) == 4);
    s_expect_bad (reader, "long.csv:5: record longer than", NULL);
    s_expect_ok (reader, "13800138004", 5);
    CHECK (wob_targets_line (reader) == 2054);

    Wob__Target *t = NULL;
    CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_OK);
    CHECK (t && t->row == 6 && strlen (t->name) == WOB_CSV_MAX_LINE - strlen (lead));
    if (t)
        wob__target__free_unpacked (t, NULL);
    CHECK (wob_targets_line (reader) == 2055);
    s_expect_bad (reader, "long.csv:2056: record longer than", NULL);
    s_expect_ok (reader, "13800138006", 8);
    CHECK (wob_targets_line (reader) == 2057);
    CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_EOF);
    wob_targets_destroy (&reader);
    long grown_kb = s_max_rss_kb () - rss_before;
    printf ("  100 MB record: peak memory grew by %ld KiB\n", grown_kb);
    CHECK (grown_kb < 16 * 1024);
    unlink (path);
}

static int
s_compare_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

//  Returns a malloc'd copy of a file's bytes
static char *
s_slurp (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    fseek (file, 0, SEEK_END);
    *size = (size_t) ftell (file);
    fseek (file, 0, SEEK_SET);
    char *data = (char *) malloc (*size + 1);
    if (data && fread (data, 1, *size, file) != *size) {
        free (data);
        data = NULL;
    }
    fclose (file);
    return data;
}

static void
s_gen (const char *path, uint64_t count, uint64_t seed)
{
    FILE *file = fopen (path, "wb");
    CHECK (file);
    if (!file)
        return;
    CHECK (wob_gen_write (file, count, seed) == 0);
    fclose (file);
}

static void
test_generator (void)
{
    const uint64_t count = 10000;
    char path [512], again [512], other [512];
    snprintf (path, sizeof (path), "%s/gen7.csv", testutil.dir);
    snprintf (again, sizeof (again), "%s/gen7b.csv", testutil.dir);
    snprintf (other, sizeof (other), "%s/gen8.csv", testutil.dir);
    s_gen (path, count, 7);
    s_gen (again, count, 7);
    s_gen (other, count, 8);

    char err [WOB_ERRLEN] = "";
    wob_targets_t *reader = wob_targets_open (path, err);
    CHECK (reader);
    if (!reader)
        return;
    uint64_t *numbers = (uint64_t *) calloc (count, sizeof (uint64_t));
    uint64_t rows = 0, bad = 0, quoted = 0, multi = 0, wrong = 0;
    Wob__Target *t;
    wob_row_t rc;
    while ((rc = wob_targets_next (reader, &t, err)) == WOB_ROW_OK) {
        size_t len = strlen (t->msisdn);
        bool digits = len == 11 && t->msisdn [0] == '1';
        for (size_t i = 0; i < len; i++)
            digits &= t->msisdn [i] >= '0' && t->msisdn [i] <= '9';
        if (!digits || t->row != rows + 1 || !*t->name || !*t->province
        ||  !*t->city || !*t->district || t->grid [0] != 'G' || t->arpu < 10
        ||  t->arpu > 800 || t->tenure_months < 1 || t->tenure_months > 240
        ||  t->priority < 1 || t->priority > 9 || t->n_offers < 1 || t->n_extra != 0
        ||  !*t->segment || !*t->lifecycle || !*t->preferred_channel) {
            if (wrong++ < 3)
                fprintf (stderr, "  unexpected generated row %u\n", t->row);
        }
        if (rows < count)
            numbers [rows] = strtoull (t->msisdn, NULL, 10);
        if (strchr (t->name, ',') || strchr (t->name, '"'))
            quoted++;
        if (t->n_offers > 1)
            multi++;
        rows++;
        wob__target__free_unpacked (t, NULL);
    }
    if (rc != WOB_ROW_EOF) {
        bad++;
        fprintf (stderr, "  generated file: %s\n", err);
    }
    wob_targets_destroy (&reader);
    CHECK (rc == WOB_ROW_EOF);
    CHECK (bad == 0);
    CHECK (wrong == 0);
    CHECK (rows == count);
    CHECK (quoted > 0);
    CHECK (multi > 0);
    qsort (numbers, rows, sizeof (uint64_t), s_compare_u64);
    uint64_t duplicates = 0;
    for (uint64_t i = 1; i < rows; i++)
        if (numbers [i] == numbers [i - 1])
            duplicates++;
    CHECK (duplicates == 0);
    free (numbers);

    size_t size1 = 0, size2 = 0, size3 = 0;
    char *data1 = s_slurp (path, &size1);
    char *data2 = s_slurp (again, &size2);
    char *data3 = s_slurp (other, &size3);
    CHECK (data1 && data2 && data3);
    if (data1 && data2 && data3) {
        CHECK (size1 == size2 && memcmp (data1, data2, size1) == 0);
        CHECK (size1 != size3 || memcmp (data1, data3, size1) != 0);
    }
    free (data1);
    free (data2);
    free (data3);

    //  Zero rows: just the header
    s_gen (path, 0, 1);
    reader = wob_targets_open (path, err);
    CHECK (reader);
    if (reader) {
        CHECK (wob_targets_next (reader, &t, err) == WOB_ROW_EOF);
        wob_targets_destroy (&reader);
    }
    unlink (path);
    unlink (again);
    unlink (other);
}

int
main (void)
{
    testutil_init ("test_targets");
    if (!testutil_mkdtemp ())
        return 1;
    test_good_file ();
    test_bad_headers ();
    test_bad_rows ();
    test_unterminated_quote ();
    test_long_records ();
    test_generator ();
    return testutil_finish ();
}
