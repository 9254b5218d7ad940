/* Ristretto255 verification arithmetic over libdecaf (decaf_255 is ristretto255).
 *
 * Everything here is VARIABLE TIME and meant for public inputs only (signature verification).
 * Secret-key operations stay in libsodium. Scalars are 32-byte little-endian; points are
 * 32-byte canonical ristretto255 encodings; challenges are 64-byte wide values reduced mod l. */
#ifndef EVALNET_CDECAF_H
#define EVALNET_CDECAF_H

#include <stddef.h>
#include <stdint.h>

/* A decoded public key with precomputed multiples for fast repeated verification. */
typedef struct evalnet_r255_key evalnet_r255_key;

/* Decodes a canonical, non-identity encoding and precomputes its tables; NULL when the bytes
 * are not such an encoding (or memory is exhausted). */
evalnet_r255_key *evalnet_r255_key_new(const uint8_t encoding[32]);
void evalnet_r255_key_free(evalnet_r255_key *key);

/* Builds the key's tables for batch checks (7.5 KiB, once: later calls return at once). The
 * caller serialises the first call per key and publishes its effect to the threads that pass
 * the key to evalnet_r255_verify_batch. 1 when the tables are ready, 0 when they cannot be
 * built (memory exhausted, or an encoding only libdecaf decodes). */
int evalnet_r255_key_prepare_batch(evalnet_r255_key *key);

/* 1 when `encoding` is a canonical ristretto255 encoding (the identity included), else 0. */
int evalnet_r255_is_valid_point(const uint8_t encoding[32]);

/* 1 when encode(s*B - k*A) == R, with k = challenge mod l; 0 otherwise, and 0 when s is not
 * canonical, A does not decode to a non-identity point, or k is 0 mod l. */
int evalnet_r255_verify(const uint8_t r[32], const uint8_t s[32], const uint8_t a[32],
                        const uint8_t challenge[64]);

/* The same check and answers as evalnet_r255_verify, for a key used once: in this package's
 * field arithmetic, with a small table of the key's multiples built on the spot and the base
 * point's static table (no per-key tables are kept). */
int evalnet_r255_verify_once(const uint8_t r[32], const uint8_t s[32], const uint8_t a[32],
                             const uint8_t challenge[64]);

/* A decoded point as evalnet_r255_decode_point stores it (this package's extended coordinates). */
#define EVALNET_R255_POINT_BYTES 160

/* Decodes `encoding` with this package's decoder (as evalnet_r255_batch_decodes: canonical
 * encodings, the identity included) into `point`; 1 when it decodes, else 0. */
int evalnet_r255_decode_point(uint8_t point[EVALNET_R255_POINT_BYTES], const uint8_t encoding[32]);

/* evalnet_r255_verify_once with A already decoded by evalnet_r255_decode_point from
 * `a` (its encoding, used only if the static tables could not be built). */
int evalnet_r255_verify_once_point(const uint8_t r[32], const uint8_t s[32],
                                   const uint8_t point[EVALNET_R255_POINT_BYTES], const uint8_t a[32],
                                   const uint8_t challenge[64]);

/* The same check against a prepared key. */
int evalnet_r255_verify_key(const evalnet_r255_key *key, const uint8_t r[32], const uint8_t s[32],
                            const uint8_t challenge[64]);

/* Batch check of n signatures (schnorrkel verify_batch semantics): with 16-byte random
 * weights z_i, 1 when sum z_i*R_i + sum (z_i*k_i)*A_i - (sum z_i*s_i)*B is the identity.
 * r, s: 32n bytes; challenges: 64n; weights: 16n; keys[i] prepared by
 * evalnet_r255_key_prepare_batch, or NULL for a key used once: then A_i is read from
 * points[EVALNET_R255_POINT_BYTES*i...] (stored by evalnet_r255_decode_point; the identity
 * is refused) and gets a small table of its own, built on the spot (its signatures are not
 * grouped). 0 when the equation fails or any R_i,
 * s_i, k_i or key is unusable (caller then checks one by one). -1 when memory is exhausted. */
int evalnet_r255_verify_batch(size_t n, const evalnet_r255_key *const *keys, const uint8_t *points,
                              const uint8_t *r, const uint8_t *s, const uint8_t *challenges,
                              const uint8_t *weights);

/* 1 when this package's own ristretto255 decoder (the batch and single-use checks') accepts
 * `encoding`; it must accept exactly what libdecaf and libsodium accept, the identity included
 * (public keys are checked with it). Variable time. */
int evalnet_r255_batch_decodes(const uint8_t encoding[32]);

#endif
