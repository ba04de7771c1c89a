#!/usr/bin/env python3
"""Import circles between the source files of each crate.

For every crate under crates/ (or the crate directories given as arguments) this reads the
library's src/ files, maps each file to its module path (src/a.rs and src/a/mod.rs are `a`,
src/a/b.rs is `a::b`), and collects the files each one depends on through paths that start
with `crate::` or `super::` (in `use` declarations and in code, e.g. `super::lookup::validate(x)`),
and through `child::item` paths to a child module.

A path leads to the deepest module file it names; a name re-exported with `pub use` (as lib.rs
does for the crate's public types) is followed to the file that defines it. `pub use`
declarations themselves are facades, not dependencies, and neither is `mod child;`, nor a module's
use of its own submodules (crypto/mod.rs dispatching to crypto/aes_sha1.rs, which uses the
parent's `Key`): a parent and its parts are one unit; `--with-parent-edges` counts those too. Paths inside
an inline `mod tests { ... }` that point back at the file itself are ignored. Binaries (src/bin,
src/main.rs) are separate crates and not read.

Prints every strongly connected set of two or more files (files that import each other in a
loop), one per line; exits 1 when any crate has one, 0 otherwise.

    python3 scripts/import_cycles.py            # all crates
    python3 scripts/import_cycles.py crates/msds-gmsa
    python3 scripts/import_cycles.py --with-parent-edges
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments_and_strings(text):
    """The source with comments, string and char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    if text[i] == "\n":
                        out.append("\n")
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 20]) and not (
            i and (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            m = re.match(r'r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x[0-9a-fA-F]{2}'", text[i:]):
            m = re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x[0-9a-fA-F]{2}'", text[i:])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_files(src):
    """{module path tuple: file} for a library's src directory."""
    mods = {}
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src)
        parts = list(rel.parts)
        if parts[0] == "bin" or rel.as_posix() == "main.rs":
            continue
        if parts[-1] == "lib.rs" and len(parts) == 1:
            mods[()] = f
            continue
        if parts[-1] == "mod.rs":
            mods[tuple(parts[:-1])] = f
        else:
            parts[-1] = parts[-1][:-3]
            mods[tuple(parts)] = f
    return mods


def split_use_tree(tree):
    """`a::{b, c::{d as e}}` -> [['a','b'], ['a','c','d']] (renames dropped, `self` folded)."""
    tree = re.sub(r"\s+as\s+", "@", tree)
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, s):
        depth, start, items = 0, 0, []
        for k, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(s[start:k])
                start = k + 1
        items.append(s[start:])
        for item in items:
            if not item:
                continue
            if "{" in item:
                head, rest = item.split("{", 1)
                head_parts = [p for p in head.split("::") if p]
                walk(prefix + head_parts, rest[:-1])
            else:
                item = item.split("@", 1)[0]
                parts = [p for p in item.split("::") if p]
                if parts and parts[-1] == "self":
                    parts = parts[:-1]
                out.append(prefix + parts)

    walk([], tree)
    return out


def declarations(code):
    """(use declarations as (is_pub, tree, offset), inline module spans as (start, end))."""
    uses = []
    for m in re.finditer(r"(?<![A-Za-z0-9_])(pub(\([^)]*\))?\s+)?use\s+([^;]+);", code):
        uses.append((bool(m.group(1)), m.group(3), m.start()))
    spans = []
    for m in re.finditer(r"(?<![A-Za-z0-9_])mod\s+(" + IDENT + r")\s*\{", code):
        depth, j = 1, m.end()
        while j < len(code) and depth:
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
            j += 1
        spans.append((m.start(), j))
    return uses, spans


class Crate:
    def __init__(self, src, parent_edges=False):
        self.parent_edges = parent_edges
        self.mods = module_files(src)
        self.file_mod = {f: m for m, f in self.mods.items()}
        self.code = {f: strip_comments_and_strings(f.read_text()) for f in self.file_mod}
        # Per module: name -> absolute path it re-exports (`pub use`).
        self.reexports = {}
        for f, code in self.code.items():
            here = self.file_mod[f]
            uses, _ = declarations(code)
            table = {}
            for is_pub, tree, _ in uses:
                if not is_pub:
                    continue
                for path in split_use_tree(tree):
                    absolute = self.absolute(here, 0, path)
                    if absolute is not None and path and path[-1] != "*":
                        table[path[-1]] = absolute
            self.reexports[here] = table

    def absolute(self, here, inline_depth, path):
        """`path` as written in module `here` -> absolute segment list, or None if external."""
        if not path:
            return None
        if path[0] == "crate":
            return path[1:]
        if path[0] in ("super", "self"):
            base = list(here)
            levels = 0
            rest = list(path)
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    levels += 1
                rest.pop(0)
            # Inside an inline `mod x { }` one `super` only leaves that inline module.
            levels = max(0, levels - inline_depth)
            if levels > len(base):
                return None
            return base[: len(base) - levels] + rest
        # A path relative to the current module (`use ldap::conn::X;` in lib.rs).
        if tuple(list(here) + [path[0]]) in self.mods:
            return list(here) + path
        return None

    def target(self, absolute, seen=0):
        """The file that defines what an absolute path names."""
        mod = ()
        for k, seg in enumerate(absolute):
            if seg == "*":
                break
            nxt = mod + (seg,)
            if nxt in self.mods:
                mod = nxt
                continue
            again = self.reexports.get(mod, {}).get(seg)
            if again is not None and seen < 8:
                return self.target(again + absolute[k + 1:], seen + 1)
            break
        return self.mods.get(mod)

    def edges(self):
        graph = {f: set() for f in self.file_mod}
        for f, code in self.code.items():
            here = self.file_mod[f]
            uses, spans = declarations(code)

            def inline_depth(pos):
                return sum(1 for a, b in spans if a <= pos < b)

            paths = []
            use_ranges = []
            for is_pub, tree, pos in uses:
                use_ranges.append((pos, pos + len(tree) + 8))
                if is_pub:
                    continue
                for p in split_use_tree(tree):
                    paths.append((p, inline_depth(pos)))
            for m in re.finditer(r"(?<![A-Za-z0-9_:])((?:crate|super)(?:::(?:super|" + IDENT + r"))+)", code):
                if any(a <= m.start() < b for a, b in use_ranges):
                    continue
                paths.append((m.group(1).split("::"), inline_depth(m.start())))
            # `child::item` in code, for a child module of this one (`http::shared_client()`).
            for m in re.finditer(r"(?<![A-Za-z0-9_:])(" + IDENT + r"(?:::" + IDENT + r")+)", code):
                first = m.group(1).split("::")[0]
                if first in ("crate", "super", "self") or any(a <= m.start() < b for a, b in use_ranges):
                    continue
                if tuple(list(here) + [first]) in self.mods:
                    paths.append((["self"] + m.group(1).split("::"), inline_depth(m.start())))
            for p, depth in paths:
                absolute = self.absolute(here, depth, p)
                if absolute is None:
                    continue
                t = self.target(absolute)
                if t is None or t == f:
                    continue
                # A module calling into its own submodules (crypto/mod.rs dispatching to
                # crypto/aes_sha1.rs) is the parent using its parts, not an import between peers.
                if not self.parent_edges and self.file_mod[t][: len(here)] == here:
                    continue
                graph[f].add(t)
        return graph


def strongly_connected(graph):
    """Tarjan's algorithm; sets of two or more nodes."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main(args):
    parent_edges = "--with-parent-edges" in args
    args = [a for a in args if a != "--with-parent-edges"]
    crates = [Path(a).resolve() for a in args] or sorted(
        p.parent for p in (ROOT / "crates").glob("*/Cargo.toml")
    )
    found = False
    for crate in crates:
        src = crate / "src"
        if not (src / "lib.rs").exists():
            print(f"{crate.relative_to(ROOT)}: no src/lib.rs, skipped")
            continue
        c = Crate(src, parent_edges)
        graph = c.edges()
        cycles = strongly_connected(graph)
        name = crate.relative_to(ROOT)
        nedges = sum(len(v) for v in graph.values())
        if not cycles:
            print(f"{name}: no import circles ({len(graph)} files, {nedges} file-to-file imports)")
        for comp in cycles:
            found = True
            files = [str(p.relative_to(src)) for p in comp]
            print(f"{name}: circle among {len(files)} files: {', '.join(files)}")
            for p in comp:
                inside = sorted(str(t.relative_to(src)) for t in graph[p] if t in comp)
                print(f"    {p.relative_to(src)} -> {', '.join(inside)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
