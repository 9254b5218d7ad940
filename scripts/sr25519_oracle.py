#!/usr/bin/env python3
"""Independent check of evalnet's SR25519 signatures with py-sr25519-bindings (Rust schnorrkel).

Input (stdin): JSON list of {"public_key": hex, "message": hex, "signature": hex}.
Output (stdout): JSON list of booleans, one per item. Exit 3 when the module is missing.
With --bench N: prints verifications per second of the reference implementation instead.
"""
import json
import os
import sys
import time

try:
    import sr25519
except ImportError:
    sys.exit(3)


def verify(item):
    try:
        return bool(sr25519.verify(bytes.fromhex(item["signature"]), bytes.fromhex(item["message"]),
                                   bytes.fromhex(item["public_key"])))
    except ValueError:
        return False  # the bindings raise for structurally bad input


if len(sys.argv) == 3 and sys.argv[1] == "--bench":
    n = int(sys.argv[2])
    seed = bytes(range(32))
    pk, sk = sr25519.pair_from_seed(seed)
    msg = b"auth:1700000000"
    sig = sr25519.sign((pk, sk), msg)
    start = time.perf_counter()
    for _ in range(n):
        sr25519.verify(sig, msg, pk)
    elapsed = time.perf_counter() - start
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else "?"
    print(f"reference.py_sr25519_bindings.verify_15B {n / elapsed:.0f}/s ({elapsed / n * 1e6:.1f} us/op, {n} ops, cpus {cpus})")
    sys.exit(0)

print(json.dumps([verify(item) for item in json.load(sys.stdin)]))
