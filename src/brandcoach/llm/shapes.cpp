#include "brandcoach/llm/shapes.hpp"

#include <algorithm>
#include <set>

#include "brandcoach/text/text.hpp"

namespace brandcoach::llm::shapes {

namespace {

// Cue words are written as words and stemmed once, so they match whatever form a passage uses.
Shape stemmed(Shape shape, std::vector<std::vector<std::string>>& storage) {
  for (auto& slot : shape.slots) {
    std::vector<std::string> stems;
    for (const auto word : slot.cues) stems.push_back(text::stem(word));
    storage.push_back(std::move(stems));
    slot.cues.assign(storage.back().begin(), storage.back().end());
  }
  return shape;
}

struct Shapes {
  std::vector<std::vector<std::string>> storage;  // owns the stemmed cues the shapes point into
  Shape swot, avatar, canvas, capture, foundations, story;

  Shapes() {
    storage.reserve(64);  // the views below point into it: it must never reallocate
    swot = stemmed(
        {"Brand SWOT",
         "Quadrant",
         Layout::table,
         {{"Strengths",
           {"usp", "values", "personality"},
           {"strength", "strong", "advantage", "loyal", "loyalty", "differentiate", "unique", "trust",
            "distinctive"},
           "What do your best customers say you do better than anyone else?"},
          {"Weaknesses",
           {"challenges"},
           {"weakness", "weak", "inconsistent", "gap", "lack", "confusing", "unclear", "generic", "struggle"},
           "Where do customers get confused or drop off before buying?"},
          {"Opportunities",
           {"goals", "plans", "launch_date"},
           {"opportunity", "grow", "growth", "trend", "untapped", "expand", "emerging", "niche"},
           "Which customer group or channel are you not serving yet that keeps asking for you?"},
          {"Threats",
           {"competitors"},
           {"threat", "competitor", "competition", "risk", "decline", "copy", "commodity", "substitute"},
           "Which two competitors do your customers most often compare you with?"}},
         0},
        storage);
    avatar = stemmed(
        {"Your customer avatar (draft)",
         "",
         Layout::list,
         {{"Who they are",
           {"target_market", "industry"},
           {"demographic", "age", "profile", "segment", "persona", "income", "role"},
           "Who exactly buys from you: age, job, life stage, and what they have in common?"},
          {"Their situation",
           {},
           {"situation", "context", "moment", "trigger", "stage", "routine", "day"},
           "What is happening in your customer's life or business the day they start looking for you?"},
          {"Pains",
           {},
           {"pain", "problem", "frustration", "frustrated", "struggle", "fear", "worry", "annoy"},
           "What problem were your last few customers trying to solve when they found you?"},
          {"Desires",
           {},
           {"desire", "want", "wish", "aspiration", "dream", "hope", "outcome", "result"},
           "What result would make your customer tell a friend about you?"},
          {"Objections",
           {},
           {"objection", "hesitate", "hesitation", "doubt", "risk", "expensive", "sceptical", "skeptical"},
           "What objection do you hear most often just before someone decides not to buy?"},
          {"Where they are",
           {},
           {"channel", "online", "social", "search", "community", "instagram", "linkedin", "forum",
            "newsletter", "event"},
           "Where does your ideal customer spend time when they look for a solution like yours?"}},
         0},
        storage);
    canvas =
        stemmed({"Business model canvas",
                 "Block",
                 Layout::table,
                 {{"Customer segments",
                   {"target_market"},
                   {"segment", "customer", "audience", "niche", "market"},
                   "Which customer segment brings you the most profit today?"},
                  {"Value proposition",
                   {"usp"},
                   {"value", "proposition", "benefit", "promise", "gain", "job"},
                   "What job does your customer hire your product to do?"},
                  {"Channels",
                   {},
                   {"channel", "distribution", "reach", "deliver", "online", "retail", "wholesale"},
                   "Through which channel do most of your customers first find you?"},
                  {"Customer relationships",
                   {},
                   {"relationship", "loyalty", "retention", "community", "support", "membership", "repeat"},
                   "How do you keep in touch with customers after their first purchase?"},
                  {"Revenue streams",
                   {"price"},
                   {"revenue", "price", "pricing", "subscription", "fee", "income", "recurring", "tier"},
                   "What does one customer pay you in a year, and for what?"},
                  {"Key resources",
                   {"team_size"},
                   {"resource", "asset", "skill", "equipment", "team", "capital"},
                   "Which resource, if you lost it tomorrow, would stop the business?"},
                  {"Key activities",
                   {"projects"},
                   {"activity", "process", "production", "operations", "workflow"},
                   "Which three activities take most of your week?"},
                  {"Key partnerships",
                   {},
                   {"partner", "partnership", "supplier", "alliance", "collaboration", "outsource"},
                   "Which partner or supplier could you not do without?"},
                  {"Cost structure",
                   {"budget"},
                   {"cost", "expense", "margin", "fixed", "variable", "overhead", "spend"},
                   "What are your three biggest monthly costs?"}},
                 4},
                storage);
    capture = stemmed(
        {"Your CAPTURE content plan",
         "Letter",
         Layout::table,
         {{"C — Create",
           {"projects"},
           {"create", "idea", "content", "pillar", "topic", "story", "post"},
           "Which three topics could you talk about every week without running out of ideas?"},
          {"A — Amplify",
           {},
           {"amplify", "channel", "share", "distribute", "social", "email", "newsletter", "reach"},
           "Which channel already brings you the most attention, however small?"},
          {"P — Position",
           {"usp", "personality"},
           {"position", "thought", "leader", "leadership", "expert", "authority", "credibility"},
           "What do you believe about your industry that most of your competitors would disagree with?"},
          {"T — Target",
           {"target_market"},
           {"target", "segment", "audience", "persona", "niche"},
           "Which single audience segment should your next month of content speak to?"},
          {"U — Utilize data",
           {},
           {"data", "measure", "metric", "analytics", "test", "track", "insight"},
           "Which number would tell you that your content is working: replies, sign-ups or sales?"},
          {"R — Repurpose",
           {},
           {"repurpose", "reuse", "format", "clip", "recycle", "series", "turn"},
           "Which piece of content did best last quarter, and in what other format could it live?"},
          {"E — Engage",
           {},
           {"engage", "engagement", "community", "reply", "comment", "conversation", "relationship"},
           "How quickly do you reply to comments and messages today?"}},
         0},
        storage);
    foundations = stemmed({"Brand foundations (draft)",
                           "",
                           Layout::list,
                           {{"Mission",
                             {"company", "target_market", "usp"},
                             {"mission", "purpose", "exist", "why"},
                             "Why does your business exist, beyond making money?"},
                            {"Vision",
                             {"goals", "plans"},
                             {"vision", "future", "ambition", "aspire", "become", "years"},
                             "What will your business look like in five years if everything goes right?"},
                            {"Values",
                             {"values"},
                             {"value", "principle", "belief", "believe", "behaviour", "behavior"},
                             "Which three words would your team use to describe how you work?"},
                            {"Personality",
                             {"personality", "communication_style"},
                             {"personality", "tone", "voice", "character", "trait", "archetype"},
                             "If your brand were a person, how would it talk at a dinner party?"}},
                           0},
                          storage);
    story = stemmed({"Your brand story beats",
                     "",
                     Layout::list,
                     {{"The hero (your customer)",
                       {"target_market"},
                       {"hero", "customer", "character", "audience"},
                       "Who is the customer at the centre of your story?"},
                      {"The problem",
                       {"challenges"},
                       {"problem", "villain", "conflict", "struggle", "pain", "challenge"},
                       "What problem does your customer face before they meet you?"},
                      {"The guide (you)",
                       {"company", "usp"},
                       {"guide", "empathy", "authority", "credibility", "mentor"},
                       "Why should the customer trust you to guide them?"},
                      {"The plan",
                       {"plans", "decisions"},
                       {"plan", "step", "process", "path", "simple"},
                       "What three steps does a customer take to work with you?"},
                      {"Success",
                       {"goals"},
                       {"success", "transformation", "result", "outcome", "happy", "ending"},
                       "What does life look like for your customer after working with you?"}},
                     0},
                    storage);
  }
};

bool mentions(const std::vector<std::string>& query, std::initializer_list<std::string_view> words) {
  return std::any_of(words.begin(), words.end(), [&](std::string_view word) {
    return std::find(query.begin(), query.end(), text::stem(word)) != query.end();
  });
}

}  // namespace

const Shape* shape_for(std::string_view assistant, const std::vector<std::string>& query) {
  // Built once, never changed: the cue stems depend only on the stemmer.
  static const Shapes shapes;
  if (assistant == "diagnostic") return &shapes.swot;
  if (assistant == "avatar") return &shapes.avatar;
  if (assistant == "canvas") return &shapes.canvas;
  if (assistant == "capture") return &shapes.capture;
  if (assistant == "core") {
    return mentions(query, {"story", "storytelling", "narrative", "hero", "journey"}) ? &shapes.story
                                                                                      : &shapes.foundations;
  }
  return nullptr;
}

}  // namespace brandcoach::llm::shapes
