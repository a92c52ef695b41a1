"""`rollup bench l1gas`: L1 gas of the rollup's contract calls, measured on a fresh anvil.

appendBatch is compared with the bare calldata cost of its payload (21000 + 16 per nonzero
byte + 4 per zero byte), so its advantage (< 1) is the overhead of the inbox on top of
the data itself. Other calls have no natural baseline: figures only.
"""

from __future__ import annotations

from eth_account import Account
from eth_hash.auto import keccak

from bench.report import BenchResult
from l1.anvil import Anvil
from l1.bindings import DelayedInboxBinding, InboxBinding, RollupBinding
from l1.deploy import DeployParams, deploy
from l1.headers import header_rlp
from l1.withdrawals import messages_passed, proof_from_rpc
from l2.devkeys import DEV_ACCOUNTS
from l2.predeploys import artifact as predeploy_artifact
from l2.spec import devnet_spec

PAYLOAD_KIB = (1, 8, 32, 64)
# Withdrawals already in the MessagePasser when one is proven: the storage proof's depth
# grows with log16 of this (3 nodes from ~300 on).
PRIOR_WITHDRAWALS = 300  # 64 KiB: the largest under Inbox.MAX_PAYLOAD_BYTES
TX_BASE_GAS = 21_000


def calldata_gas(data: bytes) -> int:
    """Calldata gas before EIP-7623's floor: 16 per nonzero byte, 4 per zero byte."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def calldata_floor_gas(data: bytes) -> int:
    """EIP-7623 floor of a transaction carrying `data`: 21000 + 10 per token (nonzero byte = 4 tokens)."""
    zeros = data.count(0)
    return TX_BASE_GAS + 10 * (zeros + 4 * (len(data) - zeros))


def payload(size: int, seed: bytes = b"l1gas") -> bytes:
    """Deterministic incompressible bytes, like a compressed batch."""
    out = bytearray()
    block = keccak(seed)
    while len(out) < size:
        out += block
        block = keccak(block)
    return bytes(out[:size])


def run_bench(txs: int | None = None) -> BenchResult:
    """`txs` is unused: every call is measured once, after a warm-up call of the same kind."""
    result = BenchResult("l1gas")
    owner = Account.from_key(DEV_ACCOUNTS[0][1])
    params = DeployParams(challenge_period=60, bond=10**17, force_inclusion_delay=60, withdrawal_delay=60)
    with Anvil() as node:
        deployment = deploy(node.w3, owner, devnet_spec(), params)
        delayed = DelayedInboxBinding(node.w3, deployment.contracts["DelayedInbox"], owner)
        inbox = InboxBinding(node.w3, deployment.contracts["Inbox"], owner)
        rollup = RollupBinding(node.w3, deployment.contracts["Rollup"], owner)

        delayed.deposit(owner.address, 21_000, value=1)  # warm-up: first writes of the arrays
        result.figures["deposit_eth_gas"] = delayed.deposit(owner.address, 21_000, value=1)["gasUsed"]
        call = b"\xa9\x05\x9c\xbb" + bytes(64)
        result.figures["deposit_call_68B_gas"] = delayed.deposit(owner.address, 100_000, call)["gasUsed"]

        inbox.append_batch(payload(100, b"warm-up"), keccak(b"r"), 1, 0)
        for kib in PAYLOAD_KIB:
            data = payload(kib * 1024, kib.to_bytes(2, "big"))
            gas = inbox.append_batch(data, keccak(data), 100, 0)["gasUsed"]
            baseline = TX_BASE_GAS + calldata_gas(data)
            result.compare(f"appendBatch_{kib}KiB_gas_per_KiB", gas / kib, baseline / kib, higher_is_better=False)
        result.figures["appendBatch_64KiB_gas_above_eip7623_floor"] = gas - calldata_floor_gas(data)
        gas = inbox.append_batch(payload(32 * 1024, b"pull"), keccak(b"p"), 100, 3)["gasUsed"]
        result.figures["appendBatch_32KiB_pulling_3_deposits_gas"] = gas
        # Recording one new L1 origin with a batch (docs/fraud-proofs.md D2): the same small batch
        # with and without one header, so the figure is the header's calldata, check and storage.
        node.w3.provider.make_request("anvil_mine", ["0x2"])
        small = payload(100, b"origin")
        without = inbox.append_batch(small, keccak(b"o"), 1, 3)["gasUsed"]
        header = header_rlp(node.w3, node.w3.eth.block_number - 1)
        assert header is not None
        with_origin = inbox.append_batch(small, keccak(b"o"), 1, 3, [header])["gasUsed"]
        result.figures["appendBatch_record_1_l1_origin_gas"] = with_origin - without
        result.figures["l1_origin_header_bytes"] = len(header)

        delayed.deposit(owner.address, 21_000, value=1)
        node.increase_time(61)
        result.figures["forceInclude_1_deposit_gas"] = inbox.force_include()["gasUsed"]

        first = rollup.created_id(rollup.create_assertion(0, inbox.entry_count(), 10, keccak(b"o1")))
        receipt = rollup.create_assertion(first, inbox.entry_count(), 20, keccak(b"o2"))
        second = rollup.created_id(receipt)
        result.figures["createAssertion_gas"] = receipt["gasUsed"]
        node.increase_time(61)
        rollup.confirm_assertion(first)
        result.figures["confirmAssertion_gas"] = rollup.confirm_assertion(second)["gasUsed"]

        prove, finalize, nodes = _withdrawal_gas(node, delayed, rollup, inbox.entry_count())
        result.figures["proveWithdrawal_gas"] = prove
        result.figures["finalizeWithdrawal_eth_gas"] = finalize
        result.figures["proveWithdrawal_proof_nodes"] = nodes
        hardfork = node.w3.provider.make_request("anvil_nodeInfo", []).get("result", {}).get("hardFork", "?")
    result.notes.append(
        f"proveWithdrawal: a storage proof of {nodes} nodes (a MessagePasser holding {PRIOR_WITHDRAWALS + 1} "
        "withdrawals, proof from anvil's eth_getProof); finalizeWithdrawal pays ETH to a fresh EOA"
    )
    result.notes.append(
        f"anvil hardfork {hardfork}; from Prague on, EIP-7623 prices data-heavy calldata at a floor of "
        "40 gas per nonzero byte, so appendBatch pays ~2.5x the 16-gas baseline: blobs (EIP-4844) are the fix"
    )
    return result


def _withdrawal_gas(
    node: Anvil, delayed: DelayedInboxBinding, rollup: RollupBinding, entries: int
) -> tuple[int, int, int]:
    """Gas of proveWithdrawal and finalizeWithdrawal, with L2's MessagePasser stood in on anvil."""
    w3, user = node.w3, delayed.signer
    assert user is not None
    passer_artifact = predeploy_artifact("MessagePasser")
    factory = w3.eth.contract(abi=passer_artifact["abi"], bytecode=passer_artifact["bytecode"])
    delayed.deposit(user.address, 21_000, value=10**15)  # the ETH the withdrawal is paid from
    nonce = w3.eth.get_transaction_count(user.address, "pending")
    sent = [0]

    def send(tx: dict) -> dict:
        tx = {**tx, "from": user.address, "nonce": nonce + sent[0], "chainId": w3.eth.chain_id, "gas": 500_000,
              "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 1}
        sent[0] += 1
        return dict(w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(user.sign_transaction(tx).raw_transaction)))

    passer_address = send(factory.constructor().build_transaction({"from": user.address, "gas": 500_000}))[
        "contractAddress"
    ]
    passer = w3.eth.contract(address=passer_address, abi=passer_artifact["abi"])
    target = w3.to_checksum_address("0x00000000000000000000000000000000000b0b02")
    for i in range(PRIOR_WITHDRAWALS):  # fill the storage trie, then wait only for the last receipt
        tx = passer.functions.initiateWithdrawal(target, 0, b"").build_transaction(
            {"from": user.address, "value": i + 1, "gas": 200_000, "nonce": nonce + sent[0],
             "chainId": w3.eth.chain_id, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 1})
        sent[0] += 1
        last = w3.eth.send_raw_transaction(user.sign_transaction(tx).raw_transaction)
    w3.eth.wait_for_transaction_receipt(last)
    receipt = send(passer.functions.initiateWithdrawal(target, 0, b"").build_transaction(
        {"from": user.address, "value": 10**15, "gas": 200_000}))
    [passed] = messages_passed(receipt, bytes.fromhex(passer_address[2:]))
    block = w3.eth.get_block(receipt["blockNumber"])
    raw = w3.provider.make_request(
        "eth_getProof", [passer_address, ["0x" + passed.withdrawal.slot().hex()], hex(block["number"])])["result"]
    proof = proof_from_rpc(
        {"hash": "0x" + bytes(block["hash"]).hex(), "stateRoot": "0x" + bytes(block["stateRoot"]).hex()},
        raw, passed.withdrawal_hash)
    parent = rollup.latest_confirmed()
    l2_block = rollup.assertion(parent).l2_block_number + 10
    assertion = rollup.created_id(rollup.create_assertion(parent, entries, l2_block, proof.output.root()))
    node.increase_time(61)
    rollup.confirm_assertion(assertion)
    prove = delayed.prove_withdrawal(passed.withdrawal, assertion, proof)["gasUsed"]
    node.increase_time(61)
    finalize = delayed.finalize_withdrawal(passed.withdrawal)["gasUsed"]
    return prove, finalize, len(proof.storage_proof)
