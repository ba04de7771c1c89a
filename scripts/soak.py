#!/usr/bin/env python3
"""Soak of credentials-fetcherd against the real Samba DCs, with faults; run by scripts/soak.sh.

One release daemon serves domainless leases of the gMSA WebApp01 (svc-fetcher, its password also
in a secret file so that leases recovered after a restart renew by themselves) with dc2 and dc1
as its DCs and KDCs (dc2 first), renewing every RENEW seconds. Meanwhile:

  * LONG leases added at the start live to the end (their renewal is watched across every fault);
  * churn: every CHURN seconds one lease is added (`gmsa lease add`, as the ECS agent's
    AddNonDomainJoinedKerberosLease) and, above LEASES churned ones, the oldest deleted;
  * the gMSA's password is kept PASSWORD_CACHE seconds, so LDAP reads happen throughout;
  * faults, one at a time, in turn every FAULT_EVERY seconds: dc2 killed (SIGKILL) and restarted
    after OUTAGE seconds; dc1 frozen (SIGSTOP: reads and never answers) and thawed after OUTAGE
    seconds; the daemon stopped (SIGTERM) and started again on the same krbdir;
  * every SAMPLE seconds: the daemon's RSS, open files and threads; `gmsa lease health` (exit 0:
    no lease failing or waiting); the krbdir holds exactly the live leases (nothing lost, nothing
    left behind); how long ago each live lease's ccache was rewritten (renewal keeps up).

At the end every lease is deleted, the krbdir must be empty and the daemon must stop cleanly.
Prints one JSON summary line and writes it to OUT/summary.json; exits 1 when a promise broke:
a failed add or delete, a health check not OK, a lost or leftover lease, a ccache not renewed for
STALE seconds, the daemon's open files or RSS growing past a bound, a panic in its log.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--bin-dir", required=True)
p.add_argument("--testenv", required=True)
p.add_argument("--root", required=True, help="the repository (for testenv/samba-dc2.sh)")
p.add_argument("--out", required=True)
p.add_argument("--minutes", type=float, default=60)
p.add_argument("--leases", type=int, default=20)
p.add_argument("--renew", type=int, default=10)
p.add_argument("--churn", type=float, default=2.0)
p.add_argument("--long", type=int, default=4)
p.add_argument("--password-cache", type=int, default=30)
p.add_argument("--fault-every", type=int, default=120)
p.add_argument("--outage", type=int, default=30)
p.add_argument("--sample", type=float, default=5.0)
p.add_argument("--stale", type=int, default=60, help="longest a live lease's ccache may go unrenewed")
a = p.parse_args()

GMSA = os.path.join(a.bin_dir, "gmsa")
DAEMON = os.path.join(a.bin_dir, "credentials-fetcherd")
S = os.path.join(a.testenv, "samba")
OUT = a.out
KRBDIR = os.path.join(OUT, "krbdir")
SOCK = os.path.join(OUT, "cf.sock")
LOG = os.path.join(OUT, "daemon.log")
PWFILE = os.path.join(S, "svc-fetcher.password")
os.makedirs(KRBDIR, exist_ok=True)

with open(os.path.join(OUT, "krb5.conf"), "w") as f:
    f.write("[libdefaults]\n\tdefault_realm = EXAMPLE.TEST\n\tdns_lookup_kdc = false\n\trdns = false\n"
            "[realms]\n\tEXAMPLE.TEST = {\n\t\tkdc = 127.0.0.12\n\t\tkdc = 127.0.0.2\n\t}\n")
spec = os.path.join(OUT, "webapp01.json")
with open(spec, "w") as f:
    json.dump({"CmsPlugins": ["ActiveDirectory"],
               "DomainJoinConfig": {"Sid": "S-1-5-21-1", "MachineAccountName": "WebApp01",
                                    "Guid": "00000000-0000-0000-0000-000000000000",
                                    "DnsTreeName": "example.test", "DnsName": "example.test",
                                    "NetBiosName": "EXAMPLE"},
               "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [
                   {"Name": "WebApp01", "Scope": "example.test"}]}}, f)
secret = os.path.join(OUT, "secret.json")
fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump({"username": "svc-fetcher", "password": open(PWFILE).read(), "domainName": "example.test"}, f)

ENV = dict(os.environ, KRB5_CONFIG=os.path.join(OUT, "krb5.conf"), CF_KRB_DIR=KRBDIR,
           DOMAIN_CONTROLLER_GMSA="dc2.example.test,dc1.example.test", CF_TEST_RENEW_SECS=str(a.renew),
           CF_TEST_PASSWORD_CACHE_SECS=str(a.password_cache),
           CREDENTIALS_FETCHER_HOST=SOCK)
ENV.pop("RUST_LOG", None)

problems = []
counts = {"adds": 0, "deletes": 0, "add_failures": 0, "delete_failures": 0, "health_checks": 0,
          "health_not_ok": 0, "samples": 0, "faults": {"dc2_killed": 0, "dc1_frozen": 0, "daemon_restarted": 0}}
lat_add, lat_add_fault = [], []
samples = []
max_stale = 0.0


def problem(msg):
    t = round(time.monotonic() - T0, 1)
    problems.append(f"{t} s: {msg}")
    print(f"soak: PROBLEM at {t} s: {msg}", file=sys.stderr, flush=True)


def run(args, timeout=60):
    try:
        return subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(args, 124, e.stdout or "", f"timeout after {timeout} s")


def start_daemon():
    logf = open(LOG, "a")
    d = subprocess.Popen([DAEMON, "--socket", SOCK, "--socket-group", "none", "--verbosity", "info",
                          "--domainless-secret-file", secret], env=ENV, stdout=logf, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if run([GMSA, "lease", "health", "--socket", SOCK], timeout=5).returncode in (0, 1) and os.path.exists(SOCK):
            return d
        time.sleep(0.1)
    raise SystemExit("soak: the daemon did not answer HealthCheck within 20 s")


def stop_daemon(d):
    d.send_signal(signal.SIGTERM)
    try:
        rc = d.wait(timeout=20)
    except subprocess.TimeoutExpired:
        d.kill()
        problem("the daemon did not stop within 20 s of SIGTERM")
        return
    if rc != 0:
        problem(f"the daemon exited {rc} on SIGTERM")


def proc(pid):
    st = open(f"/proc/{pid}/status").read()
    rss = int(re.search(r"^VmRSS:\s+(\d+) kB", st, re.M).group(1))
    threads = int(re.search(r"^Threads:\s+(\d+)", st, re.M).group(1))
    return rss, len(os.listdir(f"/proc/{pid}/fd")), threads


def dc1_pids():
    pids = []
    try:
        for line in open(os.path.join(a.testenv, "samba-dc.pids")):
            pid = line.split()[0]
            if os.path.exists(f"/proc/{pid}"):
                pids.append(int(pid))
    except FileNotFoundError:
        pass
    return pids


def add():
    t = time.monotonic()
    r = run([GMSA, "lease", "add", "--socket", SOCK, "--user", "svc-fetcher", "--password-file", PWFILE,
             "--domain", "example.test", spec], timeout=30)
    took = time.monotonic() - t
    m = re.search(r"^lease ([0-9a-f]{20})$", r.stdout, re.M)
    if r.returncode == 0 and m:
        counts["adds"] += 1
        (lat_add_fault if fault else lat_add).append(took)
        return m.group(1)
    counts["add_failures"] += 1
    problem(f"add failed after {took:.1f} s (fault: {fault and fault[0]}): {r.stderr.strip()[-500:]}")
    return None


def delete(lid):
    r = run([GMSA, "lease", "delete", "--socket", SOCK, lid], timeout=30)
    if r.returncode == 0:
        counts["deletes"] += 1
    else:
        counts["delete_failures"] += 1
        problem(f"delete {lid} failed: {r.stderr.strip()[-500:]}")


def dc2(cmd):
    r = subprocess.run([os.path.join(a.root, "testenv", "samba-dc2.sh"), cmd], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"soak: samba-dc2.sh {cmd} failed: {r.stderr[-2000:]}")


live = []  # churned leases: (lease id, created at)
long_lived = []  # (lease id, created at)
fault = None  # (kind, ends at)
fault_kinds = ["dc2_killed", "dc1_frozen", "daemon_restarted"]
next_fault_i = 0
T0 = time.monotonic()
END = T0 + a.minutes * 60
next_churn = next_sample = T0
next_fault = T0 + a.fault_every / 2
d = start_daemon()
base = None
print(f"soak: {a.minutes} min, {a.leases} leases, renew every {a.renew} s, a fault every {a.fault_every} s "
      f"lasting {a.outage} s, out: {OUT}", flush=True)

try:
    while time.monotonic() < END:
        now = time.monotonic()
        # Faults, one at a time.
        if fault and now >= fault[1]:
            if fault[0] == "dc2_killed":
                dc2("restart")
            elif fault[0] == "dc1_frozen":
                for pid in dc1_pids():
                    os.kill(pid, signal.SIGCONT)
            fault = None
        if not fault and now >= next_fault:
            kind = fault_kinds[next_fault_i % len(fault_kinds)]
            next_fault_i += 1
            counts["faults"][kind] += 1
            print(f"soak: {round(now - T0)} s: {kind}", flush=True)
            if kind == "dc2_killed":
                dc2("kill")
                fault = (kind, now + a.outage)
            elif kind == "dc1_frozen":
                for pid in dc1_pids():
                    os.kill(pid, signal.SIGSTOP)
                fault = (kind, now + a.outage)
            else:
                stop_daemon(d)
                d = start_daemon()
            next_fault = now + a.fault_every
        # Churn.
        if now >= next_churn:
            next_churn = now + a.churn
            lid = add()
            if lid:
                (long_lived if len(long_lived) < a.long else live).append((lid, time.monotonic()))
            while len(live) > a.leases:
                delete(live.pop(0)[0])
        # Samples.
        if now >= next_sample:
            next_sample = now + a.sample
            rss, fds, threads = proc(d.pid)
            samples.append((round(now - T0, 1), rss, fds, threads, len(live) + len(long_lived), fault and fault[0]))
            counts["samples"] += 1
            if base is None and len(live) >= a.leases:
                base = (rss, fds, threads)
            h = run([GMSA, "lease", "health", "--socket", SOCK], timeout=30)
            counts["health_checks"] += 1
            if h.returncode != 0:
                counts["health_not_ok"] += 1
                problem(f"health not OK (fault: {fault and fault[0]}): {(h.stdout + h.stderr).strip()[-500:]}")
            on_disk = {e for e in os.listdir(KRBDIR) if re.fullmatch(r"[0-9a-f]{20}", e)}
            want = {lid for lid, _ in live + long_lived}
            if on_disk != want:
                problem(f"krbdir holds {sorted(on_disk - want)} not live, lacks {sorted(want - on_disk)}")
            for lid, created in live + long_lived:
                if now - created < a.stale:
                    continue
                for root, _dirs, files in os.walk(os.path.join(KRBDIR, lid)):
                    if "krb5cc" in files:
                        age = time.time() - os.stat(os.path.join(root, "krb5cc")).st_mtime
                        max_stale = max(max_stale, age)
                        if age > a.stale:
                            problem(f"lease {lid}: ccache not rewritten for {age:.0f} s")
        time.sleep(0.05)
finally:
    if fault and fault[0] == "dc1_frozen":
        for pid in dc1_pids():
            os.kill(pid, signal.SIGCONT)
    elif fault and fault[0] == "dc2_killed":
        dc2("restart")

for lid, _ in live + long_lived:
    delete(lid)
left = os.listdir(KRBDIR)
if left:
    problem(f"krbdir not empty after every delete: {left}")
end_rss, end_fds, end_threads = proc(d.pid)
stop_daemon(d)

log = open(LOG, errors="replace").read()
renewed = len(re.findall(r"ticket renewed", log))
recovered = len(re.findall(r": recovered lease lease=", log))
levels = {lv: len(re.findall(rf"\b{lv}\b", log)) for lv in ("WARN", "ERROR")}
if "panicked" in log:
    problem("a panic in the daemon's log")
rss_all = [s[1] for s in samples]
fds_all = [s[2] for s in samples]
if base:
    if end_fds > base[1] + 16:
        problem(f"open files grew from {base[1]} to {end_fds}")
    if max(rss_all) > base[0] + 32 * 1024:
        problem(f"RSS grew from {base[0]} KiB to {max(rss_all)} KiB")


def q(xs, f):
    return round(statistics.quantiles(xs, n=100, method="inclusive")[f - 1] * 1000, 1) if len(xs) >= 2 else None


summary = {
    "minutes": a.minutes, "leases": a.leases, "long_leases": a.long, "password_cache_secs": a.password_cache, "renew_secs": a.renew, "fault_every_secs": a.fault_every,
    "outage_secs": a.outage, **counts, "tickets_renewed": renewed, "leases_recovered_after_restart": recovered,
    "log_lines": levels, "max_ccache_age_secs": round(max_stale, 1),
    "add_ms_p50": q(lat_add, 50), "add_ms_p99": q(lat_add, 99),
    "add_ms_p50_during_faults": q(lat_add_fault, 50), "add_ms_p99_during_faults": q(lat_add_fault, 99),
    "add_ms_max_during_faults": round(max(lat_add_fault) * 1000, 1) if lat_add_fault else None,
    "rss_kib": {"base": base and base[0], "max": max(rss_all), "end": end_rss},
    "fds": {"base": base and base[1], "max": max(fds_all), "end": end_fds},
    "threads": {"base": base and base[2], "max": max(s[3] for s in samples), "end": end_threads},
    "problems": problems,
}
with open(os.path.join(OUT, "samples.csv"), "w") as f:
    f.write("secs,rss_kib,fds,threads,leases,fault\n")
    for s in samples:
        f.write(",".join("" if v is None else str(v) for v in s) + "\n")
with open(os.path.join(OUT, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
print(json.dumps(summary))
sys.exit(1 if problems else 0)
