"""Shared embedding spaces across modalities: alignment, zero-shot and retrieval.

``AlignmentModel`` (in :mod:`transmodal.alignment.model`) trains one tower per column into a shared
space. Fit extensions in :mod:`transmodal.fitting.extensions` plug cross-modal knowledge into ``MultimodalPredictor.fit``:
distillation from a teacher predictor (``teacher=``, ``student_column=``), aligned towers as encoders
(``init_from=ALIGN_DIR``), an auxiliary alignment loss (``align_weight``) and the knowledge-transfer
network (``transfer_from``).

Self-supervised pretraining on unlabelled rows, then fine-tuning, uses the same pieces::

    from transmodal.alignment.model import AlignmentModel
    from transmodal import MultimodalPredictor

    # 1. unlabelled rows: the alignment loss over every pair of columns
    AlignmentModel(columns=("image", "audio", "caption")).fit("unlabelled.csv").save("pretrained")
    # 2. labelled rows: the aligned towers initialise the predictor's encoders
    MultimodalPredictor(label="label").fit("labelled.csv", init_from="pretrained")
"""
