"""End to end on anvil, a dispute played down to a NEXT_MESSAGE / TX_LOAD step (docs/fraud-proofs.md
16): the scenario of `tests/e2e/test_dispute_onestep.py` (`bench.dispute.run_scenario`, the
TEST-ONLY liar defending a wrong root, the honest verifier challenging) with the lie placed right
after such a step. The honest verifier's own dispute agent (`verifier.dispute.make_agent`) must
register the step's L2Tx preimage in the PreimageOracle itself (its `Registrar`) before its proof
can pass: the liar's planner checks nothing on L1 here (`plan_checked=False`), so no record
exists before the honest agent's turn.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bench.dispute import run_scenario
from tests.e2e.test_dispute_onestep import _assert_challenger_won


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["NEXT_MESSAGE", "TX_LOAD"])
def test_wrong_root_is_bisected_to_a_message_step_registered_and_proven_on_l1(
        tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="l1.dispute_level2")
    run = run_scenario(tmp_path, honest_side="challenger", log=lambda s: None, lie_at=kind, plan_checked=False)
    assert run.opcode == kind
    _assert_challenger_won(run)
    # the honest agent registered the transaction's message itself, once
    registered = [r for r in caplog.records if r.name == "l1.dispute_level2" and "registering a" in r.getMessage()]
    assert len(registered) == 1, [r.getMessage() for r in registered]
