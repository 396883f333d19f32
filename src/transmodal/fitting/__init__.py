"""The fit pipeline: the ordered stages of ``MultimodalPredictor.fit`` (:mod:`.pipeline`), the state
they work on and the interface extensions implement (:mod:`.state`), table preparation
(:mod:`.tables`) and one file per extension (:mod:`.extensions`)."""

from transmodal.fitting.tables import holdout_split, tuning_split

__all__ = ["holdout_split", "tuning_split"]
