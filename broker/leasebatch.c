/*  leasebatch.c - one worker's leases of a turn, packed for the wire.

    Why not build a Wob__Leases and let protobuf-c pack it: protobuf-c
    writes a nested message's length before its bytes, and finds the
    length by walking the message, so a target four levels down (envelope,
    leases, item, order, target) is walked five times.  That was 8% of the
    broker's time in dispatch.  Here each order's size is found once, the
    envelope, the list and the items are written by hand around it, and
    protobuf-c packs the order itself.  The bytes are the ones wob_msg_pack
    would produce (tests/test_leasebatch.c checks that, byte for byte), so
    workers decode them as any other message.

    A batch comes mostly from one wave: the texts the worker needs (SMS
    template, call script) are kept once per run of equal texts, not once
    per order.                                                           */

#include "leasebatch.h"

typedef struct {
    Wob__Order *order;
    size_t texts;               //  index into texts
    size_t order_size;          //  packed sizes, found by pack's first pass
    size_t size;                //  the LeaseItem's
} item_t;

typedef struct {
    char *sms_template;
    char *script;
} texts_t;

struct _leasebatch_t {
    item_t *items;
    size_t n_items, items_cap;
    texts_t *texts;
    size_t n_texts, texts_cap;
};

//  Wire format: a field's key is (number << 3) | type, as a varint.
#define WIRE_VARINT 0
#define WIRE_LEN 2
#define ENVELOPE_VERSION 1      //  Wob__Envelope fields
#define ENVELOPE_LEASES 43
#define LEASES_ITEMS 1          //  Wob__Leases
#define ITEM_ORDER 1            //  Wob__LeaseItem
#define ITEM_SMS_TEMPLATE 2
#define ITEM_SCRIPT 3

static size_t
s_varint_size (uint64_t value)
{
    size_t size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size;
}

static uint8_t *
s_varint (uint8_t *out, uint64_t value)
{
    while (value >= 0x80) {
        *out++ = (uint8_t) (value | 0x80);
        value >>= 7;
    }
    *out++ = (uint8_t) value;
    return out;
}

//  A length-delimited field's key and length (not its bytes).
static size_t
s_len_head_size (uint32_t field, size_t len)
{
    return s_varint_size ((uint64_t) field << 3 | WIRE_LEN) + s_varint_size (len);
}

static uint8_t *
s_len_head (uint8_t *out, uint32_t field, size_t len)
{
    return s_varint (s_varint (out, (uint64_t) field << 3 | WIRE_LEN), len);
}

//  A string field, left out when empty (proto3).
static size_t
s_string_size (uint32_t field, const char *text)
{
    size_t len = strlen (text);
    return len? s_len_head_size (field, len) + len: 0;
}

static uint8_t *
s_string (uint8_t *out, uint32_t field, const char *text)
{
    size_t len = strlen (text);
    if (len) {
        out = s_len_head (out, field, len);
        memcpy (out, text, len);
        out += len;
    }
    return out;
}

leasebatch_t *
leasebatch_new (void)
{
    return calloc (1, sizeof (leasebatch_t));
}

void
leasebatch_destroy (leasebatch_t **self_p)
{
    if (self_p && *self_p) {
        leasebatch_t *self = *self_p;
        for (size_t i = 0; i < self->n_items; i++)
            if (self->items [i].order)
                wob__order__free_unpacked (self->items [i].order, NULL);
        for (size_t i = 0; i < self->n_texts; i++) {
            free (self->texts [i].sms_template);
            free (self->texts [i].script);
        }
        free (self->items);
        free (self->texts);
        free (self);
        *self_p = NULL;
    }
}

//  Grows *array (of *cap elements of size) to hold one more than n.
static bool
s_room (void **array, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t new_cap = *cap? *cap * 2: 16;
    void *grown = realloc (*array, new_cap * size);
    if (!grown)
        return false;
    *array = grown;
    *cap = new_cap;
    return true;
}

int
leasebatch_add (leasebatch_t *self, Wob__Order *order, const char *sms_template,
                const char *script)
{
    sms_template = sms_template? sms_template: "";
    script = script? script: "";
    texts_t *last = self->n_texts? &self->texts [self->n_texts - 1]: NULL;
    if (!last || !streq (last->sms_template, sms_template) || !streq (last->script, script)) {
        if (!s_room ((void **) &self->texts, &self->texts_cap, self->n_texts, sizeof (texts_t)))
            goto nomem;
        texts_t texts = { strdup (sms_template), strdup (script) };
        if (!texts.sms_template || !texts.script) {
            free (texts.sms_template);
            free (texts.script);
            goto nomem;
        }
        self->texts [self->n_texts++] = texts;
    }
    if (!s_room ((void **) &self->items, &self->items_cap, self->n_items, sizeof (item_t)))
        goto nomem;
    self->items [self->n_items++] = (item_t) { order, self->n_texts - 1, 0, 0 };
    return 0;
nomem:
    wob__order__free_unpacked (order, NULL);
    return -1;
}

size_t
leasebatch_size (leasebatch_t *self)
{
    return self->n_items;
}

//  Finds one LeaseItem's size and its order's, for the second pass.
static void
s_item_size (leasebatch_t *self, item_t *item)
{
    texts_t *texts = &self->texts [item->texts];
    item->order_size = wob__order__get_packed_size (item->order);
    item->size = s_len_head_size (ITEM_ORDER, item->order_size) + item->order_size
               + s_string_size (ITEM_SMS_TEMPLATE, texts->sms_template)
               + s_string_size (ITEM_SCRIPT, texts->script);
}

zframe_t *
leasebatch_pack (leasebatch_t *self)
{
    //  First pass: sizes, inside out
    size_t leases_size = 0;
    for (size_t i = 0; i < self->n_items; i++) {
        item_t *item = &self->items [i];
        s_item_size (self, item);
        leases_size += s_len_head_size (LEASES_ITEMS, item->size) + item->size;
    }
    size_t size = s_varint_size (ENVELOPE_VERSION << 3 | WIRE_VARINT)
                + s_varint_size (WOB_PROTOCOL_VERSION)
                + s_len_head_size (ENVELOPE_LEASES, leases_size) + leases_size;
    zframe_t *frame = zframe_new (NULL, size);
    if (!frame)
        return NULL;
    //  Second pass: bytes, in field order as protobuf-c writes them
    //  (request id 0 is left out)
    uint8_t *out = zframe_data (frame);
    out = s_varint (out, ENVELOPE_VERSION << 3 | WIRE_VARINT);
    out = s_varint (out, WOB_PROTOCOL_VERSION);
    out = s_len_head (out, ENVELOPE_LEASES, leases_size);
    for (size_t i = 0; i < self->n_items; i++) {
        item_t *item = &self->items [i];
        texts_t *texts = &self->texts [item->texts];
        out = s_len_head (out, LEASES_ITEMS, item->size);
        out = s_len_head (out, ITEM_ORDER, item->order_size);
        out += wob__order__pack (item->order, out);
        out = s_string (out, ITEM_SMS_TEMPLATE, texts->sms_template);
        out = s_string (out, ITEM_SCRIPT, texts->script);
    }
    assert (out == zframe_data (frame) + size);
    return frame;
}

Wob__Order *
leasebatch_take (leasebatch_t *self, size_t index)
{
    if (index >= self->n_items)
        return NULL;
    Wob__Order *order = self->items [index].order;
    self->items [index].order = NULL;
    return order;
}
