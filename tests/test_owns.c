/*  test_owns.c - ownership declarations (broker/owns.c): what parses and
    what is refused, overlap between two workers' declarations, and which
    numbers and addresses a declaration covers.                          */

#include "broker.h"
#include "testutil.h"

static void
test_parse (void)
{
    testutil_start ("ranges, prefixes and regions parse; bad ones say why");
    char err [WOB_ERRLEN];
    owns_t d;
    CHECK (owns_parse ("1390000-1394999", &d, err) == 0);
    CHECK (d.kind == 'n' && d.len == 7 && streq (d.lo, "1390000") && streq (d.hi, "1394999"));
    CHECK (owns_parse ("186", &d, err) == 0);
    CHECK (d.kind == 'n' && d.len == 3 && streq (d.lo, "186") && streq (d.hi, "186"));
    CHECK (owns_parse ("广东/深圳/南山/G012", &d, err) == 0);
    CHECK (d.kind == 'r');
    CHECK (owns_parse ("广东", &d, err) == 0 && d.kind == 'r');
    CHECK (owns_parse ("G-12", &d, err) == 0 && d.kind == 'r');   //  not digits: a region
    CHECK (owns_parse ("139-13", &d, err) == WOB_ERR_INVALID);
    CHECK_ERR (err, "two ends of the same length");
    CHECK (owns_parse ("1399-1300", &d, err) == WOB_ERR_INVALID);
    CHECK_ERR (err, "ends before it starts");
    CHECK (owns_parse ("1234567890123456789", &d, err) == WOB_ERR_INVALID);
    CHECK_ERR (err, "at most 18 digits");
    CHECK (owns_parse ("", &d, err) == WOB_ERR_INVALID);
    CHECK (owns_parse ("广东//南山", &d, err) == WOB_ERR_INVALID);
    CHECK_ERR (err, "non-empty levels");
    CHECK (owns_parse ("/广东", &d, err) == WOB_ERR_INVALID);
    CHECK (owns_parse ("广东/", &d, err) == WOB_ERR_INVALID);
    CHECK (owns_parse ("a\tb", &d, err) == WOB_ERR_INVALID);
    CHECK_ERR (err, "control character");
    testutil_end ();
}

static bool
s_overlap (const char *a, const char *b)
{
    owns_t x, y;
    char err [WOB_ERRLEN];
    if (owns_parse (a, &x, err) || owns_parse (b, &y, err))
        return false;
    return owns_overlap (&x, a, &y, b) && owns_overlap (&y, b, &x, a);
}

static void
test_overlap (void)
{
    testutil_start ("overlap: intersecting ranges of any length, the same region");
    CHECK (s_overlap ("186", "1800000-1899999"));
    CHECK (s_overlap ("1390000-1394999", "1394000-1399999"));
    CHECK (s_overlap ("186", "186"));
    CHECK (s_overlap ("13", "1390000-1390000"));
    CHECK (!s_overlap ("1390000-1394999", "1395000-1399999"));
    CHECK (!s_overlap ("186", "187"));
    CHECK (!s_overlap ("186", "1870000-1879999"));
    CHECK (s_overlap ("广东/深圳", "广东/深圳"));
    CHECK (!s_overlap ("广东/深圳", "广东/深圳/南山"));      //  nested: longest wins
    CHECK (!s_overlap ("186", "广东"));
    testutil_end ();
}

static void
test_covers (void)
{
    testutil_start ("a range covers the numbers whose first digits are inside it");
    owns_t d;
    char err [WOB_ERRLEN];
    CHECK (owns_parse ("1390000-1394999", &d, err) == 0);
    CHECK (owns_covers (&d, "13900001234"));
    CHECK (owns_covers (&d, "13949999999"));
    CHECK (!owns_covers (&d, "13950000000"));
    CHECK (!owns_covers (&d, "13899999999"));
    CHECK (!owns_covers (&d, "139"));                   //  too short to tell
    CHECK (owns_width (&d) == 4999);
    CHECK (owns_parse ("186", &d, err) == 0);
    CHECK (owns_covers (&d, "18612345678") && !owns_covers (&d, "18712345678"));
    CHECK (owns_width (&d) == 0);
    Wob__Target t = WOB__TARGET__INIT;
    char path [128];
    t.province = "广东"; t.city = "深圳"; t.district = "南山"; t.grid = "G012";
    owns_region_path (&t, path, sizeof (path));
    CHECK (streq (path, "广东/深圳/南山/G012"));
    t.district = "";                                    //  stops at the first gap
    owns_region_path (&t, path, sizeof (path));
    CHECK (streq (path, "广东/深圳"));
    t.province = "";
    owns_region_path (&t, path, sizeof (path));
    CHECK (streq (path, ""));
    testutil_end ();
}

int
main (void)
{
    testutil_init ("test_owns");
    test_parse ();
    test_overlap ();
    test_covers ();
    return testutil_finish ();
}
