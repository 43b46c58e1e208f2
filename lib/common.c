/*  common.c - the small things every wob program shares: the error space,
    the names of states and outcomes, time formatting and UTF-8 checks.    */

#include "wob.h"
#include <stdarg.h>
#include <time.h>

const char *
wob_strerror (int err)
{
    switch (err) {
        case WOB_OK:              return "success";
        case WOB_ERR_INVALID:     return "invalid input";
        case WOB_ERR_UNREACHABLE: return "broker unreachable";
        case WOB_ERR_REFUSED:     return "refused by broker";
        case WOB_ERR_STORE:       return "storage error";
        case WOB_ERR_NOMEM:       return "out of memory";
        case WOB_ERR_IO:          return "I/O error";
        case WOB_ERR_DECODE:      return "undecodable message";
        case WOB_ERR_NOT_FOUND:   return "not found";
        default:                  return "unknown error";
    }
}

int
wob_fail (char *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (err, WOB_ERRLEN, fmt, ap);
        va_end (ap);
    }
    return code;
}

//  Indexed by the proto enum values; lowercase as users type them.
static const char *s_states [] = {
    "none", "received", "filtered", "merged", "queued", "deferred",
    "dispatched", "done", "retry", "transferred", "expired", "cancelled",
    "failed", "held", "control"
};
static const char *s_outcomes [] = {
    "none", "delivered", "accepted", "interested", "declined", "unreachable",
    "wrong_number", "callback", "failed", "undelivered"
};
static const char *s_wave_states [] = {
    "none", "loading", "committing", "open", "paused", "cancelled", "ended"
};
static const char *s_errcodes [] = {
    "ok", "version", "decode", "unknown-command", "too-big", "invalid",
    "not-found", "conflict", "not-holder", "store", "session", "exists",
    "forbidden", "busy"
};

#define S_COUNT(a) ((int) (sizeof (a) / sizeof ((a) [0])))

static const char *
s_name (const char **names, int count, int value)
{
    return value >= 0 && value < count? names [value]: "unknown";
}

static int
s_lookup (const char **names, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (streq (names [i], name))
            return i;
    return -1;
}

const char *wob_state_name (int s) { return s_name (s_states, S_COUNT (s_states), s); }
int wob_state_from_name (const char *n) { return s_lookup (s_states, S_COUNT (s_states), n); }
const char *wob_outcome_name (int o) { return s_name (s_outcomes, S_COUNT (s_outcomes), o); }
int wob_outcome_from_name (const char *n) { return s_lookup (s_outcomes, S_COUNT (s_outcomes), n); }
const char *wob_wave_state_name (int s) { return s_name (s_wave_states, S_COUNT (s_wave_states), s); }
const char *wob_errcode_name (int c) { return s_name (s_errcodes, S_COUNT (s_errcodes), c); }

int64_t
wob_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
wob_format_time (int64_t ms, char *buf, size_t size)
{
    if (ms <= 0) {
        snprintf (buf, size, "-");
        return buf;
    }
    //  History reasons name times on every transition, mostly the same
    //  second over and over: format each second once (per thread)
    static __thread time_t last_secs = -1;
    static __thread char last_text [32];
    time_t secs = (time_t) (ms / 1000);
    if (secs != last_secs) {
        struct tm tm;
        localtime_r (&secs, &tm);
        strftime (last_text, sizeof (last_text), "%Y-%m-%d %H:%M:%S", &tm);
        last_secs = secs;
    }
    size_t len = 0;
    if (size)
        wob_append (buf, size, &len, last_text);
    return buf;
}

//  Reads exactly n digits at *p into *value, advancing *p.
static bool
s_digits (const char **p, int n, int *value)
{
    *value = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit ((unsigned char) (*p) [i]))
            return false;
        *value = *value * 10 + ((*p) [i] - '0');
    }
    *p += n;
    return true;
}

int
wob_parse_time (const char *text, int64_t *ms)
{
    if (!text || !*text)
        return -1;
    //  Epoch seconds
    size_t len = strlen (text);
    if (len > 8 && strspn (text, "0123456789") == len) {
        //  Up to the year 3000: anything later is a typo, and would overflow.
        if (len > 11)
            return -1;
        long long secs = strtoll (text, NULL, 10);
        if (secs > 32503680000LL)
            return -1;
        *ms = secs * 1000;
        return 0;
    }
    const char *p = text;
    int year, mon, day, hour = 0, min = 0, sec = 0;
    if (!s_digits (&p, 4, &year) || *p++ != '-' || !s_digits (&p, 2, &mon)
    ||  *p++ != '-' || !s_digits (&p, 2, &day))
        return -1;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!s_digits (&p, 2, &hour) || *p++ != ':' || !s_digits (&p, 2, &min))
            return -1;
        if (*p == ':' && (p++, !s_digits (&p, 2, &sec)))
            return -1;
    }
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59)
        return -1;
    struct tm tm = { 0 };
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    //  Impossible dates (February 31st) come back normalised: refuse them.
    struct tm check = tm;
    time_t utc = timegm (&check);
    if (check.tm_mday != day || check.tm_mon != mon - 1)
        return -1;
    time_t t;
    if (*p == 0) {
        tm.tm_isdst = -1;
        t = mktime (&tm);                   //  no offset: local time
    }
    else
    if (*p == 'Z' && p [1] == 0)
        t = utc;
    else
    if (*p == '+' || *p == '-') {
        int sign = *p++ == '+'? 1: -1, oh, om = 0;
        if (!s_digits (&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (*p && !s_digits (&p, 2, &om))
            return -1;
        if (*p || oh > 14 || om > 59)
            return -1;
        t = utc - sign * (oh * 3600L + om * 60L);
    }
    else
        return -1;
    *ms = (int64_t) t * 1000;
    return 0;
}

int64_t
wob_parse_duration (const char *text)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    int64_t value = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++) {
        int digit = *p - '0';
        if (value > (INT64_MAX - digit) / 10)
            return -1;
        value = value * 10 + digit;
    }
    int64_t unit = streq (p, "ms")? 1:
                   streq (p, "s")?  1000:
                   streq (p, "m")?  60 * 1000:
                   streq (p, "h")?  3600 * 1000:
                   streq (p, "d")?  86400 * 1000: 0;
    if (unit == 0 || value > INT64_MAX / unit)
        return -1;
    return value * unit;
}

bool
wob_utf8_valid (const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s;
    const unsigned char *end = p + len;
    while (p < end) {
        unsigned char c = *p;
        size_t n;
        uint32_t cp;
        if (c < 0x80) { p++; continue; }
        else if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
        else return false;
        if ((size_t) (end - p) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p [i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p [i] & 0x3F);
        }
        //  Overlong forms, surrogates and out-of-range code points
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
        ||  (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return false;
        p += n + 1;
    }
    return true;
}

void
wob_append (char *out, size_t size, size_t *len, const char *text)
{
    if (!size || *len >= size)
        return;                 //  no room, not even for the terminator
    size_t n = strlen (text);
    if (n > size - 1 - *len)
        n = size - 1 - *len;
    memcpy (out + *len, text, n);
    *len += n;
    out [*len] = 0;
}

void
wob_append_u64 (char *out, size_t size, size_t *len, uint64_t n)
{
    char digits [24], *p = digits + sizeof (digits);
    *--p = 0;
    do
        *--p = (char) ('0' + n % 10);
    while (n /= 10);
    wob_append (out, size, len, p);
}

void
wob_str_set (char **field, const char *value)
{
    if (*field && *field != protobuf_c_empty_string)
        free (*field);
    *field = strdup (value? value: "");
}

void
wob_str_free (char **field)
{
    if (*field && *field != protobuf_c_empty_string)
        free (*field);
    *field = (char *) protobuf_c_empty_string;
}

static size_t
s_hash_id (const void *key)
{
    uint64_t x = (uint64_t) (uintptr_t) key;    //  splitmix64 finaliser
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    return (size_t) (x ^ (x >> 33));
}

static int
s_compare_id (const void *a, const void *b)
{
    return a < b? -1: a > b? 1: 0;
}

zhashx_t *
wob_idmap_new (zhashx_destructor_fn *destructor)
{
    zhashx_t *map = zhashx_new ();
    if (!map)
        return NULL;
    zhashx_set_key_hasher (map, s_hash_id);
    zhashx_set_key_comparator (map, s_compare_id);
    zhashx_set_key_duplicator (map, NULL);
    zhashx_set_key_destructor (map, NULL);
    if (destructor)
        zhashx_set_destructor (map, destructor);
    return map;
}
