"""C++ for a squeeze-and-excitation block (MobileNetV3's, PP-OCR's): each channel of x scaled
by clip(alpha * fc2(relu(fc1(mean over the plane))) + beta, 0, 1), the two fully connected
layers being 1x1 convolutions with biases. At batch 1 its eight ATen calls on vectors of a
few dozen values cost a few microseconds each, all dispatch: here one call, one pass over x
for the means and one for the scaled output. The means and products are summed in double,
so values are ATen's up to float32 rounding, over eight independent partial sums: one serial
chain of double adds waits each add's latency (the PP-OCR classifier's 200-channel block spent
40 of its 46 us there)."""
from __future__ import annotations

FUNCTION = "squeeze_excite"

SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <vector>

// sums in double over eight lanes the compiler keeps in vector registers: one serial chain
// would wait out each add's latency
static inline double lane_sum(const float* p, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += p[i + l];
  double tail = 0;
  for (; i < n; ++i) tail += p[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

static inline double lane_dot(const float* p, const double* v, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += static_cast<double>(p[i + l]) * v[i + l];
  double tail = 0;
  for (; i < n; ++i) tail += static_cast<double>(p[i]) * v[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// @SIGNATURE@
at::Tensor squeeze_excite(at::Tensor x, at::Tensor w1, at::Tensor b1, at::Tensor w2, at::Tensor b2,
                          double alpha, double beta) {
  // w1 (R, C[, 1, 1]) and w2 (C, R[, 1, 1]): the 1x1 convolutions' weights read as matrices
  TORCH_CHECK(x.dim() == 4 && w1.dim() >= 2 && w2.dim() >= 2 && w1.size(1) == x.size(1) &&
              w1.numel() == w1.size(0) * x.size(1) && w2.size(0) == x.size(1) && w2.size(1) == w1.size(0) &&
              w2.numel() == w2.size(0) * w1.size(0) && b1.numel() == w1.size(0) && b2.numel() == x.size(1),
              "squeeze_excite: shapes");
  TORCH_CHECK(x.scalar_type() == at::kFloat && w1.scalar_type() == at::kFloat && w2.scalar_type() == at::kFloat &&
              b1.scalar_type() == at::kFloat && b2.scalar_type() == at::kFloat, "squeeze_excite: float32 only");
  const int64_t N = x.size(0), C = x.size(1), R = w1.size(0), HW = x.size(2) * x.size(3);
  auto xc = x.contiguous();
  auto w1c = w1.contiguous(), b1c = b1.contiguous(), w2c = w2.contiguous(), b2c = b2.contiguous();
  auto y = at::empty({N, C, x.size(2), x.size(3)}, x.options());
  const float* xd = xc.data_ptr<float>();
  const float *w1d = w1c.data_ptr<float>(), *b1d = b1c.data_ptr<float>();
  const float *w2d = w2c.data_ptr<float>(), *b2d = b2c.data_ptr<float>();
  float* yd = y.data_ptr<float>();
  at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> mean(C), hidden(R);
    for (int64_t n = begin; n < end; ++n) {
      const float* xn = xd + n * C * HW;
      for (int64_t c = 0; c < C; ++c)
        mean[c] = static_cast<float>(lane_sum(xn + c * HW, HW) / HW);  // in float32, as ATen's
      for (int64_t r = 0; r < R; ++r) {
        const float h = static_cast<float>(b1d[r] + lane_dot(w1d + r * C, mean.data(), C));
        hidden[r] = h < 0.f ? 0.f : h;
      }
      for (int64_t c = 0; c < C; ++c) {
        const double s = b2d[c] + lane_dot(w2d + c * R, hidden.data(), R);
        const float scale = std::min(std::max(static_cast<float>(alpha) * static_cast<float>(s) +
                                              static_cast<float>(beta), 0.f), 1.f);
        const float* src = xn + c * HW;
        float* dst = yd + (n * C + c) * HW;
        for (int64_t i = 0; i < HW; ++i) dst[i] = src[i] * scale;
      }
    }
  });
  return y;
}
"""


def cpp_source(signature: str = "") -> str:
    return SOURCE.replace("@SIGNATURE@", signature)
