// Memory self-tests: stored facts asked about the way a user would ask, through the same recall the
// coach answers with, so the accuracy reported is the accuracy users get.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "brandcoach/memory/memory.hpp"
#include "brandcoach/obs/obs.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::obs {

namespace {

constexpr int kUsersPerPage = 50;

std::string lowercase_first(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}

}  // namespace

std::string probe_question(std::string_view key) {
  const std::string label = lowercase_first(memory::key_label(key));
  if (key.starts_with("person:")) return fmt::format("Remind me who my {} is.", label);
  return fmt::format("Remind me what I told you about my {}.", label);
}

MemoryProber::MemoryProber(store::Store& store, memory::Memory& memory, Metrics* metrics, Options options)
    : store_(store), memory_(memory), metrics_(metrics), options_(options) {}

Status MemoryProber::run_once() {
  std::string cursor;
  {
    std::lock_guard lock(mutex_);
    cursor = next_user_;
  }
  std::vector<ProbeResult> done;
  std::set<std::string> seen;  // users probed this run: meeting one again means the run went all round
  bool wrapped = false;
  bool round = false;
  while (!round && static_cast<int>(done.size()) < options_.facts_per_run) {
    auto users = store_.list_users(cursor, kUsersPerPage);
    if (!users) return users.error();
    if (users->empty()) {
      if (wrapped) break;
      wrapped = true;
      cursor.clear();
      continue;
    }
    for (const auto& summary : *users) {
      if (!seen.insert(summary.user).second) {
        round = true;
        break;
      }
      cursor = summary.user;
      if (summary.active_facts == 0) continue;
      auto probed = probe_user(summary.user, options_.facts_per_run - static_cast<int>(done.size()));
      if (!probed) return probed.error();
      for (auto& p : *probed) done.push_back(std::move(p));
      if (static_cast<int>(done.size()) >= options_.facts_per_run) break;
    }
  }
  std::lock_guard lock(mutex_);
  next_user_ = cursor;
  for (auto& p : done) results_.push_back(std::move(p));
  while (results_.size() > options_.keep) results_.pop_front();
  return ok();
}

Result<std::vector<ProbeResult>> MemoryProber::probe_user(const std::string& external_id, int limit) {
  std::vector<ProbeResult> done;
  auto user = store_.find_user(external_id);
  if (!user) return user.error();
  if (!*user) return done;
  auto facts = store_.list_facts((*user)->id, false);
  if (!facts) return facts.error();
  auto latest = store_.recent_messages((*user)->id, 1);
  if (!latest) return latest.error();
  const int64_t latest_session = latest->empty() ? 0 : latest->front().session_no;
  for (const auto& fact : *facts) {
    if (fact.status != "active") continue;
    if (static_cast<int>(done.size()) >= limit) break;
    ProbeResult probe;
    probe.at_ms = unix_millis();
    probe.user_id = fact.user_id;
    probe.fact_id = fact.id;
    probe.key = fact.key;
    probe.question = probe_question(fact.key);
    probe.fact_age_ms = std::max<int64_t>(0, probe.at_ms - fact.created_at);
    if (auto source = store_.messages_by_id(fact.user_id, {fact.source_message_id});
        source && !source->empty())
      probe.cross_session = source->front().session_no < latest_session;
    const auto request = memory::recall_request(probe.question);
    auto recalled = memory_.recall(fact.user_id, request, probe.question, 0);
    if (!recalled) {
      if (metrics_) metrics_->count_memory_operation("probe", "error");
      return recalled.error();
    }
    const std::string wanted = memory::comparable(fact.value);
    probe.found =
        std::any_of(recalled->facts.begin(), recalled->facts.end(), [&](const memory::RecalledFact& r) {
          return r.current.id == fact.id ||
                 (r.current.key == fact.key && memory::comparable(r.current.value) == wanted);
        });
    if (metrics_) metrics_->count_memory_operation("probe", probe.found ? "ok" : "fail");
    done.push_back(std::move(probe));
  }
  return done;
}

std::vector<ProbeResult> MemoryProber::results() const {
  std::lock_guard lock(mutex_);
  return {results_.begin(), results_.end()};
}

std::optional<double> MemoryProber::accuracy(size_t n) const {
  std::lock_guard lock(mutex_);
  if (results_.empty()) return std::nullopt;
  size_t found = 0;
  size_t asked = 0;
  for (auto it = results_.rbegin(); it != results_.rend() && asked < n; ++it, ++asked)
    found += it->found ? 1 : 0;
  return static_cast<double>(found) / static_cast<double>(asked);
}

void MemoryProber::collect(Exposition& out) const {
  out.family("brandcoach_memory_probe_accuracy", "gauge",
             "Share of the last memory self-test probes that found the stored fact they asked about.");
  if (const auto found = accuracy()) out.sample("brandcoach_memory_probe_accuracy", {}, *found);
}

}  // namespace brandcoach::obs
