import subprocess
import sys

from l2.backends import active_backends, require_fast_backends


def test_fast_backends_are_live():
    backends = require_fast_backends()
    assert backends.keccak == "pysha3"
    assert backends.ecc == "coincurve"


def test_slow_keccak_backend_is_refused():
    code = (
        "from l2.backends import require_fast_backends\n"
        "from l2.errors import SlowBackendError\n"
        "try:\n    require_fast_backends()\nexcept SlowBackendError as e:\n    print('refused', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"ETH_HASH_BACKEND": "pycryptodome", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("refused")
    assert "keccak=pycryptodome" in out


def test_active_backends_reports_names():
    assert active_backends().fast
