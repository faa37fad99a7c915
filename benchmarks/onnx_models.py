"""Imported PP-OCR models (text-direction classifier and text detector) in theon against
onnxruntime on the same input, batch 1 and 8, timed in alternating windows in one run
(benchmarks/harness.py: theon's speed ratio, median and quartiles over rounds); also each
model's import and first-call compile time.

    python -m benchmarks.onnx_models        (needs: pip install --no-deps rapidocr-onnxruntime==1.4.4)
"""
from __future__ import annotations

import importlib.util
import os
import time

import numpy as np
import onnxruntime as ort
import torch

import theon as th
import theon.onnx  # noqa: F401
from benchmarks.harness import alternate_calls, row

ROUNDS = 10
CASES = [("ch_ppocr_mobile_v2.0_cls_infer.onnx", (3, 48, 192)),
         ("ch_PP-OCRv4_det_infer.onnx", (3, 320, 320))]


def model_path(name: str) -> str:
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    return os.path.join(os.path.dirname(spec.origin), "models", name)


def main() -> None:
    threads = torch.get_num_threads()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    print(f"PP-OCR models, theon vs onnxruntime {ort.__version__}, {threads} CPU threads each")
    for name, shape in CASES:
        path = model_path(name)
        start = time.perf_counter()
        model = th.onnx.load(path)
        load_s = time.perf_counter() - start
        fn = th.function(model.inputs, model.outputs[0], keep_on_device=True)
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        for batch in (1, 8):
            x = np.random.default_rng(0).normal(size=(batch, *shape)).astype(np.float32)
            start = time.perf_counter()
            fn(x)
            compile_s = time.perf_counter() - start
            xt = torch.from_numpy(x)
            number = 20 if batch == 1 else 5
            calls = {"theon": lambda fn=fn, xt=xt: fn(xt),
                     "onnxruntime": lambda session=session, x=x: session.run(None, {"x": x})}
            for call in calls.values():  # warm up
                call(), call()
            times = alternate_calls(calls, ROUNDS, number)
            print(row(f"{name[:-5]} batch {batch}", times["theon"], times["onnxruntime"], number, 1e-3, "ms",
                      peer="onnxruntime") + f"   (import {load_s:.2f} s, first call {compile_s:.2f} s)")


if __name__ == "__main__":
    main()
