/*  test_store.c - the broker's LMDB store (broker/store.c).

    Each named check opens its own store in a subdirectory of one mkdtemp
    directory: orders survive a reopen; an aborted group leaves nothing
    behind and gives its ids back; history, queue, timer, number, wave,
    lease, stats and channel tables return what was put in the promised
    order; and every way a data directory can be unusable (a regular file,
    a garbage data.mdb, someone else's LMDB, a full map) gives NULL or an
    error whose message names the problem, with the store still usable
    after a full map.  The temporary directory is removed at the end
    unless a check failed.

    The foreign-LMDB check builds its environment with raw LMDB calls, so
    this test includes lmdb.h; nothing else outside store.c does.         */

#include "store.h"
#include "testutil.h"
#include <lmdb.h>
#include <fcntl.h>

static store_t *
s_open (const char *dir, size_t map_size, char *err)
{
    store_config_t config = { dir, map_size, true };
    err [0] = 0;
    store_t *store = store_new (&config, err);
    if (!store)
        fprintf (stderr, "[%s] store_new %s: %s\n", testutil.check, dir, err);
    return store;
}

//  An order with a target; strings point into static storage
typedef struct {
    Wob__Order order;
    Wob__Target target;
    char *offers [2];
} test_order_t;

static void
s_order_init (test_order_t *self, uint64_t id, const char *msisdn, Wob__State state)
{
    wob__order__init (&self->order);
    wob__target__init (&self->target);
    self->offers [0] = "5G-199";
    self->offers [1] = "broadband-100M";
    self->target.msisdn = (char *) msisdn;
    self->target.name = "张三";
    self->target.n_offers = 2;
    self->target.offers = self->offers;
    self->target.priority = 3;
    self->order.id = id;
    self->order.wave = "w-2026-11";
    self->order.channel = "sms";
    self->order.state = state;
    self->order.target = &self->target;
}

//  An order as lifecycle creates it: what changes, and its target.
static int
s_store_order (store_t *store, Wob__Order *order, char *err)
{
    int rc = store_order_put (store, order, err);
    return rc? rc: store_target_put (store, order, err);
}

//  --- Checks ---------------------------------------------------------------

static void
test_put_and_reopen (void)
{
    testutil_start ("order put, commit, reopen, read back");
    char err [WOB_ERRLEN];
    const char *dir = testutil_path ("basic");
    store_t *store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    CHECK (!store_dirty (store));
    uint64_t id = store_next_order_id (store);
    CHECK (id == 1);
    test_order_t o;
    s_order_init (&o, id, "13800138000", WOB__STATE__STATE_QUEUED);
    //  History attached in memory is not stored with the order
    Wob__HistoryEntry entry = WOB__HISTORY_ENTRY__INIT;
    Wob__HistoryEntry *entries [1] = { &entry };
    o.order.n_history = 1;
    o.order.history = entries;
    CHECK (s_store_order (store, &o.order, err) == 0);
    CHECK (o.order.n_history == 1 && o.order.history == entries);
    CHECK (store_dirty (store));
    CHECK (store_order_count (store) == 1);
    CHECK (store_commit (store, err) == 0);

    store_destroy (&store);
    CHECK (store == NULL);
    store_destroy (&store);             //  idempotent
    store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    Wob__Order *back = NULL;
    CHECK (store_order_get (store, id, &back, err) == 0);
    CHECK (back);
    if (back) {
        CHECK (back->id == id);
        CHECK (back->state == WOB__STATE__STATE_QUEUED);
        CHECK (streq (back->wave, "w-2026-11"));
        CHECK (back->target && streq (back->target->msisdn, "13800138000"));
        CHECK (back->target && streq (back->target->name, "张三"));
        CHECK (back->target && back->target->n_offers == 2
               && streq (back->target->offers [0], "5G-199")
               && streq (back->target->offers [1], "broadband-100M"));
        CHECK (back->n_history == 0);
        //  A transition rewrites what changes, not the target
        back->state = WOB__STATE__STATE_DISPATCHED;
        wob_str_set (&back->target->name, "李四");
        CHECK (store_order_put (store, back, err) == 0);
        wob__order__free_unpacked (back, NULL);
        CHECK (store_order_get (store, id, &back, err) == 0);
        CHECK (back && back->state == WOB__STATE__STATE_DISPATCHED
               && streq (back->target->name, "张三"));
        if (back)
            wob__order__free_unpacked (back, NULL);
    }
    CHECK (store_order_get (store, id + 1, &back, err) == WOB_ERR_NOT_FOUND);
    CHECK (back == NULL);
    CHECK_ERR (err, "does not exist");
    //  The id counter survived the reopen
    CHECK (store_next_order_id (store) == id + 1);
    CHECK (store_commit (store, err) == 0);
    //  A read-only group commits without writing
    CHECK (store_begin (store, err) == 0);
    CHECK (store_order_count (store) == 1);
    CHECK (!store_dirty (store));
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);
done:
    testutil_end ();
}

static void
test_abort (void)
{
    testutil_start ("abort drops writes and gives ids back");
    char err [WOB_ERRLEN];
    store_t *store = s_open (testutil_path ("abort"), 0, err);
    CHECK (store);
    if (!store)
        goto done;
    test_order_t o;
    CHECK (store_begin (store, err) == 0);
    uint64_t first = store_next_order_id (store);
    uint32_t wave_first = store_next_wave_seq (store);
    s_order_init (&o, first, "13800000001", WOB__STATE__STATE_RECEIVED);
    CHECK (s_store_order (store, &o.order, err) == 0);
    CHECK (store_lease_put (store, first, err) == 0);
    CHECK (store_commit (store, err) == 0);

    CHECK (store_begin (store, err) == 0);
    uint64_t lost1 = store_next_order_id (store);
    uint64_t lost2 = store_next_order_id (store);
    uint32_t lost_wave = store_next_wave_seq (store);
    CHECK (lost1 == first + 1 && lost2 == first + 2);
    CHECK (lost_wave == wave_first + 1);
    s_order_init (&o, lost1, "13800000002", WOB__STATE__STATE_QUEUED);
    CHECK (store_order_put (store, &o.order, err) == 0);
    //  Overwrite the committed order too; the abort must undo it
    s_order_init (&o, first, "13800000001", WOB__STATE__STATE_DONE);
    CHECK (store_order_put (store, &o.order, err) == 0);
    CHECK (store_lease_del (store, first, err) == 0);
    CHECK (store_queue_put (store, 1, 0, 1, 5, lost1, err) == 0);
    store_abort (store);
    store_abort (store);                    //  second abort is a no-op

    CHECK (store_begin (store, err) == 0);
    Wob__Order *back = NULL;
    CHECK (store_order_get (store, lost1, &back, err) == WOB_ERR_NOT_FOUND);
    CHECK (store_order_get (store, first, &back, err) == 0);
    CHECK (back && back->state == WOB__STATE__STATE_RECEIVED);
    if (back)
        wob__order__free_unpacked (back, NULL);
    uint8_t priority;
    uint64_t head;
    CHECK (store_queue_head (store, 1, 0, 1, &priority, &head, err) == WOB_ERR_NOT_FOUND);
    CHECK (store_order_count (store) == 1);
    //  Ids handed out in the aborted group are handed out again
    CHECK (store_next_order_id (store) == lost1);
    CHECK (store_next_wave_seq (store) == lost_wave);
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);

    //  ... and the committed counter is what a reopen sees
    store = s_open (testutil_path ("abort"), 0, err);
    CHECK (store);
    if (store) {
        CHECK (store_begin (store, err) == 0);
        CHECK (store_next_order_id (store) == lost2);
        store_abort (store);
        store_destroy (&store);
    }
done:
    testutil_end ();
}

static void
test_history (void)
{
    testutil_start ("history: a log in time order, each order's entries chained");
    char err [WOB_ERRLEN];
    const char *dir = testutil_path ("history");
    store_t *store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    test_order_t o, n;
    s_order_init (&o, 42, "13800000042", WOB__STATE__STATE_DISPATCHED);
    s_order_init (&n, 41, "13800000041", WOB__STATE__STATE_QUEUED);
    const Wob__State to [4] = {
        WOB__STATE__STATE_QUEUED, WOB__STATE__STATE_DISPATCHED,
        WOB__STATE__STATE_QUEUED, WOB__STATE__STATE_DISPATCHED
    };
    //  Order 42's entries with a neighbour's in between (as in a group)
    for (int i = 0; i < 3; i++) {
        Wob__HistoryEntry entry = WOB__HISTORY_ENTRY__INIT;
        entry.at_ms = 1000 + i;
        entry.from = i? to [i - 1]: WOB__STATE__STATE_RECEIVED;
        entry.to = to [i];
        entry.actor = "broker";
        entry.reason = i == 1? "leased to sms-1": "intake";
        CHECK (store_history_put (store, &o.order, &entry, err) == 0);
        Wob__HistoryEntry other = WOB__HISTORY_ENTRY__INIT;
        other.actor = "neighbour";
        CHECK (store_history_put (store, &n.order, &other, err) == 0);
    }
    CHECK (o.order.history_len == 3 && n.order.history_len == 3);
    CHECK (s_store_order (store, &o.order, err) == 0);
    CHECK (store_commit (store, err) == 0);

    //  An aborted group's entries are gone and their log keys reused
    CHECK (store_begin (store, err) == 0);
    uint64_t last = o.order.history_last;
    Wob__HistoryEntry lost = WOB__HISTORY_ENTRY__INIT;
    lost.reason = "lost";
    CHECK (store_history_put (store, &o.order, &lost, err) == 0);
    store_abort (store);
    o.order.history_last = last;
    o.order.history_len = 3;

    //  And after a reopen the log goes on at its end
    store_destroy (&store);
    store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    Wob__HistoryEntry entry = WOB__HISTORY_ENTRY__INIT;
    entry.at_ms = 1003;
    entry.from = to [2];
    entry.to = to [3];
    entry.actor = "broker";
    entry.reason = "leased to sms-2";
    CHECK (store_history_put (store, &o.order, &entry, err) == 0);
    CHECK (o.order.history_last == last + 2);     //  after the neighbour's last
    CHECK (store_order_put (store, &o.order, err) == 0);
    CHECK (store_commit (store, err) == 0);

    CHECK (store_begin (store, err) == 0);
    Wob__Order *back = NULL;
    CHECK (store_order_get (store, 42, &back, err) == 0);
    if (back) {
        CHECK (store_history_load (store, back, err) == 0);
        CHECK (back->n_history == 4);
        for (size_t i = 0; i < back->n_history && i < 4; i++) {
            CHECK (back->history [i]->at_ms == 1000 + (int64_t) i);
            CHECK (back->history [i]->to == to [i]);
            CHECK (streq (back->history [i]->actor, "broker"));
        }
        if (back->n_history == 4)
            CHECK (streq (back->history [3]->reason, "leased to sms-2"));
        //  history_len is only a hint: a short one still gets them all
        back->history_len = 1;
        CHECK (store_history_load (store, back, err) == 0);
        CHECK (back->n_history == 4);
        //  A chain that points at another order's entry is corrupt
        back->history_last = last - 1;
        CHECK (store_history_load (store, back, err) == WOB_ERR_STORE);
        CHECK_ERR (err, "is corrupt");
        wob__order__free_unpacked (back, NULL);
    }
    //  No entries: empty history
    s_order_init (&o, 44, "", WOB__STATE__STATE_NONE);
    CHECK (store_history_load (store, &o.order, err) == 0);
    CHECK (o.order.n_history == 0);
    free (o.order.history);
    store_abort (store);
    store_destroy (&store);
done:
    testutil_end ();
}

static void
test_contacts (void)
{
    testutil_start ("contacts: counted from the number's orders");
    char err [WOB_ERRLEN];
    store_t *store = s_open (testutil_path ("contacts"), 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    //  13800000001: order 1 sms at 5000, order 2 call at 9000, order 3
    //  never leased; 13800000002: order 4 sms at 9000
    struct { uint64_t id; const char *msisdn, *channel; int64_t at; } rows [] = {
        { 1, "13800000001", "sms", 5000 }, { 2, "13800000001", "call", 9000 },
        { 3, "13800000001", "sms", 0 }, { 4, "13800000002", "sms", 9000 }
    };
    for (size_t i = 0; i < 4; i++) {
        test_order_t o;
        s_order_init (&o, rows [i].id, rows [i].msisdn, WOB__STATE__STATE_DONE);
        o.order.channel = (char *) rows [i].channel;
        o.order.contacted_ms = rows [i].at;
        CHECK (s_store_order (store, &o.order, err) == 0);
        CHECK (store_msisdn_add (store, rows [i].msisdn, 1, rows [i].id, false, err) == 0);
    }
    uint32_t count = 99;
    CHECK (store_contact_count (store, "13800000001", 0, "", 0, &count, err) == 0 && count == 2);
    CHECK (store_contact_count (store, "13800000001", 6000, "", 0, &count, err) == 0
           && count == 1);
    CHECK (store_contact_count (store, "13800000001", 0, "sms", 0, &count, err) == 0
           && count == 1);
    CHECK (store_contact_count (store, "13800000001", 0, "", 2, &count, err) == 0
           && count == 1);
    CHECK (store_contact_count (store, "13800000003", 0, "", 0, &count, err) == 0
           && count == 0);
    store_abort (store);
    store_destroy (&store);
done:
    testutil_end ();
}

static void
test_queue (void)
{
    testutil_start ("queue order: priority, then id; runs apart");
    char err [WOB_ERRLEN];
    store_t *store = s_open (testutil_path ("queue"), 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    //  Channel 2, wave 7
    CHECK (store_queue_put (store, 2, 0, 7, 5, 10, err) == 0);
    CHECK (store_queue_put (store, 2, 0, 7, 9, 12, err) == 0);
    CHECK (store_queue_put (store, 2, 0, 7, 9, 11, err) == 0);
    CHECK (store_queue_put (store, 2, 0, 7, 0, 3, err) == 0);
    CHECK (store_queue_put (store, 2, 0, 7, 255, 300, err) == 0);
    //  Neighbouring runs that must not be seen through wave 7
    CHECK (store_queue_put (store, 2, 0, 8, 1, 100, err) == 0);
    CHECK (store_queue_put (store, 3, 0, 7, 200, 1, err) == 0);
    CHECK (store_queue_put (store, 2, 0, 6 + 256, 100, 2, err) == 0);
    //  Another route of the same channel and wave
    CHECK (store_queue_put (store, 2, 4, 7, 250, 5, err) == 0);
    CHECK (store_commit (store, err) == 0);

    CHECK (store_begin (store, err) == 0);
    const uint8_t want_prio [5] = { 255, 9, 9, 5, 0 };
    const uint64_t want_id [5] = { 300, 11, 12, 10, 3 };
    for (int i = 0; i < 5; i++) {
        uint8_t priority = 77;
        uint64_t id = 77;
        int rc = store_queue_head (store, 2, 0, 7, &priority, &id, err);
        CHECK (rc == 0);
        CHECK (priority == want_prio [i]);
        CHECK (id == want_id [i]);
        if (rc || id != want_id [i])
            fprintf (stderr, "  head %d: rc %d priority %u id %" PRIu64 "\n",
                     i, rc, priority, id);
        CHECK (store_queue_del (store, 2, 0, 7, priority, id, err) == 0);
    }
    uint8_t priority;
    uint64_t id;
    CHECK (store_queue_head (store, 2, 0, 7, &priority, &id, err) == WOB_ERR_NOT_FOUND);
    //  Deleting what is not there is not an error
    CHECK (store_queue_del (store, 2, 0, 7, 5, 10, err) == 0);
    //  The other runs are intact
    CHECK (store_queue_head (store, 2, 0, 8, &priority, &id, err) == 0);
    CHECK (priority == 1 && id == 100);
    CHECK (store_queue_head (store, 3, 0, 7, &priority, &id, err) == 0);
    CHECK (priority == 200 && id == 1);
    CHECK (store_queue_head (store, 2, 0, 6 + 256, &priority, &id, err) == 0);
    CHECK (priority == 100 && id == 2);
    //  Empty runs around them
    CHECK (store_queue_head (store, 2, 0, 6, &priority, &id, err) == WOB_ERR_NOT_FOUND);
    CHECK (store_queue_head (store, 2, 0, 9, &priority, &id, err) == WOB_ERR_NOT_FOUND);
    CHECK (store_queue_head (store, 1, 0, 7, &priority, &id, err) == WOB_ERR_NOT_FOUND);
    CHECK (store_queue_head (store, 15, 0, 7, &priority, &id, err) == WOB_ERR_NOT_FOUND);
    //  Route 4's run is apart from the shared one, found by head and any
    CHECK (store_queue_head (store, 2, 4, 7, &priority, &id, err) == 0);
    CHECK (priority == 250 && id == 5);
    uint32_t wave = 0;
    CHECK (store_queue_any (store, 2, 4, &wave, &id, err) == 0);
    CHECK (wave == 7 && id == 5);
    CHECK (store_queue_any (store, 2, 5, &wave, &id, err) == WOB_ERR_NOT_FOUND);
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);
done:
    testutil_end ();
}

static void
test_routes_and_held (void)
{
    testutil_start ("routes are durable ids; held orders in key order by kind");
    char err [WOB_ERRLEN];
    const char *path = testutil_path ("routes");
    store_t *store = s_open (path, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    uint32_t a = 0, b = 0, again = 0, none = 7;
    CHECK (store_route_id (store, 2, "1390000-1394999", true, &a, err) == 0);
    CHECK (store_route_id (store, 2, "广东/深圳", true, &b, err) == 0);
    CHECK (store_route_id (store, 2, "1390000-1394999", true, &again, err) == 0);
    CHECK (store_route_id (store, 3, "186", false, &none, err) == 0);
    CHECK (a == 1 && b == 2 && again == 1 && none == 0);
    CHECK (store_route_id (store, 2, "", true, &none, err) == WOB_ERR_INVALID);
    //  Held: numbers of channel 2, a region, another channel
    CHECK (store_held_put (store, 2, 'n', "13900000001", 11, err) == 0);
    CHECK (store_held_put (store, 2, 'n', "13900000001", 10, err) == 0);
    CHECK (store_held_put (store, 2, 'n', "13950000000", 12, err) == 0);
    CHECK (store_held_put (store, 2, 'r', "广东/深圳/南山", 13, err) == 0);
    CHECK (store_held_put (store, 3, 'n', "13900000000", 14, err) == 0);
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);

    //  After reopening
    store = s_open (path, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    CHECK (store_route_id (store, 2, "广东/深圳", false, &again, err) == 0);
    CHECK (again == 2);
    char text [STORE_MAX_HELD_KEY + 1];
    uint64_t id = 0, want [3] = { 10, 11, 12 };
    for (int i = 0; i < 3; i++) {
        //  Resume after the last entry seen: same key, next id
        CHECK (store_held_next (store, 2, 'n', i? text: "1390", i? id: 0, text, &id,
                                err) == 0);
        CHECK (id == want [i]);
    }
    CHECK (store_held_next (store, 2, 'n', text, id, text, &id, err) == 0);
    CHECK (id == 0);                        //  the region is another kind
    CHECK (store_held_del (store, 2, 'n', "13900000001", 10, err) == 0);
    CHECK (store_held_next (store, 2, 'n', "", 0, text, &id, err) == 0);
    CHECK (id == 11 && streq (text, "13900000001"));
    CHECK (store_held_next (store, 2, 'r', "广东/深圳", 0, text, &id, err) == 0);
    CHECK (id == 13 && streq (text, "广东/深圳/南山"));
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);
done:
    testutil_end ();
}

static void
test_timers (void)
{
    testutil_start ("timers due by now, in due order, up to max");
    char err [WOB_ERRLEN];
    store_t *store = s_open (testutil_path ("timers"), 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    CHECK (store_timer_put (store, 1000, 5, err) == 0);
    CHECK (store_timer_put (store, 500, 7, err) == 0);
    CHECK (store_timer_put (store, 1500, 2, err) == 0);
    CHECK (store_timer_put (store, 1000, 3, err) == 0);
    CHECK (store_timer_put (store, -5, 9, err) == 0);          //  clamped to 0
    CHECK (store_timer_put (store, 1763946000000LL, 4, err) == 0);

    uint64_t ids [8];
    int64_t dues [8];
    size_t count = 99;
    CHECK (store_timer_due (store, 1000, ids, dues, 8, &count, err) == 0);
    CHECK (count == 4);
    if (count == 4) {
        CHECK (ids [0] == 9 && dues [0] == 0);
        CHECK (ids [1] == 7 && dues [1] == 500);
        CHECK (ids [2] == 3 && dues [2] == 1000);
        CHECK (ids [3] == 5 && dues [3] == 1000);
    }
    CHECK (store_timer_due (store, 1000, ids, dues, 2, &count, err) == 0);
    CHECK (count == 2 && ids [0] == 9 && ids [1] == 7);
    CHECK (store_timer_due (store, 999, ids, dues, 8, &count, err) == 0);
    CHECK (count == 2);
    CHECK (store_timer_due (store, -1, ids, dues, 8, &count, err) == 0);
    CHECK (count == 0);
    CHECK (store_timer_due (store, 1000, ids, dues, 0, &count, err) == 0);
    CHECK (count == 0);
    CHECK (store_timer_due (store, INT64_MAX, ids, dues, 8, &count, err) == 0);
    CHECK (count == 6 && ids [5] == 4 && dues [5] == 1763946000000LL);
    //  Deleted timers are gone
    CHECK (store_timer_del (store, 500, 7, err) == 0);
    CHECK (store_timer_del (store, -5, 9, err) == 0);
    CHECK (store_timer_due (store, 1000, ids, dues, 8, &count, err) == 0);
    CHECK (count == 2 && ids [0] == 3 && ids [1] == 5);
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);
done:
    testutil_end ();
}

static void
test_indexes (void)
{
    testutil_start ("msisdn index and wave order walk");
    char err [WOB_ERRLEN];
    store_t *store = s_open (testutil_path ("indexes"), 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    CHECK (store_msisdn_add (store, "13800000001", 2, 300, false, err) == 0);
    CHECK (store_msisdn_add (store, "13800000001", 1, 5, false, err) == 0);
    CHECK (store_msisdn_add (store, "13800000001", 1, 17, false, err) == 0);
    CHECK (store_msisdn_add (store, "13800000001", 1, 17, false, err) == 0);    //  again
    CHECK (store_msisdn_add (store, "138000000011", 1, 1, false, err) == 0);
    CHECK (store_msisdn_add (store, "13800000002", 1, 2, false, err) == 0);
    for (uint64_t i = 1000; i < 1020; i++)      //  more than one realloc
        CHECK (store_msisdn_add (store, "13900000000", (uint32_t) (3 - i % 3), i, false, err) == 0);
    CHECK (store_commit (store, err) == 0);

    CHECK (store_begin (store, err) == 0);
    uint64_t *ids = NULL;
    size_t count = 0;
    CHECK (store_msisdn_list (store, "13800000001", &ids, &count, err) == 0);
    CHECK (count == 3);
    if (count == 3)
        CHECK (ids [0] == 5 && ids [1] == 17 && ids [2] == 300);
    free (ids);
    CHECK (store_msisdn_list (store, "13900000000", &ids, &count, err) == 0);
    CHECK (count == 20);
    bool ascending = count == 20;
    for (size_t i = 0; i < count && ascending; i++)
        ascending = ids [i] == 1000 + i;
    CHECK (ascending);
    free (ids);
    //  A number's first order in a wave comes from the same index
    uint64_t first = 99;
    CHECK (store_wave_msisdn_get (store, 1, "13800000001", &first, err) == 0 && first == 5);
    CHECK (store_wave_msisdn_get (store, 2, "13800000001", &first, err) == 0 && first == 300);
    CHECK (store_wave_msisdn_get (store, 3, "13800000001", &first, err) == 0 && first == 0);
    CHECK (store_wave_msisdn_get (store, 1, "1380000000", &first, err) == 0 && first == 0);
    CHECK (store_wave_msisdn_get (store, 3, "13900000000", &first, err) == 0 && first == 1002);
    CHECK (store_wave_msisdn_get (store, 2, "13900000000", &first, err) == 0 && first == 1000);
    CHECK (store_wave_msisdn_get (store, 1, "13900000000", &first, err) == 0 && first == 1001);
    CHECK (store_msisdn_list (store, "1380000000", &ids, &count, err) == 0);
    CHECK (count == 0 && ids == NULL);
    CHECK (store_msisdn_list (store, "", &ids, &count, err) == 0);
    CHECK (count == 0 && ids == NULL);

    //  Wave orders
    CHECK (store_wave_order_add (store, 3, 9, err) == 0);
    CHECK (store_wave_order_add (store, 3, 4, err) == 0);
    CHECK (store_wave_order_add (store, 3, 2, err) == 0);
    CHECK (store_wave_order_add (store, 2, 100, err) == 0);
    CHECK (store_wave_order_add (store, 4, 1, err) == 0);
    CHECK (store_wave_order_add (store, 3 + 256, 5, err) == 0);
    const uint64_t want [4] = { 2, 4, 9, 0 };
    uint64_t after = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t id = 77;
        CHECK (store_wave_order_next (store, 3, after, &id, err) == 0);
        CHECK (id == want [i]);
        after = id;
        if (!id)
            break;
    }
    uint64_t id = 77;
    CHECK (store_wave_order_next (store, 3, 3, &id, err) == 0);     //  between ids
    CHECK (id == 4);
    CHECK (store_wave_order_next (store, 5, 0, &id, err) == 0);     //  no such wave
    CHECK (id == 0);
    CHECK (store_wave_order_next (store, 1, 0, &id, err) == 0);
    CHECK (id == 0);
    CHECK (store_wave_order_next (store, 4, 0, &id, err) == 0);
    CHECK (id == 1);
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);
done:
    testutil_end ();
}

typedef struct {
    uint64_t ids [8];           //  ids seen
    size_t count;               //  how many
    size_t stop_after;          //  return 1 after this many (0 = never)
} lease_seen_t;

static int
s_lease_seen (void *arg, uint64_t id)
{
    lease_seen_t *seen = arg;
    if (seen->count < 8)
        seen->ids [seen->count] = id;
    seen->count++;
    return seen->stop_after && seen->count == seen->stop_after? 1: 0;
}

static void
test_leases (void)
{
    testutil_start ("leases put, del, each");
    char err [WOB_ERRLEN];
    store_t *store = s_open (testutil_path ("leases"), 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    CHECK (store_lease_put (store, 30, err) == 0);
    CHECK (store_lease_put (store, 1, err) == 0);
    CHECK (store_lease_put (store, 256, err) == 0);
    CHECK (store_lease_put (store, 2, err) == 0);
    CHECK (store_lease_put (store, 2, err) == 0);       //  twice: one lease
    CHECK (store_lease_del (store, 30, err) == 0);
    CHECK (store_lease_del (store, 999, err) == 0);     //  not leased: fine
    CHECK (store_commit (store, err) == 0);

    CHECK (store_begin (store, err) == 0);
    lease_seen_t seen = { { 0 }, 0, 0 };
    CHECK (store_lease_each (store, s_lease_seen, &seen, err) == 0);
    CHECK (seen.count == 3);
    if (seen.count == 3)
        CHECK (seen.ids [0] == 1 && seen.ids [1] == 2 && seen.ids [2] == 256);
    //  A callback's non-zero return stops the walk and is returned
    lease_seen_t first = { { 0 }, 0, 1 };
    CHECK (store_lease_each (store, s_lease_seen, &first, err) == 1);
    CHECK (first.count == 1 && first.ids [0] == 1);
    CHECK (store_lease_del (store, 1, err) == 0);
    CHECK (store_lease_del (store, 2, err) == 0);
    CHECK (store_lease_del (store, 256, err) == 0);
    lease_seen_t none = { { 0 }, 0, 0 };
    CHECK (store_lease_each (store, s_lease_seen, &none, err) == 0);
    CHECK (none.count == 0);
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);
done:
    testutil_end ();
}

typedef struct {
    int count;                  //  waves seen
    bool w1_ok;                 //  w1 came back whole
} wave_seen_t;

static int
s_wave_seen (void *arg, Wob__Wave *wave)
{
    wave_seen_t *seen = arg;
    seen->count++;
    if (streq (wave->id, "w1"))
        seen->w1_ok = wave->seq == 1 && streq (wave->campaign, "5G 升级");
    wob__wave__free_unpacked (wave, NULL);
    return 0;
}

static void
test_waves_and_stats (void)
{
    testutil_start ("waves put/get/each, stats put/get");
    char err [WOB_ERRLEN];
    const char *dir = testutil_path ("waves");
    store_t *store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    Wob__PlanStep step = WOB__PLAN_STEP__INIT;
    step.channel = "preferred";
    step.fallback = "sms";
    Wob__PlanStep *steps [1] = { &step };
    Wob__Wave w1 = WOB__WAVE__INIT;
    w1.id = "w1";
    w1.campaign = "5G 升级";
    w1.kind = "up_sell";
    w1.start_ms = 1795482000000LL;
    w1.state = WOB__WAVE_STATE__WAVE_OPEN;
    w1.rows = 12345;
    w1.seq = store_next_wave_seq (store);
    w1.n_plan = 1;
    w1.plan = steps;
    Wob__Wave w2 = WOB__WAVE__INIT;
    w2.id = "w2";
    w2.seq = store_next_wave_seq (store);
    CHECK (w1.seq == 1 && w2.seq == 2);
    CHECK (store_wave_put (store, &w1, err) == 0);
    CHECK (store_wave_put (store, &w2, err) == 0);

    store_stats_t stats;
    memset (&stats, 0, sizeof (stats));
    stats.by_state [WOB__STATE__STATE_QUEUED] = 10;
    stats.by_state [WOB__STATE__STATE_DONE] = 1ULL << 40;
    stats.by_outcome [WOB__OUTCOME__OUTCOME_ACCEPTED] = 3;
    stats.by_channel [1] = 7;
    stats.by_channel [STORE_MAX_CHANNELS - 1] = 8;
    stats.filtered_by_reason [7] = 9;
    CHECK (store_stats_put (store, w1.seq, &stats, err) == 0);
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);

    store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    Wob__Wave *back = NULL;
    CHECK (store_wave_get (store, "w1", &back, err) == 0);
    if (back) {
        CHECK (back->seq == 1);
        CHECK (streq (back->campaign, "5G 升级"));
        CHECK (streq (back->kind, "up_sell"));
        CHECK (back->start_ms == 1795482000000LL);
        CHECK (back->state == WOB__WAVE_STATE__WAVE_OPEN);
        CHECK (back->rows == 12345);
        CHECK (back->n_plan == 1 && streq (back->plan [0]->channel, "preferred")
               && streq (back->plan [0]->fallback, "sms"));
        wob__wave__free_unpacked (back, NULL);
    }
    CHECK (store_wave_get (store, "w3", &back, err) == WOB_ERR_NOT_FOUND);
    CHECK (back == NULL);
    CHECK_ERR (err, "w3");
    wave_seen_t seen = { 0, false };
    CHECK (store_wave_each (store, s_wave_seen, &seen, err) == 0);
    CHECK (seen.count == 2);
    CHECK (seen.w1_ok);

    store_stats_t got;
    memset (&got, 0xEE, sizeof (got));
    CHECK (store_stats_get (store, 1, &got, err) == 0);
    CHECK (memcmp (&got, &stats, sizeof (stats)) == 0);
    store_stats_t zero;
    memset (&zero, 0, sizeof (zero));
    memset (&got, 0xEE, sizeof (got));
    CHECK (store_stats_get (store, 2, &got, err) == 0);         //  never written
    CHECK (memcmp (&got, &zero, sizeof (zero)) == 0);
    CHECK (store_next_wave_seq (store) == 3);
    store_abort (store);
    store_destroy (&store);
done:
    testutil_end ();
}

//  Raw LMDB on a closed store: puts (or, with val NULL, reads into *got)
//  one value of a named database.  Returns the LMDB code.
static int
s_raw (const char *dir, const char *db, MDB_val key, MDB_val *val, MDB_val *got)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    int rc = mdb_env_create (&env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (env, 32);
    if (rc == 0)
        rc = mdb_env_open (env, dir, 0, 0644);
    if (rc == 0)
        rc = mdb_txn_begin (env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open (txn, db, 0, &dbi);
    if (rc == 0 && val)
        rc = mdb_put (txn, dbi, &key, val, 0);
    if (rc == 0 && !val) {
        MDB_val v;
        if ((rc = mdb_get (txn, dbi, &key, &v)) == 0) {
            got->mv_size = v.mv_size;
            got->mv_data = malloc (v.mv_size + 1);
            memcpy (got->mv_data, v.mv_data, v.mv_size);
        }
    }
    if (rc == 0) {
        rc = mdb_txn_commit (txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort (txn);
    if (env)
        mdb_env_close (env);
    if (rc)
        fprintf (stderr, "  [%s] raw LMDB on %s: %s\n", testutil.check, db, mdb_strerror (rc));
    return rc;
}

typedef struct {
    size_t rows;
    bool grid_ok;
} tally_seen_t;

static int
s_tally_seen (void *arg, const char *value, const wob_tally_t *tally)
{
    tally_seen_t *seen = arg;
    seen->rows++;
    if (streq (value, "GD/SZ/Futian") && tally->created == 5 && tally->contacted == 2
    &&  tally->imported [WOB_GROUP_CONTROL][7] == 1)
        seen->grid_ok = true;
    return 0;
}

//  Counts are stored packed (non-zero entries only); a wob-store-4 store,
//  which kept them as raw structs, is repacked on open and reads the same.
static void
test_counts_packed_and_upgraded (void)
{
    testutil_start ("counts stored packed; a wob-store-4 store is upgraded on open");
    char err [WOB_ERRLEN];
    const char *dir = testutil_path ("counts");
    store_t *store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    //  A fresh store writes packed rows: a grid's row with three counts
    //  takes a few bytes, not sizeof (wob_tally_t)
    wob_tally_t tally;
    memset (&tally, 0, sizeof (tally));
    tally.created = 5;
    tally.contacted = 2;
    tally.imported [WOB_GROUP_CONTROL][7] = 1;
    store_stats_t stats;
    memset (&stats, 0, sizeof (stats));
    stats.by_state [WOB__STATE__STATE_QUEUED] = 300;
    stats.contacted [STORE_MAX_CHANNELS - 1] = UINT64_MAX;      //  the last slot
    CHECK (store_begin (store, err) == 0);
    CHECK (store_tally_put (store, 1, 'r', "GD/SZ/Futian", &tally, err) == 0);
    CHECK (store_stats_put (store, 1, &stats, err) == 0);
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);
    uint8_t tkey [4 + 1 + 12] = { 0, 0, 0, 1, 'r' };
    memcpy (tkey + 5, "GD/SZ/Futian", 12);
    uint8_t skey [4] = { 0, 0, 0, 1 };
    MDB_val got = { 0, NULL };
    CHECK (s_raw (dir, "tallies", (MDB_val) { sizeof (tkey), tkey }, NULL, &got) == 0);
    CHECK (got.mv_size > 0 && got.mv_size <= 8);
    free (got.mv_data);
    CHECK (s_raw (dir, "stats", (MDB_val) { sizeof (skey), skey }, NULL, &got) == 0);
    CHECK (got.mv_size > 0 && got.mv_size <= 16);
    free (got.mv_data);

    //  Make it a wob-store-4 store: raw structs, one stats row shorter
    //  than today's (older layouts grew at the end), and the old marker
    MDB_val magic = { 11, "wob-store-4" };
    CHECK (s_raw (dir, "meta", (MDB_val) { 5, "magic" }, &magic, NULL) == 0);
    CHECK (s_raw (dir, "tallies", (MDB_val) { sizeof (tkey), tkey },
                  &(MDB_val) { sizeof (tally), &tally }, NULL) == 0);
    CHECK (s_raw (dir, "stats", (MDB_val) { sizeof (skey), skey },
                  &(MDB_val) { sizeof (stats), &stats }, NULL) == 0);
    uint8_t skey2 [4] = { 0, 0, 0, 2 };
    uint64_t short_stats [3] = { 0, 0, 42 };                    //  by_state [2]
    CHECK (s_raw (dir, "stats", (MDB_val) { sizeof (skey2), skey2 },
                  &(MDB_val) { sizeof (short_stats), short_stats }, NULL) == 0);

    //  Opened twice: upgraded the first time, read as version 5 after
    for (int pass = 0; pass < 2; pass++) {
        store = s_open (dir, 0, err);
        CHECK (store);
        if (!store)
            goto done;
        CHECK (store_begin (store, err) == 0);
        store_stats_t back;
        CHECK (store_stats_get (store, 1, &back, err) == 0);
        CHECK (memcmp (&back, &stats, sizeof (stats)) == 0);
        CHECK (store_stats_get (store, 2, &back, err) == 0);
        CHECK (back.by_state [2] == 42 && back.by_state [0] == 0 && back.contacted [0] == 0);
        wob_tally_t tally_back;
        CHECK (store_tally_get (store, 1, 'r', "GD/SZ/Futian", &tally_back, err) == 0);
        CHECK (memcmp (&tally_back, &tally, sizeof (tally)) == 0);
        tally_seen_t seen = { 0, false };
        CHECK (store_tally_each (store, 1, 'r', s_tally_seen, &seen, err) == 0);
        CHECK (seen.rows == 1 && seen.grid_ok);
        store_abort (store);
        store_destroy (&store);
    }
    MDB_val now = { 0, NULL };
    CHECK (s_raw (dir, "meta", (MDB_val) { 5, "magic" }, NULL, &now) == 0);
    CHECK (now.mv_size == 11 && memcmp (now.mv_data, "wob-store-5", 11) == 0);
    free (now.mv_data);

    //  A damaged row is an error naming what was being read, not garbage
    CHECK (s_raw (dir, "stats", (MDB_val) { sizeof (skey), skey },
                  &(MDB_val) { 3, "\xff\xff\xff" }, NULL) == 0);
    store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    store_stats_t back;
    CHECK (store_stats_get (store, 1, &back, err) == WOB_ERR_STORE);
    CHECK_ERR (err, "wave counts");
    store_abort (store);
    store_destroy (&store);
done:
    testutil_end ();
}

static void
test_channels (void)
{
    testutil_start ("channel ids stable across reopen");
    char err [WOB_ERRLEN];
    const char *dir = testutil_path ("channels");
    store_t *store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    uint8_t sms = 0, call = 0, again = 0, id = 99;
    CHECK (store_begin (store, err) == 0);
    CHECK (store_channel_id (store, "sms", true, &sms, err) == 0);
    CHECK (store_channel_id (store, "call", true, &call, err) == 0);
    CHECK (store_channel_id (store, "sms", true, &again, err) == 0);
    CHECK (sms >= 1 && sms < STORE_MAX_CHANNELS);
    CHECK (call >= 1 && call < STORE_MAX_CHANNELS && call != sms);
    CHECK (again == sms);
    CHECK (store_channel_id (store, "fax", false, &id, err) == WOB_ERR_NOT_FOUND);
    CHECK (id == 0);
    CHECK_ERR (err, "fax");
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);

    store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    CHECK (store_channel_id (store, "sms", false, &id, err) == 0 && id == sms);
    CHECK (store_channel_id (store, "call", false, &id, err) == 0 && id == call);
    CHECK (store_channel_id (store, "fax", false, &id, err) == WOB_ERR_NOT_FOUND);
    CHECK (streq (store_channel_name (store, sms), "sms"));
    CHECK (streq (store_channel_name (store, call), "call"));
    CHECK (streq (store_channel_name (store, 0), "?"));
    CHECK (streq (store_channel_name (store, 200), "?"));
    //  New channels fill the ids up to STORE_MAX_CHANNELS - 1
    int created = 2;
    for (int i = 0; i < STORE_MAX_CHANNELS; i++) {
        char name [16];
        snprintf (name, sizeof (name), "ch%d", i);
        int rc = store_channel_id (store, name, true, &id, err);
        if (created < STORE_MAX_CHANNELS - 1) {
            CHECK (rc == 0 && id >= 1 && id < STORE_MAX_CHANNELS);
            created++;
        }
        else {
            CHECK (rc == WOB_ERR_INVALID);
            CHECK_ERR (err, "too many channels");
            break;
        }
    }
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);
done:
    testutil_end ();
}

//  store.c line 383-385: a channel created in a group that then aborts is
//  kept in the in-memory cache "and is simply written again next time".
static void
test_channel_after_abort (void)
{
    testutil_start ("channel created in an aborted group persists");
    char err [WOB_ERRLEN];
    const char *dir = testutil_path ("channel-abort");
    store_t *store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    uint8_t sms = 0, id = 0;
    CHECK (store_begin (store, err) == 0);
    CHECK (store_channel_id (store, "sms", true, &sms, err) == 0);
    store_abort (store);
    CHECK (store_begin (store, err) == 0);
    CHECK (store_channel_id (store, "sms", true, &id, err) == 0);
    CHECK (id == sms);
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);

    store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    id = 0;
    int rc = store_channel_id (store, "sms", false, &id, err);
    CHECK (rc == 0);
    if (rc)
        fprintf (stderr, "  [%s] after reopen: %s\n", testutil.check, err);
    CHECK (id == sms);
    //  A new channel must not take the id sms already used in queue keys
    uint8_t other = 0;
    CHECK (store_channel_id (store, "call", true, &other, err) == 0);
    CHECK (other != sms);
    store_abort (store);
    store_destroy (&store);
done:
    testutil_end ();
}

static void
test_not_a_directory (void)
{
    testutil_start ("data path is a regular file");
    char err [WOB_ERRLEN];
    const char *path = testutil_path ("plain-file");
    char copy [512];
    snprintf (copy, sizeof (copy), "%s", path);
    FILE *file = fopen (copy, "w");
    CHECK (file);
    if (file) {
        fputs ("not a directory\n", file);
        fclose (file);
    }
    store_config_t config = { copy, 0, true };
    err [0] = 0;
    store_t *store = store_new (&config, err);
    CHECK (store == NULL);
    CHECK_ERR (err, copy);
    CHECK_ERR (err, "not a directory");
    store_destroy (&store);
    testutil_end ();
}

static void
test_garbage_file (void)
{
    testutil_start ("garbage data.mdb is reported corrupt");
    char err [WOB_ERRLEN];
    char dir [512];
    snprintf (dir, sizeof (dir), "%s", testutil_path ("garbage"));
    CHECK (mkdir (dir, 0755) == 0);
    char path [600];
    snprintf (path, sizeof (path), "%s/data.mdb", dir);
    uint8_t *junk = malloc (64 * 1024);
    memset (junk, 0xAB, 64 * 1024);
    FILE *file = fopen (path, "wb");
    CHECK (file);
    if (file) {
        CHECK (fwrite (junk, 1, 64 * 1024, file) == 64 * 1024);
        fclose (file);
    }
    free (junk);
    store_config_t config = { dir, 0, true };
    err [0] = 0;
    store_t *store = store_new (&config, err);
    CHECK (store == NULL);
    CHECK_ERR (err, "corrupt");
    CHECK_ERR (err, dir);
    store_destroy (&store);
    testutil_end ();
}

static void
test_foreign_lmdb (void)
{
    testutil_start ("foreign LMDB is not a wob store");
    char err [WOB_ERRLEN];
    char dir [512];
    snprintf (dir, sizeof (dir), "%s", testutil_path ("foreign"));
    CHECK (mkdir (dir, 0755) == 0);
    //  Someone else's database: one key in the main DB
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    int rc = mdb_env_create (&env);
    if (rc == 0)
        rc = mdb_env_set_mapsize (env, 1 << 20);
    if (rc == 0)
        rc = mdb_env_open (env, dir, 0, 0644);
    if (rc == 0)
        rc = mdb_txn_begin (env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open (txn, NULL, 0, &dbi);
    if (rc == 0) {
        MDB_val key = { 5, "hello" }, val = { 5, "world" };
        rc = mdb_put (txn, dbi, &key, &val, 0);
    }
    if (rc == 0) {
        rc = mdb_txn_commit (txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort (txn);
    if (env)
        mdb_env_close (env);
    CHECK (rc == 0);
    if (rc)
        fprintf (stderr, "  [%s] raw LMDB: %s\n", testutil.check, mdb_strerror (rc));

    store_config_t config = { dir, 0, true };
    err [0] = 0;
    store_t *store = store_new (&config, err);
    CHECK (store == NULL);
    CHECK_ERR (err, "not a wob store");
    CHECK_ERR (err, dir);
    store_destroy (&store);

    //  ... and it was left untouched
    env = NULL;
    rc = mdb_env_create (&env);
    if (rc == 0)
        rc = mdb_env_open (env, dir, MDB_RDONLY, 0644);
    if (rc == 0)
        rc = mdb_txn_begin (env, NULL, MDB_RDONLY, &txn);
    MDB_stat st = { 0 };
    if (rc == 0) {
        rc = mdb_dbi_open (txn, NULL, 0, &dbi);
        if (rc == 0)
            rc = mdb_stat (txn, dbi, &st);
        mdb_txn_abort (txn);
    }
    if (env)
        mdb_env_close (env);
    CHECK (rc == 0 && st.ms_entries == 1);
    testutil_end ();
}

static void
test_map_full (void)
{
    testutil_start ("map full: error, abort, store still works");
    char err [WOB_ERRLEN];
    const char *dir = testutil_path ("full");
    char dir_copy [512];
    snprintf (dir_copy, sizeof (dir_copy), "%s", dir);
    store_t *store = s_open (dir_copy, 1 << 20, err);
    CHECK (store);
    if (!store)
        goto done;
    test_order_t o;
    CHECK (store_begin (store, err) == 0);
    uint64_t kept = store_next_order_id (store);
    s_order_init (&o, kept, "13800000000", WOB__STATE__STATE_QUEUED);
    CHECK (s_store_order (store, &o.order, err) == 0);
    CHECK (store_commit (store, err) == 0);

    char big [1025];
    memset (big, 'x', 1024);
    big [1024] = 0;
    CHECK (store_begin (store, err) == 0);
    int rc = 0;
    int written = 0;
    uint64_t last_id = 0;
    while (written < 100000) {
        last_id = store_next_order_id (store);
        s_order_init (&o, last_id, "13800000001", WOB__STATE__STATE_RECEIVED);
        o.target.name = big;
        err [0] = 0;
        rc = s_store_order (store, &o.order, err);
        if (rc)
            break;
        written++;
    }
    CHECK (written > 10 && written < 100000);
    CHECK (rc == WOB_ERR_STORE);
    CHECK_ERR (err, "full");
    CHECK_ERR (err, dir_copy);
    store_abort (store);

    //  Reads still work, the group left nothing, small writes commit
    CHECK (store_begin (store, err) == 0);
    Wob__Order *back = NULL;
    CHECK (store_order_get (store, kept, &back, err) == 0);
    CHECK (back && back->id == kept && streq (back->target->msisdn, "13800000000"));
    if (back)
        wob__order__free_unpacked (back, NULL);
    CHECK (store_order_get (store, last_id - 1, &back, err) == WOB_ERR_NOT_FOUND);
    CHECK (store_order_count (store) == 1);
    uint64_t next = store_next_order_id (store);
    CHECK (next == kept + 1);
    s_order_init (&o, next, "13800000002", WOB__STATE__STATE_QUEUED);
    CHECK (s_store_order (store, &o.order, err) == 0);
    CHECK (store_lease_put (store, next, err) == 0);
    rc = store_commit (store, err);
    CHECK (rc == 0);
    if (rc)
        fprintf (stderr, "  [%s] commit after full: %s\n", testutil.check, err);
    store_destroy (&store);

    store = s_open (dir_copy, 1 << 20, err);
    CHECK (store);
    if (store) {
        CHECK (store_begin (store, err) == 0);
        CHECK (store_order_count (store) == 2);
        CHECK (store_order_get (store, next, &back, err) == 0);
        if (back)
            wob__order__free_unpacked (back, NULL);
        store_abort (store);
        store_destroy (&store);
    }
done:
    testutil_end ();
}

//  The decoded orders kept between a lease and its outcome (store_cache.c):
//  a reader gets what the store holds, never a copy the store moved past.
static Wob__Order *
s_get (store_t *store, uint64_t id)
{
    char err [WOB_ERRLEN];
    Wob__Order *order = NULL;
    CHECK_MSG (store_order_get (store, id, &order, err) == 0, "%s", err);
    return order;
}

static void
test_leased_cache (void)
{
    testutil_start ("a kept order is handed back, and only while it is what the store holds");
    char err [WOB_ERRLEN];
    store_t *store = s_open (testutil_path ("cache"), 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_begin (store, err) == 0);
    test_order_t o;
    s_order_init (&o, store_next_order_id (store), "13800138001", WOB__STATE__STATE_QUEUED);
    uint64_t id = o.order.id;
    CHECK (s_store_order (store, &o.order, err) == 0);
    CHECK (store_commit (store, err) == 0);

    //  Leased: written, kept, committed; the outcome gets that very object
    CHECK (store_begin (store, err) == 0);
    Wob__Order *order = s_get (store, id);
    order->attempts = 1;
    wob_str_set (&order->worker, "sms-1");
    CHECK (store_order_put (store, order, err) == 0);
    Wob__Order *kept = order;
    store_order_keep (store, &order);
    CHECK (order == NULL);
    CHECK (store_commit (store, err) == 0);
    CHECK (store_begin (store, err) == 0);
    order = s_get (store, id);
    CHECK (order == kept);
    CHECK (order && order->attempts == 1 && streq (order->worker, "sms-1")
           && order->target && streq (order->target->msisdn, "13800138001"));
    //  Handed over: the next reader reads the record
    order->attempts = 2;
    CHECK (store_order_put (store, order, err) == 0);
    wob__order__free_unpacked (order, NULL);
    order = s_get (store, id);
    CHECK (order && order->attempts == 2 && order->target);

    //  An object the store has moved past is not kept
    Wob__Order *newer = s_get (store, id);
    newer->attempts = 3;
    CHECK (store_order_put (store, newer, err) == 0);
    store_order_keep (store, &order);           //  says attempts 2: stale
    CHECK (order == NULL);
    wob__order__free_unpacked (newer, NULL);
    order = s_get (store, id);
    CHECK (order && order->attempts == 3);
    CHECK (store_commit (store, err) == 0);

    //  What an aborted transaction kept is gone with it
    CHECK (store_begin (store, err) == 0);
    order->attempts = 4;
    CHECK (store_order_put (store, order, err) == 0);
    store_order_keep (store, &order);
    store_abort (store);
    CHECK (store_begin (store, err) == 0);
    order = s_get (store, id);
    CHECK (order && order->attempts == 3);

    //  A merge rewrites the target: the kept copy goes
    CHECK (store_order_put (store, order, err) == 0);
    kept = order;
    store_order_keep (store, &order);
    test_order_t merged;
    s_order_init (&merged, id, "13800138001", WOB__STATE__STATE_QUEUED);
    merged.target.n_offers = 1;
    CHECK (store_target_put (store, &merged.order, err) == 0);
    order = s_get (store, id);
    CHECK (order && order->attempts == 3 && order->target && order->target->n_offers == 1);
    CHECK (store_order_put (store, order, err) == 0);
    kept = order;
    store_order_keep (store, &order);
    CHECK (store_commit (store, err) == 0);

    //  A read-only reader (the dashboard) reads the record and leaves the
    //  kept order for the outcome
    CHECK (store_read_begin (store, err) == 0);
    order = s_get (store, id);
    CHECK (order && order != kept && order->attempts == 3);
    wob__order__free_unpacked (order, NULL);
    store_read_end (store);
    CHECK (store_begin (store, err) == 0);
    order = s_get (store, id);
    CHECK (order == kept);
    wob__order__free_unpacked (order, NULL);
    store_abort (store);
    store_destroy (&store);
done:
    testutil_end ();
}

//  Intake asks the number index four questions per target and the store
//  answers them from one read: the answers follow every change at once.
static void
test_number_reads (void)
{
    testutil_start ("number index: each answer follows the index's changes");
    char err [WOB_ERRLEN];
    store_t *store = s_open (testutil_path ("numbers"), 0, err);
    CHECK (store);
    if (!store)
        goto done;
    const char *n = "13900139000";
    uint64_t first, *ids;
    size_t count;
    CHECK (store_begin (store, err) == 0);
    CHECK (store_wave_msisdn_get (store, 1, n, &first, err) == 0 && first == 0);
    CHECK (store_msisdn_add (store, n, 1, 5, false, err) == 0);
    CHECK (store_wave_msisdn_get (store, 1, n, &first, err) == 0 && first == 5);
    CHECK (store_wave_msisdn_get (store, 2, n, &first, err) == 0 && first == 0);
    CHECK (store_msisdn_add (store, n, 2, 7, false, err) == 0);
    CHECK (store_msisdn_add (store, n, 2, 6, false, err) == 0);
    CHECK (store_wave_msisdn_get (store, 2, n, &first, err) == 0 && first == 6);
    CHECK (store_msisdn_list (store, n, &ids, &count, err) == 0);
    CHECK (count == 3 && ids [0] == 5 && ids [1] == 6 && ids [2] == 7);
    free (ids);
    CHECK (store_commit (store, err) == 0);
    //  An aborted add is forgotten with its transaction
    CHECK (store_begin (store, err) == 0);
    CHECK (store_msisdn_add (store, n, 3, 9, false, err) == 0);
    CHECK (store_wave_msisdn_get (store, 3, n, &first, err) == 0 && first == 9);
    store_abort (store);
    CHECK (store_begin (store, err) == 0);
    CHECK (store_wave_msisdn_get (store, 3, n, &first, err) == 0 && first == 0);
    CHECK (store_msisdn_list (store, n, &ids, &count, err) == 0);
    CHECK (count == 3 && ids [2] == 7);
    free (ids);
    store_abort (store);
    store_destroy (&store);
done:
    testutil_end ();
}

//  The number's order ids as one string ("5 6 7"), for comparisons.
static const char *
s_ids (store_t *store, const char *msisdn, char *out, size_t size)
{
    char err [WOB_ERRLEN];
    uint64_t *ids = NULL;
    size_t count = 0, len = 0;
    out [0] = 0;
    if (store_msisdn_list (store, msisdn, &ids, &count, err))
        snprintf (out, size, "error: %.200s", err);
    for (size_t i = 0; i < count; i++)
        len += snprintf (out + len, size - len, "%s%" PRIu64, i? " ": "", ids [i]);
    free (ids);
    return out;
}

static bool
s_stop_now (void *arg)
{
    (*(int *) arg)++;
    return true;
}

//  Opens a closed store's database for reading with raw LMDB calls: 0, or
//  an LMDB error (what was opened is closed by s_raw_close either way)
static int
s_raw_open (const char *dir, const char *db, MDB_env **env, MDB_txn **txn, MDB_dbi *dbi)
{
    *env = NULL;
    *txn = NULL;
    int rc = mdb_env_create (env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (*env, 32);
    if (rc == 0)
        rc = mdb_env_open (*env, dir, MDB_RDONLY, 0644);
    if (rc == 0)
        rc = mdb_txn_begin (*env, NULL, MDB_RDONLY, txn);
    if (rc == 0)
        rc = mdb_dbi_open (*txn, db, 0, dbi);
    return rc;
}

static void
s_raw_close (MDB_env *env, MDB_txn *txn)
{
    if (txn)
        mdb_txn_abort (txn);
    mdb_env_close (env);
}

//  Keys of one of a closed store's databases, space-separated in B-tree
//  order ("" when it cannot be read)
static char *
s_raw_keys (const char *dir, const char *db, char *out, size_t size)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_cursor *cursor = NULL;
    MDB_dbi dbi;
    size_t len = 0;
    out [0] = 0;
    int rc = s_raw_open (dir, db, &env, &txn, &dbi);
    if (rc == 0)
        rc = mdb_cursor_open (txn, dbi, &cursor);
    MDB_val key, val;
    for (rc = rc? rc: mdb_cursor_get (cursor, &key, &val, MDB_FIRST); rc == 0 && len < size;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT))
        len += snprintf (out + len, size - len, "%s%.*s", len? " ": "",
                         (int) key.mv_size, (char *) key.mv_data);
    if (cursor)
        mdb_cursor_close (cursor);
    s_raw_close (env, txn);
    return out;
}

//  Entries (values, in a dupsort one) of a closed store's database
static size_t
s_raw_count (const char *dir, const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat stat = { 0 };
    int rc = s_raw_open (dir, db, &env, &txn, &dbi);
    if (rc == 0)
        rc = mdb_stat (txn, dbi, &stat);
    s_raw_close (env, txn);
    return rc? (size_t) -1: stat.ms_entries;
}

//  Numbers go to a log first and are folded into the B-tree later, a sweep
//  of the log at a time in number order: every answer is the same before,
//  during and after a sweep, across an abort and a reopen.
static void
test_number_fold (void)
{
    testutil_start ("number index: answers the same before, during and after a sweep");
    char err [WOB_ERRLEN], ids [256], keys [2048];
    const char *dir = testutil_path ("fold");
    store_t *store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    const char *a = "13900139000", *b = "13800138000";
    CHECK (store_begin (store, err) == 0);
    CHECK (store_msisdn_add (store, a, 1, 5, false, err) == 0);
    CHECK (store_msisdn_add (store, b, 1, 6, false, err) == 0);
    CHECK (store_msisdn_add (store, a, 2, 7, false, err) == 0);
    CHECK (store_msisdn_add (store, a, 2, 7, false, err) == 0);         //  again: no double
    //  40 more, in no order: 137000000nn for nn = 7 * k mod 40
    char number [16];
    for (uint64_t k = 0; k < 40; k++) {
        snprintf (number, sizeof (number), "137000000%02" PRIu64, k * 7 % 40);
        CHECK (store_msisdn_add (store, number, 3, 100 + k, false, err) == 0);
    }
    CHECK (store_commit (store, err) == 0);
    CHECK (store_numbers_recent (store) == 43);
    //  Too few for a sweep, unless the broker is idle (drain)
    CHECK (!store_numbers_foldable (store, false));
    CHECK (store_numbers_foldable (store, true));
    size_t moved = 0;
    CHECK (store_begin (store, err) == 0);
    CHECK (store_numbers_fold (store, 100, false, NULL, NULL, &moved, err) == 0 && moved == 0);
    //  A sweep told to stop stops at its next check (every 16): the 16
    //  smallest numbers are folded, and still in the log until it ends
    int asked = 0;
    CHECK (store_numbers_fold (store, 100, true, s_stop_now, &asked, &moved, err) == 0);
    CHECK (moved == 16 && asked == 1 && store_numbers_recent (store) == 43);
    CHECK (store_numbers_foldable (store, false));      //  a sweep is running
    //  In both parts now, answered once
    CHECK (streq (s_ids (store, "13700000000", ids, sizeof (ids)), "100"));
    CHECK (streq (s_ids (store, a, ids, sizeof (ids)), "5 7"));
    uint64_t first;
    CHECK (store_wave_msisdn_get (store, 2, a, &first, err) == 0 && first == 7);
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);
    CHECK (streq (s_raw_keys (dir, "msisdn", keys, sizeof (keys)),
                  "13700000000 13700000001 13700000002 13700000003 13700000004 "
                  "13700000005 13700000006 13700000007 13700000008 13700000009 "
                  "13700000010 13700000011 13700000012 13700000013 13700000014 "
                  "13700000015"));
    CHECK (s_raw_count (dir, "msisdn_new") == 43);

    //  Reopened: the log is read back whole and the sweep starts again
    store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_numbers_recent (store) == 43);
    CHECK (store_begin (store, err) == 0);
    CHECK (streq (s_ids (store, "13700000003", ids, sizeof (ids)), "129"));
    CHECK (streq (s_ids (store, a, ids, sizeof (ids)), "5 7"));
    CHECK (store_numbers_fold (store, 10, true, NULL, NULL, &moved, err) == 0 && moved == 10);
    //  Added meanwhile: an id the sweep holds goes straight to the B-tree
    //  (the sweep would clear it unfolded), a later one to the log
    CHECK (store_msisdn_add (store, b, 4, 120, false, err) == 0);
    CHECK (store_numbers_recent (store) == 43);
    CHECK (store_msisdn_add (store, b, 5, 300, false, err) == 0);
    CHECK (store_numbers_recent (store) == 44);
    CHECK (streq (s_ids (store, b, ids, sizeof (ids)), "6 120 300"));
    //  An earlier id of wave 1 (the log part) still comes first in it
    CHECK (store_msisdn_add (store, a, 1, 4, false, err) == 0);
    CHECK (store_wave_msisdn_get (store, 1, a, &first, err) == 0 && first == 4);
    //  Aborted: the sweep and the adds are undone, in memory too
    store_abort (store);
    CHECK (store_numbers_recent (store) == 43);
    CHECK (store_begin (store, err) == 0);
    CHECK (store_wave_msisdn_get (store, 1, a, &first, err) == 0 && first == 5);
    CHECK (streq (s_ids (store, b, ids, sizeof (ids)), "6"));
    //  Swept whole: folded, then cleared from the log, except what came
    //  after it started
    CHECK (store_numbers_fold (store, 5, true, NULL, NULL, &moved, err) == 0 && moved == 5);
    CHECK (store_msisdn_add (store, b, 5, 300, false, err) == 0);
    for (int step = 0; step < 100 && store_numbers_recent (store) > 1; step++)
        CHECK (store_numbers_fold (store, 5, true, NULL, NULL, &moved, err) == 0);
    CHECK (store_numbers_recent (store) == 1);
    CHECK (streq (s_ids (store, b, ids, sizeof (ids)), "6 300"));
    CHECK (streq (s_ids (store, a, ids, sizeof (ids)), "5 7"));
    CHECK (streq (s_ids (store, "13700000039", ids, sizeof (ids)), "117"));
    CHECK (store_commit (store, err) == 0);
    store_destroy (&store);
    CHECK (s_raw_count (dir, "msisdn") == 43);       //  all but 300
    CHECK (s_raw_count (dir, "msisdn_new") == 1);

    store = s_open (dir, 0, err);
    CHECK (store);
    if (!store)
        goto done;
    CHECK (store_numbers_recent (store) == 1);
    CHECK (store_begin (store, err) == 0);
    CHECK (streq (s_ids (store, b, ids, sizeof (ids)), "6 300"));
    //  Added in bulk, or a number that does not pack: straight into the
    //  B-tree, the log is not used
    CHECK (store_msisdn_add (store, b, 6, 301, true, err) == 0);
    CHECK (store_msisdn_add (store, "139-0013", 6, 302, false, err) == 0);
    CHECK (store_numbers_recent (store) == 1);
    CHECK (streq (s_ids (store, b, ids, sizeof (ids)), "6 300 301"));
    CHECK (streq (s_ids (store, "139-0013", ids, sizeof (ids)), "302"));
    CHECK (store_commit (store, err) == 0);
    //  A number too long for the log is refused with a message, not cut
    CHECK (store_begin (store, err) == 0);
    char huge [100];
    memset (huge, '1', sizeof (huge) - 1);
    huge [sizeof (huge) - 1] = 0;
    CHECK (store_msisdn_add (store, huge, 3, 200, false, err) == WOB_ERR_INVALID);
    CHECK_ERR (err, "99 characters");
    store_abort (store);
    store_destroy (&store);
done:
    testutil_end ();
}

//  --- Main -----------------------------------------------------------------

int
main (void)
{
    testutil_init ("test_store");
    if (!testutil_mkdtemp ())
        return 1;
    test_put_and_reopen ();
    test_abort ();
    test_history ();
    test_contacts ();
    test_queue ();
    test_routes_and_held ();
    test_timers ();
    test_indexes ();
    test_leases ();
    test_waves_and_stats ();
    test_counts_packed_and_upgraded ();
    test_channels ();
    test_channel_after_abort ();
    test_not_a_directory ();
    test_garbage_file ();
    test_foreign_lmdb ();
    test_map_full ();
    test_leased_cache ();
    test_number_reads ();
    test_number_fold ();

    return testutil_finish ();
}
