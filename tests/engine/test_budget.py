"""The training time limit (engine.budget.TimeBudget): training stops while one more step and the
closing validation pass still fit, and the learning-rate schedule is shortened to the steps that fit
(a fake clock: no timed test)."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from transmodal.engine.budget import EVAL_COST, MIN_STEPS, TimeBudget
from transmodal.engine.optim import configure_adamw


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _run(budget: TimeBudget, clock: Clock, module, steps: int, step_seconds: float = 1.0):
    """Training steps of ``step_seconds`` each until the budget stops them; the steps taken."""
    trainer = SimpleNamespace(global_step=0, should_stop=False, strategy=SimpleNamespace(broadcast=lambda x: x))
    budget.on_train_start(trainer, module)
    budget.on_train_epoch_start(trainer, module)
    while trainer.global_step < steps and not trainer.should_stop:
        clock.now += step_seconds
        trainer.global_step += 1
        budget.on_train_batch_end(trainer, module, None, None, trainer.global_step - 1)
    return trainer


def test_training_stops_while_a_step_and_the_validation_pass_still_fit():
    clock, module = Clock(), SimpleNamespace(total_steps=1000)
    budget = TimeBudget(30.0, val_batches=10, clock=clock)
    trainer = _run(budget, clock, module, 1000)
    reserve = 10 * EVAL_COST * 1.0  # the validation pass, estimated from the training steps
    assert trainer.should_stop and budget.stopped_early
    assert clock.now - 100.0 <= 30.0 - reserve  # the closing validation pass still fits
    assert trainer.global_step >= 30 - reserve - 1.0  # and little time was left unused
    assert module.total_steps == trainer.global_step  # the schedule ends where training does


def test_a_measured_validation_pass_replaces_the_estimate():
    clock, module = Clock(), SimpleNamespace(total_steps=1000)
    budget = TimeBudget(60.0, val_batches=100, clock=clock)  # estimate: 60 s, no step would fit
    trainer = SimpleNamespace(global_step=0, should_stop=False, strategy=SimpleNamespace(broadcast=lambda x: x))
    budget.on_train_start(trainer, module)
    budget.on_validation_start(trainer, module)
    clock.now += 2.0
    budget.on_validation_end(trainer, module)
    assert budget.reserve() == 2.0


def test_the_schedule_never_grows_past_the_modules_own_and_follows_the_time_otherwise():
    clock, module = Clock(), SimpleNamespace(total_steps=20)
    trainer = _run(TimeBudget(1000.0, clock=clock), clock, module, 20)
    assert module.total_steps == 20 and trainer.global_step == 20  # plenty of time: the schedule as sized
    clock, module = Clock(), SimpleNamespace(total_steps=500)
    budget = TimeBudget(100.0, clock=clock)
    _run(budget, clock, module, MIN_STEPS)
    assert module.total_steps == MIN_STEPS + 90  # 90 s left at 1 s a step


def test_the_learning_rate_schedule_reads_its_length_at_every_step():
    total = {"steps": 100}
    parameter = torch.nn.Parameter(torch.zeros(1))
    setup = configure_adamw([{"params": [parameter], "lr": 1.0}], lambda: total["steps"], warmup_ratio=0.0)
    optimizer, schedule = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    for _ in range(10):
        optimizer.step()
        schedule.step()
    assert optimizer.param_groups[0]["lr"] > 0.9  # 10 of 100 steps: near the top of the cosine
    total["steps"] = 11
    optimizer.step()
    schedule.step()
    assert optimizer.param_groups[0]["lr"] < 0.05  # the shortened schedule is at its end
