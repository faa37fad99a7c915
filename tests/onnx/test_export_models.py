"""Real models imported into theon and exported again: the new file passes onnx.checker's
full check, keeps the original inputs (names, dtypes, symbolic dims) and, run with
onnxruntime, gives the original file's outputs on the same realistic inputs (PP-OCR's
classifier, detector and recogniser; silero-vad exports with If subgraphs, LSTM and
streaming state; a MiniLM BERT exported by torch)."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import theon as th

from .minilm import tokenize
from .models import ppocr, silero, speech_chunk, text_image
from .test_models import rel_err


def _inputs(model_proto) -> list:
    """(name, element type, dims with None where symbolic) of each input."""
    inits = {t.name for t in model_proto.graph.initializer}
    return [(i.name, i.type.tensor_type.elem_type,
             [d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else None  # (some write -1)
              for d in i.type.tensor_type.shape.dim])
            for i in model_proto.graph.input if i.name not in inits]


def _exported_again_matches(path, feeds, tmp_path, tol, other_feeds=None):
    again = tmp_path / "again.onnx"
    th.onnx.export(th.onnx.load(path), again, feeds)
    proto = onnx.load(again)
    onnx.checker.check_model(proto, full_check=True)
    assert _inputs(proto) == _inputs(onnx.load(path))
    original, exported = ort.InferenceSession(path), ort.InferenceSession(str(again))
    for f in [feeds] + ([other_feeds] if other_feeds else []):
        want, got = original.run(None, f), exported.run(None, f)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype and rel_err(g, w) <= tol


@pytest.mark.parametrize("name,shape,tol", [
    ("ch_ppocr_mobile_v2.0_cls_infer.onnx", (3, 3, 48, 192), 1e-4),
    ("ch_PP-OCRv4_det_infer.onnx", (1, 3, 96, 160), 1e-4),
    ("ch_PP-OCRv4_rec_infer.onnx", (2, 3, 48, 160), 1e-3),
])
def test_ppocr_exports_again(name, shape, tol, tmp_path):
    batch, _, h, w = shape
    # the file's symbolic dims stay symbolic: a second batch size runs in the same file
    _exported_again_matches(ppocr(name), {"x": text_image(batch, h, w)}, tmp_path, tol,
                            other_feeds={"x": text_image(batch + 1, h, w, seed=1)})


@pytest.mark.parametrize("name", ["silero_vad.onnx", "silero_vad_16k_op15.onnx", "silero_vad_half.onnx",
                                  "silero_vad_op18_ifless.onnx", "silero_vad_16k_sequence.onnx"])
def test_silero_vad_exports_again(name, tmp_path):
    path = silero(name)
    feeds = {}
    for i in ort.InferenceSession(path).get_inputs():
        if i.name == "sr":
            feeds["sr"] = np.array(16000, np.int64)
        elif i.name == "input":
            feeds["input"] = speech_chunk(576 * 6).reshape(6, 576) if "sequence" in name else speech_chunk(576)
        elif i.name == "state":
            feeds["state"] = np.random.default_rng(0).normal(0, 0.1, (2, 1, 128)).astype(np.float32)
        else:  # the sequence model's LSTM state
            feeds[i.name] = np.random.default_rng(1).normal(0, 0.1, (1, 1, 128)).astype(np.float32)
    other = dict(feeds, sr=np.array(8000, np.int64), input=speech_chunk(288, seed=2)) if "sr" in feeds else None
    _exported_again_matches(path, feeds, tmp_path, 1e-4, other_feeds=other)


def test_minilm_bert_exported_by_torch_exports_again(minilm_onnx, tmp_path):
    path = minilm_onnx
    ids, mask = tokenize(["the cat sat on the mat", "theon exports onnx models for deployment"], 12)
    short_ids, short_mask = tokenize(["a shorter batch of one"], 7)
    _exported_again_matches(path, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
                            tmp_path, 1e-4,
                            other_feeds={"input_ids": short_ids, "attention_mask": short_mask,
                                         "token_type_ids": np.zeros_like(short_ids)})
