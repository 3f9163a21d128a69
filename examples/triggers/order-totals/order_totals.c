/*
 * order-totals: an Eddy trigger that keeps a materialized view.
 *
 * Source table (the trigger's table), for example `Orders`:
 *     order (S, hash key), customer (S), amount (N)
 * View table, `CustomerTotals` (TOTALS_TABLE below):
 *     customer (S, hash key), total_amount (N)
 *
 * For each change record of the batch it issues
 *     update_item {"TableName": "CustomerTotals", "Key": {"customer": {"S": C}},
 *                  "UpdateExpression": "ADD total_amount :delta",
 *                  "ExpressionAttributeValues": {":delta": {"N": D}}}
 *   INSERT: +new.amount for new.customer
 *   REMOVE: -old.amount for old.customer
 *   MODIFY: new.amount - old.amount for the customer; when the order moved to another
 *           customer, -old.amount for the old one and +new.amount for the new one.
 * A change that leaves a total as it was (same customer and amount) writes nothing.
 * An image without `customer` (S) counts for nobody; an order without `amount` (N)
 * counts as 0. So `total_amount` always equals the sum of `amount` over the customer's
 * orders, because Eddy commits the write-backs exactly once with the trigger's checkpoint.
 *
 * Numbers: DynamoDB `N` values are decimal strings of up to 38 significant digits,
 * magnitudes 1E-130 to 9.99E+125. The deltas are computed on exact decimals here
 * (no floating point), in a fixed-point array that covers that whole range, and written
 * back as plain decimal strings ("12.5", "-3", "0.001").
 *
 * Failures: a record that cannot be processed (an image the change needs is missing,
 * e.g. a stream view other than NEW_AND_OLD_IMAGES; an `amount` that is not a number; a
 * write-back the host refuses) is reported in batchItemFailures together with every record
 * after it, and no write-back is issued for any of them. The write-backs issued are thus
 * exactly those of the records before the first failure, which is what a checkpoint at
 * the first failed record needs for the totals to stay exact when the rest is retried.
 *
 * Guest ABI: docs/triggers.md. Freestanding C: no libc, no WASI, imports only from "eddy".
 */

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define TOTALS_TABLE "CustomerTotals"

/* ---- host functions -------------------------------------------------------------- */

__attribute__((import_module("eddy"), import_name("log")))
void eddy_log(const u8 *ptr, u32 len);
__attribute__((import_module("eddy"), import_name("update_item")))
int eddy_update_item(const u8 *ptr, u32 len);

/* ---- memory ---------------------------------------------------------------------- */

/* clang may turn loops into calls to these; there is no libc to provide them. */
void *memcpy(void *dst, const void *src, unsigned long n) {
    u8 *d = dst;
    const u8 *s = src;
    while (n--) *d++ = *s++;
    return dst;
}
void *memset(void *dst, int c, unsigned long n) {
    u8 *d = dst;
    while (n--) *d++ = (u8)c;
    return dst;
}

extern u8 __heap_base; /* the first byte after data and stack, set by wasm-ld */
static u32 heap_next;

/* A bump allocator: every batch runs in a fresh instance, so nothing is freed. */
void *alloc(u32 len) {
    if (heap_next == 0) heap_next = (u32)&__heap_base;
    u32 ptr = (heap_next + 7u) & ~7u;
    u64 end = (u64)ptr + len;
    u64 have = (u64)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        u64 pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, (unsigned long)pages) == (unsigned long)-1)
            __builtin_trap();
    }
    heap_next = (u32)end;
    return (void *)ptr;
}

/* ---- an output buffer ------------------------------------------------------------ */

typedef struct {
    u8 *p;
    u32 len, cap;
} buf_t;

static void buf_reserve(buf_t *b, u32 more) {
    if (b->len + more <= b->cap) return;
    u32 cap = b->cap ? b->cap : 256;
    while (cap < b->len + more) cap *= 2;
    u8 *p = alloc(cap);
    memcpy(p, b->p, b->len);
    b->p = p;
    b->cap = cap;
}
static void put_bytes(buf_t *b, const u8 *s, u32 n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
static u32 cstrlen(const char *s) {
    u32 n = 0;
    while (s[n]) n++;
    return n;
}
static void put_str(buf_t *b, const char *s) { put_bytes(b, (const u8 *)s, cstrlen(s)); }
static void put_u32(buf_t *b, u32 n) {
    u8 digits[10];
    u32 i = 0;
    do digits[i++] = (u8)('0' + n % 10); while (n /= 10);
    buf_reserve(b, i);
    while (i) b->p[b->len++] = digits[--i];
}
static void log_buf(buf_t *b) { eddy_log(b->p, b->len); }

/* ---- a JSON walker ----------------------------------------------------------------
 * Values are addressed by a pointer to their first byte; NULL means "absent", so lookups
 * chain. Every read checks the end of the batch and every loop advances or stops, so
 * malformed input can neither read past the batch nor loop forever. Object keys are
 * compared as their raw bytes (Eddy never escapes plain ASCII names). */

static const u8 *g_end;

static int at(const u8 *p) { return p && p < g_end ? *p : 0; }

static const u8 *ws(const u8 *p) {
    while (at(p) == ' ' || at(p) == '\t' || at(p) == '\n' || at(p) == '\r') p++;
    return p;
}

/* p at '"': the position after the closing quote. */
static const u8 *skip_string(const u8 *p) {
    for (p++; p < g_end; p++) {
        if (*p == '\\') p++;
        else if (*p == '"') return p + 1;
    }
    return g_end;
}

/* p at any value: the position after it. Brackets are counted, so no recursion. */
static const u8 *skip_value(const u8 *p) {
    int c = at(p);
    if (c == '"') return skip_string(p);
    if (c == '{' || c == '[') {
        int depth = 0;
        while (p < g_end) {
            c = *p;
            if (c == '"') {
                p = skip_string(p);
                continue;
            }
            if (c == '{' || c == '[') depth++;
            if (c == '}' || c == ']') depth--;
            p++;
            if (depth == 0) break;
        }
        return p;
    }
    while (p < g_end && *p != ',' && *p != '}' && *p != ']' && *p > ' ') p++;
    return p;
}

/* A JSON string's raw bytes, between the quotes, escapes as written. */
typedef struct {
    const u8 *p;
    u32 n;
} str_t;

static int get_string(const u8 *p, str_t *out) {
    if (at(p) != '"') return 0;
    const u8 *e = skip_string(p);
    if (e == g_end && (e - p < 2 || e[-1] != '"')) return 0; /* unterminated */
    out->p = p + 1;
    out->n = (u32)(e - p - 2);
    return 1;
}

static int str_eq(str_t a, str_t b) {
    if (a.n != b.n) return 0;
    for (u32 i = 0; i < a.n; i++)
        if (a.p[i] != b.p[i]) return 0;
    return 1;
}

static int string_is(const u8 *p, const char *lit) {
    str_t s, l = {(const u8 *)lit, cstrlen(lit)};
    return get_string(p, &s) && str_eq(s, l);
}

/* The value of member `key` of the object at obj, or NULL. */
static const u8 *find(const u8 *obj, const char *key) {
    if (at(obj) != '{') return 0;
    const u8 *p = ws(obj + 1);
    while (at(p) == '"') {
        const u8 *k = p;
        p = ws(skip_string(p));
        if (at(p) != ':') return 0;
        p = ws(p + 1);
        if (string_is(k, key)) return p;
        p = ws(skip_value(p));
        if (at(p) != ',') return 0;
        p = ws(p + 1);
    }
    return 0;
}

/* ---- exact decimals ----------------------------------------------------------------
 * d[i] is the digit of 10^(i - POINT). 10^-140 .. 10^159 covers every DynamoDB number
 * (1E-130 .. 9.99E+125) and the difference of any two of them. */

#define DIGITS 300
#define POINT 140

typedef struct {
    int neg;
    u8 d[DIGITS];
} dec_t;

static int dec_is_zero(const dec_t *a) {
    for (int i = 0; i < DIGITS; i++)
        if (a->d[i]) return 0;
    return 1;
}

/* Parses a DynamoDB number ("-12.50", "1E+3", "0.001"). 0 when it is not one. */
static int dec_parse(str_t s, dec_t *out) {
    memset(out, 0, sizeof *out);
    u32 i = 0;
    if (i < s.n && (s.p[i] == '-' || s.p[i] == '+')) out->neg = s.p[i++] == '-';
    u32 first = i, int_digits = 0, digits = 0;
    int seen_point = 0;
    for (; i < s.n; i++) {
        u8 c = s.p[i];
        if (c >= '0' && c <= '9') {
            digits++;
            if (!seen_point) int_digits++;
        } else if (c == '.' && !seen_point) {
            seen_point = 1;
        } else {
            break;
        }
    }
    if (digits == 0) return 0;
    u32 mantissa_end = i;
    int exp = 0;
    if (i < s.n && (s.p[i] == 'e' || s.p[i] == 'E')) {
        int eneg = 0;
        i++;
        if (i < s.n && (s.p[i] == '-' || s.p[i] == '+')) eneg = s.p[i++] == '-';
        if (i >= s.n) return 0;
        for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++)
            if (exp < 100000) exp = exp * 10 + (s.p[i] - '0');
        if (eneg) exp = -exp;
    }
    if (i != s.n) return 0;
    /* the k-th mantissa digit is worth 10^(int_digits - 1 - k + exp) */
    int k = 0;
    for (i = first; i < mantissa_end; i++) {
        if (s.p[i] == '.') continue;
        int pos = (int)int_digits - 1 - k + exp + POINT;
        u8 v = (u8)(s.p[i] - '0');
        k++;
        if (v == 0) continue;
        if (pos < 0 || pos >= DIGITS) return 0; /* outside DynamoDB's range */
        out->d[pos] = v;
    }
    if (dec_is_zero(out)) out->neg = 0;
    return 1;
}

static int cmp_mag(const dec_t *a, const dec_t *b) {
    for (int i = DIGITS - 1; i >= 0; i--)
        if (a->d[i] != b->d[i]) return a->d[i] > b->d[i] ? 1 : -1;
    return 0;
}

/* r = a + b, where r may be a or b. */
static void dec_add(dec_t *r, const dec_t *a, const dec_t *b) {
    if (a->neg == b->neg) {
        int carry = 0, neg = a->neg;
        for (int i = 0; i < DIGITS; i++) {
            int v = a->d[i] + b->d[i] + carry;
            carry = v >= 10;
            r->d[i] = (u8)(carry ? v - 10 : v);
        }
        r->neg = neg;
    } else {
        const dec_t *big = a, *small = b;
        if (cmp_mag(a, b) < 0) big = b, small = a;
        int borrow = 0, neg = big->neg;
        for (int i = 0; i < DIGITS; i++) {
            int v = big->d[i] - small->d[i] - borrow;
            borrow = v < 0;
            r->d[i] = (u8)(borrow ? v + 10 : v);
        }
        r->neg = neg;
    }
    if (dec_is_zero(r)) r->neg = 0;
}

static void dec_negate(dec_t *a) {
    if (!dec_is_zero(a)) a->neg = !a->neg;
}

/* Plain decimal: no exponent, no leading or trailing zeros ("-0.5", "120"). */
static void put_dec(buf_t *b, const dec_t *a) {
    int hi = POINT, lo = POINT;
    for (int i = DIGITS - 1; i > POINT; i--)
        if (a->d[i]) {
            hi = i;
            break;
        }
    for (int i = 0; i < POINT; i++)
        if (a->d[i]) {
            lo = i;
            break;
        }
    buf_reserve(b, (u32)(hi - lo + 3));
    if (a->neg) b->p[b->len++] = '-';
    for (int i = hi; i >= POINT; i--) b->p[b->len++] = (u8)('0' + a->d[i]);
    if (lo < POINT) {
        b->p[b->len++] = '.';
        for (int i = POINT - 1; i >= lo; i--) b->p[b->len++] = (u8)('0' + a->d[i]);
    }
}

/* ---- the view ---------------------------------------------------------------------- */

/* One side of a change: the image's customer and amount. */
typedef struct {
    int has_customer;
    str_t customer;
    dec_t amount;
} side_t;

/* Reads customer (S) and amount (N, absent = 0) from an image. NULL when `amount` is
 * there but is not a DynamoDB number. */
static const char *read_side(const u8 *image, side_t *side) {
    side->has_customer = get_string(find(find(image, "customer"), "S"), &side->customer);
    str_t amount;
    if (!get_string(find(find(image, "amount"), "N"), &amount)) {
        memset(&side->amount, 0, sizeof side->amount);
        return 0;
    }
    return dec_parse(amount, &side->amount) ? 0 : "amount is not a number";
}

static buf_t request;
static u32 updates;

/* ADD total_amount :delta for the customer; 0 when the host accepts the write-back. */
static int add_to_total(str_t customer, const dec_t *delta) {
    if (dec_is_zero(delta)) return 0;
    request.len = 0;
    put_str(&request, "{\"TableName\":\"" TOTALS_TABLE "\",\"Key\":{\"customer\":{\"S\":\"");
    put_bytes(&request, customer.p, customer.n); /* already JSON-escaped */
    put_str(&request,
            "\"}},\"UpdateExpression\":\"ADD total_amount :delta\","
            "\"ExpressionAttributeValues\":{\":delta\":{\"N\":\"");
    put_dec(&request, delta);
    put_str(&request, "\"}}}");
    updates++;
    return eddy_update_item(request.p, request.len);
}

/* Applies one record; NULL on success, else the reason it failed. */
static const char *apply_record(const u8 *rec) {
    const u8 *ddb = find(rec, "dynamodb");
    const u8 *new_image = find(ddb, "NewImage");
    const u8 *old_image = find(ddb, "OldImage");
    const u8 *event = find(rec, "eventName");
    int insert = string_is(event, "INSERT");
    int modify = string_is(event, "MODIFY");
    int remove = string_is(event, "REMOVE");
    if (!insert && !modify && !remove) return 0; /* nothing to do */

    static side_t before, after;
    const char *bad;
    if (insert || modify) {
        if (!new_image) return "the record has no NewImage (the view needs NEW_AND_OLD_IMAGES)";
        if ((bad = read_side(new_image, &after))) return bad;
    }
    if (remove || modify) {
        if (!old_image) return "the record has no OldImage (the view needs NEW_AND_OLD_IMAGES)";
        if ((bad = read_side(old_image, &before))) return bad;
        dec_negate(&before.amount);
    }
    int status = 0;
    if (modify && before.has_customer && after.has_customer && str_eq(before.customer, after.customer)) {
        static dec_t delta;
        dec_add(&delta, &after.amount, &before.amount); /* new - old */
        status = add_to_total(after.customer, &delta);
    } else {
        if ((remove || modify) && before.has_customer) status |= add_to_total(before.customer, &before.amount);
        if ((insert || modify) && after.has_customer) status |= add_to_total(after.customer, &after.amount);
    }
    return status ? "the host refused the update_item request" : 0;
}

/* ---- handle -------------------------------------------------------------------------- */

long long handle(const u8 *ptr, u32 len) {
    g_end = ptr + len;
    buf_t response = {0}, line = {0};
    u32 records = 0, failed = 0;

    const u8 *p = find(ws(ptr), "Records");
    if (at(p) == '[') {
        p = ws(p + 1);
        while (p < g_end && at(p) != ']') {
            records++;
            str_t seq;
            int has_seq = get_string(find(find(p, "dynamodb"), "SequenceNumber"), &seq);
            const char *why = failed ? "an earlier record of the batch failed" : apply_record(p);
            if (why) {
                if (!has_seq) return -2; /* cannot name the record: fail the whole batch */
                if (!failed) {
                    line.len = 0;
                    put_str(&line, "order-totals: record ");
                    put_bytes(&line, seq.p, seq.n);
                    put_str(&line, " failed: ");
                    put_str(&line, why);
                    log_buf(&line);
                    put_str(&response, "{\"batchItemFailures\":[");
                } else {
                    put_str(&response, ",");
                }
                put_str(&response, "{\"itemIdentifier\":\"");
                put_bytes(&response, seq.p, seq.n);
                put_str(&response, "\"}");
                failed++;
            }
            p = ws(skip_value(p));
            if (at(p) != ',') break;
            p = ws(p + 1);
        }
    }

    line.len = 0;
    put_str(&line, "order-totals: records=");
    put_u32(&line, records);
    put_str(&line, " updates=");
    put_u32(&line, updates);
    put_str(&line, " failed=");
    put_u32(&line, failed);
    log_buf(&line);

    if (failed) put_str(&response, "]}");
    else put_str(&response, "{}");
    return ((long long)(u32)response.p << 32) | response.len;
}
