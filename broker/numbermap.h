/*  numbermap.h - phone numbers to order ids, in memory, without malloc
    per entry.  See numbermap.c.                                          */

#ifndef WOB_NUMBERMAP_H
#define WOB_NUMBERMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _numbermap_t numbermap_t;

//  A number packed into 64 bits, 4 bits a character, so that packed
//  numbers order as their strings do in an LMDB B-tree.  pack is false for
//  a number that does not fit: over 16 characters, or other than '+' and
//  digits.  unpack needs 17 bytes.
bool number_pack (const char *msisdn, uint64_t *packed);
void number_unpack (uint64_t packed, char *msisdn);

//  A map that holds at most capacity entries (number, wave seq, order id).
numbermap_t *numbermap_new (size_t capacity);
void numbermap_destroy (numbermap_t **self_p);
//  Adds an entry; false when it is there already or the map is full.
bool numbermap_add (numbermap_t *self, uint64_t number, uint32_t wave_seq, uint64_t id);
//  Removes an entry; false when it was not there.
bool numbermap_remove (numbermap_t *self, uint64_t number, uint32_t wave_seq, uint64_t id);
//  Calls fn for each entry of number (in no order).
typedef void (numbermap_fn) (void *arg, uint32_t wave_seq, uint64_t id);
void numbermap_find (numbermap_t *self, uint64_t number, numbermap_fn *fn, void *arg);
size_t numbermap_size (numbermap_t *self);
void numbermap_clear (numbermap_t *self);

#endif
