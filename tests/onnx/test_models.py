"""Real models imported into theon agree with onnxruntime on realistic inputs: PP-OCR's
classifier, detector (ConvTranspose, Resize) and recogniser (transformer blocks), every
silero-vad export at 8 and 16 kHz with its streaming state, and a MiniLM-shaped BERT
exported by torch.onnx.export."""
import numpy as np
import onnxruntime as ort
import pytest

import theon as th
import theon.onnx  # noqa: F401

from .models import ppocr, silero, speech_chunk, text_image


def rel_err(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - b).max() / max(np.abs(b).max(), 1e-12))


@pytest.mark.parametrize("name,shape,tol", [
    ("ch_ppocr_mobile_v2.0_cls_infer.onnx", (3, 3, 48, 192), 1e-4),
    ("ch_PP-OCRv4_det_infer.onnx", (1, 3, 96, 160), 1e-4),
    ("ch_PP-OCRv4_rec_infer.onnx", (2, 3, 48, 160), 1e-3),
])
def test_ppocr_matches_onnxruntime(name, shape, tol):
    path = ppocr(name)
    model = th.onnx.load(path)
    x = text_image(*[shape[0], shape[2], shape[3]])
    ours = model.predict(x)
    ref = ort.InferenceSession(path).run(None, {"x": x})[0]
    assert ours.shape == ref.shape
    assert np.abs(ref).max() > 0.05  # the input gives the model something to see
    assert rel_err(ours, ref) <= tol


SILERO = ["silero_vad.onnx", "silero_vad_16k_op15.onnx", "silero_vad_half.onnx",
          "silero_vad_op18_ifless.onnx", "silero_vad_openvino_16k.onnx", "silero_vad_16k_sequence.onnx"]


def _silero_feeds(session, sr, chunk, state):
    feeds = {}
    for i in session.get_inputs():
        if i.name == "sr":
            feeds["sr"] = np.array(sr, np.int64)
        elif i.name == "input":
            feeds["input"] = chunk
        else:
            feeds[i.name] = state[i.name]
    return feeds


@pytest.mark.parametrize("name", SILERO)
@pytest.mark.parametrize("sr", [16000, 8000])
def test_silero_streams_like_onnxruntime(name, sr):
    path = silero(name)
    session = ort.InferenceSession(path)
    inputs = {i.name: i for i in session.get_inputs()}
    if sr == 8000 and "sr" not in inputs:
        pytest.skip(f"{name} is a 16 kHz-only export (it has no sr input)")
    model = th.onnx.load(path)
    assert [v.name for v in model.inputs] == list(inputs)
    if name == "silero_vad_16k_sequence.onnx":
        chunk = speech_chunk(576 * 6).reshape(6, 576)
        state = {"h": np.zeros((1, 1, 128), np.float32), "c": np.zeros((1, 1, 128), np.float32)}
        ours, ref = model.predict(_silero_feeds(session, sr, chunk, state)), \
            session.run(None, _silero_feeds(session, sr, chunk, state))
        for a, b in zip(ours, ref):
            assert rel_err(a, b) <= 1e-4
        return
    n = 576 if sr == 16000 else 288
    fixed = inputs["input"].shape[1] if isinstance(inputs["input"].shape[1], int) else None
    n = fixed or n
    audio = speech_chunk(n * 4)
    state_ours = state_ref = {"state": np.zeros((2, 1, 128), np.float32)}
    for step in range(4):  # streaming: each call's state feeds the next
        chunk = audio[:, step * n:(step + 1) * n]
        prob, new_state = model.predict(_silero_feeds(session, sr, chunk, state_ours))
        ref_prob, ref_state = session.run(None, _silero_feeds(session, sr, chunk, state_ref))
        assert rel_err(prob, ref_prob) <= 1e-4 and rel_err(new_state, ref_state) <= 1e-4
        state_ours, state_ref = {"state": new_state}, {"state": ref_state}


def test_minilm_bert_exported_by_torch_matches_onnxruntime(minilm_onnx):
    from .minilm import tokenize
    path = minilm_onnx
    model = th.onnx.load(path)
    ids, mask = tokenize(["the cat sat on the mat", "theon imports onnx models for fine tuning"], 12)
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    ours = model.predict(feeds)
    ref = ort.InferenceSession(path).run(None, feeds)[0]
    assert ours.shape == ref.shape == (2, 12, 384)
    assert rel_err(ours, ref) <= 1e-4
