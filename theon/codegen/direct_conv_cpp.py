"""C++ for a 2-D convolution with few input channels per group (a depthwise convolution: one;
a first layer over an image: three) with its bias and an optional activation (ReLU or
hard-swish) applied as each output row is written.

ATen's convolution on the CPU (oneDNN) costs 30-200 us a call on such layers at batch 1
whatever the arithmetic (a few microseconds): set-up and layout reorders, not work. This loop
has none: one (image, output channel) plane at a time, the group's input planes copied once
into a zero-padded buffer (kept while the next output channel reads the same group), each
output row accumulated over input channels and taps in blocks of registers that the compiler
vectorises along the width.

One build holds every kernel size and stride the rewrite sends here (KERNELS x STRIDES as
template instances: the taps unroll, the sizes of the plane are arguments), so a process
builds once whatever the shapes of its models: a per-shape source (as conv_pool_cpp.py)
would cost a build of tens of seconds per distinct layer. Values are ATen's up to float32
rounding (the taps are summed in another order).
"""
from __future__ import annotations

FUNCTION = "direct_conv"
KERNELS = (3, 5, 7)                           # square kernels instantiated
STRIDES = ((1, 1), (1, 2), (2, 1), (2, 2))    # (height, width) strides instantiated
# the `act` argument: an index into ops/nn_conv_activation's ACTIVATIONS (the op's attribute)
MAX_GROUP_CHANNELS = 4                        # input channels per group the loop is for

_TEMPLATE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cstring>
#include <vector>

// @SIGNATURE@
namespace {

constexpr int64_t JB = 32;   // output columns a block keeps in registers (two AVX-512 vectors)

// the activation on the m values of a finished block, written out
inline void finish(const float* __restrict v, float* __restrict out, int64_t m, int act) {
  if (act == 1) {
    for (int64_t j = 0; j < m; ++j) out[j] = v[j] < 0.f ? 0.f : v[j];  // keeps NaN, as ATen
  } else if (act == 2) {
    for (int64_t j = 0; j < m; ++j)  // ATen's hardswish expression, in its order
      out[j] = v[j] * std::min(std::max(v[j] + 3.f, 0.f), 6.f) / 6.f;
  } else {
    for (int64_t j = 0; j < m; ++j) out[j] = v[j];
  }
}

struct Plane {          // the sizes of one call
  int64_t CI, H, W, WP, WPS, PH, PW, HO, WO;
};

// A padded input row is stored by phase of the width stride: padded column c at
// (c % SW) * WPS + c / SW, so the taps of a block read consecutive floats whatever the stride.

// output columns [j0, j0 + m) of row i (m = N when N > 0, a full block): every input channel
// and tap accumulated in registers, then the activation
// (CI = 0: the call's s.CI input channels; 1: a depthwise convolution, unrolled)
template <int64_t K, int64_t SH, int64_t SW, int64_t CI, int64_t N>
inline void block(const float* __restrict pad, const float* __restrict wo, float bias, float* __restrict out,
                  int64_t i, int64_t j0, int64_t n, const Plane& s, int act) {
  const int64_t m = N ? N : n, channels = CI ? CI : s.CI;
  float acc[JB];
  for (int64_t j = 0; j < m; ++j) acc[j] = bias;
  for (int64_t ci = 0; ci < channels; ++ci)
    for (int64_t ki = 0; ki < K; ++ki) {
      const int64_t r = i * SH - s.PH + ki;
      if (r < 0 || r >= s.H) continue;        // a zero row of the padding
      const float* row = pad + (ci * s.H + r) * s.WP + j0;
      const float* wr = wo + (ci * K + ki) * K;
      for (int64_t kj = 0; kj < K; ++kj) {
        const float wv = wr[kj];
        const float* src = row + (kj % SW) * s.WPS + kj / SW;
        for (int64_t j = 0; j < m; ++j) acc[j] += wv * src[j];
      }
    }
  finish(acc, out + j0, m, act);
}

// planes [begin, end) of the output, p = image * O + output channel
template <int64_t K, int64_t SH, int64_t SW, int64_t CI>
void planes(const float* __restrict x, const float* __restrict w, const float* __restrict b,
            float* __restrict y, int64_t C, int64_t O, int64_t G, const Plane& s, int act,
            int64_t begin, int64_t end) {
  std::vector<float> padded(s.CI * s.H * s.WP, 0.f);   // the group's planes, zero columns either side
  float* __restrict pad = padded.data();
  const int64_t per_group = O / G;
  int64_t loaded = -1;
  for (int64_t p = begin; p < end; ++p) {
    const int64_t n = p / O, o = p % O, g = o / per_group;
    const int64_t first = n * C + g * s.CI;   // the group's first input plane
    if (first != loaded) {
      for (int64_t ci = 0; ci < s.CI; ++ci)
        for (int64_t r = 0; r < s.H; ++r) {
          float* dst = pad + (ci * s.H + r) * s.WP;
          const float* src = x + ((first + ci) * s.H + r) * s.W;
          if (SW == 1) {
            std::memcpy(dst + s.PW, src, s.W * sizeof(float));
          } else {
            for (int64_t c = 0; c < s.W; ++c) dst[((c + s.PW) % SW) * s.WPS + (c + s.PW) / SW] = src[c];
          }
        }
      loaded = first;
    }
    const float* wo = w + o * s.CI * K * K;
    float* yp = y + p * s.HO * s.WO;
    for (int64_t i = 0; i < s.HO; ++i) {
      int64_t j0 = 0;
      for (; j0 + JB <= s.WO; j0 += JB) block<K, SH, SW, CI, JB>(pad, wo, b[o], yp + i * s.WO, i, j0, JB, s, act);
      if (j0 < s.WO) block<K, SH, SW, CI, 0>(pad, wo, b[o], yp + i * s.WO, i, j0, s.WO - j0, s, act);
    }
  }
}

using Planes = void (*)(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t,
                        const Plane&, int, int64_t, int64_t);

Planes pick(int64_t k, int64_t sh, int64_t sw, bool depthwise) {
@DISPATCH@
  return nullptr;
}

}  // namespace

at::Tensor direct_conv(at::Tensor x, at::Tensor w, at::Tensor b, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                       int64_t groups, int64_t act) {
  TORCH_CHECK(x.dim() == 4 && w.dim() == 4 && b.dim() == 1 && w.size(2) == w.size(3) && groups > 0 &&
              x.size(1) == w.size(1) * groups && w.size(0) % groups == 0 && b.size(0) == w.size(0),
              "direct_conv: shapes");
  TORCH_CHECK(x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat &&
              b.scalar_type() == at::kFloat, "direct_conv: float32 only");
  Planes run = pick(w.size(2), sh, sw, w.size(1) == 1);
  TORCH_CHECK(run != nullptr, "direct_conv: no instance for this kernel size and stride");
  const int64_t N = x.size(0), C = x.size(1), O = w.size(0), K = w.size(2);
  Plane s;
  s.CI = w.size(1);
  s.H = x.size(2);
  s.W = x.size(3);
  s.PH = ph;
  s.PW = pw;
  s.HO = (s.H + 2 * ph - K) / sh + 1;
  s.WO = (s.W + 2 * pw - K) / sw + 1;
  s.WPS = (s.W + 2 * pw) / sw + JB + K;     // a phase's width, with room for a last block's reads
  s.WP = s.WPS * sw;
  TORCH_CHECK(s.HO > 0 && s.WO > 0, "direct_conv: empty output");
  auto xc = x.contiguous();
  auto wc = w.contiguous();
  auto bc = b.contiguous();
  auto y = at::empty({N, O, s.HO, s.WO}, x.options());
  const float* xd = xc.data_ptr<float>();
  const float* wd = wc.data_ptr<float>();
  const float* bd = bc.data_ptr<float>();
  float* yd = y.data_ptr<float>();
  // tasks of at least ~32k multiply-adds: a small layer runs on one thread, without a fork
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, s.HO * s.WO * s.CI * K * K));
  at::parallel_for(0, N * O, grain, [&](int64_t begin, int64_t end) {
    run(xd, wd, bd, yd, C, O, groups, s, static_cast<int>(act), begin, end);
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
    dispatch = "\n".join(f"  if (k == {k} && sh == {sh} && sw == {sw}) return depthwise ? planes<{k}, {sh}, {sw}, 1>"
                         f" : planes<{k}, {sh}, {sw}, 0>;" for k in KERNELS for sh, sw in STRIDES)
    return _TEMPLATE.replace("@DISPATCH@", dispatch).replace("@SIGNATURE@", signature)
