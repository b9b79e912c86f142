// Descriptor arithmetic that needs no model (kept apart from dlib_face.cc,
// which takes minutes to compile).
#include <algorithm>
#include <limits>

#include "face/face.h"

namespace takeback::face {

float MinimumDistance(const Descriptor& candidate, std::span<const Descriptor> registered) {
  float best = std::numeric_limits<float>::infinity();
  for (const Descriptor& r : registered) best = std::min(best, DescriptorDistance(candidate, r));
  return best;
}

}  // namespace takeback::face
