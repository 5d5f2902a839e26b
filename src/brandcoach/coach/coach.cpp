#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "brandcoach/coach/coach.hpp"
#include "brandcoach/memory/memory.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::coach {

namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

double round_ms(double ms) {
  return std::round(ms * 1000.0) / 1000.0;
}

}  // namespace

nlohmann::json to_json(const route::Decision& decision) {
  return {{"assistant", decision.assistant}, {"confidence", decision.confidence},
          {"method", decision.method},       {"fallback", decision.fallback},
          {"secondary", decision.secondary}, {"reasoning", decision.reasoning}};
}

nlohmann::json to_json(const Citation& citation) {
  return {{"store", citation.store},
          {"file", citation.file},
          {"chunk", citation.chunk},
          {"heading", citation.heading},
          {"snippet", citation.snippet}};
}

nlohmann::json to_json(const TurnResult& result) {
  nlohmann::json citations = nlohmann::json::array();
  for (const auto& c : result.citations) citations.push_back(to_json(c));
  nlohmann::json timings = nlohmann::json::object();
  for (const auto& [stage, ms] : result.timings_ms) timings[stage] = round_ms(ms);
  return {{"reply", result.reply},
          {"assistant", result.assistant},
          {"route", to_json(result.route)},
          {"citations", std::move(citations)},
          {"usage",
           {{"input_tokens", result.usage.input_tokens},
            {"output_tokens", result.usage.output_tokens},
            {"total_tokens", result.usage.input_tokens + result.usage.output_tokens}}},
          {"timings_ms", std::move(timings)},
          {"thread",
           {{"message_seq", result.message_seq},
            {"reply_seq", result.reply_seq},
            {"session", result.session_no}}}};
}

Status validate_user_id(std::string_view user) {
  if (user.empty() || user.size() > 128) return Error::invalid("user id must be 1 to 128 characters", "user");
  for (const char c : user) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '.' && c != '_' && c != '@' && c != '+' && c != '-') {
      return Error::invalid("user id may contain only letters, digits and . _ @ + -", "user");
    }
  }
  return ok();
}

Status validate_message(std::string_view message) {
  if (message.size() > kMaxMessageBytes) {
    return Error{ErrorKind::payload_too_large,
                 fmt::format("message is longer than {} bytes", kMaxMessageBytes), "message"};
  }
  if (!text::is_valid_utf8(message)) return Error::invalid("message is not valid UTF-8", "message");
  if (message.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Error::invalid("message must not be empty", "message");
  }
  return ok();
}

Coach::Coach(store::Store& store, index::Retriever& retriever, const route::Router& router,
             llm::LlmProvider& provider, AssistantRegistry assistants, CoachOptions options)
    : store_(store),
      retriever_(retriever),
      router_(router),
      provider_(provider),
      assistants_(std::move(assistants)),
      options_(options) {}

Result<TurnResult> Coach::turn(std::string_view user_id, std::string_view message, const TurnEvents& events) {
  const auto started = Clock::now();
  if (auto status = validate_user_id(user_id); !status) return status.error();
  if (auto status = validate_message(message); !status) return status.error();
  TurnResult result;

  // 1. Load context and make the user's message durable before any answer work.
  auto stage = Clock::now();
  auto user = store_.ensure_user(user_id);
  if (!user) return user.error();
  auto recent = store_.recent_messages(user->id, std::max(options_.recent_turns, 1));
  if (!recent) return recent.error();
  const int64_t now = unix_millis();
  int64_t session_no = 1;
  if (!recent->empty()) {
    const auto& last = recent->back();
    session_no = last.session_no + (now - last.created_at > options_.idle_gap_ms ? 1 : 0);
  }
  store::Message incoming;
  incoming.user_id = user->id;
  incoming.role = "user";
  incoming.text = std::string(message);
  incoming.created_at = now;
  incoming.session_no = session_no;
  auto stored = store_.append_message(std::move(incoming));
  if (!stored) return stored.error();
  result.message_seq = stored->seq;
  result.session_no = session_no;
  std::string user_name = user->display_name;
  if (auto name = memory::introduced_name(message); name && *name != user_name) {
    if (auto status = store_.set_display_name(user->id, *name); !status) return status.error();
    user_name = *name;
  }
  result.timings_ms["load"] = elapsed_ms(stage);

  // 2. Route.
  stage = Clock::now();
  // Only this session's messages are context: after a long gap a short message starts afresh.
  std::vector<route::Turn> history;
  for (const auto& earlier : *recent) {
    if (earlier.session_no == session_no) history.push_back({earlier.role, earlier.text, earlier.assistant});
  }
  result.route = router_.route({message, history});
  const Assistant* assistant = assistants_.find(result.route.assistant);
  if (!assistant) return Error::internal("router chose unknown assistant " + result.route.assistant);
  result.assistant = assistant->id;
  result.timings_ms["route"] = elapsed_ms(stage);
  if (events.on_route) events.on_route(result.route);

  // 3. Retrieve from the assistant's knowledge store.
  stage = Clock::now();
  index::Query query;
  query.text = std::string(message);
  query.stores = {assistant->knowledge_store};
  query.limit = options_.top_k;
  query.mode = options_.retrieval_mode;
  query.lexical_weight = options_.lexical_weight;
  query.dense_weight = options_.dense_weight;
  auto passages = retriever_.retrieve(query);
  if (!passages) return passages.error();
  result.timings_ms["retrieve"] = elapsed_ms(stage);

  // 4. Generate.
  stage = Clock::now();
  llm::Prompt prompt;
  prompt.assistant = assistant->id;
  prompt.assistant_title = assistant->title;
  prompt.instructions = assistant->instructions;
  prompt.intro = assistant->intro;
  prompt.user_message = std::string(message);
  prompt.user_name = user_name;
  prompt.next_steps = assistant->next_steps;
  for (const auto& p : *passages) prompt.sources.push_back({p.store, p.filename, p.heading, p.text});
  for (const auto& m : *recent) {
    if (m.role == "assistant") prompt.earlier_replies.push_back(m.text);
  }
  auto completion =
      provider_.generate(prompt, {assistant->temperature, assistant->max_output_tokens}, events.on_delta);
  if (!completion) return completion.error();
  result.reply = completion->text;
  result.usage = completion->usage;
  for (const auto& c : completion->citations) {
    const auto& p = (*passages)[c.source_index];
    result.citations.push_back({p.store, p.filename, p.chunk_id, p.heading, c.snippet});
  }
  result.timings_ms["generate"] = elapsed_ms(stage);

  // 5. Persist the reply with how it was made.
  stage = Clock::now();
  store::Message reply;
  reply.user_id = user->id;
  reply.role = "assistant";
  reply.text = result.reply;
  reply.assistant = result.assistant;
  reply.route_json = to_json(result.route).dump();
  nlohmann::json citations = nlohmann::json::array();
  for (const auto& c : result.citations) citations.push_back(to_json(c));
  reply.citations_json = citations.dump();
  result.timings_ms["total"] = elapsed_ms(started);
  nlohmann::json timings = nlohmann::json::object();
  for (const auto& [name, ms] : result.timings_ms) timings[name] = round_ms(ms);
  reply.usage_json = nlohmann::json{
      {"input_tokens", result.usage.input_tokens},
      {"output_tokens", result.usage.output_tokens},
      {"provider", completion->provider},
      {"model", completion->model},
      {"timings_ms",
       timings}}.dump();
  reply.session_no = session_no;
  auto saved = store_.append_message(
      std::move(reply),
      store::UsageTally{result.assistant, result.usage.input_tokens, result.usage.output_tokens, 0});
  if (!saved) return saved.error();
  result.reply_seq = saved->seq;
  result.timings_ms["persist"] = elapsed_ms(stage);
  result.timings_ms["total"] = elapsed_ms(started);
  return result;
}

}  // namespace brandcoach::coach
