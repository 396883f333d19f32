"""One file per fit extension; :data:`transmodal.fitting.pipeline.EXTENSIONS` lists them in order."""
