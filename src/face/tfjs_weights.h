// Reads a TensorFlow.js weights manifest and its binary shards: the format
// in which @vladmandic/face-api ships the face-recognition network. Internal
// to src/face (and its tests).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace takeback::face {

struct TfjsTensor {
  std::string name;
  std::vector<int> shape;     // as in the manifest, e.g. [h, w, in, out] for conv filters
  std::vector<float> values;  // row-major over shape, dequantised
};

// Loads every weight the manifest lists, in manifest order. Quantised
// weights (uint8/uint16 with scale and min) are dequantised as
// value = q * scale + min, the way tfjs does. weights_path overrides the
// shard files the manifest names (which are looked up beside the manifest);
// it is only accepted for a manifest with a single shard.
// Errors: kNotFound (a file is missing), kCorrupt (malformed manifest, a
// shard whose size does not match, a dtype or value that is not finite).
Result<std::vector<TfjsTensor>> LoadTfjsWeights(const std::string& manifest_path, const std::string& weights_path);

}  // namespace takeback::face
