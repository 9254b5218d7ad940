/* Variable-time ristretto255 arithmetic for signature verification: single checks for a key used
 * once in this package's own field arithmetic (r255_field.h) without per-key tables
 * (evalnet_r255_verify_once: the challenge split into two half-size scalars), single checks of
 * repeat keys on libdecaf's public API (a split-scalar Straus multiplication against tables
 * precomputed per key; libdecaf's wNAF double-scalar multiplication is kept as a reference),
 * and batch checks as one Straus multiscalar multiplication in r255_field.h arithmetic against
 * affine tables (or small tables built on the spot for keys used once). All inputs are public. */
#include "cdecaf.h"
#include "r255_field.h"

#include <decaf/decaf/point_255.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct decaf_255_point_s point_s;

/* A key's scalar is split in KEY_SPLIT chunks of CHUNK_BITS bits; chunk j multiplies 2^(CHUNK_BITS*j)*A,
 * which cuts the doublings of a verification by KEY_SPLIT at the price of KEY_SPLIT precomputed tables. */
#ifndef KEY_SPLIT
#define KEY_SPLIT 2
#endif
#define CHUNK_BITS (256 / KEY_SPLIT)
#ifndef WIDTH_KEY
#define WIDTH_KEY 5   /* w-NAF width for key tables: 2^(w-2) odd multiples each */
#endif
#define WIDTH_BASE 8  /* static tables of the base point */
#ifndef WIDTH_R
#define WIDTH_R 5     /* per-signature R tables in a batch */
#endif
#ifndef WIDTH_KEY_BATCH
#define WIDTH_KEY_BATCH 8 /* a key's affine table for batches (whole 253-bit scalars) */
#endif
#ifndef WIDTH_BASE_BATCH
#define WIDTH_BASE_BATCH 8
#endif
#define WEIGHT_BITS 128
#define SCALAR_BITS 253

struct evalnet_r255_key {
    decaf_255_point_t table[KEY_SPLIT][1 << (WIDTH_KEY - 2)];
    uint8_t encoding[32];
    /* Odd multiples (2i+1)*A in affine form, for batch checks, built by
     * evalnet_r255_key_prepare_batch: batch_ready 1 when built, 0 before, -1 when this
     * package's decoder refused the encoding libdecaf accepted (never seen; such a key's
     * batches fail over to single checks). */
    r255_affine batch_table[1 << (WIDTH_KEY_BATCH - 2)];
    int batch_ready;
};

static decaf_255_point_t base_table[KEY_SPLIT][1 << (WIDTH_BASE - 2)];
static pthread_once_t base_once = PTHREAD_ONCE_INIT;

/* table[i] = (2i+1)*p for i < count. */
static void odd_multiples(point_s *table, const decaf_255_point_t p, int count) {
    decaf_255_point_t twice;
    decaf_255_point_double(twice, p);
    decaf_255_point_copy(&table[0], p);
    for (int i = 1; i < count; i++) decaf_255_point_add(&table[i], &table[i - 1], twice);
}

/* tables[j] = odd multiples of 2^(CHUNK_BITS*j)*p. */
static void split_tables(point_s *tables, const decaf_255_point_t p, int width) {
    int count = 1 << (width - 2);
    decaf_255_point_t q;
    decaf_255_point_copy(q, p);
    for (int j = 0; j < KEY_SPLIT; j++) {
        if (j > 0) {
            for (int d = 0; d < CHUNK_BITS; d++) decaf_255_point_double(q, q);
        }
        odd_multiples(&tables[j * count], q, count);
    }
}

static void init_base_tables(void) { split_tables(&base_table[0][0][0], decaf_255_point_base, WIDTH_BASE); }

/* Width-w non-adjacent form of the `bits`-bit value in x (little-endian words, zero beyond
 * `bits` and at least two words past it): digits[0...bits], each odd in (-2^(w-1), 2^(w-1)) or 0. */
static void wnaf(int8_t *digits, const uint64_t *x, int bits, int w) {
    memset(digits, 0, (size_t)bits + 1);
    const uint64_t width = 1ull << w, mask = width - 1;
    uint64_t carry = 0;
    int pos = 0;
    while (pos <= bits) {
        int word = pos / 64, bit = pos % 64;
        uint64_t buf = x[word] >> bit;
        if (bit != 0 && bit + w > 64) buf |= x[word + 1] << (64 - bit);
        uint64_t window = carry + (buf & mask);
        if ((window & 1) == 0) {
            pos += 1;
            continue;
        }
        if (window < width / 2) {
            carry = 0;
            digits[pos] = (int8_t)window;
        } else {
            carry = 1;
            digits[pos] = (int8_t)((int64_t)window - (int64_t)width);
        }
        pos += w;
    }
}

static void load_words(uint64_t *out, const uint8_t *bytes, size_t nbytes) {
    for (size_t i = 0; i < nbytes; i++) out[i / 8] |= (uint64_t)bytes[i] << (8 * (i % 8));
}

/* Digits of chunk j (CHUNK_BITS bits) of a 32-byte scalar. */
static void chunk_wnaf(int8_t *digits, const uint8_t scalar[32], int j, int w) {
    uint64_t words[CHUNK_BITS / 64 + 2] = {0};
    load_words(words, scalar + j * (CHUNK_BITS / 8), CHUNK_BITS / 8);
    wnaf(digits, words, CHUNK_BITS, w);
}

/* out = sum over terms of (digits_t as an integer) * P_t, where tables[t][i] = (2i+1)*P_t and
 * every digit array has `len` entries. */
static void straus(decaf_255_point_t out, size_t nterms, int8_t *const *digits, const point_s *const *tables,
                   int len) {
    int top = -1;
    for (int i = len - 1; i >= 0 && top < 0; i--) {
        for (size_t t = 0; t < nterms; t++) {
            if (digits[t][i] != 0) { top = i; break; }
        }
    }
    decaf_255_point_copy(out, decaf_255_point_identity);
    for (int i = top; i >= 0; i--) {
        if (i != top) decaf_255_point_double(out, out);
        for (size_t t = 0; t < nterms; t++) {
            int d = digits[t][i];
            if (d > 0) decaf_255_point_add(out, out, &tables[t][d >> 1]);
            else if (d < 0) decaf_255_point_sub(out, out, &tables[t][(-d) >> 1]);
        }
    }
}

/* out[i] = (2i+1)*p in affine form, i < 2^(width-2). 0 when memory is exhausted. */
static int affine_odd_multiples(r255_affine *out, const r255_point *p, int width) {
    const size_t count = (size_t)1 << (width - 2);
    r255_point *points = malloc(count * sizeof(r255_point));
    r255_fe *scratch = malloc(count * sizeof(r255_fe));
    if (!points || !scratch) {
        free(points);
        free(scratch);
        return 0;
    }
    r255_point twice;
    r255_cached twice_c;
    r255_double(&twice, p);
    r255_to_cached(&twice_c, &twice);
    points[0] = *p;
    for (size_t i = 1; i < count; i++) r255_add_cached(&points[i], &points[i - 1], &twice_c, 0);
    r255_batch_to_affine(out, points, count, scratch);
    free(points);
    free(scratch);
    return 1;
}

evalnet_r255_key *evalnet_r255_key_new(const uint8_t encoding[32]) {
    decaf_255_point_t p;
    if (decaf_255_point_decode(p, encoding, DECAF_FALSE) != DECAF_SUCCESS) return NULL;
    void *memory = NULL;
    if (posix_memalign(&memory, 64, sizeof(evalnet_r255_key)) != 0) return NULL;
    evalnet_r255_key *key = memory;
    split_tables(&key->table[0][0][0], p, WIDTH_KEY);
    memcpy(key->encoding, encoding, 32);
    key->batch_ready = 0;
    return key;
}

int evalnet_r255_key_prepare_batch(evalnet_r255_key *key) {
    if (key->batch_ready == 0) {
        r255_point own;
        if (!r255_decode(&own, key->encoding)) key->batch_ready = -1;
        else if (affine_odd_multiples(key->batch_table, &own, WIDTH_KEY_BATCH)) key->batch_ready = 1;
    }
    return key->batch_ready == 1;
}

void evalnet_r255_key_free(evalnet_r255_key *key) { free(key); }

int evalnet_r255_is_valid_point(const uint8_t encoding[32]) {
    decaf_255_point_t p;
    return decaf_255_point_decode(p, encoding, DECAF_TRUE) == DECAF_SUCCESS;
}

/* Decodes a canonical s and the negated challenge -k (k = challenge mod l, refused when 0). */
static int prepare_scalars(decaf_255_scalar_t s_out, decaf_255_scalar_t neg_k, const uint8_t s[32],
                           const uint8_t challenge[64]) {
    if (decaf_255_scalar_decode(s_out, s) != DECAF_SUCCESS) return 0;
    decaf_255_scalar_t k;
    decaf_255_scalar_decode_long(k, challenge, 64);
    if (decaf_255_scalar_eq(k, decaf_255_scalar_zero)) return 0;
    decaf_255_scalar_sub(neg_k, decaf_255_scalar_zero, k);
    return 1;
}

static int encodes_to(const decaf_255_point_t p, const uint8_t r[32]) {
    uint8_t enc[32];
    decaf_255_point_encode(enc, p);
    uint8_t diff = 0;
    for (int i = 0; i < 32; i++) diff |= (uint8_t)(enc[i] ^ r[i]);
    return diff == 0;
}

int evalnet_r255_verify(const uint8_t r[32], const uint8_t s[32], const uint8_t a[32], const uint8_t challenge[64]) {
    decaf_255_scalar_t ss, nk;
    if (!prepare_scalars(ss, nk, s, challenge)) return 0;
    decaf_255_point_t pa, sum;
    if (decaf_255_point_decode(pa, a, DECAF_FALSE) != DECAF_SUCCESS) return 0;
    decaf_255_base_double_scalarmul_non_secret(sum, ss, pa, nk);
    return encodes_to(sum, r);
}

int evalnet_r255_verify_key(const evalnet_r255_key *key, const uint8_t r[32], const uint8_t s[32],
                            const uint8_t challenge[64]) {
    pthread_once(&base_once, init_base_tables);
    decaf_255_scalar_t ss, nk;
    if (!prepare_scalars(ss, nk, s, challenge)) return 0;
    uint8_t sb[32], kb[32];
    decaf_255_scalar_encode(sb, ss);
    decaf_255_scalar_encode(kb, nk);
    int8_t digits[2 * KEY_SPLIT][CHUNK_BITS + 1];
    int8_t *rows[2 * KEY_SPLIT];
    const point_s *tables[2 * KEY_SPLIT];
    for (int j = 0; j < KEY_SPLIT; j++) {
        chunk_wnaf(digits[2 * j], sb, j, WIDTH_BASE);
        chunk_wnaf(digits[2 * j + 1], kb, j, WIDTH_KEY);
        rows[2 * j] = digits[2 * j];
        rows[2 * j + 1] = digits[2 * j + 1];
        tables[2 * j] = &base_table[j][0][0];
        tables[2 * j + 1] = &key->table[j][0][0];
    }
    decaf_255_point_t sum;
    straus(sum, 2 * KEY_SPLIT, rows, tables, CHUNK_BITS + 1);
    return encodes_to(sum, r);
}


/* The base point's affine odd multiples for batches; base_batch_ready 0 if that failed. */
static r255_affine base_batch_table[1 << (WIDTH_BASE_BATCH - 2)];
static int base_batch_ready;
static pthread_once_t base_batch_once = PTHREAD_ONCE_INIT;

static void init_base_batch_table(void) {
    uint8_t enc[32];
    decaf_255_point_encode(enc, decaf_255_point_base);
    r255_point b;
    base_batch_ready = r255_decode(&b, enc) && affine_odd_multiples(base_batch_table, &b, WIDTH_BASE_BATCH);
}

int evalnet_r255_batch_decodes(const uint8_t encoding[32]) {
    r255_point p;
    return r255_decode(&p, encoding);
}

#define ROW_LEN (SCALAR_BITS + 1)

/* w-NAF width of the tables built on the spot for keys used once (and for R in single checks). */
#ifndef WIDTH_ONCE
#define WIDTH_ONCE 5
#endif
static void cached_odd_multiples(r255_cached *table, const r255_point *p);

typedef struct {
    const evalnet_r255_key *key;
    size_t index;
} key_slot;

static int compare_key_slots(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const key_slot *)a)->key, y = (uintptr_t)((const key_slot *)b)->key;
    return (x > y) - (x < y);
}

/* out[0 ..< na+nb] = a * b, little-endian 64-bit words. */
static void mul_words(uint64_t *out, const uint64_t *a, size_t na, const uint64_t *b, size_t nb) {
    memset(out, 0, (na + nb) * sizeof(uint64_t));
    for (size_t i = 0; i < na; i++) {
        uint64_t carry = 0;
        for (size_t j = 0; j < nb; j++) {
            r255_u128 t = (r255_u128)a[i] * b[j] + out[i + j] + carry;
            out[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        out[i + nb] = carry;
    }
}

static void store_words(uint8_t *out, const uint64_t *w, size_t nwords) {
    for (size_t i = 0; i < 8 * nwords; i++) out[i] = (uint8_t)(w[i / 8] >> (8 * (i % 8)));
}

/* 1 when the 32-byte little-endian s is below l. */
static int scalar_is_canonical(const uint8_t s[32]) {
    static const uint8_t l[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                  0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    for (int i = 31; i >= 0; i--) {
        if (s[i] != l[i]) return s[i] < l[i];
    }
    return 0;
}

/* wNAF digits (ROW_LEN entries) of a 32-byte scalar below 2^253. */
static void scalar_wnaf(int8_t *digits, const uint8_t scalar[32], int w) {
    uint64_t words[6] = {0};
    load_words(words, scalar, 32);
    wnaf(digits, words, SCALAR_BITS, w);
}

int evalnet_r255_verify_batch(size_t n, const evalnet_r255_key *const *keys, const uint8_t *points,
                              const uint8_t *r, const uint8_t *s, const uint8_t *challenges, const uint8_t *weights) {
    if (n == 0) return 1;
    pthread_once(&base_batch_once, init_base_batch_table);
    if (!base_batch_ready) return 0;
    const size_t r_count = (size_t)1 << (WIDTH_R - 2);
    r255_cached *r_tables = malloc(n * r_count * sizeof(r255_cached));
    int8_t *r_digits = malloc(n * (WEIGHT_BITS + 1));
    int8_t *key_digits = malloc((n + 1) * ROW_LEN); /* one row per distinct key, then the base */
    const r255_affine **key_tables = malloc(n * sizeof(r255_affine *));
    decaf_255_scalar_t *key_scalars = malloc(n * sizeof(decaf_255_scalar_t));
    key_slot *sorted = malloc(n * sizeof(key_slot));
    /* Keys used once (keys[i] NULL): a cached table and a digit row each, in item order. */
    const size_t fly_count = (size_t)1 << (WIDTH_ONCE - 2);
    r255_cached *fly_tables = malloc(n * fly_count * sizeof(r255_cached));
    int8_t *fly_digits = malloc(n * ROW_LEN);
    size_t nfly = 0, nsorted = 0;
    int result = 0;
    if (!r_tables || !r_digits || !key_digits || !key_tables || !key_scalars || !sorted || !fly_tables || !fly_digits) {
        result = -1;
        goto done;
    }

    /* Checked as sum z_i (s_i B - k_i A_i - R_i) = identity: the base gets sum z_i s_i, each
     * distinct key the sum of its z_i k_i and each R_i the weight z_i, both subtracted.
     * z_i s_i is summed as a plain integer (below 2^388) and reduced once; z_i k_i is reduced
     * from the product of z_i and the 64 challenge bytes, and refused when 0 (k_i = 0 mod l,
     * which single checks refuse; or z_i = 0, a 2^-128 event that only sends the batch to the
     * one-by-one fall-back). */
    uint64_t bsum[7] = {0};
    for (size_t i = 0; i < n; i++) {
        if (keys[i] != NULL && keys[i]->batch_ready != 1) goto done;
        if (!scalar_is_canonical(s + 32 * i)) goto done;
        r255_point ri, twice;
        if (!r255_decode(&ri, r + 32 * i)) goto done;
        r255_cached *table = &r_tables[i * r_count];
        r255_to_cached(&table[0], &ri);
        if (r_count > 1) {
            r255_cached twice_c;
            r255_double(&twice, &ri);
            r255_to_cached(&twice_c, &twice);
            r255_point acc = ri;
            for (size_t j = 1; j < r_count; j++) {
                r255_add_cached(&acc, &acc, &twice_c, 0);
                r255_to_cached(&table[j], &acc);
            }
        }
        uint64_t zw[4] = {0}, sw[4] = {0}, cw[8] = {0}, prod[10];
        load_words(zw, weights + 16 * i, 16);
        load_words(sw, s + 32 * i, 32);
        load_words(cw, challenges + 64 * i, 64);
        wnaf(r_digits + i * (WEIGHT_BITS + 1), zw, WEIGHT_BITS, WIDTH_R);
        mul_words(prod, zw, 2, cw, 8);
        uint8_t wide[80];
        store_words(wide, prod, 10);
        decaf_255_scalar_decode_long(key_scalars[i], wide, sizeof wide);
        if (decaf_255_scalar_eq(key_scalars[i], decaf_255_scalar_zero)) goto done;
        mul_words(prod, zw, 2, sw, 4);
        uint64_t carry = 0;
        for (int w = 0; w < 7; w++) {
            r255_u128 t = (r255_u128)bsum[w] + (w < 6 ? prod[w] : 0) + carry;
            bsum[w] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        if (keys[i] == NULL) {
            r255_point pa;
            memcpy(&pa, points + EVALNET_R255_POINT_BYTES * i, sizeof pa);
            if (r255_is_identity(&pa)) goto done;
            cached_odd_multiples(&fly_tables[nfly * fly_count], &pa);
            uint8_t kb[32];
            decaf_255_scalar_encode(kb, key_scalars[i]);
            scalar_wnaf(fly_digits + nfly * ROW_LEN, kb, WIDTH_ONCE);
            nfly++;
            continue;
        }
        sorted[nsorted].key = keys[i];
        sorted[nsorted].index = i;
        nsorted++;
    }
    /* One term per distinct key (a key signing several messages has its scalars summed):
     * order the signatures by key handle, then sum each run. */
    qsort(sorted, nsorted, sizeof *sorted, compare_key_slots);
    size_t nkeys = 0;
    for (size_t g = 0; g < nsorted;) {
        decaf_255_scalar_t total;
        decaf_255_scalar_copy(total, decaf_255_scalar_zero);
        size_t h = g;
        for (; h < nsorted && sorted[h].key == sorted[g].key; h++) {
            decaf_255_scalar_add(total, total, key_scalars[sorted[h].index]);
        }
        uint8_t tb[32];
        decaf_255_scalar_encode(tb, total);
        scalar_wnaf(key_digits + nkeys * ROW_LEN, tb, WIDTH_KEY_BATCH);
        key_tables[nkeys++] = sorted[g].key->batch_table;
        g = h;
    }
    uint8_t bb[32], bwide[56];
    decaf_255_scalar_t btotal;
    store_words(bwide, bsum, 7);
    decaf_255_scalar_decode_long(btotal, bwide, sizeof bwide);
    decaf_255_scalar_encode(bb, btotal);
    int8_t *base_digits = key_digits + nkeys * ROW_LEN;
    scalar_wnaf(base_digits, bb, WIDTH_BASE_BATCH);

    int top = -1;
    for (int i = SCALAR_BITS; i >= 0 && top < 0; i--) {
        if (base_digits[i] != 0) top = i;
        for (size_t t = 0; t < nkeys && top < 0; t++) {
            if (key_digits[t * ROW_LEN + i] != 0) top = i;
        }
        for (size_t t = 0; t < nfly && top < 0; t++) {
            if (fly_digits[t * ROW_LEN + i] != 0) top = i;
        }
        if (i <= WEIGHT_BITS) {
            for (size_t t = 0; t < n && top < 0; t++) {
                if (r_digits[t * (WEIGHT_BITS + 1) + i] != 0) top = i;
            }
        }
    }
    r255_point acc = r255_identity;
    for (int i = top; i >= 0; i--) {
        if (i != top) r255_double(&acc, &acc);
        int d = base_digits[i];
        if (d != 0) r255_add_affine(&acc, &acc, &base_batch_table[(d < 0 ? -d : d) >> 1], d < 0);
        for (size_t t = 0; t < nkeys; t++) {
            d = key_digits[t * ROW_LEN + i];
            if (d != 0) r255_add_affine(&acc, &acc, &key_tables[t][(d < 0 ? -d : d) >> 1], d > 0);
        }
        for (size_t t = 0; t < nfly; t++) {
            d = fly_digits[t * ROW_LEN + i];
            if (d != 0) r255_add_cached(&acc, &acc, &fly_tables[t * fly_count + ((d < 0 ? -d : d) >> 1)], d > 0);
        }
        if (i <= WEIGHT_BITS) {
            for (size_t t = 0; t < n; t++) {
                d = r_digits[t * (WEIGHT_BITS + 1) + i];
                /* The R terms are subtracted (so are the key terms): a positive digit subtracts. */
                if (d != 0) r255_add_cached(&acc, &acc, &r_tables[t * r_count + ((d < 0 ? -d : d) >> 1)], d > 0);
            }
        }
    }
    result = r255_is_identity(&acc) ? 1 : 0;
done:
    free(r_tables);
    free(r_digits);
    free(key_digits);
    free(key_tables);
    free(key_scalars);
    free(sorted);
    free(fly_tables);
    free(fly_digits);
    return result;
}

/* Single check without per-key tables, for a key used once. k is first split as k ≡ k1/k2 (mod l)
 * with k1 and |k2| below 2^127 (a half-run of the extended Euclidean algorithm on l and k), and
 * the check s·B − k·A = R becomes (k2·s)·B − k1·A − k2·R = identity (k2 ≠ 0 and the group has
 * prime order, so the two are equivalent; R decoding canonically is equivalent to R being the
 * encoding of the left side). That needs 128 doublings instead of 253: the base point uses two
 * static affine tables (B and 2^128·B), A and R small tables of odd multiples built on the
 * spot in cached form. No per-key state is kept. */
#define HALF_BITS 128

/* 256-bit unsigned integers, four little-endian words. */
typedef struct { uint64_t w[4]; } u256;

static inline int u256_bits(const u256 *a) {
    for (int i = 3; i >= 0; i--) {
        if (a->w[i]) return 64 * i + 64 - __builtin_clzll(a->w[i]);
    }
    return 0;
}

/* a -= b when a >= b (and 1), else a unchanged (and 0). */
static inline int u256_sub_if_ge(u256 *a, const u256 *b) {
    uint64_t d[4], borrow = 0;
    for (int i = 0; i < 4; i++) {
        r255_u128 t = (r255_u128)a->w[i] - b->w[i] - borrow;
        d[i] = (uint64_t)t;
        borrow = (uint64_t)(t >> 64) & 1;
    }
    if (borrow) return 0;
    memcpy(a->w, d, sizeof d);
    return 1;
}

static inline void u256_shl(u256 *out, const u256 *a, int n) { /* 0 <= n < 256, no overflow */
    int words = n / 64, bits = n % 64;
    for (int i = 3; i >= 0; i--) {
        uint64_t v = 0;
        if (i - words >= 0) {
            v = a->w[i - words] << bits;
            if (bits && i - words - 1 >= 0) v |= a->w[i - words - 1] >> (64 - bits);
        }
        out->w[i] = v;
    }
}

static inline void u256_shr1(u256 *a) {
    a->w[0] = a->w[0] >> 1 | a->w[1] << 63;
    a->w[1] = a->w[1] >> 1 | a->w[2] << 63;
    a->w[2] = a->w[2] >> 1 | a->w[3] << 63;
    a->w[3] >>= 1;
}

/* k1 = r (0 <= r < 2^127) and k2 = t (0 < |t| <= 2^126) with r ≡ t·k (mod l), for 0 < k < l:
 * remainders r_i of Euclid on (l, k) keep r_i ≡ t_i·k; the first below 2^127 is taken, and
 * then |t_i| <= l / r_(i-1) < 2^253 / 2^127. The t_i alternate in sign, so every
 * |q·t_i| <= |t_(i+1)| fits. */
static void half_split(r255_u128 *k1, __int128 *k2, const uint8_t k[32]) {
    static const uint8_t l_bytes[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                        0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    u256 prev = {{0}}, cur = {{0}};
    load_words(prev.w, l_bytes, 32);
    load_words(cur.w, k, 32);
    __int128 t_prev = 0, t_cur = 1;
    int prev_bits = u256_bits(&prev), cur_bits = u256_bits(&cur);
    while (cur_bits > 127) {
        /* q = prev / cur by shift and subtract (prev keeps the remainder); q < 2^126. */
        r255_u128 q = 0;
        int j = prev_bits - cur_bits;
        if (j == 0) {
            q = (r255_u128)u256_sub_if_ge(&prev, &cur);
        } else {
            u256 shifted;
            u256_shl(&shifted, &cur, j);
            for (;; j--) {
                q = q << 1 | (r255_u128)u256_sub_if_ge(&prev, &shifted);
                if (j == 0) break;
                u256_shr1(&shifted);
            }
        }
        u256 rem = prev;
        prev = cur;
        cur = rem;
        prev_bits = cur_bits;
        cur_bits = u256_bits(&cur);
        __int128 t_next = t_prev - (__int128)q * t_cur;
        t_prev = t_cur;
        t_cur = t_next;
    }
    *k1 = (r255_u128)cur.w[0] | (r255_u128)cur.w[1] << 64;
    *k2 = t_cur;
}

/* table[i] = (2i+1)·p in cached form, i < 2^(WIDTH_ONCE-2). */
static void cached_odd_multiples(r255_cached *table, const r255_point *p) {
    const int count = 1 << (WIDTH_ONCE - 2);
    r255_to_cached(&table[0], p);
    if (count > 1) {
        r255_point twice, acc = *p;
        r255_cached twice_c;
        r255_double(&twice, p);
        r255_to_cached(&twice_c, &twice);
        for (int j = 1; j < count; j++) {
            r255_add_cached(&acc, &acc, &twice_c, 0);
            r255_to_cached(&table[j], &acc);
        }
    }
}

/* The base point's affine odd multiples for single checks: [0] of B, [1] of 2^128·B. */
static r255_affine base_once_table[2][1 << (WIDTH_BASE_BATCH - 2)];
static int base_once_ready;
static pthread_once_t base_once_once = PTHREAD_ONCE_INIT;

static void init_base_once_table(void) {
    uint8_t enc[32];
    decaf_255_point_encode(enc, decaf_255_point_base);
    r255_point b;
    if (!r255_decode(&b, enc) || !affine_odd_multiples(base_once_table[0], &b, WIDTH_BASE_BATCH)) return;
    for (int i = 0; i < HALF_BITS; i++) r255_double(&b, &b);
    base_once_ready = affine_odd_multiples(base_once_table[1], &b, WIDTH_BASE_BATCH);
}

static void u128_wnaf(int8_t *digits, r255_u128 v, int w) {
    uint64_t words[4] = {(uint64_t)v, (uint64_t)(v >> 64), 0, 0};
    wnaf(digits, words, HALF_BITS, w);
}

/* The check against A decoded (pa); base_once_ready must be set. */
static int verify_once_point(const uint8_t r[32], const uint8_t s[32], const r255_point *pa,
                             const uint8_t challenge[64]) {
    if (!scalar_is_canonical(s)) return 0;
    if (r255_is_identity(pa)) return 0; /* the identity is not a key */
    decaf_255_scalar_t k, ss, k2s;
    decaf_255_scalar_decode_long(k, challenge, 64);
    if (decaf_255_scalar_eq(k, decaf_255_scalar_zero)) return 0;
    if (decaf_255_scalar_decode(ss, s) != DECAF_SUCCESS) return 0;
    r255_point pr;
    if (!r255_decode(&pr, r)) return 0;

    uint8_t kb[32];
    decaf_255_scalar_encode(kb, k);
    r255_u128 k1;
    __int128 k2;
    half_split(&k1, &k2, kb);
    const int k2_negative = k2 < 0;
    const r255_u128 k2_abs = k2_negative ? (r255_u128)(-k2) : (r255_u128)k2;
    /* Multiplied by sign(k2): |k2|·s·B − sign(k2)·k1·A − |k2|·R = identity. */
    uint8_t k2b[32] = {0}, bb[32];
    for (int i = 0; i < 16; i++) k2b[i] = (uint8_t)(k2_abs >> (8 * i));
    decaf_255_scalar_t k2s_factor;
    if (decaf_255_scalar_decode(k2s_factor, k2b) != DECAF_SUCCESS) return 0;
    decaf_255_scalar_mul(k2s, k2s_factor, ss);
    decaf_255_scalar_encode(bb, k2s);

    enum { count = 1 << (WIDTH_ONCE - 2) };
    r255_cached a_table[count], r_table[count];
    cached_odd_multiples(a_table, pa);
    cached_odd_multiples(r_table, &pr);
    int8_t d_b0[HALF_BITS + 1], d_b1[HALF_BITS + 1], d_a[HALF_BITS + 1], d_r[HALF_BITS + 1];
    chunk_wnaf(d_b0, bb, 0, WIDTH_BASE_BATCH);
    chunk_wnaf(d_b1, bb, 1, WIDTH_BASE_BATCH);
    u128_wnaf(d_a, k1, WIDTH_ONCE);
    u128_wnaf(d_r, k2_abs, WIDTH_ONCE);
    int top = HALF_BITS;
    while (top > 0 && !d_b0[top] && !d_b1[top] && !d_a[top] && !d_r[top]) top--;

    /* T is computed only where an addition reads it: an addition follows at the same position.
     * The A term is subtracted when k2 > 0; the R term always. */
    r255_point acc = r255_identity;
    for (int i = top; i >= 0; i--) {
        const int db0 = d_b0[i], db1 = d_b1[i], da = d_a[i], dr = d_r[i];
        if (i != top) r255_double_t(&acc, &acc, db0 || db1 || da || dr);
        r255_fe zz;
        if (db0) {
            const r255_affine *q = &base_once_table[0][(db0 < 0 ? -db0 : db0) >> 1];
            r255_add(&zz, &acc.Z, &acc.Z);
            r255_add_with_t(&acc, &acc, &q->ypx, &q->ymx, &q->t2d, &zz, db0 < 0, db1 || da || dr);
        }
        if (db1) {
            const r255_affine *q = &base_once_table[1][(db1 < 0 ? -db1 : db1) >> 1];
            r255_add(&zz, &acc.Z, &acc.Z);
            r255_add_with_t(&acc, &acc, &q->ypx, &q->ymx, &q->t2d, &zz, db1 < 0, da || dr);
        }
        if (da) {
            const r255_cached *q = &a_table[(da < 0 ? -da : da) >> 1];
            r255_mul(&zz, &acc.Z, &q->z2);
            r255_add_with_t(&acc, &acc, &q->ypx, &q->ymx, &q->t2d, &zz, (da > 0) != k2_negative, dr != 0);
        }
        if (dr) {
            const r255_cached *q = &r_table[(dr < 0 ? -dr : dr) >> 1];
            r255_mul(&zz, &acc.Z, &q->z2);
            r255_add_with_t(&acc, &acc, &q->ypx, &q->ymx, &q->t2d, &zz, dr > 0, 0);
        }
    }
    return r255_is_identity(&acc);
}

int evalnet_r255_verify_once(const uint8_t r[32], const uint8_t s[32], const uint8_t a[32],
                             const uint8_t challenge[64]) {
    pthread_once(&base_once_once, init_base_once_table);
    if (!base_once_ready) return evalnet_r255_verify(r, s, a, challenge);
    r255_point pa;
    if (!r255_decode(&pa, a)) return 0;
    return verify_once_point(r, s, &pa, challenge);
}

int evalnet_r255_decode_point(uint8_t point[EVALNET_R255_POINT_BYTES], const uint8_t encoding[32]) {
    r255_point p;
    if (!r255_decode(&p, encoding)) return 0;
    memcpy(point, &p, sizeof p);
    return 1;
}

int evalnet_r255_verify_once_point(const uint8_t r[32], const uint8_t s[32],
                                   const uint8_t point[EVALNET_R255_POINT_BYTES], const uint8_t a[32],
                                   const uint8_t challenge[64]) {
    pthread_once(&base_once_once, init_base_once_table);
    if (!base_once_ready) return evalnet_r255_verify(r, s, a, challenge);
    r255_point pa;
    memcpy(&pa, point, sizeof pa);
    return verify_once_point(r, s, &pa, challenge);
}

_Static_assert(sizeof(r255_point) == EVALNET_R255_POINT_BYTES, "decoded point size");
