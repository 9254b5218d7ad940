#!/usr/bin/env python3
"""algo-accuracy: an evalnet example challenge (standard library only).

The miner submits a Python file defining ``predict(features) -> int``. The evaluator
generates a fixed, seeded dataset of 2-D points labelled 1 inside a circle of radius
sqrt(0.5) around the origin (with 5 % label noise), runs ``predict`` on every point and
scores the accuracy (0..1).

Evaluator contract (docs/evaluator-contract.md):
  python3 evaluator.py            read the file named by EVALNET_SUBMISSION, print one JSON result line
                                  exit 0 = scored, 2 = submission rejected
  python3 evaluator.py --serve    HTTP adapter for a VM: GET /health, POST /evaluate
"""

import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEED = 20240611
SAMPLES = 600
NOISE = 0.05


def dataset():
    rng = random.Random(SEED)
    points = []
    for _ in range(SAMPLES):
        x, y = rng.uniform(-1, 1), rng.uniform(-1, 1)
        label = 1 if x * x + y * y < 0.5 else 0
        if rng.random() < NOISE:
            label = 1 - label
        points.append(([x, y], label))
    return points


def result(score, metrics=None, logs=None, error=None):
    return {"score": score, "metrics": metrics or {}, "logs": logs or [], "error": error}


def evaluate(path):
    """Returns (exit_code, result)."""
    logs = []
    try:
        with open(path, "r", encoding="utf-8") as f:
            source = f.read()
    except (OSError, UnicodeDecodeError) as e:
        return 2, result(0.0, error="submission unreadable: %s" % e)
    logs.append("submission: %d bytes" % len(source.encode("utf-8")))
    namespace = {"__name__": "submission"}
    try:
        exec(compile(source, "submission.py", "exec"), namespace)
    except Exception as e:  # the miner's code failed to load
        return 2, result(0.0, logs=logs, error="submission does not load: %s: %s" % (type(e).__name__, e))
    predict = namespace.get("predict")
    if not callable(predict):
        return 2, result(0.0, logs=logs, error="submission defines no predict(features) function")
    data = dataset()
    correct = 0
    positives = 0
    started = time.perf_counter()
    for features, label in data:
        try:
            guess = predict(list(features))
        except Exception as e:
            return 2, result(0.0, logs=logs, error="predict raised %s: %s" % (type(e).__name__, e))
        guess = 1 if guess in (1, True) else 0
        positives += guess
        correct += 1 if guess == label else 0
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    accuracy = correct / len(data)
    logs.append("evaluated %d samples (seed %d)" % (len(data), SEED))
    logs.append("accuracy %.4f" % accuracy)
    metrics = {
        "accuracy": round(accuracy, 6),
        "samples": len(data),
        "correct": correct,
        "predicted_positive": positives,
        "latency_ms": round(elapsed_ms, 3),
    }
    return 0, result(round(accuracy, 6), metrics, logs)


def main_cli():
    path = os.environ.get("EVALNET_SUBMISSION")
    if not path:
        print("EVALNET_SUBMISSION is not set", file=sys.stderr)
        return 1
    code, res = evaluate(path)
    sys.stdout.write(json.dumps(res, sort_keys=True) + "\n")
    sys.stdout.flush()
    return code


class Handler(BaseHTTPRequestHandler):
    server_version = "algo-accuracy/1"

    def _send(self, status, body):
        data = json.dumps(body, sort_keys=True).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("[serve] " + (fmt % args) + "\n")

    def do_GET(self):
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/evaluate":
            self._send(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            if length > 16 * 1024 * 1024:
                self._send(413, {"error": "request too large"})
                return
            job = json.loads(self.rfile.read(length) or b"{}")
            payload = base64.b64decode(job.get("submission_b64", ""), validate=True)
            timeout = float(job.get("timeout_s", 60))
        except (ValueError, TypeError) as e:
            self._send(400, {"error": "bad request: %s" % e})
            return
        name = os.path.basename(job.get("submission_filename") or "submission.py") or "submission.py"
        with tempfile.TemporaryDirectory(prefix="job-") as work:
            sub = os.path.join(work, name)
            with open(sub, "wb") as f:
                f.write(payload)
            env = dict(os.environ)
            env.update({
                "EVALNET_SUBMISSION": sub,
                "EVALNET_WORK_DIR": work,
                "EVALNET_JOB_ID": str(job.get("job_id", "")),
                "EVALNET_CHALLENGE_ID": str(job.get("challenge_id", "")),
                "EVALNET_SUBMISSION_ID": str(job.get("submission_id", "")),
                "EVALNET_MINER_HOTKEY": str(job.get("miner_hotkey", "")),
            })
            try:
                proc = subprocess.run([sys.executable, os.path.abspath(__file__)], cwd=work, env=env,
                                      capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                self._send(504, {"error": "timeout"})
                return
        lines = [l for l in proc.stdout.decode("utf-8", "replace").splitlines() if l.strip()]
        try:
            res = json.loads(lines[-1])
        except (IndexError, ValueError):
            tail = proc.stderr.decode("utf-8", "replace").splitlines()[-10:]
            res = {"score": None, "metrics": {}, "logs": tail,
                   "error": "evaluator exited %d without a result" % proc.returncode}
        res["exit_code"] = proc.returncode
        self._send(200, res)


def main_serve():
    host = os.environ.get("EVALNET_HOST", "0.0.0.0")
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer((host, port), Handler)
    sys.stderr.write("algo-accuracy evaluator listening on %s:%d\n" % (host, port))
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    if "--serve" in sys.argv[1:]:
        main_serve()
    else:
        sys.exit(main_cli())
