"""Prints how many ONNX backend node cases theon passed, at the end of the run; the MiniLM
BERT exported by torch.onnx.export once per run, for the tests that read it."""
import pytest

from .minilm import export, load_minilm


@pytest.fixture(scope="session")
def minilm_onnx(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("minilm") / "minilm.onnx")
    export(load_minilm(), path)
    return path


def pytest_terminal_summary(terminalreporter):
    for what, suites in (("node tests", ("OnnxBackendNodeModelTest",)),
                         ("model tests", ("OnnxBackendSimpleModelTest", "OnnxBackendPyTorchConvertedModelTest",
                                          "OnnxBackendPyTorchOperatorModelTest"))):
        counts = {"passed": 0, "xfailed": 0, "failed": 0}
        for key in counts:
            for report in terminalreporter.stats.get(key, []):
                if any(s in report.nodeid for s in suites) and report.when == "call":
                    counts[key] += 1
        total = sum(counts.values())
        if total:
            terminalreporter.write_line(
                f"ONNX backend {what}: theon passed {counts['passed']} of {total} "
                f"({counts['xfailed']} expected failures, {counts['failed']} unexpected failures)")
