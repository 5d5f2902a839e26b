// The only translation unit that includes hnswlib: its header defines non-inline functions, so a
// second includer would break the link (see DEPENDENCIES.md).
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <shared_mutex>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>

#include "brandcoach/index/index.hpp"

namespace brandcoach::index {

namespace fs = std::filesystem;

namespace {
constexpr size_t kLinksPerNode = 16;     // hnswlib M
constexpr size_t kEfConstruction = 100;  // build-time beam
// Query-time beam (hnswlib uses max(ef, k)). 256 rather than 128: at 1M clustered vectors 128 left
// recall@10 at 0.89, and doubling it costs about 1 ms at p95.
constexpr size_t kEfSearch = 256;
constexpr size_t kSeed = 42;  // fixed so a serial build gives the same graph
// Below this many new vectors a batch is inserted serially: threads cost more than they save, and a
// serial insert keeps small indexes reproducible.
constexpr size_t kParallelBatch = 256;

// Inner-product distance (1 - a.b) whose sum GCC vectorises without -ffast-math: sixteen independent
// partial sums are sixteen lanes, so no reassociation is needed. hnswlib's own SSE/AVX path over-reads
// a link list (see CMakeLists.txt) and its portable path is a scalar loop.
// Built twice: for x86-64-v3 (AVX2 + FMA, chosen at load time where the CPU has them) and for the
// baseline, so one binary runs everywhere and uses wide vectors where it can.
__attribute__((target_clones("arch=x86-64-v3", "default"))) float inner_product_distance(
    const void* a_ptr, const void* b_ptr, const void* dim_ptr) {
  const auto* a = static_cast<const float*>(a_ptr);
  const auto* b = static_cast<const float*>(b_ptr);
  const size_t dim = *static_cast<const size_t*>(dim_ptr);
  constexpr size_t kLanes = 16;
  float lanes[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= dim; i += kLanes) {
    for (size_t lane = 0; lane < kLanes; ++lane) lanes[lane] += a[i + lane] * b[i + lane];
  }
  float sum = 0.0f;
  for (; i < dim; ++i) sum += a[i] * b[i];
  for (const float lane : lanes) sum += lane;
  return 1.0f - sum;
}

class InnerProductSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit InnerProductSpace(size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return inner_product_distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  size_t dim_;
};
}  // namespace

struct DenseIndex::Impl {
  explicit Impl(size_t dim) : space(dim) {}
  InnerProductSpace space;
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

size_t DenseIndex::search_beam() const {
  return kEfSearch;
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

void DenseIndex::add_many(const std::vector<std::pair<int64_t, const float*>>& items) {
  if (items.empty()) return;
  std::unique_lock lock(impl_->mutex);
  auto& graph = *impl_->graph;
  size_t fresh = 0;
  for (const auto& item : items) fresh += impl_->live.contains(item.first) ? 0 : 1;
  if (graph.cur_element_count + fresh > graph.max_elements_) {
    graph.resizeIndex(std::max(graph.max_elements_ * 2, graph.cur_element_count + fresh));
  }
  const size_t threads = fresh < kParallelBatch ? 1 : std::max(1u, std::thread::hardware_concurrency());
  // hnswlib supports concurrent addPoint for distinct labels once capacity is reserved.
  std::atomic<size_t> next{0};
  auto insert = [&] {
    for (size_t i = next++; i < items.size(); i = next++) {
      graph.addPoint(items[i].second, static_cast<hnswlib::labeltype>(items[i].first));
    }
  };
  if (threads == 1) {
    insert();
  } else {
    std::vector<std::jthread> workers;
    for (size_t t = 0; t < threads; ++t) workers.emplace_back(insert);
  }
  for (const auto& item : items) impl_->live.insert(item.first);
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
