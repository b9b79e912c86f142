#include "face/tfjs_weights.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

namespace takeback::face {
namespace {

// The recognition network is 6.4 MB; anything far larger is not a model we know.
constexpr std::uintmax_t kMaxManifestBytes = 16u << 20;
constexpr std::uintmax_t kMaxShardBytes = 512u << 20;

Result<std::vector<std::uint8_t>> ReadFile(const std::filesystem::path& path, std::uintmax_t max_bytes,
                                           std::string_view what) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    return NotFound(std::string(what) + " " + path.string() + " not found (" + ec.message() +
                    "); run scripts/fetch-models or pass the model paths");
  }
  if (size > max_bytes) return Corrupt(std::string(what) + " " + path.string() + " is implausibly large");
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot open " + path.string());
  std::vector<std::uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size) return IoError("short read from " + path.string());
  return bytes;
}

struct WeightSpec {
  std::string name;
  std::vector<int> shape;
  std::size_t count = 1;
  std::string stored_dtype;  // float32, uint8 or uint16
  double scale = 1;
  double min = 0;
};

Result<WeightSpec> ParseSpec(const nlohmann::json& w, const std::string& manifest) {
  WeightSpec spec;
  if (!w.is_object() || !w.contains("name") || !w["name"].is_string() || !w.contains("shape") ||
      !w["shape"].is_array() || !w.contains("dtype") || w["dtype"] != "float32") {
    return Corrupt(manifest + ": a weight entry lacks name/shape or is not float32");
  }
  spec.name = w["name"].get<std::string>();
  for (const auto& d : w["shape"]) {
    if (!d.is_number_integer() || d.get<long long>() < 0 || d.get<long long>() > (1 << 20)) {
      return Corrupt(manifest + ": bad shape for " + spec.name);
    }
    spec.shape.push_back(d.get<int>());
    spec.count *= static_cast<std::size_t>(spec.shape.back());
    if (spec.count > (std::size_t{1} << 28)) return Corrupt(manifest + ": " + spec.name + " is too large");
  }
  spec.stored_dtype = "float32";
  if (w.contains("quantization")) {
    const auto& q = w["quantization"];
    if (!q.is_object() || !q.contains("dtype") || !q.contains("scale") || !q.contains("min") ||
        !q["scale"].is_number() || !q["min"].is_number()) {
      return Corrupt(manifest + ": bad quantization for " + spec.name);
    }
    spec.stored_dtype = q["dtype"].get<std::string>();
    if (spec.stored_dtype != "uint8" && spec.stored_dtype != "uint16") {
      return Corrupt(manifest + ": unsupported quantization dtype '" + spec.stored_dtype + "' for " + spec.name);
    }
    spec.scale = q["scale"].get<double>();
    spec.min = q["min"].get<double>();
  }
  return spec;
}

std::size_t BytesPerValue(const std::string& dtype) {
  if (dtype == "uint8") return 1;
  if (dtype == "uint16") return 2;
  return 4;
}

Result<std::vector<TfjsTensor>> Load(const std::string& manifest_path, const std::string& weights_path) {
  Result<std::vector<std::uint8_t>> text = ReadFile(manifest_path, kMaxManifestBytes, "face model manifest");
  if (!text.ok()) return text.status();
  const nlohmann::json manifest = nlohmann::json::parse(text->begin(), text->end(), nullptr, false);
  if (manifest.is_discarded() || !manifest.is_array() || manifest.empty()) {
    return Corrupt(manifest_path + " is not a TensorFlow.js weights manifest");
  }
  const std::filesystem::path dir = std::filesystem::path(manifest_path).parent_path();
  std::vector<TfjsTensor> tensors;
  for (const auto& group : manifest) {
    if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() || !group.contains("weights") ||
        !group["weights"].is_array()) {
      return Corrupt(manifest_path + ": a group lacks paths or weights");
    }
    std::vector<std::uint8_t> data;
    if (!weights_path.empty()) {
      if (manifest.size() != 1 || group["paths"].size() != 1) {
        return InvalidArgument("an explicit weights path needs a manifest with one shard: " + manifest_path);
      }
      Result<std::vector<std::uint8_t>> shard = ReadFile(weights_path, kMaxShardBytes, "face model weights");
      if (!shard.ok()) return shard.status();
      data = std::move(*shard);
    } else {
      for (const auto& p : group["paths"]) {
        if (!p.is_string()) return Corrupt(manifest_path + ": a shard path is not a string");
        const std::string name = p.get<std::string>();
        if (name.find('/') != std::string::npos || name.find("..") != std::string::npos) {
          return Corrupt(manifest_path + ": shard path '" + name + "' leaves the manifest's folder");
        }
        Result<std::vector<std::uint8_t>> shard = ReadFile(dir / name, kMaxShardBytes, "face model weights");
        if (!shard.ok()) return shard.status();
        data.insert(data.end(), shard->begin(), shard->end());
      }
    }
    std::size_t offset = 0;
    for (const auto& w : group["weights"]) {
      Result<WeightSpec> spec = ParseSpec(w, manifest_path);
      if (!spec.ok()) return spec.status();
      const std::size_t bytes = spec->count * BytesPerValue(spec->stored_dtype);
      if (bytes > data.size() - offset) {
        return Corrupt("face model weights end early at " + spec->name + " (" + std::to_string(data.size()) +
                       " bytes; a truncated or wrong file?)");
      }
      TfjsTensor t{.name = spec->name, .shape = spec->shape, .values = std::vector<float>(spec->count)};
      const std::uint8_t* src = data.data() + offset;
      for (std::size_t i = 0; i < spec->count; ++i) {
        double v = 0;
        if (spec->stored_dtype == "uint8") {
          v = src[i] * spec->scale + spec->min;
        } else if (spec->stored_dtype == "uint16") {
          std::uint16_t q = 0;
          std::memcpy(&q, src + 2 * i, 2);  // tfjs stores little-endian, as x86 and ARM are
          v = q * spec->scale + spec->min;
        } else {
          float f = 0;
          std::memcpy(&f, src + 4 * i, 4);
          v = f;
        }
        if (!std::isfinite(v)) return Corrupt("face model weight " + spec->name + " is not finite");
        t.values[i] = static_cast<float>(v);
      }
      offset += bytes;
      tensors.push_back(std::move(t));
    }
    if (offset != data.size()) {
      return Corrupt("face model weights have " + std::to_string(data.size() - offset) +
                     " bytes the manifest does not describe (a wrong or damaged file?)");
    }
  }
  return tensors;
}

}  // namespace

Result<std::vector<TfjsTensor>> LoadTfjsWeights(const std::string& manifest_path, const std::string& weights_path) {
  try {
    return Load(manifest_path, weights_path);
  } catch (const std::exception& e) {  // nlohmann type errors, bad_alloc
    return Corrupt(manifest_path + ": " + e.what());
  }
}

}  // namespace takeback::face
