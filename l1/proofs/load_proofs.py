"""Proofs of LOAD_ACCOUNT / LOAD_SLOT steps, whichever phase they load in (docs/fraud-proofs.md
2.4): `kind_proofs.PROVERS` is keyed by step kind only, and a LOAD is proven by the contract of
its phase, so this one packer routes by the pre-state:

- EXEC (an opcode's first touch): the opcode step's own proof (`steps.step_sections`, ExecWorld);
- SYS (before a system write): `block_proofs.sys_sections` (ExecSys);
- TX_LOAD / TX_SETUP (the sender, `to`, coinbase, access list): `start_proofs.load_sections`
  when that module has it, else `Unsupported(<phase name>)` with the MachineState preimage, which
  the verifier refuses by the same name while that phase's slot is empty.
"""

from __future__ import annotations

from l1.proofs import block_proofs, start_proofs, steps
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import PHASE_NAMES, SYS
from l1.proofs.kind_proofs import ProofFn
from l1.proofs.steps import Section
from l1.proofs.tx_proofs import Unsupported, machine_state


def load_sections(trace: BlockTrace, j: int) -> list[Section]:
    m = trace.machine(j)
    if m.exec is not None:
        return steps.step_sections(m.exec)[1]
    if m.phase == SYS:
        return block_proofs.sys_sections(trace, j)
    other = getattr(start_proofs, "load_sections", None)
    if other is not None:
        return other(trace, j)
    raise Unsupported(PHASE_NAMES.get(m.phase, "PHASE"), machine_state(m).preimage())


PROVERS: dict[str, ProofFn] = {"LOAD_ACCOUNT": load_sections, "LOAD_SLOT": load_sections}
