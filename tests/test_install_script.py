"""``install.sh`` picks the torch build offline-testably (``--dry-run`` prints the pip commands): the
CUDA build when ``nvidia-smi`` lists a GPU, the CPU build from PyTorch's CPU wheel index when it is
reachable, the pinned wheel from the package index otherwise."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "install.sh"
CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"
PIN = next(line.strip() for line in (SCRIPT.parent / "constraints.txt").read_text().splitlines()
           if line.startswith("torch=="))


def _dry_run(tmp_path: Path, gpu: bool | None, reachable: str, args: tuple[str, ...] = (),
             **env: str) -> tuple[list[str], str]:
    """Run ``install.sh --dry-run`` with a fake ``nvidia-smi`` (None: none on PATH)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "nvidia-smi"
    if gpu is not None:
        listing = "echo 'GPU 0: NVIDIA A10G (UUID: GPU-1234)'" if gpu else \
            "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'; exit 9"
        fake.write_text(f"#!/bin/sh\n{listing}\n")
        fake.chmod(0o755)
    elif fake.exists():
        fake.unlink()
    path = f"{bin_dir}:/usr/bin:/bin"
    run = subprocess.run(["bash", str(SCRIPT), "--dry-run", *args], capture_output=True, text=True, timeout=60,
                         env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp"),
                              "TRANSMODAL_TORCH_INDEX_REACHABLE": reachable, **env})
    assert run.returncode == 0, run.stderr
    return run.stdout.strip().splitlines(), run.stderr


def test_a_gpu_gets_the_cuda_build_from_the_package_index(tmp_path):
    (torch, package), why = _dry_run(tmp_path, gpu=True, reachable="1")
    assert torch.endswith(f"-c constraints.txt {PIN}") and "--index-url" not in torch
    assert "GPU is present" in why and package.endswith("-e .")


@pytest.mark.parametrize("gpu", [False, None])  # nvidia-smi failing, or not installed
def test_no_gpu_gets_the_cpu_build_from_pytorchs_index(tmp_path, gpu):
    (torch, _), why = _dry_run(tmp_path, gpu=gpu, reachable="1")
    assert CPU_INDEX in torch and "--extra-index-url https://pypi.org/simple" in torch
    assert torch.startswith(".venv/bin/pip install") and torch.endswith(f" {PIN}")
    assert "CPU build" in why


def test_no_gpu_and_no_cpu_index_falls_back_to_the_pinned_wheel(tmp_path):
    (torch, _), why = _dry_run(tmp_path, gpu=False, reachable="0")
    assert torch.endswith(f"-c constraints.txt {PIN}") and "--index-url" not in torch
    assert "not reachable" in why


def test_overrides_and_dev_extras(tmp_path):
    (torch, package), _ = _dry_run(tmp_path, gpu=True, reachable="1", args=("--dev",), TRANSMODAL_TORCH="cpu")
    assert CPU_INDEX in torch and package.endswith("-e .[dev]")
    (torch, _), _ = _dry_run(tmp_path, gpu=False, reachable="1", TRANSMODAL_TORCH="cuda")
    assert "--index-url" not in torch
