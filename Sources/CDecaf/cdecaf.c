/* Variable-time ristretto255 arithmetic for signature verification: single checks on libdecaf's
 * public API (libdecaf's wNAF double-scalar multiplication, or a split-scalar Straus
 * multiplication against tables precomputed per key), and batch checks as one Straus
 * multiscalar multiplication in this package's own field arithmetic (r255_field.h) against
 * affine tables. All inputs are public. */
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

int evalnet_r255_verify_batch(size_t n, const evalnet_r255_key *const *keys, const uint8_t *r, const uint8_t *s,
                              const uint8_t *challenges, const uint8_t *weights) {
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
    int result = 0;
    if (!r_tables || !r_digits || !key_digits || !key_tables || !key_scalars || !sorted) { result = -1; goto done; }

    /* Checked as sum z_i (s_i B - k_i A_i - R_i) = identity: the base gets sum z_i s_i, each
     * distinct key the sum of its z_i k_i and each R_i the weight z_i, both subtracted.
     * z_i s_i is summed as a plain integer (below 2^388) and reduced once; z_i k_i is reduced
     * from the product of z_i and the 64 challenge bytes, and refused when 0 (k_i = 0 mod l,
     * which single checks refuse; or z_i = 0, a 2^-128 event that only sends the batch to the
     * one-by-one fall-back). */
    uint64_t bsum[7] = {0};
    for (size_t i = 0; i < n; i++) {
        if (keys[i]->batch_ready != 1) goto done;
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
        sorted[i].key = keys[i];
        sorted[i].index = i;
    }
    /* One term per distinct key (a key signing several messages has its scalars summed):
     * order the signatures by key handle, then sum each run. */
    qsort(sorted, n, sizeof *sorted, compare_key_slots);
    size_t nkeys = 0;
    for (size_t g = 0; g < n;) {
        decaf_255_scalar_t total;
        decaf_255_scalar_copy(total, decaf_255_scalar_zero);
        size_t h = g;
        for (; h < n && sorted[h].key == sorted[g].key; h++) {
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
    return result;
}
