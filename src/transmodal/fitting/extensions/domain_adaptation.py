"""``fit(labelled, unlabeled_data=TARGET, hyperparameters={"transfer": {"adapt": NAME}})``:
unsupervised domain adaptation (:mod:`transmodal.transfer.domain`). In ``attach`` the criterion
(e.g. the DANN critic) joins training as an auxiliary module and its loss term draws a batch of
unlabelled target rows at every step."""

from __future__ import annotations

from transmodal.errors import ConfigError
from transmodal.fitting.state import Extension, FitRequest, FitState


class DomainAdaptation(Extension):
    """Aligns labelled and unlabelled target rows."""

    options = ("unlabeled_data",)

    @classmethod
    def wanted(cls, request: FitRequest) -> bool:
        if request.options.get("unlabeled_data") is None:
            if (request.config.transfer or {}).get("adapt"):
                raise ConfigError("transfer.adapt needs unlabelled target rows: fit(..., unlabeled_data=TABLE)")
            return False
        return True

    def attach(self, state: FitState) -> None:
        from transmodal.transfer.domain import EndlessBatches, adaptation_loss, build_criterion, unlabeled_dataset

        options = dict(state.config.transfer or {})
        criterion = build_criterion(state.net, options)
        rows = unlabeled_dataset(state.options["unlabeled_data"], state.inputs, state.column_types, state.root,
                                 state.config.on_bad_rows)
        stream = EndlessBatches(rows, state.net, state.config, state.seed)
        state.training.modules["domain_adapter"] = criterion
        state.training.extra_losses.append(adaptation_loss(criterion, stream, options))
        state.records["domain_adaptation"] = {"adapt": options["adapt"], "rows": len(rows)}
