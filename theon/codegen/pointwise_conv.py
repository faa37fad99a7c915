"""`GeneratedPointwiseConv`: ops/nn_conv_pointwise.py's `PointwiseConv` (a 1x1 convolution as
one matrix product, its activation in place) whose bias and activation are one generated
pass over the product instead of two ATen kernels. The formulate pass makes it (not users).

ATen's addmm adds a per-channel bias by first copying it, broadcast, into the whole output
(a strided copy, then the product with beta=1), and its hard-swish is a second pass: on
PP-OCR's batch-1 layers the two cost about as much as the product itself. Here the product
runs without the bias (torch.mm, or matmul over a batch) into a fresh contiguous output, then
a C++ loop adds each row's bias and applies the activation in place (ATen's expressions, so
values are those of the product plus the bias, rounded once, as addmm's).

On the CPU in float32, on an NCHW-contiguous input, the C++ is built in the background (kept
on disk) and then timed once against PointwiseConv's ATen calls on the node's own inputs
(timed.TimedChoice); until then, elsewhere, and with THEON_CODEGEN=off, those calls run.
The gradient is PointwiseConv's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .. import config
from ..ops.nn_conv_activation import ACTIVATIONS
from ..ops.nn_conv_pointwise import PointwiseConv
from . import timed

_NAME = "theon_bias_activation"
FUNCTION = "bias_activation"

SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>

// @SIGNATURE@
// y (rows, m) in place: row r plus b[r % channels] (when has_bias), then the activation
// (1: ReLU, 2: hard-swish), each as ATen writes it
at::Tensor bias_activation(at::Tensor y, at::Tensor b, bool has_bias, int64_t act, int64_t channels) {
  TORCH_CHECK(y.is_contiguous() && y.scalar_type() == at::kFloat && y.numel() % channels == 0,
              "bias_activation: a contiguous float32 output of whole channels");
  TORCH_CHECK(!has_bias || (b.is_contiguous() && b.scalar_type() == at::kFloat && b.numel() == channels),
              "bias_activation: a float32 bias per channel");
  const int64_t rows = y.numel() == 0 ? 0 : y.size(0) * (y.dim() == 3 ? y.size(1) : 1);
  const int64_t m = rows == 0 ? 0 : y.numel() / rows;
  TORCH_CHECK(rows % channels == 0, "bias_activation: rows of whole channels");
  float* yd = y.data_ptr<float>();
  const float* bd = has_bias ? b.data_ptr<float>() : nullptr;
  // a chunk of at least 16K values per thread: smaller ones cost more to hand out than to do
  at::parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(m, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* v = yd + r * m;
      if (bd) {
        const float bias = bd[r % channels];
        for (int64_t j = 0; j < m; ++j) v[j] += bias;
      }
      if (act == 1) {
        for (int64_t j = 0; j < m; ++j) v[j] = v[j] < 0.f ? 0.f : v[j];  // keeps NaN, as ATen
      } else if (act == 2) {
        for (int64_t j = 0; j < m; ++j)  // ATen's hardswish expression, in its order
          v[j] = v[j] * std::min(std::max(v[j] + 3.f, 0.f), 6.f) / 6.f;
      }
    }
  });
  return y;
}
"""


def cpp_source(signature: str = "") -> str:
    return SOURCE.replace("@SIGNATURE@", signature)


@dataclass(frozen=True)
class GeneratedPointwiseConv(PointwiseConv):
    """PointwiseConv whose bias and activation run as one generated pass (see the module)."""
    _choice: dict = field(default_factory=dict, init=False, compare=False, repr=False, hash=False)

    def kernel(self, x, w, b=None):
        fn = self._generated(x, w, b)
        return super().kernel(x, w, b) if fn is None else fn(x, w, b)

    def _generated(self, x, w, b):
        """The product and the built pass when they are ready and measured faster for this
        node, else None (also for a non-contiguous input: a channels-last one runs ATen's)."""
        if (config.CODEGEN == "off" or not x.is_cpu or x.dtype != torch.float32 or x.dim() != 4
                or not x.is_contiguous() or not timed.can_build()):
            return None
        # one op serves every node of its activation: the verdict is per input, weight and bias
        key = (tuple(x.shape), tuple(w.shape), b is None)
        return timed.generated(self._choice, key, lambda: timed.cpp_function(cpp_source(timed.cpu_signature()),
                                                                             _NAME, FUNCTION),
                               lambda fn: self._adapt(fn, key[0]), super().kernel, x, w, b)

    def _adapt(self, fn, shape):
        """The built pass after the bias-free product, taking what PointwiseConv's kernel does."""
        act = ACTIVATIONS.index(self.activation)
        n, c, h, wd = shape

        def run(x, w, b=None):
            co = w.shape[0]
            y = torch.mm(w, x.view(c, h * wd)) if n == 1 else torch.matmul(w, x.view(n, c, h * wd))
            fn(y, w if b is None else b, b is not None, act, co)
            return y.view(n, co, h, wd)
        return run
