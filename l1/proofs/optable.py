"""The opcode table shared by the Python step function and the Solidity prover.

One row per Prague opcode: stack items needed, popped and pushed, the base gas py-evm's
Prague fork charges before any dynamic part, and whether this prover supports it yet.
`render_solidity()` writes l1/contracts/osp/OpTable.sol from it (a test checks it is
current), so the two sides can never disagree on the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SOL_PATH = Path(__file__).resolve().parents[2] / "l1" / "contracts" / "osp" / "OpTable.sol"

DEFINED = 1
SUPPORTED = 2
STATE_CHANGING = 4  # an exceptional halt in a static frame


@dataclass(frozen=True)
class Op:
    code: int
    name: str
    need: int
    pops: int
    pushes: int
    gas: int
    supported: bool
    state_changing: bool = False

    @property
    def flags(self) -> int:
        return DEFINED | (SUPPORTED if self.supported else 0) | (STATE_CHANGING if self.state_changing else 0)


def _table() -> dict[int, Op]:
    rows: list[tuple[int, str, int, int, int, bool]] = [
        (0x00, "STOP", 0, 0, 0, True),
        (0x01, "ADD", 2, 1, 3, True), (0x02, "MUL", 2, 1, 5, True), (0x03, "SUB", 2, 1, 3, True),
        (0x04, "DIV", 2, 1, 5, True), (0x05, "SDIV", 2, 1, 5, True), (0x06, "MOD", 2, 1, 5, True),
        (0x07, "SMOD", 2, 1, 5, True), (0x08, "ADDMOD", 3, 1, 8, True), (0x09, "MULMOD", 3, 1, 8, True),
        (0x0A, "EXP", 2, 1, 10, True), (0x0B, "SIGNEXTEND", 2, 1, 5, True),
        (0x10, "LT", 2, 1, 3, True), (0x11, "GT", 2, 1, 3, True), (0x12, "SLT", 2, 1, 3, True),
        (0x13, "SGT", 2, 1, 3, True), (0x14, "EQ", 2, 1, 3, True), (0x15, "ISZERO", 1, 1, 3, True),
        (0x16, "AND", 2, 1, 3, True), (0x17, "OR", 2, 1, 3, True), (0x18, "XOR", 2, 1, 3, True),
        (0x19, "NOT", 1, 1, 3, True), (0x1A, "BYTE", 2, 1, 3, True), (0x1B, "SHL", 2, 1, 3, True),
        (0x1C, "SHR", 2, 1, 3, True), (0x1D, "SAR", 2, 1, 3, True),
        (0x20, "KECCAK256", 2, 1, 30, True),
        (0x30, "ADDRESS", 0, 1, 2, True), (0x31, "BALANCE", 1, 1, 0, True), (0x32, "ORIGIN", 0, 1, 2, True),
        (0x33, "CALLER", 0, 1, 2, True), (0x34, "CALLVALUE", 0, 1, 2, True), (0x35, "CALLDATALOAD", 1, 1, 3, True),
        (0x36, "CALLDATASIZE", 0, 1, 2, True), (0x37, "CALLDATACOPY", 3, 0, 3, True),
        (0x38, "CODESIZE", 0, 1, 2, True), (0x39, "CODECOPY", 3, 0, 3, True), (0x3A, "GASPRICE", 0, 1, 2, True),
        (0x3B, "EXTCODESIZE", 1, 1, 0, True), (0x3C, "EXTCODECOPY", 4, 0, 0, True),
        (0x3D, "RETURNDATASIZE", 0, 1, 2, True), (0x3E, "RETURNDATACOPY", 3, 0, 3, True),
        (0x3F, "EXTCODEHASH", 1, 1, 0, True),
        (0x40, "BLOCKHASH", 1, 1, 20, True), (0x41, "COINBASE", 0, 1, 2, True), (0x42, "TIMESTAMP", 0, 1, 2, True),
        (0x43, "NUMBER", 0, 1, 2, True), (0x44, "PREVRANDAO", 0, 1, 2, True), (0x45, "GASLIMIT", 0, 1, 2, True),
        (0x46, "CHAINID", 0, 1, 2, True), (0x47, "SELFBALANCE", 0, 1, 5, True), (0x48, "BASEFEE", 0, 1, 2, True),
        (0x49, "BLOBHASH", 1, 1, 3, True), (0x4A, "BLOBBASEFEE", 0, 1, 2, True),
        (0x50, "POP", 1, 0, 2, True), (0x51, "MLOAD", 1, 1, 3, True), (0x52, "MSTORE", 2, 0, 3, True),
        (0x53, "MSTORE8", 2, 0, 3, True), (0x54, "SLOAD", 1, 1, 0, True), (0x55, "SSTORE", 2, 0, 0, True),
        (0x56, "JUMP", 1, 0, 8, True), (0x57, "JUMPI", 2, 0, 10, True), (0x58, "PC", 0, 1, 2, True),
        (0x59, "MSIZE", 0, 1, 2, True), (0x5A, "GAS", 0, 1, 2, True), (0x5B, "JUMPDEST", 0, 0, 1, True),
        (0x5C, "TLOAD", 1, 1, 100, False), (0x5D, "TSTORE", 2, 0, 100, False), (0x5E, "MCOPY", 3, 0, 3, True),
        (0x5F, "PUSH0", 0, 1, 2, True),
        (0xF0, "CREATE", 3, 1, 32000, True), (0xF1, "CALL", 7, 1, 0, True), (0xF2, "CALLCODE", 7, 1, 0, True),
        (0xF3, "RETURN", 2, 2, 0, True), (0xF4, "DELEGATECALL", 6, 1, 0, True),
        (0xF5, "CREATE2", 4, 1, 32000, True), (0xFA, "STATICCALL", 6, 1, 0, True),
        (0xFD, "REVERT", 2, 2, 0, True), (0xFF, "SELFDESTRUCT", 1, 0, 5000, False),
    ]  # fmt: skip
    table = {code: Op(code, name, need, need, pushes, gas, ok) for code, name, need, pushes, gas, ok in rows}
    # RETURN / REVERT pop their two arguments (the `pushes` column above is unused for them).
    for code in (0xF3, 0xFD):
        table[code] = Op(code, table[code].name, 2, 2, 0, 0, True)
    for n in range(1, 33):
        table[0x5F + n] = Op(0x5F + n, f"PUSH{n}", 0, 0, 1, 3, True)
    for n in range(1, 17):
        table[0x7F + n] = Op(0x7F + n, f"DUP{n}", n, 0, 1, 3, True)
        table[0x8F + n] = Op(0x8F + n, f"SWAP{n}", n + 1, n + 1, n + 1, 3, True)
    for n in range(5):
        table[0xA0 + n] = Op(0xA0 + n, f"LOG{n}", 2 + n, 2 + n, 0, 375, True, True)
    # py-evm's Prague halts these in a static frame (`ensure_no_static`, CreateByzantium): SSTORE,
    # TSTORE (EIP-1153; Cancun's table wraps it too, tests/unit/test_tstore_static.py), CREATE,
    # CREATE2, SELFDESTRUCT. The halt is proven before the refusal of an unsupported opcode.
    for code in (0x55, 0x5D, 0xF0, 0xF5, 0xFF):
        old = table[code]
        table[code] = Op(code, old.name, old.need, old.pops, old.pushes, old.gas, old.supported, True)
    return table


OPS: dict[int, Op] = _table()


def render_solidity() -> str:
    rows = []
    for code in range(256):
        op = OPS.get(code)
        if op is None:
            rows.append("000000000000")
        else:
            rows.append(f"{op.need:02x}{op.pops:02x}{op.pushes:02x}{op.gas:04x}{op.flags:02x}")
    table = "".join(rows)
    names = "\n".join(
        f'        if (op == 0x{op.code:02x}) return "{op.name}";'
        for op in sorted(OPS.values(), key=lambda o: o.code)
        if not op.supported
    )
    return f"""// SPDX-License-Identifier: MIT
// GENERATED by l1/proofs/optable.py (render_solidity): do not edit by hand.
pragma solidity 0.8.37;

/// @title OpTable
/// @notice The Prague opcode table of the one-step prover, shared with the Python prover:
///         per opcode 6 bytes: stack items needed, popped, pushed, base gas (u16), flags
///         (1 defined, 2 supported by this prover, 4 state-changing).
library OpTable {{
    bytes internal constant TABLE =
        hex"{table}";

    /// @return need items read, pops, pushes, gas base gas, flags
    function info(uint256 op)
        internal
        pure
        returns (uint256 need, uint256 pops, uint256 pushes, uint256 gas, uint256 flags)
    {{
        bytes memory t = TABLE;
        uint256 w;
        assembly {{
            w := shr(208, mload(add(add(t, 32), mul(op, 6))))
        }}
        need = w >> 40;
        pops = (w >> 32) & 0xff;
        pushes = (w >> 24) & 0xff;
        gas = (w >> 8) & 0xffff;
        flags = w & 0xff;
    }}

    /// @return the mnemonic of an opcode this prover refuses (for `Unsupported(name)`)
    function name(uint256 op) internal pure returns (bytes32) {{
{names}
        return "UNKNOWN";
    }}
}}
"""


def write_solidity() -> None:
    SOL_PATH.write_text(render_solidity())


if __name__ == "__main__":
    write_solidity()
