// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StackTrie} from "l1/contracts/osp/StackTrie.sol";

/// @title StackTrieHarness
/// @notice Test-only: exposes the StackTrie library one TRIE micro-step per call, the state passed
///         between calls as its preimage (tests/integration/test_osp_stacktrie.py).
contract StackTrieHarness {
    function initial() external pure returns (bytes memory) {
        return StackTrie.encode(StackTrie.initial());
    }

    /// @return next the trieState preimage after inserting key `pos` of `preimage`
    /// @return nextState its hash
    /// @return gasUsed gas of decode + step + encode + hash, as a verifier would spend it
    function step(bytes32 trieState, bytes memory preimage, uint256 count, bytes memory value)
        external
        view
        returns (bytes memory next, bytes32 nextState, uint256 gasUsed)
    {
        uint256 before = gasleft();
        StackTrie.State memory s = StackTrie.decodeChecked(trieState, preimage);
        next = StackTrie.encode(StackTrie.step(s, count, value));
        nextState = keccak256(next);
        gasUsed = before - gasleft();
    }

    function stepHashedLeaf(bytes32 trieState, bytes memory preimage, uint256 count, bytes32 leafHash)
        external
        pure
        returns (bytes memory next, bytes32 nextState)
    {
        StackTrie.State memory s = StackTrie.decodeChecked(trieState, preimage);
        next = StackTrie.encode(StackTrie.stepHashedLeaf(s, count, leafHash));
        nextState = keccak256(next);
    }

    /// @return the preimage re-encoded after decoding (round trip)
    function roundTrip(bytes memory preimage) external pure returns (bytes memory) {
        return StackTrie.encode(StackTrie.decode(preimage));
    }

    function roots(bytes memory preimage) external pure returns (uint8 which, bytes32 txRoot, bytes32 receiptsRoot) {
        StackTrie.State memory s = StackTrie.decode(preimage);
        return (s.which, s.txRoot, s.receiptsRoot);
    }

    function keyIndex(uint256 pos, uint256 count) external pure returns (uint256) {
        return StackTrie.keyIndex(pos, count);
    }

    function keyPos(uint256 index, uint256 count) external pure returns (uint256) {
        return StackTrie.keyPos(index, count);
    }

    function leafPrefix(uint256 pos, uint256 count, uint256 valueLen) external pure returns (bytes memory) {
        return StackTrie.leafPrefix(pos, count, valueLen);
    }
}
