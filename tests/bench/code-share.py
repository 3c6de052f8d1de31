#!/usr/bin/env python3
"""Each crate's share of the workspace's code lines: non-blank, non-comment lines of the
Rust sources under agent/src and crates/*/src, up to each file's `#[cfg(test)]` (tests,
benchmarks and the job engine's test file left out). With --files N, also the CLI files
over N lines. Run from the repository root: python3 tests/bench/code-share.py --files 250
"""
import os
import sys


def code_lines(path):
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            t = line.strip()
            if t.startswith("#[cfg(test)]"):
                break
            if t and not t.startswith("//"):
                n += 1
    return n


def main():
    limit = int(sys.argv[sys.argv.index("--files") + 1]) if "--files" in sys.argv else None
    crates, files = {}, []
    for root in ("agent/src", "crates"):
        for dirpath, _, names in os.walk(root):
            if "/tests" in dirpath or "/benches" in dirpath or "target" in dirpath:
                continue
            for name in names:
                if not name.endswith(".rs") or name == "job_tests.rs":
                    continue
                path = os.path.join(dirpath, name)
                crate = "posagent (CLI)" if path.startswith("agent") else "posagent-" + path.split("/")[1]
                n = code_lines(path)
                crates[crate] = crates.get(crate, 0) + n
                files.append((n, path))
    total = sum(crates.values())
    for crate, n in sorted(crates.items()):
        print(f"{crate:<18} {n:>6}  {100 * n / total:5.2f} %")
    print(f"{'total':<18} {total:>6}")
    if limit is not None:
        over = [(n, p) for n, p in files if p.startswith("agent") and n > limit]
        print(f"CLI files over {limit} lines: {len(over)}")
        for n, p in sorted(over, reverse=True):
            print(f"  {n} {p}")


main()
