// The admin API's analytics, computed from what the store keeps: every reply's route, timings, tokens
// and cost, every user's thread, and the usage ledger.
#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "brandcoach/obs/obs.hpp"
#include "brandcoach/store/store.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::obs {

namespace {

using json = nlohmann::json;

constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kWeekMs = 7 * kDayMs;
constexpr int kAssistants = 5;  // diagnostic, avatar, canvas, capture, core

// The engagement score's weights (the seed's _calculate_engagement_score).
constexpr double kFrequencyWeight = 0.3;
constexpr double kDepthWeight = 0.3;
constexpr double kDiversityWeight = 0.2;
constexpr double kReturnWeight = 0.2;
// What earns a factor its full 100: three sessions a week, ten messages a session.
constexpr double kFullSessionsPerWeek = 3;
constexpr double kFullTurnsPerSession = 10;

json percentiles(std::vector<double> values) {
  if (values.empty())
    return {{"count", 0}, {"p50", nullptr}, {"p95", nullptr}, {"p99", nullptr}, {"mean", nullptr}};
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (const double v : values) sum += v;
  return {{"count", values.size()},
          {"p50", round_to(percentile(values, 50), 0.1)},
          {"p95", round_to(percentile(values, 95), 0.1)},
          {"p99", round_to(percentile(values, 99), 0.1)},
          {"mean", round_to(sum / static_cast<double>(values.size()), 0.1)}};
}

json shares(const std::map<std::string, int64_t>& counts) {
  int64_t total = 0;
  for (const auto& [_, n] : counts) total += n;
  json out = json::object();
  for (const auto& [name, n] : counts)
    out[name] = {{"count", n},
                 {"share", total > 0 ? static_cast<double>(n) / static_cast<double>(total) : 0.0}};
  return out;
}

std::string day_of(int64_t unix_ms) {
  return iso_time(unix_ms).substr(0, 10);
}

// The most frequent content words of a session's messages, each shown as its most common spelling.
std::vector<std::string> top_topics(const std::vector<std::string_view>& texts, size_t n) {
  struct Term {
    int64_t count = 0;
    std::map<std::string, int64_t> spellings;
  };
  std::map<std::string, Term> terms;
  for (const auto text : texts) {
    for (const auto& word : text::words(text)) {
      if (word.size() < 4 || text::is_stopword(word)) continue;
      if (std::all_of(word.begin(), word.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
        continue;
      auto& term = terms[text::stem(word)];
      ++term.count;
      ++term.spellings[word];
    }
  }
  std::vector<std::pair<int64_t, std::string>> ranked;
  for (const auto& [stem, term] : terms) {
    const auto best = std::max_element(term.spellings.begin(), term.spellings.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
    ranked.emplace_back(term.count, best->first);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < ranked.size() && i < n; ++i) out.push_back(ranked[i].second);
  return out;
}

struct Session {
  int64_t number = 0;
  int64_t started_at = 0;
  int64_t ended_at = 0;
  int64_t user_turns = 0;
  std::map<std::string, int64_t> assistants;
  std::vector<std::string_view> user_texts;
};

json route_of(const store::ReplyRecord& reply) {
  auto route = parse_json(reply.route_json);
  return route.is_object() ? route : json::object();
}

}  // namespace

double round_to(double value, double step) {
  return std::round(value / step) * step;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

json user_journey(const std::vector<store::Message>& thread, int64_t now_ms) {
  std::map<int64_t, Session> by_number;
  std::map<std::string, int64_t> assistant_use;
  for (const auto& m : thread) {
    auto& s = by_number[m.session_no];
    if (s.number == 0) {
      s.number = m.session_no;
      s.started_at = m.created_at;
    }
    s.started_at = std::min(s.started_at, m.created_at);
    s.ended_at = std::max(s.ended_at, m.created_at);
    if (m.role == "user") {
      ++s.user_turns;
      s.user_texts.push_back(m.text);
    } else if (m.role == "assistant" && !m.assistant.empty()) {
      ++s.assistants[m.assistant];
      ++assistant_use[m.assistant];
    }
  }
  std::vector<Session> sessions;
  for (auto& [_, s] : by_number) sessions.push_back(std::move(s));

  json session_list = json::array();
  json progression = json::array();
  double total_minutes = 0;
  int64_t total_turns = 0;
  int64_t returns = 0;
  for (size_t i = 0; i < sessions.size(); ++i) {
    const auto& s = sessions[i];
    const double minutes = static_cast<double>(s.ended_at - s.started_at) / static_cast<double>(kMinuteMs);
    total_minutes += minutes;
    total_turns += s.user_turns;
    if (i > 0 && day_of(s.started_at) != day_of(sessions[i - 1].started_at)) ++returns;
    std::string main_assistant;
    int64_t most = 0;
    for (const auto& [assistant, n] : s.assistants) {
      if (n > most) {
        most = n;
        main_assistant = assistant;
      }
    }
    const auto topics = top_topics(s.user_texts, 3);
    session_list.push_back({{"session", s.number},
                            {"started_at", iso_time(s.started_at)},
                            {"ended_at", iso_time(s.ended_at)},
                            {"user_turns", s.user_turns},
                            {"minutes", round_to(minutes, 0.1)},
                            {"assistants", s.assistants}});
    progression.push_back({{"session", s.number},
                           {"started_at", iso_time(s.started_at)},
                           {"assistant", main_assistant.empty() ? json(nullptr) : json(main_assistant)},
                           {"topics", topics}});
  }

  const double n = static_cast<double>(sessions.size());
  json factors = {{"session_frequency", 0.0},
                  {"depth_of_interaction", 0.0},
                  {"topic_diversity", 0.0},
                  {"return_rate", 0.0}};
  double score = 0;
  if (!sessions.empty()) {
    const int64_t span = std::max<int64_t>(now_ms - sessions.front().started_at, 0);
    const double weeks = std::max(1.0, static_cast<double>(span) / static_cast<double>(kWeekMs));
    const double frequency = std::min(100.0, n / weeks / kFullSessionsPerWeek * 100.0);
    const double depth = std::min(100.0, static_cast<double>(total_turns) / n / kFullTurnsPerSession * 100.0);
    const double diversity =
        std::min(100.0, static_cast<double>(assistant_use.size()) / static_cast<double>(kAssistants) * 100.0);
    const double return_rate = sessions.size() > 1 ? static_cast<double>(returns) / (n - 1) * 100.0 : 0.0;
    factors = {{"session_frequency", round_to(frequency, 0.1)},
               {"depth_of_interaction", round_to(depth, 0.1)},
               {"topic_diversity", round_to(diversity, 0.1)},
               {"return_rate", round_to(return_rate, 0.1)}};
    score = kFrequencyWeight * frequency + kDepthWeight * depth + kDiversityWeight * diversity +
            kReturnWeight * return_rate;
  }
  return {{"total_sessions", sessions.size()},
          {"total_messages", thread.size()},
          {"first_seen", thread.empty() ? json(nullptr) : json(iso_time(thread.front().created_at))},
          {"last_seen", thread.empty() ? json(nullptr) : json(iso_time(thread.back().created_at))},
          {"avg_session_length",
           {{"user_turns", sessions.empty() ? 0.0 : round_to(static_cast<double>(total_turns) / n, 0.01)},
            {"minutes", sessions.empty() ? 0.0 : round_to(total_minutes / n, 0.1)}}},
          {"assistant_preferences", shares(assistant_use)},
          {"topic_progression", std::move(progression)},
          {"sessions", std::move(session_list)},
          {"engagement_score", round_to(std::clamp(score, 0.0, 100.0), 0.1)},
          {"engagement_factors", std::move(factors)},
          {"engagement_weights",
           {{"session_frequency", kFrequencyWeight},
            {"depth_of_interaction", kDepthWeight},
            {"topic_diversity", kDiversityWeight},
            {"return_rate", kReturnWeight}}}};
}

json routing_report(const std::vector<store::ReplyRecord>& replies) {
  std::map<std::string, int64_t> by_assistant;
  std::map<std::string, int64_t> by_method;
  std::array<int64_t, 10> confidence{};
  int64_t fallbacks = 0;
  int64_t decided = 0;
  double confidence_sum = 0;
  for (const auto& r : replies) {
    ++by_assistant[r.assistant];
    const auto route = route_of(r);
    const std::string method = route.value("method", std::string("unknown"));
    ++by_method[method];
    // Below the confidence threshold a message goes to the fallback assistant (core).
    if (method == "fallback") ++fallbacks;
    if (route.contains("confidence") && route["confidence"].is_number()) {
      const double c = std::clamp(route["confidence"].get<double>(), 0.0, 1.0);
      ++confidence[std::min<size_t>(9, static_cast<size_t>(c * 10))];
      confidence_sum += c;
      ++decided;
    }
  }
  json histogram = json::array();
  for (size_t i = 0; i < confidence.size(); ++i) {
    histogram.push_back({{"from", round_to(static_cast<double>(i) / 10, 0.1)},
                         {"to", round_to(static_cast<double>(i + 1) / 10, 0.1)},
                         {"count", confidence[i]}});
  }
  const auto total = static_cast<int64_t>(replies.size());
  return {
      {"turns", total},
      {"distribution", shares(by_assistant)},
      {"methods", shares(by_method)},
      {"confidence_histogram", std::move(histogram)},
      {"mean_confidence",
       decided > 0 ? json(round_to(confidence_sum / static_cast<double>(decided), 0.001)) : json(nullptr)},
      {"fallbacks", fallbacks},
      {"fallback_rate",
       total > 0 ? json(static_cast<double>(fallbacks) / static_cast<double>(total)) : json(nullptr)}};
}

json latency_report(const std::vector<store::ReplyRecord>& replies, int64_t now_ms) {
  constexpr std::array<std::pair<std::string_view, int64_t>, 4> kWindows = {
      {{"5m", 5 * kMinuteMs}, {"1h", kHourMs}, {"24h", kDayMs}, {"7d", kWeekMs}}};
  json windows = json::object();
  for (const auto& [name, span] : kWindows) {
    std::vector<double> all;
    std::map<std::string, std::vector<double>> by_assistant;
    for (const auto& r : replies) {
      if (r.created_at < now_ms - span || r.total_ms <= 0) continue;
      all.push_back(r.total_ms);
      by_assistant[r.assistant].push_back(r.total_ms);
    }
    json per_assistant = json::object();
    for (auto& [assistant, values] : by_assistant) per_assistant[assistant] = percentiles(std::move(values));
    windows[std::string(name)] = {{"all", percentiles(std::move(all))},
                                  {"by_assistant", std::move(per_assistant)}};
  }
  // Hour by hour over the last day, for a trend line.
  json hourly = json::array();
  const int64_t this_hour = now_ms - now_ms % kHourMs;
  for (int64_t h = 23; h >= 0; --h) {
    const int64_t from = this_hour - h * kHourMs;
    std::vector<double> values;
    for (const auto& r : replies) {
      if (r.created_at >= from && r.created_at < from + kHourMs && r.total_ms > 0)
        values.push_back(r.total_ms);
    }
    json entry = percentiles(std::move(values));
    entry["hour"] = iso_time(from);
    hourly.push_back(std::move(entry));
  }
  return {{"unit", "ms"}, {"windows", std::move(windows)}, {"hourly", std::move(hourly)}};
}

json cost_report(const std::vector<store::UsageTotal>& usage, const std::vector<store::ReplyRecord>& replies,
                 int64_t now_ms) {
  double total = 0;
  int64_t tokens = 0;
  std::map<std::string, double> by_user;
  std::map<std::string, double> by_assistant;
  std::map<std::string, double> by_day;
  for (const auto& u : usage) {
    total += u.cost_usd;
    tokens += u.input_tokens + u.output_tokens;
    by_user[u.user] += u.cost_usd;
    by_assistant[u.assistant] += u.cost_usd;
    by_day[u.day] += u.cost_usd;
  }
  std::set<std::pair<int64_t, int64_t>> conversations;
  double reply_cost = 0;
  for (const auto& r : replies) {
    conversations.insert({r.user_id, r.session_no});
    reply_cost += r.cost_usd;
  }
  // The month so far, and the rest of it at the average daily cost of its days so far.
  const std::string today = day_of(now_ms);
  const std::string month = today.substr(0, 7);
  double month_to_date = 0;
  for (const auto& [day, usd] : by_day) {
    if (day.starts_with(month)) month_to_date += usd;
  }
  const int day_of_month = std::stoi(today.substr(8, 2));
  const int year = std::stoi(today.substr(0, 4));
  const int month_number = std::stoi(today.substr(5, 2));
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int days_in_month =
      kDays[static_cast<size_t>(month_number - 1)] + (month_number == 2 && leap ? 1 : 0);
  const double projected = month_to_date / day_of_month * days_in_month;

  std::vector<std::pair<std::string, double>> users(by_user.begin(), by_user.end());
  std::sort(users.begin(), users.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  json top_users = json::array();
  for (size_t i = 0; i < users.size() && i < 20; ++i)
    top_users.push_back({{"user", users[i].first}, {"cost_usd", users[i].second}});
  json daily = json::array();
  for (const auto& [day, usd] : by_day) daily.push_back({{"day", day}, {"cost_usd", usd}});
  const auto conversation_count = static_cast<double>(conversations.size());
  return {{"currency", "USD"},
          {"total_usd", total},
          {"tokens", tokens},
          {"users", by_user.size()},
          {"per_user_avg_usd",
           by_user.empty() ? json(nullptr) : json(total / static_cast<double>(by_user.size()))},
          {"top_users", std::move(top_users)},
          {"per_assistant_usd", by_assistant},
          {"conversations", conversations.size()},
          {"per_conversation_avg_usd",
           conversations.empty() ? json(nullptr) : json(reply_cost / conversation_count)},
          {"daily", std::move(daily)},
          {"month", month},
          {"month_to_date_usd", month_to_date},
          {"projected_month_usd", projected}};
}

json memory_report(const std::map<std::string, int64_t>& facts_by_status,
                   const std::vector<ProbeResult>& probes, const std::vector<store::ReplyRecord>& replies,
                   const std::vector<std::pair<std::string, uint64_t>>& operations) {
  int64_t stored = 0;
  for (const auto& [_, n] : facts_by_status) stored += n;
  const auto rate = [](int64_t part, int64_t whole) {
    return whole > 0 ? json(static_cast<double>(part) / static_cast<double>(whole)) : json(nullptr);
  };
  int64_t found = 0;
  int64_t cross = 0;
  int64_t cross_found = 0;
  // Accuracy by the age of the fact asked about: a memory that decays answers old facts worse.
  constexpr std::array<std::pair<std::string_view, int64_t>, 4> kAges = {
      {{"under_1d", kDayMs}, {"1d_to_7d", kWeekMs}, {"7d_to_30d", 30 * kDayMs}, {"over_30d", INT64_MAX}}};
  std::array<std::pair<int64_t, int64_t>, 4> by_age{};  // found, asked
  for (const auto& p : probes) {
    found += p.found ? 1 : 0;
    if (p.cross_session) {
      ++cross;
      cross_found += p.found ? 1 : 0;
    }
    for (size_t i = 0; i < kAges.size(); ++i) {
      if (p.fact_age_ms < kAges[i].second) {
        by_age[i].first += p.found ? 1 : 0;
        ++by_age[i].second;
        break;
      }
    }
  }
  json decay = json::object();
  std::optional<double> youngest;
  std::optional<double> oldest;
  for (size_t i = 0; i < kAges.size(); ++i) {
    decay[std::string(kAges[i].first)] = {{"probes", by_age[i].second},
                                          {"accuracy", rate(by_age[i].first, by_age[i].second)}};
    if (by_age[i].second == 0) continue;
    const double accuracy = static_cast<double>(by_age[i].first) / static_cast<double>(by_age[i].second);
    if (!youngest) youngest = accuracy;
    oldest = accuracy;
  }
  int64_t asked = 0;
  int64_t answered = 0;
  for (const auto& r : replies) {
    if (r.memory_question != 1) continue;
    ++asked;
    answered += r.memory_used ? 1 : 0;
  }
  json ops = json::object();
  for (const auto& [labels, n] : operations) ops[labels] = n;
  json failed = json::array();
  for (auto it = probes.rbegin(); it != probes.rend() && failed.size() < 20; ++it) {
    if (!it->found)
      failed.push_back({{"at", iso_time(it->at_ms)},
                        {"fact_id", it->fact_id},
                        {"key", it->key},
                        {"question", it->question}});
  }
  return {
      {"total_facts_stored", stored},
      {"facts_by_status", facts_by_status},
      {"probes", probes.size()},
      {"fact_retrieval_accuracy", rate(found, static_cast<int64_t>(probes.size()))},
      {"cross_session_probes", cross},
      {"cross_session_retention", rate(cross_found, cross)},
      {"decay_by_fact_age", std::move(decay)},
      // How much worse the oldest facts asked about fare than the youngest (0: no decay).
      {"memory_decay_rate", youngest && oldest ? json(std::max(0.0, *youngest - *oldest)) : json(nullptr)},
      {"memory_questions", asked},
      {"memory_retention_rate", rate(answered, asked)},
      {"operations", std::move(ops)},
      {"recent_failed_probes", std::move(failed)}};
}

}  // namespace brandcoach::obs
