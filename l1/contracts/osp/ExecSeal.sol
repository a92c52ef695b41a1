// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ExecBase} from "./ExecBase.sol";
import {IPhaseStep} from "./IPhaseStep.sol";
import {MptUpdate} from "./MptUpdate.sol";
import {Packed} from "./Packed.sol";
import {StackTrie} from "./StackTrie.sol";

/// @title ExecSeal
/// @notice SEAL (docs/fraud-proofs.md 2.1 as built, 15; twin l1/proofs/block_steps.seal):
///         phase TRIE with both trie roots known -> the block claim. The header is the
///         PragueBlockHeader of the BlockCtx, the chain constants (coinbase, gas limit), worldRoot,
///         the two roots, the bloom and gasUsed; blockHash = keccak(rlp(header)); the MessagePasser's
///         storage root comes from its account proven in worldRoot (absent: the empty root);
///         outputRoot = H(0 ++ worldRoot ++ passerRoot ++ blockHash); post = BlockClaim(number,
///         outputRoot, cursor). Deployed by ExecTrie, which hands it SEAL steps unchanged.
///
///         Proof: MachineState (293) ++ BlockAcc (148) ++ u32 70 ++ trieState preimage (70) ++
///         BlockCtx (153) ++ block bloom (256) ++ u32 length ++ the MessagePasser account's MPT
///         proof (ABI `bytes[]` from its length word on, canonical). Consumed exactly.
contract ExecSeal is IPhaseStep {
    using Packed for bytes;

    uint256 internal constant TRIE = 8;
    uint256 internal constant MS_CURSOR = 1;
    uint256 internal constant MS_WORLD_ROOT = 97;
    uint256 internal constant A_GAS_USED = 0;
    uint256 internal constant A_BLOOM_HASH = 44;
    uint256 internal constant A_TRIE = 116;
    bytes32 internal constant EMPTY_UNCLE_HASH = 0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347;
    bytes32 internal constant EMPTY_ROOT = 0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421;
    bytes32 internal constant EMPTY_REQUESTS_HASH = 0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855;

    /// @notice The fee recipient of every L2 block (header `coinbase`).
    address public immutable coinbase;
    /// @notice The L2 block gas limit (header `gasLimit`).
    uint256 public immutable gasLimit;
    /// @notice The L2ToL1MessagePasser predeploy whose storage root the output root commits to.
    address public immutable messagePasser;

    error Unsupported(bytes32 name);
    /// @notice The bloom preimage does not hash to BlockAcc.bloomHash.
    error BadBloom();
    /// @notice The proof has bytes after the MessagePasser proof.
    error ProofTooLong();

    constructor(address coinbase_, uint256 gasLimit_, address messagePasser_) {
        coinbase = coinbase_;
        gasLimit = gasLimit_;
        messagePasser = messagePasser_;
    }

    /// @notice SEAL from `pre`: the block claim of the sealed block.
    function step(bytes32 pre, bytes calldata proof) external view returns (bytes32) {
        bytes memory ms = Packed.loadChecked(proof, 0, Packed.TAG_MS, Packed.MS_SIZE, pre, "MachineState");
        if (ms.rd(Packed.MS_PHASE, 1) != TRIE) revert Unsupported("PHASE");
        uint256 p = Packed.MS_SIZE;
        bytes memory acc =
            Packed.loadChecked(proof, p, Packed.TAG_ACC, Packed.ACC_SIZE, ms.rd32(Packed.MS_ACC), "BlockAcc");
        p += Packed.ACC_SIZE;
        bytes calldata trieState;
        (trieState, p) = ExecBase.sized(proof, p);
        StackTrie.State memory st = StackTrie.decodeChecked(acc.rd32(A_TRIE), trieState);
        if (st.which != StackTrie.DONE) revert Unsupported("SEAL");
        bytes memory b =
            Packed.loadChecked(proof, p, Packed.TAG_BLOCK, Packed.BLOCK_SIZE, ms.rd32(Packed.MS_BLOCK), "BlockCtx");
        p += Packed.BLOCK_SIZE;
        if (p + 256 > proof.length) revert Packed.ProofTooShort();
        bytes memory bloom = proof[p:p + 256];
        if (keccak256(bloom) != acc.rd32(A_BLOOM_HASH)) revert BadBloom();
        bytes[] calldata nodes;
        (nodes, p) = ExecBase.nodes(proof, p + 256);
        if (p != proof.length) revert ProofTooLong();
        bytes32 outputRoot = _outputRoot(ms.rd32(MS_WORLD_ROOT), b, acc, st, bloom, nodes);
        return keccak256(
            abi.encodePacked(uint8(0x42), uint64(b.rd(Packed.B_NUMBER, 8)), outputRoot, ms.rd32(MS_CURSOR))
        );
    }

    /// @dev H(0 ++ worldRoot ++ the MessagePasser's storage root ++ blockHash).
    function _outputRoot(
        bytes32 worldRoot,
        bytes memory b,
        bytes memory acc,
        StackTrie.State memory st,
        bytes memory bloom,
        bytes[] calldata nodes
    ) private view returns (bytes32) {
        bytes32 blockHash = keccak256(_header(b, worldRoot, st, bloom, acc.rd(A_GAS_USED, 8)));
        return keccak256(abi.encodePacked(bytes32(0), worldRoot, _passerRoot(worldRoot, nodes), blockHash));
    }

    /// @dev The MessagePasser's storage root in `worldRoot` (the empty root when it has no account).
    function _passerRoot(bytes32 worldRoot, bytes[] calldata nodes) private view returns (bytes32 root) {
        bytes memory key = abi.encodePacked(keccak256(abi.encodePacked(messagePasser)));
        (bool found, bytes memory account) = MptUpdate.read(worldRoot, key, nodes);
        if (!found) return EMPTY_ROOT;
        (,, root,) = MptUpdate.decodeAccount(account);
    }

    /// @dev rlp(PragueBlockHeader) of the sealed block (docs/state-transition.md, 2.1 as built).
    function _header(bytes memory b, bytes32 worldRoot, StackTrie.State memory st, bytes memory bloom, uint256 gasUsed)
        private
        view
        returns (bytes memory)
    {
        bytes32 parentHash = b.rd32(Packed.B_PARENT_HASH);
        bytes memory roots = abi.encodePacked(
            bytes1(0xa0), parentHash, bytes1(0xa0), EMPTY_UNCLE_HASH, bytes1(0x94), coinbase, bytes1(0xa0), worldRoot
        );
        roots = bytes.concat(roots, bytes1(0xa0), st.txRoot, bytes1(0xa0), st.receiptsRoot);
        bytes memory numbers = bytes.concat(
            hex"b90100", bloom, hex"80", _rlpUint(b.rd(Packed.B_NUMBER, 8)), _rlpUint(gasLimit) // difficulty 0
        );
        numbers = bytes.concat(numbers, _rlpUint(gasUsed), _rlpUint(b.rd(Packed.B_TIMESTAMP, 8)), hex"80"); // extra data
        bytes memory tail = bytes.concat(
            bytes1(0xa0), parentHash, hex"880000000000000000", _rlpUint(b.rd(Packed.B_BASE_FEE, 32)), bytes1(0xa0)
        );
        // withdrawals root, blob gas used 0, excess blob gas 0, parent beacon root 0, requests hash
        tail = bytes.concat(tail, EMPTY_ROOT, hex"8080a0", bytes32(0), bytes1(0xa0), EMPTY_REQUESTS_HASH);
        bytes memory payload = bytes.concat(roots, numbers, tail);
        return bytes.concat(_listHeader(payload.length), payload);
    }

    function _rlpUint(uint256 v) private pure returns (bytes memory) {
        if (v == 0) return hex"80";
        if (v < 0x80) return abi.encodePacked(uint8(v));
        bytes memory m = _minimal(v);
        return bytes.concat(bytes1(uint8(0x80 + m.length)), m);
    }

    function _listHeader(uint256 len) private pure returns (bytes memory) {
        if (len < 56) return abi.encodePacked(uint8(0xc0 + len));
        bytes memory m = _minimal(len);
        return bytes.concat(bytes1(uint8(0xf7 + m.length)), m);
    }

    function _minimal(uint256 v) private pure returns (bytes memory out) {
        uint256 n;
        for (uint256 x = v; x != 0; x >>= 8) n++;
        out = new bytes(n);
        for (uint256 i = 0; i < n; i++) {
            out[i] = bytes1(uint8(v >> (8 * (n - 1 - i))));
        }
    }
}
