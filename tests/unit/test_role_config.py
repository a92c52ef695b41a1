"""Bad configuration of the batcher and proposer: a ConfigError naming the source, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from batcher.config import BatcherConfig, ProposerConfig
from l2.config import load_config
from l2.errors import ConfigError

KEY = "0x" + "11" * 32
ROOT = Path(__file__).resolve().parents[2]


def test_layers_merge_and_bools_parse(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'[proposer]\npropose_every = 5\nprivate_key = "{KEY}"\n')
    config = load_config(
        ProposerConfig, "proposer", str(path), env={"ROLLUP_PROPOSER_TEST_ONLY_POST_WRONG_ROOT": "true"},
        overrides={"propose_every": "7"},
    )
    assert (config.propose_every, config.test_only_post_wrong_root) == (7, True)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ROLLUP_BATCHER_PRIVATE_KEY": "0x1234"}, "private_key must be 32 bytes"),
        ({"ROLLUP_BATCHER_PRIVATE_KEY": KEY, "ROLLUP_BATCHER_MAX_BATCH_AGE": "soon"}, "ROLLUP_BATCHER_MAX_BATCH_AGE"),
        ({"ROLLUP_BATCHER_PRIVATE_KEY": KEY, "ROLLUP_BATCHER_NO_SUCH_KEY": "1"}, "unknown key 'no_such_key'"),
        ({"ROLLUP_BATCHER_PRIVATE_KEY": KEY, "ROLLUP_BATCHER_L1_RPC": "ws://x"}, "must be an http(s) URL"),
    ],
)
def test_bad_values_name_their_source(env, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_config(BatcherConfig, "batcher", None, env=env)


def test_bad_toml_is_a_config_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("propose_every = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(ProposerConfig, "proposer", str(path), env={})


def test_cli_exits_2_on_a_bad_setting():
    result = subprocess.run(
        [sys.executable, "-m", "rollup", "batcher", "--private-key", "nope"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "rollup batcher: private_key must be 32 bytes of hex" in result.stderr
