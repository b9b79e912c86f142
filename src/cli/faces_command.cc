#include "cli/faces_command.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/inputs.h"
#include "common/file.h"
#include "face/face.h"
#include "media/image.h"

namespace takeback::cli {
namespace {

constexpr std::uint64_t kDefaultMaxPixels = 100'000'000;
constexpr std::uint64_t kDefaultMaxFileSize = std::uint64_t{256} << 20;

constexpr std::string_view kHelp = R"(Usage: takeback faces [OPTION]... IMAGE|DIR|-...

Find the faces in each image and print, per face, its box, the detector's
score and a 128-number descriptor of the face (dlib's face-recognition
ResNet). Two photos of the same person give descriptors about 0.4 apart
(Euclidean distance); different people are usually over 0.6 apart. A face
match is a lead for human review, never proof and never a takedown by itself.

Faces are found with a HOG frontal-face detector (also on the image
upscaled 2x, for small faces; huge images are scaled down first); when none
is found upright, the image is also tried rotated by 90, 180 and 270 degrees.
The detector is dlib's trained one, run by Takeback's own faster code; dlib's
code finds the same faces (--detector dlib).

Options:
  -r, --recursive        process every regular file below each DIR
      --chips DIR        write each face's aligned 150x150 chip to DIR as
                         binary PPM (NAME-faceN.ppm), for inspection
      --max-faces N      embed at most the N best faces per image (default 256)
      --no-upscale       skip the 2x upscaled pass (faster; misses faces
                         under about 80 pixels)
      --no-rotate        do not try rotated copies of a faceless image
      --detector NAME    takeback (default) or dlib: which code runs the HOG
                         detector; the same faces, dlib's is about 2x slower
      --model-dir DIR    folder with face_recognition_model-weights_manifest.json
                         and face_recognition_model.bin (default: models/, or
                         $TAKEBACK_MODEL_DIR; scripts/fetch-models fills it)
      --landmarks FILE   dlib 68-point shape predictor (default: Debian
                         libdlib-data's file)
      --max-pixels N     refuse images with more than N pixels (default 100000000)
      --match PHOTO      compare every face found with this person's face:
                         the largest face in PHOTO. Repeat it with several
                         photos of the same person (different days, light,
                         angles): a face's distance is its smallest distance
                         to any of them, which keeps true matches low
      --threshold D      the distance at or under which a face is reported as
                         a possible match (default 0.5; see below)
  -h, --help             show this help

Output: one JSON object per line and image:
  {"path":"a.jpg","width":W,"height":H,"faces":[{"box":{"left":..,"top":..,
   "right":..,"bottom":..},"score":1.2,"rotation":0,"descriptor":[128 numbers]}],
   "truncated":false}
With --match, each face also has
  "match":{"distance":0.43,"closest":"her-2.jpg","threshold":0.5,
           "matched":true,"review_required":true}
A match is only a lead: review_required is always true. Different people
can lie under any threshold (photos of different East Asian women were
measured 0.55-0.60 apart); the default 0.5 and the minimum over several
photos are chosen to keep such pairs out (docs/BENCHMARKS.md, "Faces").
A file that fails gives {"path":"...","error":{"code":"corrupt","message":"..."}}.

Exit status: 0 success, 1 some inputs failed, 2 bad command line or models
missing.
)";

constexpr std::array<OptionSpec, 12> kOptionSpecs = {{
    {"match", '\0', true},
    {"threshold", '\0', true},
    {"recursive", 'r', false},
    {"chips", '\0', true},
    {"max-faces", '\0', true},
    {"no-upscale", '\0', false},
    {"no-rotate", '\0', false},
    {"detector", '\0', true},
    {"model-dir", '\0', true},
    {"landmarks", '\0', true},
    {"max-pixels", '\0', true},
    {"help", 'h', false},
}};

struct FacesOptions {
  bool help = false;
  bool recursive = false;
  std::string chips_dir;
  face::DetectOptions detect;
  face::ModelPaths models = face::DefaultModelPaths();
  media::DecodeOptions decode;
  std::vector<std::string> inputs;
  std::vector<std::string> match_photos;  // --match, in order
  float threshold = face::kDefaultFaceMatchThreshold;
};

// One registered face of the person --match looks for.
struct Registered {
  std::string path;
  face::Descriptor descriptor;
};

Result<FacesOptions> ParseFacesOptions(std::span<const std::string> args) {
  Result<ParsedArgs> parsed = ParseArgs(args, kOptionSpecs);
  if (!parsed.ok()) return parsed.status();
  FacesOptions options;
  options.help = parsed->Has("help");
  if (options.help) return options;
  options.recursive = parsed->Has("recursive");
  if (parsed->Has("no-upscale")) options.detect.max_upscaled_pixels = 0;
  options.detect.try_rotations = !parsed->Has("no-rotate");
  if (const std::optional<std::string> d = parsed->Value("detector")) {
    if (*d == "dlib") {
      options.detect.detector = face::DetectorKind::kDlib;
    } else if (*d != "takeback") {
      return InvalidArgument("--detector must be takeback or dlib, not '" + *d + "'");
    }
  }
  if (const std::optional<std::string> n = parsed->Value("max-faces")) {
    const std::optional<std::uint64_t> v = ParseUint(*n);
    if (!v || *v == 0 || *v > 100'000) return InvalidArgument("--max-faces needs a number from 1 to 100000");
    options.detect.max_faces = static_cast<int>(*v);
  }
  options.decode.max_pixels = kDefaultMaxPixels;
  if (const std::optional<std::string> n = parsed->Value("max-pixels")) {
    const std::optional<std::uint64_t> v = ParseUint(*n);
    if (!v || *v == 0) return InvalidArgument("--max-pixels needs a positive number");
    options.decode.max_pixels = *v;
  }
  if (const std::optional<std::string> dir = parsed->Value("model-dir")) {
    options.models.recognition_manifest =
        (std::filesystem::path(*dir) / "face_recognition_model-weights_manifest.json").string();
  }
  if (const std::optional<std::string> file = parsed->Value("landmarks")) options.models.shape_predictor = *file;
  if (const std::optional<std::string> dir = parsed->Value("chips")) {
    std::error_code ec;
    if (dir->empty() || !std::filesystem::is_directory(*dir, ec)) {
      return InvalidArgument("--chips: not a directory: " + *dir);
    }
    options.chips_dir = *dir;
    options.detect.keep_chips = true;
  }
  for (const auto& [name, value] : parsed->options) {
    if (name == "match") options.match_photos.push_back(value);
  }
  if (const std::optional<std::string> t = parsed->Value("threshold")) {
    char* end = nullptr;
    const double v = std::strtod(t->c_str(), &end);
    if (t->empty() || end != t->c_str() + t->size() || !(v > 0) || v > 4) {
      return InvalidArgument("--threshold needs a distance over 0 and at most 4 (default 0.5)");
    }
    if (options.match_photos.empty()) return InvalidArgument("--threshold needs --match");
    options.threshold = static_cast<float>(v);
  }
  options.inputs = std::move(parsed->positionals);
  if (options.inputs.empty()) return InvalidArgument("no files given");
  return options;
}

nlohmann::json ErrorJson(const std::string& path, const Status& status) {
  nlohmann::json value;
  value["path"] = path;
  value["error"] = {{"code", std::string(ErrorCodeName(status.code()))}, {"message", status.message()}};
  return value;
}

Status WritePpm(const std::filesystem::path& path, const media::Image& chip) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << "P6\n" << chip.width << " " << chip.height << "\n255\n";
  out.write(reinterpret_cast<const char*>(chip.pixels.data()), static_cast<std::streamsize>(chip.pixels.size()));
  out.close();
  if (!out) return IoError("cannot write chip " + path.string());
  return Status::Ok();
}

Result<face::FaceResult> AnalyzeFile(const std::string& path, const face::DetectOptions& detect,
                                     const media::DecodeOptions& decode, face::FaceAnalyzer& analyzer,
                                     media::Image* image) {
  Result<std::vector<std::uint8_t>> bytes = ReadFileLimited(path, kDefaultMaxFileSize);
  if (!bytes.ok()) return bytes.status();
  Result<media::Image> decoded = media::DecodeImage(*bytes, decode);
  if (!decoded.ok()) return decoded.status();
  *image = std::move(*decoded);
  return analyzer.Analyze(*image, detect);
}

// The largest face of each --match photo. Errors name the photo: one that
// cannot be read or holds no face is a usage error (nothing to compare with).
Result<std::vector<Registered>> LoadRegistered(const FacesOptions& options, face::FaceAnalyzer& analyzer) {
  std::vector<Registered> registered;
  face::DetectOptions detect = options.detect;
  detect.keep_chips = false;
  for (const std::string& path : options.match_photos) {
    media::Image image;
    Result<face::FaceResult> r = AnalyzeFile(path, detect, options.decode, analyzer, &image);
    if (!r.ok()) return Status(r.status().code(), "--match " + path + ": " + r.status().message());
    if (r->faces.empty()) return InvalidArgument("--match " + path + ": no face found in this photo");
    const auto area = [](const face::Box& b) {
      return static_cast<std::int64_t>(b.right - b.left) * static_cast<std::int64_t>(b.bottom - b.top);
    };
    const face::Face* largest = &r->faces.front();
    for (const face::Face& f : r->faces) {
      if (area(f.box) > area(largest->box)) largest = &f;
    }
    registered.push_back({path, largest->descriptor});
  }
  return registered;
}

Result<nlohmann::json> ProcessFile(const std::string& path, const FacesOptions& options, face::FaceAnalyzer& analyzer,
                                   const std::vector<Registered>& registered, std::size_t index) {
  media::Image image;
  Result<face::FaceResult> result = AnalyzeFile(path, options.detect, options.decode, analyzer, &image);
  if (!result.ok()) return result.status();
  nlohmann::json value;
  value["path"] = path;
  value["width"] = image.width;
  value["height"] = image.height;
  value["faces"] = nlohmann::json::array();
  int n = 0;
  for (const face::Face& f : result->faces) {
    nlohmann::json face;
    face["box"] = {{"left", f.box.left}, {"top", f.box.top}, {"right", f.box.right}, {"bottom", f.box.bottom}};
    face["score"] = f.score;
    face["rotation"] = f.rotation;
    face["descriptor"] = f.descriptor;
    if (!registered.empty()) {
      const Registered* closest = nullptr;
      float distance = 0;
      for (const Registered& r : registered) {
        const float d = face::DescriptorDistance(f.descriptor, r.descriptor);
        if (closest == nullptr || d < distance) {
          closest = &r;
          distance = d;
        }
      }
      face["match"] = {{"distance", distance},
                       {"closest", closest->path},
                       {"threshold", options.threshold},
                       {"matched", distance <= options.threshold},
                       {"review_required", true}};
    }
    if (!options.chips_dir.empty()) {
      // The index keeps names unique when two inputs share a file name.
      const std::string name = std::to_string(index) + "-" + std::filesystem::path(path).stem().string() + "-face" +
                               std::to_string(n) + ".ppm";
      const std::filesystem::path chip_path = std::filesystem::path(options.chips_dir) / name;
      TAKEBACK_RETURN_IF_ERROR(WritePpm(chip_path, f.chip));
      face["chip"] = chip_path.string();
    }
    value["faces"].push_back(std::move(face));
    ++n;
  }
  value["truncated"] = result->truncated;
  return value;
}

}  // namespace

std::string_view FacesCommandHelp() { return kHelp; }

int RunFacesCommand(std::span<const std::string> args, const CommandIo& io) {
  Result<FacesOptions> options = ParseFacesOptions(args);
  if (!options.ok()) {
    io.err << "takeback faces: " << options.status().message() << "\nTry 'takeback faces --help'.\n";
    return kExitUsage;
  }
  if (options->help) {
    io.out << kHelp;
    return kExitOk;
  }
  Result<std::unique_ptr<face::FaceAnalyzer>> analyzer = face::FaceAnalyzer::Open(options->models);
  if (!analyzer.ok()) {
    io.err << "takeback faces: " << analyzer.status().ToString() << "\n";
    return kExitUsage;
  }
  Result<std::vector<Registered>> registered = LoadRegistered(*options, **analyzer);
  if (!registered.ok()) {
    io.err << "takeback faces: " << registered.status().ToString() << "\n";
    return kExitUsage;
  }
  int exit_code = kExitOk;
  std::size_t index = 0;
  for (const InputItem& item : CollectInputs(options->inputs, options->recursive, io.in)) {
    Result<nlohmann::json> value = item.error.ok() ? ProcessFile(item.path, *options, **analyzer, *registered, index)
                                                   : Result<nlohmann::json>(item.error);
    ++index;
    if (!value.ok()) {
      exit_code = kExitSomeFailed;
      io.out << ErrorJson(item.path, value.status()).dump() << "\n";
      io.err << "takeback faces: " << item.path << ": " << value.status().ToString() << "\n";
      continue;
    }
    io.out << value->dump() << "\n";
  }
  io.out.flush();
  return exit_code;
}

}  // namespace takeback::cli
