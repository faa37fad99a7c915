"""Every op-table row (tests/ops) exported to ONNX, run with onnxruntime against theon's own
output, and loaded back with th.onnx.load to the same results; again with every input dim
symbolic where the row builds so. Rows whose ops have no ONNX form are listed below with the
reason, and must fail to export with the error naming the op: a new op without an export
rule shows up here."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import theon as th
from theon.onnx import UnexportableOpsError, export
from theon.testing import Const

from ..ops.optable import ROWS

# row -> why its op has no ONNX form (at the default opset)
NO_EXPORT = {
    "fused_elementwise": "made only by the compiler's fuse_elementwise pass, after the user's "
                         "graph that export walks; a generated kernel has no ONNX form",
    "direct_conv": "made only by the compiler's fuse_direct_conv pass, after the user's graph "
                   "that export walks (the graph has conv2d and its activation there)",
    "squeeze_excite": "made only by the compiler's fuse_squeeze_excite pass, after the user's "
                      "graph that export walks (the graph has the block's eight ops there)",
    "conv_relu_pool": "made only by the compiler's fuse_conv_pool pass, after the user's graph "
                      "that export walks (the graph has conv2d, relu and max_pool2d there)",
    # ONNX's DFT (opset 17+) holds complex values as a trailing axis of 2 reals, and theon's
    # exporter has no complex tensors: the transforms, their shifts and their rows' real/imag
    # parts have no export rule yet
    "fft": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "ifft": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "rfft": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "irfft": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "hfft": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "ihfft": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "fftn": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "ifftn": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "rfftn": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "irfftn": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "fft2": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "ifft2": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "rfft2": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "irfft2": "no complex tensors in the exporter (ONNX DFT stores them as pairs of reals)",
    "fftshift": "no export rule yet (two Slices and a Concat per axis would do)",
    "ifftshift": "no export rule yet (two Slices and a Concat per axis would do)",
    "solve": "ONNX has no linear solve",
    "solve_triangular": "ONNX has no triangular solve",
    "inv": "ONNX has no matrix inverse",
    "slogdet": "ONNX has no log-determinant",
    "cholesky": "ONNX has no Cholesky factorisation",
    "cumprod": "ONNX has CumProd from opset 26 only",
    "cumprod_zeros": "ONNX has CumProd from opset 26 only",
    "bitcast": "ONNX has BitCast from opset 26 only",
    "sgd_step": "an optimiser's update: ONNX graphs hold no state",
    "adam_step": "an optimiser's update: ONNX graphs hold no state",
    "batch_norm_train": "batch statistics: the exporter writes inference graphs",
    "batch_norm_cumulative": "batch statistics: the exporter writes inference graphs",
    "cumulative_prod": "ONNX has CumProd from opset 26 only",
    "signbit": "ONNX cannot read the sign of -0.0 or of NaN",
    "copysign": "ONNX cannot read the sign of -0.0 or of NaN",
    "nextafter": "ONNX has no nextafter (nor bit casts before opset 26)",
    "hypot": "ONNX has no hypot; sqrt(a*a + b*b) overflows where NumPy's does not",
    "logaddexp": "ONNX has no logaddexp; the stable form needs NumPy's inf handling",
    "left_shift_int": "ONNX's BitShift takes unsigned ints only",
    "right_shift_int": "ONNX's BitShift takes unsigned ints only",
    "adaptive_max_pool1d": "ONNX has no adaptive max pooling",
    "adaptive_max_pool2d": "ONNX has no adaptive max pooling",
    "adaptive_max_pool3d": "ONNX has no adaptive max pooling",
    "conj": "ONNX has no complex dtypes",
    "real": "ONNX has no complex dtypes",
    "imag": "ONNX has no complex dtypes",
    "linspace": "no export rule yet (Range's accumulated step is not NumPy's linspace)",
    "arange_symbolic": "no export rule yet for th.arange with symbolic bounds (ONNX Range)",
    "set_subtensor": "no export rule yet for index updates (ONNX ScatterND)",
    "inc_subtensor": "no export rule yet for index updates (ONNX ScatterND)",
    "at_set": "no export rule yet for index updates (ONNX ScatterND)",
    "at_add": "no export rule yet for index updates (ONNX ScatterND)",
    "update_symbolic_slice": "no export rule yet for index updates (ONNX ScatterND)",
    "diagonal": "no export rule yet for diagonal (a Gather of flat indices)",
    "diag": "no export rule yet for diagonal and its embedding",
    "trace": "no export rule yet for diagonal",
    "argwhere": "no export rule yet (ONNX NonZero, transposed)",
    "nonzero": "no export rule yet (ONNX NonZero)",
    "searchsorted": "ONNX has no searchsorted",
    "bincount": "ONNX has no bincount",
    "histogram": "ONNX has no histogram",
    "histogram_edges": "ONNX has no histogram",
    "sort": "no export rule yet for a stable, NaN-last argsort (ONNX TopK is neither)",
    "argsort": "no export rule yet for a stable, NaN-last argsort (ONNX TopK is neither)",
    "quantile": "built on argsort, which has no export rule yet",
    "percentile": "built on argsort, which has no export rule yet",
    "median": "built on argsort, which has no export rule yet",
    "cbrt": "ONNX has no cube root (Pow with 1/3 is NaN for negatives)",
    "cbrt_edges": "ONNX has no cube root (Pow with 1/3 is NaN for negatives)",
    "exp2": "no export rule yet (Pow(2, x))",
    "exp2_edges": "no export rule yet (Pow(2, x))",
    "erfinv": "ONNX has no inverse error function",
    "lgamma": "ONNX has no log-gamma",
    "lgamma_edges": "ONNX has no log-gamma",
    "digamma": "ONNX has no digamma",
    "digamma_edges": "ONNX has no digamma",
    "polygamma": "ONNX has no polygamma",
    "svd": "ONNX has no singular value decomposition",
    "svd_reconstruct": "ONNX has no singular value decomposition",
    "svdvals": "ONNX has no singular value decomposition",
    "svd_values_only": "ONNX has no singular value decomposition",
    "qr": "ONNX has no QR decomposition",
    "eigh": "ONNX has no eigendecomposition",
    "eigvalsh": "ONNX has no eigendecomposition",
    "pinv": "ONNX has no pseudo-inverse (nor an SVD to build one)",
    "matrix_rank": "built on the singular values: ONNX has no SVD",
    "matrix_norm_spectral": "built on the singular values: ONNX has no SVD",
    "norm_spectral": "built on the singular values: ONNX has no SVD",
    "matrix_power_inverse": "negative powers need the inverse, n = 0 a diagonal embedding: no rule for either",
    "linalg_diagonal": "no export rule yet for diagonal (a Gather of flat indices)",
    "linalg_trace": "no export rule yet for diagonal",
}
# rows whose files with every dim symbolic onnxruntime runs but theon's importer cannot
# build yet (why): loading them must fail with a clear OnnxImportError
NO_DYNAMIC_IMPORT = {
    "tril": "the importer's Trilu needs the matrix dims when building",
    "triu": "the importer's Trilu needs the matrix dims when building",
    "max_pool3d": "the importer's 3-D pooling with these attributes needs the spatial dims",
    "avg_pool3d": "the importer's 3-D pooling with these attributes needs the spatial dims",
    "broadcast_arrays": "an unknown broadcast dim is picked from the inputs' dims by a Where; the "
                        "importer's Expand needs a shape computed from shapes alone",
}
# rows that export with dims known when exporting, but not with every dim symbolic (why)
NO_DYNAMIC_EXPORT = {
    "arange_of_dim": "th.arange of an unknown dim is a symbolic arange, which has no export rule yet",
    "rnn_lstm": "ONNX's LSTM takes hidden_size as an attribute",
    "rnn_gru": "ONNX's GRU takes hidden_size as an attribute",
}
# rows whose exported files onnxruntime runs but theon's importer cannot build (why): loading
# them must fail with a clear OnnxImportError
NO_IMPORT = {
    "getitem_symbolic_slice": "the importer needs Slice bounds known when building; these come from data",
    "getitem_symbolic_slice_length": "the importer needs Slice bounds known when building; these come from data",
}
# rows whose exported files onnxruntime has no kernel for (why): checked by onnx.checker and
# read back by theon's importer, not run by onnxruntime
ORT_MISSING = {
    "isclose": "onnxruntime's CPU Where has no kernel for these operands",
}
# rows onnxruntime runs in float32 only (its CPU kernels of these ops take no float64)
ORT_FLOAT32 = {
    "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "erf", "gelu", "det", "conv1d", "conv2d",
    "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "avg_pool2d", "adaptive_avg_pool2d", "conv_relu",
    "arcsinh", "arccosh", "arctanh", "det_singular", "rnn_lstm", "rnn_gru", "avg_pool1d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool3d", "max_pool1d", "max_pool3d",
}

_SESSION = ort.SessionOptions()
_SESSION.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # run the nodes as written
_SESSION.intra_op_num_threads = 1

CASES = [(row, i) for row in ROWS for i in range(len(row.samples(np.random.default_rng(0))))]


def _ids(case):
    row, i = case
    return f"{row.name}-{i}"


def _graph(row, sample, float32: bool, unknown_dims: bool = False):
    """(inputs, outputs, arrays): the sample's graph with each array a symbolic input (whose
    dims are all unknown when building, with unknown_dims)."""
    inputs, sym, arrays = [], [], []
    for k, a in enumerate(sample.args):
        if isinstance(a, np.ndarray):
            if float32 and a.dtype == np.float64:
                a = a.astype(np.float32)
            v = th.tensor(f"a{k}", (None,) * a.ndim if unknown_dims else a.shape, a.dtype.name)
            inputs.append(v)
            arrays.append(a)
            sym.append(v)
        elif isinstance(a, Const):
            sym.append(th.constant(a.value))
        else:
            sym.append(a)
    outs = row.op(*sym, **sample.kwargs)
    return inputs, list(outs) if isinstance(outs, (tuple, list)) else [outs], arrays


def _builds_with_unknown_dims(row) -> bool:
    samples = row.samples(np.random.default_rng(0))
    if not samples or row.name in NO_EXPORT or row.name in NO_DYNAMIC_EXPORT:
        return False
    try:
        _graph(row, samples[0], False, unknown_dims=True)
    except th.errors.TheonError:  # the op needs some dims known when building
        return False
    return True


# the first sample of each row again, every input dim unknown in the graph and symbolic in the
# ONNX file: the rules' paths for dims read when running
DYNAMIC_CASES = [(row, 0) for row in ROWS if _builds_with_unknown_dims(row)]


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_op_table_row_exports_and_matches_onnxruntime(case, tmp_path):
    _export_and_compare(*case, tmp_path, unknown_dims=False)


@pytest.mark.parametrize("case", DYNAMIC_CASES, ids=_ids)
def test_op_table_row_with_dims_unknown_until_the_call(case, tmp_path):
    _export_and_compare(*case, tmp_path, unknown_dims=True)


def _export_and_compare(row, i, tmp_path, unknown_dims):
    sample = row.samples(np.random.default_rng(0))[i]
    float32 = row.name in ORT_FLOAT32
    inputs, outs, arrays = _graph(row, sample, float32, unknown_dims)
    path = tmp_path / "row.onnx"
    f = th.function(inputs, outs)
    dynamic = {v.name: list(range(v.ndim)) for v in inputs if v.ndim} if unknown_dims else None
    # (a sample whose graph holds no node at all, such as real() of a real array, exports)
    if row.name in NO_EXPORT and th.graph.toposort(outs):
        with pytest.raises(UnexportableOpsError) as info:
            export(f, path, arrays)
        assert not path.exists()
        op_names = {n.op.name for n in th.graph.toposort(outs)}
        assert any(label.split(" ")[0] in op_names for label in info.value.problems), str(info.value)
        return
    export(f, path, arrays, dynamic_axes=dynamic)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    want = f(*arrays)
    want = want if isinstance(want, list) else [want]
    if row.name not in ORT_MISSING:
        session = ort.InferenceSession(str(path), _SESSION, providers=["CPUExecutionProvider"])
        got = session.run(None, {s.name: a for s, a in zip(session.get_inputs(), arrays)})
        _same(got, want, "onnxruntime")
    # and back: th.onnx.load of the exported file gives theon's own results
    if (unknown_dims and row.name in NO_DYNAMIC_IMPORT) or row.name in NO_IMPORT:
        with pytest.raises(th.onnx.OnnxImportError):
            th.onnx.load(path)
        return
    back = th.onnx.load(path)
    again = th.function(back.inputs, back.outputs)(*arrays)
    _same(again if isinstance(again, list) else [again], want, "the re-imported file")


def _same(got, want, who):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, f"{who} gave {g.dtype}{g.shape}, theon {w.dtype}{w.shape}"
        if w.dtype == np.float64:
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, err_msg=who)
        elif w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=who)
        else:
            np.testing.assert_array_equal(g, w, err_msg=who)


def test_listed_rows_exist():
    names = {row.name for row in ROWS}
    assert not set(NO_EXPORT) - names and not ORT_FLOAT32 - names and not set(NO_DYNAMIC_EXPORT) - names \
        and not set(NO_DYNAMIC_IMPORT) - names and not set(NO_IMPORT) - names and not set(ORT_MISSING) - names
