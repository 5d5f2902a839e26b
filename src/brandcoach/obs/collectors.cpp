// Samples computed when /metrics is scraped: what the store, the caches and the model upstreams know.
#include <array>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brandcoach/net/net.hpp"
#include "brandcoach/obs/obs.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::obs {

void collect_upstream(Exposition& out, std::string_view provider, const net::Upstream& upstream) {
  const auto counts = upstream.counts();
  const auto state = upstream.state();
  const double state_value = state == net::BreakerState::open        ? 2
                             : state == net::BreakerState::half_open ? 1
                                                                     : 0;
  out.family("brandcoach_llm_circuit_breaker_state", "gauge",
             "The model provider's circuit breaker: 0 closed, 1 half-open, 2 open.");
  out.sample("brandcoach_llm_circuit_breaker_state", {{"provider", provider}}, state_value);
  out.family("brandcoach_llm_queue_waiting", "gauge", "Model calls waiting for a free slot.");
  out.sample("brandcoach_llm_queue_waiting", {{"provider", provider}}, upstream.waiting());
  out.family("brandcoach_llm_in_flight", "gauge", "Model calls in flight.");
  out.sample("brandcoach_llm_in_flight", {{"provider", provider}}, upstream.in_flight());
  out.family("brandcoach_llm_requests_total", "counter", "Calls admitted to the model provider.");
  out.sample("brandcoach_llm_requests_total", {{"provider", provider}}, static_cast<double>(counts.calls));
  out.family("brandcoach_llm_retries_total", "counter",
             "Attempts beyond a call's first (429, 5xx, network errors).");
  out.sample("brandcoach_llm_retries_total", {{"provider", provider}}, static_cast<double>(counts.retries));
  out.family("brandcoach_llm_errors_total", "counter",
             "Calls that failed on the provider's side after their retries.");
  out.sample("brandcoach_llm_errors_total", {{"provider", provider}}, static_cast<double>(counts.failures));
  out.family("brandcoach_llm_rejected_total", "counter",
             "Calls refused before reaching the provider: breaker open, or no free slot.");
  out.sample("brandcoach_llm_rejected_total", {{"provider", provider}, {"reason", "breaker_open"}},
             static_cast<double>(counts.rejected_open));
  out.sample("brandcoach_llm_rejected_total", {{"provider", provider}, {"reason", "queue_full"}},
             static_cast<double>(counts.rejected_busy));
}

StoreGauges::StoreGauges(store::Store& store, int64_t max_age_ms) : store_(store), max_age_ms_(max_age_ms) {}

void StoreGauges::collect(Exposition& out) {
  std::lock_guard lock(mutex_);
  const int64_t now = unix_millis();
  if (read_at_ms_ < 0 || now - read_at_ms_ >= max_age_ms_) {
    Exposition fresh;
    constexpr std::array<std::pair<std::string_view, int64_t>, 3> kWindows = {
        {{"5m", 5 * 60 * 1000}, {"1h", 60 * 60 * 1000}, {"24h", 24 * 60 * 60 * 1000}}};
    std::vector<int64_t> since;
    for (const auto& [name, span] : kWindows) since.push_back(now - span);
    if (auto activity = store_.activity(since)) {
      fresh.family("brandcoach_active_users", "gauge", "Users who had a reply within the window.");
      for (size_t i = 0; i < kWindows.size(); ++i)
        fresh.sample("brandcoach_active_users", {{"window", kWindows[i].first}},
                     static_cast<double>(activity->users_active[i]));
      fresh.family("brandcoach_facts", "gauge", "Stored fact versions by status.");
      for (const std::string_view status : {"active", "pending_confirmation", "superseded", "rejected"}) {
        const auto it = activity->facts_by_status.find(std::string(status));
        fresh.sample("brandcoach_facts", {{"status", status}},
                     it == activity->facts_by_status.end() ? 0.0 : static_cast<double>(it->second));
      }
    } else {
      spdlog::warn("metrics: cannot read activity: {}", activity.error().message);
    }
    if (auto pending = store_.pending_extraction_jobs()) {
      fresh.family("brandcoach_extraction_queue_depth", "gauge",
                   "Messages waiting for model fact extraction.");
      fresh.sample("brandcoach_extraction_queue_depth", {}, static_cast<double>(*pending));
    }
    if (auto stores = store_.list_knowledge_stores()) {
      std::erase_if(*stores, [](const store::KnowledgeStore& s) { return s.kind != "knowledge"; });
      fresh.family("brandcoach_knowledge_store_files", "gauge", "Files in each knowledge store.");
      for (const auto& s : *stores)
        fresh.sample("brandcoach_knowledge_store_files", {{"store", s.name}}, static_cast<double>(s.files));
      fresh.family("brandcoach_knowledge_store_chunks", "gauge", "Chunks in each knowledge store.");
      for (const auto& s : *stores)
        fresh.sample("brandcoach_knowledge_store_chunks", {{"store", s.name}}, static_cast<double>(s.chunks));
      fresh.family("brandcoach_knowledge_store_bytes", "gauge", "Bytes of text in each knowledge store.");
      for (const auto& s : *stores)
        fresh.sample("brandcoach_knowledge_store_bytes", {{"store", s.name}}, static_cast<double>(s.bytes));
    }
    text_ = fresh.take();
    read_at_ms_ = now;
  }
  out.append(text_);
}

}  // namespace brandcoach::obs
