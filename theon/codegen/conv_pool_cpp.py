"""C++ for relu(conv2d(x, w, b)) followed by a max pool over non-overlapping windows, in one
pass: each output plane is computed into a small buffer, rectified and pooled there, so the
full-size convolution output is never written to memory nor read back.

The source is generated for one shape (`cpp_source(spec)`): with every size a compile-time
constant the compiler unrolls the taps and vectorises the inner loops, which a source with
sizes as arguments measured 4-6x slower. One (image, output channel) plane at a time, each
output row accumulated over the input channels and taps, vectorised along its width: the
loop of a first layer over few input channels (LeNet's 1 -> 6 channels, where oneDNN runs
far below its peak). Over many input channels oneDNN wins, and a one-time measurement
(conv_pool.py) keeps the unfused kernels there.

Values are those of the unfused program up to float32 rounding (the sums run in another
order); the pooled argmax follows ATen's window scan exactly: row-major, a larger value or
a NaN takes the place, indices flat in the convolution output's plane.
"""
from __future__ import annotations

from .conv_pool_spec import BACKWARD, FUNCTION  # noqa: F401  (the names the template defines)

_TEMPLATE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <cmath>
#include <limits>

// @SIGNATURE@
namespace {

constexpr int64_t C = @C@, HP = @HP@, WP = @WP@, O = @O@, KH = @KH@, KW = @KW@;
constexpr int64_t HO = HP - KH + 1, WO = WP - KW + 1, PH = @PH@, PW = @PW@;
constexpr int64_t HQ = HO / PH, WQ = WO / PW, PLANE = HQ * WQ, IMAGE = C * HP * WP;

inline float rectify(float v) { return v < 0.f ? 0.f : v; }  // keeps NaN, as oneDNN's ReLU

inline void take(float v, int64_t at, float& best, int64_t& where) {
  if (v > best || std::isnan(v)) { best = v; where = at; }  // ATen's max-pool scan
}

// one (image, output channel) plane; each output row vectorises along its width
void plane_rows(const float* __restrict xp, const float* __restrict w, float bias,
                float* __restrict out, int64_t* __restrict idx) {
  float acc[HQ * PH][WO];
  for (int64_t i = 0; i < HQ * PH; ++i) {
    float row[WO];
    for (int64_t j = 0; j < WO; ++j) row[j] = bias;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ki = 0; ki < KH; ++ki) {
        const float* src = xp + (c * HP + i + ki) * WP;
        const float* wr = w + (c * KH + ki) * KW;
        for (int64_t kj = 0; kj < KW; ++kj) {
          const float wv = wr[kj];
          for (int64_t j = 0; j < WO; ++j) row[j] += wv * src[j + kj];
        }
      }
    for (int64_t j = 0; j < WO; ++j) acc[i][j] = row[j];
  }
  for (int64_t q = 0; q < HQ; ++q)
    for (int64_t r = 0; r < WQ; ++r) {
      float best = -std::numeric_limits<float>::infinity();
      int64_t where = q * PH * WO + r * PW;
      for (int64_t di = 0; di < PH; ++di)
        for (int64_t dj = 0; dj < PW; ++dj)
          take(rectify(acc[q * PH + di][r * PW + dj]), (q * PH + di) * WO + r * PW + dj, best, where);
      out[q * WQ + r] = best;
      if (idx) idx[q * WQ + r] = where;
    }
}

}  // namespace

std::vector<at::Tensor> conv_relu_pool(at::Tensor x, at::Tensor w, at::Tensor b, bool want_indices) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == C && x.size(2) + 2 * @PADH@ == HP &&
              x.size(3) + 2 * @PADW@ == WP, "conv_relu_pool: x of another shape than the kernel's");
  TORCH_CHECK(w.dim() == 4 && w.size(0) == O && w.size(1) == C && w.size(2) == KH && w.size(3) == KW &&
              b.dim() == 1 && b.size(0) == O, "conv_relu_pool: w or b of another shape than the kernel's");
  TORCH_CHECK(x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat &&
              b.scalar_type() == at::kFloat, "conv_relu_pool: float32 tensors");
  auto xp = at::constant_pad_nd(x, {@PADW@, @PADW@, @PADH@, @PADH@}, 0).contiguous();
  auto bc = b.contiguous();
  const int64_t n_images = x.size(0);
  auto out = at::empty({n_images, O, HQ, WQ}, x.options());
  auto idx = want_indices ? at::empty({n_images, O, HQ, WQ}, x.options().dtype(at::kLong)) : at::Tensor();
  const float* xd = xp.data_ptr<float>();
  const float* bd = bc.data_ptr<float>();
  float* od = out.data_ptr<float>();
  int64_t* id = want_indices ? idx.data_ptr<int64_t>() : nullptr;
  auto wc = w.contiguous();
  const float* wd = wc.data_ptr<float>();
  at::parallel_for(0, n_images * O, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p)
      plane_rows(xd + (p / O) * IMAGE, wd + (p % O) * C * KH * KW, bd[p % O], od + p * PLANE,
                 id ? id + p * PLANE : nullptr);
  });
  return {out, idx};
}

// The weight and bias gradients from the pooled gradient: each window's g (where the
// ReLU passed it: pooled > 0 or NaN, as threshold_backward) times the input patch under its
// argmax, summed in double over images and windows. One task per output channel.
std::vector<at::Tensor> conv_relu_pool_backward(at::Tensor g, at::Tensor pooled, at::Tensor idx,
                                                at::Tensor x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == C && x.size(2) + 2 * @PADH@ == HP &&
              x.size(3) + 2 * @PADW@ == WP, "conv_relu_pool_backward: x of another shape than the kernel's");
  const int64_t n_images = x.size(0);
  TORCH_CHECK(g.dim() == 4 && g.size(0) == n_images && g.size(1) == O && g.size(2) == HQ && g.size(3) == WQ &&
              pooled.sizes() == g.sizes() && idx.sizes() == g.sizes(), "conv_relu_pool_backward: shapes");
  TORCH_CHECK(idx.scalar_type() == at::kLong && g.scalar_type() == at::kFloat &&
              pooled.scalar_type() == at::kFloat && x.scalar_type() == at::kFloat, "conv_relu_pool_backward: dtypes");
  auto xp = at::constant_pad_nd(x, {@PADW@, @PADW@, @PADH@, @PADH@}, 0).contiguous();
  auto gc = g.contiguous();
  auto pc = pooled.contiguous();
  auto ic = idx.contiguous();
  auto gw = at::empty({O, C, KH, KW}, x.options());
  auto gb = at::empty({O}, x.options());
  const float* xd = xp.data_ptr<float>();
  const float* gd = gc.data_ptr<float>();
  const float* pd = pc.data_ptr<float>();
  const int64_t* id = ic.data_ptr<int64_t>();
  float* gwd = gw.data_ptr<float>();
  float* gbd = gb.data_ptr<float>();
  at::parallel_for(0, O, 1, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      double acc[C * KH * KW] = {};
      double bias = 0;
      for (int64_t n = 0; n < n_images; ++n) {
        const int64_t plane = (n * O + o) * PLANE;
        const float* img = xd + n * IMAGE;
        for (int64_t q = 0; q < PLANE; ++q) {
          if (pd[plane + q] <= 0.f) continue;
          const double gv = gd[plane + q];
          const int64_t at = id[plane + q], i = at / WO, j = at % WO;
          bias += gv;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t ki = 0; ki < KH; ++ki) {
              const float* src = img + (c * HP + i + ki) * WP + j;
              double* a = acc + (c * KH + ki) * KW;
              for (int64_t kj = 0; kj < KW; ++kj) a[kj] += gv * src[kj];
            }
        }
      }
      for (int64_t k = 0; k < C * KH * KW; ++k) gwd[o * C * KH * KW + k] = static_cast<float>(acc[k]);
      gbd[o] = static_cast<float>(bias);
    }
  });
  return {gw, gb};
}
"""


def cpp_source(spec, signature: str = "") -> str:
    """The C++ for one ConvPoolSpec; `signature` (a comment) names what else decides the
    binary, such as the CPU the code is tuned for."""
    values = {"C": spec.channels, "HP": spec.height + 2 * spec.padding[0],
              "WP": spec.width + 2 * spec.padding[1], "O": spec.out_channels, "KH": spec.kernel[0],
              "KW": spec.kernel[1], "PH": spec.pool[0], "PW": spec.pool[1], "PADH": spec.padding[0],
              "PADW": spec.padding[1], "SIGNATURE": signature}
    source = _TEMPLATE
    for key, value in values.items():
        source = source.replace(f"@{key}@", str(value))
    return source
