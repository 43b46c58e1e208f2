/*  control.c - what happens to a whole wave: pause, resume, cancel, and the
    end of its window.

    The wave's state changes at once and durably, and that alone stops its
    undispatched orders (dispatch only looks at open waves).  Then a pass
    over the wave's orders, a bounded number per turn and resumed after a
    restart (its position is stored in the wave), records the change in
    each order: a history note for pause and resume, CANCELLED or EXPIRED
    for cancel and window end.  Leased orders finish unless a cancel asks
    for them back (recall); one that comes back to a closed wave closes
    instead of queueing again (control_closed).                          */

#include "broker.h"

#define SWEEP_BUDGET 2000       //  orders visited per turn, all waves together

typedef enum {
    SWEEP_NONE = 0,
    SWEEP_EXPIRE = 1,           //  window ended: open orders expire
    SWEEP_CANCEL = 2,           //  wave cancelled: open orders are cancelled
    SWEEP_PAUSED = 3,           //  note "wave paused" in open orders
    SWEEP_RESUMED = 4           //  note "wave resumed"
} sweep_t;

int
control_closed (broker_t *self, uint32_t wave_seq)
{
    wave_t *wave = broker_wave_by_seq (self, wave_seq);
    if (!wave)
        return 0;
    Wob__Wave *w = wave->wave;
    if (w->state == WOB__WAVE_STATE__WAVE_CANCELLED)
        return WOB__STATE__STATE_CANCELLED;
    if (w->end_ms && w->end_ms <= self->now)
        return WOB__STATE__STATE_EXPIRED;
    return 0;
}

static void
s_start_sweep (Wob__Wave *w, sweep_t sweep, const char *actor, bool recall)
{
    w->sweep = sweep;
    w->sweep_after = 0;
    w->sweep_recall = recall;
    wob_str_set (&w->sweep_actor, actor);
}

void
control_wave (broker_t *self, Wob__WaveControl *msg)
{
    char err [WOB_ERRLEN];
    wave_t *wave = broker_wave (self, msg->wave);
    if (!wave) {
        broker_error (self, WOB__ERROR_CODE__ERR_NOT_FOUND, "wave '%.64s' does not exist",
                      msg->wave);
        return;
    }
    Wob__Wave *w = wave->wave;
    if (self->peer && self->peer->role == AUTH_CAMPAIGN && !streq (w->submitted_by, self->peer->name)) {
        broker_error (self, WOB__ERROR_CODE__ERR_FORBIDDEN, "wave '%s' was submitted by '%s': "
                      "campaign key '%s' may only pause, resume or cancel its own waves",
                      w->id, *w->submitted_by? w->submitted_by: "(plain mode)", self->peer->name);
        return;
    }
    const char *actor = *msg->actor? msg->actor: "wobctl";
    int from = w->state;
    bool closed = from == WOB__WAVE_STATE__WAVE_CANCELLED || from == WOB__WAVE_STATE__WAVE_ENDED;
    const char *verb = msg->action == WOB__WAVE_CONTROL__ACTION__PAUSE? "pause":
                       msg->action == WOB__WAVE_CONTROL__ACTION__RESUME? "resume": "cancel";
    if (closed) {
        broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "%s: wave '%s' is already %s",
                      verb, w->id, wob_wave_state_name (from));
        return;
    }
    if (msg->action == WOB__WAVE_CONTROL__ACTION__PAUSE) {
        if (from != WOB__WAVE_STATE__WAVE_OPEN) {
            broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "pause: wave '%s' is %s, not open",
                          w->id, wob_wave_state_name (from));
            return;
        }
        w->state = WOB__WAVE_STATE__WAVE_PAUSED;
        broker_waves_changed (self);
        s_start_sweep (w, SWEEP_PAUSED, actor, false);
    }
    else
    if (msg->action == WOB__WAVE_CONTROL__ACTION__RESUME) {
        if (from != WOB__WAVE_STATE__WAVE_PAUSED) {
            broker_error (self, WOB__ERROR_CODE__ERR_CONFLICT, "resume: wave '%s' is %s, not "
                          "paused", w->id, wob_wave_state_name (from));
            return;
        }
        w->state = WOB__WAVE_STATE__WAVE_OPEN;
        broker_waves_changed (self);
        for (uint8_t c = 0; c < BROKER_MAX_CHANNELS; c++)
            dispatch_wave_queued (self, wave, c);
        routes_wake (self);
        s_start_sweep (w, SWEEP_RESUMED, actor, false);
    }
    else {
        w->state = WOB__WAVE_STATE__WAVE_CANCELLED;
        broker_waves_changed (self);
        s_start_sweep (w, SWEEP_CANCEL, actor, msg->recall);
    }
    if (store_wave_put (self->store, w, err)) {
        broker_error (self, WOB__ERROR_CODE__ERR_STORE, "%s: %s", verb, err);
        return;
    }
    zsys_info ("wave %s: %s by %s (was %s)%s", w->id, verb, actor, wob_wave_state_name (from),
               msg->recall? ", leased orders recalled": "");
    Wob__StatusQuery query = WOB__STATUS_QUERY__INIT;
    query.wave = w->id;
    query_status (self, &query);                    //  the reply: the wave's status
}

//  What the pass does to one order.
static int
s_visit (broker_t *self, Wob__Wave *w, Wob__Order *order, char *err)
{
    if (lifecycle_is_final (order->state))
        return 0;
    bool leased = order->state == WOB__STATE__STATE_DISPATCHED;
    char reason [160];
    switch (w->sweep) {
        case SWEEP_EXPIRE:
            if (leased)
                return 0;           //  expires when its lease ends (leases.c)
            return lifecycle_move (self, order, WOB__STATE__STATE_EXPIRED, "broker",
                                   "wave window ended", err);
        case SWEEP_CANCEL:
            if (leased && !w->sweep_recall)
                return 0;           //  finishes; comes back cancelled if it returns
            if (leased)
                leases_forget (self, order);
            snprintf (reason, sizeof (reason), "wave cancelled by %s%s", w->sweep_actor,
                      leased? " (lease recalled)": "");
            rules_count (self, order->wave_seq, "cancelled", "wave_cancelled");
            return lifecycle_move (self, order, WOB__STATE__STATE_CANCELLED, w->sweep_actor,
                                   reason, err);
        case SWEEP_PAUSED:
        case SWEEP_RESUMED:
            if (leased)
                return 0;
            snprintf (reason, sizeof (reason), "wave %s by %s",
                      w->sweep == SWEEP_PAUSED? "paused": "resumed", w->sweep_actor);
            return lifecycle_note (self, order, w->sweep_actor, reason, err);
        default:
            return 0;
    }
}

//  Carries a wave's pass on by up to *budget orders.
static int
s_sweep_wave (broker_t *self, Wob__Wave *w, size_t *budget, char *err)
{
    int rc = 0;
    while (*budget > 0 && !rc) {
        uint64_t id;
        if ((rc = store_wave_order_next (self->store, w->seq, w->sweep_after, &id, err)))
            break;
        if (id == 0) {
            if (w->sweep == SWEEP_EXPIRE)
                w->swept = true;
            w->sweep = SWEEP_NONE;
            break;
        }
        w->sweep_after = id;
        (*budget)--;
        Wob__Order *order;
        if ((rc = store_order_get (self->store, id, &order, err)))
            break;
        rc = s_visit (self, w, order, err);
        wob__order__free_unpacked (order, NULL);
    }
    //  The position is durable with the orders it covers.
    return rc? rc: store_wave_put (self->store, w, err);
}

int
control_sweep (broker_t *self, char *err)
{
    size_t budget = SWEEP_BUDGET;
    for (wave_t *wave = zhashx_first (self->waves); wave && budget;
         wave = zhashx_next (self->waves)) {
        Wob__Wave *w = wave->wave;
        bool open = w->state == WOB__WAVE_STATE__WAVE_OPEN || w->state == WOB__WAVE_STATE__WAVE_PAUSED;
        if (open && w->end_ms && w->end_ms <= self->now && !w->swept) {
            zsys_info ("wave %s: window ended, expiring open orders", w->id);
            w->state = WOB__WAVE_STATE__WAVE_ENDED;
            broker_waves_changed (self);
            s_start_sweep (w, SWEEP_EXPIRE, "broker", false);
        }
        if (w->sweep != SWEEP_NONE && s_sweep_wave (self, w, &budget, err))
            return WOB_ERR_STORE;
    }
    return 0;
}
