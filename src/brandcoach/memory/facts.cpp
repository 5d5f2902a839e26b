// Fact keys, how a statement changes the user's facts, and how a question asks for them.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <span>

#include <re2/re2.h>

#include "brandcoach/memory/memory.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::memory {

namespace {

constexpr std::array<KeySpec, 28> kKeys = {{
    {"name", "personal", "Name", false},
    {"location", "personal", "Location", false},
    {"areas", "business", "Areas served", true},
    {"role", "personal", "Role", false},
    {"company", "personal", "Company", false},
    {"industry", "business", "Industry", false},
    {"target_market", "business", "Target market", false},
    {"team_size", "business", "Team size", false},
    {"budget", "business", "Budget", true, true},
    {"price", "business", "Price", true, true},
    {"challenges", "business", "Challenges", true},
    {"goals", "business", "Goals", true},
    {"competitors", "business", "Competitors", true},
    {"launch_date", "business", "Launch date", false},
    {"values", "brand", "Values", true},
    {"personality", "brand", "Personality", true},
    {"usp", "brand", "What makes you different", false},
    {"communication_style", "preferences", "Communication style", false},
    {"priorities", "preferences", "Priorities", true},
    {"decisions", "decisions", "Decisions", true},
    {"rejected", "decisions", "Rejected options", true},
    {"plans", "decisions", "Plans", true},
    {"projects", "context", "Projects", true},
    {"events", "context", "Dates", true, true},
    {"products", "business", "Names", true, true},
    {"sites", "business", "Other locations", true, true},
    {"hours", "business", "Opening days and hours", false},
    {"counts", "business", "Counts", true, true},
}};

constexpr KeySpec kPersonSpec = {"person", "context", "Person", false};

// Words of a question that point at a key. Stems, so "pricing", "priced" and "prices" all match.
struct KeyCue {
  std::string_view key;
  std::array<std::string_view, 26> stems;
};

constexpr KeyCue kKeyCues[] = {
    {"price", {"price", "charg", "cost", "fee", "rate", "subscript", "tier", "sell", "much", "tariff"}},
    {"budget", {"budget", "spend", "afford", "alloc", "market", "ad", "ads", "advertis"}},
    {"team_size", {"team", "headcount", "staff", "employe", "big", "mani", "size", "peopl", "hire"}},
    {"location",
     {"where", "base", "locat", "citi", "town", "countri", "live", "headquart", "reloc", "suburb",
      "neighbourhood", "neighborhood", "area", "region"}},
    {"areas",
     {"suburb", "neighbourhood", "neighborhood", "area", "citi", "town", "region", "cover", "deliv",
      "district", "serv"}},
    {"products",
     {"call", "name", "product", "flagship", "line", "rang", "drop", "collect", "subscript", "menu", "packag",
      "programm"}},
    {"company", {"compani", "name", "call", "brand", "shop", "busi", "studio", "firm", "agenc", "startup"}},
    {"name", {"name"}},
    {"role", {"role", "titl", "job", "posit"}},
    {"industry", {"industri", "sector", "space", "kind", "niche"}},
    {"target_market",
     {"custom", "audienc", "target", "client", "market", "buyer", "user", "serv", "demograph", "persona",
      "ideal"}},
    {"competitors", {"competitor", "competit", "rival", "compet", "against", "undercut", "watch"}},
    {"launch_date", {"launch", "live", "open", "releas", "start", "debut", "date", "when"}},
    {"events", {"when", "date", "day", "begin", "start", "happen", "schedul", "week", "month"}},
    {"values", {"valu"}},
    {"personality", {"person", "tone", "voic", "vibe", "feel", "sound", "known", "word"}},
    {"usp", {"differ", "uniqu", "usp", "stand", "edg", "special", "apart", "differenti"}},
    {"communication_style", {"prefer", "style", "format", "answer", "commun", "repli", "present", "advic"}},
    {"sites", {"branch", "outlet", "store", "site", "second", "third", "shop", "locat"}},
    // Not "close" or "weekend": "when do pre-orders close?", "weekend call-out rate?" ask other things.
    {"hours", {"open", "hour", "shut"}},
    {"priorities", {"prioriti", "focus"}},
    {"goals", {"goal", "aim", "object", "ambit", "achiev", "target"}},
    {"challenges", {"challeng", "problem", "struggl", "issu", "pain", "headach", "bottleneck"}},
    {"decisions", {"decid", "decis", "settl", "chose", "choos", "pick", "land", "agre", "go", "went"}},
    {"rejected", {"reject", "drop",  "rule",   "scrap", "ditch", "against", "kill",  "nix",   "no",
                  "not",    "avoid", "declin", "veto",  "turn",  "axe",     "shelv", "never", "won",
                  "pass",   "ban",   "gave",   "give",  "stop",  "quit",    "didn",  "tri"}},
    {"plans", {"plan", "next", "futur", "roadmap", "intend"}},
    // "How many clients are we at?": counts are asked for by what is counted; recall keeps only those.
    {"counts", {"mani", "count", "number", "tal"}},
    {"projects", {"project", "work"}},
    {"person",
     {"cofound", "co", "partner", "design", "investor", "accountant", "mentor", "who", "helper", "photograph",
      "develop", "assist", "photo", "draw", "whos", "invest"}},
};

bool has_stem(const std::vector<std::string>& stems, std::string_view stem) {
  return std::find(stems.begin(), stems.end(), stem) != stems.end();
}

// All stems of the message, stopwords included ("where", "much" and "name" matter here).
std::vector<std::string> all_stems(std::string_view message) {
  std::vector<std::string> stems;
  for (const auto& word : text::words(message)) stems.push_back(text::stem(word));
  return stems;
}

// Two items are the same thing when both are unnamed or one names it with fewer words ("sourdough"
// and "sourdough loaf"); sharing a word is not enough ("small box" and "standard box", "drop-in
// class" and "ten-class pass" are different things).
bool same_item(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return a.empty() && b.empty();
  const auto sa = text::content_stems(a);
  const auto sb = text::content_stems(b);
  if (sa.empty() || sb.empty()) return sa.empty() && sb.empty();
  const auto within = [](const std::vector<std::string>& small, const std::vector<std::string>& large) {
    return std::all_of(small.begin(), small.end(), [&](const std::string& x) { return has_stem(large, x); });
  };
  return within(sa, sb) || within(sb, sa);
}

}  // namespace

std::string value_item(std::string_view value) {
  if (value.empty() || value.back() != ')') return {};
  const auto open = value.rfind(" (");
  if (open == std::string_view::npos) return {};
  return std::string(value.substr(open + 2, value.size() - open - 3));
}

std::string value_without_item(std::string_view value) {
  const std::string item = value_item(value);
  return std::string(item.empty() ? value : value.substr(0, value.size() - item.size() - 3));
}

std::span<const KeySpec> fact_keys() {
  return kKeys;
}

const KeySpec* key_spec(std::string_view key) {
  if (key.starts_with("person:")) return &kPersonSpec;
  for (const auto& spec : kKeys) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

std::string key_label(std::string_view key) {
  if (key.starts_with("person:")) {
    std::string role(key.substr(7));
    if (!role.empty()) role[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(role[0])));
    return role;
  }
  const auto* spec = key_spec(key);
  return spec ? std::string(spec->label) : std::string(key);
}

std::string comparable(std::string_view value) {
  std::string out;
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) out += static_cast<char>(std::tolower(u));
  }
  return out;
}

namespace {

// What a counted goal measures: the word after its number ("45 weddings" -> "wed", "$6,000 a month by
// Christmas" -> "$month"); empty when the goal counts nothing. Two goals with one measure are one goal
// restated, so the newer replaces the older.
std::string goal_measure(std::string_view value) {
  const auto words = text::words(value);
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i].empty() || !std::isdigit(static_cast<unsigned char>(words[i].front()))) continue;
    const bool money = value.find_first_of("$€£¥₹") != std::string_view::npos ||
                       std::string_view(value).find("kr") != std::string_view::npos;
    for (size_t j = i + 1; j < words.size(); ++j) {
      const std::string w = text::ascii_lower(words[j]);
      if (w.empty() || std::isdigit(static_cast<unsigned char>(w.front())) || w == "a" || w == "an" ||
          w == "per" || w == "k" || w == "000")
        continue;
      // "400 by the end of the year" names no measure.
      if (text::is_stopword(w)) return {};
      return (money ? "$" : "") + text::stem(w);
    }
    return {};
  }
  return {};
}

// The first amount of a value ("$1,300 (Full-time)" -> 1300), and the marks before it ("$").
std::pair<std::string, double> amount_of(std::string_view value) {
  const auto digit = std::find_if(value.begin(), value.end(),
                                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (digit == value.end()) return {std::string(), 0.0};
  std::string digits;
  for (auto it = digit;
       it != value.end() && (std::isdigit(static_cast<unsigned char>(*it)) || *it == ',' || *it == '.'); ++it)
    if (*it != ',') digits += *it;
  const auto prefix = value.substr(0, static_cast<size_t>(digit - value.begin()));
  return {comparable(prefix), std::strtod(digits.c_str(), nullptr)};
}

// An item's words, with "call-out" and "callout" alike.
std::vector<std::string> item_stems(const std::string& item) {
  std::string joined;
  for (const char c : item)
    if (c != '-') joined += c;
  return text::content_stems(joined);
}

// The active fact of `key` a correction to `value` most likely changes, when nothing names it outright:
// among the facts `ties` scores above zero, the highest score, then the nearest first amount, within
// `max_ratio` of the new one (a change is seldom larger). None when nothing is that close.
std::vector<store::Fact>::iterator nearest_amount(std::vector<store::Fact>& live, std::string_view key,
                                                  std::string_view value, double max_ratio,
                                                  const std::function<size_t(const store::Fact&)>& ties) {
  const double amount = amount_of(value_without_item(value)).second;
  auto best = live.end();
  size_t best_tie = 0;
  double best_gap = 0;
  for (auto it = live.begin(); it != live.end(); ++it) {
    if (it->key != key || it->status != "active") continue;
    const double other = amount_of(value_without_item(it->value)).second;
    const size_t tie = ties(*it);
    if (tie == 0 || amount <= 0 || other <= 0) continue;
    if (std::max(amount, other) > max_ratio * std::min(amount, other)) continue;
    const double gap = std::abs(amount - other);
    if (tie > best_tie || (tie == best_tie && gap < best_gap)) {
      best = it;
      best_tie = tie;
      best_gap = gap;
    }
  }
  return best;
}

// The price a correction naming its item in other words changes ("bumping the basic show to $300"
// after "the 45 minute show is $275"): the one sharing most words of its item, in the same currency,
// within half again of its amount.
std::vector<store::Fact>::iterator changed_item(std::vector<store::Fact>& live, const std::string& key,
                                                const std::string& value) {
  const auto stems = item_stems(value_item(value));
  const std::string marks = amount_of(value_without_item(value)).first;
  return nearest_amount(live, key, value, 1.5, [&](const store::Fact& f) -> size_t {
    if (amount_of(value_without_item(f.value)).first != marks) return 0;
    const auto other = item_stems(value_item(f.value));
    return static_cast<size_t>(
        std::count_if(stems.begin(), stems.end(), [&](const std::string& s) { return has_stem(other, s); }));
  });
}

}  // namespace

std::vector<store::FactWrite> plan_fact_writes(const std::vector<store::Fact>& current,
                                               const std::vector<ExtractedFact>& extracted,
                                               int64_t source_message_id) {
  std::vector<store::FactWrite> writes;
  // Facts as they will be after earlier writes of this plan (so one message's facts see each other).
  std::vector<store::Fact> live = current;
  for (const auto& fact : extracted) {
    const auto* spec = key_spec(fact.key);
    if (!spec) continue;
    const std::string value_key = comparable(fact.value);
    if (value_key.empty()) continue;
    auto same_value = [&](const store::Fact& f) {
      if (f.key != fact.key) return false;
      const std::string other = comparable(f.value);
      // "Acme" and "Acme Co": the same competitor.
      return other == value_key ||
             (spec->list && !spec->itemised &&
              (other.find(value_key) != std::string::npos || value_key.find(other) != std::string::npos));
    };

    if (fact.cue == Cue::retraction && spec->list) {
      store::FactWrite write;
      for (auto& f : live) {
        if (f.id != 0 && f.status == "active" && same_value(f)) {
          write.status_changes.emplace_back(f.id, "superseded");
          f.status = "superseded";
        }
      }
      if (!write.status_changes.empty()) writes.push_back(std::move(write));
      continue;
    }

    const bool known = std::any_of(live.begin(), live.end(), [&](const store::Fact& f) {
      return (f.status == "active" || f.status == "pending_confirmation") && same_value(f);
    });
    if (known) continue;

    store::Fact next;
    next.key = fact.key;
    next.value = fact.value;
    next.category = std::string(spec->category);
    next.source_message_id = source_message_id;
    next.confidence = fact.confidence;
    store::FactWrite write;
    if (!spec->list || spec->itemised) {
      // One current value per key, or per item of an itemised key ("the taco plate is now $15").
      const std::string item = value_item(fact.value);
      auto current_fact = std::find_if(live.begin(), live.end(), [&](const store::Fact& f) {
        return f.key == fact.key && f.status == "active" &&
               (!spec->itemised || same_item(value_item(f.value), item));
      });
      if (spec->itemised && current_fact == live.end()) {
        // An unnamed price replaces the only current one; a named one replaces the only unnamed one.
        // Not one of this same message, though: "R650 a month. Students R450." lists two prices.
        std::vector<store::Fact*> active;
        for (auto& f : live) {
          if (f.key == fact.key && f.status == "active" && f.id != 0 &&
              (item.empty() || value_item(f.value).empty()))
            active.push_back(&f);
        }
        if (active.size() == 1) current_fact = live.begin() + (active.front() - live.data());
      }
      if (spec->itemised && current_fact == live.end() && fact.cue == Cue::correction && !item.empty())
        current_fact = changed_item(live, fact.key, fact.value);
      const bool sure = fact.cue == Cue::correction || fact.confidence >= kConfirmBelow;
      if (current_fact != live.end() && current_fact->id == 0) {
        // Planned earlier in this same message: the later statement simply replaces it.
        for (auto& planned : writes) {
          if (planned.insert && planned.insert->key == current_fact->key &&
              planned.insert->value == current_fact->value)
            planned.insert.reset();
        }
        live.erase(current_fact);
        current_fact = live.end();
      }
      if (current_fact != live.end()) {
        next.supersedes_id = current_fact->id;
        if (sure) {
          write.status_changes.emplace_back(current_fact->id, "superseded");
          current_fact->status = "superseded";
        } else {
          next.status = "pending_confirmation";
        }
      }
      // An older pending value of this key is settled by a sure new statement.
      if (sure) {
        for (auto& f : live) {
          if (f.id != 0 && f.key == fact.key && f.status == "pending_confirmation" &&
              (!spec->itemised || same_item(value_item(f.value), item))) {
            write.status_changes.emplace_back(f.id, "superseded");
            f.status = "superseded";
          }
        }
      }
    }
    if (fact.key == "goals" && fact.cue == Cue::correction && goal_measure(fact.value).empty()) {
      // "Bump the goal to 220": the goal of the nearest count, within three times it, is the one moved
      // (one stated earlier in this same message stands beside it).
      const auto moved = nearest_amount(live, "goals", fact.value, 3,
                                        [](const store::Fact& f) -> size_t { return f.id != 0; });
      if (moved != live.end()) {
        next.supersedes_id = moved->id;
        write.status_changes.emplace_back(moved->id, "superseded");
        moved->status = "superseded";
      }
    }
    if (fact.key == "goals") {
      const std::string measure = goal_measure(fact.value);
      for (auto& f : live) {
        if (measure.empty() || f.key != "goals" || f.status != "active" || goal_measure(f.value) != measure)
          continue;
        if (f.id == 0) continue;  // stated earlier in this same message: both stand
        next.supersedes_id = f.id;
        write.status_changes.emplace_back(f.id, "superseded");
        f.status = "superseded";
      }
    }
    write.insert = next;
    live.push_back(next);
    writes.push_back(std::move(write));
  }
  std::erase_if(writes, [](const store::FactWrite& w) { return !w.insert && w.status_changes.empty(); });
  return writes;
}

namespace {

// A question for a business that is not the user's: "which <kind of business>" or "the name of the
// <kind of business>", the business not "our" or "my" one.
bool names_another_business(const std::string& folded) {
  static constexpr std::string_view kBusinesses[] = {
      "clinic", "studio",  "shop",     "store",   "bakery", "cafe",     "café",       "salon", "gym",
      "agency", "firm",    "practice", "school",  "chain",  "company",  "restaurant", "hotel", "venue",
      "brand",  "roaster", "roastery", "brewery", "outfit", "operator", "business",   "place"};
  const bool asks_which = folded.starts_with(" which ") || folded.find("name of the ") != std::string::npos;
  if (!asks_which) return false;
  for (const auto business : kBusinesses) {
    for (size_t at = folded.find(business); at != std::string::npos; at = folded.find(business, at + 1)) {
      size_t end = at + business.size();
      if (folded[end] == 's') ++end;  // "studios"
      const bool word = folded[at - 1] == ' ' && !std::isalpha(static_cast<unsigned char>(folded[end]));
      if (!word) continue;
      const std::string_view before = std::string_view(folded).substr(0, at);
      const bool own = before.ends_with(" our ") || before.ends_with(" my ") || before.ends_with(" your ") ||
                       folded.find(" we open") != std::string::npos ||
                       folded.find(" we run") != std::string::npos;
      if (!own) return true;
    }
  }
  return false;
}

}  // namespace

RecallRequest recall_request(std::string_view message) {
  RecallRequest request;
  const std::string folded = " " + text::ascii_lower(message) + " ";
  // Earlier values answer only a question about them; otherwise naming one reads as if it still held.
  static constexpr std::string_view kHistory[] = {" before",   "previous",  "originally", "used to",
                                                  " history",  "old ",      "at first",   "changed from",
                                                  "what was ", "what were", "first said", "initially"};
  request.wants_history = std::any_of(std::begin(kHistory), std::end(kHistory), [&](std::string_view cue) {
    return folded.find(cue) != std::string::npos;
  });
  // Phrases that ask about the past conversation rather than for advice.
  static constexpr std::string_view kExplicit[] = {"remind me",
                                                   "did i tell",
                                                   "did i say",
                                                   "did i mention",
                                                   "did i give",
                                                   "did i share",
                                                   "'d i say",
                                                   "i told you",
                                                   "i said",
                                                   "i mentioned",
                                                   "i'd said",
                                                   "i had said",
                                                   "i gave you",
                                                   "do you remember",
                                                   "do you recall",
                                                   "you remember",
                                                   "u remember",
                                                   "again?",
                                                   "again,",
                                                   " again ",
                                                   "per my",
                                                   "per what i",
                                                   "earlier",
                                                   "did we decide",
                                                   "did we agree",
                                                   "did we settle",
                                                   "did we land",
                                                   "did we go with",
                                                   "did we end up",
                                                   "did we pick",
                                                   "did we choose",
                                                   "what did i",
                                                   "what did we",
                                                   "who did i",
                                                   "which did i",
                                                   "how many did i",
                                                   "how much did i",
                                                   "how big did i",
                                                   "what was my",
                                                   "what was our",
                                                   "what were my",
                                                   "what were our",
                                                   "quick check",
                                                   "refresh my",
                                                   "memory test",
                                                   "what do you know about me",
                                                   "what do you know about my",
                                                   "what do you know about our",
                                                   "have i told",
                                                   "have i said",
                                                   "what name did",
                                                   "where did i",
                                                   "when did i",
                                                   "when did we",
                                                   "what have i",
                                                   "tell me what i",
                                                   "what i told",
                                                   "from before",
                                                   "last time",
                                                   "previously",
                                                   "on record",
                                                   "you have on",
                                                   "you've got on",
                                                   "as you have it",
                                                   "as far as you know",
                                                   "as far as you have",
                                                   "you have it",
                                                   "according to you",
                                                   "did i set",
                                                   "did i pick",
                                                   "did i choose",
                                                   "did i land",
                                                   "did i settle",
                                                   "did i decide",
                                                   "i was fretting",
                                                   "i was worried",
                                                   "i was telling",
                                                   "i talked about",
                                                   "we talked about",
                                                   "we discussed",
                                                   "i described",
                                                   "did i describe",
                                                   "i named",
                                                   "did i name",
                                                   "do you have down",
                                                   "you noted",
                                                   "you have down",
                                                   "in your notes",
                                                   "your notes",
                                                   "your records",
                                                   "on file",
                                                   "per your",
                                                   "from my messages",
                                                   "my earlier messages",
                                                   "per my earlier",
                                                   "did i ask",
                                                   "i asked you",
                                                   "how did i",
                                                   "do i prefer",
                                                   "did i prefer",
                                                   "did i want",
                                                   "by your notes",
                                                   "you've got down",
                                                   "have i mentioned",
                                                   "did i bring up",
                                                   "i brought up",
                                                   "by my latest",
                                                   "as i told you",
                                                   "i told u",
                                                   "did i tell u",
                                                   "you know my"};
  // Said in passing, most of these cues belong to statements ("flour's gone up again", "as I told you,
  // we're six now", "I mentioned Noble Loaf last time"): they make a memory question only in a
  // message worded as a question or a request to recall.
  const auto words = text::words(message);
  // "quick q where does our fish come from again", "sorry, who did I say…": the question starts
  // after the words that lead into it.
  static constexpr std::string_view kLeadIns[] = {
      "quick", "q",       "qq", "question", "sorry",  "ok",   "okay",  "so",  "hey",  "hi",
      "hello", "btw",     "um", "uh",       "oh",     "also", "and",   "but", "wait", "hmm",
      "right", "alright", "yo", "just",     "random", "real", "silly", "dumb"};
  size_t lead = 0;
  while (lead < words.size() && lead < 4 &&
         std::find(std::begin(kLeadIns), std::end(kLeadIns), text::ascii_lower(words[lead])) !=
             std::end(kLeadIns))
    ++lead;
  const std::string first_word = lead < words.size() ? text::ascii_lower(words[lead]) : std::string();
  const auto starts_with_one_of = [&](std::span<const std::string_view> starts) {
    return std::find(starts.begin(), starts.end(), first_word) != starts.end();
  };
  static constexpr std::string_view kQuestionStarts[] = {
      "what",   "whats", "what's", "who", "whos", "who's", "where", "wheres", "where's", "when", "whens",
      "when's", "which", "how",    "is",  "are",  "do",    "does",  "did",    "can",     "whom", "remind"};
  static constexpr std::string_view kRequestStarts[] = {"hows",    "how's", "tell",   "recap",
                                                        "refresh", "list",  "please", "confirm"};
  const bool question = message.find('?') != std::string_view::npos || starts_with_one_of(kQuestionStarts);
  const bool question_form = question || starts_with_one_of(kRequestStarts);
  static constexpr std::string_view kAlwaysAsks[] = {
      "remind me",  "do you remember", "do you recall", "you remember",   "u remember",
      "refresh my", "memory test",     "quick check",   "tell me what i", "what do you know about"};
  for (const auto cue : kExplicit) {
    if (folded.find(cue) == std::string::npos) continue;
    const bool always = std::any_of(std::begin(kAlwaysAsks), std::end(kAlwaysAsks),
                                    [&](std::string_view strong) { return cue.starts_with(strong); });
    if (always || question_form) {
      request.asks_memory = true;
      request.explicit_ask = true;
      break;
    }
  }
  if (!request.asks_memory) {
    // A short question about the user's own business that asks for no advice or writing
    // ("when are we launching", "how many techs i got", "what's our taco plate price") may be
    // about what they told us: the coach answers from memory if memory holds the answer.
    static constexpr std::string_view kMine[] = {"my",    "our", "we",    "i",    "us",   "me",
                                                 "i'm",   "im",  "we're", "mine", "ours", "i've",
                                                 "we've", "i'd", "we'd",  "u"};
    const bool mine = std::any_of(words.begin(), words.end(), [&](const std::string& w) {
      return std::find(std::begin(kMine), std::end(kMine), text::ascii_lower(w)) != std::end(kMine);
    });
    static constexpr std::string_view kAdvice[] = {
        "should",     "could ",     "would ",        "help",          "idea",       "suggest",  "recommend",
        "write",      "draft",      "create",        "make ",         "give me",    "tips",     "improve",
        "how do",     "how can",    "how to",        "what if",       "better",     "best way", "worth",
        "explain",    "what is a ", "what's a ",     "what are some", "example",    "plan for", "strategy",
        "ways to",    "can you",    "could you",     "will you",      "brainstorm", "list ",    "compare",
        "difference", "why ",       "pros and cons", "mean",          "means",      "meaning"};
    // Whole words only: "helpers" is not "help".
    const auto has_phrase = [&](std::string_view phrase) {
      const std::string_view trimmed = phrase.substr(0, phrase.find_last_not_of(' ') + 1);
      for (size_t at = folded.find(trimmed); at != std::string::npos; at = folded.find(trimmed, at + 1)) {
        const bool starts = at == 0 || !std::isalpha(static_cast<unsigned char>(folded[at - 1]));
        const size_t end = at + trimmed.size();
        const bool ends = end >= folded.size() || !std::isalpha(static_cast<unsigned char>(folded[end])) ||
                          trimmed == "idea" || trimmed == "explain";
        if (starts && ends) return true;
      }
      return false;
    };
    // "What's a whole castella going for now?": asked about how things stand, the opening asks for a fact,
    // not for a definition.
    static constexpr std::string_view kStanding[] = {"now",           "these days", "currently",
                                                     "at the moment", "going for",  "again"};
    static constexpr std::string_view kOpeningsOfFact[] = {"what is a ", "what's a "};
    const bool standing = std::any_of(std::begin(kStanding), std::end(kStanding), has_phrase);
    const bool advice = std::any_of(std::begin(kAdvice), std::end(kAdvice), [&](std::string_view phrase) {
      if (standing && std::find(std::begin(kOpeningsOfFact), std::end(kOpeningsOfFact), phrase) !=
                          std::end(kOpeningsOfFact))
        return false;
      return has_phrase(phrase);
    });
    // Very short questions that name a fact ("cofounder's name?", "headcount?") count too.
    const bool terse =
        message.find('?') != std::string_view::npos && words.size() <= 5 && !keys_mentioned(message).empty();
    request.asks_memory = question && (mine || terse) && !advice && words.size() <= 25;
    // A question about a named thing without "my"/"our" ("what's the price of the Tobalá?") may be
    // about the user's own: memory answers it only if it holds something on that very subject.
    request.subject_only = question && !request.asks_memory && !advice && words.size() <= 20;
    request.asks_memory = request.asks_memory || request.subject_only;
  }
  if (request.asks_memory) {
    request.keys = keys_mentioned(message);
    // "How many X" may count a goal ("how many subscribers are we aiming for"): recall weighs it.
    static constexpr std::string_view kTargetWords[] = {"aim",   "hop",  "target", "goal",    "want",
                                                        "after", "plan", "trying", "shooting"};
    const bool asks_a_target =
        std::any_of(std::begin(kTargetWords), std::end(kTargetWords),
                    [&](std::string_view cue) { return folded.find(cue) != std::string::npos; });
    request.counts_goal = folded.find("how many") != std::string::npos && asks_a_target;
    if (request.counts_goal &&
        std::find(request.keys.begin(), request.keys.end(), "goals") == request.keys.end())
      request.keys.emplace_back("goals");
    // "Who …?" asks about people (and, about rivals, competitors).
    const auto first = folded.find_first_not_of(' ');
    if (first != std::string::npos && folded.compare(first, 3, "who") == 0 &&
        std::find(request.keys.begin(), request.keys.end(), "person") == request.keys.end()) {
      request.keys.emplace_back("person");
    }
    // "Which big studio near us did I mention?", "the name of the chain near Bellecour": another
    // business asked for by what it is, not by "competitor".
    if (names_another_business(folded) &&
        std::find(request.keys.begin(), request.keys.end(), "competitors") == request.keys.end())
      request.keys.emplace_back("competitors");
  }
  return request;
}

std::vector<std::string> keys_named_outright(std::string_view message) {
  const auto stems = all_stems(message);
  const auto keys = keys_mentioned(message);
  std::vector<std::string> out;
  for (const auto& cue : kKeyCues) {
    if (std::find(keys.begin(), keys.end(), cue.key) == keys.end()) continue;
    // Question words ("how much", "how many", "where", "when") ask for a kind of answer, not a key.
    static constexpr std::string_view kQuestionWords[] = {"much", "mani", "big", "where", "when", "who"};
    const bool outright = std::any_of(cue.stems.begin(), cue.stems.end(), [&](std::string_view stem) {
      if (stem.empty() || !has_stem(stems, stem)) return false;
      if (std::find(std::begin(kQuestionWords), std::end(kQuestionWords), stem) != std::end(kQuestionWords))
        return false;
      return std::none_of(std::begin(kKeyCues), std::end(kKeyCues), [&](const KeyCue& other) {
        return other.key != cue.key &&
               std::find(other.stems.begin(), other.stems.end(), stem) != other.stems.end();
      });
    });
    if (outright) out.emplace_back(cue.key);
  }
  return out;
}

bool is_key_cue(std::string_view stem) {
  for (const auto& cue : kKeyCues) {
    for (const auto s : cue.stems) {
      if (!s.empty() && s == stem) return true;
    }
  }
  return false;
}

std::vector<std::string> keys_mentioned(std::string_view message) {
  const auto stems = all_stems(message);
  std::vector<std::string> keys;
  for (const auto& cue : kKeyCues) {
    for (const auto stem : cue.stems) {
      if (!stem.empty() && has_stem(stems, stem)) {
        keys.emplace_back(cue.key);
        break;
      }
    }
  }
  // "Marketing" points at the budget only where no other word says the question is about customers
  // ("who is my target market").
  const bool spending = has_stem(stems, "much") || has_stem(stems, "spend") || has_stem(stems, "budget") ||
                        has_stem(stems, "afford") || has_stem(stems, "alloc") || has_stem(stems, "money");
  const bool about_customers =
      std::find(keys.begin(), keys.end(), "target_market") != keys.end() &&
      (has_stem(stems, "target") || has_stem(stems, "custom") || has_stem(stems, "audienc") ||
       has_stem(stems, "client") || has_stem(stems, "who"));
  if (!spending && about_customers) std::erase(keys, std::string("budget"));
  // "Where does our fish come from?", "where do we get the beans": a source, not where the business is.
  const bool asks_source =
      has_stem(stems, "where") &&
      (has_stem(stems, "come") || has_stem(stems, "get") || has_stem(stems, "buy") ||
       has_stem(stems, "sourc") || has_stem(stems, "order") || has_stem(stems, "import"));
  if (asks_source) std::erase(keys, std::string("location"));
  return keys;
}

std::optional<bool> confirmation_reply(std::string_view message) {
  const std::string folded = text::ascii_lower(message);
  const auto words = text::words(folded);
  if (words.empty() || words.size() > 12) return std::nullopt;
  static constexpr std::string_view kYes[] = {"yes",     "yep",        "yeah",      "yup",
                                              "correct", "right",      "confirmed", "exactly",
                                              "sure",    "absolutely", "indeed"};
  static constexpr std::string_view kNo[] = {"no", "nope", "nah", "wrong", "incorrect", "not"};
  for (const auto word : kNo) {
    if (words.front() == word) return false;
  }
  for (const auto word : kYes) {
    if (words.front() == word) return true;
  }
  if (folded.find("that's right") != std::string::npos || folded.find("thats right") != std::string::npos)
    return true;
  return std::nullopt;
}

AssembledContext assemble_context(std::vector<ContextItem> items, int64_t budget) {
  AssembledContext out;
  out.budget = budget;
  for (auto& item : items) {
    if (item.tokens == 0) item.tokens = static_cast<int64_t>(text::count_tokens(item.text));
  }
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return items[a].priority < items[b].priority; });
  std::vector<bool> keep(items.size(), false);
  int64_t used = 0;
  std::vector<size_t> dropped_index;
  for (const size_t i : order) {
    if (used + items[i].tokens <= budget) {
      keep[i] = true;
      used += items[i].tokens;
    } else {
      dropped_index.push_back(i);
    }
  }
  std::vector<int> seen_of_kind(items.size(), 0);
  for (size_t i = 0; i < items.size(); ++i) {
    if (keep[i]) out.kept.push_back(items[i]);
  }
  for (const size_t i : dropped_index) {
    int ordinal = 0;
    for (size_t j = 0; j < i; ++j) ordinal += items[j].kind == items[i].kind ? 1 : 0;
    out.dropped.push_back(items[i].kind + "#" + std::to_string(ordinal + 1));
  }
  out.tokens = used;
  return out;
}

}  // namespace brandcoach::memory
