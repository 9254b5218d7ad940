/* GF(2^255-19) and edwards25519 point arithmetic for the batch check: variable time, public
 * inputs only. Written for this package from the curve's definition (RFC 7748 field, RFC 9496
 * ristretto255 decoding, the extended-coordinate formulas of Hisil–Wong–Carter–Dawson 2008);
 * libdecaf keeps its field arithmetic private, and the batch needs two things its public API
 * lacks: additions against tables held in affine form (7 multiplications instead of libdecaf's
 * 10), and a decode that returns such coordinates.
 *
 * Field elements: five 51-bit limbs, value = sum v[i]*2^(51i). A product's limbs are below
 * 2^51 + 2^14; r255_sub accepts a subtrahend with limbs below 2^53; products accept limbs
 * below 2^54 (then every column sum stays below 77*2^108 < 2^115 and every carry fits 64
 * bits). Each formula below keeps its sums and differences inside these bounds (the largest:
 * 2Z^2 + X^2 - Y^2 in r255_double, below 2^53.8). */
#ifndef EVALNET_R255_FIELD_H
#define EVALNET_R255_FIELD_H

#include <stdint.h>
#include <string.h>

typedef unsigned __int128 r255_u128;
typedef struct { uint64_t v[5]; } r255_fe;

#define R255_MASK51 ((1ull << 51) - 1)

static const r255_fe r255_zero = {{0, 0, 0, 0, 0}};
static const r255_fe r255_one = {{1, 0, 0, 0, 0}};
/* d = -121665/121666, 2d and sqrt(-1) (RFC 9496 SQRT_M1). */
static const r255_fe r255_d = {{0x34dca135978a3ull, 0x1a8283b156ebdull, 0x5e7a26001c029ull, 0x739c663a03cbbull,
                                0x52036cee2b6ffull}};
static const r255_fe r255_d2 = {{0x69b9426b2f159ull, 0x35050762add7aull, 0x3cf44c0038052ull, 0x6738cc7407977ull,
                                 0x2406d9dc56dffull}};
static const r255_fe r255_sqrt_m1 = {{0x61b274a0ea0b0ull, 0xd5a5fc8f189dull, 0x7ef5e9cbd0c60ull, 0x78595a6804c9eull,
                                      0x2b8324804fc1dull}};

static inline void r255_add(r255_fe *h, const r255_fe *f, const r255_fe *g) {
    for (int i = 0; i < 5; i++) h->v[i] = f->v[i] + g->v[i];
}

/* f - g + 4p, limb by limb: g's limbs must be below 2^53. */
static inline void r255_sub(r255_fe *h, const r255_fe *f, const r255_fe *g) {
    h->v[0] = f->v[0] + 0x1FFFFFFFFFFFB4ull - g->v[0];
    for (int i = 1; i < 5; i++) h->v[i] = f->v[i] + 0x1FFFFFFFFFFFFCull - g->v[i];
}

static inline void r255_carry(r255_fe *h) {
    uint64_t c;
    c = h->v[0] >> 51; h->v[0] &= R255_MASK51; h->v[1] += c;
    c = h->v[1] >> 51; h->v[1] &= R255_MASK51; h->v[2] += c;
    c = h->v[2] >> 51; h->v[2] &= R255_MASK51; h->v[3] += c;
    c = h->v[3] >> 51; h->v[3] &= R255_MASK51; h->v[4] += c;
    c = h->v[4] >> 51; h->v[4] &= R255_MASK51; h->v[0] += 19 * c;
}

static inline void r255_reduce_wide(r255_fe *h, r255_u128 r0, r255_u128 r1, r255_u128 r2, r255_u128 r3,
                                    r255_u128 r4) {
    r1 += (uint64_t)(r0 >> 51);
    r2 += (uint64_t)(r1 >> 51);
    r3 += (uint64_t)(r2 >> 51);
    r4 += (uint64_t)(r3 >> 51);
    r255_u128 c = (r4 >> 51) * 19 + ((uint64_t)r0 & R255_MASK51);
    h->v[0] = (uint64_t)c & R255_MASK51;
    h->v[1] = ((uint64_t)r1 & R255_MASK51) + (uint64_t)(c >> 51);
    h->v[2] = (uint64_t)r2 & R255_MASK51;
    h->v[3] = (uint64_t)r3 & R255_MASK51;
    h->v[4] = (uint64_t)r4 & R255_MASK51;
}

static inline void r255_mul(r255_fe *h, const r255_fe *f, const r255_fe *g) {
    const uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    const uint64_t g0 = g->v[0], g1 = g->v[1], g2 = g->v[2], g3 = g->v[3], g4 = g->v[4];
    const uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
    r255_u128 r0 = (r255_u128)f0 * g0 + (r255_u128)f1 * g4_19 + (r255_u128)f2 * g3_19 + (r255_u128)f3 * g2_19 +
                   (r255_u128)f4 * g1_19;
    r255_u128 r1 = (r255_u128)f0 * g1 + (r255_u128)f1 * g0 + (r255_u128)f2 * g4_19 + (r255_u128)f3 * g3_19 +
                   (r255_u128)f4 * g2_19;
    r255_u128 r2 = (r255_u128)f0 * g2 + (r255_u128)f1 * g1 + (r255_u128)f2 * g0 + (r255_u128)f3 * g4_19 +
                   (r255_u128)f4 * g3_19;
    r255_u128 r3 = (r255_u128)f0 * g3 + (r255_u128)f1 * g2 + (r255_u128)f2 * g1 + (r255_u128)f3 * g0 +
                   (r255_u128)f4 * g4_19;
    r255_u128 r4 = (r255_u128)f0 * g4 + (r255_u128)f1 * g3 + (r255_u128)f2 * g2 + (r255_u128)f3 * g1 +
                   (r255_u128)f4 * g0;
    r255_reduce_wide(h, r0, r1, r2, r3, r4);
}

static inline void r255_sq(r255_fe *h, const r255_fe *f) {
    const uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    const uint64_t f0_2 = 2 * f0, f1_2 = 2 * f1, f1_38 = 38 * f1, f2_38 = 38 * f2, f3_38 = 38 * f3,
                   f3_19 = 19 * f3, f4_19 = 19 * f4;
    r255_u128 r0 = (r255_u128)f0 * f0 + (r255_u128)f1_38 * f4 + (r255_u128)f2_38 * f3;
    r255_u128 r1 = (r255_u128)f0_2 * f1 + (r255_u128)f2_38 * f4 + (r255_u128)f3_19 * f3;
    r255_u128 r2 = (r255_u128)f0_2 * f2 + (r255_u128)f1 * f1 + (r255_u128)f3_38 * f4;
    r255_u128 r3 = (r255_u128)f0_2 * f3 + (r255_u128)f1_2 * f2 + (r255_u128)f4_19 * f4;
    r255_u128 r4 = (r255_u128)f0_2 * f4 + (r255_u128)f1_2 * f3 + (r255_u128)f2 * f2;
    r255_reduce_wide(h, r0, r1, r2, r3, r4);
}

static inline void r255_sq_times(r255_fe *h, const r255_fe *f, int n) {
    r255_sq(h, f);
    for (int i = 1; i < n; i++) r255_sq(h, h);
}

/* The canonical little-endian encoding (value mod p), bit 255 clear. */
static inline void r255_to_bytes(uint8_t out[32], const r255_fe *f) {
    r255_fe h = *f;
    r255_carry(&h);
    r255_carry(&h);
    /* Now 0 <= h < 2^255; h >= p exactly when h + 19 reaches 2^255. */
    uint64_t t[5];
    uint64_t c = 19;
    for (int i = 0; i < 5; i++) {
        t[i] = h.v[i] + c;
        c = t[i] >> 51;
        t[i] &= R255_MASK51;
    }
    if (c != 0) memcpy(h.v, t, sizeof t);
    uint64_t w0 = h.v[0] | h.v[1] << 51, w1 = h.v[1] >> 13 | h.v[2] << 38, w2 = h.v[2] >> 26 | h.v[3] << 25,
             w3 = h.v[3] >> 39 | h.v[4] << 12;
    const uint64_t words[4] = {w0, w1, w2, w3};
    for (int i = 0; i < 32; i++) out[i] = (uint8_t)(words[i / 8] >> (8 * (i % 8)));
}

/* Bits 0...254 of the little-endian bytes (bit 255 ignored; the value may be >= p). */
static inline void r255_from_bytes(r255_fe *h, const uint8_t in[32]) {
    uint64_t w[4] = {0, 0, 0, 0};
    for (int i = 0; i < 32; i++) w[i / 8] |= (uint64_t)in[i] << (8 * (i % 8));
    h->v[0] = w[0] & R255_MASK51;
    h->v[1] = (w[0] >> 51 | w[1] << 13) & R255_MASK51;
    h->v[2] = (w[1] >> 38 | w[2] << 26) & R255_MASK51;
    h->v[3] = (w[2] >> 25 | w[3] << 39) & R255_MASK51;
    h->v[4] = (w[3] >> 12) & R255_MASK51;
}

static inline int r255_is_zero(const r255_fe *f) {
    uint8_t b[32];
    r255_to_bytes(b, f);
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++) acc |= b[i];
    return acc == 0;
}

static inline int r255_is_negative(const r255_fe *f) {
    uint8_t b[32];
    r255_to_bytes(b, f);
    return b[0] & 1;
}

static inline int r255_eq(const r255_fe *f, const r255_fe *g) {
    r255_fe d;
    r255_sub(&d, f, g);
    return r255_is_zero(&d);
}

static inline void r255_neg(r255_fe *h, const r255_fe *f) { r255_sub(h, &r255_zero, f); r255_carry(h); }

/* f^11 and f^(2^250 - 1), the common start of the two exponentiations below. */
static inline void r255_pow_common(r255_fe *f11, r255_fe *f250, const r255_fe *f) {
    r255_fe t0, t1, t2, t3;
    r255_sq(&t0, f);               /* 2 */
    r255_sq_times(&t1, &t0, 2);    /* 8 */
    r255_mul(&t1, f, &t1);         /* 9 */
    r255_mul(f11, &t0, &t1);       /* 11 */
    r255_sq(&t0, f11);             /* 22 */
    r255_mul(&t0, &t1, &t0);       /* 2^5 - 1 */
    r255_sq_times(&t1, &t0, 5);
    r255_mul(&t0, &t1, &t0);       /* 2^10 - 1 */
    r255_sq_times(&t1, &t0, 10);
    r255_mul(&t1, &t1, &t0);       /* 2^20 - 1 */
    r255_sq_times(&t2, &t1, 20);
    r255_mul(&t1, &t2, &t1);       /* 2^40 - 1 */
    r255_sq_times(&t1, &t1, 10);
    r255_mul(&t0, &t1, &t0);       /* 2^50 - 1 */
    r255_sq_times(&t1, &t0, 50);
    r255_mul(&t1, &t1, &t0);       /* 2^100 - 1 */
    r255_sq_times(&t3, &t1, 100);
    r255_mul(&t1, &t3, &t1);       /* 2^200 - 1 */
    r255_sq_times(&t1, &t1, 50);
    r255_mul(f250, &t1, &t0);      /* 2^250 - 1 */
}

/* 1/f = f^(p-2) = f^(2^255 - 21); 0 for 0. */
static inline void r255_invert(r255_fe *h, const r255_fe *f) {
    r255_fe f11, t;
    r255_pow_common(&f11, &t, f);
    r255_sq_times(&t, &t, 5);      /* 2^255 - 32 */
    r255_mul(h, &t, &f11);
}

/* f^((p-5)/8) = f^(2^252 - 3). */
static inline void r255_pow_p58(r255_fe *h, const r255_fe *f) {
    r255_fe f11, t;
    r255_pow_common(&f11, &t, f);
    r255_sq_times(&t, &t, 2);      /* 2^252 - 4 */
    r255_mul(h, &t, f);
}

/* RFC 9496 SQRT_RATIO_M1(1, v): *r = the non-negative 1/sqrt(v) or sqrt(i/v); 1 when v is a
 * non-zero square. */
static inline int r255_inv_sqrt(r255_fe *r, const r255_fe *v) {
    r255_fe v3, v7, t, check, neg_one, neg_i;
    r255_sq(&t, v);
    r255_mul(&v3, &t, v);          /* v^3 */
    r255_sq(&t, &v3);
    r255_mul(&v7, &t, v);          /* v^7 */
    r255_pow_p58(&t, &v7);
    r255_mul(r, &v3, &t);          /* v^3 (v^7)^((p-5)/8) */
    r255_sq(&t, r);
    r255_mul(&check, v, &t);
    r255_neg(&neg_one, &r255_one);
    neg_i = r255_sqrt_m1;
    r255_neg(&neg_i, &neg_i);
    int correct = r255_eq(&check, &r255_one);
    int flipped = r255_eq(&check, &neg_one);
    int flipped_i = r255_eq(&check, &neg_i);
    if (flipped || flipped_i) r255_mul(r, r, &r255_sqrt_m1);
    if (r255_is_negative(r)) r255_neg(r, r);
    return correct || flipped;
}

/* Extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
typedef struct { r255_fe X, Y, Z, T; } r255_point;
/* An affine point as (y - x, y + x, 2d*x*y): added in 7 multiplications. */
typedef struct { r255_fe ymx, ypx, t2d; } r255_affine;
/* A projective point as (Y - X, Y + X, 2Z, 2d*T): added in 8 multiplications. */
typedef struct { r255_fe ymx, ypx, z2, t2d; } r255_cached;

static const r255_point r255_identity = {{{0}}, {{1}}, {{1}}, {{0}}};

/* RFC 9496 ristretto255 decode: 1 and the point when `in` is a canonical encoding (identity
 * included), else 0. */
static inline int r255_decode(r255_point *p, const uint8_t in[32]) {
    r255_fe s;
    r255_from_bytes(&s, in);
    uint8_t again[32];
    r255_to_bytes(again, &s);
    if (memcmp(again, in, 32) != 0 || (in[0] & 1) != 0) return 0; /* non-canonical or negative */
    r255_fe ss, u1, u2, u2sq, v, t, inv, den_x, den_y, x, y;
    r255_sq(&ss, &s);
    r255_sub(&u1, &r255_one, &ss);
    r255_carry(&u1);
    r255_add(&u2, &r255_one, &ss);
    r255_sq(&u2sq, &u2);
    r255_sq(&t, &u1);
    r255_mul(&t, &t, &r255_d);     /* d u1^2 */
    r255_add(&t, &t, &u2sq);
    r255_neg(&v, &t);              /* -d u1^2 - u2^2 */
    r255_mul(&t, &v, &u2sq);
    int square = r255_inv_sqrt(&inv, &t);
    r255_mul(&den_x, &inv, &u2);
    r255_mul(&den_y, &inv, &den_x);
    r255_mul(&den_y, &den_y, &v);
    r255_add(&t, &s, &s);
    r255_mul(&x, &t, &den_x);
    if (r255_is_negative(&x)) r255_neg(&x, &x);
    r255_mul(&y, &u1, &den_y);
    r255_mul(&t, &x, &y);
    if (!square || r255_is_negative(&t) || r255_is_zero(&y)) return 0;
    p->X = x;
    p->Y = y;
    p->Z = r255_one;
    p->T = t;
    return 1;
}

static inline void r255_to_cached(r255_cached *c, const r255_point *p) {
    r255_sub(&c->ymx, &p->Y, &p->X);
    r255_carry(&c->ymx);
    r255_add(&c->ypx, &p->Y, &p->X);
    r255_carry(&c->ypx);
    r255_add(&c->z2, &p->Z, &p->Z);
    r255_carry(&c->z2);
    r255_mul(&c->t2d, &p->T, &r255_d2);
}

/* r = p + q (sub: p - q) for q given as (Y+X, Y-X, 2dT) with `zz` = 2·Z_p·Z_q already
 * computed (the cached and affine forms differ only there). With `need_t` 0, r->T is left
 * unset (a doubling, which never reads T, comes next): one multiplication fewer. */
static inline void r255_add_with_t(r255_point *r, const r255_point *p, const r255_fe *ypx, const r255_fe *ymx,
                                   const r255_fe *t2d, const r255_fe *zz, int sub, int need_t) {
    r255_fe a, b, c, e, f, g, h;
    r255_sub(&a, &p->Y, &p->X);
    r255_add(&b, &p->Y, &p->X);
    r255_mul(&a, &a, sub ? ypx : ymx);
    r255_mul(&b, &b, sub ? ymx : ypx);
    r255_mul(&c, &p->T, t2d);
    r255_sub(&e, &b, &a);
    r255_add(&h, &b, &a);
    if (sub) {
        r255_add(&f, zz, &c);
        r255_sub(&g, zz, &c);
    } else {
        r255_sub(&f, zz, &c);
        r255_add(&g, zz, &c);
    }
    r255_mul(&r->X, &e, &f);
    r255_mul(&r->Y, &g, &h);
    if (need_t) r255_mul(&r->T, &e, &h);
    r255_mul(&r->Z, &f, &g);
}

static inline void r255_add_with(r255_point *r, const r255_point *p, const r255_fe *ypx, const r255_fe *ymx,
                                 const r255_fe *t2d, const r255_fe *zz, int sub) {
    r255_add_with_t(r, p, ypx, ymx, t2d, zz, sub, 1);
}

/* r = p + q (sub: p - q), q cached. */
static inline void r255_add_cached(r255_point *r, const r255_point *p, const r255_cached *q, int sub) {
    r255_fe zz;
    r255_mul(&zz, &p->Z, &q->z2);
    r255_add_with(r, p, &q->ypx, &q->ymx, &q->t2d, &zz, sub);
}

/* r = p + q (sub: p - q), q affine (Z = 1). */
static inline void r255_add_affine(r255_point *r, const r255_point *p, const r255_affine *q, int sub) {
    r255_fe zz;
    r255_add(&zz, &p->Z, &p->Z);
    r255_add_with(r, p, &q->ypx, &q->ymx, &q->t2d, &zz, sub);
}

/* r = 2p (every coordinate negated, the same projective point); T is read from no input, and
 * with `need_t` 0 r->T is left unset (another doubling comes next). */
static inline void r255_double_t(r255_point *r, const r255_point *p, int need_t) {
    r255_fe xx, yy, zz2, s, ysum, zdiff, xe, te;
    r255_sq(&xx, &p->X);
    r255_sq(&yy, &p->Y);
    r255_sq(&zz2, &p->Z);
    r255_add(&zz2, &zz2, &zz2);
    r255_add(&s, &p->X, &p->Y);
    r255_sq(&s, &s);
    r255_add(&ysum, &yy, &xx);
    r255_sub(&zdiff, &yy, &xx);
    r255_sub(&xe, &s, &ysum);
    r255_add(&te, &zz2, &xx);
    r255_sub(&te, &te, &yy);       /* 2Z^2 - (Y^2 - X^2) */
    r255_mul(&r->X, &xe, &te);
    r255_mul(&r->Y, &ysum, &zdiff);
    r255_mul(&r->Z, &zdiff, &te);
    if (need_t) r255_mul(&r->T, &xe, &ysum);
}

static inline void r255_double(r255_point *r, const r255_point *p) { r255_double_t(r, p, 1); }

/* 1/sqrt(a - d), a = -1 (RFC 9496 INVSQRT_A_MINUS_D). */
static const r255_fe r255_invsqrt_a_minus_d = {{0xfdaa805d40eaull, 0x2eb482e57d339ull, 0x7610274bc58ull,
                                                0x6510b613dc8ffull, 0x786c8905cfaffull}};

/* RFC 9496 ristretto255 encode of p (every coordinate set, T included). */
static inline void r255_encode(uint8_t out[32], const r255_point *p) {
    r255_fe u1, u2, t, inv, den1, den2, zinv, x, y, den_inv;
    r255_add(&t, &p->Z, &p->Y);
    r255_sub(&u1, &p->Z, &p->Y);
    r255_mul(&u1, &t, &u1);                 /* (Z + Y)(Z - Y) */
    r255_mul(&u2, &p->X, &p->Y);
    r255_sq(&t, &u2);
    r255_mul(&t, &t, &u1);
    (void)r255_inv_sqrt(&inv, &t);          /* 1/sqrt(u1 u2^2) */
    r255_mul(&den1, &inv, &u1);
    r255_mul(&den2, &inv, &u2);
    r255_mul(&zinv, &den1, &den2);
    r255_mul(&zinv, &zinv, &p->T);
    r255_mul(&t, &p->T, &zinv);
    if (r255_is_negative(&t)) {             /* rotate */
        r255_mul(&x, &p->Y, &r255_sqrt_m1);
        r255_mul(&y, &p->X, &r255_sqrt_m1);
        r255_mul(&den_inv, &den1, &r255_invsqrt_a_minus_d);
    } else {
        x = p->X;
        y = p->Y;
        den_inv = den2;
    }
    r255_mul(&t, &x, &zinv);
    if (r255_is_negative(&t)) r255_neg(&y, &y);
    r255_sub(&t, &p->Z, &y);
    r255_mul(&t, &den_inv, &t);
    if (r255_is_negative(&t)) r255_neg(&t, &t);
    r255_to_bytes(out, &t);
}

/* Ristretto equality with the identity: X = 0 or Y = 0. */
static inline int r255_is_identity(const r255_point *p) { return r255_is_zero(&p->X) || r255_is_zero(&p->Y); }

/* out[i] = affine form of p[i] for i < n, with one inversion (Montgomery's trick); scratch
 * holds n field elements. Every Z must be non-zero (true of points on the curve). */
static inline void r255_batch_to_affine(r255_affine *out, const r255_point *p, size_t n, r255_fe *scratch) {
    if (n == 0) return;
    r255_fe acc = p[0].Z;
    scratch[0] = acc;
    for (size_t i = 1; i < n; i++) {
        r255_mul(&acc, &acc, &p[i].Z);
        scratch[i] = acc;
    }
    r255_fe inv;
    r255_invert(&inv, &acc);
    for (size_t i = n; i-- > 0;) {
        r255_fe zinv;
        if (i > 0) {
            r255_mul(&zinv, &inv, &scratch[i - 1]);
            r255_mul(&inv, &inv, &p[i].Z);
        } else {
            zinv = inv;
        }
        r255_fe x, y, xy;
        r255_mul(&x, &p[i].X, &zinv);
        r255_mul(&y, &p[i].Y, &zinv);
        r255_mul(&xy, &x, &y);
        r255_sub(&out[i].ymx, &y, &x);
        r255_carry(&out[i].ymx);
        r255_add(&out[i].ypx, &y, &x);
        r255_carry(&out[i].ypx);
        r255_mul(&out[i].t2d, &xy, &r255_d2);
    }
}

#endif
