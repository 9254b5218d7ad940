/* Variable-time ristretto255 arithmetic for signature verification, on libdecaf's public API:
 * single checks (libdecaf's wNAF double-scalar multiplication, or a split-scalar Straus
 * multiplication against tables precomputed per key), and a Straus multiscalar multiplication
 * for batch checks. All inputs are public. */
#include "cdecaf.h"

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
#define WIDTH_R 5     /* per-signature R tables in a batch */
#define WEIGHT_BITS 128

struct evalnet_r255_key {
    decaf_255_point_t table[KEY_SPLIT][1 << (WIDTH_KEY - 2)];
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

evalnet_r255_key *evalnet_r255_key_new(const uint8_t encoding[32]) {
    decaf_255_point_t p;
    if (decaf_255_point_decode(p, encoding, DECAF_FALSE) != DECAF_SUCCESS) return NULL;
    void *memory = NULL;
    if (posix_memalign(&memory, 64, sizeof(evalnet_r255_key)) != 0) return NULL;
    evalnet_r255_key *key = memory;
    split_tables(&key->table[0][0][0], p, WIDTH_KEY);
    return key;
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

#define BATCH_LEN (CHUNK_BITS > WEIGHT_BITS ? CHUNK_BITS + 1 : WEIGHT_BITS + 1)

typedef struct {
    const evalnet_r255_key *key;
    size_t index;
} key_slot;

static int compare_key_slots(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const key_slot *)a)->key, y = (uintptr_t)((const key_slot *)b)->key;
    return (x > y) - (x < y);
}

int evalnet_r255_verify_batch(size_t n, const evalnet_r255_key *const *keys, const uint8_t *r, const uint8_t *s,
                              const uint8_t *challenges, const uint8_t *weights) {
    if (n == 0) return 1;
    pthread_once(&base_once, init_base_tables);
    const int r_count = 1 << (WIDTH_R - 2);
    /* At most: one R term per signature, KEY_SPLIT terms per distinct key, KEY_SPLIT base terms. */
    const size_t max_terms = n * (1 + KEY_SPLIT) + KEY_SPLIT;
    void *point_memory = NULL;
    if (posix_memalign(&point_memory, 64, n * (size_t)r_count * sizeof(point_s)) != 0) return -1;
    point_s *r_tables = point_memory;
    int8_t *digits = malloc(max_terms * BATCH_LEN);
    int8_t **rows = malloc(max_terms * sizeof(int8_t *));
    const point_s **tables = malloc(max_terms * sizeof(point_s *));
    decaf_255_scalar_t *key_scalars = malloc(n * sizeof(decaf_255_scalar_t));
    key_slot *sorted = malloc(n * sizeof(key_slot));
    int result = 0;
    if (!digits || !rows || !tables || !key_scalars || !sorted) { result = -1; goto done; }

    /* Checked as sum z_i (s_i B - k_i A_i - R_i) = identity: the base gets sum z_i s_i, each
     * distinct key the sum of its -z_i k_i, each R_i the weight -z_i. */
    size_t nterms = 0;
    decaf_255_scalar_t bsum;
    decaf_255_scalar_copy(bsum, decaf_255_scalar_zero);
    for (size_t i = 0; i < n; i++) {
        decaf_255_scalar_t si, nk, z, term;
        if (!prepare_scalars(si, nk, s + 32 * i, challenges + 64 * i)) goto done;
        decaf_255_point_t ri;
        if (decaf_255_point_decode(ri, r + 32 * i, DECAF_TRUE) != DECAF_SUCCESS) goto done;
        odd_multiples(&r_tables[i * r_count], ri, r_count);
        uint8_t zb[32] = {0};
        memcpy(zb, weights + 16 * i, 16);
        if (decaf_255_scalar_decode(z, zb) != DECAF_SUCCESS) goto done; /* cannot happen: z < 2^128 */
        uint64_t zw[4] = {0};
        load_words(zw, weights + 16 * i, 16);
        int8_t *row = rows[nterms] = digits + nterms * BATCH_LEN;
        memset(row, 0, BATCH_LEN);
        wnaf(row, zw, WEIGHT_BITS, WIDTH_R);
        for (int p = 0; p <= WEIGHT_BITS; p++) row[p] = (int8_t)-row[p];
        tables[nterms++] = &r_tables[i * r_count];
        decaf_255_scalar_mul(key_scalars[i], z, nk);
        decaf_255_scalar_mul(term, z, si);
        decaf_255_scalar_add(bsum, bsum, term);
        sorted[i].key = keys[i];
        sorted[i].index = i;
    }
    /* One term per distinct key (a key signing several messages has its scalars summed):
     * order the signatures by key handle, then sum each run. */
    qsort(sorted, n, sizeof *sorted, compare_key_slots);
    for (size_t g = 0; g < n;) {
        decaf_255_scalar_t total;
        decaf_255_scalar_copy(total, decaf_255_scalar_zero);
        size_t h = g;
        for (; h < n && sorted[h].key == sorted[g].key; h++) {
            decaf_255_scalar_add(total, total, key_scalars[sorted[h].index]);
        }
        uint8_t tb[32];
        decaf_255_scalar_encode(tb, total);
        for (int j = 0; j < KEY_SPLIT; j++) {
            rows[nterms] = digits + nterms * BATCH_LEN;
            memset(rows[nterms], 0, BATCH_LEN);
            chunk_wnaf(rows[nterms], tb, j, WIDTH_KEY);
            tables[nterms++] = &sorted[g].key->table[j][0][0];
        }
        g = h;
    }
    uint8_t bb[32];
    decaf_255_scalar_encode(bb, bsum);
    for (int j = 0; j < KEY_SPLIT; j++) {
        rows[nterms] = digits + nterms * BATCH_LEN;
        memset(rows[nterms], 0, BATCH_LEN);
        chunk_wnaf(rows[nterms], bb, j, WIDTH_BASE);
        tables[nterms++] = &base_table[j][0][0];
    }
    decaf_255_point_t sum;
    straus(sum, nterms, rows, tables, BATCH_LEN);
    result = decaf_255_point_eq(sum, decaf_255_point_identity) ? 1 : 0;
done:
    free(point_memory);
    free(digits);
    free(rows);
    free(tables);
    free(key_scalars);
    free(sorted);
    return result;
}
