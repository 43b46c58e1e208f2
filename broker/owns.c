/*  owns.c - what a worker declares it owns (SPEC §5): number ranges
    ("1390000-1394999": the first 7 digits between the two ends), number
    prefixes ("186": a range of one), and regions, address paths of
    province / city / district / grid ("广东/深圳/南山/G012").  Parsing,
    overlap between two declarations, and matching an order's number or
    address; routes.c decides who gets what from these.               */

#include "broker.h"

static bool
s_digits (const char *text, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (text [i] < '0' || text [i] > '9')
            return false;
    return true;
}

int
owns_parse (const char *text, owns_t *decl, char *err)
{
    memset (decl, 0, sizeof (*decl));
    size_t len = strlen (text);
    if (len == 0 || len > ROUTES_MAX_DECL)
        return wob_fail (err, WOB_ERR_INVALID, "owns '%.40s': must be 1 to %d bytes",
                         text, ROUTES_MAX_DECL);
    const char *dash = strchr (text, '-');
    if (dash && s_digits (text, dash - text) && s_digits (dash + 1, strlen (dash + 1))) {
        size_t lo_len = dash - text, hi_len = strlen (dash + 1);
        if (lo_len != hi_len || lo_len > ROUTES_MAX_DIGITS)
            return wob_fail (err, WOB_ERR_INVALID, "owns '%s': a number range has two "
                             "ends of the same length, at most %d digits "
                             "(such as 1390000-1394999)", text, ROUTES_MAX_DIGITS);
        decl->kind = 'n';
        decl->len = lo_len;
        memcpy (decl->lo, text, lo_len);
        memcpy (decl->hi, dash + 1, hi_len);
        if (strcmp (decl->lo, decl->hi) > 0)
            return wob_fail (err, WOB_ERR_INVALID, "owns '%s': the range ends before "
                             "it starts", text);
        return 0;
    }
    if (s_digits (text, len)) {
        if (len > ROUTES_MAX_DIGITS)
            return wob_fail (err, WOB_ERR_INVALID, "owns '%s': a number prefix has at "
                             "most %d digits", text, ROUTES_MAX_DIGITS);
        decl->kind = 'n';
        decl->len = len;
        memcpy (decl->lo, text, len);
        memcpy (decl->hi, text, len);
        return 0;
    }
    //  A region: province/city/district/grid, no empty level
    if (text [0] == '/' || text [len - 1] == '/' || strstr (text, "//"))
        return wob_fail (err, WOB_ERR_INVALID, "owns '%s': a region is a path of "
                         "non-empty levels such as 广东/深圳/南山/G012", text);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) text [i] < 0x20)
            return wob_fail (err, WOB_ERR_INVALID, "owns '%.40s': control character in "
                             "a region", text);
    decl->kind = 'r';
    decl->len = len;
    return 0;
}

//  Pads a range end to len digits: lo with 0s, hi with 9s.
static void
s_pad (const owns_t *decl, size_t len, char *lo, char *hi)
{
    memset (lo, '0', len);
    memset (hi, '9', len);
    memcpy (lo, decl->lo, decl->len);
    memcpy (hi, decl->hi, decl->len);
    lo [len] = hi [len] = 0;
}

bool
owns_overlap (const owns_t *a, const char *a_text, const owns_t *b,
                const char *b_text)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == 'r')
        return streq (a_text, b_text);
    size_t len = a->len > b->len? a->len: b->len;
    char alo [ROUTES_MAX_DIGITS + 1], ahi [ROUTES_MAX_DIGITS + 1];
    char blo [ROUTES_MAX_DIGITS + 1], bhi [ROUTES_MAX_DIGITS + 1];
    s_pad (a, len, alo, ahi);
    s_pad (b, len, blo, bhi);
    return strcmp (alo, bhi) <= 0 && strcmp (blo, ahi) <= 0;
}

//  Does a number-range declaration cover this number?
bool
owns_covers (const owns_t *decl, const char *number)
{
    if (strlen (number) < decl->len)
        return false;
    return strncmp (number, decl->lo, decl->len) >= 0
        && strncmp (number, decl->hi, decl->len) <= 0;
}

//  The order's region path: province/city/district/grid up to the first
//  empty level, into path ("" when the target has no province).
void
owns_region_path (Wob__Target *t, char *path, size_t size)
{
    const char *levels [4] = { t->province, t->city, t->district, t->grid };
    size_t used = 0;
    path [0] = 0;
    for (int i = 0; i < 4 && levels [i] && *levels [i]; i++) {
        int n = snprintf (path + used, size - used, "%s%s", i? "/": "", levels [i]);
        if (n < 0 || (size_t) n >= size - used)
            break;
        used += n;
    }
}

//  Width of a range (hi - lo), for "the most specific wins".
uint64_t
owns_width (const owns_t *decl)
{
    return strtoull (decl->hi, NULL, 10) - strtoull (decl->lo, NULL, 10);
}

