"""The bit-for-bit contracts under every CPU capability torch offers on this machine.

torch picks its CPU kernels by capability (AVX-512, AVX2 or scalar "default"), and some kernels
compute a call's trailing elements with code whose bits differ from the vector code. The tests of
network bits (block, chunk, lone network, resume, online two-time observables) therefore run again
in a subprocess for each capability forced with ATEN_CPU_CAPABILITY, so that none passes only
because of the kernels this machine happens to pick.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BIT_TESTS = [
    "tests/test_training.py",
    "tests/test_two_time.py",
    "-k",
    "bits or two_time or resume or theta_s",
]


def offered() -> list[str]:
    """Capabilities that can be forced here: avx2 and default always on x86-64, avx512 when the CPU has it."""
    best = torch.backends.cpu.get_cpu_capability().lower()
    return [c for c in ("avx512", "avx2", "default") if c != "avx512" or best == "avx512"]


@pytest.mark.skipif(
    os.environ.get("ATEN_CPU_CAPABILITY") is not None, reason="already inside a forced run"
)
@pytest.mark.parametrize("capability", ["avx512", "avx2", "default"])
def test_bit_identity_under_each_cpu_capability(capability):
    if capability not in offered():
        pytest.skip(f"this CPU offers {offered()}, not {capability}")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": capability}
    check = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip().lower() == capability, check.stdout  # the forcing took effect
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *BIT_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
