"""Checks that the modules of each crate form layers: no import circle between sibling modules.

For every `use` and every `crate::`, `super::` or `self::` path in a module's code (comments,
string and character literals, and test modules (`#[cfg(test)]`, `#[cfg(all(test, ...))]`) left
out), the module it names is found, imports followed (a parent's private `use` too, which its
children see; globs too), and an edge drawn between the two siblings under their closest common
parent. A circle of such edges is printed with the lines that make it, and the check fails.

Usage: python3 .ci/module_layers.py [CRATE_DIR ...]   (default: every workspace member with a src/)
"""

import os
import re
import sys

USE = re.compile(r"\b(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.S)
PATH = re.compile(r"\b((?:crate|super|self)(?:::\w+)+)")
# `cfg(test)`, or `cfg(all(...))` with `test` among its own arguments (not inside a `not(test)`),
# then any other attributes, then the module.
CFG_ARGS = r"(?:[^()]|\([^()]*\))*"
TEST_MODULE = re.compile(
    rf"#\[cfg\((?:test|all\({CFG_ARGS}\btest\b{CFG_ARGS}\))\)\]\s*(?:#\[[^\]]*\]\s*)*"
    r"(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*([;{])"
)
RAW_STRING = re.compile(r'b?r(#*)"')
CHAR = re.compile(r"b?'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'")


def blanked(text):
    """`text` with comments and string and character literals replaced by spaces (newlines
    kept), so that a path written in them is not taken for code."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
        elif text.startswith("/*", i):
            depth, end = 1, i + 2
            while end < n and depth:
                if text.startswith("/*", end):
                    depth, end = depth + 1, end + 2
                elif text.startswith("*/", end):
                    depth, end = depth - 1, end + 2
                else:
                    end += 1
        elif (raw := RAW_STRING.match(text, i)) and (i == 0 or not text[i - 1].isalnum()):
            close = '"' + raw.group(1)
            end = text.find(close, raw.end())
            end = n if end < 0 else end + len(close)
        elif text[i] == '"' or text.startswith('b"', i):
            end = text.index('"', i) + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            end = min(end + 1, n)
        elif (char := CHAR.match(text, i)) and (i == 0 or not text[i - 1].isalnum()):
            end = char.end()
        else:
            out.append(text[i])
            i += 1
            continue
        out.append("".join(c if c == "\n" else " " for c in text[i:end]))
        i = end
    return "".join(out)


def without_test_modules(text):
    """`text` without its test modules' blocks (`#[cfg(test)] mod name { ... }`); and the names
    of the test modules it declares in files of their own (`#[cfg(test)] mod name;`)."""
    files, kept, at = [], [], 0
    for found in TEST_MODULE.finditer(text):
        if found.start() < at:
            continue
        if found.group(2) == ";":
            files.append(found.group(1))
            continue
        depth, end = 1, found.end()
        while end < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        kept.append(text[at : found.start()])
        at = end
    kept.append(text[at:])
    return "".join(kept), files


def normal(path):
    """A path with its whitespace gone but around `as`."""
    return re.sub(r"\s*(::|\{|\}|,)\s*", r"\1", re.sub(r"\s+", " ", path)).strip()


def expand(path):
    """`a::{b, c::{d, e}}` as `a::b`, `a::c::d`, `a::c::e`; renames and globs kept as written."""
    match = re.match(r"^(.*?)\{(.*)\}$", path)
    if not match:
        return [path]
    prefix, inner = match.groups()
    parts, depth, current = [], 0, ""
    for ch in inner:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for part in parts if part.strip() for p in expand(prefix + part.strip())]


def modules_of(src):
    """Each module's path (a tuple of names; the crate root is `()`) and its code; test modules
    left out, those in files of their own too."""
    modules, tests = {}, set()
    for directory, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            file = os.path.join(directory, name)
            parts = os.path.relpath(file, src)[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            with open(file, encoding="utf-8") as f:
                code, test_files = without_test_modules(blanked(f.read()))
            modules[tuple(parts)] = (code, file)
            tests.update(tuple(parts) + (test,) for test in test_files)
    return {
        module: value
        for module, value in modules.items()
        if not any(module[: len(test)] == test for test in tests)
    }


def start_of(module, segments, modules):
    """Where a path written in `module` starts, and the segments left to follow."""
    first = segments[0]
    if first == "crate":
        return (), segments[1:]
    if first == "self":
        return module, segments[1:]
    if first == "super":
        base = module
        while segments and segments[0] == "super":
            base, segments = base[:-1], segments[1:]
        return base, segments
    if module + (first,) in modules:
        return module, segments
    return None, segments


def resolve(module, path, modules, reexports, seen=()):
    """The module a path written in `module` names, or None for another crate's item."""
    segments = [s for s in path.split(" as ")[0].split("::") if s]
    if not segments:
        return None
    target, rest = start_of(module, segments, modules)
    if target is None:
        return None
    for segment in rest:
        if target + (segment,) in modules:
            target = target + (segment,)
        elif (target, segment) in reexports and (target, segment) not in seen:
            key = (target, segment)
            found = resolve(target, reexports[key], modules, reexports, seen + (key,))
            return found if found is not None else target
        else:
            # A name a glob re-export (`pub use inner::*`) may bring in.
            for glob in reexports.get((target, "*"), []):
                key = (target, "*", glob)
                if key in seen:
                    continue
                found = resolve(target, f"{glob}::{segment}", modules, reexports, seen + (key,))
                if found is not None and found != target:
                    return found
            break
    return target


def reexports_of(modules):
    """(module, name) -> the path its `use` imports under that name; (module, "*") -> the paths
    it imports whole. Private imports count: a module's children see them (`super::Name`)."""
    found = {}
    for module, (text, _) in modules.items():
        for used in USE.findall(text):
            for path in expand(normal(used)):
                name = path.split(" as ")[-1].split("::")[-1]
                if name == "*":
                    found.setdefault((module, "*"), []).append(path[: -len("::*")])
                else:
                    found[(module, name)] = path.split(" as ")[0]
    return found


def edges_of(modules):
    """Sibling edges (from, to) and, for each, the lines that draw it."""
    reexports = reexports_of(modules)
    edges = {}
    for module, (text, file) in modules.items():
        paths = []
        for used in USE.findall(text):
            paths += expand(normal(used))
        paths += PATH.findall(text)
        for path in paths:
            target = resolve(module, path, modules, reexports)
            if target is None:
                continue
            common = 0
            while common < min(len(module), len(target)) and module[common] == target[common]:
                common += 1
            if common < len(module) and common < len(target):
                edge = (module[: common + 1], target[: common + 1])
                edges.setdefault(edge, set()).add(f"{file}: {path}")
    return edges


def circles(edges):
    """The strongly connected groups of more than one module (Tarjan)."""
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    sys.setrecursionlimit(10_000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return groups


def members():
    """The workspace's crates that have a src/ directory."""
    found = []
    for directory, dirs, files in os.walk("."):
        dirs[:] = [d for d in dirs if d not in ("target", ".git", "fuzz")]
        if "Cargo.toml" in files and os.path.isdir(os.path.join(directory, "src")):
            found.append(os.path.normpath(directory))
    return sorted(found)


def main():
    failed = False
    for crate in sys.argv[1:] or members():
        edges = edges_of(modules_of(os.path.join(crate, "src")))
        for group in circles(edges):
            failed = True
            names = ", ".join("::".join(m) for m in sorted(group))
            print(f"{crate}: the modules {names} import each other:")
            for (a, b), lines in sorted(edges.items()):
                if a in group and b in group:
                    for line in sorted(lines):
                        print(f"    {'::'.join(a)} -> {'::'.join(b)}  ({line})")
    if failed:
        sys.exit(1)
    print("module layers: no import circle in any crate")


if __name__ == "__main__":
    main()
