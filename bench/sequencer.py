"""`rollup bench sequencer`: end-to-end throughput and soft-confirmation latency over JSON-RPC.

A load generator on loopback sends pre-signed ETH and ERC-20 transfers (bench.workloads) to a
`rollup sequencer` subprocess over a few persistent HTTP connections (JSON-RPC batches of
BATCH), and watches sealed blocks. Baseline: `bench.core.run_l2` (decode, execute, seal and
commit the same workload through `l2`, no RPC, one thread), measured right before and right
after each phase (the mean: the shared machine's load drifts), on the same transactions and
genesis, in blocks packed by the producer's rules (the spec's block gas limit and the
producer's byte cap), so both sides seal blocks of the same size. The notes give each side's
CPU per transaction, so a gain from a second core shows as such. Latency: single-transaction
requests paced at half the measured maximum rate; send to the moment a polling client sees the
transaction in a sealed block.

While a phase runs, the bench asks the sequencer only for `eth_blockNumber` (the seal times)
and, once per new block, its /metrics (how many transactions were included): reading each
block's transactions meanwhile took 5-9% of the sequencer's GIL time, work the raw baseline
never does. The blocks' contents are read after the phase.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import l2  # noqa: F401
from bench.core import run_l2
from bench.report import BenchResult
from bench.workloads import Workload, erc20_transfers, eth_transfers
from l2.backends import require_fast_backends
from l2.spec import ChainSpec, devnet_spec
from sequencer.producer import MAX_BLOCK_TX_BYTES

DEFAULT_TXS = 2000
BATCH = 50  # transactions per JSON-RPC batch request in the throughput phase
CONNECTIONS = 4
BLOCK_TIME = 1.0
POLL_SECONDS = 0.02
METRICS_RECHECK_SECONDS = 1.0  # /metrics again without a new block (the counter moves just after the seal)
INCLUDED = re.compile(rb"^rollup_sequencer_transactions_included_total ([0-9.e+]+)$", re.MULTILINE)
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Rpc:
    """One persistent HTTP/1.1 connection speaking JSON-RPC."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, payload: object) -> object:
        return json.loads(self.post(json.dumps(payload).encode()))

    def post(self, body: bytes) -> bytes:
        self.conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
        return self.conn.getresponse().read()

    def one(self, method: str, *params: object) -> object:
        answer = self.call({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        assert isinstance(answer, dict)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def send_batch(self, raws: list[bytes]) -> None:
        self.send_body(batch_body(raws))

    def send_body(self, body: bytes) -> None:
        answer = self.post(body)
        if b'"error"' in answer:
            errors = [a["error"] for a in json.loads(answer) if "error" in a]
            raise RuntimeError(f"sequencer refused {len(errors)} transactions, first: {errors[0]}")


def batch_body(raws: list[bytes]) -> bytes:
    """One JSON-RPC batch of eth_sendRawTransaction, encoded before the clock starts."""
    return json.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": ["0x" + r.hex()]}
                       for i, r in enumerate(raws)]).encode()


def included(conn: http.client.HTTPConnection) -> int:
    """The sequencer's count of transactions sealed in blocks, from its /metrics (persistent connection)."""
    conn.request("GET", "/metrics")
    match = INCLUDED.search(conn.getresponse().read())
    if match is None:
        raise RuntimeError("no rollup_sequencer_transactions_included_total in /metrics")
    return int(float(match.group(1)))


class _BlockWatcher(threading.Thread):
    """Records when each block was first seen sealed, and (`wait_for`) what each block holds.

    The thread only polls `eth_blockNumber`, the cheapest call, so its clock lags a seal by
    one poll interval plus one small request. `wait_for` learns from /metrics (once per new
    block) when all the phase's transactions are sealed, and only then reads the blocks'
    contents: fetching them during the load cost the sequencer ~35-150 ms of GIL per block.
    """

    def __init__(self, port: int, metrics_port: int, start_block: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.metrics = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=60)
        self.start_block = start_block
        self.head = start_block
        self.included_before = included(self.metrics)
        self.sealed_at: dict[int, float] = {}
        self.seen: dict[str, float] = {}
        self.blocks: list[tuple[float, int, int]] = []  # (seen at, transactions, gas) of non-empty blocks
        self.gas = 0
        self.txs = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        rpc = _Rpc(self.port)
        try:
            while not self.stop.is_set():
                head = int(str(rpc.one("eth_blockNumber")), 16)
                now = time.perf_counter()
                for number in range(self.head + 1, head + 1):
                    self.sealed_at[number] = now
                self.head = max(self.head, head)
                time.sleep(POLL_SECONDS)
        except BaseException as exc:  # reported by `wait_for`, instead of a silent hang
            self.error = exc

    def wait_for(self, count: int) -> None:
        """Block until `count` transactions were sealed and the thread has seen their blocks."""
        checked_head, checked_at = -1, 0.0
        while True:
            if self.error is not None:
                raise RuntimeError(f"block watcher failed: {self.error!r}") from self.error
            head = self.head
            if head != checked_head or time.monotonic() - checked_at > METRICS_RECHECK_SECONDS:
                checked_head, checked_at = head, time.monotonic()
                if included(self.metrics) - self.included_before >= count:
                    break
            time.sleep(POLL_SECONDS)
        sealed = int(str(_Rpc(self.port).one("eth_blockNumber")), 16)  # holds every counted transaction
        while self.head < sealed:
            if self.error is not None:
                raise RuntimeError(f"block watcher failed: {self.error!r}") from self.error
            time.sleep(POLL_SECONDS)

    def read_blocks(self) -> None:
        """After the phase: what each block seen sealed holds (transactions, gas)."""
        self.metrics.close()
        rpc = _Rpc(self.port)
        for number in range(self.start_block + 1, self.head + 1):
            block = rpc.one("eth_getBlockByNumber", hex(number), False)
            assert isinstance(block, dict)
            at, gas = self.sealed_at[number], int(block["gasUsed"], 16)
            for tx_hash in block["transactions"]:
                self.seen[tx_hash] = at
            self.txs += len(block["transactions"])
            self.gas += gas
            if block["transactions"]:
                self.blocks.append((at, len(block["transactions"]), gas))


def _start_sequencer(genesis: Path, datadir: Path, count: int) -> tuple[subprocess.Popen[str], int, int]:
    """The sequencer subprocess, its JSON-RPC port and its metrics port."""
    port, metrics_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rollup", "sequencer", "--log-level", "WARNING", "--genesis", str(genesis),
         "--datadir", str(datadir), "--rpc-port", str(port), "--grpc-port", str(_free_port()),
         "--metrics-port", str(metrics_port), "--block-time", str(BLOCK_TIME),
         "--mempool-per-sender", str(count), "--mempool-global", str(4 * count)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("sequencer ready"):
        proc.kill()
        raise RuntimeError(f"sequencer did not start: {line!r}")
    return proc, port, metrics_port


@dataclass
class Throughput:
    """One throughput phase: the end-to-end figure and who used the CPU."""

    seconds: float  # first send to the last block sealed under load
    txs: int  # in the blocks sealed under load
    gas: int
    blocks: int
    cpu: dict[str, float]  # CPU seconds: the sequencer process, its decoding workers, the load generator

    @property
    def tx_per_s(self) -> float:
        return self.txs / self.seconds


def _throughput(proc: subprocess.Popen[str], port: int, metrics_port: int, txs: list[bytes]) -> Throughput:
    """Send everything as fast as the connections allow and watch the blocks.

    Under load: from the first send to the sealing of the last block sealed under load, i.e. the
    final block (the tail left after the load ends, and its wait for the block tick) is left out.
    The wait for the first block tick (up to one block time, the builder idle) is counted.
    """
    rpc = _Rpc(port)
    watcher = _BlockWatcher(port, metrics_port, int(str(rpc.one("eth_blockNumber")), 16))
    watcher.start()
    # The load generator shares the machine with the sequencer: keep its own work minimal.
    bodies = [batch_body(txs[i : i + BATCH]) for i in range(0, len(txs), BATCH)]
    lanes = [bodies[i::CONNECTIONS] for i in range(CONNECTIONS)]
    cpu_before = _cpu(proc.pid)
    start = time.perf_counter()

    def lane(mine: list[bytes]) -> None:
        conn = _Rpc(port)
        for body in mine:
            conn.send_body(body)

    threads = [threading.Thread(target=lane, args=(mine,)) for mine in lanes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    watcher.wait_for(len(txs))
    cpu = {k: v - cpu_before[k] for k, v in _cpu(proc.pid).items()}
    watcher.stop.set()
    watcher.join()
    watcher.read_blocks()
    blocks = watcher.blocks
    if len(blocks) < 3:  # too few blocks to leave the tail out: everything, to the last one seen
        return Throughput(max(watcher.seen.values()) - start, watcher.txs, watcher.gas, len(blocks), cpu)
    under_load = blocks[:-1]
    return Throughput(
        under_load[-1][0] - start, sum(b[1] for b in under_load), sum(b[2] for b in under_load), len(blocks), cpu
    )


def _cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of the sequencer process, of its children (workers), of this process (Linux)."""
    out = {"sequencer": 0.0, "workers": 0.0, "load generator": time.process_time()}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile
            seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
            if int(entry.name) == pid:
                out["sequencer"] = seconds
            elif int(fields[1]) == pid:
                out["workers"] += seconds
    except OSError:
        pass  # no /proc: only the load generator's figure
    return out


def _latency(port: int, metrics_port: int, txs: list[bytes], rate: float) -> list[float]:
    """Send one transaction per request at `rate` per second; seconds from send to seen sealed, sorted."""
    rpc = _Rpc(port)
    watcher = _BlockWatcher(port, metrics_port, int(str(rpc.one("eth_blockNumber")), 16))
    watcher.start()
    sent_at: dict[str, float] = {}
    lock = threading.Lock()
    start = time.perf_counter() + 0.05
    lanes = 2

    def lane(k: int) -> None:
        conn = _Rpc(port)
        for i in range(k, len(txs), lanes):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t0 = time.perf_counter()
            tx_hash = conn.one("eth_sendRawTransaction", "0x" + txs[i].hex())
            with lock:
                sent_at[str(tx_hash)] = t0

    threads = [threading.Thread(target=lane, args=(k,)) for k in range(lanes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    watcher.wait_for(len(sent_at))
    watcher.stop.set()
    watcher.join()
    watcher.read_blocks()
    return sorted(watcher.seen[h] - t0 for h, t0 in sent_at.items())


def _percentile(sorted_values: list[float], pct: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def _halves(workload: Workload, count: int) -> tuple[Workload, list[bytes]]:
    """The first `count` transactions as the measured workload, the rest (later nonces) for latency."""
    return replace(workload, txs=workload.txs[:count]), workload.txs[count:]


def run_bench(txs: int | None = None) -> BenchResult:
    backends = require_fast_backends()
    count = txs or DEFAULT_TXS
    chain_id = devnet_spec().chain_id
    eth, eth_rest = _halves(eth_transfers(count + count // 2, chain_id), count)
    erc20, erc20_rest = _halves(erc20_transfers(count + count // 2, chain_id), count)
    spec = erc20.spec(eth.spec(devnet_spec()))
    result = BenchResult("sequencer")
    with tempfile.TemporaryDirectory(prefix="bench-sequencer-") as tmp:
        genesis = Path(tmp) / "genesis.json"
        genesis.write_text(json.dumps(spec.to_json()))
        proc, port, metrics_port = _start_sequencer(genesis, Path(tmp) / "data", count)
        try:
            rpc = _Rpc(port)
            rpc.send_batch(erc20.setup)
            deadline = time.monotonic() + 60
            while rpc.one("eth_getCode", "0x" + _token(erc20).hex(), "latest") == "0x":
                if time.monotonic() > deadline:
                    raise RuntimeError("token deployment never sealed")
                time.sleep(0.05)
            rates = {}
            for workload in (eth, erc20):
                # The baseline right before and right after the phase (the machine's load drifts).
                raws = [_raw(spec, workload)]
                run = _throughput(proc, port, metrics_port, workload.txs)
                raws.append(_raw(spec, workload))
                raw_s, raw_gas, raw_blocks = sum(r[0] for r in raws) / 2, raws[0][1], raws[0][2]
                raw_cpu = sum(r[3] for r in raws) / 2
                raw_rate = len(workload.txs) / raw_s
                rates[workload.name] = run.tx_per_s
                result.compare(f"{workload.name}_tx_per_s", run.tx_per_s, raw_rate)
                result.compare(f"{workload.name}_mgas_per_s", run.gas / run.seconds / 1e6, raw_gas / raw_s / 1e6)
                per_tx = ", ".join(f"{who} {1e6 * s / len(workload.txs):.0f}" for who, s in run.cpu.items())
                result.notes.append(
                    f"{workload.name}: {run.blocks} blocks (raw l2 {raw_blocks}); CPU us per tx: {per_tx}; "
                    f"raw l2 {1e6 * raw_cpu / len(workload.txs):.0f}; raw l2 before / after the phase "
                    f"{len(workload.txs) / raws[0][0]:.0f} / {len(workload.txs) / raws[1][0]:.0f} tx/s"
                )
            latency_txs = [t for pair in zip(eth_rest, erc20_rest, strict=False) for t in pair]
            half_rate = min(rates.values()) / 2
            latencies = _latency(port, metrics_port, latency_txs, half_rate)
            target = 2 * BLOCK_TIME
            result.compare("soft_confirm_p50_s", _percentile(latencies, 50), target, higher_is_better=False)
            result.compare("soft_confirm_p99_s", _percentile(latencies, 99), target, higher_is_better=False)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    result.notes.append(
        f"backends: keccak={backends.keccak} ecc={backends.ecc}; {count} txs per workload through JSON-RPC "
        f"({CONNECTIONS} connections, batches of {BATCH}), block time {BLOCK_TIME}s, each block fsynced; "
        "tx_per_s = first send to the last block sealed under load (the final tail block left out, the wait "
        "for the first block tick counted); "
        "baseline: bench.core.run_l2 (one thread: decode, execute, seal, commit; mean of a run right before "
        "and one right after each phase) on the same transactions and "
        f"genesis, same block gas limit ({spec.gas_limit:,}) and blocks packed as the producer packs them "
        f"(byte cap {MAX_BLOCK_TX_BYTES:,}); the sequencer decodes in worker processes, so it uses more than one "
        "core; during a phase the bench reads only eth_blockNumber and, per new block, /metrics (block contents "
        "after the phase)"
    )
    result.notes.append(
        f"latency: {len(latency_txs)} mixed txs, one per request, at {half_rate:.0f} tx/s (half the lower max "
        f"rate); baseline column = target 2 x block time"
    )
    return result


def _raw(spec: ChainSpec, workload: Workload) -> tuple[float, int, int, float]:
    """Raw `l2` on the same genesis, transactions and block packing: seconds, gas, blocks, CPU seconds."""
    cpu = time.process_time()
    seconds, gas, blocks = run_l2(spec, workload, max_block_bytes=MAX_BLOCK_TX_BYTES)
    return seconds, gas, blocks, time.process_time() - cpu


def _token(workload: Workload) -> bytes:
    from bench.workloads import token_address

    return token_address(workload.keys[0])
