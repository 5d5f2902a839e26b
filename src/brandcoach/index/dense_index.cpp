// The only translation unit that includes hnswlib: its header defines non-inline functions, so a
// second includer would break the link (see DEPENDENCIES.md).
#include <hnswlib/hnswlib.h>

#include <shared_mutex>
#include <unordered_set>

#include <fmt/format.h>

#include "brandcoach/index/index.hpp"

namespace brandcoach::index {

namespace fs = std::filesystem;

namespace {
constexpr size_t kLinksPerNode = 16;     // hnswlib M
constexpr size_t kEfConstruction = 200;  // build-time beam
constexpr size_t kEfSearch = 128;        // query-time beam (hnswlib uses max(ef, k))
constexpr size_t kSeed = 42;             // fixed so a rebuild gives the same graph
}  // namespace

struct DenseIndex::Impl {
  explicit Impl(size_t dim) : space(dim) {}
  hnswlib::InnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
  std::unordered_set<int64_t> live;  // ids currently present (not marked deleted)
  mutable std::shared_mutex mutex;   // searches shared, writes exclusive
};

DenseIndex::DenseIndex(size_t dimension, size_t initial_capacity) : impl_(std::make_unique<Impl>(dimension)) {
  impl_->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(
      &impl_->space, std::max<size_t>(initial_capacity, 16), kLinksPerNode, kEfConstruction, kSeed);
  impl_->graph->setEf(kEfSearch);
}

DenseIndex::~DenseIndex() = default;
DenseIndex::DenseIndex(DenseIndex&&) noexcept = default;
DenseIndex& DenseIndex::operator=(DenseIndex&&) noexcept = default;

size_t DenseIndex::dimension() const {
  return *static_cast<size_t*>(impl_->space.get_dist_func_param());
}

size_t DenseIndex::size() const {
  std::shared_lock lock(impl_->mutex);
  return impl_->live.size();
}

void DenseIndex::add(int64_t id, const float* vector) {
  std::unique_lock lock(impl_->mutex);
  auto& graph = *impl_->graph;
  if (!impl_->live.contains(id) && graph.cur_element_count >= graph.max_elements_) {
    graph.resizeIndex(std::max<size_t>(graph.max_elements_ * 2, 1024));
  }
  // hnswlib updates an existing label in place (and revives a deleted one).
  graph.addPoint(vector, static_cast<hnswlib::labeltype>(id));
  impl_->live.insert(id);
}

void DenseIndex::remove(int64_t id) {
  std::unique_lock lock(impl_->mutex);
  if (impl_->live.erase(id) == 0) return;
  impl_->graph->markDelete(static_cast<hnswlib::labeltype>(id));
}

std::vector<std::pair<int64_t, float>> DenseIndex::search(const float* query, size_t k,
                                                          const std::function<bool(int64_t)>& allow) const {
  std::shared_lock lock(impl_->mutex);
  std::vector<std::pair<int64_t, float>> out;
  const size_t total = impl_->live.size();
  if (k == 0 || total == 0) return out;
  // Without filter support in this hnswlib, a filter is applied to a widening candidate list.
  for (size_t want = allow ? std::min(total, k * 4) : std::min(total, k);; want = std::min(total, want * 4)) {
    auto queue = impl_->graph->searchKnn(query, want);
    std::vector<std::pair<int64_t, float>> candidates;
    candidates.reserve(queue.size());
    while (!queue.empty()) {
      candidates.emplace_back(static_cast<int64_t>(queue.top().second), 1.0f - queue.top().first);
      queue.pop();
    }
    out.clear();
    for (auto it = candidates.rbegin(); it != candidates.rend() && out.size() < k; ++it) {
      if (!allow || allow(it->first)) out.push_back(*it);
    }
    if (out.size() >= k || want >= total) break;
  }
  return out;
}

Status DenseIndex::save(const fs::path& path) const {
  std::shared_lock lock(impl_->mutex);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  const fs::path temp = path.string() + ".tmp";
  try {
    impl_->graph->saveIndex(temp.string());
  } catch (const std::exception& e) {
    return Error::unavailable(fmt::format("cannot write {}: {}", temp.string(), e.what()));
  }
  fs::rename(temp, path, ec);
  if (ec) return Error::unavailable(fmt::format("cannot replace {}: {}", path.string(), ec.message()));
  return ok();
}

Result<DenseIndex> DenseIndex::load(const fs::path& path, size_t dimension) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Error::not_found("no index file " + path.string());
  DenseIndex index(dimension, 16);
  try {
    index.impl_->graph =
        std::make_unique<hnswlib::HierarchicalNSW<float>>(&index.impl_->space, path.string(), false, 0);
  } catch (const std::exception& e) {
    return Error::unavailable(fmt::format("unreadable index {}: {}", path.string(), e.what()));
  }
  auto& graph = *index.impl_->graph;
  // The vector size is implied by the offsets stored in the file, not by the space passed in.
  if (graph.label_offset_ - graph.offsetData_ != dimension * sizeof(float)) {
    return Error::unavailable(fmt::format("index {} has another dimension", path.string()));
  }
  graph.setEf(kEfSearch);
  for (const auto& [label, internal] : graph.label_lookup_) {
    if (!graph.isMarkedDeleted(internal)) index.impl_->live.insert(static_cast<int64_t>(label));
  }
  return index;
}

}  // namespace brandcoach::index
