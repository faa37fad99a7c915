"""ONNX's own backend node tests (generated in memory by the onnx package) against theon.

Every node case runs (about 1,900, a minute or two on 2 cores); the cases listed in
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


backend_test = onnx.backend.test.BackendTest(theon_backend, __name__)
# model tests download files or read ONNX's stored protobufs; only the node cases run here
backend_test.include(r"^test_.*_cpu$")
backend_test.exclude(r"(test_real_|test_simple_|_pytorch_|test_operator_)")
for name in expected_failures():
    backend_test.xfail("^" + re.escape(name) + "_cpu$")

globals().update({k: v for k, v in backend_test.test_cases.items() if k == "OnnxBackendNodeModelTest"})
