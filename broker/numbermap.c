/*  numbermap.c - phone numbers to order ids, in memory.

    The number index's log of recent additions (store_numbers.c) is looked
    up for every target of every wave, and holds tens of thousands of
    entries between sweeps.  A CZMQ hash keyed by the number's string cost
    four allocations an entry and a chain of scattered items a lookup,
    about 0.8 us a target more than the B-tree alone at 30,000 entries.
    This is an open-addressing table instead: numbers packed into 64 bits,
    one slot per entry (a number with several orders has several slots),
    linear probing, deletion by backward shift (no tombstones), sized
    once for its capacity at half load.  Most lookups miss (most numbers
    are new), and at 3 MB the table misses the CPU caches too: 300 ns a
    lookup.  So a Bloom filter of 64 KB (two bits a number) answers most
    of them first.  Removing does not clear its bits: the filter is rebuilt
    from the table once as many entries have left as it can hold.        */

#include "numbermap.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t number;            //  0: an empty slot (no packed number is 0)
    uint64_t id;
    uint32_t wave_seq;
} slot_t;

#define FILTER_BITS (1 << 19)

struct _numbermap_t {
    slot_t *slots;
    size_t mask;                //  slots - 1, a power of two
    size_t size, capacity;
    uint64_t filter [FILTER_BITS / 64];
    size_t removed;             //  since the filter was built
};

bool
number_pack (const char *msisdn, uint64_t *packed)
{
    *packed = 0;
    for (int i = 0; msisdn [i]; i++) {
        char c = msisdn [i];
        unsigned code = c == '+'? 1: c >= '0' && c <= '9'? (unsigned) (c - '0') + 2: 0;
        if (i == 16 || !code)
            return false;
        *packed |= (uint64_t) code << (60 - 4 * i);
    }
    return *packed != 0;
}

void
number_unpack (uint64_t packed, char *msisdn)
{
    int i = 0;
    for (; i < 16; i++) {
        unsigned code = (packed >> (60 - 4 * i)) & 15;
        if (!code)
            break;
        msisdn [i] = code == 1? '+': (char) ('0' + code - 2);
    }
    msisdn [i] = 0;
}

numbermap_t *
numbermap_new (size_t capacity)
{
    numbermap_t *self = calloc (1, sizeof (numbermap_t));
    size_t slots = 16;
    while (slots < capacity * 2)
        slots *= 2;
    if (self)
        self->slots = calloc (slots, sizeof (slot_t));
    if (!self || !self->slots) {
        free (self);
        return NULL;
    }
    self->mask = slots - 1;
    self->capacity = capacity;
    return self;
}

//  A number's full hash: MurmurHash3's finalizer (a packed number's low
//  bits are zero when it is short)
static uint64_t
s_hash (uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

//  The filter's two bits for a hash: from its top 38 bits (the slot
//  comes from its low ones)
static void
s_filter_set (numbermap_t *self, uint64_t hash)
{
    uint32_t a = (hash >> 45) & (FILTER_BITS - 1), b = (hash >> 26) & (FILTER_BITS - 1);
    self->filter [a / 64] |= 1ULL << (a % 64);
    self->filter [b / 64] |= 1ULL << (b % 64);
}

static bool
s_filter_has (numbermap_t *self, uint64_t hash)
{
    uint32_t a = (hash >> 45) & (FILTER_BITS - 1), b = (hash >> 26) & (FILTER_BITS - 1);
    return (self->filter [a / 64] >> (a % 64) & 1) && (self->filter [b / 64] >> (b % 64) & 1);
}

static void
s_filter_build (numbermap_t *self)
{
    memset (self->filter, 0, sizeof (self->filter));
    for (size_t i = 0; i <= self->mask; i++)
        if (self->slots [i].number)
            s_filter_set (self, s_hash (self->slots [i].number));
    self->removed = 0;
}

void
numbermap_destroy (numbermap_t **self_p)
{
    numbermap_t *self = *self_p;
    if (self) {
        free (self->slots);
        free (self);
        *self_p = NULL;
    }
}

//  The slot a number hashes to
static size_t
s_home (numbermap_t *self, uint64_t number)
{
    return (size_t) s_hash (number) & self->mask;
}

//  The slot holding the entry, or the empty slot that ends its run.
static size_t
s_slot (numbermap_t *self, uint64_t number, uint32_t wave_seq, uint64_t id)
{
    size_t i = s_home (self, number);
    for (; self->slots [i].number; i = (i + 1) & self->mask) {
        slot_t *slot = &self->slots [i];
        if (slot->number == number && slot->id == id && slot->wave_seq == wave_seq)
            break;
    }
    return i;
}

bool
numbermap_add (numbermap_t *self, uint64_t number, uint32_t wave_seq, uint64_t id)
{
    size_t i = s_slot (self, number, wave_seq, id);
    if (self->slots [i].number || self->size >= self->capacity)
        return false;
    self->slots [i] = (slot_t) { number, id, wave_seq };
    self->size++;
    s_filter_set (self, s_hash (number));
    return true;
}

bool
numbermap_remove (numbermap_t *self, uint64_t number, uint32_t wave_seq, uint64_t id)
{
    size_t hole = s_slot (self, number, wave_seq, id);
    if (!self->slots [hole].number)
        return false;
    //  Backward shift: move up each later entry of the run whose home is
    //  not cyclically between the hole and itself
    for (size_t k = (hole + 1) & self->mask; self->slots [k].number; k = (k + 1) & self->mask) {
        size_t home = s_home (self, self->slots [k].number);
        bool stays = hole <= k? hole < home && home <= k: hole < home || home <= k;
        if (!stays) {
            self->slots [hole] = self->slots [k];
            hole = k;
        }
    }
    self->slots [hole].number = 0;
    self->size--;
    if (++self->removed >= self->capacity)
        s_filter_build (self);
    return true;
}

void
numbermap_find (numbermap_t *self, uint64_t number, numbermap_fn *fn, void *arg)
{
    uint64_t hash = s_hash (number);
    if (!s_filter_has (self, hash)) {
        //  Intake adds the number it just looked up: fetch its slot now
        __builtin_prefetch (&self->slots [hash & self->mask], 1);
        return;
    }
    for (size_t i = s_home (self, number); self->slots [i].number; i = (i + 1) & self->mask)
        if (self->slots [i].number == number)
            fn (arg, self->slots [i].wave_seq, self->slots [i].id);
}

size_t
numbermap_size (numbermap_t *self)
{
    return self->size;
}

void
numbermap_clear (numbermap_t *self)
{
    //  An empty map's slots are all empty already: untouched, they cost
    //  no memory (the store clears its map on every open)
    if (self->size)
        memset (self->slots, 0, (self->mask + 1) * sizeof (slot_t));
    memset (self->filter, 0, sizeof (self->filter));
    self->size = 0;
    self->removed = 0;
}
