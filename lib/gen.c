/*  gen.c - synthetic target files for tests, benchmarks and demos.

    wob_gen_write writes a target CSV that looks like a Chinese operator's
    campaign extract: real carrier number prefixes, Chinese names, provinces
    with their cities and districts, log-normal ARPU, segments, lifecycles,
    preferred channels and offers that follow the customer's profile.  A few
    names hold a comma (two account holders) or a quoted nickname so the
    file exercises CSV quoting.

    The output depends only on count and seed: the generator has its own
    PRNG (splitmix64) and uses no floating-point library functions, so the
    same seed gives the same bytes on every machine.  Phone numbers are
    unique within a file: row i gets number P(i), where P is a keyed
    permutation (a 4-round Feistel network with cycle walking) of the whole
    number space, 38 prefixes x 10^8 subscriber numbers, so up to 3.8
    billion rows never repeat a number.

    Rows are formatted by hand into one large buffer that is written with
    fwrite; there is no per-row allocation.  A million rows take well under
    a second.                                                              */

#include "wob_targets.h"
#include <errno.h>

#define S_OUTSIZE   (1024 * 1024)       //  output buffer
#define S_ROWMAX    1024                //  far above the longest row

//  --- PRNG: splitmix64 -------------------------------------------------

typedef struct {
    uint64_t state;         //  advances by the golden gamma each draw
} s_rng_t;

static inline uint64_t
s_next (s_rng_t *rng)
{
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

//  Uniform integer in [0, n)
static inline uint32_t
s_below (s_rng_t *rng, uint32_t n)
{
    return (uint32_t) (((s_next (rng) >> 32) * (uint64_t) n) >> 32);
}

//  Uniform double in [0, 1)
static inline double
s_uniform (s_rng_t *rng)
{
    return (double) (s_next (rng) >> 11) * (1.0 / 9007199254740992.0);
}

//  Picks an index by integer weights summing to total
static inline int
s_weighted (s_rng_t *rng, const int *weights, int count, int total)
{
    int r = (int) s_below (rng, (uint32_t) total);
    for (int i = 0; i < count - 1; i++) {
        if (r < weights [i])
            return i;
        r -= weights [i];
    }
    return count - 1;
}

//  --- Tables ------------------------------------------------------------

//  China Mobile, China Unicom, China Telecom mobile prefixes
static const char *s_prefixes [] = {
    "134", "135", "136", "137", "138", "139", "147", "150", "151", "152",
    "157", "158", "159", "178", "182", "183", "184", "187", "188", "198",
    "130", "131", "132", "155", "156", "166", "175", "176", "185", "186",
    "133", "153", "173", "177", "180", "181", "189", "199"
};
#define S_PREFIXES  (sizeof (s_prefixes) / sizeof (s_prefixes [0]))
#define S_NUMBERS   ((uint64_t) S_PREFIXES * 100000000u)

static const char *s_surnames [] = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
    "马", "朱", "胡", "郭", "何", "林", "高", "罗", "郑", "梁", "谢", "宋",
    "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "潘",
    "袁", "蔡", "蒋", "余", "于", "杜", "叶", "程", "魏", "苏", "吕", "丁",
    "任", "卢", "姚", "沈", "钟", "姜", "崔", "谭", "陆", "范", "汪", "廖",
    "石", "金", "贾", "夏", "方", "邹", "熊", "白", "孟", "秦", "欧阳", "司马"
};
#define S_SURNAMES  (sizeof (s_surnames) / sizeof (s_surnames [0]))

static const char *s_given [] = {
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳",
    "杰", "娟", "涛", "明", "超", "霞", "平", "刚", "华", "建", "国", "红",
    "玲", "文", "辉", "鹏", "宇", "浩", "欣", "婷", "雪", "梅", "琳", "晨",
    "阳", "子", "轩", "怡", "佳", "俊", "峰", "斌", "波", "颖", "倩", "慧",
    "晶", "凯", "龙", "飞", "秀", "英", "兰", "志", "海", "云", "嘉", "思"
};
#define S_GIVEN     (sizeof (s_given) / sizeof (s_given [0]))

typedef struct {
    const char *name;           //  city name
    const char *districts [4];  //  NULL-terminated when fewer than 4
} s_city_t;

typedef struct {
    const char *name;           //  province name
    int weight;                 //  share of customers
    s_city_t cities [3];        //  name NULL when fewer than 3
} s_province_t;

static const s_province_t s_provinces [] = {
    { "广东", 18, {
        { "深圳", { "南山", "福田", "宝安", "龙岗" } },
        { "广州", { "天河", "越秀", "海珠", "白云" } },
        { "东莞", { "莞城", "南城", "长安" } } } },
    { "北京", 8, {
        { "北京", { "朝阳", "海淀", "东城", "西城" } } } },
    { "上海", 8, {
        { "上海", { "浦东", "徐汇", "静安", "闵行" } } } },
    { "浙江", 10, {
        { "杭州", { "西湖", "上城", "滨江", "余杭" } },
        { "宁波", { "海曙", "鄞州", "北仑" } },
        { "温州", { "鹿城", "瓯海" } } } },
    { "江苏", 11, {
        { "南京", { "鼓楼", "玄武", "江宁" } },
        { "苏州", { "姑苏", "吴中", "工业园区" } },
        { "无锡", { "梁溪", "滨湖" } } } },
    { "四川", 9, {
        { "成都", { "武侯", "锦江", "青羊", "高新" } },
        { "绵阳", { "涪城", "游仙" } } } },
    { "湖北", 7, {
        { "武汉", { "洪山", "江汉", "武昌", "汉阳" } },
        { "宜昌", { "西陵", "伍家岗" } } } },
    { "山东", 10, {
        { "济南", { "历下", "市中", "槐荫" } },
        { "青岛", { "市南", "市北", "崂山" } } } },
    { "河南", 9, {
        { "郑州", { "金水", "二七", "中原" } },
        { "洛阳", { "洛龙", "西工" } } } },
    { "福建", 6, {
        { "福州", { "鼓楼", "台江", "仓山" } },
        { "厦门", { "思明", "湖里", "集美" } } } },
    { "陕西", 4, {
        { "西安", { "雁塔", "碑林", "未央", "长安" } } } }
};
#define S_PROVINCES (sizeof (s_provinces) / sizeof (s_provinces [0]))
#define S_PROVINCE_TOTAL 100     //  sum of the weights above

//  ARPU quantiles of a log-normal (median 68, sigma 0.8) clamped to
//  10..800: s_arpu [i] at p = i / 64, the top 1/64 refined in s_arpu_tail.
static const double s_arpu [64] = {
    10.00, 12.14, 15.32, 17.79, 19.93, 21.87, 23.69, 25.42, 27.09, 28.72,
    30.31, 31.88, 33.44, 34.99, 36.54, 38.09, 39.64, 41.21, 42.79, 44.38,
    45.99, 47.63, 49.29, 50.98, 52.70, 54.45, 56.25, 58.08, 59.96, 61.89,
    63.87, 65.90, 68.00, 70.16, 72.40, 74.72, 77.12, 79.61, 82.21, 84.92,
    87.74, 90.70, 93.81, 97.08, 100.54, 104.19, 108.07, 112.21, 116.64, 121.40,
    126.55, 132.15, 138.27, 145.03, 152.55, 161.02, 170.68, 181.89, 195.18, 211.40,
    232.02, 259.89, 301.78, 380.93
};
static const double s_arpu_tail [17] = {
    380.93, 388.81, 397.33, 406.60, 416.75, 427.95, 440.40, 454.42, 470.39,
    488.88, 510.76, 537.39, 571.10, 616.43, 684.04, 760.00, 800.00
};
#define S_KEY_ACCOUNT_ARPU 300.0    //  at or above: a key account

static const char *s_segments [] = {
    "price_sensitive", "service_sensitive", "new_service_sensitive", "handset_sensitive"
};
static const int s_segment_weights [] = { 35, 30, 20, 15 };

enum { LC_ONBOARDING, LC_GROWTH, LC_STABLE, LC_DECLINE };
static const char *s_lifecycles [] = { "onboarding", "growth", "stable", "decline" };
static const int s_lifecycle_weights [] = { 0, 25, 45, 30 };    //  past 6 months

enum { CH_SMS, CH_CALL, CH_VISIT };
static const char *s_channels [] = { "sms", "call", "visit" };
static const int s_channel_mass [] = { 72, 23, 5 };
static const int s_channel_key [] = { 10, 20, 70 };

enum {
    OFR_5G_UP, OFR_FIBER, OFR_RETAIN_20, OFR_RETAIN_50, OFR_FAMILY, OFR_HANDSET,
    OFR_DATA_20G, OFR_IPTV, OFR_CLOUD, OFR_INTL_ROAM, OFR_COUNT
};
static const char *s_offers [] = {
    "OFR-5G-UP", "OFR-FIBER", "OFR-RETAIN-20", "OFR-RETAIN-50", "OFR-FAMILY",
    "OFR-HANDSET", "OFR-DATA-20G", "OFR-IPTV", "OFR-CLOUD", "OFR-INTL-ROAM"
};

//  Offers that fit each segment (by index into s_segments)
static const int s_segment_offers [4][3] = {
    { OFR_FAMILY, OFR_DATA_20G, OFR_RETAIN_20 },
    { OFR_FIBER, OFR_IPTV, OFR_5G_UP },
    { OFR_5G_UP, OFR_CLOUD, OFR_INTL_ROAM },
    { OFR_HANDSET, OFR_5G_UP, OFR_DATA_20G }
};

//  --- Formatting --------------------------------------------------------

static inline char *
s_put (char *o, const char *s)
{
    size_t len = strlen (s);
    memcpy (o, s, len);
    return o + len;
}

//  Writes v in decimal, at least width digits (zero padded)
static inline char *
s_put_uint (char *o, uint64_t v, int width)
{
    char tmp [24];
    int n = 0;
    do {
        tmp [n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        tmp [n++] = '0';
    while (n)
        *o++ = tmp [--n];
    return o;
}

//  --- Unique numbers ----------------------------------------------------

//  One permutation of [0, 2^32) keyed by four round keys
static inline uint32_t
s_feistel (uint32_t x, const uint32_t *keys)
{
    uint32_t left = x >> 16, right = x & 0xFFFF;
    for (int round = 0; round < 4; round++) {
        uint32_t f = (right * 0x9E3779B1u) ^ keys [round];
        f ^= f >> 15;
        f *= 0x85EBCA6Bu;
        f ^= f >> 13;
        uint32_t next = left ^ (f & 0xFFFF);
        left = right;
        right = next;
    }
    return (left << 16) | right;
}

//  Maps index (< S_NUMBERS) to a distinct number in [0, S_NUMBERS)
static inline uint64_t
s_number (uint64_t index, const uint32_t *keys)
{
    uint32_t x = (uint32_t) index;
    do
        x = s_feistel (x, keys);
    while (x >= S_NUMBERS);
    return x;
}

//  --- Rows --------------------------------------------------------------

static char *
s_put_name (char *o, s_rng_t *rng)
{
    const char *surname = s_surnames [s_below (rng, S_SURNAMES)];
    uint32_t shape = s_below (rng, 1000);
    bool one_char = s_below (rng, 10) < 3;
    const char *given1 = s_given [s_below (rng, S_GIVEN)];
    const char *given2 = s_given [s_below (rng, S_GIVEN)];
    if (shape < 8) {
        //  Two holders: a comma, so the field is quoted
        *o++ = '"';
        o = s_put (o, surname);
        o = s_put (o, given1);
        *o++ = ',';
        o = s_put (o, s_surnames [s_below (rng, S_SURNAMES)]);
        o = s_put (o, given2);
        *o++ = '"';
    }
    else
    if (shape < 10) {
        //  Nickname in quotes: escaped as ""
        *o++ = '"';
        o = s_put (o, surname);
        o = s_put (o, given1);
        o = s_put (o, " \"\"");
        o = s_put (o, given2);
        o = s_put (o, given2);
        o = s_put (o, "\"\"\"");
    }
    else {
        o = s_put (o, surname);
        o = s_put (o, given1);
        if (!one_char)
            o = s_put (o, given2);
    }
    return o;
}

static double
s_draw_arpu (s_rng_t *rng)
{
    double x = s_uniform (rng) * 64;
    int i = (int) x;
    double f = x - i;
    if (i < 63)
        return s_arpu [i] + f * (s_arpu [i + 1] - s_arpu [i]);
    double y = f * 16;
    int j = (int) y;
    double g = y - j;
    return s_arpu_tail [j] + g * (s_arpu_tail [j + 1] - s_arpu_tail [j]);
}

static char *
s_put_row (char *o, s_rng_t *rng, uint64_t index, const uint32_t *keys,
           uint64_t customer_base)
{
    //  msisdn
    uint64_t number = s_number (index, keys);
    o = s_put (o, s_prefixes [number / 100000000u]);
    o = s_put_uint (o, number % 100000000u, 8);
    //  customer_id: an affine bijection of the index modulo 10^10
    *o++ = ',';
    *o++ = 'C';
    o = s_put_uint (o, (index * 2654435761u + customer_base) % 10000000000ull, 10);
    *o++ = ',';
    o = s_put_name (o, rng);

    //  Region
    int p = 0;
    int r = (int) s_below (rng, S_PROVINCE_TOTAL);
    while (r >= s_provinces [p].weight && p < (int) S_PROVINCES - 1) {
        r -= s_provinces [p].weight;
        p++;
    }
    const s_province_t *province = &s_provinces [p];
    int ncities = 0;
    while (ncities < 3 && province->cities [ncities].name)
        ncities++;
    const s_city_t *city = &province->cities [s_below (rng, (uint32_t) ncities)];
    int ndistricts = 0;
    while (ndistricts < 4 && city->districts [ndistricts])
        ndistricts++;
    int d = (int) s_below (rng, (uint32_t) ndistricts);
    *o++ = ',';
    o = s_put (o, province->name);
    *o++ = ',';
    o = s_put (o, city->name);
    *o++ = ',';
    o = s_put (o, city->districts [d]);
    //  Grid: each district has three neighbouring grids of forty
    uint32_t grid = ((uint32_t) (p * 13 + (city - province->cities) * 5 + d) * 3
                     + s_below (rng, 3)) % 40 + 1;
    o = s_put (o, ",G");
    o = s_put_uint (o, grid, 3);

    //  ARPU and tenure
    double arpu = s_draw_arpu (rng);
    uint64_t cents = (uint64_t) (arpu * 100 + 0.5);
    bool key_account = arpu >= S_KEY_ACCOUNT_ARPU;
    *o++ = ',';
    o = s_put_uint (o, cents / 100, 1);
    *o++ = '.';
    o = s_put_uint (o, cents % 100, 2);
    double u = s_uniform (rng);
    uint32_t tenure = 1 + (uint32_t) (240 * u * (0.35 + 0.65 * u));
    if (tenure > 240)
        tenure = 240;
    *o++ = ',';
    o = s_put_uint (o, tenure, 1);

    //  Segment and lifecycle
    int segment = s_weighted (rng, s_segment_weights, 4, 100);
    int lifecycle = tenure <= 6 && s_below (rng, 10) < 8? LC_ONBOARDING
                  : s_weighted (rng, s_lifecycle_weights, 4, 100);
    *o++ = ',';
    o = s_put (o, s_segments [segment]);
    *o++ = ',';
    o = s_put (o, s_lifecycles [lifecycle]);

    //  Preferred channel: key accounts mostly see their account manager
    int channel = s_weighted (rng, key_account? s_channel_key: s_channel_mass, 3, 100);
    *o++ = ',';
    o = s_put (o, s_channels [channel]);

    //  Offers that fit the profile, sometimes a second one
    int offer;
    if (s_below (rng, 10) < 2)
        offer = (int) s_below (rng, OFR_COUNT);
    else
    if (lifecycle == LC_DECLINE)
        offer = arpu >= 150? OFR_RETAIN_50: OFR_RETAIN_20;
    else
    if (lifecycle == LC_ONBOARDING)
        offer = s_below (rng, 2)? OFR_DATA_20G: OFR_5G_UP;
    else
        offer = s_segment_offers [segment][s_below (rng, 3)];
    *o++ = ',';
    o = s_put (o, s_offers [offer]);
    if (s_below (rng, 5) == 0) {
        int second = (int) s_below (rng, OFR_COUNT - 1);
        if (second >= offer)
            second++;
        *o++ = '|';
        o = s_put (o, s_offers [second]);
    }

    //  Priority 1..9: value, risk of loss, a little noise
    int priority = 1 + (arpu >= 50) + (arpu >= 100) + (arpu >= 200) + 2 * key_account
                 + 2 * (lifecycle == LC_DECLINE) + (int) s_below (rng, 2);
    if (priority > 9)
        priority = 9;
    *o++ = ',';
    o = s_put_uint (o, (uint64_t) priority, 1);
    *o++ = '\n';
    return o;
}

int
wob_gen_write (FILE *out, uint64_t count, uint64_t seed)
{
    if (!out || count > S_NUMBERS) {
        errno = EINVAL;
        return -1;
    }
    char *buf = (char *) malloc (S_OUTSIZE);
    if (!buf)
        return -1;
    s_rng_t rng = { seed };
    uint32_t keys [4];
    for (int i = 0; i < 4; i++)
        keys [i] = (uint32_t) s_next (&rng);
    uint64_t customer_base = s_next (&rng) % 10000000000ull;

    char *o = s_put (buf, "msisdn,customer_id,name,province,city,district,grid,arpu,"
                          "tenure_months,segment,lifecycle,preferred_channel,offer,priority\n");
    int rc = 0;
    for (uint64_t index = 0; index < count; index++) {
        o = s_put_row (o, &rng, index, keys, customer_base);
        if (o - buf > S_OUTSIZE - S_ROWMAX) {
            if (fwrite (buf, 1, o - buf, out) != (size_t) (o - buf)) {
                rc = -1;
                break;
            }
            o = buf;
        }
    }
    if (rc == 0 && o > buf && fwrite (buf, 1, o - buf, out) != (size_t) (o - buf))
        rc = -1;
    free (buf);
    if (rc == 0 && fflush (out))
        rc = -1;
    return rc;
}
