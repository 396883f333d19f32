"""Exporting the inference graph (processed inputs -> task scores) to ONNX or TorchScript."""
