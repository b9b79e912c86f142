#include "face/resnet.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <cblas.h>

#include "common/cpu.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace takeback::face {
namespace {

// A convolution with the following per-channel affine folded in:
// gamma * (conv(x, w) + b) + beta = conv(x, gamma * w) + (gamma * b + beta).
struct ConvLayer {
  int in = 0;
  int out = 0;
  int kernel = 0;
  int stride = 1;
  int pad = 0;                // dlib's default: kernel / 2 for stride 1, else 0
  std::vector<float> weight;  // [out][in][ky][kx], the GEMM's A (out x in*kernel*kernel)
  std::vector<float> bias;    // [out]
  // The same weights for Conv3x3Direct and Stride2Direct (AVX2 machines):
  // per tile of 4 output channels, [in][ky * kernel + kx][4].
  std::vector<float> packed;
};

// The network's shape, input to output, in the order the manifest lists the
// convolutions: the 7x7/2 stem, then residual blocks of two 3x3
// convolutions. A stride-2 block's shortcut is a 2x2/2 average pool of its
// input, zero-padded to the block's size (dlib's add_prev).
struct BlockSpec {
  int filters;
  int stride;
};
constexpr int kStemFilters = 32;
constexpr int kStemKernel = 7;
constexpr int kStemStride = 2;
constexpr int kPoolKernel = 3;  // max pool 3x3/2 after the stem
constexpr int kPoolStride = 2;
constexpr std::array<BlockSpec, 14> kBlocks = {{
    {32, 1},
    {32, 1},
    {32, 1},  // level 4
    {64, 2},
    {64, 1},
    {64, 1},
    {64, 1},  // level 3
    {128, 2},
    {128, 1},
    {128, 1},  // level 2
    {256, 2},
    {256, 1},
    {256, 1},  // level 1
    {256, 2},  // level 0
}};
constexpr int kConvs = 1 + 2 * static_cast<int>(kBlocks.size());  // 29
constexpr int kFinalChannels = 256;
// dlib's input_rgb_image_sized: (pixel - mean) / 256, planes R, G, B.
constexpr std::array<float, 3> kMean = {122.782F, 117.001F, 104.298F};
constexpr float kInputScale = 1.0F / 256.0F;

// A C x H x W activation in a caller-owned buffer, each channel's plane
// surrounded by `pad` rows and columns of zeros: element (c, y, x) lies at
// data[c * plane() + (y + pad) * stride() + x + pad]. The 3x3 stride-1
// convolutions read their padded input in place (no im2col), so the
// activations they consume carry pad = 1.
struct Act {
  float* data = nullptr;
  int c = 0;
  int h = 0;
  int w = 0;
  int pad = 0;
  int stride() const { return w + 2 * pad; }
  std::size_t plane() const { return static_cast<std::size_t>(h + 2 * pad) * static_cast<std::size_t>(stride()); }
  std::size_t size() const { return static_cast<std::size_t>(c) * plane(); }
  float* at(int ch, int y, int x) const {
    return data + static_cast<std::size_t>(ch) * plane() + static_cast<std::size_t>(y + pad) * stride() + x + pad;
  }
};

// Direct 3x3 convolutions read up to a few floats past an activation's last
// plane (in columns whose results are discarded); buffers carry this slack.
constexpr std::size_t kSlack = 64;

float* Reserve(std::vector<float>& buffer, std::size_t n) {
  if (buffer.size() < n + kSlack) buffer.assign(n + kSlack, 0.0F);
  return buffer.data();
}

int OutSize(int in, int kernel, int stride, int pad) { return 1 + (in + 2 * pad - kernel) / stride; }

// col[(c * k + ky) * k + kx][oy * ow + ox] = in(c, oy * s + ky - pad, ox * s + kx - pad), 0 outside.
void Im2Col(const Act& in, int k, int s, int pad, int oh, int ow, float* col) {
  const std::size_t n = static_cast<std::size_t>(oh) * static_cast<std::size_t>(ow);
  for (int c = 0; c < in.c; ++c) {
    for (int ky = 0; ky < k; ++ky) {
      for (int kx = 0; kx < k; ++kx) {
        float* row = col + static_cast<std::size_t>((c * k + ky) * k + kx) * n;
        // Output columns whose input column lies inside the image: [x0, x1).
        const int x0 = std::clamp((pad - kx + s - 1) / s, 0, ow);
        const int x1 = std::clamp((in.w - 1 + pad - kx) / s + 1, x0, ow);
        for (int oy = 0; oy < oh; ++oy) {
          float* dst = row + static_cast<std::size_t>(oy) * ow;
          const int iy = oy * s + ky - pad;
          if (iy < 0 || iy >= in.h) {
            std::fill(dst, dst + ow, 0.0F);
            continue;
          }
          const float* src = in.at(c, iy, kx - pad);
          std::fill(dst, dst + x0, 0.0F);
          if (s == 1) {
            std::memcpy(dst + x0, src + x0, static_cast<std::size_t>(x1 - x0) * sizeof(float));
          } else {
            for (int ox = x0; ox < x1; ++ox) dst[ox] = src[static_cast<std::ptrdiff_t>(ox) * s];
          }
          std::fill(dst + x1, dst + ow, 0.0F);
        }
      }
    }
  }
}

// The direct kernels below need AVX2 and FMA (false on other architectures).
bool HaveAvx2Fma() { return cpu::HasAvx2() && cpu::HasFma(); }

#if defined(__x86_64__)
// Rows of output channels and floats of output positions per direct-conv tile.
constexpr int kTileRows = 4;
constexpr int kTileCols = 24;

// The accumulators of one tile: output channels [4) x positions [8 * NB).
// Twelve named registers (not an array: GCC kept an array in memory); the
// member functions are always inlined into the tile loops, so they stay in
// registers there.
template <int NB>
struct TileAcc {
  __m256 a00, a01, a02;
  __m256 a10, a11, a12;
  __m256 a20, a21, a22;
  __m256 a30, a31, a32;

  [[gnu::always_inline]] __attribute__((target("avx2,fma"))) inline TileAcc()
      : a00(_mm256_setzero_ps()),
        a01(_mm256_setzero_ps()),
        a02(_mm256_setzero_ps()),
        a10(_mm256_setzero_ps()),
        a11(_mm256_setzero_ps()),
        a12(_mm256_setzero_ps()),
        a20(_mm256_setzero_ps()),
        a21(_mm256_setzero_ps()),
        a22(_mm256_setzero_ps()),
        a30(_mm256_setzero_ps()),
        a31(_mm256_setzero_ps()),
        a32(_mm256_setzero_ps()) {}
  TileAcc(const TileAcc&) = delete;
  TileAcc& operator=(const TileAcc&) = delete;

  // Adds w[r] * b[0, 8 * NB) to row r, for the tile's 4 rows.
  [[gnu::always_inline]] __attribute__((target("avx2,fma"))) inline void Add(const float* b, const float* w) {
    const __m256 b0 = _mm256_loadu_ps(b);
    const __m256 b1 = NB > 1 ? _mm256_loadu_ps(b + 8) : b0;
    const __m256 b2 = NB > 2 ? _mm256_loadu_ps(b + 16) : b0;
    __m256 wr = _mm256_broadcast_ss(w);
    a00 = _mm256_fmadd_ps(wr, b0, a00);
    if constexpr (NB > 1) a01 = _mm256_fmadd_ps(wr, b1, a01);
    if constexpr (NB > 2) a02 = _mm256_fmadd_ps(wr, b2, a02);
    wr = _mm256_broadcast_ss(w + 1);
    a10 = _mm256_fmadd_ps(wr, b0, a10);
    if constexpr (NB > 1) a11 = _mm256_fmadd_ps(wr, b1, a11);
    if constexpr (NB > 2) a12 = _mm256_fmadd_ps(wr, b2, a12);
    wr = _mm256_broadcast_ss(w + 2);
    a20 = _mm256_fmadd_ps(wr, b0, a20);
    if constexpr (NB > 1) a21 = _mm256_fmadd_ps(wr, b1, a21);
    if constexpr (NB > 2) a22 = _mm256_fmadd_ps(wr, b2, a22);
    wr = _mm256_broadcast_ss(w + 3);
    a30 = _mm256_fmadd_ps(wr, b0, a30);
    if constexpr (NB > 1) a31 = _mm256_fmadd_ps(wr, b1, a31);
    if constexpr (NB > 2) a32 = _mm256_fmadd_ps(wr, b2, a32);
  }

  // out[r * ldc + j] = row r's sums.
  [[gnu::always_inline]] __attribute__((target("avx2,fma"))) inline void Store(float* out, std::size_t ldc) const {
    float* o0 = out;
    float* o1 = out + ldc;
    float* o2 = out + 2 * ldc;
    float* o3 = out + 3 * ldc;
    _mm256_storeu_ps(o0, a00);
    _mm256_storeu_ps(o1, a10);
    _mm256_storeu_ps(o2, a20);
    _mm256_storeu_ps(o3, a30);
    if constexpr (NB > 1) {
      _mm256_storeu_ps(o0 + 8, a01);
      _mm256_storeu_ps(o1 + 8, a11);
      _mm256_storeu_ps(o2 + 8, a21);
      _mm256_storeu_ps(o3 + 8, a31);
    }
    if constexpr (NB > 2) {
      _mm256_storeu_ps(o0 + 16, a02);
      _mm256_storeu_ps(o1 + 16, a12);
      _mm256_storeu_ps(o2 + 16, a22);
      _mm256_storeu_ps(o3 + 16, a32);
    }
  }
};

// One tile of a 3x3 stride-1 convolution over a padded input: output
// channels [4) x positions [8 * NB) starting at `in` (the position's
// top-left tap in channel 0's padded plane). `w` holds the tile's weights as
// [in channel][tap][4]. out[r * ldc + j] = the sum over channels and taps.
template <int NB>
__attribute__((target("avx2,fma"))) void Conv3x3Tile(const float* in, std::size_t plane, int cin, int wp,
                                                     const float* w, float* out, std::size_t ldc) {
  TileAcc<NB> acc;
  for (int c = 0; c < cin; ++c, in += plane) {
    for (int ky = 0; ky < 3; ++ky) {
      const float* row = in + static_cast<std::ptrdiff_t>(ky) * wp;
      for (int kx = 0; kx < 3; ++kx, w += kTileRows) acc.Add(row + kx, w);
    }
  }
  acc.Store(out, ldc);
}

// A 3x3 stride-1 convolution of the padded `in`, computed at every position
// j = y * wp + x of the padded width (x >= in.w are discarded later):
// out[o * ldc + j], ldc >= the positions rounded up to 8.
void Conv3x3Direct(const Act& in, const std::vector<float>& packed, int cout, float* out, std::size_t ldc) {
  const int wp = in.stride();
  const int n = in.h * wp;
  const std::size_t k4 = static_cast<std::size_t>(in.c) * 9 * kTileRows;
  const float* origin = in.data;  // tap (0, 0) of position (0, 0) is the padded plane's corner
  for (int j = 0; j < n; j += kTileCols) {
    const int nb = std::min(kTileCols, n - j + 7) / 8;  // 1..3 vectors of 8 positions
    for (int o = 0; o < cout; o += kTileRows) {
      const float* w = packed.data() + static_cast<std::size_t>(o / kTileRows) * k4;
      float* dst = out + static_cast<std::size_t>(o) * ldc + j;
      if (nb == 3) {
        Conv3x3Tile<3>(origin + j, in.plane(), in.c, wp, w, dst, ldc);
      } else if (nb == 2) {
        Conv3x3Tile<2>(origin + j, in.plane(), in.c, wp, w, dst, ldc);
      } else {
        Conv3x3Tile<1>(origin + j, in.plane(), in.c, wp, w, dst, ldc);
      }
    }
  }
}

// The same for any convolution whose taps are given as offsets from a
// position's origin: off[i] for i < k, weights [k][4].
template <int NB>
__attribute__((target("avx2,fma"))) void TableConvTile(const float* origin, const std::ptrdiff_t* off, int k,
                                                       const float* w, float* out, std::size_t ldc) {
  TileAcc<NB> acc;
  for (int i = 0; i < k; ++i, w += kTileRows) acc.Add(origin + off[i], w);
  acc.Store(out, ldc);
}

// A stride-2 convolution without padding, from the input's four phase
// planes (even/odd rows x even/odd columns, each hq x wq, `phases` holds
// channel c's phase p at (4 * c + p) * hq * wq): tap (ky, kx) of output
// (oy, ox) is phase (ky & 1, kx & 1) at (oy + ky / 2, ox + kx / 2), so every
// tap is a fixed offset from j = oy * wq + ox and the table kernel applies.
// out[o * ldc + j] for j < n; ldc >= n rounded up to 8.
void Stride2Direct(const float* phases, int cin, int hq, int wq, int kernel, int n, const std::vector<float>& packed,
                   int cout, std::vector<std::ptrdiff_t>& off, float* out, std::size_t ldc) {
  const std::ptrdiff_t pq = static_cast<std::ptrdiff_t>(hq) * wq;
  off.clear();
  for (int c = 0; c < cin; ++c) {
    for (int ky = 0; ky < kernel; ++ky) {
      for (int kx = 0; kx < kernel; ++kx) {
        const int phase = (ky & 1) * 2 + (kx & 1);
        off.push_back((4 * static_cast<std::ptrdiff_t>(c) + phase) * pq + static_cast<std::ptrdiff_t>(ky / 2) * wq +
                      kx / 2);
      }
    }
  }
  const int k = static_cast<int>(off.size());
  for (int j = 0; j < n; j += kTileCols) {
    const int nb = std::min(kTileCols, n - j + 7) / 8;
    for (int o = 0; o < cout; o += kTileRows) {
      const float* w =
          packed.data() + static_cast<std::size_t>(o / kTileRows) * static_cast<std::size_t>(k) * kTileRows;
      float* dst = out + static_cast<std::size_t>(o) * ldc + j;
      if (nb == 3) {
        TableConvTile<3>(phases + j, off.data(), k, w, dst, ldc);
      } else if (nb == 2) {
        TableConvTile<2>(phases + j, off.data(), k, w, dst, ldc);
      } else {
        TableConvTile<1>(phases + j, off.data(), k, w, dst, ldc);
      }
    }
  }
}
#else
constexpr int kTileRows = 4;
void Conv3x3Direct(const Act&, const std::vector<float>&, int, float*, std::size_t) {}
void Stride2Direct(const float*, int, int, int, int, int, const std::vector<float>&, int, std::vector<std::ptrdiff_t>&,
                   float*, std::size_t) {}
#endif

class TakebackEmbedder final : public Embedder {
 public:
  TakebackEmbedder(std::vector<ConvLayer> convs, std::vector<float> fc, bool allow_simd)
      : convs_(std::move(convs)), fc_(std::move(fc)), direct_(allow_simd && HaveAvx2Fma()) {
    if (direct_) {
      // The direct kernel's weights: per tile of 4 output channels,
      // [in channel][tap][4].
      for (ConvLayer& l : convs_) {
        const bool s1 = l.kernel == 3 && l.stride == 1;
        const bool s2 = l.stride == 2 && l.pad == 0;
        if (!(s1 || s2) || l.out % kTileRows != 0) continue;
        const std::size_t k = static_cast<std::size_t>(l.in) * static_cast<std::size_t>(l.kernel * l.kernel);
        l.packed.resize(static_cast<std::size_t>(l.out) * k);
        for (std::size_t o = 0; o < static_cast<std::size_t>(l.out); ++o) {
          for (std::size_t i = 0; i < k; ++i) {
            l.packed[(o / kTileRows) * k * kTileRows + i * kTileRows + o % kTileRows] = l.weight[o * k + i];
          }
        }
      }
    }
  }

  Result<Descriptor> Embed(std::span<const std::uint8_t> rgb) override {
    constexpr std::size_t kPixels = static_cast<std::size_t>(kChipSize) * kChipSize;
    if (rgb.size() != 3 * kPixels) {
      return InvalidArgument("face: a chip must be " + std::to_string(kChipSize) + "x" + std::to_string(kChipSize) +
                             " RGB (" + std::to_string(3 * kPixels) + " bytes), got " + std::to_string(rgb.size()) +
                             " bytes");
    }
    try {
      return Forward(rgb.data());
    } catch (const std::bad_alloc&) {
      return Internal("face: out of memory computing a descriptor");
    }
  }

 private:
  Descriptor Forward(const std::uint8_t* rgb) {
    constexpr std::size_t kPixels = static_cast<std::size_t>(kChipSize) * kChipSize;
    const Act input{Reserve(buf_[0], 3 * kPixels), 3, kChipSize, kChipSize, 0};
    for (std::size_t i = 0; i < kPixels; ++i) {
      for (std::size_t c = 0; c < 3; ++c) {
        input.data[c * kPixels + i] = (static_cast<float>(rgb[3 * i + c]) - kMean[c]) * kInputScale;
      }
    }
    const Act stem = Conv(input, convs_[0], 1, nullptr, true, 0);
    Act cur = MaxPool(stem, 0);
    int slot = 0;  // cur lives in buf_[slot]; the other of buf_[0], buf_[1] receives the block's output
    std::size_t layer = 1;
    for (const BlockSpec& b : kBlocks) {
      const Act mid = Conv(cur, convs_[layer], 2, nullptr, true, 1);
      if (b.stride == 1) {
        cur = Conv(mid, convs_[layer + 1], 1 - slot, &cur, true, 1);
      } else {
        const Act body = Conv(mid, convs_[layer + 1], 3, nullptr, false, 0);
        cur = AddShortcut(body, AvgPool(cur), 1 - slot);
      }
      slot = 1 - slot;
      layer += 2;
    }
    // Average over the remaining positions, then the fc layer without bias.
    std::array<float, kFinalChannels> mean{};
    const float area = static_cast<float>(cur.h) * static_cast<float>(cur.w);
    for (int c = 0; c < cur.c && c < kFinalChannels; ++c) {
      float sum = 0;
      for (int y = 0; y < cur.h; ++y) {
        for (int x = 0; x < cur.w; ++x) sum += *cur.at(c, y, x);
      }
      mean[static_cast<std::size_t>(c)] = sum / area;
    }
    Descriptor d{};
    for (std::size_t i = 0; i < kFinalChannels; ++i) {
      const float* row = fc_.data() + i * kDescriptorSize;
      for (std::size_t j = 0; j < kDescriptorSize; ++j) d[j] += mean[i] * row[j];
    }
    return d;
  }

  // out = conv(in) + bias (+ residual, an activation of out's size), then
  // ReLU when asked, into buf_[slot] with `out_pad` rows and columns of
  // zeros around each plane.
  Act Conv(const Act& in, const ConvLayer& l, int slot, const Act* residual, bool relu, int out_pad) {
    const int oh = OutSize(in.h, l.kernel, l.stride, l.pad);
    const int ow = OutSize(in.w, l.kernel, l.stride, l.pad);
    Act out{nullptr, l.out, oh, ow, out_pad};
    out.data = Reserve(buf_[slot], out.size());
    // The convolution's sums, out channel o at c[o * ldc + y * cw + x].
    int cw = ow;
    std::size_t ldc = static_cast<std::size_t>(oh) * static_cast<std::size_t>(ow);
    float* c = nullptr;
    if (direct_ && !l.packed.empty() && l.stride == 1 && in.pad == 1) {
      cw = in.stride();
      ldc = (static_cast<std::size_t>(oh) * static_cast<std::size_t>(cw) + 7) / 8 * 8;
      c = Reserve(sums_, static_cast<std::size_t>(l.out) * ldc);
      Conv3x3Direct(in, l.packed, l.out, c, ldc);
    } else if (direct_ && !l.packed.empty() && l.stride == 2) {
      // The input's phase planes, then the table kernel.
      const int hq = (in.h + 1) / 2;
      const int wq = (in.w + 1) / 2;
      const std::size_t pq = static_cast<std::size_t>(hq) * static_cast<std::size_t>(wq);
      float* phases = Reserve(col_, 4 * static_cast<std::size_t>(in.c) * pq);
      for (int ch = 0; ch < in.c; ++ch) {
        for (int p = 0; p < 4; ++p) {
          float* q = phases + (4 * static_cast<std::size_t>(ch) + static_cast<std::size_t>(p)) * pq;
          const int py = p / 2;
          const int px = p % 2;
          for (int y = 0; y < hq; ++y) {
            const int iy = 2 * y + py;
            float* dst = q + static_cast<std::size_t>(y) * wq;
            if (iy >= in.h) {
              std::fill(dst, dst + wq, 0.0F);
              continue;
            }
            const float* src = in.at(ch, iy, 0);
            for (int x = 0; x < wq; ++x) dst[x] = 2 * x + px < in.w ? src[2 * x + px] : 0.0F;
          }
        }
      }
      cw = wq;
      const int n = oh * wq;
      ldc = (static_cast<std::size_t>(n) + 7) / 8 * 8;
      c = Reserve(sums_, static_cast<std::size_t>(l.out) * ldc);
      Stride2Direct(phases, in.c, hq, wq, l.kernel, n, l.packed, l.out, offsets_, c, ldc);
    } else {
      const int k = l.in * l.kernel * l.kernel;
      const int n = oh * ow;
      float* col = Reserve(col_, static_cast<std::size_t>(k) * static_cast<std::size_t>(n));
      Im2Col(in, l.kernel, l.stride, l.pad, oh, ow, col);
      c = Reserve(sums_, static_cast<std::size_t>(l.out) * ldc);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l.out, n, k, 1.0F, l.weight.data(), k, col, n, 0.0F, c, n);
    }
    if (out_pad != 0) std::fill(out.data, out.data + out.size(), 0.0F);
    for (int o = 0; o < l.out; ++o) {
      const float b = l.bias[static_cast<std::size_t>(o)];
      for (int y = 0; y < oh; ++y) {
        const float* src = c + static_cast<std::size_t>(o) * ldc + static_cast<std::size_t>(y) * cw;
        float* dst = out.at(o, y, 0);
        if (residual != nullptr) {
          const float* r = residual->at(o, y, 0);
          for (int x = 0; x < ow; ++x) dst[x] = src[x] + b + r[x];
        } else {
          for (int x = 0; x < ow; ++x) dst[x] = src[x] + b;
        }
        if (relu) {
          for (int x = 0; x < ow; ++x) dst[x] = std::max(dst[x], 0.0F);
        }
      }
    }
    return out;
  }

  // 3x3/2 max pool without padding, into buf_[slot] with one row and column
  // of zeros around each plane (the next layer is a 3x3 stride-1 conv).
  Act MaxPool(const Act& in, int slot) {
    Act out{nullptr, in.c, OutSize(in.h, kPoolKernel, kPoolStride, 0), OutSize(in.w, kPoolKernel, kPoolStride, 0), 1};
    out.data = Reserve(buf_[slot], out.size());
    std::fill(out.data, out.data + out.size(), 0.0F);
    for (int c = 0; c < in.c; ++c) {
      for (int y = 0; y < out.h; ++y) {
        float* q = out.at(c, y, 0);
        for (int x = 0; x < out.w; ++x) {
          float m = *in.at(c, y * kPoolStride, x * kPoolStride);
          for (int dy = 0; dy < kPoolKernel; ++dy) {
            const float* row = in.at(c, y * kPoolStride + dy, x * kPoolStride);
            for (int dx = 0; dx < kPoolKernel; ++dx) m = std::max(m, row[dx]);
          }
          q[x] = m;
        }
      }
    }
    return out;
  }

  // The stride-2 blocks' shortcut: 2x2/2 average pool without padding.
  Act AvgPool(const Act& in) {
    Act out{nullptr, in.c, OutSize(in.h, 2, 2, 0), OutSize(in.w, 2, 2, 0), 0};
    out.data = Reserve(pool_, out.size());
    for (int c = 0; c < in.c; ++c) {
      for (int y = 0; y < out.h; ++y) {
        const float* r0 = in.at(c, 2 * y, 0);
        const float* r1 = in.at(c, 2 * y + 1, 0);
        float* q = out.at(c, y, 0);
        for (std::ptrdiff_t x = 0; x < out.w; ++x)
          q[x] = (r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]) / 4.0F;
      }
    }
    return out;
  }

  // relu(a + b) where each is zero outside its own extent (dlib's add_prev
  // of tensors of different sizes), into buf_[slot], padded by one.
  Act AddShortcut(const Act& a, const Act& b, int slot) {
    Act out{nullptr, std::max(a.c, b.c), std::max(a.h, b.h), std::max(a.w, b.w), 1};
    out.data = Reserve(buf_[slot], out.size());
    std::fill(out.data, out.data + out.size(), 0.0F);
    for (int c = 0; c < out.c; ++c) {
      for (int y = 0; y < out.h; ++y) {
        float* q = out.at(c, y, 0);
        for (int x = 0; x < out.w; ++x) {
          float v = 0;
          if (c < a.c && y < a.h && x < a.w) v += *a.at(c, y, x);
          if (c < b.c && y < b.h && x < b.w) v += *b.at(c, y, x);
          q[x] = std::max(v, 0.0F);
        }
      }
    }
    return out;
  }

  std::vector<ConvLayer> convs_;
  std::vector<float> fc_;  // [kFinalChannels][kDescriptorSize]
  // Convolutions by Conv3x3Direct and Stride2Direct (AVX2 and FMA) rather
  // than im2col and sgemm.
  bool direct_ = false;
  // Scratch reused across calls: buf_[0] and buf_[1] alternate as block
  // inputs and outputs, buf_[2] holds a block's middle activation, buf_[3]
  // a stride-2 block's body before the shortcut is added.
  std::array<std::vector<float>, 4> buf_;
  std::vector<float> col_;  // im2col matrix, or a stride-2 layer's phase planes
  std::vector<float> sums_;
  std::vector<std::ptrdiff_t> offsets_;
  std::vector<float> pool_;
};

Status CheckShape(const TfjsTensor& t, const std::vector<int>& shape, const std::string& source) {
  if (t.shape != shape || t.values.size() != [&] {
        std::size_t n = 1;
        for (const int d : shape) n *= static_cast<std::size_t>(d);
        return n;
      }()) {
    std::string want;
    for (const int d : shape) want += (want.empty() ? "" : ",") + std::to_string(d);
    std::string got;
    for (const int d : t.shape) got += (got.empty() ? "" : ",") + std::to_string(d);
    return Corrupt(source + ": weight " + t.name + " has shape [" + got + "], the face-recognition ResNet needs [" +
                   want + "]");
  }
  return Status::Ok();
}

// The convolution `index` (manifest order) with its affine folded in.
Result<ConvLayer> FoldConv(const std::vector<TfjsTensor>& w, std::size_t index, int in, int out, int kernel, int stride,
                           const std::string& source) {
  const TfjsTensor& filters = w[4 * index];
  const TfjsTensor& bias = w[4 * index + 1];
  const TfjsTensor& gamma = w[4 * index + 2];
  const TfjsTensor& beta = w[4 * index + 3];
  TAKEBACK_RETURN_IF_ERROR(CheckShape(filters, {kernel, kernel, in, out}, source));
  TAKEBACK_RETURN_IF_ERROR(CheckShape(bias, {out}, source));
  TAKEBACK_RETURN_IF_ERROR(CheckShape(gamma, {out}, source));
  TAKEBACK_RETURN_IF_ERROR(CheckShape(beta, {out}, source));
  const auto k = static_cast<std::size_t>(kernel);
  const auto ni = static_cast<std::size_t>(in);
  const auto no = static_cast<std::size_t>(out);
  ConvLayer l{.in = in,
              .out = out,
              .kernel = kernel,
              .stride = stride,
              .pad = stride == 1 ? kernel / 2 : 0,
              .weight = std::vector<float>(no * ni * k * k),
              .bias = std::vector<float>(no),
              .packed = {}};
  for (std::size_t o = 0; o < no; ++o) {
    const float g = gamma.values[o];
    for (std::size_t i = 0; i < ni; ++i) {
      for (std::size_t y = 0; y < k; ++y) {
        for (std::size_t x = 0; x < k; ++x) {
          l.weight[((o * ni + i) * k + y) * k + x] = g * filters.values[((y * k + x) * ni + i) * no + o];
        }
      }
    }
    l.bias[o] = g * bias.values[o] + beta.values[o];
  }
  return l;
}

}  // namespace

const char* EmbedderName(EmbedderKind kind) { return kind == EmbedderKind::kDlib ? "dlib" : "takeback"; }

Result<std::unique_ptr<Embedder>> MakeTakebackEmbedder(const std::vector<TfjsTensor>& weights,
                                                       const std::string& source, bool allow_simd) {
  const std::size_t expected = 4 * static_cast<std::size_t>(kConvs) + 1;
  if (weights.size() != expected) {
    return Corrupt(source + ": has " + std::to_string(weights.size()) + " weights; the face-recognition ResNet needs " +
                   std::to_string(expected));
  }
  try {
    std::vector<ConvLayer> convs;
    Result<ConvLayer> stem = FoldConv(weights, 0, 3, kStemFilters, kStemKernel, kStemStride, source);
    if (!stem.ok()) return stem.status();
    convs.push_back(std::move(*stem));
    int channels = kStemFilters;
    for (const BlockSpec& b : kBlocks) {
      Result<ConvLayer> first = FoldConv(weights, convs.size(), channels, b.filters, 3, b.stride, source);
      if (!first.ok()) return first.status();
      convs.push_back(std::move(*first));
      Result<ConvLayer> second = FoldConv(weights, convs.size(), b.filters, b.filters, 3, 1, source);
      if (!second.ok()) return second.status();
      convs.push_back(std::move(*second));
      channels = b.filters;
    }
    const TfjsTensor& fc = weights.back();
    TAKEBACK_RETURN_IF_ERROR(CheckShape(fc, {kFinalChannels, kDescriptorSize}, source));
    return std::unique_ptr<Embedder>(std::make_unique<TakebackEmbedder>(std::move(convs), fc.values, allow_simd));
  } catch (const std::bad_alloc&) {
    return Internal("face: out of memory building the recognition network");
  }
}

Result<std::unique_ptr<Embedder>> MakeEmbedder(EmbedderKind kind, const std::vector<TfjsTensor>& weights,
                                               const std::string& source) {
  return kind == EmbedderKind::kDlib ? MakeDlibEmbedder(weights, source) : MakeTakebackEmbedder(weights, source);
}

}  // namespace takeback::face
