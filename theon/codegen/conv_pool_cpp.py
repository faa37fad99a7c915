"""C++ for relu(conv2d(x, w, b)) followed by a max pool over non-overlapping windows, in one
pass: the convolution rows of one pool row are accumulated in registers, rectified and
pooled, so the full-size convolution output is never written to memory nor read back.

The source is generated for one shape and one CPU (`cpp_source(spec, ...)`): with every
size a compile-time constant the compiler unrolls the taps and keeps the accumulators in
vector registers, which a source with sizes as arguments measured 4-6x slower. The
schedule is register-blocked: a block of output channels times the pool's rows times the
vectors of a row (GCC vector types of the CPU's width, so the same source builds for
AVX-512, AVX2 or NEON) is accumulated at once, so each input vector loaded feeds one FMA
per accumulator of its row. One image per task.

Values are those of the unfused program up to float32 rounding (the sums run in another
order); the pooled argmax follows ATen's window scan exactly: row-major, a larger value or
a NaN takes the place, indices flat in the convolution output's plane.
"""
from __future__ import annotations

from .conv_pool_spec import BACKWARD, FUNCTION  # noqa: F401  (the names the template defines)

_TEMPLATE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

// @SIGNATURE@
namespace {

constexpr int64_t C = @C@, HP = @HP@, WP = @WP@, O = @O@, KH = @KH@, KW = @KW@;
constexpr int64_t HO = HP - KH + 1, WO = WP - KW + 1, PH = @PH@, PW = @PW@;
constexpr int64_t HQ = HO / PH, WQ = WO / PW, PLANE = HQ * WQ, IMAGE = C * HP * WP;
// register blocking: OB output channels x PH rows x NVC vectors of L lanes per accumulator
// block, NCH column chunks of NVC vectors cover a row (the lanes past WO are never read)
constexpr int64_t L = @L@, NVC = @NVC@, NCH = @NCH@, OB = @OB@, ROW = NCH * NVC * L;
// the weight gradient's chunks: NVB vectors, NCHB of them per row (ROWB floats)
constexpr int64_t NVB = @NVB@, NCHB = @NCHB@, ROWB = NCHB * NVB * L;
constexpr int64_t SLACK = (ROW > ROWB ? ROW : ROWB) + KW;   // floats past the padded input
                                                            // the last rows' vectors may load

typedef float vec __attribute__((vector_size(L * sizeof(float))));

inline vec loadu(const float* p) { vec v; __builtin_memcpy(&v, p, sizeof v); return v; }
inline void storeu(float* p, vec v) { __builtin_memcpy(p, &v, sizeof v); }
inline float rectify(float v) { return v < 0.f ? 0.f : v; }  // keeps NaN, as oneDNN's ReLU

inline void take(float v, int64_t at, float& best, int64_t& where) {
  if (v > best || std::isnan(v)) { best = v; where = at; }  // ATen's max-pool scan
}

// the PH convolution rows of pool row q for output channels o0 .. o0 + OB - 1 of one image
void block_rows(const float* __restrict img, const float* __restrict w, const float* __restrict b,
                int64_t o0, int64_t q, float (*__restrict rows)[PH][ROW]) {
  for (int64_t ch = 0; ch < NCH; ++ch) {
    vec acc[OB][PH][NVC];
#pragma GCC unroll 64
    for (int64_t o = 0; o < OB; ++o)
#pragma GCC unroll 64
      for (int64_t di = 0; di < PH; ++di)
#pragma GCC unroll 64
        for (int64_t v = 0; v < NVC; ++v) acc[o][di][v] = vec{} + b[o0 + o];
    for (int64_t c = 0; c < C; ++c) {
      const float* wc = w + (o0 * C + c) * KH * KW;
#pragma GCC unroll 64
      for (int64_t r = 0; r < PH + KH - 1; ++r) {
        const float* src = img + (c * HP + q * PH + r) * WP + ch * NVC * L;
#pragma GCC unroll 64
        for (int64_t kj = 0; kj < KW; ++kj) {
          vec s[NVC];
#pragma GCC unroll 64
          for (int64_t v = 0; v < NVC; ++v) s[v] = loadu(src + kj + v * L);
#pragma GCC unroll 64
          for (int64_t di = 0; di < PH; ++di) {
            const int64_t ki = r - di;
            if (ki < 0 || ki >= KH) continue;
#pragma GCC unroll 64
            for (int64_t o = 0; o < OB; ++o) {
              const float wv = wc[o * C * KH * KW + ki * KW + kj];
#pragma GCC unroll 64
              for (int64_t v = 0; v < NVC; ++v) acc[o][di][v] += s[v] * wv;
            }
          }
        }
      }
    }
#pragma GCC unroll 64
    for (int64_t o = 0; o < OB; ++o)
#pragma GCC unroll 64
      for (int64_t di = 0; di < PH; ++di)
#pragma GCC unroll 64
        for (int64_t v = 0; v < NVC; ++v) storeu(&rows[o][di][(ch * NVC + v) * L], acc[o][di][v]);
  }
}

// one image: every pool row, every block of output channels
void image(const float* img, const float* w, const float* b, float* out, int64_t* idx) {
  float rows[OB][PH][ROW];
  for (int64_t q = 0; q < HQ; ++q)
    for (int64_t o0 = 0; o0 < O; o0 += OB) {
      block_rows(img, w, b, o0, q, rows);
      for (int64_t o = 0; o < OB; ++o) {
        float* po = out + (o0 + o) * PLANE + q * WQ;
        if (idx) {
          int64_t* pi = idx + (o0 + o) * PLANE + q * WQ;
          for (int64_t r = 0; r < WQ; ++r) {
            float best = -std::numeric_limits<float>::infinity();
            int64_t where = q * PH * WO + r * PW;
            for (int64_t di = 0; di < PH; ++di)
              for (int64_t dj = 0; dj < PW; ++dj)
                take(rectify(rows[o][di][r * PW + dj]), (q * PH + di) * WO + r * PW + dj, best, where);
            po[r] = best;
            pi[r] = where;
          }
        } else {
          for (int64_t r = 0; r < WQ; ++r) {
            float best = -std::numeric_limits<float>::infinity();
            for (int64_t di = 0; di < PH; ++di)
              for (int64_t dj = 0; dj < PW; ++dj) {
                const float v = rectify(rows[o][di][r * PW + dj]);
                best = (v > best || std::isnan(v)) ? v : best;
              }
            po[r] = best;
          }
        }
      }
    }
}

// the zero-padded input with SLACK floats after it (the vector loads of the last rows)
at::Tensor padded(const at::Tensor& x) {
  const int64_t n_images = x.size(0);
  auto buffer = at::zeros({n_images * IMAGE + SLACK}, x.options());
  buffer.narrow(0, 0, n_images * IMAGE).view({n_images, C, HP, WP})
      .narrow(2, @PADH@, HP - 2 * @PADH@).narrow(3, @PADW@, WP - 2 * @PADW@).copy_(x);
  return buffer;
}

}  // namespace

std::vector<at::Tensor> conv_relu_pool(at::Tensor x, at::Tensor w, at::Tensor b, bool want_indices) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == C && x.size(2) + 2 * @PADH@ == HP &&
              x.size(3) + 2 * @PADW@ == WP, "conv_relu_pool: x of another shape than the kernel's");
  TORCH_CHECK(w.dim() == 4 && w.size(0) == O && w.size(1) == C && w.size(2) == KH && w.size(3) == KW &&
              b.dim() == 1 && b.size(0) == O, "conv_relu_pool: w or b of another shape than the kernel's");
  TORCH_CHECK(x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat &&
              b.scalar_type() == at::kFloat, "conv_relu_pool: float32 tensors");
  const int64_t n_images = x.size(0);
  auto buffer = padded(x);
  auto bc = b.contiguous();
  auto wc = w.contiguous();
  auto out = at::empty({n_images, O, HQ, WQ}, x.options());
  auto idx = want_indices ? at::empty({n_images, O, HQ, WQ}, x.options().dtype(at::kLong)) : at::Tensor();
  const float* xd = buffer.data_ptr<float>();
  const float* bd = bc.data_ptr<float>();
  const float* wd = wc.data_ptr<float>();
  float* od = out.data_ptr<float>();
  int64_t* id = want_indices ? idx.data_ptr<int64_t>() : nullptr;
  at::parallel_for(0, n_images, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n)
      image(xd + n * IMAGE, wd, bd, od + n * O * PLANE, id ? id + n * O * PLANE : nullptr);
  });
  return {out, idx};
}

// The weight and bias gradients from the pooled gradient. One task per output channel;
// per image, the window gradients where the ReLU passed them (pooled > 0 or NaN, as
// threshold_backward) are scattered to their argmax in a zeroed plane, which is then
// correlated with the input, a tap row (KW taps) at a time over NVB-vector chunks of the
// rows. Sums are float vectors over one image, then double over images.
std::vector<at::Tensor> conv_relu_pool_backward(at::Tensor g, at::Tensor pooled, at::Tensor idx,
                                                at::Tensor x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == C && x.size(2) + 2 * @PADH@ == HP &&
              x.size(3) + 2 * @PADW@ == WP, "conv_relu_pool_backward: x of another shape than the kernel's");
  const int64_t n_images = x.size(0);
  TORCH_CHECK(g.dim() == 4 && g.size(0) == n_images && g.size(1) == O && g.size(2) == HQ && g.size(3) == WQ &&
              pooled.sizes() == g.sizes() && idx.sizes() == g.sizes(), "conv_relu_pool_backward: shapes");
  TORCH_CHECK(idx.scalar_type() == at::kLong && g.scalar_type() == at::kFloat &&
              pooled.scalar_type() == at::kFloat && x.scalar_type() == at::kFloat, "conv_relu_pool_backward: dtypes");
  auto buffer = padded(x);
  auto gc = g.contiguous();
  auto pc = pooled.contiguous();
  auto ic = idx.contiguous();
  auto gw = at::empty({O, C, KH, KW}, x.options());
  auto gb = at::empty({O}, x.options());
  const float* xd = buffer.data_ptr<float>();
  const float* gd = gc.data_ptr<float>();
  const float* pd = pc.data_ptr<float>();
  const int64_t* id = ic.data_ptr<int64_t>();
  float* gwd = gw.data_ptr<float>();
  float* gbd = gb.data_ptr<float>();
  std::atomic<bool> bad_index{false};
  at::parallel_for(0, O, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> plane_buffer(HQ * PH * ROWB);
    float* gy = plane_buffer.data();
    for (int64_t o = begin; o < end; ++o) {
      double acc[C * KH * KW] = {};
      double bias = 0;
      for (int64_t n = 0; n < n_images; ++n) {
        const int64_t plane = (n * O + o) * PLANE;
        std::fill(gy, gy + HQ * PH * ROWB, 0.f);
        for (int64_t q = 0; q < PLANE; ++q) {
          if (pd[plane + q] <= 0.f) continue;
          const int64_t at = id[plane + q], i = at / WO, j = at % WO;
          if (at < 0 || i >= HQ * PH) { bad_index = true; continue; }
          gy[i * ROWB + j] = gd[plane + q];
          bias += gd[plane + q];
        }
        const float* img = xd + n * IMAGE;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t ki = 0; ki < KH; ++ki) {
            vec total[KW] = {};
            for (int64_t ch = 0; ch < NCHB; ++ch) {
              vec a[KW][NVB] = {};
              for (int64_t i = 0; i < HQ * PH; ++i) {
                const float* gr = gy + i * ROWB + ch * NVB * L;
                const float* src = img + (c * HP + i + ki) * WP + ch * NVB * L;
                vec gv[NVB];
#pragma GCC unroll 64
                for (int64_t v = 0; v < NVB; ++v) gv[v] = loadu(gr + v * L);
#pragma GCC unroll 64
                for (int64_t kj = 0; kj < KW; ++kj)
#pragma GCC unroll 64
                  for (int64_t v = 0; v < NVB; ++v) a[kj][v] += gv[v] * loadu(src + kj + v * L);
              }
#pragma GCC unroll 64
              for (int64_t kj = 0; kj < KW; ++kj)
#pragma GCC unroll 64
                for (int64_t v = 0; v < NVB; ++v) total[kj] += a[kj][v];
            }
            for (int64_t kj = 0; kj < KW; ++kj) {
              double sum = 0;
              for (int64_t l = 0; l < L; ++l) sum += total[kj][l];
              acc[(c * KH + ki) * KW + kj] += sum;
            }
          }
      }
      for (int64_t k = 0; k < C * KH * KW; ++k) gwd[o * C * KH * KW + k] = static_cast<float>(acc[k]);
      gbd[o] = static_cast<float>(bias);
    }
  });
  TORCH_CHECK(!bad_index, "conv_relu_pool_backward: an argmax index outside the pooled windows");
  return {gw, gb};
}
"""


def blocking(spec, lanes: int, registers: int) -> dict:
    """The register blocking for a CPU with `registers` vector registers of `lanes` floats:
    NVC vectors of a row per accumulator block (NCH such column chunks cover the row) and OB
    output channels (a divisor of the channel count), so that OB x pool rows x NVC
    accumulators and a row's input vectors fit in the registers; for the weight gradient,
    NVB vectors per chunk (NCHB chunks), so that a tap row's KW x NVB accumulators do."""
    width = spec.width + 2 * spec.padding[1] - spec.kernel[1] + 1
    vectors = -(-width // lanes)
    rows = spec.pool[0]
    budget = max(registers - min(vectors, 4), rows)
    nvc = max(1, min(vectors, budget // rows))
    ob = max(d for d in range(1, spec.out_channels + 1)
             if spec.out_channels % d == 0 and (d == 1 or d * rows * nvc <= budget))
    # the weight gradient accumulates a tap row: KW x NVB accumulators and NVB gradient vectors
    nvb = max(1, min(vectors, (registers - 2) // (spec.kernel[1] + 1)))
    return {"L": lanes, "NVC": nvc, "NCH": -(-vectors // nvc), "OB": ob, "NVB": nvb, "NCHB": -(-vectors // nvb)}


def cpp_source(spec, signature: str = "", lanes: int = 8, registers: int = 14) -> str:
    """The C++ for one ConvPoolSpec, blocked for `registers` vector registers of `lanes`
    floats; `signature` (a comment) names what else decides the binary, such as the CPU the
    code is tuned for."""
    values = {"C": spec.channels, "HP": spec.height + 2 * spec.padding[0],
              "WP": spec.width + 2 * spec.padding[1], "O": spec.out_channels, "KH": spec.kernel[0],
              "KW": spec.kernel[1], "PH": spec.pool[0], "PW": spec.pool[1], "PADH": spec.padding[0],
              "PADW": spec.padding[1], "SIGNATURE": signature, **blocking(spec, lanes, registers)}
    source = _TEMPLATE
    for key, value in values.items():
        source = source.replace(f"@{key}@", str(value))
    return source
