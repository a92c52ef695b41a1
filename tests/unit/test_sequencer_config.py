"""Configuration layering: defaults < TOML file < ROLLUP_SEQUENCER_* environment < flags."""

from __future__ import annotations

import pytest

from l2.errors import ConfigError
from sequencer.config import SequencerConfig, load_config


def test_defaults_are_the_documented_ones():
    config = load_config(env={})
    assert (config.rpc_port, config.grpc_port, config.metrics_port) == (9545, 9555, 7300)
    assert config.rpc_host == "127.0.0.1" and config.block_time == 1.0
    assert (config.mempool_per_sender, config.mempool_global) == (64, 10_000)


def test_layers_override_in_order(tmp_path):
    path = tmp_path / "seq.toml"
    path.write_text('[sequencer]\nrpc_port = 1111\ngrpc_port = 2222\nblock_time = 2\ndatadir = "/x"\n')
    config = load_config(str(path), env={"ROLLUP_SEQUENCER_GRPC_PORT": "3333", "ROLLUP_SEQUENCER_BLOCK_TIME": "0.5"},
                         overrides={"block_time": "0.25", "rpc_port": None})
    assert config == SequencerConfig(rpc_port=1111, grpc_port=3333, block_time=0.25, datadir="/x")


def test_top_level_keys_without_a_section_work(tmp_path):
    path = tmp_path / "seq.toml"
    path.write_text("metrics_port = 9\n")
    assert load_config(str(path), env={}).metrics_port == 9


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("rpc_port = 'abc'\n", {}, "rpc_port must be int"),
        ("bogus = 1\n", {}, "unknown key 'bogus'"),
        ("rpc_port = [\n", {}, "not valid TOML"),
        ("block_time = 0.05\n", {}, "block_time"),
        ("rpc_port = 70000\n", {}, "not a TCP port"),
        ("rpc_port = true\n", {}, "rpc_port must be int"),
        ("", {"ROLLUP_SEQUENCER_BLOCK_TIME": "fast"}, "ROLLUP_SEQUENCER_BLOCK_TIME"),
    ],
)
def test_bad_values_name_their_source(tmp_path, toml, env, message):
    path = tmp_path / "seq.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(str(path), env=env)
