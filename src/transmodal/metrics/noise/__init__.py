"""transmodal.metrics.noise: test-time corruptions of processed inputs, one file per modality."""
