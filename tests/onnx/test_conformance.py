"""ONNX's own backend node tests (generated in memory by the onnx package) and the model
tests whose files the package ships, against theon.

Every node case runs (about 1,900, a minute or two on 2 cores), and the 140 model cases; the cases listed in
expected_failures.txt are expected to fail (an unexpected pass is an error: delete the
line). The pass count is printed at the end of the run (conftest.py). Run just these:
    python -m pytest tests/onnx/test_conformance.py -q
"""
import os
import re

import onnx.backend.test

import theon.onnx.backend as theon_backend


def expected_failures() -> list:
    path = os.path.join(os.path.dirname(__file__), "expected_failures.txt")
    names = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")):
                names.append(line)
    return names


# the node cases, and the model tests whose files the onnx package ships (simple models,
# PyTorch-converted modules and operators); the real models (AlexNet, ResNet-50, ...) are
# downloaded by the suite, which this machine's tests never do
SUITES = ("OnnxBackendNodeModelTest", "OnnxBackendSimpleModelTest", "OnnxBackendPyTorchConvertedModelTest",
          "OnnxBackendPyTorchOperatorModelTest")

backend_test = onnx.backend.test.BackendTest(theon_backend, __name__)
backend_test.include(r"^test_.*_cpu$")
for name in expected_failures():
    backend_test.xfail("^" + re.escape(name) + "_cpu$")

globals().update({k: v for k, v in backend_test.test_cases.items() if k in SUITES})
