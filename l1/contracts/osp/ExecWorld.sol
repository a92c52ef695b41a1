// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOneStepProver} from "./IOneStepProver.sol";
import {CodeOracle} from "../CodeOracle.sol";
import {Buf} from "./Buf.sol";
import {ExecBase} from "./ExecBase.sol";
import {Journal} from "./Journal.sol";
import {MptUpdate} from "./MptUpdate.sol";
import {Packed} from "./Packed.sol";
import {WorldState} from "./WorldState.sol";

/// @title ExecWorld
/// @notice The world-state opcodes of the EXEC step (docs/fraud-proofs.md 2.3, 2.4): LOAD_ACCOUNT /
///         LOAD_SLOT before a first touch, BALANCE, EXTCODESIZE, EXTCODEHASH, SELFBALANCE, SLOAD,
///         SSTORE, EXTCODECOPY (<= INLINE, code from the code oracle) and LOG0..LOG4 (data <= INLINE)
///         over the tx journal (Journal, WorldState, StorageGas); BLOCKHASH from the EIP-2935 slot
///         in the pre-tx trie (section 20). A
///         contract of its own so that OneStepProver stays under the 24 KiB code limit, deployed
///         before it with the chain's code oracle and passed to its constructor (6.1); it is
///         pure and called by OneStepProver (staticcall: `step` is a view) with the decoded step
///         `S`, reading the same proof from `S.p` on. Twin: l1/proofs/steps.py.
contract ExecWorld {
    using Packed for bytes;

    uint256 internal constant MS_WORLD_ROOT = 97;
    uint256 internal constant T_LOGS_OFF = 298;
    uint256 internal constant COLD_ACCOUNT = 2600;
    uint256 internal constant WARM_ACCOUNT = 100;
    bytes32 internal constant EMPTY_CODE_HASH = 0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470;
    /// @dev The EIP-2935 history contract (py-evm's Prague HISTORY_STORAGE_ADDRESS, its code's hash,
    ///      HISTORY_SERVE_WINDOW) and how far back BLOCKHASH answers (py-evm's MAX_PREV_HEADER_DEPTH).
    address internal constant HISTORY = 0x0000F90827F1C53a10cb7A02335B175320002935;
    bytes32 internal constant HISTORY_CODE_HASH = 0x6e49e66782037c0555897870e29fa5e552daf4719552131a0abce779daec0a5d;
    uint256 internal constant HISTORY_WINDOW = 8191;
    uint256 internal constant BLOCKHASH_DEPTH = 256;
    uint256 internal constant CODE_DEPTH = 11;

    /// @notice EXTCODESIZE's sizes: what the code oracle holds for a code hash (live read, D4).
    CodeOracle public immutable codeOracle;

    /// @notice EXTCODESIZE of an account whose code is not registered in the code oracle (register
    ///         it first: `CodeOracle.register(code)`, anyone).
    error CodeNotRegistered(bytes32 codeHash);

    constructor(CodeOracle codeOracle_) {
        codeOracle = codeOracle_;
    }

    /// @notice The LOAD flag of a world-state opcode is neither 0 (present) nor 1 (LOAD).
    error BadLoadFlag();
    /// @notice A LOAD_SLOT's account leaf is not the executing contract's.
    error WrongAccount();
    /// @notice An MPT proof's `bytes[]` encoding is not the canonical ABI one (ExecBase.nodes;
    ///         declared here too so that the contract's ABI names it).
    error NonCanonicalNodes();

    /// @notice Step (3) of a world-state opcode: reads the LOAD flag; a LOAD returns its post-state
    ///         (`loaded`), else `s` with the proof cursor past the flag.
    function load(ExecBase.S memory s, bytes calldata proof)
        external
        pure
        returns (bool loaded, bytes32 post, ExecBase.S memory)
    {
        if (!_loadFlag(s, proof)) return (false, 0, s);
        return (true, _load(s, proof), s);
    }

    /// @notice Step (4) after the gas: the opcode on its present key; `ok` false = out of gas
    ///         (exceptional halt); `r` the pushed value (BALANCE, EXTCODEHASH, SELFBALANCE, SLOAD).
    function run(ExecBase.S memory s, bytes calldata proof)
        external
        view
        returns (bool ok, uint256 r, ExecBase.S memory)
    {
        (ok, r) = _world(s, proof);
        return (ok, r, s);
    }

    /// @notice BLOCKHASH (docs/fraud-proofs.md 20), after its gas: proof `BlockCtx ++` (n in the 256
    ///         blocks before `number` only) the history contract's MPT proof against `worldRoot`
    ///         `++` slot `n % 8191`'s against its storage root. The slot holds block n's hash
    ///         (written at the start of block n + 1, never by a transaction); 0 out of range.
    function blockHash(ExecBase.S memory s, bytes calldata proof) external pure returns (uint256) {
        bytes memory b =
            Packed.loadChecked(proof, s.p, Packed.TAG_BLOCK, Packed.BLOCK_SIZE, s.ms.rd32(Packed.MS_BLOCK), "BlockCtx");
        uint256 p = s.p + Packed.BLOCK_SIZE;
        uint256 number = b.rd(Packed.B_NUMBER, 8);
        uint256 n = s.items[0];
        if (n >= number || number - n > BLOCKHASH_DEPTH) return 0;
        bytes[] calldata nodes;
        (nodes, p) = ExecBase.nodes(proof, p);
        (bool found, bytes memory value) =
            MptUpdate.read(s.ms.rd32(MS_WORLD_ROOT), abi.encodePacked(keccak256(abi.encodePacked(HISTORY))), nodes);
        if (!found) revert IOneStepProver.Unsupported("BLOCKHASH_HISTORY");
        (,, bytes32 storageRoot, bytes32 codeHash) = MptUpdate.decodeAccount(value);
        if (codeHash != HISTORY_CODE_HASH) revert IOneStepProver.Unsupported("BLOCKHASH_HISTORY");
        (nodes, p) = ExecBase.nodes(proof, p);
        (found, value) = MptUpdate.read(storageRoot, abi.encodePacked(keccak256(abi.encode(n % HISTORY_WINDOW))), nodes);
        return found ? MptUpdate.decodeUint(value) : 0;
    }

    /// @dev The account or slot a world-state opcode needs: (address, slot, is a slot).
    function _worldKey(ExecBase.S memory s) private pure returns (address a, uint256 slot, bool isSlot) {
        uint256 op = s.op;
        if (op == 0x54 || op == 0x55) return (address(uint160(s.fr.rd(Packed.F_ADDRESS, 20))), s.items[0], true);
        if (op == 0x47) return (address(uint160(s.fr.rd(Packed.F_ADDRESS, 20))), 0, false);
        if (op == 0xf1 || op == 0xf2 || op == 0xf4 || op == 0xfa) {
            return (address(uint160(s.items[1])), 0, false); // a call's code source (ExecCall)
        }
        return (address(uint160(s.items[0])), 0, false);
    }

    /// @dev The proof's LOAD flag: 1 = the key is absent and this step loads it, 0 = present.
    function _loadFlag(ExecBase.S memory s, bytes calldata proof) private pure returns (bool) {
        if (s.p >= proof.length) revert Packed.ProofTooShort();
        uint8 flag = uint8(proof[s.p]);
        s.p += 1;
        if (flag > 1) revert BadLoadFlag();
        return flag == 1;
    }

    /// @dev LOAD_ACCOUNT / LOAD_SLOT: insert the key (its pre-tx value, cold) into the journal;
    ///      nothing else changes, the opcode runs in the next step.
    function _load(ExecBase.S memory s, bytes calldata proof) private pure returns (bytes32) {
        (address a, uint256 slot, bool isSlot) = _worldKey(s);
        bytes32 root = s.ms.rd32(Packed.MS_JOURNAL_ROOT);
        uint256 count = s.ms.rd(Packed.MS_JOURNAL_COUNT, 4);
        uint256 p = s.p;
        if (isSlot) {
            Journal.LeafProof memory account;
            (account, p) = Journal.decodeLeafProof(proof, p);
            bytes[] calldata nodes;
            (nodes, p) = ExecBase.nodes(proof, p);
            Journal.InsertProof memory ins;
            (ins, p) = Journal.decodeInsertProof(proof, p);
            Journal.Slot memory entry;
            (root, count, entry) = WorldState.loadSlot(root, count, account, slot, nodes, ins);
            if (entry.addr != a) revert WrongAccount();
        } else {
            bytes[] calldata nodes;
            (nodes, p) = ExecBase.nodes(proof, p);
            Journal.InsertProof memory ins;
            (ins, p) = Journal.decodeInsertProof(proof, p);
            (root, count,) = WorldState.loadAccount(s.ms.rd32(MS_WORLD_ROOT), root, count, a, nodes, ins);
        }
        s.ms.wr32(Packed.MS_JOURNAL_ROOT, root);
        s.ms.wr(Packed.MS_JOURNAL_COUNT, 4, count);
        return keccak256(s.ms);
    }

    /// @dev The opcode part of BALANCE, EXTCODEHASH, SELFBALANCE, SLOAD, SSTORE, LOGn on a present
    ///      key; ok = false: out of gas (exceptional halt).
    function _world(ExecBase.S memory s, bytes calldata proof) private view returns (bool ok, uint256 r) {
        uint256 op = s.op;
        if (op >= 0xa0) {
            _log(s, proof);
            return (true, 0);
        }
        (address a,, bool isSlot) = _worldKey(s);
        Journal.LeafProof memory leaf;
        (leaf, s.p) = Journal.decodeLeafProof(proof, s.p);
        if (!isSlot) return _accountOp(s, proof, leaf, a);
        return op == 0x54 ? _sload(s, leaf) : (_sstore(s, proof, leaf), 0);
    }

    function _sload(ExecBase.S memory s, Journal.LeafProof memory leaf) private pure returns (bool, uint256 r) {
        uint256 gas;
        bytes32 root;
        (r, gas, root) = WorldState.sload(
            s.ms.rd32(Packed.MS_JOURNAL_ROOT), s.ms.rd(Packed.MS_JOURNAL_COUNT, 4), leaf,
            address(uint160(s.fr.rd(Packed.F_ADDRESS, 20))), s.items[0]
        );
        if (gas > s.gas) return (false, 0);
        s.gas -= gas;
        s.ms.wr32(Packed.MS_JOURNAL_ROOT, root);
        return (true, r);
    }

    function _sstore(ExecBase.S memory s, bytes calldata proof, Journal.LeafProof memory leaf) private pure returns (bool) {
        (bool ok, uint256 gas, int256 refund, bytes32 root) = WorldState.sstore(
            s.ms.rd32(Packed.MS_JOURNAL_ROOT), s.ms.rd(Packed.MS_JOURNAL_COUNT, 4), leaf,
            address(uint160(s.fr.rd(Packed.F_ADDRESS, 20))), s.items[0], s.items[1], s.gas
        );
        if (!ok) return false;
        s.gas -= gas;
        s.ms.wr32(Packed.MS_JOURNAL_ROOT, root);
        bytes memory t = ExecBase.loadTx(s, proof);
        t.wr(Packed.T_REFUND, 8, uint256(int256(int64(uint64(t.rd(Packed.T_REFUND, 8)))) + refund));
        s.ms.wr32(Packed.MS_TX, keccak256(t));
        return true;
    }

    function _accountOp(ExecBase.S memory s, bytes calldata proof, Journal.LeafProof memory leaf, address a)
        private
        view
        returns (bool, uint256)
    {
        bytes32 root = s.ms.rd32(Packed.MS_JOURNAL_ROOT);
        uint256 count = s.ms.rd(Packed.MS_JOURNAL_COUNT, 4);
        {
            (bytes32 hi, bytes32 lo) = Journal.accountKey(a);
            Journal.verifyMember(root, count, leaf, hi, lo);
        }
        Journal.Account memory acc = Journal.decodeAccount(leaf.leaf.payload);
        if (s.op != 0x47) {
            bool warm = acc.flags & Journal.FLAG_WARM != 0;
            uint256 cost = warm ? WARM_ACCOUNT : COLD_ACCOUNT;
            if (cost > s.gas) return (false, 0);
            s.gas -= cost;
            if (!warm) {
                acc.flags |= Journal.FLAG_WARM;
                s.ms.wr32(Packed.MS_JOURNAL_ROOT, Journal.update(root, count, leaf, Journal.encodeAccount(acc)));
            }
        }
        if (s.op == 0x3c) {
            _extCodeCopy(s, proof, acc.codeHash);
            return (true, 0);
        }
        if (s.op == 0x3b) {
            (bool known, uint256 size,,) = codeOracle.get(acc.codeHash);
            if (!known) revert CodeNotRegistered(acc.codeHash);
            return (true, size);
        }
        if (s.op == 0x3f) {
            bool empty = acc.nonce == 0 && acc.balance == 0 && acc.codeHash == EMPTY_CODE_HASH;
            return (true, empty ? 0 : uint256(acc.codeHash));
        }
        return (true, acc.balance);
    }

    /// @dev EXTCODECOPY after the account's gas (docs/fraud-proofs.md 20): `size` bytes of the code
    ///      of `codeHash` from `offset` into memory at `destOffset`, zero past the code's end; the
    ///      code words are proven against the code oracle's `codeRoot` (live read, immutable once
    ///      registered), the memory words give the new root. Above INLINE: the COPY micro-steps.
    function _extCodeCopy(ExecBase.S memory s, bytes calldata proof, bytes32 codeHash) private view {
        uint256 size = s.items[3];
        if (size == 0) return;
        if (size > ExecBase.INLINE) revert IOneStepProver.Unsupported("COPY_PENDING");
        (bool known, uint256 codeSize, bytes32 codeRoot,) = codeOracle.get(codeHash);
        if (!known) revert CodeNotRegistered(codeHash);
        bytes memory data = new bytes(size);
        uint256 src = s.items[2];
        if (src < codeSize) {
            uint256 n = codeSize - src < size ? codeSize - src : size;
            bytes32[] memory words = ExecBase.range(s, proof, codeRoot, CODE_DEPTH, src, n);
            assembly {
                mcopy(add(data, 32), add(add(words, 32), and(src, 31)), n)
            }
        }
        s.memRoot = _bufWrite(s, proof, s.memRoot, s.items[1], data);
    }

    /// @dev LOGn (data <= ExecBase.INLINE): the log's RLP into the block byte store at max(bufLen, logsOff),
    ///      address and topics into the tx bloom, logCount + 1.
    function _log(ExecBase.S memory s, bytes calldata proof) private pure {
        uint256 size = s.items[1];
        if (size > ExecBase.INLINE) revert IOneStepProver.Unsupported("LOGDATA_PENDING");
        bytes memory t = ExecBase.loadTx(s, proof);
        bytes memory a = ExecBase.loadAcc(s, proof);
        if (s.p + 256 > proof.length) revert Packed.ProofTooShort();
        bytes memory bloom = proof[s.p:s.p + 256];
        if (keccak256(bloom) != t.rd32(Packed.T_BLOOM)) revert Packed.BadPreimage("Bloom");
        s.p += 256;
        bytes memory data;
        if (size > 0) {
            bytes32[] memory words = ExecBase.range(s, proof, s.memRoot, ExecBase.MEM_DEPTH, s.items[0], size);
            data = new bytes(size);
            uint256 skip = s.items[0] & 31;
            assembly {
                mcopy(add(data, 32), add(add(words, 32), skip), size)
            }
        }
        address addr = address(uint160(s.fr.rd(Packed.F_ADDRESS, 20)));
        bytes memory enc = _logRlp(addr, s.items, s.op - 0xa0, data);
        uint256 at = a.rd(Packed.A_BUF_LEN, 8);
        if (t.rd(T_LOGS_OFF, 8) > at) at = t.rd(T_LOGS_OFF, 8);
        a.wr32(Packed.A_BUF_ROOT, _bufWrite(s, proof, a.rd32(Packed.A_BUF_ROOT), at, enc));
        a.wr(Packed.A_BUF_LEN, 8, at + enc.length);
        _bloomAdd(bloom, abi.encodePacked(addr));
        for (uint256 i = 0; i < s.op - 0xa0; i++) {
            _bloomAdd(bloom, abi.encodePacked(s.items[2 + i]));
        }
        t.wr32(Packed.T_BLOOM, keccak256(bloom));
        t.wr(Packed.T_LOG_COUNT, 4, t.rd(Packed.T_LOG_COUNT, 4) + 1);
        s.ms.wr32(Packed.MS_TX, keccak256(t));
        s.ms.wr32(Packed.MS_ACC, keccak256(a));
    }

    /// @dev rlp([address, [topics], data])
    function _logRlp(address addr, uint256[] memory it, uint256 n, bytes memory data)
        private
        pure
        returns (bytes memory)
    {
        bytes memory topics;
        for (uint256 i = 0; i < n; i++) {
            topics = abi.encodePacked(topics, bytes1(0xa0), it[2 + i]);
        }
        bytes memory str;
        if (data.length == 1 && uint8(data[0]) < 0x80) {
            str = data;
        } else if (data.length < 56) {
            str = abi.encodePacked(bytes1(uint8(0x80 + data.length)), data);
        } else if (data.length < 256) {
            str = abi.encodePacked(bytes1(0xb8), uint8(data.length), data);
        } else {
            str = abi.encodePacked(bytes1(0xb9), uint16(data.length), data);
        }
        bytes memory payload = abi.encodePacked(bytes1(0x94), addr, _listHeader(topics.length), topics, str);
        return abi.encodePacked(_listHeader(payload.length), payload);
    }

    function _listHeader(uint256 len) private pure returns (bytes memory) {
        if (len < 56) return abi.encodePacked(bytes1(uint8(0xc0 + len)));
        if (len < 256) return abi.encodePacked(bytes1(0xf8), uint8(len));
        return abi.encodePacked(bytes1(0xf9), uint16(len));
    }

    /// @dev Sets the 3 bloom bits of `item` (2048-bit filter, big-endian bytes).
    function _bloomAdd(bytes memory bloom, bytes memory item) private pure {
        bytes32 h = keccak256(item);
        for (uint256 i = 0; i < 6; i += 2) {
            uint256 bit = ((uint256(uint8(h[i])) << 8) | uint8(h[i + 1])) & 2047;
            uint256 idx = 255 - bit / 8;
            bloom[idx] = bytes1(uint8(bloom[idx]) | uint8(1 << (bit % 8)));
        }
    }

    /// @dev Writes `data` at `off` of the depth-20 tree `root`, proving the words it covers; new root.
    function _bufWrite(ExecBase.S memory s, bytes calldata proof, bytes32 root, uint256 off, bytes memory data)
        private
        pure
        returns (bytes32 newRoot)
    {
        uint256 sib = s.p;
        bytes32[] memory words = ExecBase.range(s, proof, root, ExecBase.MEM_DEPTH, off, data.length);
        sib += 32 * words.length;
        assembly {
            mcopy(add(add(words, 32), and(off, 31)), add(data, 32), mload(data))
        }
        (newRoot,) = Buf.rangeRoot(ExecBase.MEM_DEPTH, off >> 5, words, proof, sib);
    }
}
