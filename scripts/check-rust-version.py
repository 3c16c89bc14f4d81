#!/usr/bin/env python3
"""Checks the workspace's declared `rust-version` against the locked dependency graph.

Every published crate of the workspace declares the workspace's `rust-version`. It must be at
least the `rust-version` of every package those crates depend on (normal and build
dependencies, every feature enabled, as locked in Cargo.lock), or users on the declared
toolchain could not build them. Prints the dependencies that need more and exits 1 if any do.

    python3 scripts/check-rust-version.py
"""
import json
import subprocess
import sys


def version(text):
    """`1.85` and `1.85.0` alike: (1, 85, 0)."""
    return (tuple(int(part) for part in text.split(".")) + (0, 0))[:3]


def main():
    meta = json.loads(
        subprocess.check_output(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"]
        )
    )
    packages = {p["id"]: p for p in meta["packages"]}
    members = set(meta["workspace_members"])
    published = [
        pid for pid in members if packages[pid].get("publish") is None
    ]
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    declared = {packages[pid]["rust_version"] for pid in published}
    if len(declared) != 1 or None in declared:
        print(f"the published crates must share one rust-version, found {declared}")
        return 1
    declared = declared.pop()
    # Everything the published crates need to build, outside the workspace.
    seen, todo = set(), list(published)
    while todo:
        pid = todo.pop()
        for dep in nodes[pid]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if kinds & {None, "build"} and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
    needs = sorted(
        (
            (version(packages[pid]["rust_version"]), packages[pid]["name"], packages[pid]["version"])
            for pid in seen - members
            if packages[pid].get("rust_version")
        ),
        reverse=True,
    )
    too_new = [n for n in needs if n[0] > version(declared)]
    if too_new:
        print(f"rust-version {declared} is below what these locked dependencies declare:")
        for need, name, ver in too_new:
            print(f"  {name} {ver}: rust-version {'.'.join(map(str, need))}")
        return 1
    highest = needs[0] if needs else None
    print(
        f"rust-version {declared}: covers all {len(seen - members)} dependencies"
        + (f" (highest: {highest[1]} {highest[2]} needs {'.'.join(map(str, highest[0]))})" if highest else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
