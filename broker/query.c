/*  query.c - read-only questions: an order, a phone number, a wave.

    Answers come from the store inside the group's transaction; wave counts
    come from the running aggregates, so asking about a million-order wave
    costs the same as asking about a small one.                         */

#include "broker.h"

#define QUERY_MAX_ORDERS 200    //  orders returned for one number

static void
s_orders (broker_t *self, uint64_t *ids, size_t count)
{
    char err [WOB_ERRLEN];
    Wob__OrderList *list = calloc (1, sizeof (*list));
    wob__order_list__init (list);
    list->orders = calloc (count + 1, sizeof (Wob__Order *));
    for (size_t i = 0; i < count; i++) {
        Wob__Order *order;
        int rc = store_order_get (self->store, ids [i], &order, err);
        if (rc == 0)
            rc = store_history_load (self->store, order, err);
        if (rc) {
            wob__order_list__free_unpacked (list, NULL);
            broker_error (self, rc == WOB_ERR_NOT_FOUND? WOB__ERROR_CODE__ERR_NOT_FOUND:
                          WOB__ERROR_CODE__ERR_STORE, "status: %s", err);
            return;
        }
        list->orders [list->n_orders++] = order;
    }
    broker_respond (self, WOB__ENVELOPE__BODY_ORDER_LIST, list);
}

//  Every state and outcome is listed, zero or not, so readers need no
//  defaults.
static void
s_counts (const uint64_t *states, const uint64_t *outcomes, Wob__Count ***by_state,
          size_t *n_state, Wob__Count ***by_outcome, size_t *n_outcome)
{
    *by_state = calloc (16, sizeof (Wob__Count *));
    *by_outcome = calloc (16, sizeof (Wob__Count *));
    for (int s = 1; s <= WOB__STATE__STATE_CONTROL; s++)
        (*by_state) [(*n_state)++] = wob_count_new (wob_state_name (s), states [s]);
    for (int o = 1; o <= WOB__OUTCOME__OUTCOME_UNDELIVERED; o++)
        (*by_outcome) [(*n_outcome)++] = wob_count_new (wob_outcome_name (o), outcomes [o]);
}

static void
s_wave (broker_t *self, const char *wave_id)
{
    wave_t *wave = broker_wave (self, wave_id);
    if (!wave) {
        broker_error (self, WOB__ERROR_CODE__ERR_NOT_FOUND, "status: wave '%.64s' does not "
                      "exist", wave_id);
        return;
    }
    Wob__WaveStatus *status = calloc (1, sizeof (*status));
    wob__wave_status__init (status);
    size_t size = wob__wave__get_packed_size (wave->wave);
    uint8_t *buf = malloc (size);
    wob__wave__pack (wave->wave, buf);
    status->wave = wob__wave__unpack (NULL, size, buf);
    free (buf);
    store_stats_t *st = &wave->stats;
    s_counts (st->by_state, st->by_outcome, &status->by_state, &status->n_by_state,
              &status->by_outcome, &status->n_by_outcome);
    status->channels = calloc (BROKER_MAX_CHANNELS, sizeof (Wob__ChannelStatus *));
    for (int c = 0; c < BROKER_MAX_CHANNELS; c++) {
        uint64_t orders = 0;
        for (int s = 0; s < 16; s++)
            orders += st->channel_state [c][s];
        status->contacted += st->contacted [c];
        if (!orders)
            continue;
        Wob__ChannelStatus *cs = calloc (1, sizeof (*cs));
        wob__channel_status__init (cs);
        cs->channel = strdup (c? store_channel_name (self->store, (uint8_t) c): "");
        cs->contacted = st->contacted [c];
        s_counts (st->channel_state [c], st->channel_outcome [c], &cs->by_state,
                  &cs->n_by_state, &cs->by_outcome, &cs->n_by_outcome);
        status->channels [status->n_channels++] = cs;
    }
    status->by_channel = calloc (BROKER_MAX_CHANNELS, sizeof (Wob__Count *));
    size_t rules = wave->rule_counts? zhashx_size (wave->rule_counts): 0;
    status->by_rule = calloc (rules + 1, sizeof (Wob__Count *));
    for (uint64_t *count = rules? zhashx_first (wave->rule_counts): NULL; count;
         count = zhashx_next (wave->rule_counts))
        status->by_rule [status->n_by_rule++] =
            wob_count_new (zhashx_cursor (wave->rule_counts), *count);
    for (int c = 1; c < BROKER_MAX_CHANNELS; c++)
        if (wave->stats.by_channel [c])
            status->by_channel [status->n_by_channel++] =
                wob_count_new (store_channel_name (self->store, (uint8_t) c), wave->stats.by_channel [c]);
    broker_respond (self, WOB__ENVELOPE__BODY_WAVE_STATUS, status);
}

void
query_status (broker_t *self, Wob__StatusQuery *msg)
{
    char err [WOB_ERRLEN];
    if (*msg->wave)
        s_wave (self, msg->wave);
    else
    if (*msg->msisdn) {
        uint64_t *ids;
        size_t count;
        if (store_msisdn_list (self->store, msg->msisdn, &ids, &count, err)) {
            broker_error (self, WOB__ERROR_CODE__ERR_STORE, "status: %s", err);
            return;
        }
        //  The newest orders when a number has very many.
        size_t skip = count > QUERY_MAX_ORDERS? count - QUERY_MAX_ORDERS: 0;
        s_orders (self, ids + skip, count - skip);
        free (ids);
    }
    else
    if (msg->order_id)
        s_orders (self, &msg->order_id, 1);
    else
        broker_error (self, WOB__ERROR_CODE__ERR_INVALID, "status: give an order id, a number "
                      "or a wave");
}
