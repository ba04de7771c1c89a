#!/usr/bin/env python3
"""Lists import circles between the files of a crate's src/ tree (default crates/daemon/src).

A file's references are the `crate::a::b`, `super::x` and `self::x` paths in its code (not in
comments), resolved to the file that defines the module. A circle is a set of two or more
files that reach each other through these references (a strongly connected component).
Exits 1 when there is one. Usage: scripts/import-cycles.py [SRC_DIR ...]
"""
import os
import re
import sys


def modules(src):
    """Module path (tuple) -> file, for every .rs file under src."""
    out = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            if rel and rel[0] == "bin":
                continue  # binaries are roots, nothing imports them
            out[tuple(rel)] = os.path.join(root, f)
    return out


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def expand_uses(text):
    """`use a::{b, c::{d}}` -> ["a::b", "a::c::d"]; plus every other `x::y` path."""
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        stack = [("", m.group(1))]
        while stack:
            prefix, body = stack.pop()
            body = body.strip()
            i = body.find("{")
            if i < 0:
                for part in body.split(","):
                    if part.strip():
                        paths.append(prefix + part.strip().split(" as ")[0])
                continue
            head, depth, j = body[:i], 0, i
            for j in range(i, len(body)):
                depth += body[j] == "{"
                depth -= body[j] == "}"
                if depth == 0:
                    break
            inner, rest = body[i + 1 : j], body[j + 1 :].lstrip(",")
            parts, depth, cur = [], 0, ""
            for ch in inner:
                if ch == "," and depth == 0:
                    parts.append(cur)
                    cur = ""
                    continue
                depth += ch == "{"
                depth -= ch == "}"
                cur += ch
            parts.append(cur)
            stack.extend((prefix + head, p) for p in parts if p.strip())
            if rest.strip():
                stack.append((prefix, rest))
    paths += re.findall(r"\b(?:crate|super|self)(?:::\w+)+", text)
    return paths


def resolve(path, here, mods):
    parts = path.replace(" ", "").split("::")
    cur = list(here)
    if parts[0] == "crate":
        cur, parts = [], parts[1:]
    while parts and parts[0] in ("super", "self"):
        if parts[0] == "super":
            cur = cur[:-1]
        parts = parts[1:]
    best = None
    for k in range(len(parts) + 1):
        cand = tuple(cur + parts[:k])
        if cand in mods:
            best = cand
    return best


def cycles(src):
    mods = modules(src)
    edges = {m: set() for m in mods}
    for m, f in mods.items():
        # Paths are relative to the file's own module (`super` from a/b.rs or a/b/mod.rs is a).
        here = m
        text = strip_comments(open(f, encoding="utf-8").read())
        text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
        for p in expand_uses(text):
            t = resolve(p, here, mods)
            if t is not None and t != m:
                edges[m].add(t)
        # Paths starting at a child module (`kerberos::KerberosSource` in server/mod.rs).
        for first in re.findall(r"(?<![\w:])(\w+)::\w", text):
            t = resolve(first + "::x", here, mods)
            if t is not None and t != m and t[: len(m)] == m:
                edges[m].add(t)
    # Tarjan's strongly connected components.
    index, low, on, stack, out, n = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in mods:
        if v not in index:
            visit(v)
    return mods, edges, out


def main():
    bad = False
    for src in sys.argv[1:] or ["crates/daemon/src"]:
        mods, edges, comps = cycles(src)
        for comp in comps:
            bad = True
            names = ["::".join(c) or "<root>" for c in comp]
            print(f"{src}: import circle between {', '.join(names)}")
            for c in comp:
                inside = sorted("::".join(t) for t in edges[c] if t in comp)
                print(f"  {mods[c]} -> {', '.join(inside)}")
        if not comps:
            print(f"{src}: no import circle ({len(mods)} files)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
