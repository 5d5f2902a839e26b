// The only translation unit that includes hnswlib: its header defines non-inline functions, so a
// second includer would break the link (see DEPENDENCIES.md).
#include <hnswlib/hnswlib.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
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

// Vectors are held as IEEE half floats: the graph's inserts and searches are bound by fetching vectors
// from memory (a 512-dimension float vector is 32 cache lines, fetched at random), so halving them more
// than doubles the speed of a distance, and halves the index's memory. A half keeps 11 significant bits,
// about 3 decimal digits; on unit vectors that moves a similarity by well under 0.001, far below the
// gaps that decide a ranking.
using Half = uint16_t;

#if defined(__x86_64__)
// AVX2 + FMA + F16C (every x86-64 CPU since about 2013), chosen at run time so one binary runs anywhere.
__attribute__((target("avx2,fma,f16c"))) float inner_product_distance_avx2(const void* a_ptr,
                                                                           const void* b_ptr,
                                                                           const void* dim_ptr) {
  const auto* a = static_cast<const Half*>(a_ptr);
  const auto* b = static_cast<const Half*>(b_ptr);
  const size_t dim = *static_cast<const size_t*>(dim_ptr);
  // Two independent sums, so consecutive multiply-adds do not wait for each other.
  __m256 sum0 = _mm256_setzero_ps();
  __m256 sum1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const auto* a8 = reinterpret_cast<const __m128i*>(a + i);
    const auto* b8 = reinterpret_cast<const __m128i*>(b + i);
    sum0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(a8)), _mm256_cvtph_ps(_mm_loadu_si128(b8)), sum0);
    sum1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(a8 + 1)), _mm256_cvtph_ps(_mm_loadu_si128(b8 + 1)),
                           sum1);
  }
  const __m256 sum8 = _mm256_add_ps(sum0, sum1);
  __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(sum8), _mm256_extractf128_ps(sum8, 1));
  sum4 = _mm_hadd_ps(sum4, sum4);
  sum4 = _mm_hadd_ps(sum4, sum4);
  float sum = _mm_cvtss_f32(sum4);
  for (; i < dim; ++i) sum += _cvtsh_ss(a[i]) * _cvtsh_ss(b[i]);
  return 1.0f - sum;
}

__attribute__((target("f16c"))) void to_halves_f16c(const float* in, Half* out, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < count; ++i) out[i] = _cvtss_sh(in[i], _MM_FROUND_TO_NEAREST_INT);
}

// clang 14 (the fuzzing build) knows no "f16c" for __builtin_cpu_supports, so that bit comes from
// CPUID leaf 1 itself; the builtin's AVX2 check already includes the OS saving the YMM registers.
bool has_avx2_fma_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
  return f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

// The portable path, for CPUs without F16C, converts by hand (not with _Float16, which the fuzzing
// build's clang lacks on x86).
float half_to_float(Half half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

Half float_to_half(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<Half>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) return sign | (magnitude > 0x7f800000u ? 0x7e00u : 0x7c00u);  // NaN, inf
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // rounds past the largest half: inf
  if (magnitude < 0x38800000u) {                        // below 2^-14: a subnormal half, nearest even
    return sign | static_cast<Half>(std::nearbyint(std::fabs(value) * 0x1p24f));
  }
  // Re-bias the exponent and keep 10 mantissa bits, rounding to nearest even (a carry moves the exponent).
  const uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
  return sign | static_cast<Half>((rounded - 0x38000000u) >> 13);
}

float inner_product_distance_portable(const void* a_ptr, const void* b_ptr, const void* dim_ptr) {
  const auto* a = static_cast<const Half*>(a_ptr);
  const auto* b = static_cast<const Half*>(b_ptr);
  const size_t dim = *static_cast<const size_t*>(dim_ptr);
  float sum = 0.0f;
  for (size_t i = 0; i < dim; ++i) sum += half_to_float(a[i]) * half_to_float(b[i]);
  return 1.0f - sum;
}

void to_halves_portable(const float* in, Half* out, size_t count) {
  for (size_t i = 0; i < count; ++i) out[i] = float_to_half(in[i]);
}

class InnerProductSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit InnerProductSpace(size_t dim) : dim_(dim) {
#if defined(__x86_64__)
    if (has_avx2_fma_f16c()) {
      distance_ = inner_product_distance_avx2;
      convert_ = to_halves_f16c;
    }
#endif
  }
  size_t get_data_size() override {
    return dim_ * sizeof(Half);
  }
  hnswlib::DISTFUNC<float> get_dist_func() override {
    return distance_;
  }
  void* get_dist_func_param() override {
    return &dim_;
  }
  size_t dimension() const {
    return dim_;
  }

  // The index's form of a vector.
  std::vector<Half> halves(const float* vector) const {
    std::vector<Half> out(dim_);
    convert_(vector, out.data(), dim_);
    return out;
  }

 private:
  size_t dim_;
  hnswlib::DISTFUNC<float> distance_ = inner_product_distance_portable;
  void (*convert_)(const float*, Half*, size_t) = to_halves_portable;
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
  return impl_->space.dimension();
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
  graph.addPoint(impl_->space.halves(vector).data(), static_cast<hnswlib::labeltype>(id));
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
      graph.addPoint(impl_->space.halves(items[i].second).data(),
                     static_cast<hnswlib::labeltype>(items[i].first));
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
  const auto query_halves = impl_->space.halves(query);
  // Without filter support in this hnswlib, a filter is applied to a widening candidate list.
  for (size_t want = allow ? std::min(total, k * 4) : std::min(total, k);; want = std::min(total, want * 4)) {
    auto queue = impl_->graph->searchKnn(query_halves.data(), want);
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
  if (graph.label_offset_ - graph.offsetData_ != dimension * sizeof(Half)) {
    return Error::unavailable(fmt::format("index {} has another dimension or vector format", path.string()));
  }
  graph.setEf(kEfSearch);
  for (const auto& [label, internal] : graph.label_lookup_) {
    if (!graph.isMarkedDeleted(internal)) index.impl_->live.insert(static_cast<int64_t>(label));
  }
  return index;
}

}  // namespace brandcoach::index
