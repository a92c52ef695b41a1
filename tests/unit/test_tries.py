from eth.db.trie import _make_trie_root_and_nodes
from hypothesis import given, settings
from hypothesis import strategies as st

from l2.tries import ordered_trie_root


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=80), max_size=300))
def test_ordered_trie_matches_hexary_trie(items):
    root, nodes = ordered_trie_root(items)
    expected_root, expected_nodes = _make_trie_root_and_nodes(tuple(items))
    assert root == expected_root
    # every node we write is one py-evm would write, byte for byte
    for key, value in nodes.items():
        assert expected_nodes[key] == value
    if items:
        assert set(expected_nodes) == set(nodes)


def test_large_block_boundaries():
    for n in (127, 128, 129, 255, 256, 257, 1025):
        items = [i.to_bytes(4, "big") * 9 for i in range(n)]
        assert ordered_trie_root(items)[0] == _make_trie_root_and_nodes(tuple(items))[0]
