"""``ResumeCheckpoint``: no checkpoint between an epoch's last batch and its validation.

A checkpoint written there resumes past the epoch's validation: its scores, best weights and history
are lost, and the resumed fit keeps another epoch (a SIGKILL in that window made
``test_resume.py``'s resumed model differ from the uninterrupted one). The epoch-end checkpoint, and
a Ctrl-C stop on the last batch, come after the validation instead.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from transmodal.checkpointing.callback import ResumeCheckpoint


def trainer(batches: int = 3) -> SimpleNamespace:
    saved: list[int] = []
    fake = SimpleNamespace(num_training_batches=batches, global_step=0, current_epoch=0, should_stop=False,
                           train_dataloader=SimpleNamespace(batches_done=0), saved=saved)
    fake.save_checkpoint = lambda path: saved.append(fake.train_dataloader.batches_done)
    return fake


def test_step_checkpoints_skip_the_epochs_last_batch_and_the_epoch_end_writes_one(tmp_path):
    fake, callback = trainer(), ResumeCheckpoint(tmp_path / "last.safetensors", every_n_steps=1)
    for batch in range(3):
        fake.global_step += 1
        callback.on_train_batch_end(fake, None, None, None, batch)
    assert fake.saved == [1, 2]  # not after batch 3: the epoch's validation has not run yet
    callback.on_train_epoch_end(fake, None)  # after the validation
    assert fake.saved == [1, 2, 3]


def test_ctrl_c_on_the_last_batch_stops_after_the_validation(tmp_path):
    fake, callback = trainer(), ResumeCheckpoint(tmp_path / "last.safetensors")
    callback.stop_requested = True
    callback.on_train_batch_end(fake, None, None, None, 2)  # the last batch: no stop yet
    assert fake.saved == []
    with pytest.raises(KeyboardInterrupt, match="epoch 1, batch 3"):
        callback.on_train_epoch_end(fake, None)
    assert fake.saved == [3]


def test_ctrl_c_mid_epoch_stops_at_that_batch(tmp_path):
    fake, callback = trainer(), ResumeCheckpoint(tmp_path / "last.safetensors")
    callback.stop_requested = True
    with pytest.raises(KeyboardInterrupt, match="epoch 1, batch 1"):
        callback.on_train_batch_end(fake, None, None, None, 0)
    assert fake.saved == [1]
