/// The hostile evaluator of the sandbox tests (Python), written into a challenge checkout
/// by `SandboxTests`. Each attack tries to break out of the local executor's sandbox; every
/// attempt is reported on stderr as "<what>: LEAKED|denied: <detail>". When something leaked
/// the evaluator prints a result with score 1 and the loot (the tests expect never to see
/// it); when every attempt was refused it exits 1 with the line "all attempts denied: …",
/// which becomes the job's error. `ok` is a normal evaluation (score 0.5).
let hostileEvaluator = #"""
#!/usr/bin/env python3
"""A hostile evaluator for the sandbox tests: `hostile.py ATTACK`.

Each attack tries to break out of the local executor's sandbox. Every attempt is
reported on stderr as "<what>: LEAKED|denied: <detail>". When something leaked, the
evaluator prints a result with score 1 and the loot (the tests expect never to see
it); when every attempt was refused it exits 1 with the line "all attempts denied: …",
which becomes the job's error. `ok` is a normal evaluation (score 0.5).
"""

import glob
import json
import os
import socket
import subprocess
import sys

attack = sys.argv[1]
env = os.environ
results = []


def attempt(what, action):
    try:
        detail = action()
    except Exception as e:  # the sandbox said no
        results.append((what, "denied", "%s: %s" % (type(e).__name__, e)))
        return
    if detail is None:
        results.append((what, "denied", "nothing there"))
    else:
        results.append((what, "LEAKED", str(detail)[:300]))


def finish(extra=""):
    leaked = [r for r in results if r[1] == "LEAKED"]
    for what, verdict, detail in results:
        print("%s: %s: %s" % (what, verdict, detail), file=sys.stderr)
    if leaked:
        print(json.dumps({"score": 1, "metrics": {"leaked": ["%s: %s" % (w, d) for w, _, d in leaked]}}))
        sys.exit(0)
    print("all attempts denied: " + extra + "; ".join("%s: %s" % (w, d) for w, _, d in results), file=sys.stderr)
    sys.exit(1)


def read(path):
    with open(path, "rb") as f:
        return f.read()


if attack == "ok":
    print(json.dumps({"score": 0.5, "logs": ["a normal evaluation"]}))
    sys.exit(0)

elif attack == "key":
    key = env["KEY_FILE"]
    validator = env["VALIDATOR_PID"]
    for path in [key, "/proc/%d/root%s" % (os.getppid(), key), "/proc/1/root" + key, "/proc/%s/root%s" % (validator, key),
                 os.path.dirname(key) + "/config.toml"]:
        attempt("read " + path, lambda p=path: read(p))
    own = set(env)

    def foreign_environment(path):
        names = {e.split(b"=", 1)[0].decode(errors="replace") for e in read(path).split(b"\0") if e}
        foreign = sorted(names - own)
        return ("variables not in the sandbox: %s" % foreign) if foreign else None

    for path in ["/proc/%d/environ" % os.getppid(), "/proc/1/environ", "/proc/%s/environ" % validator]:
        attempt("environment of " + path, lambda p=path: foreign_environment(p))
    attempt("list " + os.path.dirname(key), lambda: os.listdir(os.path.dirname(key)))
    finish()

elif attack == "write":
    targets = [env["EVALNET_CHALLENGE_DIR"] + "/pwned", os.path.dirname(env["KEY_FILE"]) + "/pwned",
               env["JOBS_ROOT"] + "/pwned", env["HOST_TMP"] + "/pwned", "/usr/pwned", "/etc/pwned", "/pwned",
               "/.evalnet/in/pwned", "/proc/sys/kernel/hostname"]
    for path in targets:
        def write(p=path):
            with open(p, "w") as f:
                f.write("pwned")
            return "wrote " + p
        attempt("write " + path, write)
    finish()

elif attack == "otherjob":
    other = env["OTHER_JOB"]
    attempt("list " + env["JOBS_ROOT"], lambda: os.listdir(env["JOBS_ROOT"]))
    attempt("list " + other, lambda: os.listdir(other))
    attempt("read " + other + "/secret.txt", lambda: read(other + "/secret.txt"))
    attempt("job directories next to mine", lambda: [n for n in os.listdir(os.path.dirname(os.getcwd())) if n.startswith("job-")] or None)

    def running_job_files():
        found = []
        for path in glob.glob("/proc/[0-9]*/root/job/*.txt") + glob.glob("/proc/[0-9]*/cwd/*.txt") + glob.glob("/job/*.txt"):
            try:
                if b"RUNNING-JOB-SECRET" in read(path):
                    found.append(path)
            except OSError:
                pass
        return found or None

    attempt("files of the running job", running_job_files)
    finish()

elif attack == "net":
    port = int(env["PORT"])
    attempt("connect 127.0.0.1:%d" % port, lambda: socket.create_connection(("127.0.0.1", port), timeout=3).close() or "connected")
    attempt("connect [::1]:%d" % port, lambda: socket.create_connection(("::1", port), timeout=3).close() or "connected")
    finish()

elif attack == "fork":
    forked = 0
    error = None
    try:
        for _ in range(10000):
            pid = os.fork()
            if pid == 0:
                try:
                    os.execvp("sleep", ["sleep", env["MARKER"]])
                finally:
                    os._exit(127)
            forked += 1
    except OSError as e:
        error = e
    if error is None:
        results.append(("fork 10000 processes", "LEAKED", "forked %d" % forked))
    else:
        results.append(("fork 10000 processes", "denied", "fork failed after %d: %s" % (forked, error)))
    finish()

elif attack == "disk":
    chunk = b"\0" * (1 << 20)
    written = 0
    error = None
    try:
        for i in range(10240):  # 10 GiB in 1 MiB chunks, 32 MiB per file, across /job, /tmp and /dev/shm
            directory = ["/job", "/tmp", "/dev/shm"][(i // 32) % 3]
            with open("%s/fill-%d" % (directory, i // 32), "ab") as f:
                f.write(chunk)
            written += len(chunk)
    except OSError as e:
        error = e
    if error is None:
        results.append(("write 10 GiB", "LEAKED", "wrote %d bytes" % written))
    else:
        results.append(("write 10 GiB", "denied", "stopped after %d MiB: %s" % (written >> 20, error)))
    finish()

elif attack == "child":
    # A session leader of its own, and a double-forked daemon: both outlive the evaluator
    # unless the sandbox ends them.
    subprocess.Popen(["sleep", env["MARKER"]], start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", env["MARKER"]])
        os._exit(0)
    os.wait()
    print(json.dumps({"score": 0.9, "logs": ["left two sleepers behind"]}))
    sys.exit(0)

elif attack == "userns":
    # A user namespace of its own would let it mount a tmpfs past the work directory's size
    # (and reach much more of the kernel).
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWUSER, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x00020000, 17

    def syscall_unshare():
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0:
            return "unshare(CLONE_NEWUSER) succeeded"
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))

    def syscall_clone():
        nr = {"x86_64": 56, "aarch64": 220}[os.uname().machine]
        pid = libc.syscall(nr, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
        if pid == 0:
            os._exit(0)
        if pid > 0:
            os.waitpid(pid, 0)
            return "clone(CLONE_NEWUSER) succeeded"
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))

    def tool():
        out = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                              "mount -t tmpfs none /job && dd if=/dev/zero of=/job/x bs=1M count=100 && echo mounted"],
                             capture_output=True, text=True)
        if "mounted" in out.stdout:
            return "mounted a tmpfs of its own"
        raise OSError(out.returncode, out.stderr.strip())

    attempt("unshare(CLONE_NEWUSER)", syscall_unshare)
    attempt("clone(CLONE_NEWUSER)", syscall_clone)
    attempt("unshare -Urm + mount tmpfs", tool)
    finish()

elif attack == "identity":
    status = read("/proc/self/status").decode()
    caps = [line.split()[1] for line in status.splitlines() if line.startswith(("CapEff", "CapPrm", "CapBnd"))]
    print(json.dumps({"score": 0, "metrics": {
        "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "caps": caps, "root": sorted(os.listdir("/")),
        "cwd": os.getcwd(), "hostname": socket.gethostname(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "home": env.get("HOME"), "tmp_is_job": os.path.realpath("/tmp").startswith("/job"),
        "no_new_privs": [line.split()[1] for line in status.splitlines() if line.startswith("NoNewPrivs")],
    }}))
    sys.exit(0)

else:
    print("unknown attack " + attack, file=sys.stderr)
    sys.exit(3)
"""#
