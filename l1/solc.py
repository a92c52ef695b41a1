"""Build step for every Solidity source of the project, through the pinned solc-js.

Artifacts (ABI and bytecode) are committed next to their sources and loaded at run time
without a compiler; `rollup contracts check` (and a test) fail when one is stale.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from l2.errors import RollupError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COMPILER_SCRIPT = PROJECT_ROOT / "tools" / "node" / "compile.js"
SOLC_VERSION = "0.8.37"
EVM_VERSION = "prague"


@dataclass(frozen=True)
class SourceTree:
    """A folder of `.sol` files and the folder their artifacts are written to."""

    sources: Path
    artifacts: Path
    # Other trees this one may import from, by project-relative path (`import "l1/contracts/X.sol"`);
    # they are compiled along but give no artifacts here (test harnesses of l1 libraries).
    imports: tuple[Path, ...] = ()


SOURCE_TREES: tuple[SourceTree, ...] = (
    SourceTree(PROJECT_ROOT / "l2" / "predeploys", PROJECT_ROOT / "l2" / "predeploys" / "artifacts"),
    SourceTree(PROJECT_ROOT / "bench" / "contracts", PROJECT_ROOT / "bench" / "contracts" / "artifacts"),
    SourceTree(PROJECT_ROOT / "l1" / "contracts", PROJECT_ROOT / "l1" / "artifacts"),
    SourceTree(
        PROJECT_ROOT / "tests" / "contracts", PROJECT_ROOT / "tests" / "contracts" / "artifacts",
        imports=(PROJECT_ROOT / "l1" / "contracts",),
    ),
)


class CompilerError(RollupError):
    """solc-js is missing or the sources do not compile."""


def _standard_json(tree: SourceTree) -> dict:
    sources = {
        path.relative_to(tree.sources).as_posix(): {"content": path.read_text()}
        for path in sorted(tree.sources.rglob("*.sol"))
    }
    for extra in tree.imports:
        for path in sorted(extra.rglob("*.sol")):
            sources[path.relative_to(PROJECT_ROOT).as_posix()] = {"content": path.read_text()}
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "optimizer": {"enabled": True, "runs": 200},
            "evmVersion": EVM_VERSION,
            "viaIR": False,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
        },
    }


def compile_tree(tree: SourceTree) -> dict[str, dict]:
    """Compile every source of `tree`; returns artifacts by contract name."""
    request = _standard_json(tree)
    if not request["sources"]:
        return {}
    node = shutil.which("node")
    if node is None or not COMPILER_SCRIPT.exists():
        raise CompilerError("node and tools/node (run ./dev setup) are needed to compile Solidity")
    proc = subprocess.run(
        [node, str(COMPILER_SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise CompilerError(f"solc-js failed: {proc.stderr.strip()}")
    output = json.loads(proc.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompilerError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    artifacts: dict[str, dict] = {}
    own = {path.relative_to(tree.sources).as_posix() for path in tree.sources.rglob("*.sol")}
    for source_name, contracts in output.get("contracts", {}).items():
        if source_name not in own:  # an imported tree: its artifacts live with it
            continue
        source_hash = hashlib.sha256(request["sources"][source_name]["content"].encode()).hexdigest()
        for name, out in contracts.items():
            bytecode = out["evm"]["bytecode"]["object"]
            if not bytecode:  # interfaces and abstract contracts
                continue
            if name in artifacts:
                raise CompilerError(f"two contracts named {name} in {tree.sources}")
            artifacts[name] = {
                "contractName": name,
                "sourceName": source_name,
                "sourceSha256": source_hash,
                "compiler": f"solc-js {SOLC_VERSION}, evm {EVM_VERSION}, optimizer 200 runs",
                "abi": out["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + out["evm"]["deployedBytecode"]["object"],
            }
    return artifacts


def _artifact_text(artifact: dict) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def build(trees: tuple[SourceTree, ...] = SOURCE_TREES) -> list[Path]:
    """Compile and (re)write every artifact; returns the paths written."""
    written = []
    for tree in trees:
        artifacts = compile_tree(tree)
        if not artifacts:
            continue
        tree.artifacts.mkdir(parents=True, exist_ok=True)
        for stale in tree.artifacts.glob("*.json"):
            if stale.stem not in artifacts:
                stale.unlink()
        for name, artifact in artifacts.items():
            path = tree.artifacts / f"{name}.json"
            path.write_text(_artifact_text(artifact))
            written.append(path)
    return written


def stale_artifacts(trees: tuple[SourceTree, ...] = SOURCE_TREES) -> list[str]:
    """Names of artifacts that differ from a fresh compile (missing or extra included)."""
    stale = []
    for tree in trees:
        fresh = compile_tree(tree)
        on_disk = {p.stem for p in tree.artifacts.glob("*.json")} if tree.artifacts.exists() else set()
        for name in sorted(on_disk - set(fresh)):
            stale.append(f"{tree.artifacts.name}/{name}.json (no source)")
        for name, artifact in sorted(fresh.items()):
            path = tree.artifacts / f"{name}.json"
            if not path.exists() or path.read_text() != _artifact_text(artifact):
                stale.append(str(path.relative_to(PROJECT_ROOT)))
    return stale
