"""Checkpoint files: nested state round-trips through safetensors + JSON; the data order resumes."""

from __future__ import annotations

import random

import numpy as np
import torch

from transmodal.checkpointing.io import load_checkpoint_file, save_checkpoint_file
from transmodal.engine.sampler import EpochSampler


def test_nested_state_round_trips_without_pickle(tmp_path):
    state = {"optimizer_states": [{"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(2, 3)}},
                                   "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0]}]}],
             "rng": {"numpy": np.random.get_state(), "python": random.getstate(), "torch": torch.get_rng_state()},
             "best": None, "score": float("-inf"), "name": "x"}
    save_checkpoint_file(state, tmp_path / "c.safetensors")
    assert not list(tmp_path.glob("*.tmp"))
    back = load_checkpoint_file(tmp_path / "c.safetensors")
    group = back["optimizer_states"][0]
    assert torch.equal(group["state"][0]["exp_avg"], state["optimizer_states"][0]["state"][0]["exp_avg"])
    assert group["param_groups"][0]["betas"] == (0.9, 0.999) and 0 in group["state"]
    np.testing.assert_array_equal(back["rng"]["numpy"][1], state["rng"]["numpy"][1])
    assert back["score"] == float("-inf") and back["best"] is None
    assert (tmp_path / "c.safetensors").read_bytes()[:2] != b"\x80\x04"  # not a pickle


def test_epoch_sampler_is_a_function_of_seed_and_epoch_and_skips_on_resume():
    a, b = EpochSampler(20, seed=4), EpochSampler(20, seed=4)
    a.set_epoch(2)
    b.epoch, b.skip = 2, 7
    full = list(a)
    assert sorted(full) == list(range(20)) and list(b) == full[7:]
    a.set_epoch(3)
    assert list(a) != full
