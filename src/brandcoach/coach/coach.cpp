#include <chrono>
#include <cmath>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brandcoach/coach/coach.hpp"
#include "brandcoach/memory/memory.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::coach {

namespace {

using Clock = std::chrono::steady_clock;

// How many of the latest messages are read to know which next-step questions were already asked.
constexpr int kRepliesScanned = 40;

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
  return {{"number", citation.number}, {"store", citation.store},     {"file", citation.file},
          {"chunk", citation.chunk},   {"heading", citation.heading}, {"snippet", citation.snippet}};
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
            {"total_tokens", result.usage.input_tokens + result.usage.output_tokens},
            {"cost_usd", result.cost_usd}}},
          {"provider", result.provider},
          {"model", result.model},
          {"degraded", result.degraded},
          {"notice", result.degraded ? nlohmann::json(result.notice) : nlohmann::json(nullptr)},
          {"cached", result.cached.empty() ? nlohmann::json(nullptr) : nlohmann::json(result.cached)},
          {"timings_ms", std::move(timings)},
          {"memory_used", result.memory_used},
          {"facts_changed", result.facts_changed.is_null() ? nlohmann::json::object() : result.facts_changed},
          {"context", result.context.is_null() ? nlohmann::json::object() : result.context},
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
      options_(options),
      memory_(store, memory::MemoryOptions{options.summary_every}) {}

Status Coach::start_new_session(std::string_view user_id) {
  if (auto status = validate_user_id(user_id); !status) return status;
  auto user = store_.ensure_user(user_id);
  if (!user) return user.error();
  return store_.request_new_session(user->id);
}

namespace {

std::string fact_line(const store::Fact& fact) {
  return memory::key_label(fact.key) + ": " + fact.value;
}

nlohmann::json fact_change_json(const store::Fact& fact) {
  return {{"id", fact.id}, {"key", fact.key}, {"value", fact.value}, {"status", fact.status}};
}

std::string excerpt(std::string_view text, size_t words) {
  std::string out;
  size_t pos = 0;
  size_t taken = 0;
  while (pos < text.size() && taken < words) {
    size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    out += (out.empty() ? "" : " ") + std::string(text.substr(pos, end - pos));
    pos = end + 1;
    ++taken;
  }
  if (pos < text.size()) out += " …";
  return out;
}

// The question that asks the user to settle a contradiction.
std::string confirmation_question(const store::Fact& pending, const std::vector<store::Fact>& facts) {
  std::string before;
  for (const auto& f : facts) {
    if (f.id == pending.supersedes_id) before = f.value;
  }
  const std::string label = memory::key_label(pending.key);
  if (before.empty()) return fmt::format("is your {} {}? Reply yes or no.", label, pending.value);
  return fmt::format("you told me your {} was {}, and now I read {}. Is it {} now? Reply yes or no.", label,
                     before, pending.value, pending.value);
}

}  // namespace

Result<std::vector<index::Passage>> Coach::search_files(const FileSearch& search, std::string_view message) {
  index::Query query;
  query.text = std::string(message);
  query.stores = search.stores;
  query.limit = search.max_num_results;
  query.mode = options_.retrieval_mode;
  query.lexical_weight = options_.lexical_weight;
  query.dense_weight = options_.dense_weight;
  query.filter = search.filter;
  auto found = retriever_.retrieve(query);
  if (!found) return found.error();
  std::vector<index::Passage> kept;
  for (auto& passage : *found) {
    const double score = index::relevance(passage, query);
    if (score < search.score_threshold) continue;
    passage.score = score;
    kept.push_back(std::move(passage));
  }
  return kept;
}

namespace {

// What the answer cache keeps of an answer: its text, citations and provenance (the usage of the
// call that made it is not repeated: a cached answer costs nothing).
std::string cacheable_answer(const llm::Completion& completion, const TurnResult& result) {
  nlohmann::json citations = nlohmann::json::array();
  for (const auto& c : result.citations) {
    citations.push_back({c.number, c.store, c.file, c.chunk, c.heading, c.snippet, c.file_id, c.external_id});
  }
  return nlohmann::json{{"text", completion.text},
                        {"provider", completion.provider},
                        {"model", completion.model},
                        {"citations", std::move(citations)}}
      .dump();
}

std::optional<llm::Completion> cached_completion(const std::string& answer_json,
                                                 std::vector<Citation>& citations) {
  const auto json = parse_json(answer_json);
  if (!json.is_object()) return std::nullopt;
  try {
    llm::Completion completion;
    completion.text = json.at("text");
    completion.provider = json.at("provider");
    completion.model = json.at("model");
    for (const auto& c : json.at("citations")) {
      citations.push_back({c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]});
    }
    return completion;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

nlohmann::json passage_json(const index::Passage& p) {
  return {p.chunk_id, p.file_id, p.store,           p.filename, p.external_id,  p.ordinal,   p.heading,
          p.page,     p.text,    p.attributes_json, p.score,    p.lexical_rank, p.dense_rank};
}

index::Passage passage_from(const nlohmann::json& j) {
  index::Passage p;
  p.chunk_id = j[0];
  p.file_id = j[1];
  p.store = j[2];
  p.filename = j[3];
  p.external_id = j[4];
  p.ordinal = j[5];
  p.heading = j[6];
  p.page = j[7];
  p.text = j[8];
  p.attributes_json = j[9];
  p.score = j[10];
  p.lexical_rank = j[11];
  p.dense_rank = j[12];
  return p;
}

route::Decision decision_from(const nlohmann::json& j) {
  route::Decision d;
  d.assistant = j.at("assistant");
  d.confidence = j.at("confidence");
  d.method = j.at("method");
  d.fallback = j.at("fallback");
  d.secondary = j.at("secondary");
  d.reasoning = j.at("reasoning");
  d.scores = j.at("scores").get<std::map<std::string, double>>();
  return d;
}

// Cache keys name everything the value was made from, hashed to a fixed length.
std::string content_key(std::string_view kind, const nlohmann::json& inputs) {
  return fmt::format("{}:{}", kind,
                     sha256_hex(inputs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

}  // namespace

route::Decision Coach::route_cached(std::string_view message, const std::vector<route::Turn>& history) {
  if (!caches_.cache) return router_.route({message, history});
  nlohmann::json inputs = nlohmann::json::array({message});
  for (const auto& turn : history) inputs.push_back({turn.role, turn.text, turn.assistant});
  const std::string key = content_key("route", inputs);
  if (auto cached = caches_.cache->get(key, true)) {
    const auto json = parse_json(*cached);
    try {
      if (json.is_object()) return decision_from(json);
    } catch (const nlohmann::json::exception&) {
      // fall through: route again and overwrite the unreadable entry
    }
  }
  auto decision = router_.route({message, history});
  // A decision the LLM router could not make (fallback) may succeed next time: not kept.
  if (decision.method != "fallback") {
    auto json = to_json(decision);
    json["scores"] = decision.scores;
    caches_.cache->put(key, json.dump(), caches_.ttl, true);
  }
  return decision;
}

Result<std::vector<index::Passage>> Coach::retrieve_cached(const index::Query& query) {
  if (!caches_.cache || query.filter) return retriever_.retrieve(query);
  // The stores' versions are part of the key: any change to their files makes a new key.
  nlohmann::json stores = nlohmann::json::array();
  for (const auto& name : query.stores) {
    auto found = store_.find_knowledge_store(name);
    if (!found) return found.error();
    stores.push_back({name, *found ? (**found).version : -1, *found ? (**found).id : 0});
  }
  const std::string key =
      content_key("retrieve", {query.text, stores, query.limit, static_cast<int>(query.mode),
                               query.lexical_weight, query.dense_weight, query.score_threshold});
  if (auto cached = caches_.cache->get(key, true)) {
    const auto json = parse_json(*cached);
    try {
      if (json.is_array()) {
        std::vector<index::Passage> passages;
        for (const auto& p : json) passages.push_back(passage_from(p));
        return passages;
      }
    } catch (const nlohmann::json::exception&) {
      // fall through: search again
    }
  }
  auto found = retriever_.retrieve(query);
  if (!found) return found;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& p : *found) rows.push_back(passage_json(p));
  caches_.cache->put(key, rows.dump(), caches_.ttl, true);
  return found;
}

std::string Coach::answer_scope(const Assistant& assistant, const std::vector<std::string>& stores) {
  std::string scope = fmt::format("{}|{}|{}", assistant.id, assistant.model, provider_.name());
  for (const auto& name : stores) {
    auto found = store_.find_knowledge_store(name);
    if (!found) return {};  // cannot tell the version: do not cache
    scope += fmt::format("|{}@{}", name, *found ? (**found).version : -1);
  }
  return scope;
}

// A turn between the steps before its answer and the steps after it.
struct Coach::Pending {
  TurnResult result;
  Clock::time_point started;
  Clock::time_point generating;  // when generation began
  int64_t user_id = 0;
  int64_t session_no = 0;
  bool memory_question = false;
  std::vector<index::Passage> used_passages;  // the prompt's sources, in order
  std::string answer_scope_key;               // not empty: the answer may go into the semantic cache
  std::vector<float> question_vector;
  std::optional<llm::Completion> cached_answer;
  std::shared_ptr<const llm::Prompt> prompt;
  llm::Options generation;
};

Result<TurnResult> Coach::turn(std::string_view user_id, std::string_view message, const TurnEvents& events) {
  auto pending = prepare(user_id, message, events);
  if (!pending) return pending.error();
  auto& turn = **pending;
  auto completion = turn.cached_answer ? Result<llm::Completion>(std::move(*turn.cached_answer))
                                       : provider_.generate(*turn.prompt, turn.generation, events.on_delta);
  return complete(turn, std::move(completion));
}

void Coach::turn_async(std::string_view user_id, std::string_view message, TurnEvents events,
                       Scheduler schedule, std::function<void(Result<TurnResult>)> done) {
  auto prepared = prepare(user_id, message, events);
  if (!prepared) return done(prepared.error());
  std::shared_ptr<Pending> pending = std::move(prepared).value();
  if (pending->cached_answer) {
    auto completion = std::move(*pending->cached_answer);
    return done(complete(*pending, std::move(completion)));
  }
  auto prompt = pending->prompt;
  auto generation = pending->generation;
  provider_.generate_async(std::move(prompt), std::move(generation), events.on_delta,
                           [this, pending, schedule, done](Result<llm::Completion> completion) {
                             auto answer = std::make_shared<Result<llm::Completion>>(std::move(completion));
                             schedule([this, pending, answer, done] {
                               // Nothing may escape a scheduled task: the caller waits for `done`.
                               Result<TurnResult> finished =
                                   Error::internal("the turn could not be finished");
                               try {
                                 finished = complete(*pending, std::move(*answer));
                               } catch (const std::exception& e) {
                                 spdlog::error("finishing a turn failed: {}", e.what());
                               }
                               done(std::move(finished));
                             });
                           });
}

Result<std::unique_ptr<Coach::Pending>> Coach::prepare(std::string_view user_id, std::string_view message,
                                                       const TurnEvents& events) {
  const auto started = Clock::now();
  if (auto status = validate_user_id(user_id); !status) return status.error();
  if (auto status = validate_message(message); !status) return status.error();
  if (!events.assistant.empty() && !assistants_.find(events.assistant))
    return Error::invalid("no assistant '" + events.assistant + "'", "model");
  TurnResult result;

  // 1. Load context and make the user's message durable before any answer work.
  auto stage = Clock::now();
  auto user = store_.ensure_user(user_id);
  if (!user) return user.error();
  // A longer tail than the prompt uses, so the composer knows which questions it already asked.
  // Brief: a turn needs the replies' words and usage, not their routes and citations.
  auto tail = store_.recent_messages(user->id, std::max(options_.recent_turns, kRepliesScanned),
                                     store::ThreadRead{.users_only = false, .brief = true});
  if (!tail) return tail.error();
  const size_t window = std::min(tail->size(), static_cast<size_t>(std::max(options_.recent_turns, 1)));
  const std::vector<store::Message> recent_turns(tail->end() - static_cast<std::ptrdiff_t>(window),
                                                 tail->end());
  const auto* recent = &recent_turns;
  const int64_t now = unix_millis();
  int64_t session_no = 1;
  bool new_session = false;
  if (!recent->empty()) {
    const auto& last = recent->back();
    new_session = now - last.created_at > options_.idle_gap_ms || user->new_session_requested;
    session_no = last.session_no + (new_session ? 1 : 0);
  }
  store::Message incoming;
  incoming.user_id = user->id;
  incoming.role = "user";
  incoming.text = std::string(message);
  incoming.created_at = now;
  incoming.session_no = session_no;
  auto stored = store_.append_message(std::move(incoming), {}, options_.queue_llm_extraction);
  if (!stored) return stored.error();
  result.message_seq = stored->seq;
  result.session_no = session_no;
  result.new_session = new_session || recent->empty();
  std::string user_name = user->display_name;
  if (auto name = memory::introduced_name(message); name && *name != user_name) {
    if (auto status = store_.set_display_name(user->id, *name); !status) return status.error();
    user_name = *name;
  }
  result.timings_ms["load"] = elapsed_ms(stage);

  // 2. Remember: settle a pending confirmation, extract and version facts (inline, so the very next
  // turn knows), and recall what a question about the past asks for.
  stage = Clock::now();
  nlohmann::json changed = {{"added", nlohmann::json::array()}, {"superseded", nlohmann::json::array()}};
  auto settled = memory_.settle_pending(*stored);
  if (!settled) {
    count_memory("extract", "error");
    return settled.error();
  }
  if (*settled) changed["settled"] = fact_change_json(**settled);
  std::vector<store::Fact> pending_now;
  if (!*settled) {
    auto observed = memory_.observe(*stored);
    count_memory("extract", observed ? "ok" : "error");
    if (!observed) return observed.error();
    for (const auto& f : observed->added) changed["added"].push_back(fact_change_json(f));
    for (const auto id : observed->superseded) changed["superseded"].push_back(id);
    pending_now = observed->pending;
  }
  result.facts_changed = std::move(changed);
  auto facts = store_.list_facts(user->id, false);
  if (!facts) return facts.error();
  const auto recall_request = memory::recall_request(message);
  // The caller's own documents (OpenAI's file_search tool) are searched before memory is asked: a
  // question they answer is about those documents, unless it plainly asks what the user said.
  if (events.file_search && !events.file_search->stores.empty()) {
    auto searched = search_files(*events.file_search, message);
    if (!searched) return searched.error();
    result.file_search_results = std::move(searched).value();
  }
  if (events.on_file_search && events.file_search) events.on_file_search(result.file_search_results);
  const bool documents_answer = !result.file_search_results.empty() && !recall_request.explicit_ask;
  std::string memory_answer;
  if (recall_request.asks_memory && !documents_answer) {
    auto recalled = memory_.recall(user->id, recall_request, message, stored->id);
    if (!recalled) {
      count_memory("recall", "error");
      return recalled.error();
    }
    const bool found =
        !recalled->quotes.empty() ||
        std::any_of(recalled->facts.begin(), recalled->facts.end(),
                    [](const memory::RecalledFact& r) { return r.current.status != "superseded"; });
    count_memory("recall", found ? "ok" : "miss");
    // A question that only might be about the past gets a normal answer when memory holds nothing.
    if (found || recall_request.explicit_ask) {
      memory_answer = memory::render_recall(*recalled);
      for (const auto& r : recalled->facts)
        result.memory_used.push_back(fmt::format("fact:{}", r.current.id));
      for (const auto& q : recalled->quotes)
        result.memory_used.push_back(fmt::format("message:{}", q.message.seq));
    }
  }
  std::vector<std::string> relevant_facts;
  if (memory_answer.empty()) {
    for (const auto& key : memory::keys_mentioned(message)) {
      for (const auto& f : *facts) {
        if (f.key == key && f.status == "active") {
          relevant_facts.push_back(fact_line(f));
          result.memory_used.push_back(fmt::format("fact:{}", f.id));
        }
      }
    }
  }
  std::vector<std::string> confirmations;
  for (const auto& f : pending_now) confirmations.push_back(confirmation_question(f, *facts));
  std::string greeting;
  if (new_session) {
    // Pick up the open thread: who they are, where we left off, and anything still unconfirmed.
    const store::Message* last_user = nullptr;
    const store::Message* last_reply = nullptr;
    for (const auto& m : *recent) {
      if (m.role == "user") last_user = &m;
      if (m.role == "assistant") last_reply = &m;
    }
    greeting = user_name.empty() ? "Welcome back!" : fmt::format("Welcome back, {}!", user_name);
    if (last_user) {
      const Assistant* previous = last_reply ? assistants_.find(last_reply->assistant) : nullptr;
      greeting +=
          fmt::format(" Last time{} you asked: “{}”", previous ? " (with the " + previous->title + ")" : "",
                      excerpt(last_user->text, 16));
    }
    for (const auto& f : *facts) {
      if (f.status == "pending_confirmation" && pending_now.empty())
        confirmations.push_back(confirmation_question(f, *facts));
    }
  }
  result.timings_ms["memory"] = elapsed_ms(stage);

  // 3. Route.
  stage = Clock::now();
  // Only this session's messages are context: after a long gap a short message starts afresh.
  std::vector<route::Turn> history;
  for (const auto& earlier : *recent) {
    if (earlier.session_no == session_no) history.push_back({earlier.role, earlier.text, earlier.assistant});
  }
  if (events.assistant.empty()) {
    result.route = route_cached(message, history);
  } else {
    result.route.assistant = events.assistant;
    result.route.confidence = 1.0;
    result.route.method = "pinned";
    result.route.reasoning = "the caller chose this assistant";
  }
  const Assistant* assistant = assistants_.find(result.route.assistant);
  if (!assistant) return Error::internal("router chose unknown assistant " + result.route.assistant);
  result.assistant = assistant->id;
  result.timings_ms["route"] = elapsed_ms(stage);
  if (events.on_route) events.on_route(result.route);

  // 4. Retrieve from the assistant's knowledge store (a question about the past needs none).
  stage = Clock::now();
  std::vector<index::Passage> passages;
  if (memory_answer.empty()) {
    index::Query query;
    query.text = std::string(message);
    query.stores = {assistant->knowledge_store};
    query.limit = options_.top_k;
    query.mode = options_.retrieval_mode;
    query.lexical_weight = options_.lexical_weight;
    query.dense_weight = options_.dense_weight;
    auto found = retrieve_cached(query);
    if (!found) return found.error();
    passages = std::move(found).value();
  }
  if (!result.file_search_results.empty()) {
    // The caller's own stores come first: they asked for them by name.
    std::vector<index::Passage> merged = result.file_search_results;
    for (auto& p : passages) merged.push_back(std::move(p));
    passages = std::move(merged);
  }
  result.timings_ms["retrieve"] = elapsed_ms(stage);

  // 5. Assemble the prompt within the token budget: instructions, relevant facts, summary, recent
  // turns (newest kept longest), memory, knowledge — the lowest priority goes first, never cut.
  stage = Clock::now();
  auto summary = store_.summary(user->id);
  if (!summary) return summary.error();
  std::vector<memory::ContextItem> items;
  const std::string instructions = events.instructions.empty()
                                       ? assistant->instructions
                                       : assistant->instructions + "\n\n" + events.instructions;
  items.push_back({"instructions", 0, instructions});
  for (const auto& f : relevant_facts) items.push_back({"fact", 1, f});
  if (*summary) items.push_back({"summary", 2, (*summary)->text});
  const size_t turn_count = recent->size();
  for (size_t i = 0; i < turn_count; ++i) {
    const auto& m = (*recent)[i];
    // The newest turns matter most: priority 3 for the last two, falling with age.
    const int priority = 3 + static_cast<int>(turn_count - 1 - i) / 2;
    items.push_back({"turn", priority, m.role + ": " + m.text});
  }
  // Turns the caller sent along are the newest context there is.
  for (const auto& turn : events.context_turns) items.push_back({"turn", 3, turn});
  if (!memory_answer.empty()) items.push_back({"memory", 1, memory_answer});
  for (size_t i = 0; i < passages.size(); ++i) items.push_back({"knowledge", 100, passages[i].text, 0, i});
  const auto context = memory::assemble_context(items, options_.max_prompt_tokens);
  result.context = {{"tokens", context.tokens}, {"budget", context.budget}, {"dropped", context.dropped}};

  llm::Prompt prompt;
  prompt.assistant = assistant->id;
  prompt.assistant_title = assistant->title;
  prompt.instructions = instructions;
  prompt.intro = assistant->intro;
  prompt.user_message = std::string(message);
  prompt.user_name = user_name;
  prompt.next_steps = assistant->next_steps;
  prompt.greeting = greeting;
  prompt.memory_answer = memory_answer;
  prompt.confirmations = confirmations;
  // Only what fitted the budget reaches the provider.
  std::vector<index::Passage> used_passages;
  for (const auto& item : context.kept) {
    if (item.kind == "fact") prompt.known_facts.push_back(item.text);
    if (item.kind == "summary") prompt.summary = item.text;
    if (item.kind == "turn") prompt.recent_turns.push_back(item.text);
    if (item.kind == "knowledge") used_passages.push_back(passages[item.ref]);
  }
  for (const auto& p : used_passages) prompt.sources.push_back({p.store, p.filename, p.heading, p.text});
  for (const auto& m : *tail) {
    if (m.role == "assistant") prompt.earlier_replies.push_back(m.text);
  }
  for (const auto& f : *facts) {
    if (f.status == "active")
      prompt.profile.push_back({f.key, memory::key_label(f.key), f.category, f.value});
  }
  // The Responses API can continue the thread where this session's last model answer left it.
  if (!new_session && !recent->empty()) {
    for (auto m = recent->rbegin(); m != recent->rend(); ++m) {
      if (m->role != "assistant") continue;
      const auto usage = parse_json(m->usage_json);
      if (usage.is_object() && usage.value("response_id", std::string()).size() > 0)
        prompt.previous_response_id = usage["response_id"].get<std::string>();
      break;
    }
  }
  result.timings_ms["assemble"] = elapsed_ms(stage);

  // 6. Generate — or reuse the answer to the same question, when nothing personal went into it.
  stage = Clock::now();
  const bool impersonal =
      prompt.user_name.empty() && prompt.profile.empty() && prompt.known_facts.empty() &&
      prompt.summary.empty() && prompt.recent_turns.empty() && prompt.memory_answer.empty() &&
      prompt.confirmations.empty() && prompt.greeting.empty() && prompt.earlier_replies.empty() &&
      prompt.previous_response_id.empty() && events.instructions.empty() && events.context_turns.empty() &&
      !events.file_search && !events.temperature && !events.max_output_tokens;
  std::string answer_scope_key;
  std::vector<float> question_vector;
  if (impersonal && caches_.answers && caches_.embedder) {
    // No vector (an embedding service that failed): no cache this turn, never a failed turn.
    if (auto vector = caches_.embedder->embed_query(message, nullptr)) {
      question_vector = std::move(vector).value();
      answer_scope_key = answer_scope(*assistant, {assistant->knowledge_store});
    }
  }
  std::optional<llm::Completion> cached_answer;
  if (!answer_scope_key.empty()) {
    if (auto hit = caches_.answers->find(answer_scope_key, question_vector)) {
      cached_answer = cached_completion(hit->answer_json, result.citations);
      if (cached_answer) {
        result.cached = "semantic";
        if (events.on_delta) events.on_delta(cached_answer->text);
      }
    }
  }
  auto pending = std::make_unique<Pending>();
  pending->result = std::move(result);
  pending->started = started;
  pending->generating = stage;
  pending->user_id = user->id;
  pending->session_no = session_no;
  pending->memory_question = recall_request.asks_memory;
  pending->used_passages = std::move(used_passages);
  pending->answer_scope_key = std::move(answer_scope_key);
  pending->question_vector = std::move(question_vector);
  pending->cached_answer = std::move(cached_answer);
  pending->prompt = std::make_shared<const llm::Prompt>(std::move(prompt));
  pending->generation = {events.temperature.value_or(assistant->temperature),
                         events.max_output_tokens.value_or(assistant->max_output_tokens), assistant->model,
                         events.stop};
  return pending;
}

Result<TurnResult> Coach::complete(Pending& pending, Result<llm::Completion> completion) {
  auto& result = pending.result;
  const auto& used_passages = pending.used_passages;
  const auto started = pending.started;
  auto stage = pending.generating;
  if (!completion) return completion.error();
  result.reply = completion->text;
  result.usage = completion->usage;
  result.provider = completion->provider;
  result.model = completion->model;
  result.degraded = completion->degraded;
  result.notice = completion->notice;
  result.cost_usd = options_.prices.cost(completion->model, completion->usage);
  if (result.cached.empty()) {
    for (const auto& c : completion->citations) {
      const auto& p = used_passages[c.source_index];
      result.citations.push_back(
          {c.number, p.store, p.filename, p.chunk_id, p.heading, c.snippet, p.file_id, p.external_id});
    }
    // Only a whole, undegraded answer is worth repeating to the next person who asks.
    if (!pending.answer_scope_key.empty() && !completion->degraded && completion->finish_reason == "stop")
      caches_.answers->put(pending.answer_scope_key, std::move(pending.question_vector),
                           cacheable_answer(*completion, result));
  }
  result.timings_ms["generate"] = elapsed_ms(stage);

  // 7. Persist the reply with how it was made.
  stage = Clock::now();
  store::Message reply;
  reply.user_id = pending.user_id;
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
      {"response_id", completion->response_id},
      {"finish_reason", completion->finish_reason},
      {"degraded", completion->degraded},
      {"cost_usd", result.cost_usd},
      {"memory_used", result.memory_used},
      {"memory_question", pending.memory_question},
      {"context", result.context},
      {"timings_ms",
       timings}}.dump();
  reply.session_no = pending.session_no;
  reply.searchable = options_.index_replies;
  auto saved =
      store_.append_message(std::move(reply), store::UsageTally{result.assistant, result.usage.input_tokens,
                                                                result.usage.output_tokens, result.cost_usd});
  if (!saved) return saved.error();
  result.reply_seq = saved->seq;
  // The rolling summary of older turns; its failure must not fail a turn whose reply is stored.
  if (summary_due_) {
    summary_due_(pending.user_id, saved->seq, options_.recent_turns);
  } else if (auto refreshed = memory_.refresh_summary(pending.user_id, saved->seq, options_.recent_turns);
             !refreshed) {
    count_memory("summary", "error");
    result.context["summary_error"] = refreshed.error().message;
  } else if (*refreshed) {
    count_memory("summary", "ok");
  }
  if (options_.queue_llm_extraction && extraction_queued_) extraction_queued_();
  result.timings_ms["persist"] = elapsed_ms(stage);
  result.timings_ms["total"] = elapsed_ms(started);
  return std::move(result);
}

}  // namespace brandcoach::coach
