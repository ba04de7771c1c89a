#!/usr/bin/env python3
"""Updates fuzz/STATUS.md for scripts/fuzz.sh (the only writer of that file).

  fuzz_status.py STATUS target NAME COMMIT EXECS FILES BYTES COV FT CRASHES TIMEOUTS OOMS LEAKS
  fuzz_status.py STATUS campaign COMMIT NTARGETS BUDGET JOBS MALLOC_MB EXECS NFAILED

Executions and findings accumulate over campaigns; the other columns describe the last one.
"""

import datetime
import os
import sys

HEADER = """# Fuzzing status

Written by `scripts/fuzz.sh run` (do not edit by hand): one row per target, one line per
campaign. *Executions* are libFuzzer's `stat::number_of_executed_units`, summed over every
campaign recorded here (and for the last campaign alone); *corpus* is the committed, minimised
`fuzz/corpus/<target>/` after the campaign; *cov* and *ft* are libFuzzer's coverage edges and
features at the end of the last campaign; *findings* are crashes / timeouts (`-timeout=2`) /
out-of-memory (`-malloc_limit_mb`, `-rss_limit_mb=2048`) / leaks, all campaigns together (last
campaign in brackets). Every finding becomes a regression test in the owning crate.
"""

TARGET_COLS = [
    "target", "commit", "date (UTC)", "executions total", "last campaign", "corpus files",
    "corpus KiB", "cov", "ft", "findings c/t/o/l",
]
CAMPAIGN_COLS = [
    "date (UTC)", "commit", "targets", "budget per target", "jobs", "malloc_limit_mb",
    "executions", "targets with findings",
]


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")


def parse_table(lines, start):
    rows = []
    i = start + 2
    while i < len(lines) and lines[i].startswith("|"):
        rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
        i += 1
    return rows


def load(path):
    targets, campaigns = {}, []
    if not os.path.exists(path):
        return targets, campaigns
    lines = open(path, encoding="utf-8").read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| target |"):
            for r in parse_table(lines, i):
                targets[r[0].strip("`")] = r
        elif line.startswith("| date (UTC) |"):
            campaigns = parse_table(lines, i)
    return targets, campaigns


def table(cols, rows):
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def save(path, targets, campaigns):
    rows = [targets[k] for k in sorted(targets)]
    for r in rows:
        r[0] = f"`{r[0].strip('`')}`"
    text = (
        HEADER
        + "\n## Targets\n\n"
        + table(TARGET_COLS, rows)
        + "\n\n## Campaigns\n\n"
        + table(CAMPAIGN_COLS, campaigns)
        + "\n"
    )
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def num(s):
    try:
        return int(s.replace(",", "").replace(" ", ""))
    except ValueError:
        return 0


def main(argv):
    path, kind = argv[1], argv[2]
    targets, campaigns = load(path)
    if kind == "target":
        name, commit, execs, files, nbytes, cov, ft, c, t, o, l = argv[3:14]
        old = targets.get(name)
        total = num(old[3]) if old else 0
        found = [0, 0, 0, 0]
        if old:
            prev = old[9].split(" ")[0].split("/")
            found = [num(x) for x in prev] if len(prev) == 4 else found
        now_found = [num(c), num(t), num(o), num(l)]
        all_found = [a + b for a, b in zip(found, now_found)]
        targets[name] = [
            name, f"`{commit}`", now(), f"{total + num(execs):,}", f"{num(execs):,}", files,
            str(max(1, round(num(nbytes) / 1024))), cov, ft,
            "/".join(map(str, all_found)) + " (" + "/".join(map(str, now_found)) + ")",
        ]
    elif kind == "campaign":
        commit, ntargets, budget, jobs, malloc_mb, execs, nfailed = argv[3:10]
        campaigns.append(
            [now(), f"`{commit}`", ntargets, budget, jobs, malloc_mb, f"{num(execs):,}", nfailed]
        )
    else:
        sys.exit(f"unknown kind {kind}")
    save(path, targets, campaigns)


if __name__ == "__main__":
    main(sys.argv)
