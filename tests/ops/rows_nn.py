"""Op-table rows for the neural-network operators (references: torch.nn.functional)."""
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from theon.errors import DTypeError, ShapeError
from theon.ops import nn
from theon.testing import ErrorCase, OpInfo, Sample, integers, positive, rand


def _torch(fn):
    """A reference running `fn` on torch tensors made from the NumPy arguments."""
    def ref(*args, **kwargs):
        targs = [torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in args]
        with warnings.catch_warnings():  # torch warns of the copy 'same' padding may need
            warnings.simplefilter("ignore", UserWarning)
            out = fn(*targs, **kwargs)
        if isinstance(out, (tuple, list)):
            return [o.numpy() for o in out]
        return out.numpy()
    return ref


def _distinct(rng, *shape):
    """Floats with no ties (max pooling's gradient is moot at ties)."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) / 10.0 - 1.0).astype("float64")


# ---- linear and convolution -------------------------------------------------------------

def _linear_samples(rng):
    return [Sample((rand(rng, 3, 4), rand(rng, 5, 4), rand(rng, 5))),
            Sample((rand(rng, 2, 3, 4), rand(rng, 2, 4), None)),
            Sample((rand(rng, 4), rand(rng, 3, 4), rand(rng, 3))),
            Sample((rand(rng, 3, 4, dtype="float32"), rand(rng, 2, 4, dtype="float32"),
                    rand(rng, 2, dtype="float32")), grad=False)]


def _conv1d_samples(rng):
    return [Sample((rand(rng, 2, 3, 7), rand(rng, 4, 3, 3), rand(rng, 4)), {"stride": 2, "padding": 1}),
            Sample((rand(rng, 1, 4, 6), rand(rng, 2, 2, 2), None), {"groups": 2, "dilation": 2}),
            Sample((rand(rng, 1, 2, 5), rand(rng, 3, 2, 4), rand(rng, 3)), {"padding": "same"}),
            Sample((rand(rng, 1, 2, 6), rand(rng, 2, 2, 3), None), {"padding": "valid"})]


def _conv2d_samples(rng):
    return [Sample((rand(rng, 2, 2, 4, 4), rand(rng, 3, 2, 3, 3), rand(rng, 3))),
            Sample((rand(rng, 1, 2, 5, 5), rand(rng, 2, 2, 3, 3), None), {"stride": 2, "padding": 1}),
            Sample((rand(rng, 1, 4, 4, 3), rand(rng, 4, 2, 2, 2), rand(rng, 4)), {"groups": 2}),
            Sample((rand(rng, 1, 2, 4, 4), rand(rng, 2, 2, 2, 3), None), {"padding": "same"}),
            Sample((rand(rng, 1, 1, 5, 5), rand(rng, 2, 1, 3, 2), None),
                   {"padding": "same", "dilation": (2, 1)}),
            Sample((rand(rng, 1, 1, 6, 5), rand(rng, 1, 1, 2, 2), None),
                   {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)})]


def _conv3d_samples(rng):
    return [Sample((rand(rng, 1, 2, 3, 3, 3), rand(rng, 2, 2, 2, 2, 2), rand(rng, 2))),
            Sample((rand(rng, 1, 1, 3, 4, 3), rand(rng, 1, 1, 2, 2, 2), None), {"padding": "same"})]


def _conv_t2d_samples(rng):
    return [Sample((rand(rng, 1, 2, 3, 3), rand(rng, 2, 3, 3, 3), rand(rng, 3))),
            Sample((rand(rng, 1, 2, 2, 3), rand(rng, 2, 1, 3, 3), None),
                   {"stride": 2, "padding": 1, "output_padding": 1}),
            Sample((rand(rng, 1, 4, 2, 2), rand(rng, 4, 1, 2, 2), rand(rng, 2)), {"groups": 2, "dilation": 2})]


def _conv_t1d_samples(rng):
    return [Sample((rand(rng, 2, 2, 4), rand(rng, 2, 3, 3), rand(rng, 3)), {"stride": 2, "padding": 1})]


def _conv_t3d_samples(rng):
    return [Sample((rand(rng, 1, 2, 2, 2, 2), rand(rng, 2, 1, 2, 2, 2), None), {"stride": 2})]


_conv_errors = [
    ErrorCase((np.zeros((1, 3, 5, 5)), np.zeros((4, 4, 3, 3))), {}, ShapeError,
              r"input \(1, 3, 5, 5\) has 3 channels but weight \(4, 4, 3, 3\) expects 4"),
    ErrorCase((np.zeros((1, 3, 2, 2)), np.zeros((4, 3, 3, 3))), {}, ShapeError,
              r"larger than the padded input.*\(1, 3, 2, 2\).*\(4, 3, 3, 3\)"),
    ErrorCase((np.zeros((1, 4, 5, 5)), np.zeros((6, 4, 3, 3))), {"groups": 2}, ShapeError,
              r"4 channels but weight \(6, 4, 3, 3\) expects 8"),
    ErrorCase((np.zeros((1, 3, 5)), np.zeros((4, 3, 3, 3))), {}, ShapeError, r"rank"),
    ErrorCase((np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(5)), {}, ShapeError,
              r"bias \(5,\)"),
]


ROWS = [
    OpInfo("linear", nn.linear, _torch(F.linear), _linear_samples, second_order=True,
           errors=[ErrorCase((np.zeros((3, 4)), np.zeros((5, 3))), {}, ShapeError,
                             r"input \(3, 4\) has 4 features but weight \(5, 3\) expects 3")]),
    OpInfo("conv1d", nn.conv1d, _torch(F.conv1d), _conv1d_samples, second_order=True),
    OpInfo("conv2d", nn.conv2d, _torch(F.conv2d), _conv2d_samples, second_order=True,
           errors=_conv_errors),
    OpInfo("conv3d", nn.conv3d, _torch(F.conv3d), _conv3d_samples),
    OpInfo("conv_transpose1d", nn.conv_transpose1d, _torch(F.conv_transpose1d), _conv_t1d_samples),
    OpInfo("conv_transpose2d", nn.conv_transpose2d, _torch(F.conv_transpose2d), _conv_t2d_samples,
           second_order=True,
           errors=[ErrorCase((np.zeros((1, 3, 4, 4)), np.zeros((2, 3, 3, 3))), {}, ShapeError,
                             r"input \(1, 3, 4, 4\) has 3 channels but weight \(2, 3, 3, 3\) expects 2")]),
    OpInfo("conv_transpose3d", nn.conv_transpose3d, _torch(F.conv_transpose3d), _conv_t3d_samples),
]


# ---- normalisation ----------------------------------------------------------------------

def _bn_eval_samples(rng):
    return [Sample((rand(rng, 4, 3, 2, 2), rand(rng, 3), positive(rng, 3), rand(rng, 3), rand(rng, 3))),
            Sample((rand(rng, 5, 2), rand(rng, 2), positive(rng, 2), None, None), {"eps": 1e-3})]


def _bn_train_samples(rng):
    return [Sample((rand(rng, 4, 3, 2, 2), rand(rng, 3), positive(rng, 3), rand(rng, 3), rand(rng, 3)),
                   {"momentum": 0.2}),
            Sample((rand(rng, 6, 2), rand(rng, 2), positive(rng, 2), None, None)),
            Sample((rand(rng, 2, 2, 3), rand(rng, 2), positive(rng, 2), positive(rng, 2), None),
                   {"eps": 1e-3})]


def _bn(training):
    def op(x, rm, rv, w, b, **kw):
        return nn.batch_norm(x, rm, rv, w, b, training=training, **kw)
    return op


def _bn_ref(training):
    def ref(x, rm, rv, w, b, **kw):
        rm, rv = rm.copy(), rv.copy()
        t = [None if a is None else torch.from_numpy(a) for a in (x, rm, rv, w, b)]
        y = F.batch_norm(t[0], t[1], t[2], t[3], t[4], training=training, **kw).numpy()
        return [y, rm, rv] if training else y  # torch updated rm, rv in place
    return ref


def _bn_cumulative_samples(rng):
    """momentum=None: a cumulative average over the batches so far (the last argument)."""
    return [Sample((rand(rng, 4, 3, 2), rand(rng, 3), positive(rng, 3), rand(rng, 3), rand(rng, 3),
                    np.array(0)),),
            Sample((rand(rng, 5, 2), rand(rng, 2), positive(rng, 2), None, None, np.array(3))),
            Sample((rand(rng, 3, 2, 2, 2), rand(rng, 2), positive(rng, 2), None, None, np.array(7, "int32")))]


def _bn_cumulative(x, rm, rv, w, b, n):
    return nn.batch_norm(x, rm, rv, w, b, training=True, momentum=None, num_batches_tracked=n)


def _bn_cumulative_ref(x, rm, rv, w, b, n):
    """torch's BatchNorm with momentum=None weighs batch k by 1 / k."""
    rm, rv = rm.copy(), rv.copy()
    t = [None if a is None else torch.from_numpy(a) for a in (x, rm, rv, w, b)]
    y = F.batch_norm(*t, training=True, momentum=1.0 / (int(n) + 1)).numpy()
    return [y, rm, rv, n + 1]


def _ln_samples(rng):
    return [Sample((rand(rng, 3, 5), rand(rng, 5), rand(rng, 5)), {"normalized_shape": (5,)}),
            Sample((rand(rng, 2, 3, 4), rand(rng, 3, 4), rand(rng, 3, 4)), {"normalized_shape": (3, 4)}),
            Sample((rand(rng, 2, 4), None, None), {"normalized_shape": 4, "eps": 1e-3}),
            Sample((rand(rng, 6), rand(rng, 6), None), {"normalized_shape": (6,)})]


ROWS += [
    OpInfo("batch_norm", _bn(False), _bn_ref(False), _bn_eval_samples, second_order=True,
           errors=[ErrorCase((np.zeros((2, 3, 4)), np.zeros(4), np.ones(4), None, None), {}, ShapeError,
                             r"input \(2, 3, 4\) has 3 channels but running_mean has shape \(4,\)")]),
    OpInfo("batch_norm_train", _bn(True), _bn_ref(True), _bn_train_samples, second_order=True,
           errors=[ErrorCase((np.zeros((1, 3)), np.zeros(3), np.ones(3), None, None), {}, ShapeError,
                             r"more than one value per channel.*\(1, 3\)")]),
    OpInfo("batch_norm_cumulative", _bn_cumulative, _bn_cumulative_ref, _bn_cumulative_samples,
           errors=[ErrorCase((np.zeros((2, 3)), np.zeros(3), np.ones(3), None, None, np.zeros(2, "int64")), {},
                             DTypeError, "num_batches_tracked must be an integer scalar"),
                   ErrorCase((np.zeros((2, 3)), np.zeros(3), np.ones(3), None, None, None), {},
                             ValueError, "needs num_batches_tracked")]),
    OpInfo("layer_norm", lambda x, w, b, **kw: nn.layer_norm(x, weight=w, bias=b, **kw),
           _torch(lambda x, w, b, normalized_shape, **kw: F.layer_norm(
               x, (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape,
               w, b, **kw)),
           _ln_samples, second_order=True,
           errors=[ErrorCase((np.zeros((2, 3)), None, None), {"normalized_shape": (4,)}, ShapeError,
                             r"normalized_shape \(4,\).*input \(2, 3\)")]),
]


# ---- softmax and losses -----------------------------------------------------------------

def _softmax_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 2, 3, 4),), {"axis": 1}),
            Sample((rand(rng, 5) * 30,), {"axis": 0}),
            Sample((rand(rng, 3, 4, dtype="float32"),), {"axis": -2}, grad=False)]


def _ce_samples(rng):
    return [Sample((rand(rng, 5, 4) * 3, integers(rng, 0, 4, 5))),
            Sample((rand(rng, 2, 4, 3), integers(rng, 0, 4, 2, 3)), {"label_smoothing": 0.1}),
            Sample((rand(rng, 4), integers(rng, 0, 4)), {"reduction": "sum"}),
            Sample((rand(rng, 3, 5), integers(rng, 0, 5, 3, dtype="int32")),
                   {"reduction": "mean", "label_smoothing": 0.2}),
            Sample((rand(rng, 3, 4), np.abs(rand(rng, 3, 4))), {"label_smoothing": 0.1}),
            Sample((rand(rng, 3, 4, dtype="float32"), integers(rng, 0, 4, 3)), grad=False),
            # classes last (batch, time, classes), as Keras lays sequences out
            Sample((rand(rng, 2, 5, 3), integers(rng, 0, 3, 2, 5)), {"axis": -1, "reduction": "mean"}),
            Sample((rand(rng, 6, 4), np.array([0, 3, 3, 1, 3, 2])), {"ignore_index": 3, "reduction": "mean"}),
            Sample((rand(rng, 5, 3), integers(rng, 0, 3, 5)),
                   {"weight": np.array([0.5, 2.0, 1.5]), "reduction": "mean", "label_smoothing": 0.2}),
            Sample((rand(rng, 2, 4, 3), np.array([[1, 0, 2], [3, 3, 1]])),
                   {"weight": np.array([1.0, 0.2, 3.0, 0.7]), "ignore_index": 3})]


def _ce_ref(logits, labels, label_smoothing=0.0, reduction="none", axis=None, ignore_index=None,
            weight=None):
    t = torch.from_numpy(labels)
    t = t.long() if labels.dtype.kind in "iu" else t
    z = torch.from_numpy(logits)
    if axis is not None:
        z = z.movedim(axis, 1)
    return F.cross_entropy(z, t, label_smoothing=label_smoothing, reduction=reduction,
                           ignore_index=-100 if ignore_index is None else ignore_index,
                           weight=None if weight is None else torch.from_numpy(weight)).numpy()


def _bce_samples(rng):
    return [Sample((rand(rng, 3, 4) * 4, np.abs(rand(rng, 3, 4)))),
            Sample((rand(rng, 5) * 30, (rand(rng, 5) > 0).astype("float64")), {"reduction": "none"}),
            Sample((rand(rng, 2, 3), np.abs(rand(rng, 2, 3))),
                   {"reduction": "sum", "pos_weight": 2.5, "weight": 0.5})]


def _bce_ref(z, t, reduction="mean", weight=None, pos_weight=None):
    as_t = lambda v: None if v is None else torch.as_tensor(v, dtype=torch.float64)
    return F.binary_cross_entropy_with_logits(
        torch.from_numpy(z), torch.from_numpy(t), weight=as_t(weight), reduction=reduction,
        pos_weight=as_t(pos_weight)).numpy()


def _mse_samples(rng):
    return [Sample((rand(rng, 3, 4), rand(rng, 3, 4))),
            Sample((rand(rng, 5), rand(rng, 5)), {"reduction": "none"}),
            Sample((rand(rng, 2, 3), rand(rng, 2, 3)), {"reduction": "sum"})]


ROWS += [
    OpInfo("softmax", nn.softmax, _torch(lambda x, axis=-1: F.softmax(x, axis)), _softmax_samples,
           second_order=True),
    OpInfo("log_softmax", nn.log_softmax, _torch(lambda x, axis=-1: F.log_softmax(x, axis)),
           _softmax_samples, second_order=True),
    OpInfo("cross_entropy", nn.cross_entropy, _ce_ref, _ce_samples, second_order=True,
           errors=[ErrorCase((np.zeros((3, 4)), np.zeros(4, dtype="int64")), {}, ShapeError,
                             r"logits \(3, 4\).*labels of shape \(3,\), got labels \(4,\)"),
                   ErrorCase((np.zeros((3, 4)), np.zeros(3, dtype=bool)), {}, DTypeError, "bool")]),
    OpInfo("binary_cross_entropy_with_logits", nn.binary_cross_entropy_with_logits, _bce_ref,
           _bce_samples, second_order=True),
    OpInfo("mse", nn.mse, _torch(lambda p, t, reduction="mean": F.mse_loss(p, t, reduction=reduction)),
           _mse_samples, second_order=True),
]


# ---- embedding, attention, dropout ------------------------------------------------------

def _embedding_samples(rng):
    return [Sample((integers(rng, 0, 6, 2, 3), rand(rng, 6, 3))),
            # padding_idx withholds that row's gradient on purpose: not a derivative
            Sample((integers(rng, 0, 5, 7), rand(rng, 5, 2)), {"padding_idx": 1}, grad=False),
            Sample((integers(rng, 0, 4, 3, dtype="int32"), rand(rng, 4, 2)))]


def _embedding_ref(indices, weight, padding_idx=None):
    return F.embedding(torch.from_numpy(indices).long(), torch.from_numpy(weight)).numpy()


def _attention_samples(rng):
    return [Sample((rand(rng, 2, 3, 4), rand(rng, 2, 5, 4), rand(rng, 2, 5, 2))),
            Sample((rand(rng, 1, 2, 3, 2), rand(rng, 1, 2, 3, 2), rand(rng, 1, 2, 3, 3)),
                   {"is_causal": True}),
            Sample((rand(rng, 3, 2), rand(rng, 4, 2), rand(rng, 4, 2), np.array([True, False, True, False])),
                   {"scale": 0.7}),
            Sample((rand(rng, 3, 2), rand(rng, 4, 2), rand(rng, 4, 2), _bool_mask(rng, 3, 4))),
            Sample((rand(rng, 2, 3, 2), rand(rng, 2, 4, 2), rand(rng, 2, 4, 3), rand(rng, 3, 4)))]


def _bool_mask(rng, *shape):
    mask = rand(rng, *shape) > 0
    mask[..., 0] = True  # no fully masked row (torch and theon both give NaN there)
    return mask


def _attention_ref(q, k, v, mask=None, is_causal=False, scale=None):
    t = lambda a: None if a is None else torch.from_numpy(a)
    return F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(mask), is_causal=is_causal,
                                          scale=scale).numpy()


def _attention_op(q, k, v, mask=None, **kw):
    return nn.scaled_dot_product_attention(q, k, v, mask, **kw)


ROWS += [
    OpInfo("embedding", nn.embedding, _embedding_ref, _embedding_samples, second_order=True,
           errors=[ErrorCase((np.zeros(3), np.zeros((4, 2))), {}, DTypeError, "integers"),
                   ErrorCase((np.zeros(3, dtype="int64"), np.zeros(4)), {}, ShapeError,
                             r"\(num_embeddings, dim\), got \(4,\)")]),
    OpInfo("scaled_dot_product_attention", _attention_op, _attention_ref, _attention_samples,
           second_order=True,
           errors=[ErrorCase((np.zeros((2, 3, 4)), np.zeros((2, 5, 3)), np.zeros((2, 5, 2))), {},
                             ShapeError, r"q \(2, 3, 4\), k \(2, 5, 3\)")]),
    OpInfo("dropout_eval", lambda x: nn.dropout(x, 0.5, training=False), lambda x: x,
           lambda rng: [Sample((rand(rng, 3, 4),))]),
]
