// The OpenAPI 3.1 description of the native API. A test checks it against the route table, so a
// route cannot be added or removed without this document following.
#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace {

using json = nlohmann::json;

json ref(const std::string& schema) {
  return {{"$ref", "#/components/schemas/" + schema}};
}

json answer(const std::string& description, const json& schema) {
  return {{"description", description}, {"content", {{"application/json", {{"schema", schema}}}}}};
}

json errors(std::initializer_list<int> statuses) {
  json out = json::object();
  for (const int status : statuses) out[std::to_string(status)] = {{"$ref", "#/components/responses/Error"}};
  return out;
}

json operation(const std::string& summary, const json& ok, std::initializer_list<int> failures,
               const std::string& tag, bool open = false) {
  json op = {{"summary", summary}, {"tags", {tag}}, {"responses", errors(failures)}};
  for (const auto& [status, body] : ok.items()) op["responses"][status] = body;
  if (open) op["security"] = json::array();
  return op;
}

json query(const std::string& name, const std::string& type, const std::string& description) {
  return {{"name", name},
          {"in", "query"},
          {"required", false},
          {"description", description},
          {"schema", {{"type", type}}}};
}

json path_id(const std::string& description) {
  return {{"name", "id"},
          {"in", "path"},
          {"required", true},
          {"description", description},
          {"schema", {{"type", "string"}}}};
}

json object_schema(std::initializer_list<std::pair<std::string, json>> properties,
                   std::vector<std::string> required = {}) {
  json props = json::object();
  for (const auto& [name, schema] : properties) props[name] = schema;
  json out = {{"type", "object"}, {"properties", props}};
  if (!required.empty()) out["required"] = required;
  return out;
}

json schemas() {
  const json string = {{"type", "string"}};
  const json integer = {{"type", "integer"}};
  const json number = {{"type", "number"}};
  const json boolean = {{"type", "boolean"}};
  const json any_object = {{"type", "object"}};
  return {
      {"Error",
       object_schema(
           {{"error",
             object_schema({{"type", string}, {"message", string}, {"param", {{"type", {"string", "null"}}}}},
                           {"type", "message", "param"})}},
           {"error"})},
      {"ChatRequest",
       object_schema(
           {{"message", {{"type", "string"}, {"minLength", 1}, {"maxLength", 32768}}}, {"stream", boolean}},
           {"message"})},
      {"Route", object_schema({{"assistant", string},
                               {"confidence", number},
                               {"method", string},
                               {"fallback", boolean},
                               {"secondary", string},
                               {"reasoning", string}})},
      {"Citation", object_schema({{"number", integer},
                                  {"store", string},
                                  {"file", string},
                                  {"chunk", integer},
                                  {"heading", string},
                                  {"snippet", string}})},
      {"ChatResponse",
       object_schema(
           {{"reply", string},
            {"assistant", string},
            {"route", ref("Route")},
            {"citations", {{"type", "array"}, {"items", ref("Citation")}}},
            {"usage", object_schema({{"input_tokens", integer},
                                     {"output_tokens", integer},
                                     {"total_tokens", integer},
                                     {"cost_usd", number}})},
            {"provider", string},
            {"model", string},
            {"degraded", boolean},
            {"notice", {{"type", {"string", "null"}}}},
            {"memory_used", {{"type", "array"}, {"items", string}}},
            {"facts_changed", any_object},
            {"context", any_object},
            {"timings_ms", any_object},
            {"thread",
             object_schema({{"message_seq", integer}, {"reply_seq", integer}, {"session", integer}})}},
           {"reply", "assistant", "route", "citations", "usage"})},
      {"UiConfig", object_schema({{"product_name", string},
                                  {"logo_url", {{"type", {"string", "null"}}}},
                                  {"primary_color", string},
                                  {"accent_color", string},
                                  {"welcome_message", string},
                                  {"local_mode", boolean},
                                  {"assistants", {{"type", "array"}, {"items", any_object}}}})},
      {"Passage", object_schema({{"chunk", any_object},
                                 {"file", any_object},
                                 {"document", {{"type", "array"}, {"items", any_object}}}})},
      {"Profile", object_schema({{"user", string},
                                 {"display_name", string},
                                 {"facts", {{"type", "array"}, {"items", any_object}}},
                                 {"by_category", any_object}})},
      {"FactChange",
       object_schema(
           {{"action", {{"type", "string"}, {"enum", {"confirm", "reject", "correct"}}}}, {"value", string}},
           {"action"})},
      {"History", object_schema({{"messages", {{"type", "array"}, {"items", any_object}}},
                                 {"next_before", {{"type", {"integer", "null"}}}}})},
      {"KnowledgeStore", object_schema({{"id", integer},
                                        {"name", string},
                                        {"embedder", string},
                                        {"chunking", any_object},
                                        {"version", integer},
                                        {"files", integer},
                                        {"chunks", integer},
                                        {"bytes", integer},
                                        {"created_at", string}})},
      {"StoreCreate",
       object_schema(
           {{"name", {{"type", "string"}, {"pattern", "^[a-z0-9_-]{1,64}$"}}},
            {"chunking", object_schema({{"max_chunk_size_tokens",
                                         {{"type", "integer"}, {"minimum", 100}, {"maximum", 4096}}},
                                        {"chunk_overlap_tokens", {{"type", "integer"}, {"minimum", 0}}}})}},
           {"name"})},
      {"UploadReport", object_schema({{"store", string},
                                      {"added", integer},
                                      {"updated", integer},
                                      {"unchanged", integer},
                                      {"duplicates", integer},
                                      {"chunks", integer},
                                      {"bytes", integer},
                                      {"failures",
                                       {{"type", "array"},
                                        {"items", object_schema({{"file", string}, {"reason", string}})}}}})},
      {"List", object_schema({{"object", {{"const", "list"}}},
                              {"data", {{"type", "array"}, {"items", any_object}}},
                              {"has_more", boolean}})},
      {"Usage", object_schema({{"from", {{"type", {"string", "null"}}}},
                               {"to", {{"type", {"string", "null"}}}},
                               {"totals", any_object},
                               {"by_assistant", any_object},
                               {"rows", {{"type", "array"}, {"items", any_object}}}})},
  };
}

}  // namespace

json openapi_document() {
  const json list = answer("A list", ref("List"));
  json paths = {
      {"/healthz",
       {{"get",
         operation("Liveness", {{"200", answer("Up", {{"type", "object"}})}}, {}, "operations", true)}}},
      {"/readyz",
       {{"get", operation("Readiness: the store answers and knowledge is loaded",
                          {{"200", answer("Ready", {{"type", "object"}})}}, {503}, "operations", true)}}},
      {"/metrics",
       {{"get", operation("Prometheus metrics (text format 0.0.4); admin role",
                          {{"200",
                            {{"description", "Metrics"},
                             {"content", {{"text/plain", {{"schema", {{"type", "string"}}}}}}}}}},
                          {401, 403}, "operations")}}},
      {"/api/openapi.json",
       {{"get", operation("This document", {{"200", answer("OpenAPI 3.1", {{"type", "object"}})}}, {},
                          "operations", true)}}},
      {"/api/chat",
       {{"post",
         [&] {
           json op = operation(
               "One coach turn; with stream: true, server-sent events route, delta…, citation…, done",
               {{"200",
                 {{"description",
                   "The answer, or an event stream",
                   {"content",
                    {{"application/json", {{"schema", ref("ChatResponse")}}},
                     {"text/event-stream", {{"schema", {{"type", "string"}}}}}}}}}}},
               {400, 401, 413, 429, 503}, "chat");
           op["requestBody"] = {{"required", true},
                                {"content", {{"application/json", {{"schema", ref("ChatRequest")}}}}}};
           return op;
         }()}}},
      {"/api/me/profile",
       {{"get", operation("The caller's facts, current and pending, with their history",
                          {{"200", answer("Profile", ref("Profile"))}}, {401, 429}, "me")}}},
      {"/api/me/facts/{id}",
       {{"patch",
         [&] {
           json op =
               operation("Confirm, reject or correct one of the caller's facts",
                         {{"200", answer("The fact", {{"type", "object"}})}}, {400, 401, 404, 429}, "me");
           op["parameters"] = {path_id("The fact's id")};
           op["requestBody"] = {{"required", true},
                                {"content", {{"application/json", {{"schema", ref("FactChange")}}}}}};
           return op;
         }()}}},
      {"/api/me/history",
       {{"get",
         [&] {
           json op = operation("A page of the caller's thread, oldest first",
                               {{"200", answer("Messages", ref("History"))}}, {400, 401, 429}, "me");
           op["parameters"] = {query("before", "integer", "Only messages before this seq"),
                               query("limit", "integer", "1 to 500, default 50")};
           return op;
         }()}}},
      {"/api/me/export",
       {{"get",
         [&] {
           json op = operation("Everything kept about the caller, as a download",
                               {{"200", answer("Export", {{"type", "object"}})}}, {400, 401, 404, 429}, "me");
           op["parameters"] = {query("format", "string", "json (default) or md")};
           return op;
         }()}}},
      {"/api/me",
       {{"delete", operation("Erase every trace of the caller",
                             {{"200", answer("Erased", {{"type", "object"}})}}, {401, 429}, "me")}}},
      {"/api/me/session",
       {{"post", operation("The caller's next message opens a new session",
                           {{"200", answer("Done", {{"type", "object"}})}}, {401, 429}, "me")}}},
      {"/api/admin/stores",
       {{"get", operation("Knowledge stores", {{"200", list}}, {401, 403}, "admin")},
        {"post",
         [&] {
           json op =
               operation("Create a knowledge store", {{"201", answer("Created", ref("KnowledgeStore"))}},
                         {400, 401, 403, 409}, "admin");
           op["requestBody"] = {{"required", true},
                                {"content", {{"application/json", {{"schema", ref("StoreCreate")}}}}}};
           return op;
         }()}}},
      {"/api/admin/stores/{id}",
       {{"get",
         [&] {
           json op = operation("One knowledge store (by id or name)",
                               {{"200", answer("Store", ref("KnowledgeStore"))}}, {401, 403, 404}, "admin");
           op["parameters"] = {path_id("The store's id or name")};
           return op;
         }()},
        {"delete",
         [&] {
           json op = operation("Delete a knowledge store and its files",
                               {{"200", answer("Deleted", {{"type", "object"}})}}, {401, 403, 404}, "admin");
           op["parameters"] = {path_id("The store's id or name")};
           return op;
         }()}}},
      {"/api/admin/stores/{id}/files",
       {{"get",
         [&] {
           json op = operation("The store's files", {{"200", list}}, {401, 403, 404}, "admin");
           op["parameters"] = {path_id("The store's id or name")};
           return op;
         }()},
        {"post",
         [&] {
           json op = operation(
               "Upload files (multipart/form-data: one or more `file` parts, optional `attributes` JSON)",
               {{"200", answer("What was ingested", ref("UploadReport"))}}, {400, 401, 403, 404, 413},
               "admin");
           op["parameters"] = {path_id("The store's id or name")};
           op["requestBody"] = {
               {"required", true},
               {"content",
                {{"multipart/form-data",
                  {{"schema",
                    object_schema(
                        {{"file",
                          {{"type", "array"},
                           {"items",
                            {{"type", "string"}, {"contentMediaType", "application/octet-stream"}}}}},
                         {"attributes", {{"type", "string"}, {"contentMediaType", "application/json"}}}},
                        {"file"})}}}}}};
           return op;
         }()}}},
      {"/api/admin/users",
       {{"get",
         [&] {
           json op =
               operation("Users with their activity and usage", {{"200", list}}, {400, 401, 403}, "admin");
           op["parameters"] = {query("after", "string", "Continue after this user"),
                               query("limit", "integer", "1 to 500, default 50")};
           return op;
         }()}}},
      {"/api/ui/config",
       {{"get", operation("The white-label settings and assistants the web UI shows",
                          {{"200", answer("UI settings", ref("UiConfig"))}}, {}, "ui", true)}}},
      {"/api/ui/logo",
       {{"get", operation("The configured logo image", {{"200", {{"description", "The logo file"}}}}, {404},
                          "ui", true)}}},
      {"/api/passages/{id}",
       {{"get",
         [&] {
           json op = operation(
               "A cited passage and the document it belongs to (knowledge stores are "
               "readable by all, a user's own stores by their owner only)",
               {{"200", answer("Passage", ref("Passage"))}}, {401, 404}, "chat");
           op["parameters"] = {path_id("The chunk id a citation names")};
           return op;
         }()}}},
      {"/api/admin/analytics",
       {{"get",
         [&] {
           json op = operation(
               "Dashboard numbers: overview, daily series, assistant distribution, recent "
               "errors and alerts",
               {{"200", answer("Analytics", {{"type", "object"}})}}, {400, 401, 403}, "admin");
           op["parameters"] = {query("days", "integer", "1 to 90, default 14")};
           return op;
         }()}}},
      {"/api/admin/analytics/journey/{user}",
       {{"get",
         [&] {
           json op = operation(
               "One user's journey: sessions, average session length, assistant preferences, topic "
               "progression and the engagement score with its weighted factors",
               {{"200", answer("Journey", {{"type", "object"}})}}, {401, 403, 404}, "admin");
           op["parameters"] = {{{"name", "user"},
                                {"in", "path"},
                                {"required", true},
                                {"description", "The user's external id"},
                                {"schema", {{"type", "string"}}}}};
           return op;
         }()}}},
      {"/api/admin/analytics/memory",
       {{"get", operation("Memory effectiveness: facts stored, probe accuracy, cross-session retention, "
                          "decay by fact age, memory questions answered, operation counts",
                          {{"200", answer("Memory analytics", {{"type", "object"}})}}, {401, 403}, "admin")}}},
      {"/api/admin/analytics/memory/probe",
       {{"post", operation("Run a pass of memory self-test probes now, then answer as GET …/memory",
                           {{"200", answer("Memory analytics", {{"type", "object"}})}}, {401, 403, 503},
                           "admin")}}},
      {"/api/admin/analytics/costs",
       {{"get",
         [&] {
           json op = operation("Costs: total, per user, per assistant, per conversation, per day and the "
                               "month's projection",
                               {{"200", answer("Costs", {{"type", "object"}})}}, {400, 401, 403}, "admin");
           op["parameters"] = {query("days", "integer", "1 to 366, default 30")};
           return op;
         }()}}},
      {"/api/admin/analytics/routing",
       {{"get",
         [&] {
           json op = operation("Routing: distribution by assistant and method, confidence histogram, fallback rate",
                               {{"200", answer("Routing", {{"type", "object"}})}}, {400, 401, 403}, "admin");
           op["parameters"] = {query("days", "integer", "1 to 90, default 7")};
           return op;
         }()}}},
      {"/api/admin/analytics/latency",
       {{"get", operation("Turn latency p50/p95/p99 over 5 min, 1 h, 24 h and 7 days, and hourly",
                          {{"200", answer("Latency", {{"type", "object"}})}}, {401, 403}, "admin")}}},
      {"/api/admin/alerts",
       {{"get", operation("Alerts firing and recently resolved, with the thresholds",
                          {{"200", answer("Alerts", {{"type", "object"}})}}, {401, 403, 503}, "admin")}}},
      {"/api/admin/audit",
       {{"get",
         [&] {
           json op = operation("The audit log: fact changes and admin actions, in id order, a page at a time",
                               {{"200", answer("Audit rows", {{"type", "object"}})}}, {400, 401, 403}, "admin");
           op["parameters"] = {query("after", "integer", "only rows with a larger id (default 0)"),
                               query("limit", "integer", "1 to 1000, default 100")};
           return op;
         }()}}},
      {"/api/admin/alerts/evaluate",
       {{"post", operation("Evaluate the alerts now, then answer as GET /api/admin/alerts",
                           {{"200", answer("Alerts", {{"type", "object"}})}}, {401, 403, 503}, "admin")}}},
      {"/api/admin/stores/{id}/reindex",
       {{"post",
         [&] {
           json op =
               operation("Re-embed every chunk of the store with the configured embedder",
                         {{"200", answer("Re-indexed", {{"type", "object"}})}}, {401, 403, 404}, "admin");
           op["parameters"] = {path_id("The store's id or name")};
           return op;
         }()}}},
      {"/api/admin/stores/{id}/search",
       {{"post",
         [&] {
           json op =
               operation("Search one knowledge store", {{"200", answer("Results", {{"type", "object"}})}},
                         {400, 401, 403, 404}, "admin");
           op["parameters"] = {path_id("The store's id or name")};
           op["requestBody"] = {{"required", true},
                                {"content",
                                 {{"application/json",
                                   {{"schema", object_schema({{"query", {{"type", "string"}}},
                                                              {"max_num_results", {{"type", "integer"}}}},
                                                             {"query"})}}}}}};
           return op;
         }()}}},
      {"/api/admin/usage",
       {{"get",
         [&] {
           json op = operation("Tokens and cost per day, assistant and user",
                               {{"200", answer("Usage", ref("Usage"))}}, {400, 401, 403}, "admin");
           op["parameters"] = {query("from", "string", "First day, YYYY-MM-DD"),
                               query("to", "string", "Last day, YYYY-MM-DD")};
           return op;
         }()}}},
  };
  return {{"openapi", "3.1.0"},
          {"info",
           {{"title", "brandcoach native API"},
            {"version", BRANDCOACH_VERSION},
            {"description",
             "The IDEA Brand Coach: chat, memory and administration. In local mode no token is needed "
             "and X-Brandcoach-User names the user; otherwise every operation but the open ones needs a "
             "Bearer API key or JWT."}}},
          {"paths", std::move(paths)},
          {"security", {{{"bearer", json::array()}}}},
          {"components",
           {{"securitySchemes",
             {{"bearer",
               {{"type", "http"}, {"scheme", "bearer"}, {"description", "An API key (bck_…) or a JWT"}}}}},
            {"responses", {{"Error", answer("An error", ref("Error"))}}},
            {"schemas", schemas()}}}};
}

}  // namespace brandcoach::http
