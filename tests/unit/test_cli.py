import json
import subprocess
import sys


def rollup(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rollup", *args], capture_output=True, text=True, check=False)


def test_help_lists_commands():
    out = rollup("--help")
    assert out.returncode == 0
    assert "bench" in out.stdout


def test_unknown_command_is_an_error():
    out = rollup("frobnicate")
    assert out.returncode == 2
    assert "unknown command 'frobnicate'" in out.stderr


def test_bench_core_prints_the_shared_json_format():
    out = rollup("bench", "core", "--txs", "40", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["bench"] == "core"
    for name in ("eth_tx_per_s", "erc20_tx_per_s", "eth_mgas_per_s", "erc20_mgas_per_s"):
        assert result["figures"][name] > 0
        assert result["baselines"][name] > 0
        assert result["advantage"][name] > 0
