/*  rulebook.h - the coordination rules in force (SPEC §4), as read from the
    broker's rule file.

    A rulebook is immutable once loaded: a reload builds a new one and the
    broker swaps it in only if it is valid, so a bad file never replaces good
    rules and nothing decided under the old rules is decided again.  Every
    rule has a name; that name is what an order's history records when the
    rule filters, defers or changes it.                                   */

#ifndef RULEBOOK_H_INCLUDED
#define RULEBOOK_H_INCLUDED

#include "wob.h"

#define RULEBOOK_MAX_CHANNELS 16

//  Contact-frequency cap: at most `max` contacts per customer per window,
//  on one channel or (channel "") on all channels together.
typedef struct {
    char *name;                 //  e.g. "cap-overall-7d"
    char *channel;              //  "" = all channels
    uint32_t max;               //  contacts allowed in the window
    int64_t window_ms;          //  sliding window
} rule_cap_t;

//  Quiet hours of one channel: no contact in [from, to) local time, which
//  may wrap midnight ("21:00-08:00").
typedef struct {
    char *channel;              //  channel the quiet hours apply to
    int from_min;               //  start, minutes after local midnight
    int to_min;                 //  end (excluded); below from_min = wraps midnight
    int utc_offset_min;         //  local time = UTC + offset
} rule_quiet_t;

//  Cross-channel absorption for merge: an order in `from` is folded into the
//  same customer's open order in `into` ("call > sms": into call, from sms).
typedef struct {
    char *into;                 //  channel whose open order absorbs
    char *from;                 //  channel whose new order is folded in
} rule_absorb_t;

//  Throttle of one channel (0 = unlimited).
typedef struct {
    char *channel;              //  channel the limits apply to
    double per_second;          //  whole channel
    double per_worker_per_second;   //  each worker of the channel
} rule_throttle_t;

//  How orders of a channel are shared among its workers (SPEC §5).
typedef enum {
    RULE_EVEN = 0,              //  least outstanding work relative to capacity
    RULE_RANGE = 1,             //  the owner of the order's number range / prefix
    RULE_ADDRESS = 2            //  the owner of the longest matching region
} rule_strategy_t;

//  Distribution of one channel.
typedef struct {
    char *channel;              //  channel the settings apply to
    rule_strategy_t strategy;   //  default strategy (a wave may override)
    bool spill;                 //  orphans spill to any worker after spill_after
    int64_t spill_after_ms;     //  how long an orphan is held before it spills
    bool overlap;               //  two live workers may own overlapping ranges
} rule_distribution_t;

typedef struct {
    char *path;                 //  file it came from ("" for defaults)
    char *text;                 //  the file's text, for "rules show"
    //  Filters
    bool suppression;           //  honour the do-not-disturb list
    bool duplicate;             //  same number twice in a wave
    bool open_offer;            //  customer already holds an open order for the offer
    bool number_check;          //  validate numbers (below)
    uint32_t number_min_len;    //  digits, after an optional + / country code strip
    uint32_t number_max_len;
    char **number_prefixes;     //  allowed carrier prefixes (none = any)
    size_t n_number_prefixes;   //  entries in number_prefixes
    rule_cap_t *caps;           //  frequency caps, in file order
    size_t n_caps;              //  entries in caps
    //  Quiet hours
    rule_quiet_t *quiet;        //  at most one per channel
    size_t n_quiet;             //  entries in quiet
    //  Merge
    bool merge;                 //  merge same-channel open orders
    int64_t merge_window_ms;    //  how far apart orders may be to merge
    rule_absorb_t *absorb;      //  cross-channel absorption, one per from
    size_t n_absorb;            //  entries in absorb
    //  Cross-channel
    uint32_t fallback_triggers; //  bit per Wob__Outcome that moves an order
    uint32_t fallback_after;    //  attempts with a trigger outcome before transfer
    uint32_t success_outcomes;  //  bit per Wob__Outcome that cancels siblings
    //  Throttling
    rule_throttle_t *throttle;  //  at most one per channel
    size_t n_throttle;          //  entries in throttle
    //  Distribution inside channels
    rule_distribution_t *distribution;  //  at most one per channel
    size_t n_distribution;      //  entries in distribution
    //  Control group default share (0..1) when a wave names none
    double control_share;
} rulebook_t;

//  The built-in rules (used when the broker has no rule file); path is ""
//  and text is a rule file giving the same rules.  NULL only on OOM.
rulebook_t *rulebook_default (void);

//  Loads and validates a rule file (YAML or JSON, at most 1 MiB; the
//  format is described in rulebook.c).  Channel names are checked against
//  `channels` (NULL-terminated; NULL itself accepts any well-formed name).
//  NULL with err (WOB_ERRLEN bytes, may be NULL) naming the file, line and
//  key on any problem.  The caller owns the result.
rulebook_t *rulebook_load (const char *path, const char **channels, char *err);

//  Parses rule text (for fuzzing and tests); path is used in messages.
//  text need not end in a NUL: size bytes are read and copied.
rulebook_t *rulebook_parse (const char *text, size_t size, const char *path,
                            const char **channels, char *err);

//  Frees a rulebook and everything it points to; nulls *self_p.  Safe on
//  NULL and on an already destroyed rulebook.
void rulebook_destroy (rulebook_t **self_p);

//  Lookups used on the hot path (linear: rulebooks are small).  Results
//  point into the rulebook and live as long as it does.
const rule_quiet_t *rulebook_quiet (const rulebook_t *self, const char *channel);
const rule_throttle_t *rulebook_throttle (const rulebook_t *self, const char *channel);
//  Distribution of a channel; channels the file leaves out get the
//  defaults (even, orphans held, no overlap).
const rule_distribution_t *rulebook_distribution (const rulebook_t *self,
                                                  const char *channel);
//  "even", "range", "address" -> strategy; -1 for anything else.
int rulebook_strategy (const char *name);
const char *rulebook_strategy_name (rule_strategy_t strategy);
//  The channel an order in `channel` is absorbed into, or NULL.
const char *rulebook_absorbed_into (const rulebook_t *self, const char *channel);

//  Parses a duration: a whole number and a unit, "500ms", "90s", "15m",
//  "72h", "7d" (so "0s" is 0); -1 for anything else: sign, spaces, no
//  unit, empty, NULL, or more milliseconds than an int64_t holds.
int64_t rulebook_duration (const char *text);

#endif
