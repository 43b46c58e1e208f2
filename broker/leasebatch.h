/*  leasebatch.h - one worker's leases of a turn, packed for the wire.   */

#ifndef WOB_LEASEBATCH_H
#define WOB_LEASEBATCH_H

#include "wob.h"

typedef struct _leasebatch_t leasebatch_t;

leasebatch_t *leasebatch_new (void);
//  Frees the batch and the orders still in it.
void leasebatch_destroy (leasebatch_t **self_p);
//  Adds a leased order (taken, with its target) and what the worker needs
//  to act on it (copied).  Returns 0, or -1 when out of memory (the order
//  is freed).
int leasebatch_add (leasebatch_t *self, Wob__Order *order, const char *sms_template,
                    const char *script);
size_t leasebatch_size (leasebatch_t *self);
//  The Envelope carrying the batch (a Leases body), exactly as
//  wob_msg_pack would pack it, or NULL when out of memory.
zframe_t *leasebatch_pack (leasebatch_t *self);
//  Hands the index'th order back to the caller (NULL once taken).
Wob__Order *leasebatch_take (leasebatch_t *self, size_t index);

#endif
