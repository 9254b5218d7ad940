"""Signed, schema-aware fuzzing of a running pool or platform (a manual tool; the suite's
hostile-input tests are the CI gate). Each request carries a fresh schnorrkel signature, so it
gets past authentication into validation and the store; bodies are valid requests with random
values swapped in (huge and fractional numbers, NaN, NUL and odd unicode, wrong types, deep
nesting). Prints the status counts per route and every 5xx with the body that caused it.

  pip install py-sr25519-bindings base58 requests
  python scripts/fuzz_signed.py pool http://127.0.0.1:8434 60
  python scripts/fuzz_signed.py platform http://127.0.0.1:8435 60 ADMIN_TOKEN VALIDATOR_SEED_HEX
"""
import collections, hashlib, json, random, sys, time
import base58, requests, sr25519

rng = random.Random(20261130)
NASTY = [0, -1, 1.5, 1e20, 1e308, -1e308, 2**31, 2**32, 2**63 - 1, 2**63, 2**64, -2**63, "NaN", None, True, "",
         "\u0000", "a\u0000b", "\ud7ff\ue000\U0010ffff", "x" * 70000, [], {}, [[[[[[[[[[1]]]]]]]]]], {"a": {"b": {"c": 1}}},
         "0x" + "f" * 64, "' OR 1=1 --", "%00", "../../etc/passwd"]


def ss58(pub, prefix=42):
    data = bytes([prefix]) + pub
    return base58.b58encode(data + hashlib.blake2b(b"SS58PRE" + data, digest_size=64).digest()[:2]).decode()


class Key:
    def __init__(self, seed):
        self.kp = sr25519.pair_from_seed(seed)
        self.addr = ss58(self.kp[0])

    def headers(self, extra=None):
        ts = str(int(time.time()))
        h = {"X-Key": self.addr, "X-Timestamp": ts, "X-Signature": sr25519.sign(self.kp, f"auth:{ts}".encode()).hex(),
             "Content-Type": "application/json"}
        h.update(extra or {})
        return h


def mutate(value, depth=0):
    """A copy of `value` with one random leaf (or the whole value) replaced."""
    if depth > 4 or rng.random() < 0.25 or not isinstance(value, (dict, list)) or not value:
        return rng.choice(NASTY)
    if isinstance(value, dict):
        out = dict(value)
        k = rng.choice(list(out))
        if rng.random() < 0.1:
            del out[k]
        else:
            out[k] = mutate(out[k], depth + 1)
        return out
    out = list(value)
    i = rng.randrange(len(out))
    out[i] = mutate(out[i], depth + 1)
    return out


def encode(body):
    text = json.dumps(body, allow_nan=True)
    return text.replace('"NaN"', "NaN") if rng.random() < 0.3 else text


class Fuzzer:
    def __init__(self, base):
        self.base, self.s = base, requests.Session()
        self.counts, self.failures = collections.Counter(), []

    def call(self, method, route, path, headers, body=None):
        data = None if body is None else (body if isinstance(body, str) else encode(body))
        try:
            r = self.s.request(method, self.base + path, headers=headers, data=data, timeout=30)
            status = r.status_code
        except requests.RequestException as e:
            status, r = f"exc:{type(e).__name__}", None
        self.counts[(route, status)] += 1
        if not isinstance(status, int) or status >= 500:
            self.failures.append((route, status, path, (data or "")[:300], r.text[:300] if r is not None else ""))
        return r

    def report(self):
        for (route, status), n in sorted(self.counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
            print(f"{route:48s} {status}: {n}")
        print(f"5xx or transport errors: {len(self.failures)}")
        for f in self.failures[:20]:
            print("  ", f)


def fuzz_pool(f, seconds):
    miners = [Key(hashlib.sha256(f"fuzz-{i}".encode()).digest()) for i in range(4)]
    for m in miners:
        f.call("POST", "register", "/api/v1/miners/register", m.headers(), "{}")
    end = time.time() + seconds
    while time.time() < end:
        m = rng.choice(miners)
        lease_body = {"task_type": rng.choice(["scalar_linear", "cifar10_binary"]), "eval_batch_size": 4, "seed_batch_size": 2,
                      "gossip_limit": 2}
        r = f.call("POST", "lease", "/api/v1/tasks/lease", m.headers(), mutate(lease_body) if rng.random() < 0.3 else lease_body)
        lease = r.json() if r is not None and r.status_code == 200 else None
        if lease:
            ids = [a["id"] for a in lease.get("evaluate_algorithms", [])]
            seeds = [a["id"] for a in lease.get("seed_algorithms", [])]
            good = {"evaluations": [{"algorithm_id": i, "score": rng.random()} for i in ids],
                    "evolutions": [{"parent_algorithm_ids": seeds[:1], "algorithm_dsl": "# predict\ns0 = dot(v0, v1)"}],
                    "gossip": {"task_type": "scalar_linear", "algorithm_ids": ids[:1]}, "iterations": 1}
            for _ in range(3):
                f.call("POST", "submit_lease", f"/api/v1/tasks/{lease['lease_id']}/submit_lease", m.headers(), mutate(good))
            f.call("POST", "submit_lease", f"/api/v1/tasks/{lease['lease_id']}/submit_lease", m.headers(), good)
        f.call("POST", "request", "/api/v1/tasks/request", m.headers(), mutate({"task_type": "evaluate", "problem_type": "scalar_linear"}))
        q = rng.choice(["limit=%s" % rng.choice(["0", "-1", "99999999999999999999", "%00", "abc"]), "task_type=%00", "min_score=NaN",
                        "min_score=1e400", "status=%ff"])
        f.call("GET", "results", f"/api/v1/results?{q}", m.headers())
        f.call("GET", "sota", f"/api/v1/results/sota?{q}", {})
        f.call("GET", "leaderboard", f"/api/v1/miners/leaderboard?{q}", {})
        f.call("POST", "verify", f"/api/v1/results/verify/{rng.choice(['1', '-1', '99999999999999999999', '%00', 'x'])}", m.headers())
        f.call("GET", "stats", "/api/v1/miners/stats", m.headers())


def fuzz_platform(f, seconds, admin, validator_seed):
    admin_h = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
    v = Key(bytes.fromhex(validator_seed))
    vh = lambda: v.headers({"X-Validator-Hotkey": v.addr})  # noqa: E731
    challenge = {"name": "fuzz", "github_repo": "https://github.com/o/r", "github_commit": "0123456789abcdef",
                 "compose_hash": "sha256:abc", "mechanism_id": 1, "emission_share": 0.1, "validators_per_submission": 2,
                 "max_retries": 1, "claim_timeout_s": 600}
    r = f.call("POST", "create_challenge", "/admin/challenges", admin_h, challenge)
    ch = r.json()["id"] if r is not None and r.status_code == 201 else None
    miners = [Key(hashlib.sha256(f"pm-{i}".encode()).digest()) for i in range(4)]
    end = time.time() + seconds
    while time.time() < end:
        c = mutate(challenge)
        if isinstance(c, dict):
            c["name"] = f"fz-{rng.random()}" if rng.random() < 0.7 else c.get("name")
        f.call("POST", "create_challenge", "/admin/challenges", admin_h, c)
        if ch:
            f.call("PATCH", "patch_challenge", f"/admin/challenges/{ch}", admin_h, mutate({"emission_share": 0.1, "max_retries": 1}))
            f.call("POST", "submit", f"/challenges/{ch}/submissions", rng.choice(miners).headers(),
                   mutate({"code": "print(1)"}) if rng.random() < 0.5 else {"code": "print(%d)" % rng.randrange(10**6)})
            f.call("POST", "query", f"/challenges/{ch}/orm/query", vh(),
                   mutate({"query": "SELECT * FROM agents WHERE miner_hotkey = ?", "params": ["x"]}))
        r = f.call("GET", "pending", "/jobs/pending?limit=%s" % rng.choice(["5", "0", "-1", "%00", "9" * 30]), vh())
        jobs = r.json().get("jobs", []) if r is not None and r.status_code == 200 else []
        if jobs:
            job = jobs[0]["id"]
            f.call("POST", "claim", f"/jobs/{job}/claim", vh())
            f.call("POST", "start", f"/jobs/{job}/start", vh())
            good = {"score": 0.5, "metrics": {"a": 1}, "logs": ["x"], "execution_time_ms": 5}
            for _ in range(2):
                f.call("POST", "results", f"/jobs/{job}/results", vh(), mutate(good))
            f.call("POST", "results", f"/jobs/{job}/results", vh(), good)
        f.call("GET", "weights", f"/mechanisms/{rng.choice(['1', '-1', '256', '9' * 25, '%00'])}/weights", {})


if __name__ == "__main__":
    service, base, seconds = sys.argv[1], sys.argv[2].rstrip("/"), float(sys.argv[3])
    fz = Fuzzer(base)
    if service == "pool":
        fuzz_pool(fz, seconds)
    else:
        fuzz_platform(fz, seconds, sys.argv[4], sys.argv[5])
    fz.report()
    sys.exit(1 if fz.failures else 0)
