/*  test_leasebatch.c - the lease batches the broker packs by hand
    (broker/leasebatch.c).

    A worker decodes a batch as any other message, so the bytes must be
    the ones protobuf-c would pack: each batch here is packed both ways,
    through leasebatch_pack and through wob_msg_pack of the same Leases,
    and compared byte for byte.  The batches vary what the hand-written
    framing depends on: no items, one, many; empty and non-empty texts;
    texts that change from item to item and back; orders and texts long
    enough for two- and three-byte lengths.  Then the frame decodes with
    the workers' decoder into the same orders, and the orders come back
    out of the batch to their caller.                                    */

#include "leasebatch.h"
#include "testutil.h"

//  A leased order as dispatch hands it over: state fields and a target
static Wob__Order *
s_order (uint64_t id, size_t note_len)
{
    Wob__Order *order = malloc (sizeof (Wob__Order));
    wob__order__init (order);
    order->id = id;
    order->wave = strdup ("W-2026-11");
    order->campaign = strdup ("retention");
    order->channel = strdup ("sms");
    order->state = WOB__STATE__STATE_DISPATCHED;
    order->worker = strdup ("sms-1");
    order->attempts = 1 + (uint32_t) (id % 3);
    order->lease_deadline_ms = 1700000000000 + (int64_t) id;
    order->wave_seq = 7;
    char *note = malloc (note_len + 1);
    memset (note, 'n', note_len);
    note [note_len] = 0;
    order->outcome_note = note;
    Wob__Target *target = malloc (sizeof (Wob__Target));
    wob__target__init (target);
    char msisdn [24];
    snprintf (msisdn, sizeof (msisdn), "1390013%04" PRIu64, id % 10000);
    target->msisdn = strdup (msisdn);
    target->name = strdup ("张三");
    target->province = strdup ("广东");
    target->city = strdup ("深圳");
    target->arpu = 88.5;
    target->row = (uint32_t) id;
    order->target = target;
    return order;
}

static char *
s_text (char c, size_t len)
{
    char *text = malloc (len + 1);
    memset (text, c, len);
    text [len] = 0;
    return text;
}

//  Packs n orders both ways and compares.  Item i gets texts [i % n_texts].
static void
s_compare (const char *what, size_t n, size_t note_len, char **templates, char **scripts,
           size_t n_texts)
{
    testutil_start (what);
    leasebatch_t *batch = leasebatch_new ();
    Wob__Leases *leases = malloc (sizeof (Wob__Leases));
    wob__leases__init (leases);
    leases->items = calloc (n + 1, sizeof (Wob__LeaseItem *));
    for (size_t i = 0; i < n; i++) {
        const char *tpl = templates [i % n_texts], *script = scripts [i % n_texts];
        CHECK (leasebatch_add (batch, s_order (1000 + i, note_len), tpl, script) == 0);
        Wob__LeaseItem *item = malloc (sizeof (Wob__LeaseItem));
        wob__lease_item__init (item);
        item->order = s_order (1000 + i, note_len);
        item->sms_template = strdup (tpl);
        item->script = strdup (script);
        leases->items [leases->n_items++] = item;
    }
    CHECK (leasebatch_size (batch) == n);
    Wob__Envelope *env = malloc (sizeof (Wob__Envelope));
    wob__envelope__init (env);
    env->body_case = WOB__ENVELOPE__BODY_LEASES;
    env->leases = leases;
    zframe_t *expected = wob_msg_pack (env);
    zframe_t *frame = leasebatch_pack (batch);
    CHECK (frame != NULL);
    CHECK_MSG (zframe_size (frame) == zframe_size (expected), "%zu bytes, protobuf-c %zu",
               zframe_size (frame), zframe_size (expected));
    CHECK_MSG (zframe_eq (frame, expected), "the bytes differ from protobuf-c's");

    //  What a worker decodes
    int code;
    char err [WOB_ERRLEN];
    Wob__Envelope *decoded = wob_msg_decode (zframe_data (frame), zframe_size (frame),
                                             64 << 20, &code, err);
    CHECK_MSG (decoded != NULL, "decodes: %s", err);
    if (decoded) {
        CHECK (decoded->body_case == WOB__ENVELOPE__BODY_LEASES);
        CHECK (decoded->leases->n_items == n);
        for (size_t i = 0; i < decoded->leases->n_items && i < n; i++) {
            Wob__LeaseItem *item = decoded->leases->items [i];
            CHECK (item->order->id == 1000 + i);
            CHECK (streq (item->order->target->msisdn, leases->items [i]->order->target->msisdn));
            CHECK (streq (item->sms_template, templates [i % n_texts]));
            CHECK (streq (item->script, scripts [i % n_texts]));
        }
        wob_msg_free (&decoded);
    }
    //  The orders come back to the caller once each
    for (size_t i = 0; i < n; i++) {
        Wob__Order *order = leasebatch_take (batch, i);
        CHECK (order && order->id == 1000 + i && order->target);
        CHECK (leasebatch_take (batch, i) == NULL);
        if (order)
            wob__order__free_unpacked (order, NULL);
    }
    CHECK (leasebatch_take (batch, n) == NULL);
    zframe_destroy (&frame);
    zframe_destroy (&expected);
    wob_msg_free (&env);
    leasebatch_destroy (&batch);
    CHECK (batch == NULL);
    testutil_end ();
}

int
main (void)
{
    testutil_init ("test_leasebatch");
    char *empty [] = { "" };
    s_compare ("an empty batch", 0, 0, empty, empty, 1);
    s_compare ("one order, no texts", 1, 0, empty, empty, 1);

    char *tpl [] = { "尊敬的{name}，您的套餐可升级", "", "Dear {name}" };
    char *script [] = { "", "Hello, this is your operator", "Hi {name}" };
    s_compare ("texts changing from order to order and back", 50, 10, tpl, script, 3);

    //  Lengths of two and three varint bytes: a long note makes orders of
    //  over 127 bytes, a long template items of over 16 KB, and many
    //  orders a batch of megabytes
    char *long_tpl [] = { s_text ('t', 20000) };
    char *long_script [] = { s_text ('s', 300) };
    s_compare ("orders over 127 bytes, texts over 16 KB", 20, 200, long_tpl, long_script, 1);
    s_compare ("a batch of 2,000 orders", 2000, 300, long_script, empty, 1);

    //  A batch destroyed with its orders still in it frees them (the
    //  sanitizer build would name a leak)
    testutil_start ("a batch never packed frees its orders");
    leasebatch_t *batch = leasebatch_new ();
    for (uint64_t i = 0; i < 10; i++)
        CHECK (leasebatch_add (batch, s_order (i, 5), "t", "s") == 0);
    leasebatch_destroy (&batch);
    CHECK (batch == NULL);
    testutil_end ();
    free (long_tpl [0]);
    free (long_script [0]);
    return testutil_finish ();
}
