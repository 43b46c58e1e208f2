/*  test_numbermap.c - the number index's map in memory (broker/numbermap.c).

    Numbers pack into 64 bits in the order LMDB keeps their strings, and
    back.  The map answers as a plain list of entries does, checked
    against one through 200,000 random adds and removes among few numbers
    (long probe runs, many entries a number, deletions in the middle of
    runs), across its filter's rebuilds; it refuses a duplicate, and an
    entry over its capacity.                                              */

#include "numbermap.h"
#include "testutil.h"

//  LMDB's default key order: bytes, then the shorter first
static int
s_lmdb_order (const char *a, const char *b)
{
    size_t la = strlen (a), lb = strlen (b);
    int diff = memcmp (a, b, la < lb? la: lb);
    return diff? diff: la < lb? -1: la > lb;
}

static void
test_pack (void)
{
    testutil_start ("numbers pack losslessly and in the B-tree's order");
    char back [17];
    uint64_t packed;
    const char *good [] = { "13900139000", "+8613900139000", "0", "9999999999999999", "+1" };
    for (size_t i = 0; i < sizeof (good) / sizeof (good [0]); i++) {
        CHECK_MSG (number_pack (good [i], &packed), "%s packs", good [i]);
        number_unpack (packed, back);
        CHECK_MSG (streq (back, good [i]), "%s comes back as %s", good [i], back);
    }
    const char *bad [] = { "", "12-34", "99999999999999999", "1 2", "abc" };
    for (size_t i = 0; i < sizeof (bad) / sizeof (bad [0]); i++)
        CHECK_MSG (!number_pack (bad [i], &packed), "'%s' does not pack", bad [i]);
    //  Random numbers of mixed lengths, with and without '+': packed
    //  order is the string order
    srandom (7);
    int wrong = 0;
    for (int i = 0; i < 20000; i++) {
        char a [17], b [17];
        char *s [2] = { a, b };
        for (int k = 0; k < 2; k++) {
            int len = 1 + (int) (random () % 15), at = 0;
            if (random () % 4 == 0)
                s [k][at++] = '+';
            while (at < len)
                s [k][at++] = (char) ('0' + random () % 3);    //  shared prefixes
            s [k][at] = 0;
        }
        uint64_t pa, pb;
        number_pack (a, &pa);
        number_pack (b, &pb);
        int want = s_lmdb_order (a, b), got = pa < pb? -1: pa > pb;
        if ((want < 0) != (got < 0) || (want > 0) != (got > 0))
            wrong++;
    }
    CHECK_MSG (wrong == 0, "%d of 20000 pairs ordered otherwise", wrong);
    testutil_end ();
}

typedef struct {
    uint64_t number, id;
    uint32_t wave_seq;
} entry_t;

typedef struct {
    uint64_t id_sum;
    size_t count;
} found_t;

static void
s_found (void *arg, uint32_t wave_seq, uint64_t id)
{
    found_t *found = arg;
    found->id_sum += id * 31 + wave_seq;
    found->count++;
}

static void
test_against_a_list (void)
{
    testutil_start ("the map answers as a list does through random adds and removes");
    enum { CAPACITY = 3000, NUMBERS = 400, OPS = 200000 };
    numbermap_t *map = numbermap_new (CAPACITY);
    entry_t *list = calloc (CAPACITY, sizeof (entry_t));
    size_t size = 0;
    int wrong = 0, refused = 0;
    srandom (11);
    for (int op = 0; op < OPS && map; op++) {
        //  Few numbers, so that they share runs and have many entries each
        uint64_t number;
        char msisdn [17];
        snprintf (msisdn, sizeof (msisdn), "1390%07ld", random () % NUMBERS);
        number_pack (msisdn, &number);
        if (size < CAPACITY && (random () % 100 < 55 || size == 0)) {
            entry_t e = { number, (uint64_t) op, (uint32_t) (random () % 3) };
            if (!numbermap_add (map, e.number, e.wave_seq, e.id))
                wrong++;
            if (numbermap_add (map, e.number, e.wave_seq, e.id))
                wrong++;        //  the same entry again: refused
            list [size++] = e;
        }
        else {
            size_t at = (size_t) random () % size;
            entry_t e = list [at];
            list [at] = list [--size];
            if (!numbermap_remove (map, e.number, e.wave_seq, e.id))
                wrong++;
            if (numbermap_remove (map, e.number, e.wave_seq, e.id))
                wrong++;        //  gone
        }
        if (numbermap_size (map) != size)
            wrong++;
        //  Every so often, every number's entries against the list
        if (op % 5000 == 0)
            for (int n = 0; n < NUMBERS; n++) {
                snprintf (msisdn, sizeof (msisdn), "1390%07d", n);
                number_pack (msisdn, &number);
                found_t want = { 0 }, got = { 0 };
                for (size_t i = 0; i < size; i++)
                    if (list [i].number == number)
                        s_found (&want, list [i].wave_seq, list [i].id);
                numbermap_find (map, number, s_found, &got);
                if (want.count != got.count || want.id_sum != got.id_sum)
                    wrong++;
            }
    }
    CHECK (map);
    CHECK_MSG (wrong == 0, "%d answers differ from the list's", wrong);
    //  Full: one more is refused, not stored
    uint64_t number;
    number_pack ("1380000", &number);
    for (uint64_t id = 1; map && numbermap_size (map) < CAPACITY; id++)
        numbermap_add (map, number, 9, 1000000 + id);
    refused = map && !numbermap_add (map, number, 9, 1);
    CHECK (refused);
    found_t got = { 0 };
    if (map) {
        numbermap_clear (map);
        numbermap_find (map, number, s_found, &got);
    }
    CHECK (map && numbermap_size (map) == 0 && got.count == 0);
    numbermap_destroy (&map);
    CHECK (map == NULL);
    free (list);
    testutil_end ();
}

int
main (void)
{
    testutil_init ("test_numbermap");
    test_pack ();
    test_against_a_list ();
    return testutil_finish ();
}
