"""Regenerate the committed gRPC stubs: `python -m proto.generate [OUT_DIR]`.

The stubs are generated with the repository root as include path, so their imports read
`from proto import ...` and never clash with the `rollup` CLI package.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = sorted(p.relative_to(ROOT) for p in (ROOT / "proto").rglob("*.proto"))


def generate(out_dir: Path = ROOT) -> list[Path]:
    """Run protoc (grpc_tools) on every .proto under proto/; return the files written."""
    from grpc_tools import protoc

    out_dir.mkdir(parents=True, exist_ok=True)
    include = str(Path(protoc.__file__).resolve().parent / "_proto")
    args = ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}", *(str(p) for p in PROTOS)]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed")
    written = []
    for proto in PROTOS:
        stem = out_dir / proto.with_suffix("")
        written += [Path(f"{stem}_pb2.py"), Path(f"{stem}_pb2_grpc.py")]
    return written


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    for path in generate(out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
