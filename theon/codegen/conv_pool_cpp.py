"""C++ for relu(conv2d(x, w, b)) followed by a max pool over non-overlapping windows, in one
pass: the convolution rows of one pool row are accumulated in registers, rectified and
pooled, so the full-size convolution output is never written to memory nor read back.

The source is generated for one shape and one CPU (`cpp_source(spec, ...)`): with every
size a compile-time constant the compiler unrolls the taps and keeps the accumulators in
vector registers, which a source with sizes as arguments measured 4-6x slower. The
schedule is register-blocked: a block of output channels times the pool's rows times the
vectors of a row (GCC vector types of the CPU's width, so the same source builds for
AVX-512, AVX2 or NEON) is accumulated at once, so each input vector loaded feeds one FMA
per accumulator of its row. Where the output channels fill whole vectors (LeNet's second
layer: 16), the forward instead puts them along the lanes: a tile of output positions is
accumulated from one weight vector per tap and broadcast inputs, and the pool and its
argmax run lane-wise in the registers. One image per task.

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
#include <vector>

// @SIGNATURE@
namespace {

constexpr int64_t C = @C@, HP = @HP@, WP = @WP@, O = @O@, KH = @KH@, KW = @KW@;
constexpr int64_t HO = HP - KH + 1, WO = WP - KW + 1, PH = @PH@, PW = @PW@;
constexpr int64_t HQ = HO / PH, WQ = WO / PW, PLANE = HQ * WQ, IMAGE = C * HP * WP;
// register blocking: OB output channels x PH rows x NVC vectors of L lanes per accumulator
// block, NCH column chunks of NVC vectors cover a row (the lanes past WO are never read)
constexpr int64_t L = @L@, NVC = @NVC@, NCH = @NCH@, OB = @OB@, ROW = NCH * NVC * L;
// the weight gradient's chunks: NVB vectors, NCHB of them per row (ROWB floats); the input
// gradient's: NVXC vectors, NCHX of them per input row, CB input channels at once
constexpr int64_t NVB = @NVB@, NCHB = @NCHB@, ROWB = NCHB * NVB * L, OBW = @OBW@;
constexpr int64_t NVXC = @NVXC@, NCHX = @NCHX@, CB = @CB@;
// the forward's schedule: output channels along the lanes in tiles of TW columns, or rows
constexpr bool CHANNELS = @CHANNELS@;
constexpr int64_t TW = @TW@;
constexpr int64_t SLACK = (ROW > ROWB ? ROW : ROWB) + KW;   // floats past the padded input
                                                            // the last rows' vectors may load

typedef float vec __attribute__((vector_size(L * sizeof(float))));

typedef int32_t ivec __attribute__((vector_size(L * sizeof(int32_t))));

inline vec loadu(const float* p) { vec v; __builtin_memcpy(&v, p, sizeof v); return v; }
inline void storeu(float* p, vec v) { __builtin_memcpy(p, &v, sizeof v); }
inline vec take_max(vec v, vec best) { return ((v > best) | (v != v)) ? v : best; }  // NaN wins

// Pools 2 wide are finished in vectors: the even and odd columns of two vectors of a row by
// lane shuffles (GCC 12 and clang have __builtin_shufflevector); others by a scalar scan.
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define THEON_SHUFFLES 1
#else
#define THEON_SHUFFLES 0
#endif
constexpr bool PAIRS = THEON_SHUFFLES && PW == 2;
constexpr int64_t ROW2 = (ROW + 2 * L - 1) / (2 * L) * (2 * L);   // a row in whole vector pairs
typedef int64_t lvec __attribute__((vector_size(L * sizeof(int64_t))));

// How a block's rows leave the registers: the pool's rows reduced (VALUES: each column's
// max, rectified, NaN kept: max(0, window) is relu(max(window)); WINNERS: that and the
// window row it came from, by ATen's scan down the column, a larger value or a NaN taking
// the place), or every row stored whole (ROWS: the argmax by a scalar scan of the window)
enum Keep { VALUES, WINNERS, ROWS };

// the PH convolution rows of pool row q for output channels o0 .. o0 + OB - 1 of one image,
// accumulated in registers, then kept as KEEP says in line / from / rows
template <Keep KEEP>
void block_rows(const float* __restrict img, const float* __restrict w, const float* __restrict b,
                int64_t o0, int64_t q, float (*__restrict line)[ROW2], int32_t (*__restrict from)[ROW2],
                float (*__restrict rows)[PH][ROW]) {
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
      for (int64_t v = 0; v < NVC; ++v) {
        const int64_t at = (ch * NVC + v) * L;
        if constexpr (KEEP == ROWS) {
#pragma GCC unroll 64
          for (int64_t di = 0; di < PH; ++di) storeu(&rows[o][di][at], acc[o][di][v]);
        } else if constexpr (KEEP == WINNERS) {
          vec best = acc[o][0][v];
          best = (best < 0.f) ? vec{} : best;               // rectify, keeping NaN
          ivec row = ivec{};
#pragma GCC unroll 64
          for (int64_t di = 1; di < PH; ++di) {
            vec a = acc[o][di][v];
            a = (a < 0.f) ? vec{} : a;
            const ivec t = (a > best) | (a != a);
            best = t ? a : best;
            row = t ? (ivec{} + int32_t(di)) : row;
          }
          storeu(&line[o][at], best);
          __builtin_memcpy(&from[o][at], &row, sizeof row);
        } else {
          vec best = vec{};
#pragma GCC unroll 64
          for (int64_t di = 0; di < PH; ++di) best = take_max(acc[o][di][v], best);
          storeu(&line[o][at], best);
        }
      }
  }
}

inline float rectify(float v) { return v < 0.f ? 0.f : v; }  // keeps NaN, as oneDNN's ReLU

inline void take(float v, int64_t at, float& best, int64_t& where) {
  if (v > best || std::isnan(v)) { best = v; where = at; }  // ATen's max-pool scan
}

#if THEON_SHUFFLES
// pool row q's outputs k * L .. k * L + n - 1 of one channel from its reduced line (and the
// rows the values came from): of each pair of columns, the one ATen's row-major scan of the
// window keeps: among NaNs the last scanned, else the larger value and, of equals, the first
template <bool INDICES>
inline void pairs(const float* __restrict lo, const int32_t* __restrict ro, int64_t q, int64_t k, int64_t n,
                  float* __restrict po, int64_t* __restrict pi) {
  const vec a = loadu(lo + 2 * k * L), c = loadu(lo + 2 * k * L + L);
  const vec even = __builtin_shufflevector(a, c, @EVEN@), odd = __builtin_shufflevector(a, c, @ODD@);
  if constexpr (INDICES) {
    ivec ra, rc;
    __builtin_memcpy(&ra, ro + 2 * k * L, sizeof ra);
    __builtin_memcpy(&rc, ro + 2 * k * L + L, sizeof rc);
    const ivec re = __builtin_shufflevector(ra, rc, @EVEN@) * 2, rd = __builtin_shufflevector(ra, rc, @ODD@) * 2 + 1;
    const ivec ne = even != even, nd = odd != odd;
    const ivec t = (nd & (~ne | (rd > re))) | (~nd & ~ne & ((odd > even) | ((odd == even) & (rd < re))));
    const vec best = t ? odd : even;
    const ivec rank = t ? rd : re;                               // window row * 2 + column
    const ivec lanes = {@LANES@};
    const ivec at = ((rank >> 1) + int32_t(q * PH)) * int32_t(WO) + (lanes + int32_t(k * L)) * 2 + (rank & 1);
    const lvec wide = __builtin_convertvector(at, lvec);
    __builtin_memcpy(po + k * L, &best, n * sizeof(float));
    __builtin_memcpy(pi + k * L, &wide, n * sizeof(int64_t));
  } else {
    const vec best = take_max(odd, even);
    __builtin_memcpy(po + k * L, &best, n * sizeof(float));
  }
}
#endif

// one image: every pool row, every block of output channels
void image(const float* img, const float* w, const float* b, float* out, int64_t* idx) {
  float line[OB][ROW2] = {};          // the lanes past the row stay defined (never stored)
  int32_t from[OB][ROW2] = {};
  float rows[OB][PH][ROW];
  for (int64_t q = 0; q < HQ; ++q)
    for (int64_t o0 = 0; o0 < O; o0 += OB) {
      if (!idx) block_rows<VALUES>(img, w, b, o0, q, line, from, rows);
      else if (PAIRS) block_rows<WINNERS>(img, w, b, o0, q, line, from, rows);
      else block_rows<ROWS>(img, w, b, o0, q, line, from, rows);
      for (int64_t o = 0; o < OB; ++o) {
        float* po = out + (o0 + o) * PLANE + q * WQ;
        int64_t* pi = idx ? idx + (o0 + o) * PLANE + q * WQ : nullptr;
        if constexpr (PAIRS) {
#if THEON_SHUFFLES
          for (int64_t k = 0; k * L < WQ; ++k) {
            const int64_t n = std::min<int64_t>(L, WQ - k * L);
            if (idx) pairs<true>(line[o], from[o], q, k, n, po, pi);
            else pairs<false>(line[o], from[o], q, k, n, po, pi);
          }
#endif
        } else if (idx) {
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
          const float* lo = line[o];
#pragma GCC unroll 4
          for (int64_t r = 0; r < WQ; ++r) {
            float best = lo[r * PW];
#pragma GCC unroll 8
            for (int64_t dj = 1; dj < PW; ++dj) {
              const float v = lo[r * PW + dj];
              best = (v > best || v != v) ? v : best;
            }
            po[r] = best;
          }
        }
      }
    }
}

// The channel schedule (O a multiple of L): output channels along the vector lanes, a tile
// of PH rows x T columns of output positions accumulated at once, each tap's weight vector
// loaded once for the tile and each input value broadcast; the pool and its argmax then
// run lane-wise on the tile's registers (every lane the same position, another channel).
template <int64_t T>
void tile_channels(const float* __restrict img, const float* __restrict wt, const float* __restrict b,
                   int64_t q, int64_t t0, float* __restrict out, int64_t* __restrict idx) {
  for (int64_t ov = 0; ov < O / L; ++ov) {
    vec acc[PH][T];
    const vec bias = loadu(b + ov * L);
#pragma GCC unroll 64
    for (int64_t di = 0; di < PH; ++di)
#pragma GCC unroll 64
      for (int64_t t = 0; t < T; ++t) acc[di][t] = bias;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ki = 0; ki < KH; ++ki)
#pragma GCC unroll 16
        for (int64_t kj = 0; kj < KW; ++kj) {
          const vec wv = loadu(wt + ((c * KH + ki) * KW + kj) * O + ov * L);
#pragma GCC unroll 64
          for (int64_t di = 0; di < PH; ++di) {
            const float* src = img + (c * HP + q * PH + di + ki) * WP + t0 + kj;
#pragma GCC unroll 64
            for (int64_t t = 0; t < T; ++t) acc[di][t] += wv * src[t];
          }
        }
#pragma GCC unroll 64
    for (int64_t r = 0; r < T / PW; ++r) {
      vec best = vec{} - std::numeric_limits<float>::infinity();
      ivec where = ivec{} + int32_t(q * PH * WO + t0 + r * PW);
#pragma GCC unroll 64
      for (int64_t di = 0; di < PH; ++di)
#pragma GCC unroll 64
        for (int64_t dj = 0; dj < PW; ++dj) {
          vec v = acc[di][r * PW + dj];
          v = (v < 0.f) ? vec{} : v;                         // rectify, keeping NaN
          const ivec take = (v > best) | (v != v);           // ATen's max-pool scan
          best = take ? v : best;
          where = take ? (ivec{} + int32_t((q * PH + di) * WO + t0 + r * PW + dj)) : where;
        }
      const int64_t at = q * WQ + t0 / PW + r;
      for (int64_t l = 0; l < L; ++l) {
        out[(ov * L + l) * PLANE + at] = best[l];
        if (idx) idx[(ov * L + l) * PLANE + at] = where[l];
      }
    }
  }
}

// one image in the channel schedule: tiles of TW columns (a multiple of PW), then the rest
void image_channels(const float* img, const float* wt, const float* b, float* out, int64_t* idx) {
  if constexpr (CHANNELS) {
    constexpr int64_t FULL = (WQ * PW) / TW * TW, REST = WQ * PW - FULL;
    for (int64_t q = 0; q < HQ; ++q) {
      for (int64_t t0 = 0; t0 < FULL; t0 += TW) tile_channels<TW>(img, wt, b, q, t0, out, idx);
      if constexpr (REST > 0) tile_channels<REST>(img, wt, b, q, FULL, out, idx);
    }
  }
}

constexpr int64_t H = HP - 2 * @PADH@, W = WP - 2 * @PADW@;

// one image of the unpadded input into the interior of a zero-bordered padded image
void pad_image(const float* __restrict x, float* __restrict img) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H; ++i)
      std::copy(x + (c * H + i) * W, x + (c * H + i + 1) * W, img + (c * HP + i + @PADH@) * WP + @PADW@);
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
  auto xc = x.contiguous();
  auto bc = b.contiguous();
  // the channel schedule reads the weights tap-major: (C, KH, KW, O)
  auto wc = CHANNELS ? w.permute({1, 2, 3, 0}).contiguous() : w.contiguous();
  auto out = at::empty({n_images, O, HQ, WQ}, x.options());
  auto idx = want_indices ? at::empty({n_images, O, HQ, WQ}, x.options().dtype(at::kLong)) : at::Tensor();
  const float* xd = xc.data_ptr<float>();
  const float* bd = bc.data_ptr<float>();
  const float* wd = wc.data_ptr<float>();
  float* od = out.data_ptr<float>();
  int64_t* id = want_indices ? idx.data_ptr<int64_t>() : nullptr;
  at::parallel_for(0, n_images, 1, [&](int64_t begin, int64_t end) {
    // each task pads its images one at a time into a buffer kept in cache (its border and
    // SLACK stay zero), instead of a padded copy of the whole batch made before the loop
    std::vector<float> img(IMAGE + SLACK, 0.f);
    for (int64_t n = begin; n < end; ++n) {
      pad_image(xd + n * C * H * W, img.data());
      if constexpr (CHANNELS) image_channels(img.data(), wd, bd, od + n * O * PLANE, id ? id + n * O * PLANE : nullptr);
      else image(img.data(), wd, bd, od + n * O * PLANE, id ? id + n * O * PLANE : nullptr);
    }
  });
  return {out, idx};
}

// The gradients from the pooled gradient. A window's g counts where the ReLU passed it
// (pooled > 0 or NaN, as threshold_backward), at the window's argmax: each image's window
// gradients of one output channel are scattered into a zeroed plane kept in cache, which
// is then correlated with the input (the weight gradient) or, over every output channel,
// with the flipped weights (the input gradient).
namespace {

struct Gradients {
  const float* x;          // the padded input
  const float* g;
  const float* pooled;
  const int64_t* idx;
  std::atomic<bool>* bad;  // an argmax outside the pooled windows (reported after the loops)
};

// image n's window gradients of channel o into a plane of `width` floats per row, its
// conv-output position (i, j) at (i + top, j + left); returns their sum (the bias gradient)
double scatter_plane(const Gradients& a, int64_t n, int64_t o, float* plane, int64_t width,
                     int64_t top, int64_t left) {
  const int64_t at0 = (n * O + o) * PLANE;
  double sum = 0;
  for (int64_t q = 0; q < PLANE; ++q) {
    if (a.pooled[at0 + q] <= 0.f) continue;
    const int64_t at = a.idx[at0 + q], i = at / WO, j = at % WO;
    if (at < 0 || i >= HQ * PH) { *a.bad = true; continue; }
    plane[(i + top) * width + j + left] = a.g[at0 + q];
    sum += a.g[at0 + q];
  }
  return sum;
}

// The weight and bias gradients of OBW output channels over one block of IMAGES images:
// each image's planes correlated with the input a tap row (KW taps) at a time over
// NVB-vector chunks of the rows, an input vector loaded once for the OBW channels; sums
// are float vectors over the block, then double into `out` ([OBW][C * KH * KW + 1], the
// bias last)
constexpr int64_t IMAGES = 8, TAPS = C * KH * KW;
void block_weight_gradient(const Gradients& a, int64_t n0, int64_t n1, int64_t o0, float* gy, double* out) {
  vec part[OBW][TAPS];
  std::fill(&part[0][0], &part[0][0] + OBW * TAPS, vec{});
  double bias[OBW] = {};
  for (int64_t n = n0; n < n1; ++n) {
    std::fill(gy, gy + OBW * HQ * PH * ROWB, 0.f);
    for (int64_t ob = 0; ob < OBW; ++ob)
      bias[ob] += scatter_plane(a, n, o0 + ob, gy + ob * HQ * PH * ROWB, ROWB, 0, 0);
    const float* img = a.x + n * IMAGE;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ki = 0; ki < KH; ++ki)
        for (int64_t ch = 0; ch < NCHB; ++ch) {
          vec t[OBW][KW][NVB] = {};
          for (int64_t i = 0; i < HQ * PH; ++i) {
            const float* src = img + (c * HP + i + ki) * WP + ch * NVB * L;
            vec gv[OBW][NVB];
#pragma GCC unroll 64
            for (int64_t ob = 0; ob < OBW; ++ob)
#pragma GCC unroll 64
              for (int64_t v = 0; v < NVB; ++v) gv[ob][v] = loadu(gy + (ob * HQ * PH + i) * ROWB + (ch * NVB + v) * L);
#pragma GCC unroll 64
            for (int64_t kj = 0; kj < KW; ++kj)
#pragma GCC unroll 64
              for (int64_t v = 0; v < NVB; ++v) {
                const vec xv = loadu(src + kj + v * L);
#pragma GCC unroll 64
                for (int64_t ob = 0; ob < OBW; ++ob) t[ob][kj][v] += gv[ob][v] * xv;
              }
          }
#pragma GCC unroll 64
          for (int64_t ob = 0; ob < OBW; ++ob)
#pragma GCC unroll 64
            for (int64_t kj = 0; kj < KW; ++kj)
#pragma GCC unroll 64
              for (int64_t v = 0; v < NVB; ++v) part[ob][(c * KH + ki) * KW + kj] += t[ob][kj][v];
        }
  }
  for (int64_t ob = 0; ob < OBW; ++ob) {
    for (int64_t k = 0; k < TAPS; ++k) {
      double sum = 0;
      for (int64_t l = 0; l < L; ++l) sum += part[ob][k][l];
      out[ob * (TAPS + 1) + k] = sum;
    }
    out[ob * (TAPS + 1) + TAPS] = bias[ob];
  }
}

// The input gradient's planes: every output channel's, framed by KH - 1 zero rows and
// KW - 1 zero columns, so that dx at (i, j) is sum over o, ki, kj of
// plane[o][i + PADH - ki + KH - 1][j + PADW - kj + KW - 1] * w[o][c][ki][kj].
constexpr int64_t GR = HO + 2 * (KH - 1);
constexpr int64_t GW0 = NCHX * NVXC * L + @PADW@ + KW - 1, GW = GW0 > WO + 2 * (KW - 1) ? GW0 : WO + 2 * (KW - 1);

// image n's input gradient: CB input channels x NVXC vectors of a row accumulated at once
void image_input_gradient(const Gradients& a, int64_t n, const float* w, float* gy, float* dx) {
  std::fill(gy, gy + O * GR * GW, 0.f);
  for (int64_t o = 0; o < O; ++o) scatter_plane(a, n, o, gy + o * GR * GW, GW, KH - 1, KW - 1);
  float row[NCHX * NVXC * L];
  for (int64_t c0 = 0; c0 < C; c0 += CB)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t ch = 0; ch < NCHX; ++ch) {
        vec acc[CB][NVXC] = {};
        for (int64_t o = 0; o < O; ++o)
#pragma GCC unroll 16
          for (int64_t ki = 0; ki < KH; ++ki) {
            const float* gr = gy + (o * GR + i + @PADH@ - ki + KH - 1) * GW + ch * NVXC * L + @PADW@ + KW - 1;
            const float* wk = w + ((o * C + c0) * KH + ki) * KW;
#pragma GCC unroll 16
            for (int64_t kj = 0; kj < KW; ++kj) {
              vec gv[NVXC];
#pragma GCC unroll 64
              for (int64_t v = 0; v < NVXC; ++v) gv[v] = loadu(gr - kj + v * L);
#pragma GCC unroll 64
              for (int64_t cb = 0; cb < CB; ++cb) {
                const float wv = wk[cb * KH * KW + kj];
#pragma GCC unroll 64
                for (int64_t v = 0; v < NVXC; ++v) acc[cb][v] += gv[v] * wv;
              }
            }
          }
        const int64_t j0 = ch * NVXC * L, count = (W - j0 < NVXC * L) ? W - j0 : NVXC * L;
        for (int64_t cb = 0; cb < CB; ++cb) {
#pragma GCC unroll 64
          for (int64_t v = 0; v < NVXC; ++v) storeu(row + v * L, acc[cb][v]);
          std::copy(row, row + count, dx + ((c0 + cb) * H + i) * W + j0);
        }
      }
}

void check_gradient_args(const char* what, const at::Tensor& g, const at::Tensor& pooled, const at::Tensor& idx,
                         const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == C && x.size(2) + 2 * @PADH@ == HP &&
              x.size(3) + 2 * @PADW@ == WP, what, ": x of another shape than the kernel's");
  TORCH_CHECK(g.dim() == 4 && g.size(0) == x.size(0) && g.size(1) == O && g.size(2) == HQ && g.size(3) == WQ &&
              pooled.sizes() == g.sizes() && idx.sizes() == g.sizes(), what, ": shapes");
  TORCH_CHECK(idx.scalar_type() == at::kLong && g.scalar_type() == at::kFloat &&
              pooled.scalar_type() == at::kFloat && x.scalar_type() == at::kFloat, what, ": dtypes");
}

// the weight and bias gradients: one task per block of OBW channels and block of images,
// whose double sums are then added in block order (the same result for any thread count)
void weight_gradients(const Gradients& a, int64_t n_images, float* gw, float* gb) {
  const int64_t blocks = (n_images + IMAGES - 1) / IMAGES, channel_blocks = O / OBW;
  std::vector<double> partial(blocks * O * (TAPS + 1));
  at::parallel_for(0, blocks * channel_blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> planes(OBW * HQ * PH * ROWB);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t block = task / channel_blocks, o0 = (task % channel_blocks) * OBW;
      const int64_t n0 = block * IMAGES, n1 = n0 + IMAGES < n_images ? n0 + IMAGES : n_images;
      block_weight_gradient(a, n0, n1, o0, planes.data(), partial.data() + (block * O + o0) * (TAPS + 1));
    }
  });
  for (int64_t o = 0; o < O; ++o) {
    for (int64_t k = 0; k <= TAPS; ++k) {
      double sum = 0;
      for (int64_t block = 0; block < blocks; ++block) sum += partial[(block * O + o) * (TAPS + 1) + k];
      if (k < TAPS) gw[o * TAPS + k] = static_cast<float>(sum);
      else gb[o] = static_cast<float>(sum);
    }
  }
}

}  // namespace

std::vector<at::Tensor> conv_relu_pool_backward(at::Tensor g, at::Tensor pooled, at::Tensor idx,
                                                at::Tensor x) {
  check_gradient_args("conv_relu_pool_backward", g, pooled, idx, x);
  auto buffer = padded(x);
  auto gc = g.contiguous(), pc = pooled.contiguous(), ic = idx.contiguous();
  auto gw = at::empty({O, C, KH, KW}, x.options());
  auto gb = at::empty({O}, x.options());
  std::atomic<bool> bad{false};
  const Gradients a{buffer.data_ptr<float>(), gc.data_ptr<float>(), pc.data_ptr<float>(), ic.data_ptr<int64_t>(), &bad};
  weight_gradients(a, x.size(0), gw.data_ptr<float>(), gb.data_ptr<float>());
  TORCH_CHECK(!bad, "conv_relu_pool_backward: an argmax index outside the pooled windows");
  return {gw, gb};
}

// the weight, bias and input gradients (a layer whose input needs a gradient); the input's
// one task per image
std::vector<at::Tensor> conv_relu_pool_backward_input(at::Tensor g, at::Tensor pooled, at::Tensor idx,
                                                      at::Tensor x, at::Tensor w) {
  check_gradient_args("conv_relu_pool_backward_input", g, pooled, idx, x);
  TORCH_CHECK(w.dim() == 4 && w.size(0) == O && w.size(1) == C && w.size(2) == KH && w.size(3) == KW &&
              w.scalar_type() == at::kFloat, "conv_relu_pool_backward_input: w of another shape than the kernel's");
  auto buffer = padded(x);
  auto gc = g.contiguous(), pc = pooled.contiguous(), ic = idx.contiguous(), wc = w.contiguous();
  auto gw = at::empty({O, C, KH, KW}, x.options());
  auto gb = at::empty({O}, x.options());
  const int64_t n_images = x.size(0);
  auto dx = at::empty({n_images, C, H, W}, x.options());
  std::atomic<bool> bad{false};
  const Gradients a{buffer.data_ptr<float>(), gc.data_ptr<float>(), pc.data_ptr<float>(), ic.data_ptr<int64_t>(), &bad};
  weight_gradients(a, n_images, gw.data_ptr<float>(), gb.data_ptr<float>());
  const float* wd = wc.data_ptr<float>();
  float* dxd = dx.data_ptr<float>();
  at::parallel_for(0, n_images, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> planes(O * GR * GW);
    for (int64_t n = begin; n < end; ++n) image_input_gradient(a, n, wd, planes.data(), dxd + n * C * H * W);
  });
  TORCH_CHECK(!bad, "conv_relu_pool_backward_input: an argmax index outside the pooled windows");
  return {gw, gb, dx};
}
"""


def blocking(spec, lanes: int, registers: int) -> dict:
    """The register blocking for a CPU with `registers` vector registers of `lanes` floats:
    NVC vectors of a row per accumulator block (NCH such column chunks cover the row) and OB
    output channels (a divisor of the channel count), so that OB x pool rows x NVC
    accumulators and a row's input vectors fit in the registers; for the weight gradient,
    NVB vectors per chunk (NCHB chunks) and OBW output channels, so that a tap row's
    OBW x KW x NVB accumulators do; for
    the input gradient, CB input channels (a divisor) x NVXC vectors of an input row, and
    the NVXC gradient vectors they share. Where the output channels fill whole vectors, the
    forward runs the channel schedule instead (CHANNELS, tiles of TW columns)."""
    width = spec.width + 2 * spec.padding[1] - spec.kernel[1] + 1
    vectors = -(-width // lanes)
    rows = spec.pool[0]
    budget = max(registers - min(vectors, 4), rows)
    nvc = max(1, min(vectors, budget // rows))
    ob = max(d for d in range(1, spec.out_channels + 1)
             if spec.out_channels % d == 0 and (d == 1 or d * rows * nvc <= budget))
    # the weight gradient accumulates a tap row of OBW channels: OBW x KW x NVB accumulators,
    # OBW x NVB gradient vectors and the input vector they share
    nvb = max(1, min(vectors, (registers - 2) // (spec.kernel[1] + 1)))
    obw = max(d for d in range(1, spec.out_channels + 1)
              if spec.out_channels % d == 0 and (d == 1 or d * nvb * (spec.kernel[1] + 1) + 1 <= registers))
    # the input gradient: CB input channels x NVXC vectors of an input row
    in_vectors = -(-spec.width // lanes)
    nvx = max(1, min(in_vectors, (registers - 1) // 2))
    cb = max(d for d in range(1, spec.channels + 1)
             if spec.channels % d == 0 and (d == 1 or (d + 1) * nvx <= registers))
    # the forward's channel schedule: output channels fill the lanes; a tile of pool rows x
    # TW columns (whole windows) of accumulators and the weight vector in the registers
    pooled_width = (width // spec.pool[1]) * spec.pool[1]
    tw = min(pooled_width, (registers - 2) // rows // spec.pool[1] * spec.pool[1])
    channels = spec.out_channels % lanes == 0 and tw > 0
    return {"CHANNELS": "true" if channels else "false", "TW": tw if channels else 1, "L": lanes, "NVC": nvc, "NCH": -(-vectors // nvc), "OB": ob, "NVB": nvb, "NCHB": -(-vectors // nvb), "OBW": obw,
            "NVXC": nvx, "NCHX": -(-in_vectors // nvx), "CB": cb}


def cpp_source(spec, signature: str = "", lanes: int = 8, registers: int = 14) -> str:
    """The C++ for one ConvPoolSpec, blocked for `registers` vector registers of `lanes`
    floats; `signature` (a comment) names what else decides the binary, such as the CPU the
    code is tuned for."""
    values = {"C": spec.channels, "HP": spec.height + 2 * spec.padding[0],
              "WP": spec.width + 2 * spec.padding[1], "O": spec.out_channels, "KH": spec.kernel[0],
              "KW": spec.kernel[1], "PH": spec.pool[0], "PW": spec.pool[1], "PADH": spec.padding[0],
              "PADW": spec.padding[1], "SIGNATURE": signature, **blocking(spec, lanes, registers)}
    values["EVEN"] = ", ".join(str(2 * i) for i in range(lanes))     # lane shuffles: a row's
    values["ODD"] = ", ".join(str(2 * i + 1) for i in range(lanes))  # columns in pairs
    values["LANES"] = ", ".join(str(i) for i in range(lanes))
    source = _TEMPLATE
    for key, value in values.items():
        source = source.replace(f"@{key}@", str(value))
    return source
