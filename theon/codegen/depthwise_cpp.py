"""C++ for a depthwise 2-D convolution (one input channel per output channel) with its bias
and an optional activation (ReLU or hard-swish) applied as each output row is written.

ATen's depthwise convolution on the CPU (oneDNN) costs 60-200 us a call on the small planes
of mobile networks at batch 1, whatever the arithmetic (a few microseconds): set-up, not
work. This loop has none: one (image, channel) plane at a time, its input rows copied once
into a zero-padded buffer, each output row accumulated over the taps in a row buffer that
the compiler vectorises along the width.

One build holds every kernel size and stride the rewrite sends here (KERNELS x STRIDES as
template instances: the taps unroll, the sizes of the plane are arguments), so a process
builds once whatever the shapes of its models: a per-shape source (as conv_pool_cpp.py)
would cost a build of tens of seconds per distinct layer. Values are ATen's up to float32
rounding (the taps are summed in another order).
"""
from __future__ import annotations

FUNCTION = "depthwise_conv"
KERNELS = (3, 5, 7)                           # square kernels instantiated
STRIDES = ((1, 1), (1, 2), (2, 1), (2, 2))    # (height, width) strides instantiated
ACTIVATIONS = ("", "relu", "hard_swish")      # the `act` argument: index into this tuple

_TEMPLATE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cstring>
#include <vector>

// @SIGNATURE@
namespace {

constexpr int64_t JB = 32;   // output columns a block keeps in registers (two AVX-512 vectors)

// the activation on n values of a finished block, written out
template <int64_t N>
inline void finish(const float* __restrict v, float* __restrict out, int64_t n, int act) {
  const int64_t m = N ? N : n;
  if (act == 1) {
    for (int64_t j = 0; j < m; ++j) out[j] = v[j] < 0.f ? 0.f : v[j];  // keeps NaN, as ATen
  } else if (act == 2) {
    for (int64_t j = 0; j < m; ++j)  // ATen's hardswish expression, in its order
      out[j] = v[j] * std::min(std::max(v[j] + 3.f, 0.f), 6.f) / 6.f;
  } else {
    for (int64_t j = 0; j < m; ++j) out[j] = v[j];
  }
}

// output columns [j0, j0 + n) of row i (n = N when N > 0): every tap accumulated in a
// block of registers, then the activation
template <int64_t K, int64_t SH, int64_t SW, int64_t N>
inline void block(const float* __restrict pad, const float* __restrict wc, float bias, float* __restrict out,
                  int64_t i, int64_t j0, int64_t n, int64_t H, int64_t WP, int64_t PH, int act) {
  const int64_t m = N ? N : n;
  float acc[JB];
  for (int64_t j = 0; j < m; ++j) acc[j] = bias;
  for (int64_t ki = 0; ki < K; ++ki) {
    const int64_t r = i * SH - PH + ki;
    if (r < 0 || r >= H) continue;            // a zero row of the padding
    const float* src = pad + r * WP + j0 * SW;
    for (int64_t kj = 0; kj < K; ++kj) {
      const float wv = wc[ki * K + kj];
      for (int64_t j = 0; j < m; ++j) acc[j] += wv * src[j * SW + kj];
    }
  }
  finish<N>(acc, out + j0, m, act);
}

template <int64_t K, int64_t SH, int64_t SW>
void planes(const float* __restrict x, const float* __restrict w, const float* __restrict b,
            float* __restrict y, int64_t C, int64_t H, int64_t W, int64_t PH, int64_t PW,
            int64_t HO, int64_t WO, int act, int64_t begin, int64_t end) {
  const int64_t WP = W + 2 * PW + JB * SW;   // room for a last block's reads past the edge
  std::vector<float> padded(H * WP, 0.f);    // the plane, zero columns either side
  float* __restrict pad = padded.data();
  for (int64_t p = begin; p < end; ++p) {
    const int64_t c = p % C;
    const float* xp = x + p * H * W;
    for (int64_t r = 0; r < H; ++r) std::memcpy(pad + r * WP + PW, xp + r * W, W * sizeof(float));
    const float* wc = w + c * K * K;
    const float bias = b[c];
    float* yp = y + p * HO * WO;
    for (int64_t i = 0; i < HO; ++i) {
      int64_t j0 = 0;
      for (; j0 + JB <= WO; j0 += JB) block<K, SH, SW, JB>(pad, wc, bias, yp + i * WO, i, j0, JB, H, WP, PH, act);
      if (j0 < WO) block<K, SH, SW, 0>(pad, wc, bias, yp + i * WO, i, j0, WO - j0, H, WP, PH, act);
    }
  }
}

using Planes = void (*)(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t,
                        int64_t, int64_t, int64_t, int64_t, int, int64_t, int64_t);

Planes pick(int64_t k, int64_t sh, int64_t sw) {
@DISPATCH@
  return nullptr;
}

}  // namespace

at::Tensor depthwise_conv(at::Tensor x, at::Tensor w, at::Tensor b, int64_t sh, int64_t sw,
                          int64_t ph, int64_t pw, int64_t act) {
  TORCH_CHECK(x.dim() == 4 && w.dim() == 4 && w.size(0) == x.size(1) && w.size(1) == 1 &&
              w.size(2) == w.size(3) && b.dim() == 1 && b.size(0) == x.size(1),
              "depthwise_conv: shapes");
  TORCH_CHECK(x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat &&
              b.scalar_type() == at::kFloat, "depthwise_conv: float32 only");
  Planes run = pick(w.size(2), sh, sw);
  TORCH_CHECK(run != nullptr, "depthwise_conv: no instance for this kernel size and stride");
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(2);
  const int64_t HO = (H + 2 * ph - K) / sh + 1, WO = (W + 2 * pw - K) / sw + 1;
  TORCH_CHECK(HO > 0 && WO > 0, "depthwise_conv: empty output");
  auto xc = x.contiguous();
  auto wc = w.contiguous();
  auto bc = b.contiguous();
  auto y = at::empty({N, C, HO, WO}, x.options());
  const float* xd = xc.data_ptr<float>();
  const float* wd = wc.data_ptr<float>();
  const float* bd = bc.data_ptr<float>();
  float* yd = y.data_ptr<float>();
  // tasks of at least ~32k multiply-adds: a small layer runs on one thread, without a fork
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, HO * WO * K * K));
  at::parallel_for(0, N * C, grain, [&](int64_t begin, int64_t end) {
    run(xd, wd, bd, yd, C, H, W, ph, pw, HO, WO, static_cast<int>(act), begin, end);
  });
  return y;
}
"""


def supported(kernel, stride) -> bool:
    """Whether the build has an instance for this (kh, kw) kernel and (sh, sw) stride."""
    return kernel[0] == kernel[1] and kernel[0] in KERNELS and tuple(stride) in STRIDES


def cpp_source(signature: str = "") -> str:
    """The extension's source; `signature` (a comment) names what else decides the binary,
    such as the CPU the code is tuned for."""
    dispatch = "\n".join(f"  if (k == {k} && sh == {sh} && sw == {sw}) return planes<{k}, {sh}, {sw}>;"
                         for k in KERNELS for sh, sw in STRIDES)
    return _TEMPLATE.replace("@DISPATCH@", dispatch).replace("@SIGNATURE@", signature)
