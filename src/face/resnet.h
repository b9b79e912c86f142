// Takeback's own forward pass of dlib's face-recognition ResNet (the
// network dlib publishes as dlib_face_recognition_resnet_model_v1: 29
// convolutions, 150x150 RGB in, 128-d descriptor out), with the weights
// @vladmandic/face-api ships (tfjs_weights.h). Internal to src/face, its
// tests and its benchmarks; no third-party type appears here.
//
// Why not dlib's own network: dlib runs every layer as its own pass over
// memory (convolution, then a per-channel affine, then ReLU, then the
// residual add, each allocating or copying tensors), while here the affine
// is folded into the convolution's weights and bias at load time and the
// bias, the residual add and the ReLU happen in one pass over the
// convolution's output, in buffers reused across calls. Convolutions are
// im2col + OpenBLAS sgemm, as in dlib. Agreement with dlib's network and with
// the reference JavaScript is checked by src/face/resnet_test.cc and
// tests/golden/face_golden_test.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "face/face.h"
#include "face/tfjs_weights.h"

namespace takeback::face {

// Computes face descriptors from aligned chips. Thread-safety: an Embedder
// keeps scratch buffers between calls; use one per thread.
class Embedder {
 public:
  virtual ~Embedder() = default;

  // The descriptor of one aligned kChipSize x kChipSize chip given as
  // interleaved RGB bytes (red first), row after row. Errors:
  // kInvalidArgument (rgb is not kChipSize * kChipSize * 3 bytes),
  // kInternal (the implementation failed, e.g. out of memory).
  virtual Result<Descriptor> Embed(std::span<const std::uint8_t> rgb) = 0;
};

// Which implementation computes the descriptors. Both run the same network
// with the same weights; Takeback's is the faster and the one FaceAnalyzer
// uses, dlib's is kept as the reference the tests compare it with.
enum class EmbedderKind { kTakeback, kDlib };

// "takeback" or "dlib".
const char* EmbedderName(EmbedderKind kind);

// Builds an embedder from the tensors LoadTfjsWeights read (in manifest
// order: per convolution its filters [h][w][in][out], its bias, then the
// following affine layer's gamma and beta; last the final fc [256][128]).
// `source` names the file in error messages. On x86-64 CPUs with AVX2 and
// FMA the convolutions run in Takeback's own kernels on the calling thread;
// elsewhere, or with allow_simd = false (for tests), as im2col + BLAS sgemm
// (OpenBLAS: as many threads as it is set to use). Errors: kCorrupt (the
// tensors are not the face-recognition ResNet's: wrong count or shapes).
Result<std::unique_ptr<Embedder>> MakeTakebackEmbedder(const std::vector<TfjsTensor>& weights,
                                                       const std::string& source, bool allow_simd = true);

// The same network built with dlib's dnn templates (src/face/dlib_face.cc).
// Same contract.
Result<std::unique_ptr<Embedder>> MakeDlibEmbedder(const std::vector<TfjsTensor>& weights, const std::string& source);

// The embedder of the given kind.
Result<std::unique_ptr<Embedder>> MakeEmbedder(EmbedderKind kind, const std::vector<TfjsTensor>& weights,
                                               const std::string& source);

}  // namespace takeback::face
