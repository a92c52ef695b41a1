"""`rollup contracts build|check`: compile Solidity sources, or verify committed artifacts."""

from __future__ import annotations

import argparse

from l1.solc import PROJECT_ROOT, build, stale_artifacts


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("build", "check"), help="build: rewrite artifacts; check: fail if stale")


def run(args: argparse.Namespace) -> int:
    if args.action == "build":
        for path in build():
            print(f"wrote {path.relative_to(PROJECT_ROOT)}")
        return 0
    stale = stale_artifacts()
    for name in stale:
        print(f"stale: {name}")
    if stale:
        print("run `rollup contracts build` and commit the artifacts")
        return 1
    print("all artifacts match their sources")
    return 0
