// Constructors of the VectorIndex implementations. Internal to src/index/vector.
#pragma once

#include <memory>

#include "common/status.h"
#include "index/vector/vector_index.h"

namespace takeback::index::internal {

std::unique_ptr<VectorIndex> MakeFlatVectorIndex(int dimension);
// kUnsupported when this build has no FAISS.
Result<std::unique_ptr<VectorIndex>> MakeFaissVectorIndex(int dimension);

}  // namespace takeback::index::internal
