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

// A C x H x W activation in a caller-owned buffer.
struct Act {
  float* data = nullptr;
  int c = 0;
  int h = 0;
  int w = 0;
  std::size_t size() const {
    return static_cast<std::size_t>(c) * static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  }
};

float* Reserve(std::vector<float>& buffer, std::size_t n) {
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

int OutSize(int in, int kernel, int stride, int pad) { return 1 + (in + 2 * pad - kernel) / stride; }

// col[(c * k + ky) * k + kx][oy * ow + ox] = in[c][oy * s + ky - pad][ox * s + kx - pad], 0 outside.
void Im2Col(const Act& in, int k, int s, int pad, int oh, int ow, float* col) {
  const std::size_t n = static_cast<std::size_t>(oh) * static_cast<std::size_t>(ow);
  for (int c = 0; c < in.c; ++c) {
    const float* plane = in.data + static_cast<std::size_t>(c) * in.h * in.w;
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
          const float* src = plane + static_cast<std::size_t>(iy) * in.w + (kx - pad);
          std::fill(dst, dst + x0, 0.0F);
          if (s == 1) {
            std::memcpy(dst + x0, src + x0, static_cast<std::size_t>(x1 - x0) * sizeof(float));
          } else {
            for (int ox = x0; ox < x1; ++ox) dst[ox] = src[ox * s];
          }
          std::fill(dst + x1, dst + ow, 0.0F);
        }
      }
    }
  }
}

class TakebackEmbedder final : public Embedder {
 public:
  TakebackEmbedder(std::vector<ConvLayer> convs, std::vector<float> fc)
      : convs_(std::move(convs)), fc_(std::move(fc)) {}

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
    Act x{Reserve(buf_[0], 3 * kPixels), 3, kChipSize, kChipSize};
    for (std::size_t i = 0; i < kPixels; ++i) {
      for (std::size_t c = 0; c < 3; ++c)
        x.data[c * kPixels + i] = (static_cast<float>(rgb[3 * i + c]) - kMean[c]) * kInputScale;
    }
    const Act stem = Conv(x, convs_[0], 1, nullptr, true);
    Act cur = MaxPool(stem, 0);
    int slot = 0;  // cur lives in buf_[slot]; the other of buf_[0], buf_[1] receives the block's output
    std::size_t layer = 1;
    for (const BlockSpec& b : kBlocks) {
      const Act mid = Conv(cur, convs_[layer], 2, nullptr, true);
      if (b.stride == 1) {
        cur = Conv(mid, convs_[layer + 1], 1 - slot, cur.data, true);
      } else {
        const Act body = Conv(mid, convs_[layer + 1], 3, nullptr, false);
        cur = AddShortcut(body, AvgPool(cur), 1 - slot);
      }
      slot = 1 - slot;
      layer += 2;
    }
    // Average over the remaining positions, then the fc layer without bias.
    std::array<float, kFinalChannels> mean{};
    const std::size_t area = static_cast<std::size_t>(cur.h) * static_cast<std::size_t>(cur.w);
    for (int c = 0; c < cur.c && c < kFinalChannels; ++c) {
      const float* p = cur.data + static_cast<std::size_t>(c) * area;
      float sum = 0;
      for (std::size_t i = 0; i < area; ++i) sum += p[i];
      mean[static_cast<std::size_t>(c)] = sum / static_cast<float>(area);
    }
    Descriptor d{};
    for (std::size_t i = 0; i < kFinalChannels; ++i) {
      const float* row = fc_.data() + i * kDescriptorSize;
      for (std::size_t j = 0; j < kDescriptorSize; ++j) d[j] += mean[i] * row[j];
    }
    return d;
  }

  // out = conv(in) + bias (+ residual, same shape as out), then ReLU when
  // asked, into buf_[slot].
  Act Conv(const Act& in, const ConvLayer& l, int slot, const float* residual, bool relu) {
    const int oh = OutSize(in.h, l.kernel, l.stride, l.pad);
    const int ow = OutSize(in.w, l.kernel, l.stride, l.pad);
    const int n = oh * ow;
    const int k = l.in * l.kernel * l.kernel;
    Act out{Reserve(buf_[slot], static_cast<std::size_t>(l.out) * static_cast<std::size_t>(n)), l.out, oh, ow};
    float* col = Reserve(col_, static_cast<std::size_t>(k) * static_cast<std::size_t>(n));
    Im2Col(in, l.kernel, l.stride, l.pad, oh, ow, col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l.out, n, k, 1.0F, l.weight.data(), k, col, n, 0.0F,
                out.data, n);
    for (int o = 0; o < l.out; ++o) {
      float* p = out.data + static_cast<std::size_t>(o) * n;
      const float b = l.bias[static_cast<std::size_t>(o)];
      if (residual != nullptr) {
        const float* r = residual + static_cast<std::size_t>(o) * n;
        for (int i = 0; i < n; ++i) p[i] += b + r[i];
      } else {
        for (int i = 0; i < n; ++i) p[i] += b;
      }
      if (relu) {
        for (int i = 0; i < n; ++i) p[i] = std::max(p[i], 0.0F);
      }
    }
    return out;
  }

  // 3x3/2 max pool without padding, into buf_[slot].
  Act MaxPool(const Act& in, int slot) {
    const int oh = OutSize(in.h, kPoolKernel, kPoolStride, 0);
    const int ow = OutSize(in.w, kPoolKernel, kPoolStride, 0);
    Act out{Reserve(buf_[slot], static_cast<std::size_t>(in.c) * oh * ow), in.c, oh, ow};
    for (int c = 0; c < in.c; ++c) {
      const float* p = in.data + static_cast<std::size_t>(c) * in.h * in.w;
      float* q = out.data + static_cast<std::size_t>(c) * oh * ow;
      for (int y = 0; y < oh; ++y) {
        for (int x = 0; x < ow; ++x) {
          float m = p[static_cast<std::size_t>(y * kPoolStride) * in.w + x * kPoolStride];
          for (int dy = 0; dy < kPoolKernel; ++dy) {
            const float* row = p + static_cast<std::size_t>(y * kPoolStride + dy) * in.w + x * kPoolStride;
            for (int dx = 0; dx < kPoolKernel; ++dx) m = std::max(m, row[dx]);
          }
          q[static_cast<std::size_t>(y) * ow + x] = m;
        }
      }
    }
    return out;
  }

  // The stride-2 blocks' shortcut: 2x2/2 average pool without padding.
  Act AvgPool(const Act& in) {
    const int oh = OutSize(in.h, 2, 2, 0);
    const int ow = OutSize(in.w, 2, 2, 0);
    Act out{Reserve(pool_, static_cast<std::size_t>(in.c) * oh * ow), in.c, oh, ow};
    for (int c = 0; c < in.c; ++c) {
      const float* p = in.data + static_cast<std::size_t>(c) * in.h * in.w;
      float* q = out.data + static_cast<std::size_t>(c) * oh * ow;
      for (int y = 0; y < oh; ++y) {
        const float* r0 = p + static_cast<std::size_t>(2 * y) * in.w;
        const float* r1 = r0 + in.w;
        for (int x = 0; x < ow; ++x) {
          q[static_cast<std::size_t>(y) * ow + x] = (r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]) / 4.0F;
        }
      }
    }
    return out;
  }

  // relu(a + b) where each is zero outside its own extent (dlib's add_prev
  // of tensors of different sizes), into buf_[slot].
  Act AddShortcut(const Act& a, const Act& b, int slot) {
    Act out{nullptr, std::max(a.c, b.c), std::max(a.h, b.h), std::max(a.w, b.w)};
    out.data = Reserve(buf_[slot], out.size());
    for (int c = 0; c < out.c; ++c) {
      for (int y = 0; y < out.h; ++y) {
        for (int x = 0; x < out.w; ++x) {
          float v = 0;
          if (c < a.c && y < a.h && x < a.w) v += a.data[(static_cast<std::size_t>(c) * a.h + y) * a.w + x];
          if (c < b.c && y < b.h && x < b.w) v += b.data[(static_cast<std::size_t>(c) * b.h + y) * b.w + x];
          out.data[(static_cast<std::size_t>(c) * out.h + y) * out.w + x] = std::max(v, 0.0F);
        }
      }
    }
    return out;
  }

  std::vector<ConvLayer> convs_;
  std::vector<float> fc_;  // [kFinalChannels][kDescriptorSize]
  // Scratch reused across calls: buf_[0] and buf_[1] alternate as block
  // inputs and outputs, buf_[2] holds a block's middle activation, buf_[3]
  // a stride-2 block's body before the shortcut is added.
  std::array<std::vector<float>, 4> buf_;
  std::vector<float> col_;
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
              .bias = std::vector<float>(no)};
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
                                                       const std::string& source) {
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
    return std::unique_ptr<Embedder>(std::make_unique<TakebackEmbedder>(std::move(convs), fc.values));
  } catch (const std::bad_alloc&) {
    return Internal("face: out of memory building the recognition network");
  }
}

Result<std::unique_ptr<Embedder>> MakeEmbedder(EmbedderKind kind, const std::vector<TfjsTensor>& weights,
                                               const std::string& source) {
  return kind == EmbedderKind::kDlib ? MakeDlibEmbedder(weights, source) : MakeTakebackEmbedder(weights, source);
}

}  // namespace takeback::face
