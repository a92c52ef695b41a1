"""The state transition: a block from (parent, attributes, ordered transactions).

Pure with respect to its inputs: the timestamp and L1 origin come from the block's
attributes (ultimately from the message stream), never from the executing node's clock.
Everything is written into a `PendingWrites` overlay; nothing reaches the store until
the chain commits the sealed block in one LMDB transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth.abc import (
    BlockHeaderAPI,
    ComputationAPI,
    MessageAPI,
    ReceiptAPI,
    ReceiptBuilderAPI,
    SignedTransactionAPI,
    StateAPI,
    TransactionBuilderAPI,
    TransactionContextAPI,
)
from eth.chains.base import ChainContext
from eth.constants import BLANK_ROOT_HASH, EMPTY_UNCLE_HASH
from eth.db.atomic import AtomicDB
from eth.db.chain import ChainDB
from eth.exceptions import OutOfGas
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth.vm.forks.shanghai.withdrawals import Withdrawal
from eth.vm.message import Message
from eth_typing import Address, BlockNumber, Hash32
from eth_utils import ValidationError
from rlp.sedes import CountableList

import l2  # noqa: F401
from l2.deposits import DEPOSIT_TX_TYPE, DepositTransaction
from l2.errors import InvalidTransaction
from l2.predeploys import (
    L1_INFO_ADDRESS,
    L1_INFO_BASE_FEE_SLOT,
    L1_INFO_HASH_SLOT,
    L1_INFO_NUMBER_SLOT,
)
from l2.spec import ChainSpec
from l2.store import LMDBStore, PendingWrites
from l2.transactions import L2ReceiptBuilder, L2TransactionBuilder, check_against_state, floor_gas
from l2.tries import ordered_trie_root
from l2.types import ZERO_HASH, BlockAttributes, SealedBlock

EMPTY_REQUESTS_HASH = Hash32(bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))


class DepositExecutor(PragueTransactionExecutor):
    """Executes a deposit: mint `value` to the sender, bump its nonce, then call `to`.

    No validity check (a deposit is never refused) and no gas bought: the gas price is 0,
    so finalization (refund, fee, EIP-161 clearing) is the normal one with nothing paid.
    A gas limit below the intrinsic gas (or the EIP-7623 floor) skips the call: status 0,
    the whole gas limit used. A failed call keeps the mint and the nonce bump.
    """

    _skipped_call = False

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        pass

    def build_evm_message(self, transaction: SignedTransactionAPI) -> MessageAPI:
        state = self.vm_state
        state.delta_balance(transaction.sender, transaction.value)
        state.increment_nonce(transaction.sender)
        needed = max(transaction.intrinsic_gas, floor_gas(transaction))
        self._skipped_call = transaction.gas < needed
        code, delegation_address = b"", None
        if not self._skipped_call:
            code, delegation_address = self.get_code_at_address(transaction.to)
        return Message(
            gas=0 if self._skipped_call else transaction.gas - transaction.intrinsic_gas,
            to=transaction.to,
            sender=transaction.sender,
            value=transaction.value,
            data=transaction.data,
            code=code,
            is_delegation=delegation_address is not None,
        )

    def build_computation(self, message: MessageAPI, transaction: SignedTransactionAPI) -> ComputationAPI:
        if not self._skipped_call:
            return super().build_computation(message, transaction)
        computation = self.vm_state.get_computation(message, self.vm_state.get_transaction_context(transaction))
        computation.error = OutOfGas(f"deposit gas {transaction.gas} below its intrinsic gas")
        return computation

    def finalize_computation(self, transaction: SignedTransactionAPI, computation: ComputationAPI) -> ComputationAPI:
        computation = super().finalize_computation(transaction, computation)
        if self._skipped_call:
            computation.data_floor_gas = 0  # type: ignore[attr-defined]  # gas used = gas limit exactly
        return computation


# Code bytes -> (valid, invalid) opcode positions, shared by every frame that runs that code.
_JUMPDEST_MEMO: dict[bytes, tuple[set[int], set[int]]] = {}
JUMPDEST_MEMO_CODES = 256  # distinct codes remembered; the memo starts over beyond that


class L2Computation(PragueComputation):
    """Prague's computation, with py-evm's JUMPDEST analysis memoized per code instead of per frame.

    `CodeStream.is_valid_opcode(p)` (is `p` an opcode rather than PUSH data?) looks back up to
    32 bytes for a PUSH and memoizes the answer in two sets, but each frame gets a fresh
    CodeStream: every ERC-20 transfer re-analysed the token's jump destinations (~6-9% of an
    ERC-20 block's CPU). The answer is a pure function of the code bytes and the position, so
    frames running the same code share the sets: the same answers, computed once. Only the
    memo is shared; each frame keeps its own program counter.
    """

    def __init__(
        self, state: StateAPI, message: MessageAPI, transaction_context: TransactionContextAPI
    ) -> None:
        super().__init__(state, message, transaction_context)
        code = message.code
        if not code:
            return
        memo = _JUMPDEST_MEMO.get(code)
        if memo is None:
            if len(_JUMPDEST_MEMO) >= JUMPDEST_MEMO_CODES:
                _JUMPDEST_MEMO.clear()
            memo = _JUMPDEST_MEMO[code] = (set(), set())
        self.code.valid_positions, self.code.invalid_positions = memo  # type: ignore[attr-defined]


class L2State(PragueState):
    """Prague's state with deposits dispatched to `DepositExecutor` and charged nothing."""

    computation_class = L2Computation

    def apply_transaction(self, transaction: SignedTransactionAPI) -> ComputationAPI:
        if type(transaction) is DepositTransaction:
            return DepositExecutor(self)(transaction)
        return self.get_transaction_executor()(transaction)

    def get_tip(self, transaction: SignedTransactionAPI) -> int:
        # London's min(fee cap - base fee, tip) would be negative for a fee-less deposit.
        return 0 if transaction.type_id == DEPOSIT_TX_TYPE else super().get_tip(transaction)

    def get_gas_price(self, transaction: SignedTransactionAPI) -> int:
        return 0 if transaction.type_id == DEPOSIT_TX_TYPE else super().get_gas_price(transaction)


class L2Block(PragueBlock):
    """Prague's block whose transactions and receipts may include deposits (0x7E)."""

    transaction_builder: type[TransactionBuilderAPI] = L2TransactionBuilder
    receipt_builder: type[ReceiptBuilderAPI] = L2ReceiptBuilder
    fields = [
        ("header", PragueBlockHeader),
        ("transactions", CountableList(L2TransactionBuilder)),
        ("uncles", CountableList(None, max_length=0)),
        ("withdrawals", CountableList(Withdrawal)),
    ]


class L2VM(PragueVM):
    """PragueVM rules plus deposits; the header is built by `make_header`, not py-evm's helpers."""

    extra_data_max_bytes = 32
    block_class = L2Block
    _state_class = L2State


@dataclass
class _GasCursor:
    """What py-evm's make_receipt reads of a header: the gas used before this transaction."""

    gas_used: int


def make_header(spec: ChainSpec, parent: BlockHeaderAPI, attrs: BlockAttributes) -> PragueBlockHeader:
    """The header of a child of `parent` before execution (roots and gas filled at seal)."""
    if attrs.timestamp < parent.timestamp:
        raise ValueError(f"timestamp {attrs.timestamp} before parent's {parent.timestamp}")
    return PragueBlockHeader(
        parent_hash=parent.hash,
        uncles_hash=EMPTY_UNCLE_HASH,
        coinbase=Address(spec.fee_recipient),
        state_root=parent.state_root,
        transaction_root=BLANK_ROOT_HASH,
        receipt_root=BLANK_ROOT_HASH,
        bloom=0,
        difficulty=0,
        block_number=BlockNumber(parent.block_number + 1),
        gas_limit=spec.gas_limit,
        gas_used=0,
        timestamp=attrs.timestamp,
        extra_data=b"",
        # PREVRANDAO: deterministic, not random (documented in docs/state-transition.md).
        mix_hash=parent.hash,
        nonce=b"\x00" * 8,
        base_fee_per_gas=spec.next_base_fee(parent.base_fee_per_gas or 0, parent.gas_used),
        withdrawals_root=BLANK_ROOT_HASH,
        blob_gas_used=0,
        excess_blob_gas=0,
        parent_beacon_block_root=ZERO_HASH,
        requests_hash=EMPTY_REQUESTS_HASH,
    )


class BlockBuilder:
    """Executes one block transaction by transaction; `seal` returns the sealed block.

    `add` either applies a transaction completely or raises `InvalidTransaction` with the
    state exactly as before: a block is never half-applied.
    """

    def __init__(
        self,
        store: LMDBStore,
        spec: ChainSpec,
        parent: BlockHeaderAPI,
        attrs: BlockAttributes,
        ancestor_hashes: Sequence[bytes],
    ) -> None:
        self.spec = spec
        self.attrs = attrs
        self.pending = PendingWrites(store)
        self.chaindb = ChainDB(AtomicDB(self.pending))
        self.header = make_header(spec, parent, attrs)
        context = ChainContext(spec.chain_id)
        self.vm = L2VM(self.header, self.chaindb, context, None)  # type: ignore[arg-type]
        self.state: StateAPI = L2VM.build_state(
            self.chaindb.db, self.header, context, tuple(Hash32(h) for h in ancestor_hashes)
        )
        self.vm._state = self.state
        self.transactions: list[SignedTransactionAPI] = []
        self.receipts: list[ReceiptAPI] = []
        self.gas_used = 0
        self.bloom = 0
        # Accounts whose nonce, balance, code or storage root the block changed (for the pool's
        # re-read after the commit); None if py-evm's journal could not be read: assume all.
        self.touched: set[bytes] | None = set()
        self._sealed = False
        self._block_start()

    def _block_start(self) -> None:
        """System writes before the first transaction: EIP-2935 history and the L1 origin."""
        self.vm.block_preprocessing(self.vm.get_block())
        origin = self.attrs.l1_origin
        self.state.set_storage(L1_INFO_ADDRESS, L1_INFO_NUMBER_SLOT, origin.number)
        self.state.set_storage(L1_INFO_ADDRESS, L1_INFO_HASH_SLOT, int.from_bytes(origin.hash, "big"))
        self.state.set_storage(L1_INFO_ADDRESS, L1_INFO_BASE_FEE_SLOT, origin.base_fee)
        self.state.lock_changes()

    @property
    def base_fee(self) -> int:
        return self.header.base_fee_per_gas or 0

    @property
    def gas_left(self) -> int:
        # Deposits may take the block past its gas limit; then nothing else fits.
        return max(self.header.gas_limit - self.gas_used, 0)

    def add(self, tx: SignedTransactionAPI) -> ReceiptAPI:
        """Apply `tx` (already decoded and stateless-checked) or raise with no state change.

        A deposit skips the stateful rules and the block gas check: it is always applied.
        """
        if self._sealed:
            raise RuntimeError("block already sealed")
        if type(tx) is not DepositTransaction:
            check_against_state(tx, self.state, self.gas_left)
        snapshot = self.state.snapshot()
        try:
            computation = self.state.apply_transaction(tx)
            receipt = self.vm.make_receipt(_GasCursor(self.gas_used), tx, computation, self.state)  # type: ignore[arg-type]
        except ValidationError as exc:
            self.state.revert(snapshot)
            raise InvalidTransaction("evm", str(exc)) from None
        except BaseException:
            self.state.revert(snapshot)
            raise
        self.state.commit(snapshot)
        # Refunds and fees are settled: later transactions must not revert into this one.
        self.state.lock_changes()
        self.gas_used = receipt.gas_used
        self.bloom |= int(receipt.bloom)
        self.transactions.append(tx)
        self.receipts.append(receipt)
        return receipt

    def settle(self) -> None:
        """Fold the changes so far into the state trie now, as `seal` would (py-evm does it per
        receipt before Byzantium): the root is the same, and sealing has only the rest left."""
        if self._sealed:
            raise RuntimeError("block already sealed")
        self._note_touched()
        self.state.make_state_root()

    def _note_touched(self) -> None:
        """Add the accounts changed since the last fold to `touched`, from py-evm's account journal."""
        if self.touched is None:
            return
        try:
            diff = self.state._account_db._journaltrie.diff()  # type: ignore[attr-defined]
            self.touched.update(diff.pending_keys())
            self.touched.update(diff.deleted_keys())
        except AttributeError:  # another py-evm layout: the pool re-reads every sender
            self.touched = None

    def seal(self) -> SealedBlock:
        """Fold the state into the trie and build the final header; writes stay pending."""
        if self._sealed:
            raise RuntimeError("block already sealed")
        self._sealed = True
        self._note_touched()
        self.state.persist()
        tx_root, tx_nodes = ordered_trie_root([tx.encode() for tx in self.transactions])
        receipt_root, receipt_nodes = ordered_trie_root([r.encode() for r in self.receipts])
        header = self.header.copy(
            state_root=self.state.state_root,
            transaction_root=tx_root,
            receipt_root=receipt_root,
            gas_used=self.gas_used,
            bloom=self.bloom,
        )
        writes = self.pending.writes
        writes.update(tx_nodes)
        writes.update(receipt_nodes)
        block = L2Block(header, transactions=self.transactions, uncles=[], withdrawals=[])
        self.chaindb.persist_block(block)
        return SealedBlock(block=block, receipts=tuple(self.receipts))
