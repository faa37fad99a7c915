"""How many of the ONNX backend node cases that onnxruntime passes theon passes too: the
measure issue 9 sets (at least 1,500 of onnxruntime's), which the conformance test's own
count (every case, expected failures listed) does not give by itself.

    python -m tests.onnx.overlap_with_onnxruntime      # about a minute

Runs onnx's node cases once with onnxruntime's backend and once with theon's, each in its
own pytest process writing JUnit XML (no expected-failure list: a case passes or not), and
prints the counts and the onnxruntime passes theon fails. Needs the test extra (onnx,
onnxruntime).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SUITE = """
import onnx.backend.test
import {module} as backend
suite = onnx.backend.test.BackendTest(backend, __name__)
suite.include(r"^test_.*_cpu$")
globals().update({{k: v for k, v in suite.test_cases.items() if k == "OnnxBackendNodeModelTest"}})
"""


def passing(backend_module: str, folder: Path) -> set:
    """The node cases `backend_module` passes (test names)."""
    name = backend_module.replace(".", "_")
    (folder / f"test_{name}.py").write_text(SUITE.format(module=backend_module))
    report = folder / f"{name}.xml"
    # generated kernels are an optimisation the tiny node graphs never pay back
    env = dict(os.environ, THEON_CODEGEN="off", PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"test_{name}.py",
                    f"--junitxml={report}"], cwd=folder, env=env, stdout=subprocess.DEVNULL, check=False)
    cases = ET.parse(report).getroot().iter("testcase")
    return {c.get("name") for c in cases if not {k.tag for k in c} & {"failure", "error", "skipped"}}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ort = passing("onnxruntime.backend", Path(tmp))
        theon = passing("theon.onnx.backend", Path(tmp))
    print(f"onnxruntime passes {len(ort)} node cases; theon passes {len(theon)}, "
          f"{len(ort & theon)} of onnxruntime's and {len(theon - ort)} more")
    missed = sorted(ort - theon)
    if missed:
        print(f"onnxruntime's passes theon fails ({len(missed)}):")
        for case in missed:
            print("  " + case)


if __name__ == "__main__":
    main()
