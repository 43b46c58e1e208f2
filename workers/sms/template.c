/*  template.c - renders a wave's SMS template for one customer.

    A template is UTF-8 text with {field} placeholders, for example
    "{name}，您好！您的专属优惠 {offer} 已到账".  The fields are the target's
    own (name, msisdn, city ...) and the extra CSV columns the wave carried
    (Target.extra), so a campaign can add columns without touching wob.  A
    placeholder that names no field is an error for that order, reported
    as "template: unknown field {foo}", never a half-rendered message.

    sms_measure tells the gateway module how the text travels: GSM 7-bit
    when every character is in the GSM default alphabet's ASCII part,
    otherwise UCS-2, and how many SMS parts it takes, so an over-long text
    is refused here rather than truncated by the gateway.                */

#include "sms.h"
#include "wob_targets.h"

#define S_MAX_FIELD 64          //  longest placeholder name

//  The value of field name[0..len) for target, or NULL if there is none.
//  Numbers and the offer list are formatted into tmp.
static const char *
s_field (const Wob__Target *target, const char *name, size_t len, char *tmp, size_t size)
{
    char key [S_MAX_FIELD + 1];
    if (len == 0 || len > S_MAX_FIELD)
        return NULL;
    memcpy (key, name, len);
    key [len] = 0;
    return wob_target_field (target, key, tmp, size);
}

char *
sms_render (const char *tmpl, const Wob__Target *target, char *err)
{
    if (!tmpl || !*tmpl) {
        wob_fail (err, WOB_ERR_INVALID, "template: the wave has no sms_template");
        return NULL;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out) {
        wob_fail (err, WOB_ERR_NOMEM, "template: out of memory");
        return NULL;
    }
    const char *p = tmpl;
    while (*p) {
        if ((p [0] == '{' && p [1] == '{') || (p [0] == '}' && p [1] == '}')) {
            fputc (*p, out);
            p += 2;
            continue;
        }
        if (*p != '{') {
            fputc (*p++, out);
            continue;
        }
        const char *close = strchr (p + 1, '}');
        const char *open = strchr (p + 1, '{');
        if (!close || (open && open < close)) {
            wob_fail (err, WOB_ERR_INVALID, "template: '{' at byte %zu is not closed",
                      (size_t) (p - tmpl) + 1);
            goto fail;
        }
        const char *name = p + 1, *end = close;
        while (name < end && *name == ' ')
            name++;
        while (end > name && end [-1] == ' ')
            end--;
        char tmp [256];
        const char *value = s_field (target, name, (size_t) (end - name), tmp, sizeof (tmp));
        if (!value) {
            wob_fail (err, WOB_ERR_INVALID, "template: unknown field {%.*s}",
                      (int) ((end - name) > S_MAX_FIELD? S_MAX_FIELD: end - name), name);
            goto fail;
        }
        fputs (value, out);
        p = close + 1;
    }
    if (fclose (out) || !text) {
        free (text);
        wob_fail (err, WOB_ERR_NOMEM, "template: out of memory");
        return NULL;
    }
    if (!wob_utf8_valid (text, size)) {
        free (text);
        wob_fail (err, WOB_ERR_INVALID, "template: rendered text is not valid UTF-8");
        return NULL;
    }
    return text;
fail:
    fclose (out);
    free (text);
    return NULL;
}

int
sms_measure (const char *text, bool *ucs2, size_t *parts)
{
    size_t len = strlen (text);
    if (!wob_utf8_valid (text, len))
        return -1;
    size_t septets = 0, units = 0;
    *ucs2 = false;
    for (const unsigned char *p = (const unsigned char *) text; *p; ) {
        if (*p < 0x80) {
            //  GSM 03.38 has all printable ASCII but the backtick; these
            //  take an escape septet each.
            if (*p == '`' || (*p < 0x20 && *p != '\n' && *p != '\r'))
                *ucs2 = true;
            septets += strchr ("^{}\\[~]|", *p)? 2: 1;
            units++;
            p++;
            continue;
        }
        *ucs2 = true;
        size_t n = *p >= 0xF0? 4: *p >= 0xE0? 3: 2;
        units += n == 4? 2: 1;          //  outside the BMP: a surrogate pair
        p += n;
    }
    if (*ucs2)
        *parts = units <= 70? 1: (units + 66) / 67;
    else
        *parts = septets <= 160? 1: (septets + 152) / 153;
    return 0;
}
