"""What the stages of a fit share: the request (never changed), the state they fill in, and the
interface an extension implements.

An :class:`Extension` contributes to the stages it needs by overriding their methods; every method
does nothing by default. The stages run in the order of :data:`STAGES` (see
:func:`transmodal.fitting.pipeline.run_fit`), and within a stage the extensions run in the order of
:data:`transmodal.fitting.pipeline.EXTENSIONS`. The network is built exactly once, in the ``build``
stage; stages before it choose what to build, stages after it change only what trains and what is
added around it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from transmodal.config import FitConfig
from transmodal.data.readers import Table
from transmodal.errors import BadRow

if TYPE_CHECKING:  # types only: the heavy modules load when a stage needs them
    from torch import nn

    from transmodal.data.dataset import TableDataset
    from transmodal.data.schema import InputSpec
    from transmodal.heads.task import TaskSpec
    from transmodal.model import MultimodalNet
    from transmodal.saved.spec import Architecture, ModelSpec

STAGES = (
    "prepare_tables",   # extensions: change the tables before the schema is read (teacher labels)
    "read",             # core: infer the schema and tasks, validate, split off tuning rows
    "prepare_targets",  # extensions: add tasks and rows (joint source task), check task settings
    "initialise",       # extensions: choose encoder settings and architecture from a source model
    "build",            # core: fit encoder settings on the data, build the network once
    "load_weights",     # extensions: copy a source model's weights into the network
    "adapt",            # extensions: decide what trains (freeze, LoRA, partial, heads)
    "attach",           # extensions: extra loss terms, their modules, callbacks, trainer options
    "train",            # core: the training engine
    "finish",           # extensions: drop temporary tasks, record what they did, the report
)


@dataclass(frozen=True)
class FitRequest:
    """What ``fit`` was asked to do; no stage changes it.

    Attributes:
        labels: The label columns.
        problem_type: ``problem_type`` of the predictor (a name, a dict per label, or None).
        eval_metric: The predictor's ``eval_metric`` (None: the default of the first task).
        allowed_root: Folder that image/audio paths must stay inside, or None.
        config: The user's hyperparameters, typed.
        column_types: ``{column: modality}`` overrides.
        time_limit: Seconds of training at most.
        seed: Seed of every random choice.
        options: Extension options passed to ``fit(**options)``.
    """

    labels: tuple[str, ...]
    problem_type: Any
    eval_metric: str | None
    allowed_root: Any
    config: FitConfig
    column_types: dict[str, str] | None
    time_limit: float | None
    seed: int
    options: dict[str, Any]


@dataclass
class TrainingAdditions:
    """What extensions add to training, beside the task losses.

    Attributes:
        extra_losses: Callables ``(module, batch, out) -> {name: loss}``.
        modules: Name -> module trained with the network but not part of it (projection heads,
            critics); the engine optimises and moves them, the saved model never holds them.
        callbacks: Lightning callbacks.
        trainer_options: Extra ``lightning.Trainer`` arguments (``ckpt_path`` resumes).
        config_overrides: Training settings that differ from the user's config for this fit
            (e.g. the joint-training task weights, a strategy's default layer decay); applied to a
            copy, never to the user's config.
    """

    extra_losses: list = field(default_factory=list)
    modules: dict[str, nn.Module] = field(default_factory=dict)
    callbacks: list = field(default_factory=list)
    trainer_options: dict[str, Any] = field(default_factory=dict)
    config_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class FitState:
    """Everything the stages fill in, in stage order."""

    request: FitRequest
    train: Table
    tune: Table | None
    bad_rows: list[BadRow] = field(default_factory=list)
    # read
    column_types: dict[str, str] = field(default_factory=dict)
    inputs: list[InputSpec] = field(default_factory=list)
    tasks: list[TaskSpec] = field(default_factory=list)
    select_epoch: bool = True
    eval_metric: str = ""
    select_metric: str = ""  # the metric that picks the kept epoch (config.select_epoch_by resolved)
    # initialise
    encoder_choices: dict[str, Any] = field(default_factory=dict)  # column/modality -> choice, as config.encoders
    fixed_encoders: dict[str, dict[str, Any]] = field(default_factory=dict)  # input -> settings used as they are
    architecture: Architecture | None = None
    # build
    train_set: TableDataset | None = None
    tune_set: TableDataset | None = None
    encoder_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    net: MultimodalNet | None = None
    # adapt
    adapters: dict[str, dict[str, Any]] = field(default_factory=dict)
    base: dict[str, str] | None = None
    # attach
    training: TrainingAdditions = field(default_factory=TrainingAdditions)
    # train and finish
    history: dict[str, Any] = field(default_factory=dict)
    tuning_scores: dict[str, Any] | None = None  # the kept epoch's scores of the tuning rows, per task
    records: dict[str, Any] = field(default_factory=dict)  # what extensions did; joins the saved history
    report: dict[str, Any] | None = None

    @property
    def config(self) -> FitConfig:
        return self.request.config

    @property
    def root(self) -> Path | None:
        """The folder image/audio paths must stay inside, or None."""
        root = self.request.allowed_root
        return None if root is None else Path(root)

    @property
    def seed(self) -> int:
        return self.request.seed

    @property
    def options(self) -> dict[str, Any]:
        return self.request.options

    def spec(self) -> ModelSpec:
        """The :class:`~transmodal.saved.spec.ModelSpec` of what this fit has decided so far (encoder
        settings as the network holds them once it is built: freezing and adapters change them)."""
        from transmodal.saved.spec import ModelSpec

        encoders = self.encoder_settings
        if self.net is not None:
            encoders = {n: dict(self.net.encoder(n).settings) for n in self.net.input_names}
        return ModelSpec(column_types=dict(self.column_types), inputs=list(self.inputs), tasks=list(self.tasks),
                         encoders=encoders, architecture=self.architecture, eval_metric=self.eval_metric,
                         adapters=dict(self.adapters), base=self.base)

    def training_config(self) -> FitConfig:
        """The config training runs with: the user's, with the extensions' overrides applied to a copy."""
        return dataclasses.replace(self.config, **self.training.config_overrides) \
            if self.training.config_overrides else self.config


class Extension:
    """Base of fit extensions: one method per extensible stage, each a no-op by default.

    Attributes:
        options: ``fit(**options)`` keys the extension reads (unknown keys raise).
    """

    options: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        """Whether the extension takes part in this fit (default: one of its options is given)."""
        return any(request.options.get(key) is not None for key in cls.options)

    def prepare_tables(self, state: FitState) -> None: ...

    def prepare_targets(self, state: FitState) -> None: ...

    def initialise(self, state: FitState) -> None: ...

    def load_weights(self, state: FitState) -> None: ...

    def adapt(self, state: FitState) -> None: ...

    def attach(self, state: FitState) -> None: ...

    def finish(self, state: FitState) -> None: ...
