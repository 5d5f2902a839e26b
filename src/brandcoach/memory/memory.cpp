#include <algorithm>
#include <cctype>
#include <ctime>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>

#include <fmt/format.h>
#include <re2/re2.h>

#include "brandcoach/embed/embed.hpp"
#include "brandcoach/memory/memory.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::memory {

namespace {

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

nlohmann::json message_to_json(const store::Message& m) {
  nlohmann::json out = {{"seq", m.seq},
                        {"role", m.role},
                        {"text", m.text},
                        {"assistant", m.assistant},
                        {"session", m.session_no},
                        {"created_at", iso_time(m.created_at)}};
  if (!m.external_id.empty()) out["id"] = m.external_id;
  if (!m.speaker.empty()) out["speaker"] = m.speaker;
  if (!m.ts_text.empty()) out["ts"] = m.ts_text;
  if (m.role == "assistant") {
    out["route"] = parse_json(m.route_json);
    out["citations"] = parse_json(m.citations_json);
  }
  return out;
}

// "Who …?" reads at most this many of the user's latest messages for another form of its words.
constexpr int kWhoScan = 400;

// Following a statement to its change reads at most this many of the messages after it.
constexpr int64_t kFollowLimit = 400;
// Memory reads only what the user said, and none of a reply's details.
constexpr store::ThreadRead kUsersWords{.users_only = true, .brief = true};

// Lower-cased, with every character but letters, digits and apostrophes a space, and a space at each
// end: cue phrases written with spaces then match whole words.
std::string folded_for_cues(std::string_view text) {
  std::string folded = " ";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    folded += std::isalnum(u) || c == '\'' || u >= 0x80 ? static_cast<char>(std::tolower(u)) : ' ';
  }
  folded += ' ';
  return folded;
}

// Any of the cues, as plain substrings, in one pass: recall reads hundreds of messages for them.
std::string any_of_pattern(std::span<const std::string_view> cues) {
  std::string pattern;
  for (const auto cue : cues) pattern += (pattern.empty() ? "" : "|") + RE2::QuoteMeta(cue);
  return pattern;
}

// Words with which people announce a change ("update!! we moved…", "scratch that").
bool looks_like_update(std::string_view text) {
  // "small dog 120 → 130 zł": an old and a new value with an arrow between.
  if (text.find("→") != std::string_view::npos || text.find("->") != std::string_view::npos) return true;
  static constexpr std::string_view kCues[] = {
      "update",  "scratch", "changed",  "moved", "instead", "no longer", "anymore", "any more", "switched",
      "renamed", " now ",   "actually", "quit",  "replac",  "swap",      "pushed",  "turns out"};
  static const RE2 kAny(any_of_pattern(kCues));
  return RE2::PartialMatch(folded_for_cues(text), kAny);
}

// Broader than looks_like_update, for finding the message that changed something the user said
// earlier: "the tariff passes to €58", "Kudu pulled out", "raise the fee to €38".
bool announces_change(std::string_view text) {
  // "launching May 5th, not April": the new value, then the one it replaces.
  if (looks_like_update(text) || text.find(", not ") != std::string_view::npos) return true;
  static constexpr std::string_view kCues[] = {
      " goes to ", " going to ", " passes to ", " rises ", " raise", " increas", " higher ", " lower ",
      " drop ", " dropping ", " dropped ", " not the ", " scrap", " change", " moving ", " pulled out",
      " stepped in", " postpone", " delay", " cancel", " from now", " confirmed ", " as of ", " put up",
      " went up", " gone up", " up to ", " down to ", " switch", " ended up ", " went with ", " go with ",
      " going with ", " gone with ", " shifted ", " poached", " swapped ", " from now on ", " no more ",
      " move to ", " leave ", " leaving ",
      // "we stop Naver booking", "I stop with Etsy", "Reem is going full-time"
      " stop ", " going full", " goes full", " going part", " now full"};
  static const RE2 kAny(any_of_pattern(kCues));
  return RE2::PartialMatch(folded_for_cues(text), kAny);
}

// A recurring day is a date too ("second Tuesday now", "on Fridays now").
bool names_weekday(std::string_view text) {
  const std::string folded = text::ascii_lower(text);
  static constexpr std::string_view kDays[] = {"monday", "tuesday",  "wednesday", "thursday",
                                               "friday", "saturday", "sunday"};
  return std::any_of(std::begin(kDays), std::end(kDays),
                     [&](std::string_view day) { return folded.find(day) != std::string::npos; });
}

// Two stems of one word family: the same, or one the start of the other and at least four letters
// ("glass" and "glasser", "frame" and "framer").
bool same_word_family(std::string_view a, std::string_view b) {
  const size_t shorter = std::min(a.size(), b.size());
  return a == b || (shorter >= 4 && a.substr(0, shorter) == b.substr(0, shorter));
}

// Words small businesses use for the same job or thing ("lessons" and "classes", "hives" and "bees"):
// a question about who does something seldom repeats the user's word for it.
bool same_meaning(std::string_view a, std::string_view b) {
  static const std::vector<std::vector<std::string>> kGroups = [] {
    const std::vector<std::vector<std::string_view>> words = {
        {"lesson", "class", "course", "session", "teach", "teacher", "instructor", "coach"},
        {"hive", "bee", "beekeeping", "honey"},
        {"money", "finance", "finances", "accounts", "accounting", "books", "bookkeeping", "invoices"},
        {"deliver", "delivery", "deliveries", "drop-off", "courier", "moto", "rider"},
        {"cook", "cooking", "chef", "kitchen", "food"},
        {"instagram", "socials", "social", "tiktok", "facebook"},
        {"ship", "shipping", "shipment", "freight", "forwarder", "carrier"},
        {"shop", "store", "counter", "till"},
        {"kid", "kids", "child", "children"},
        {"drive", "driver", "driving", "van", "bus", "truck"},
        {"photo", "photos", "photograph", "photography", "pictures"},
        {"website", "site", "web", "online"},
        {"email", "emails", "quotes", "correspondence"},
        {"market", "markets", "stall", "fair"},
        {"rental", "rentals", "rent", "hire"},
        {"distributor", "distributors", "distribution", "wholesale", "stockist"},
        {"logistics", "setup", "transport"},
        // Sizes, which prices are so often told apart by ("a big dog groom" and "large dog $110").
        {"big", "large", "bigger", "xl"},
        {"small", "little", "mini", "smaller"},
        // Measures written as words or units ("the kilo jar" and "the 1kg is A$32").
        {"kilo", "kilos", "kg", "1kg", "kilogram"},
        {"litre", "liter", "1l", "ltr"}};
    std::vector<std::vector<std::string>> stemmed;
    for (const auto& group : words) {
      std::vector<std::string> stems;
      for (const auto word : group) stems.push_back(text::stem(word));
      stemmed.push_back(std::move(stems));
    }
    return stemmed;
  }();
  return std::any_of(kGroups.begin(), kGroups.end(), [&](const std::vector<std::string>& group) {
    return std::find(group.begin(), group.end(), a) != group.end() &&
           std::find(group.begin(), group.end(), b) != group.end();
  });
}

// "What's the Accra competitor charging?", "what did the school next door charge?": a price of
// someone else's, which no price of the user's own answers.
bool asks_about_another_business(std::string_view question) {
  static constexpr std::string_view kCues[] = {" competitor", " competition ", " rival",        " they ",
                                               " they're ",   " their ",       " theirs ",      " next door ",
                                               " other shop", " other brand",  " other compan", " others "};
  static const RE2 kAny(any_of_pattern(kCues));
  return RE2::PartialMatch(folded_for_cues(question), kAny);
}

// "Who is teaching bread at the moment?": asks how things stand now.
bool asks_about_now(std::string_view question) {
  static constexpr std::string_view kCues[] = {" now ",      " these days ", " at the moment ", " currently ",
                                               " nowadays ", " today ",      " at present ",    " anymore "};
  static const RE2 kAny(any_of_pattern(kCues));
  return RE2::PartialMatch(folded_for_cues(question), kAny);
}

// "Who glasses my boards?", "what's the name of my apprentice?": the answer is a person.
bool asks_for_a_person(std::string_view question) {
  const std::string folded = folded_for_cues(question);
  return folded.find(" who ") != std::string::npos || folded.find(" who's ") != std::string::npos ||
         folded.find(" whos ") != std::string::npos || folded.find(" who is ") != std::string::npos ||
         folded.find(" name of my ") != std::string::npos ||
         folded.find(" name of our ") != std::string::npos;
}

// Words of a message that are names: capitalised, not opening a sentence ("Kaffa Direkte", "Bellecour").
std::vector<std::string> names_in(std::string_view text) {
  std::vector<std::string> names;
  bool sentence_start = true;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto c = static_cast<unsigned char>(text[pos]);
    if (std::isalpha(c) || c >= 0x80) {
      size_t end = pos;
      while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) ||
                                   static_cast<unsigned char>(text[end]) >= 0x80 || text[end] == '\''))
        ++end;
      const std::string_view word = text.substr(pos, end - pos);
      if (!sentence_start && word.size() >= 3 && std::isupper(c)) names.emplace_back(word);
      sentence_start = false;
      pos = end;
      continue;
    }
    if (c == '.' || c == '!' || c == '?' || c == '\n' || c == ':' || c == '-') sentence_start = true;
    ++pos;
  }
  return names;
}

// The currency marks of a text's amounts ("€", "KES"), to tie two statements of amounts together.
std::vector<std::string> currencies_in(std::string_view text) {
  std::vector<std::string> marks;
  for (auto& found : amounts_in(text)) marks.push_back(std::move(found.mark));
  return marks;
}

bool shares_any(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return std::any_of(a.begin(), a.end(),
                     [&](const std::string& x) { return std::find(b.begin(), b.end(), x) != b.end(); });
}

// The first word of a name of several ("Kurrajong" of "Kurrajong Blooms"), by which it is often said alone.
std::optional<std::string_view> first_name_of(std::string_view name) {
  const auto space = name.find(' ');
  if (space == std::string_view::npos || space < 3 || !std::isupper(static_cast<unsigned char>(name.front())))
    return std::nullopt;
  return name.substr(0, space);
}

// Does `text` hold `word` as a whole word, as written?
bool names_word(std::string_view text, std::string_view word) {
  for (size_t at = text.find(word); at != std::string_view::npos; at = text.find(word, at + 1)) {
    const bool starts = at == 0 || !std::isalnum(static_cast<unsigned char>(text[at - 1]));
    const size_t end = at + word.size();
    const bool ends = end >= text.size() || !std::isalnum(static_cast<unsigned char>(text[end]));
    if (starts && ends) return true;
  }
  return false;
}

// Does `text` name `person` by their first name, in any case ("lupita is on maternity leave")?
bool names_person(std::string_view text, std::string_view person) {
  const std::string first = text::ascii_lower(person.substr(0, person.find(' ')));
  if (first.size() < 2) return false;
  return names_word(text::ascii_lower(text), first);
}

// Words that say someone stops doing a job or someone else starts it ("Fionn is off to Limerick",
// "Brodie's stepping back", "Keisha's on the window now").
bool announces_handover(std::string_view text) {
  if (announces_change(text)) return true;
  static constexpr std::string_view kCues[] = {
      " leav",          " left ",     " off to ",     " quit",       " stepping ",   " stepped ",
      " retir",         " maternity", " paternity",   " stop",       " can't ",      " cannot ",
      " won't ",        " got a job", " shifting ",   " take over",  " taking over", " took over",
      " takes over",    " hired ",    " starting ",   " starts ",    " joining ",    " joins ",
      " on board",      " appointed", " let go",      " fired",      " back to ",    " handed ",
      " handing ",      " instead ",  " new ",        " out from ",  "'s out ",      " is out ",
      " finished with", " away to ",  " gone ",       " moved on",   " moving on",   " travelled ",
      " traveled ",     " covering ", " covers for ", " filling in", " fills in",    " standing in",
      " stands in",     " hurt ",     " injur",       " off sick",   " is sick "};
  static const RE2 kAny(any_of_pattern(kCues));
  return RE2::PartialMatch(" " + text::ascii_lower(text) + " ", kAny);
}

// The newest of the user's messages after `source` that names `person` and hands their job on, newest
// first, with the next message after it that brings someone in when that is said apart ("Marcus is out
// on weekends now" then "Hired a guy named Luis, starts Saturday"). Empty when nobody handed it on.
Result<std::vector<store::Message>> handover_after(store::Store& store, int64_t user_id,
                                                   const store::Message& source, std::string_view person,
                                                   int64_t exclude_message_id) {
  // The arrival comes within this many of the user's messages after the departure.
  constexpr size_t kArrivalWithin = 2;
  auto later = store.messages_between(user_id, source.seq, std::numeric_limits<int64_t>::max(), kFollowLimit,
                                      kUsersWords);
  if (!later) return later.error();
  std::vector<store::Message> said;
  for (auto& message : *later) {
    if (message.role == "user" && message.id != exclude_message_id) said.push_back(std::move(message));
  }
  std::optional<size_t> handover;
  for (size_t i = 0; i < said.size(); ++i) {
    if (!names_person(said[i].text, person) || !announces_handover(said[i].text)) continue;
    if (recall_request(said[i].text).asks_memory) continue;
    handover = i;
  }
  std::vector<store::Message> out;
  if (!handover) return out;
  for (size_t i = *handover + 1; i < said.size() && i <= *handover + kArrivalWithin; ++i) {
    if (names_person(said[i].text, person) || !announces_handover(said[i].text) ||
        recall_request(said[i].text).asks_memory)
      continue;
    out.push_back(std::move(said[i]));
    break;
  }
  out.push_back(std::move(said[*handover]));
  return out;
}

// The clauses of a message: split at sentence ends, commas and semicolons ("Prices: fun dive ₱1,800,
// Open Water course ₱21,000"), but not inside a number ("₱21,000").
std::vector<std::string> clauses_of(std::string_view text) {
  std::vector<std::string> clauses;
  std::string current;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool next_is_space = i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\n';
    if (c == ';' || c == '\n' || ((c == ',' || c == '.' || c == '!' || c == '?') && next_is_space)) {
      if (!current.empty()) clauses.push_back(std::move(current));
      current.clear();
      continue;
    }
    current.push_back(c);
  }
  if (!current.empty()) clauses.push_back(std::move(current));
  return clauses;
}

// The user's messages quoted as the answer may have been changed later in words the question does not
// share ("the tariff passes to €58" after "a session is €55 for private patients"). A later message
// of the user's that announces a change and is tied to a quoted one - by one of the question's own
// words, by a name, or by a value of the asked kind in the same currency - is the current answer, and
// the quoted ones become what was said earlier.
Status follow_changes(store::Store& store, const FactExtractor& extractor, int64_t user_id, AnswerKind kind,
                      const std::vector<std::string>& asked, int64_t exclude_message_id,
                      std::vector<store::MessageHit>& quotes) {
  if (quotes.empty()) return ok();
  int64_t oldest = quotes.front().message.seq;
  for (const auto& q : quotes) oldest = std::min(oldest, q.message.seq);
  auto later =
      store.messages_between(user_id, oldest, std::numeric_limits<int64_t>::max(), kFollowLimit, kUsersWords);
  if (!later) return later.error();
  // What each quote offers to tie to, read once rather than once per later message.
  struct Quoted {
    int64_t seq;
    std::vector<std::string> stems, names, marks;
  };
  std::vector<Quoted> quoted_said;
  for (const auto& q : quotes) {
    quoted_said.push_back(
        {q.message.seq, text::content_stems(q.message.text), names_in(q.message.text),
         kind == AnswerKind::money ? currencies_in(q.message.text) : std::vector<std::string>{}});
  }
  // The question names its thing in its own words ("OW course"); the quoted clause that answers it
  // names it in the user's ("Open Water course ₱21,000"). Either naming ties a later amount to it.
  std::vector<std::string> named = asked;
  if (kind == AnswerKind::money) {
    for (const auto& q : quotes) {
      for (const auto& clause : clauses_of(q.message.text)) {
        const auto stems = text::content_stems(clause);
        const bool answers = std::any_of(stems.begin(), stems.end(), [&](const std::string& stem) {
          return stem.size() >= 3 && !is_key_cue(stem) &&
                 std::find(asked.begin(), asked.end(), stem) != asked.end();
        });
        if (answers) named.insert(named.end(), stems.begin(), stems.end());
      }
    }
  }
  // The strongest tie wins, the newest of equals: a question of a kind (an amount, a date) is only
  // changed by a message holding a value of that kind; any other, by one sharing its own words.
  std::optional<store::Message> change;
  int best = 0;
  for (auto& message : *later) {
    if (message.role != "user" || message.id == exclude_message_id) continue;
    const bool quoted = std::any_of(quotes.begin(), quotes.end(),
                                    [&](const store::MessageHit& q) { return q.message.id == message.id; });
    // Someone leaving or joining changes who does a job; a value changes only in words of change.
    const bool changes =
        kind == AnswerKind::any ? announces_handover(message.text) : announces_change(message.text);
    if (quoted || !changes || recall_request(message.text).asks_memory) continue;
    const auto stems = text::content_stems(message.text);
    const auto names = names_in(message.text);
    auto statements = kind == AnswerKind::any ? std::vector<FactExtractor::Statement>{}
                                              : extractor.statements(message.text, kind);
    // Another business's new price changes nothing of the user's.
    std::erase_if(statements, [](const FactExtractor::Statement& s) { return s.others; });
    const bool of_kind = !statements.empty() || (kind == AnswerKind::date && names_weekday(message.text));
    // "We raised the full colour to €70" changes no beard trim: every amount it states belongs to
    // something the question does not name.
    const bool other_items =
        kind == AnswerKind::money && !statements.empty() &&
        std::all_of(statements.begin(), statements.end(), [&](const FactExtractor::Statement& statement) {
          const auto item = text::content_stems(statement.item);
          return std::any_of(item.begin(), item.end(), [&](const std::string& stem) {
            return std::none_of(named.begin(), named.end(),
                                [&](const std::string& name) { return same_word_family(name, stem); }) &&
                   !is_key_cue(stem);
          });
        });
    if (other_items) continue;
    const auto marks = kind == AnswerKind::money ? currencies_in(message.text) : std::vector<std::string>{};
    bool shares_subject = false, shares_name = false, shares_kind = false, shares_word = false;
    for (const auto& q : quoted_said) {
      if (q.seq >= message.seq) continue;
      // "pedis" in the change, "pedicure" in the question and the quote: one word family.
      shares_subject |= std::any_of(stems.begin(), stems.end(), [&](const std::string& stem) {
        const auto family = [&](const std::string& other) { return same_word_family(stem, other); };
        return stem.size() >= 3 && std::any_of(asked.begin(), asked.end(), family) &&
               std::any_of(q.stems.begin(), q.stems.end(), family);
      });
      // A name the quote gives mid-sentence may open the change ("Fionn is off to Limerick").
      shares_name |= shares_any(names, q.names) ||
                     std::any_of(q.names.begin(), q.names.end(),
                                 [&](const std::string& name) { return names_word(message.text, name); });
      shares_word |= std::any_of(stems.begin(), stems.end(), [&](const std::string& stem) {
        return stem.size() >= 4 && !std::isdigit(static_cast<unsigned char>(stem.front())) &&
               std::find(q.stems.begin(), q.stems.end(), stem) != q.stems.end();
      });
      // Amounts tie in the same currency, or both without a mark ("R85" and "R95").
      shares_kind |= of_kind && (marks.empty() && q.marks.empty() ? true : shares_any(marks, q.marks));
    }
    // A place is a name: "relocated from Nørrebro to … Aarhus" ties by the old place alone.
    // A count must also share the thing counted (any number is a count), and a date a word of the
    // statement it moves ("anniversary is now aug 30").
    const bool tied = kind == AnswerKind::any     ? shares_subject || shares_name
                      : kind == AnswerKind::place ? shares_kind || shares_name
                      : kind == AnswerKind::money ? shares_kind
                      : kind == AnswerKind::date
                          ? shares_kind && (shares_subject || shares_name || shares_word)
                          : shares_kind && (shares_subject || shares_name);
    if (!tied) continue;
    // A shared name is the surest tie ("not Splitzy anymore"); a shared word of the question, or an
    // amount, less so.
    const int strength = (shares_name ? 3 : 0) + (shares_kind ? 2 : 0) + (shares_subject ? 2 : 0);
    if (strength >= best) {
      best = strength;
      change = std::move(message);
    }
  }
  if (!change) return ok();
  quotes.push_back({std::move(*change), 0.0});
  std::sort(quotes.begin(), quotes.end(),
            [](const auto& a, const auto& b) { return a.message.seq > b.message.seq; });
  return ok();
}

}  // namespace

nlohmann::json to_json(const store::Fact& f) {
  return {
      {"id", f.id},
      {"key", f.key},
      {"label", key_label(f.key)},
      {"value", f.value},
      {"category", f.category},
      {"status", f.status},
      {"confidence", f.confidence},
      {"source_message_id", f.source_message_id},
      {"supersedes_id", f.supersedes_id},
      {"created_at", iso_time(f.created_at)},
      {"confirmed_at", f.confirmed_at ? nlohmann::json(iso_time(f.confirmed_at)) : nlohmann::json(nullptr)}};
}

nlohmann::json current_facts_json(const std::vector<store::Fact>& all) {
  std::unordered_map<int64_t, const store::Fact*> by_id;
  for (const auto& f : all) by_id.emplace(f.id, &f);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : all) {
    if (f.status != "active" && f.status != "pending_confirmation") continue;
    auto entry = to_json(f);
    nlohmann::json history = nlohmann::json::array();
    for (int64_t older = f.supersedes_id; older != 0;) {
      const auto it = by_id.find(older);
      if (it == by_id.end()) break;
      history.push_back(to_json(*it->second));
      older = it->second->supersedes_id;
    }
    entry["history"] = std::move(history);
    out.push_back(std::move(entry));
  }
  return out;
}

std::string human_date(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%-d %b %Y", &tm);
  return buffer;
}

std::optional<int64_t> parse_timestamp(std::string_view input) {
  std::string text;
  for (const char c : input) text += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // ISO-8601 first: YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM].
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d", &year, &month, &day) == 3) {
    if (text.size() > 10 && (text[10] == 't' || text[10] == ' ')) {
      std::sscanf(text.c_str() + 11, "%2d:%2d:%2d", &hour, &minute, &second);
    }
  } else {
    // Free text: find a year, a month name, a day number and an optional h:mm with am/pm.
    static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                   "jul", "aug", "sep", "oct", "nov", "dec"};
    std::vector<std::string> tokens;
    std::string current;
    for (const char c : text) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == ':') {
        current += c;
      } else if (!current.empty()) {
        tokens.push_back(current);
        current.clear();
      }
    }
    if (!current.empty()) tokens.push_back(current);
    bool pm = false, am = false;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string& t = tokens[i];
      if (t.find(':') != std::string::npos) {
        std::sscanf(t.c_str(), "%d:%d", &hour, &minute);
      } else if (t == "pm") {
        pm = true;
      } else if (t == "am") {
        am = true;
      } else if (std::isdigit(static_cast<unsigned char>(t[0]))) {
        const int n = std::atoi(t.c_str());
        if (t.size() == 4 && n > 1900) {
          year = n;
        } else if (n >= 1 && n <= 31 && day == 0) {
          day = n;
        }
      } else if (month == 0) {
        for (int m = 0; m < 12; ++m) {
          if (t.size() >= 3 && t.compare(0, 3, kMonths[m]) == 0) month = m + 1;
        }
      }
    }
    if (pm && hour < 12) hour += 12;
    if (am && hour == 12) hour = 0;
    if (year == 0 || month == 0) return std::nullopt;
    if (day == 0) day = 1;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string extractive_summary(const std::vector<store::Message>& turns,
                               const std::vector<store::Fact>& facts, size_t max_tokens) {
  std::string out;
  std::map<std::string, std::vector<std::string>> by_label;
  std::set<int64_t> fact_sources;
  for (const auto& f : facts) {
    if (f.status != "active") continue;
    by_label[key_label(f.key)].push_back(f.value);
    fact_sources.insert(f.source_message_id);
  }
  if (!by_label.empty()) {
    out += "Known about the user:";
    for (const auto& [label, values] : by_label) {
      std::string joined;
      for (const auto& v : values) joined += (joined.empty() ? "" : ", ") + v;
      out += fmt::format(" {}: {};", label, joined);
    }
    out += "\n";
  }
  // The user's statements: those that carried facts first, then the longest distinct ones.
  std::vector<const store::Message*> statements;
  for (const auto& m : turns) {
    if (m.role == "user") statements.push_back(&m);
  }
  std::stable_sort(statements.begin(), statements.end(), [&](const auto* a, const auto* b) {
    const bool fa = fact_sources.contains(a->id), fb = fact_sources.contains(b->id);
    if (fa != fb) return fa;
    return a->text.size() > b->text.size();
  });
  std::vector<const store::Message*> chosen;
  size_t tokens = text::count_tokens(out);
  for (const auto* m : statements) {
    std::string line = m->text.size() > 280 ? m->text.substr(0, m->text.rfind(' ', 280)) + " …" : m->text;
    const size_t cost = text::count_tokens(line) + 6;
    if (tokens + cost > max_tokens) continue;
    tokens += cost;
    chosen.push_back(m);
  }
  std::sort(chosen.begin(), chosen.end(), [](const auto* a, const auto* b) { return a->seq < b->seq; });
  if (!chosen.empty()) out += "The user said:\n";
  for (const auto* m : chosen) {
    std::string line = m->text.size() > 280 ? m->text.substr(0, m->text.rfind(' ', 280)) + " …" : m->text;
    out += fmt::format("- ({}) {}\n", human_date(m->created_at), line);
  }
  return out;
}

Memory::Memory(store::Store& store, MemoryOptions options)
    : store_(store), options_(options), embedder_(embed::make_hashing_embedder()) {}

Memory::~Memory() = default;

Result<Observation> Memory::observe(const store::Message& message) {
  Observation observation;
  if (message.role != "user") return observation;
  auto extracted = extractor_.extract(message.text);
  if (auto name = introduced_name(message.text)) extracted.push_back({"name", *name, 0.9, Cue::plain});
  if (extracted.empty()) return observation;
  auto current = store_.list_facts(message.user_id, false);
  if (!current) return current.error();
  auto writes = plan_fact_writes(*current, extracted, message.id);
  if (writes.empty()) return observation;
  auto inserted = store_.write_facts(message.user_id, writes);
  if (!inserted) return inserted.error();
  for (const auto& write : writes) {
    for (const auto& [id, status] : write.status_changes) observation.superseded.push_back(id);
  }
  for (auto& fact : *inserted) {
    if (fact.status == "pending_confirmation") observation.pending.push_back(fact);
    observation.added.push_back(std::move(fact));
  }
  return observation;
}

Result<std::optional<store::Fact>> Memory::settle_pending(const store::Message& message) {
  const auto answer = confirmation_reply(message.text);
  if (!answer) return std::optional<store::Fact>{};
  auto facts = store_.list_facts(message.user_id, false);
  if (!facts) return facts.error();
  auto pending = std::find_if(facts->begin(), facts->end(),
                              [](const store::Fact& f) { return f.status == "pending_confirmation"; });
  if (pending == facts->end()) return std::optional<store::Fact>{};
  auto changed = change_fact(message.user_id, pending->id, *answer ? "confirm" : "reject", "", "user");
  if (!changed) return changed.error();
  return std::optional<store::Fact>{std::move(*changed)};
}

Result<store::Fact> Memory::change_fact(int64_t user_id, int64_t fact_id, std::string_view action,
                                        std::string_view new_value, std::string_view actor) {
  auto found = store_.find_fact(user_id, fact_id);
  if (!found) return found.error();
  if (!*found) return Error::not_found(fmt::format("no fact {}", fact_id));
  const store::Fact fact = **found;
  store::FactWrite write;
  write.actor = std::string(actor);
  if (action == "confirm") {
    if (fact.status != "active" && fact.status != "pending_confirmation") {
      return Error{ErrorKind::conflict, "only a current or pending fact can be confirmed", "action"};
    }
    write.confirm = true;
    write.status_changes.emplace_back(fact.id, "active");
    // Confirming a pending value makes the value it contradicted history.
    if (fact.status == "pending_confirmation" && fact.supersedes_id) {
      auto older = store_.find_fact(user_id, fact.supersedes_id);
      if (!older) return older.error();
      if (*older && (*older)->status == "active")
        write.status_changes.emplace_back(fact.supersedes_id, "superseded");
    }
  } else if (action == "reject") {
    if (fact.status == "rejected")
      return Error{ErrorKind::conflict, "the fact is already rejected", "action"};
    write.status_changes.emplace_back(fact.id, "rejected");
    // Rejecting a wrong correction brings back the value it replaced.
    if (fact.status == "active" && fact.supersedes_id) {
      auto older = store_.find_fact(user_id, fact.supersedes_id);
      if (!older) return older.error();
      if (*older && (*older)->status == "superseded")
        write.status_changes.emplace_back(fact.supersedes_id, "active");
    }
  } else if (action == "correct") {
    const auto value = std::string(new_value);
    if (comparable(value).empty()) return Error::invalid("a correction needs a new value", "value");
    if (value.size() > 1000) return Error::invalid("value is longer than 1000 bytes", "value");
    if (fact.status != "active" && fact.status != "pending_confirmation") {
      return Error{ErrorKind::conflict, "only a current or pending fact can be corrected", "action"};
    }
    store::Fact next = fact;
    next.id = 0;
    next.value = value;
    next.status = "active";
    next.confidence = 1.0;
    next.supersedes_id = fact.id;
    next.created_at = 0;
    next.confirmed_at = 0;
    write.insert = next;
    write.confirm = true;
    write.status_changes.emplace_back(fact.id, "superseded");
  } else {
    return Error::invalid("action must be confirm, reject or correct", "action");
  }
  auto inserted = store_.write_facts(user_id, {write});
  if (!inserted) return inserted.error();
  if (!inserted->empty()) return inserted->front();
  auto after = store_.find_fact(user_id, fact_id);
  if (!after) return after.error();
  if (!*after) return Error::not_found(fmt::format("no fact {}", fact_id));
  return **after;
}

Result<std::vector<store::MessageHit>> Memory::search(int64_t user_id, std::string_view query, int limit,
                                                      const std::vector<std::string>& roles,
                                                      int64_t exclude_message_id) {
  if (limit <= 0) return std::vector<store::MessageHit>{};
  auto lexical = store_.search_messages(user_id, query, std::max(options_.search_candidates, limit * 2));
  if (!lexical) return lexical.error();
  std::vector<store::MessageHit> candidates;
  for (auto& hit : *lexical) {
    if (hit.message.id == exclude_message_id) continue;
    if (!roles.empty() && std::find(roles.begin(), roles.end(), hit.message.role) == roles.end()) continue;
    candidates.push_back(std::move(hit));
  }
  if (candidates.empty()) return candidates;
  // Hybrid: the lexical order fused by reciprocal rank with similarity in the hashing embedder's
  // space (stems, bigrams and character n-grams), which rewards paraphrase and near-miss spellings.
  auto query_vector = embedder_->embed_query(query, nullptr);
  if (!query_vector) return query_vector.error();
  std::vector<std::string> texts;
  for (const auto& c : candidates) texts.push_back(c.message.text);
  auto vectors = embedder_->embed_documents(texts);
  if (!vectors) return vectors.error();
  std::vector<double> similarity(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) similarity[i] = dot(*query_vector, (*vectors)[i]);
  std::vector<size_t> by_dense(candidates.size());
  for (size_t i = 0; i < by_dense.size(); ++i) by_dense[i] = i;
  std::stable_sort(by_dense.begin(), by_dense.end(),
                   [&](size_t a, size_t b) { return similarity[a] > similarity[b]; });
  std::vector<double> fused(candidates.size(), 0.0);
  constexpr double k = 60.0;
  for (size_t rank = 0; rank < candidates.size(); ++rank) {
    fused[rank] += 1.0 / (k + static_cast<double>(rank) + 1.0);
    fused[by_dense[rank]] += 1.0 / (k + static_cast<double>(rank) + 1.0);
  }
  std::vector<size_t> order(candidates.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return fused[a] > fused[b]; });
  std::vector<store::MessageHit> out;
  for (size_t i = 0; i < order.size() && out.size() < static_cast<size_t>(limit); ++i) {
    auto hit = candidates[order[i]];
    hit.score = fused[order[i]];
    out.push_back(std::move(hit));
  }
  return out;
}

Result<Recall> Memory::recall(int64_t user_id, const RecallRequest& request, std::string_view question,
                              int64_t exclude_message_id) {
  Recall recall;
  recall.history = request.wants_history;
  // Only the asked-about keys, with their history: a long-lived user's other facts are not read.
  auto facts = store_.facts_for_keys(user_id, request.keys);
  if (!facts) return facts.error();
  for (const auto& f : *facts) {
    if (f.status == "superseded") recall.replaced.push_back(value_without_item(f.value));
  }
  std::vector<std::string> requested = request.keys;
  {
    std::string folded;
    for (const char c : question) folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // "what's my company name" asks for the company, not the user's name.
    const bool own_name =
        folded.find("my name") != std::string::npos || folded.find("who am i") != std::string::npos;
    if (!own_name && requested.size() > 1) std::erase(requested, std::string("name"));
    // The question word narrows the kind of answer: "when" wants a date, "where" a place.
    static const std::vector<std::pair<std::string_view, std::vector<std::string>>> kByQuestionWord = {
        {"spend", {"budget"}},
        {"afford", {"budget"}},
        {"when", {"launch_date", "events"}},
        {"where", {"location", "sites", "areas"}},
        {"how many", {"team_size", "counts"}},
        {"how big", {"team_size"}},
        {"how much", {"price", "budget"}},
    };
    // "How many reviews are we aiming for?" counts a goal, not the team, when a goal counts reviews.
    if (request.counts_goal) {
      const auto question_stems = text::content_stems(question);
      const bool counts_a_goal = std::any_of(facts->begin(), facts->end(), [&](const store::Fact& f) {
        if (f.key != "goals" || f.status != "active") return false;
        for (const auto& stem : text::content_stems(f.value)) {
          if (stem.size() < 3 || std::isdigit(static_cast<unsigned char>(stem.front()))) continue;
          if (std::find(question_stems.begin(), question_stems.end(), stem) != question_stems.end())
            return true;
        }
        return false;
      });
      if (counts_a_goal) requested = {"goals"};
      // A number aimed for is no count reached ("how many weddings are we aiming for now?").
      std::erase(requested, std::string("counts"));
    }
    for (const auto& [word, wanted] : kByQuestionWord) {
      if (requested.size() == 1 && requested.front() == "goals") break;
      if (folded.find(word) == std::string::npos) continue;
      std::vector<std::string> narrowed;
      for (const auto& key : requested) {
        if (std::find(wanted.begin(), wanted.end(), key) == wanted.end()) continue;
        const bool known = std::any_of(facts->begin(), facts->end(), [&](const store::Fact& f) {
          return f.key == key && (f.status == "active" || f.status == "pending_confirmation");
        });
        if (known) narrowed.push_back(key);
      }
      if (!narrowed.empty()) {
        requested = std::move(narrowed);
        break;
      }
    }
    // "Where else do we sell?" asks for a place, never an amount, even when no place is saved.
    if (folded.find("where") != std::string::npos)
      std::erase_if(requested, [](const std::string& k) { return k == "price" || k == "budget"; });
  }
  std::vector<std::string> keys;
  for (const auto& key : requested) {
    if (key == "person") {
      for (const auto& f : *facts) {
        if (f.key.starts_with("person:") && std::find(keys.begin(), keys.end(), f.key) == keys.end())
          keys.push_back(f.key);
      }
    } else {
      keys.push_back(key);
    }
  }
  std::unordered_map<int64_t, const store::Fact*> by_id;
  for (const auto& f : *facts) by_id.emplace(f.id, &f);
  // The question's own content words, without the words every memory question has.
  std::vector<std::string> asked;
  for (auto& stem : text::content_stems(question)) {
    static constexpr std::string_view kGeneric[] = {
        "say",     "tell",  "told",  "mention", "rememb", "remind", "again",    "check",
        "quick",   "recal", "know",  "earlier", "note",   "record", "said",     "now",
        "current", "right", "sure",  "just",    "want",   "befor",  "previous", "origin",
        "initi",   "old",   "first", "present", "moment", "today",  "latest",   "still"};
    if (std::find(std::begin(kGeneric), std::end(kGeneric), stem) == std::end(kGeneric))
      asked.push_back(stem);
  }
  // The user's own business named in the question ("how many people work at Ledgerlight?") is "our",
  // not a subject that facts must repeat.
  {
    auto own = store_.facts_for_keys(user_id, {"company"});
    if (!own) return own.error();
    for (const auto& f : *own) {
      if (f.status != "active") continue;
      for (const auto& stem : text::content_stems(f.value)) std::erase(asked, stem);
    }
  }
  const auto overlaps = [&](std::string_view text) {
    size_t shared = 0;
    for (const auto& stem : text::content_stems(text)) {
      shared += std::find(asked.begin(), asked.end(), stem) != asked.end() ? 1 : 0;
    }
    return shared;
  };
  // "artwork" and "art", "bookkeeping" and "books": a role named by a longer or shorter word.
  const auto shares_prefix = [&](std::string_view role) {
    for (const auto& stem : text::content_stems(role)) {
      for (const auto& word : asked) {
        const size_t shorter = std::min(stem.size(), word.size());
        if (shorter >= 3 && stem.compare(0, shorter, word, 0, shorter) == 0) return true;
      }
    }
    return false;
  };
  const AnswerKind asked_kind = extractor_.answer_kind(question);
  const bool wants_amount = asked_kind == AnswerKind::money;
  // When the question names one of several items or people ("the taco plate", "my designer"), only those.
  const bool about_others = asks_about_another_business(question);
  const bool asks_who = asks_for_a_person(question);
  // "How many clients are we at?" is answered by the count of clients, not by the team's size.
  const bool counts_asked_thing = std::any_of(facts->begin(), facts->end(), [&](const store::Fact& f) {
    return f.key == "counts" && f.status == "active" && overlaps(value_item(f.value)) > 0;
  });
  const auto narrowed = [&](const std::string& key) {
    std::vector<const store::Fact*> current;
    if (key == "price" && about_others) return current;
    if (key == "team_size" && counts_asked_thing) return current;
    for (const auto& f : *facts) {
      if (f.key == key && (f.status == "active" || f.status == "pending_confirmation")) current.push_back(&f);
    }
    const auto* spec = key_spec(key);
    if (spec && spec->list) {
      // The things sharing most of the question's words: "a large dog" is the large dog's groom,
      // not the small dog's.
      std::vector<const store::Fact*> named;
      size_t most = 0;
      // An item said in other words of the same meaning ("big" and "large") counts as shared.
      const auto item_overlap = [&](std::string_view item) {
        size_t shared = 0;
        for (const auto& stem : text::content_stems(item)) {
          shared +=
              std::any_of(asked.begin(), asked.end(),
                          [&](const std::string& word) { return word == stem || same_meaning(word, stem); })
                  ? 1
                  : 0;
        }
        return shared;
      };
      for (const auto* f : current) {
        const size_t shared = spec->itemised ? item_overlap(value_item(f->value)) : overlaps(f->value);
        if (shared == 0 || (spec->itemised && shared < most)) continue;
        if (shared > most && spec->itemised) named.clear();
        most = std::max(most, shared);
        named.push_back(f);
      }
      if (!named.empty()) return named;
      // A count of something else ("38 clients" for "how many staff?") answers nothing.
      if (key == "counts") return std::vector<const store::Fact*>{};
      // "What do we charge for BAS?" when only other things' prices were saved: those are not the
      // answer, and the user's own words about BAS may be.
      const bool names_a_thing = std::any_of(asked.begin(), asked.end(), [](const std::string& stem) {
        return !is_key_cue(stem) && !std::isdigit(static_cast<unsigned char>(stem.front()));
      });
      if (key == "price" && names_a_thing && wants_amount) return std::vector<const store::Fact*>{};
      // "Where do I sell on Sundays?" asks for a place or a day, which no price is.
      if (key == "price" && (asked_kind == AnswerKind::place || asked_kind == AnswerKind::date))
        return std::vector<const store::Fact*>{};
    }
    return current;
  };
  if (std::find(requested.begin(), requested.end(), "person") != requested.end()) {
    std::vector<std::string> named_roles;
    for (const auto& key : keys) {
      // "cofounder" and "co-founder" are one role.
      if (!key.starts_with("person:")) continue;
      std::string unhyphenated = key.substr(7);
      std::erase(unhyphenated, '-');
      if (overlaps(key.substr(7)) > 0 || shares_prefix(key.substr(7)) || overlaps(unhyphenated) > 0 ||
          shares_prefix(unhyphenated))
        named_roles.push_back(key);
    }
    // "Who deals with distributors?" when the saved people are the brother and the master distiller:
    // none of them is the answer, and the user's own words naming someone beside that job may be.
    // Any word of the question but those that ask for everyone ("who's on the team?"); a word that
    // also names another fact key ("who does the market?") names a job here.
    const bool names_a_job = std::any_of(asked.begin(), asked.end(), [](const std::string& stem) {
      static const std::vector<std::string> kEveryone = [] {
        std::vector<std::string> stems;
        for (const auto word : {"team", "staff", "people", "crew", "employees", "workers", "helpers",
                                "everyone", "members", "person", "who", "name"})
          stems.push_back(text::stem(word));
        return stems;
      }();
      return !std::isdigit(static_cast<unsigned char>(stem.front())) &&
             std::find(kEveryone.begin(), kEveryone.end(), stem) == kEveryone.end() &&
             !stem.starts_with("person");
    });
    // "Who's heading the Mandaue branch?" names a place to find a person: a place, an amount or a date
    // answers no "who".
    if (asks_who) {
      std::erase_if(keys, [](const std::string& k) {
        static constexpr std::string_view kNoPerson[] = {"location", "areas",       "sites", "hours", "price",
                                                         "budget",   "launch_date", "goals", "events"};
        return std::find(std::begin(kNoPerson), std::end(kNoPerson), k) != std::end(kNoPerson);
      });
    }
    if (!named_roles.empty() || (asks_who && names_a_job)) {
      std::erase_if(keys, [&](const std::string& k) {
        return k.starts_with("person:") &&
               std::find(named_roles.begin(), named_roles.end(), k) == named_roles.end();
      });
    }
  }
  std::vector<int64_t> source_ids;
  for (const auto& key : keys) {
    for (const auto* current : narrowed(key)) {
      const auto& f = *current;
      RecalledFact recalled;
      recalled.current = f;
      // The chain of versions this value replaced (the last few: a long history is summarised).
      for (int64_t older = f.supersedes_id; older != 0 && recalled.earlier.size() < 5;) {
        const auto it = by_id.find(older);
        if (it == by_id.end() || it->second->status != "superseded") break;
        recalled.earlier.insert(recalled.earlier.begin(), *it->second);
        older = it->second->supersedes_id;
      }
      source_ids.push_back(f.source_message_id);
      recall.facts.push_back(std::move(recalled));
    }
  }
  // Retracted list members ("no longer competing with Acme") are history worth showing too.
  for (const auto& key : keys) {
    const auto* spec = key_spec(key);
    if (!spec || !spec->list || spec->itemised) continue;
    size_t shown = 0;
    for (const auto& old : *facts) {
      if (shown >= 5) break;
      if (old.key != key || old.status != "superseded" || old.supersedes_id != 0) continue;
      const bool still = std::any_of(recall.facts.begin(), recall.facts.end(), [&](const RecalledFact& r) {
        return comparable(r.current.value) == comparable(old.value);
      });
      if (still) continue;
      const bool listed = std::any_of(recall.facts.begin(), recall.facts.end(), [&](const RecalledFact& r) {
        return r.current.status == "superseded" && comparable(r.current.value) == comparable(old.value);
      });
      if (listed) continue;
      RecalledFact gone;
      gone.current = old;
      recall.facts.push_back(std::move(gone));
      ++shown;
    }
  }
  if (!source_ids.empty()) {
    auto sources = store_.messages_by_id(user_id, source_ids);
    if (!sources) return sources.error();
    for (auto& r : recall.facts) {
      for (const auto& m : *sources) {
        if (m.id == r.current.source_message_id) {
          r.source_text = m.text;
          r.source_at = m.created_at;
        }
      }
    }
  }
  // A question with its own subject ("what did we decide about weddings?") is not answered by facts
  // that do not mention that subject: the user's own words about it are the answer.
  std::vector<std::string> specific;
  {
    std::string folded;
    for (const char c : question) folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto about = folded.find(" about ");
    if (about != std::string::npos) {
      for (auto& stem : text::content_stems(std::string_view(folded).substr(about + 7))) {
        if (!is_key_cue(stem)) specific.push_back(stem);
      }
    }
  }
  if (!specific.empty() && !recall.facts.empty()) {
    const bool about_subject =
        std::any_of(recall.facts.begin(), recall.facts.end(), [&](const RecalledFact& r) {
          const auto stems = text::content_stems(r.current.value + " " + r.source_text);
          return std::any_of(stems.begin(), stems.end(), [&](const std::string& stem) {
            return std::find(specific.begin(), specific.end(), stem) != specific.end();
          });
        });
    if (!about_subject) recall.facts.clear();
  }
  // A launch date answers "when do we launch"; other dated events only when the question names them.
  const bool launch_known = std::any_of(recall.facts.begin(), recall.facts.end(), [](const RecalledFact& r) {
    return r.current.key == "launch_date" && r.current.status != "superseded";
  });
  if (launch_known) {
    std::erase_if(recall.facts, [&](const RecalledFact& r) {
      return r.current.key == "events" && overlaps(value_item(r.current.value)) == 0;
    });
  }
  // Words of the question that name no fact key ("merch", "park", "sourdough"): when some recalled
  // facts mention them, those are the answer; when none does, the user's own words may.
  std::vector<std::string> subject;
  for (const auto& stem : asked) {
    if (!is_key_cue(stem)) subject.push_back(stem);
  }
  const auto mentions_subject = [&](const RecalledFact& r) {
    const auto stems = text::content_stems(r.current.value + " " + r.source_text);
    return std::any_of(stems.begin(), stems.end(), [&](const std::string& stem) {
      return std::find(subject.begin(), subject.end(), stem) != subject.end();
    });
  };
  bool subject_covered = subject.empty();
  if (!subject.empty() && recall.facts.size() > 1) {
    std::vector<RecalledFact> on_subject;
    for (const auto& r : recall.facts) {
      if (r.current.status != "superseded" && mentions_subject(r)) on_subject.push_back(r);
    }
    // The question's other words matched only facts of keys it names in passing ("name" in "which
    // bakeries have I named as competition"): the key it names outright comes back, since those
    // words describe its answer ("bakeries") rather than pick among its facts.
    const auto outright = keys_named_outright(question);
    const auto named_outright = [&](const RecalledFact& r) {
      return std::find(outright.begin(), outright.end(), r.current.key) != outright.end();
    };
    if (!on_subject.empty() && std::none_of(on_subject.begin(), on_subject.end(), named_outright)) {
      for (const auto& r : recall.facts) {
        if (r.current.status != "superseded" && named_outright(r)) on_subject.push_back(r);
      }
    }
    if (!on_subject.empty()) {
      recall.facts = std::move(on_subject);
      subject_covered = true;
    }
  } else if (!subject.empty()) {
    subject_covered = std::any_of(recall.facts.begin(), recall.facts.end(), mentions_subject);
  }
  if (request.subject_only && !subject_covered) recall.facts.clear();

  // A question that wants a date, an amount, a number or a place can be answered by the user's own
  // statement holding one: the statement sharing most of the question's own words, the newest of
  // those (a later statement of the same thing is the current one). It also catches a change the
  // extractor missed: a newer statement on the same subject whose value differs from the fact's.
  const AnswerKind kind = extractor_.answer_kind(question);
  const auto subject_tier = [&](std::string_view text) {
    const auto stems = text::content_stems(text);
    size_t tier = 0;
    for (const auto& stem : subject)
      tier += std::find(stems.begin(), stems.end(), stem) != stems.end() ? 1 : 0;
    return tier;
  };
  const auto kind_of = [](std::string_view key) {
    if (key == "launch_date" || key == "events") return AnswerKind::date;
    if (key == "price" || key == "budget") return AnswerKind::money;
    if (key == "team_size") return AnswerKind::count;
    if (key == "location" || key == "sites") return AnswerKind::place;
    return AnswerKind::any;
  };
  // The asked-about keys of the asked-for kind that a sentence is also about ("budget" for a "how
  // much … marketing" question), not merely any key it brushes ("a month" is no budget).
  const auto kind_keys_in = [&](std::string_view sentence) {
    std::vector<std::string> shared;
    for (const auto& key : keys_mentioned(sentence)) {
      if (kind_of(key) == kind &&
          std::find(request.keys.begin(), request.keys.end(), key) != request.keys.end())
        shared.push_back(key);
    }
    return shared;
  };
  const auto best_statement = [&]() -> Result<std::optional<std::pair<store::MessageHit, size_t>>> {
    std::optional<std::pair<store::MessageHit, size_t>> best;
    if (kind == AnswerKind::any) return best;
    auto hits = search(user_id, question, 12, {"user"}, exclude_message_id);
    if (!hits) return hits.error();
    std::vector<std::pair<store::MessageHit, size_t>> candidates;
    for (const auto& hit : *hits) {
      // Questions are left out sentence by sentence: "an amendment to what I told you: we are now
      // fourteen" is a statement although it names the memory.
      for (auto& statement : extractor_.statements(hit.message.text, kind)) {
        // Someone else's value answers only a question about someone else.
        if (statement.others && !about_others) continue;
        size_t tier = subject_tier(statement.sentence);
        if (tier == 0 && kind_keys_in(statement.sentence).empty()) continue;
        // A value that belongs to something the question does not name ("the ten-class pass" for
        // "a drop-in class") counts for less.
        const auto item_stems = text::content_stems(statement.item);
        // Only amounts: the words before a date are seldom the thing it is for ("ready until").
        const bool foreign_item =
            kind == AnswerKind::money && !subject.empty() &&
            std::any_of(item_stems.begin(), item_stems.end(), [&](const std::string& stem) {
              return std::find(asked.begin(), asked.end(), stem) == asked.end() && !is_key_cue(stem);
            });
        // "What's the Accra competitor charging?" is answered by another business's amount, which is
        // seldom said with the thing's name ("selling something similar").
        const bool someone_elses = statement.others || statement.others_value;
        if (foreign_item && tier > 0 && !(about_others && someone_elses)) --tier;
        if (kind == AnswerKind::money && about_others && !someone_elses) tier = tier > 1 ? tier - 2 : 0;
        candidates.emplace_back(hit, tier);
        candidates.back().first.message.text = std::move(statement.sentence);
      }
    }
    if (candidates.empty()) return best;
    // The newest of the statements nearly as much on the subject as the best one: a later statement
    // of the same thing is the current one, even when it repeats fewer of the question's words
    // ("Service is £95 now" after "Boiler service £89").
    size_t top = 0;
    for (const auto& c : candidates) top = std::max(top, c.second);
    const size_t floor = top >= 2 ? top - 1 : top;
    for (auto& c : candidates) {
      if (c.second < floor) continue;
      if (!best || c.first.message.id > best->first.message.id) best = std::move(c);
    }
    return best;
  };
  bool typed_facts = false;
  int64_t newest_typed_source = 0;
  int64_t newest_typed_confirmed = 0;
  if (kind != AnswerKind::any) {
    // Facts of the asked kind under different keys ("the launch" and "the US store opening", both
    // dates of the same plan): the key stated most recently holds the current answer.
    int64_t newest = 0;
    std::string newest_key;
    std::set<std::string> typed_keys;
    for (const auto& r : recall.facts) {
      if (r.current.status == "superseded" || kind_of(r.current.key) != kind) continue;
      typed_keys.insert(r.current.key);
      if (r.current.source_message_id > newest) {
        newest = r.current.source_message_id;
        newest_key = r.current.key;
      }
    }
    if (typed_keys.size() > 1) {
      std::erase_if(recall.facts, [&](const RecalledFact& r) {
        return kind_of(r.current.key) == kind && r.current.key != newest_key;
      });
    }
    int64_t newest_source = 0;
    // A value the user confirmed or corrected by hand is current as of that moment, whatever message
    // it first came from: statements older than the confirmation are not changes it missed.
    int64_t newest_confirmed = 0;
    size_t fact_tier = 0;
    std::vector<std::string> values;
    std::vector<std::string> fact_keys;
    for (const auto& r : recall.facts) {
      if (r.current.status == "superseded" || kind_of(r.current.key) != kind) continue;
      fact_keys.push_back(r.current.key);
      newest_source = std::max(newest_source, r.current.source_message_id);
      newest_confirmed = std::max(newest_confirmed, r.current.confirmed_at);
      fact_tier = std::max(fact_tier, subject_tier(r.current.value + " " + r.source_text));
      values.push_back(comparable(value_without_item(r.current.value)));
    }
    typed_facts = newest_source != 0;
    newest_typed_source = newest_source;
    newest_typed_confirmed = newest_confirmed;
    const bool no_current = std::none_of(recall.facts.begin(), recall.facts.end(), [](const RecalledFact& r) {
      return r.current.status != "superseded";
    });
    if (typed_facts || no_current) {
      auto statement = best_statement();
      if (!statement) return statement.error();
      if (*statement) {
        const auto& [hit, tier] = **statement;
        const std::string said = comparable(hit.message.text);
        const bool repeats = std::any_of(values.begin(), values.end(), [&](const std::string& v) {
          return !v.empty() && said.find(v) != std::string::npos;
        });
        // Newer and as much on the subject: a change the facts missed. Older but more on the subject:
        // the facts answer something else ("how much for merch" over taco prices) - unless the
        // statement is about the very key the facts hold, whose newer value they then are.
        const auto statement_keys = kind_keys_in(hit.message.text);
        const bool other_key =
            std::none_of(statement_keys.begin(), statement_keys.end(), [&](const std::string& k) {
              return std::find(fact_keys.begin(), fact_keys.end(), k) != fact_keys.end();
            });
        // A statement about another key of the same kind ("the plan is ₹3,500" against the marketing
        // budget) is no newer value of the facts' key.
        const bool conflicting_key = !statement_keys.empty() && other_key;
        const bool newer = hit.message.id > newest_source && hit.message.created_at > newest_confirmed &&
                           tier >= fact_tier && !repeats && !conflicting_key;
        const bool closer = tier > fact_tier && other_key && !repeats;
        if (no_current || newer || closer) {
          recall.facts.clear();
          recall.quotes.push_back(std::move((*statement)->first));
          if (auto followed =
                  follow_changes(store_, extractor_, user_id, kind, asked, exclude_message_id, recall.quotes);
              !followed)
            return followed.error();
          return recall;
        }
      }
    }
  }

  // A saved value of the asked kind may have been changed by a later message the extractor did not
  // read as a change ("launching May 5th, not April"): followed from the value's own message, such a
  // change answers instead, with that message as what was said earlier.
  if (typed_facts) {
    auto source = store_.messages_by_id(user_id, {newest_typed_source});
    if (!source) return source.error();
    if (!source->empty()) {
      std::vector<store::MessageHit> said{{std::move(source->front()), 0.0}};
      if (auto followed = follow_changes(store_, extractor_, user_id, kind, asked, exclude_message_id, said);
          !followed)
        return followed.error();
      if (said.size() > 1 && said.front().message.created_at > newest_typed_confirmed) {
        recall.facts.clear();
        recall.quotes = std::move(said);
        recall.changed_since_saved = true;
        return recall;
      }
    }
  }

  // The one person who does the asked-about job may have handed it on in words the extractor did not
  // read as a change ("Fionn is off to Limerick. Aoife Keane is starting with me Monday"): that message
  // answers, with the one naming the job's holder as what was said earlier.
  {
    const auto current_people = [&recall] {
      std::vector<const RecalledFact*> people;
      for (const auto& r : recall.facts) {
        if (r.current.key.starts_with("person:") && r.current.status == "active") people.push_back(&r);
      }
      return people;
    };
    auto people = current_people();
    // Someone who handed the job on in the very message that named another recalled person ("Kenji
    // cannot help now. My student Yui Tanaka will help me with the kiln") no longer does it.
    if (people.size() > 1) {
      std::vector<int64_t> handed_on;
      for (const auto* person : people) {
        if (person->current.confirmed_at != 0) continue;
        for (const auto* other : people) {
          if (other == person || other->current.source_message_id <= person->current.source_message_id)
            continue;
          if (names_person(other->source_text, value_without_item(person->current.value)) &&
              announces_handover(other->source_text))
            handed_on.push_back(person->current.id);
        }
      }
      if (!handed_on.empty()) {
        std::erase_if(recall.facts, [&](const RecalledFact& r) {
          return std::find(handed_on.begin(), handed_on.end(), r.current.id) != handed_on.end();
        });
        people = current_people();
      }
    }
    if (people.size() == 1 && people.front()->current.confirmed_at == 0) {
      const auto& holder = people.front()->current;
      auto source = store_.messages_by_id(user_id, {holder.source_message_id});
      if (!source) return source.error();
      if (!source->empty()) {
        auto handover = handover_after(store_, user_id, source->front(), value_without_item(holder.value),
                                       exclude_message_id);
        if (!handover) return handover.error();
        if (!handover->empty()) {
          recall.facts.clear();
          recall.quotes.clear();
          for (auto& message : *handover) recall.quotes.push_back({std::move(message), 0.0});
          recall.quotes.push_back({std::move(source->front()), 0.0});
          recall.changed_since_saved = true;
          return recall;
        }
      }
    }
  }

  const bool any_current = std::any_of(recall.facts.begin(), recall.facts.end(), [](const RecalledFact& r) {
    return r.current.status != "superseded";
  });
  // A typed question the facts answer needs no quote beside them: an older one would restate a value
  // the facts have since replaced.
  if (any_current && !subject_covered && !typed_facts) {
    // One quote of the user's own words on the subject, after the facts.
    auto hits = search(user_id, question, 6, {"user"}, exclude_message_id);
    if (!hits) return hits.error();
    // Of the messages on the subject, the newest: the question is about how things stand now. A message
    // that names someone since replaced ("Morag Lindsay (bookkeeping)") would restate history beside
    // the answer, so it is no quote here.
    // Only people: who does a job now is what such a question asks, and a message naming who did it
    // before reads as the answer.
    std::vector<std::string> replaced;
    for (const auto& r : recall.facts) {
      if (!r.current.key.starts_with("person:")) continue;
      for (const auto& e : r.earlier) {
        const std::string bare = value_without_item(e.value);
        replaced.push_back(comparable(bare));
        if (const auto first = first_name_of(bare)) replaced.push_back(comparable(*first));
      }
    }
    int64_t newest_person_source = 0;
    for (const auto& r : recall.facts) {
      // Only a person doing the very job asked about ("who roasts for us now?" and the roaster).
      if (r.current.key.starts_with("person:") && r.current.status != "superseded" &&
          (overlaps(r.current.key.substr(7)) > 0 || shares_prefix(r.current.key.substr(7))))
        newest_person_source = std::max(newest_person_source, r.current.source_message_id);
    }
    std::optional<store::MessageHit> newest;
    for (auto& hit : *hits) {
      if (recall_request(hit.message.text).asks_memory) continue;
      const std::string said = comparable(hit.message.text);
      if (std::any_of(replaced.begin(), replaced.end(), [&](const std::string& old) {
            return old.size() >= 2 && said.find(old) != std::string::npos;
          }))
        continue;
      const auto stems = text::content_stems(hit.message.text);
      const bool on_subject = std::any_of(stems.begin(), stems.end(), [&](const std::string& stem) {
        return std::find(subject.begin(), subject.end(), stem) != subject.end();
      });
      // Beside who does a job now, an older message on the job names who did it before.
      if (hit.message.id <= newest_person_source) continue;
      if (on_subject && (!newest || hit.message.seq > newest->message.seq)) newest = std::move(hit);
    }
    if (newest) recall.quotes.push_back(std::move(*newest));
  }
  if (!any_current) {
    auto hits = search(user_id, question, asks_who ? 12 : 6, {"user"}, exclude_message_id);
    if (!hits) return hits.error();
    if (asks_who) {
      // "Who glasses my boards?" and "Glasser is my mate Wes": a job is often said in another form of
      // the question's word, which the search's stems do not join. The user's recent messages naming
      // someone beside such a word are candidates too.
      auto recent = store_.recent_messages(user_id, kWhoScan, kUsersWords);
      if (!recent) return recent.error();
      for (auto& m : *recent) {
        // Names are often written in lower case ("my niece eilidh is taking over the facebook").
        if (m.role != "user" || m.id == exclude_message_id) continue;
        if (std::any_of(hits->begin(), hits->end(),
                        [&](const store::MessageHit& h) { return h.message.id == m.id; }))
          continue;
        const auto stems = text::content_stems(m.text);
        const bool related = std::any_of(subject.begin(), subject.end(), [&](const std::string& word) {
          return std::any_of(stems.begin(), stems.end(), [&](const std::string& stem) {
            return stem != word && (same_word_family(stem, word) || same_meaning(stem, word));
          });
        });
        if (related) hits->push_back({std::move(m), 0.0});
      }
    }
    const size_t needed = request.explicit_ask ? 1 : std::min<size_t>(2, std::max<size_t>(asked.size(), 1));
    // How many of the question's subject words a message says, also in a longer or shorter form
    // ("glasses" and "Glasser", "frames" and "frame"); for "who …?", a message naming someone counts more.
    const auto subject_score = [&](const store::Message& m) {
      const auto stems = text::content_stems(m.text);
      size_t score = 0;
      const auto says = [&](const std::string& word) {
        return std::any_of(stems.begin(), stems.end(), [&](const std::string& stem) {
          return same_word_family(stem, word) || (asks_who && same_meaning(stem, word));
        });
      };
      for (const auto& word : subject) score += says(word) ? 2 : 0;
      if (asks_who && !names_in(m.text).empty()) {
        // Who does a job is asked with words that may also name fact keys ("who works the shop"): a
        // message naming someone beside any of the question's own words is on the subject too.
        if (score == 0 && std::any_of(asked.begin(), asked.end(), says)) score = 2;
        if (score > 0) ++score;
      }
      return score;
    };
    std::vector<std::pair<store::MessageHit, size_t>> candidates;
    for (auto& hit : *hits) {
      // Earlier memory questions hold no answer, and a quote must share the question's subject:
      // one of its own words that name no fact key ("distributor"), or enough of its words.
      if (recall_request(hit.message.text).asks_memory) continue;
      const size_t score = subject_score(hit.message);
      if (score == 0 && (request.subject_only || overlaps(hit.message.text) < needed)) continue;
      candidates.emplace_back(std::move(hit), score);
    }
    // Who does something is said in the message most on that something, naming someone: those first,
    // in search order among equals. A word few of the messages say weighs more ("glasses" against
    // "boards", which many do). Other questions keep the search's order.
    if (asks_who && candidates.size() > 1) {
      // Which candidates say each of the question's words, worked out once.
      std::vector<std::vector<bool>> said(asked.size(), std::vector<bool>(candidates.size()));
      for (size_t i = 0; i < candidates.size(); ++i) {
        const auto stems = text::content_stems(candidates[i].first.message.text);
        for (size_t w = 0; w < asked.size(); ++w) {
          said[w][i] = std::any_of(stems.begin(), stems.end(), [&](const std::string& stem) {
            return same_word_family(stem, asked[w]) || same_meaning(stem, asked[w]);
          });
        }
      }
      std::vector<std::pair<size_t, double>> ranks;  // candidate index, weight
      for (size_t i = 0; i < candidates.size(); ++i) {
        double weight = names_in(candidates[i].first.message.text).empty() ? 0.0 : 0.5;
        for (size_t w = 0; w < asked.size(); ++w) {
          if (!said[w][i]) continue;
          weight += 1.0 / static_cast<double>(std::count(said[w].begin(), said[w].end(), true));
        }
        ranks.emplace_back(i, weight);
      }
      // Among equals, for "who … now?", the newest: who does a job now was said last. Otherwise the
      // search's order.
      const bool asks_now = asks_about_now(question);
      std::stable_sort(ranks.begin(), ranks.end(), [&](const auto& a, const auto& b) {
        if (a.second != b.second) return a.second > b.second;
        return asks_now && candidates[a.first].first.message.seq > candidates[b.first].first.message.seq;
      });
      std::vector<std::pair<store::MessageHit, size_t>> ordered;
      for (const auto& [index, weight] : ranks) {
        if (!ordered.empty() && weight < 0.5 * ranks.front().second) break;
        ordered.push_back(std::move(candidates[index]));
      }
      candidates = std::move(ordered);
    }
    for (auto& [hit, score] : candidates) {
      recall.quotes.push_back(std::move(hit));
      if (recall.quotes.size() == 2) break;
    }
    std::sort(recall.quotes.begin(), recall.quotes.end(),
              [](const auto& a, const auto& b) { return a.message.seq > b.message.seq; });
    if (auto followed =
            follow_changes(store_, extractor_, user_id, kind, asked, exclude_message_id, recall.quotes);
        !followed)
      return followed.error();
  }
  return recall;
}

Result<bool> Memory::refresh_summary(
    int64_t user_id, int64_t last_seq, int recent_window,
    const std::function<Result<std::string>(const std::string&, const std::string&)>* model) {
  auto current = store_.summary(user_id);
  if (!current) return current.error();
  const int64_t upto = *current ? (*current)->upto_seq : 0;
  const int64_t new_upto = last_seq - recent_window;
  if (new_upto - upto < options_.summary_every) return false;
  // Older turns than the last window, capped so a huge thread costs a bounded read.
  const int64_t from = std::max<int64_t>(0, new_upto - 2000);
  // A model reads both sides of the conversation; the extractive summary only the user's own words.
  const bool by_model = model && *model;
  auto turns = store_.messages_between(user_id, from, new_upto, -1,
                                       store::ThreadRead{.users_only = !by_model, .brief = true});
  if (!turns) return turns.error();
  auto facts = store_.list_facts(user_id, false);
  if (!facts) return facts.error();
  store::Summary summary{user_id, new_upto, {}};
  if (by_model) {
    // The model rolls the previous summary forward over the turns it does not cover yet.
    std::string input = *current ? "Summary so far:\n" + (*current)->text + "\n\nNew turns:\n" : "Turns:\n";
    for (const auto& m : *turns) {
      if (m.seq <= upto) continue;
      input += fmt::format("[{}] {}: {}\n", human_date(m.created_at), m.role, m.text);
      if (text::count_tokens(input) > 12000) break;
    }
    auto written = (*model)(
        "You keep a brand coach's memory of one client. Rewrite the summary so it covers everything below: "
        "who they are, their business, every concrete detail they gave (names, numbers, prices, dates, "
        "places), what they decided or rejected, and what is still open. Newer statements replace older "
        "ones; say so when a value changed. Plain text, at most 250 words.",
        input);
    if (written && !written->empty() && text::is_valid_utf8(*written))
      summary.text = written->substr(0, 8000);
  }
  if (summary.text.empty()) summary.text = extractive_summary(*turns, *facts, options_.summary_max_tokens);
  if (auto status = store_.put_summary(summary); !status) return status.error();
  return true;
}

nlohmann::json audit_json(const store::AuditEntry& a) {
  const auto parsed = [](const std::string& text) {
    return text.empty() ? nlohmann::json(nullptr) : parse_json(text);
  };
  nlohmann::json row = {{"id", a.id},
                        {"actor", a.actor},
                        {"action", a.action},
                        {"object", a.object},
                        {"before", parsed(a.before_json)},
                        {"after", parsed(a.after_json)},
                        {"at", iso_time(a.at)}};
  if (!a.user_external_id.empty()) row["user"] = a.user_external_id;
  return row;
}

Result<nlohmann::json> Memory::export_json(const store::User& user) {
  auto facts = store_.list_facts(user.id, true);
  if (!facts) return facts.error();
  auto thread = store_.messages_between(user.id, 0, INT64_MAX, -1);
  if (!thread) return thread.error();
  auto summary = store_.summary(user.id);
  if (!summary) return summary.error();
  auto usage = store_.usage(user.id);
  if (!usage) return usage.error();
  auto audit = store_.audit_log(user.id);
  if (!audit) return audit.error();

  nlohmann::json profile = nlohmann::json::object();
  nlohmann::json all_facts = nlohmann::json::array();
  for (const auto& f : *facts) all_facts.push_back(to_json(f));
  for (auto& entry : current_facts_json(*facts))
    profile[entry["category"].get<std::string>()].push_back(std::move(entry));
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : *thread) messages.push_back(message_to_json(m));
  nlohmann::json usage_rows = nlohmann::json::array();
  for (const auto& u : *usage) {
    usage_rows.push_back({{"day", u.day},
                          {"assistant", u.assistant},
                          {"input_tokens", u.input_tokens},
                          {"output_tokens", u.output_tokens},
                          {"cost_usd", u.cost_usd}});
  }
  nlohmann::json audit_rows = nlohmann::json::array();
  for (const auto& a : *audit) {
    auto row = audit_json(a);
    // The export is the user's own: the shared log's ids and the subject's name add nothing there.
    row.erase("id");
    row.erase("user");
    audit_rows.push_back(std::move(row));
  }
  return nlohmann::json{
      {"user",
       {{"id", user.external_id},
        {"display_name", user.display_name},
        {"created_at", iso_time(user.created_at)}}},
      {"exported_at", iso_time(unix_millis())},
      {"profile", std::move(profile)},
      {"facts", std::move(all_facts)},
      {"summary", *summary ? nlohmann::json{{"upto_seq", (*summary)->upto_seq}, {"text", (*summary)->text}}
                           : nlohmann::json(nullptr)},
      {"thread", std::move(messages)},
      {"usage", std::move(usage_rows)},
      {"audit", std::move(audit_rows)}};
}

std::string export_markdown(const nlohmann::json& exported) {
  std::string out =
      fmt::format("# What brandcoach keeps about {}\n\n_Exported {}._\n\n",
                  exported["user"].value("id", std::string()), exported.value("exported_at", ""));
  out += "## Profile\n\n";
  if (exported["profile"].empty()) out += "Nothing yet.\n";
  for (const auto& [category, facts] : exported["profile"].items()) {
    out += fmt::format("### {}\n\n", category);
    for (const auto& f : facts) {
      out += fmt::format(
          "- **{}:** {}{} (since {})\n", f.value("label", ""), f.value("value", ""),
          f.value("status", "") == "pending_confirmation" ? " _(waiting for your confirmation)_" : "",
          f.value("created_at", ""));
      for (const auto& h : f["history"]) {
        out += fmt::format("  - earlier: {} (from {})\n", h.value("value", ""), h.value("created_at", ""));
      }
    }
    out += "\n";
  }
  if (!exported["summary"].is_null()) {
    out += "## Summary of older conversation\n\n" + exported["summary"].value("text", std::string()) + "\n\n";
  }
  out += "## Conversation\n\n";
  int64_t session = 0;
  for (const auto& m : exported["thread"]) {
    if (m.value("session", int64_t{0}) != session) {
      session = m.value("session", int64_t{0});
      out += fmt::format("### Session {}\n\n", session);
    }
    const std::string who =
        m.value("role", "") == "user" ? "You" : "Coach (" + m.value("assistant", "") + ")";
    out += fmt::format("**{}** · {}\n\n{}\n\n", who, m.value("created_at", ""), m.value("text", ""));
  }
  out += "## Usage\n\n";
  for (const auto& u : exported["usage"]) {
    out += fmt::format("- {} {}: {} input tokens, {} output tokens\n", u.value("day", ""),
                       u.value("assistant", ""), u.value("input_tokens", int64_t{0}),
                       u.value("output_tokens", int64_t{0}));
  }
  return out;
}

}  // namespace brandcoach::memory

namespace brandcoach::memory {

namespace {

// The sentence of `text` that holds `value` (the user's own words for it), else its opening.
std::string quote_for(std::string_view text, std::string_view value,
                      const std::vector<std::string>& replaced = {}) {
  std::string folded_text, folded_value;
  for (const char c : text) folded_text += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char c : value) folded_value += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t at = folded_value.empty() ? std::string::npos : folded_text.find(folded_value);
  size_t begin = 0, end = text.size();
  if (at != std::string::npos) {
    for (size_t i = at; i > 0; --i) {
      const char c = text[i - 1];
      if ((c == '.' || c == '!' || c == '?' || c == '\n') && i < text.size() && text[i] == ' ') {
        begin = i + 1;
        break;
      }
    }
    for (size_t i = at + value.size(); i < text.size(); ++i) {
      const char c = text[i];
      if (c == '!' || c == '?' || c == '\n' || (c == '.' && (i + 1 == text.size() || text[i + 1] == ' '))) {
        end = i + 1;
        break;
      }
    }
  }
  std::string quote(text.substr(begin, end - begin));
  // Of a sentence that also names a value since replaced ("Hemi's gone to Aussie, Lani's taking the site
  // over"), only the part about the current value: from the value (or the start of its clause, when
  // nothing replaced comes between) to the end of its clause, and never as far as a replaced value.
  std::string folded_quote;
  for (const char c : quote) folded_quote += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<size_t> replaced_at;
  // A replaced name is often said by its first word alone ("Kurrajong" for "Kurrajong Blooms").
  std::vector<std::string> forms = replaced;
  for (const auto& old : replaced) {
    if (const auto first = first_name_of(old)) forms.emplace_back(*first);
  }
  for (const auto& old : forms) {
    std::string folded_old;
    for (const char c : old) folded_old += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (folded_old.empty() || folded_value.find(folded_old) != std::string::npos) continue;
    for (size_t found = folded_quote.find(folded_old); found != std::string::npos;
         found = folded_quote.find(folded_old, found + 1))
      replaced_at.push_back(found);
  }
  if (!replaced_at.empty() && at != std::string::npos && at >= begin && at < end) {
    const size_t value_at = at - begin;
    const size_t value_end = value_at + value.size();
    size_t clause_begin = 0, clause_end = quote.size();
    for (const std::string_view joint : {", ", " - ", " – ", "; ", " so ", " but ", " cuz ", " because ",
                                         " and then ", " while ", " 😭 ", " 😢 "}) {
      for (size_t found = quote.find(joint); found != std::string::npos;
           found = quote.find(joint, found + 1)) {
        if (found + joint.size() <= value_at) clause_begin = std::max(clause_begin, found + joint.size());
        // The clause ends at the first joint after the value that leaves it a few words long.
        if (found < value_end) continue;
        const auto spaces = std::count(quote.begin() + static_cast<std::ptrdiff_t>(value_at),
                                       quote.begin() + static_cast<std::ptrdiff_t>(found), ' ');
        if (spaces >= 2) clause_end = std::min(clause_end, found);
      }
    }
    for (const size_t old_at : replaced_at) {
      if (old_at < value_at && old_at >= clause_begin) clause_begin = value_at;
      if (old_at >= value_end && old_at < clause_end) clause_end = old_at;
    }
    while (clause_end > clause_begin && (quote[clause_end - 1] == ' ' || quote[clause_end - 1] == ','))
      --clause_end;
    quote = (clause_begin > 0 ? "…" : "") + quote.substr(clause_begin, clause_end - clause_begin) +
            (clause_end < quote.size() ? "…" : "");
  }
  // "…in Aundh, not Baner." quotes as "…in Aundh.": the replaced value is history, not the answer.
  for (const std::string_view contrast : {", not ", " (not ", ", instead of ", " rather than "}) {
    const auto cut = quote.find(contrast);
    if (cut != std::string::npos && cut > 0 && folded_value.size() > 0 &&
        quote.substr(0, cut).find(std::string(value)) != std::string::npos) {
      quote = quote.substr(0, cut) + ".";
      break;
    }
  }
  if (quote.size() > 300) quote = quote.substr(0, quote.rfind(' ', 300)) + " …";
  return quote;
}

}  // namespace

std::string render_recall(const Recall& recall) {
  std::string out;
  if (!recall.facts.empty()) {
    out += "Here's what you've told me:\n\n";
    std::vector<std::string> listed_keys;
    for (const auto& r : recall.facts) {
      const std::string label = key_label(r.current.key);
      const auto* spec = key_spec(r.current.key);
      if (spec && spec->list && !spec->itemised) {
        // A list reads as one line of its current members, then what is no longer on it: quoting each
        // member's source would repeat members that have since left.
        if (std::find(listed_keys.begin(), listed_keys.end(), r.current.key) != listed_keys.end()) continue;
        listed_keys.push_back(r.current.key);
        std::string current, gone;
        int64_t since = 0;
        for (const auto& other : recall.facts) {
          if (other.current.key != r.current.key) continue;
          if (other.current.status == "superseded") {
            gone += (gone.empty() ? "" : ", ") + other.current.value;
          } else {
            current += (current.empty() ? "" : ", ") + other.current.value;
            since = std::max(since, other.source_at);
          }
        }
        if (!current.empty()) {
          out += fmt::format("- **{}:** {}", label, current);
          if (since) out += fmt::format(" (as of {})", human_date(since));
          out += "\n";
        }
        if (!gone.empty() && recall.history)
          out += fmt::format("  - No longer: {} (you changed that).\n", gone);
        continue;
      }
      if (r.current.status == "superseded") continue;
      out += fmt::format("- **{}:** {}", label, r.current.value);
      // A value the user corrected by hand (the memory panel, the API) keeps the message it first came
      // from as its source, but that message holds the old value: quoting it would contradict the answer.
      const bool corrected_by_hand =
          !r.earlier.empty() && r.earlier.back().source_message_id == r.current.source_message_id;
      if (corrected_by_hand) {
        out += fmt::format(" — you corrected it on {}", human_date(r.current.created_at));
      } else if (!r.source_text.empty()) {
        // Quote the sentence that holds the value itself, not its "(item)" label.
        const std::string bare = value_without_item(r.current.value);
        std::vector<std::string> replaced;
        for (const auto& e : r.earlier) replaced.push_back(value_without_item(e.value));
        // A sentence listing several prices quotes only the clause of this one ("small groom $85,
        // large groom $120"): another amount beside it may have changed since, in words the memory
        // did not read as a change, and would be read as current.
        if (r.current.key == "price") {
          for (auto& found : amounts_in(r.source_text)) {
            if (comparable(found.amount) != comparable(bare)) replaced.push_back(std::move(found.amount));
          }
        }
        const std::string quote = quote_for(r.source_text, bare, replaced);
        const bool changed =
            r.current.key.starts_with("person:") ? announces_handover(quote) : looks_like_update(quote);
        out += fmt::format(" — you {} on {}: “{}”", changed ? "changed it" : "said so",
                           human_date(r.source_at), quote);
      }
      if (r.current.status == "pending_confirmation")
        out += " _(new; please confirm it replaces the earlier value)_";
      out += "\n";
      if (!r.earlier.empty() && recall.history) {
        std::string earlier;
        for (const auto& e : r.earlier) earlier += (earlier.empty() ? "" : ", then ") + e.value;
        out += fmt::format("  - Earlier you said {}; you changed it to {} on {}.\n", earlier, r.current.value,
                           human_date(r.current.created_at));
      }
    }
    // A quote that said a value since replaced (the source of an earlier version, or a message
    // naming a superseded value) is history beside the current value, and is shown as such.
    std::set<int64_t> earlier_sources;
    std::vector<std::string> superseded;
    std::vector<std::string> current;
    // The things whose value a later message changed ("the stall starts 29 November"), with the id of
    // that message (ids grow with time).
    std::vector<std::pair<std::string, int64_t>> changed_items;
    for (const auto& r : recall.facts) {
      current.push_back(comparable(value_without_item(r.current.value)));
      const std::string item = comparable(value_item(r.current.value));
      if (item.size() >= 3 && looks_like_update(r.source_text))
        changed_items.emplace_back(item, r.current.source_message_id);
      for (const auto& e : r.earlier) {
        earlier_sources.insert(e.source_message_id);
        superseded.push_back(comparable(value_without_item(e.value)));
      }
    }
    for (const auto& value : recall.replaced) superseded.push_back(comparable(value_without_item(value)));
    for (const auto& q : recall.quotes) {
      const std::string when =
          q.message.ts_text.empty() ? human_date(q.message.created_at) : q.message.ts_text;
      const std::string said = comparable(q.message.text);
      const auto says = [&said](const std::string& value) {
        return value.size() >= 2 && said.find(value) != std::string::npos;
      };
      const bool names_changed_item = std::any_of(
          changed_items.begin(), changed_items.end(),
          [&](const auto& changed) { return q.message.id < changed.second && says(changed.first); });
      const bool outdated =
          earlier_sources.contains(q.message.id) ||
          ((names_changed_item || std::any_of(superseded.begin(), superseded.end(), says)) &&
           std::none_of(current.begin(), current.end(), says));
      if (outdated) {
        out += fmt::format("- Earlier, on {}, you said: “{}”\n", when, quote_for(q.message.text, ""));
        continue;
      }
      out += fmt::format("- And on {}{} you said: “{}”\n", when,
                         looks_like_update(q.message.text) ? ", changing something earlier," : "",
                         quote_for(q.message.text, ""));
    }
    return out;
  }
  if (!recall.quotes.empty()) {
    out += recall.changed_since_saved ? "You changed this after I noted it. Here is what you said:\n\n"
                                      : "I have no saved fact for that, but here is what you said:\n\n";
    bool first = true;
    for (const auto& q : recall.quotes) {
      const std::string when =
          q.message.ts_text.empty() ? human_date(q.message.created_at) : q.message.ts_text;
      // The newest of several quotes that hands something on is the change the older ones preceded.
      const bool update = (first && recall.changed_since_saved) || announces_change(q.message.text) ||
                          (first && recall.quotes.size() > 1 && announces_handover(q.message.text));
      out += fmt::format("- {} {}{}: “{}”\n", first ? "On" : "Earlier, on", when,
                         update ? ", you changed it" : "", quote_for(q.message.text, ""));
      first = false;
    }
    return out;
  }
  return "I don't have anything from you about that yet. Tell me and I'll remember it.";
}

}  // namespace brandcoach::memory
