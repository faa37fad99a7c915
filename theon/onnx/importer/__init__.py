"""ONNX -> theon: reading files safely, scopes and scheduling, shape arithmetic, layers."""
