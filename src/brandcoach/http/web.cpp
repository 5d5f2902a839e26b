// The web UI: the built pages and assets served from the web folder with their content type,
// caching rules and gzip, and the white-label settings the pages read at start.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace {

namespace fs = std::filesystem;

std::string_view content_type_for(const fs::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".webp") return "image/webp";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".json" || ext == ".map") return "application/json";
  return "application/octet-stream";
}

// An asset name is one path segment of safe characters: no way out of the assets folder.
bool safe_asset_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.size() > 200) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

std::optional<std::string> read_whole(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return std::move(bytes).str();
}

bool accepts_gzip(std::string_view accept_encoding) {
  return accept_encoding.find("gzip") != std::string_view::npos;
}

// The pages load only their own assets; answers are rendered as sanitised markdown, and this
// policy stops any script that slipped through from running or calling out.
constexpr std::string_view kPagePolicy =
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'";

Response file_response(const fs::path& file, std::string_view accept_encoding, bool immutable) {
  const fs::path gzipped = file.string() + ".gz";
  std::optional<std::string> body;
  bool compressed = false;
  if (accepts_gzip(accept_encoding)) {
    body = read_whole(gzipped);
    compressed = body.has_value();
  }
  if (!body) body = read_whole(file);
  if (!body) return error_response(Error::not_found("no such file"));
  Response response{200, std::string(content_type_for(file)), std::move(*body), {}};
  // Hashed asset names change with their content, so they can be kept forever; pages are checked
  // every time so a new build's assets are picked up at once.
  response.headers.emplace_back("Cache-Control",
                                immutable ? "public, max-age=31536000, immutable" : "no-cache");
  response.headers.emplace_back("Vary", "Accept-Encoding");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (compressed) response.headers.emplace_back("Content-Encoding", "gzip");
  if (file.extension() == ".html") {
    response.headers.emplace_back("Content-Security-Policy", std::string(kPagePolicy));
    response.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return response;
}

Response not_built(const UiOptions& ui) {
  const std::string where = ui.web_dir.empty() ? std::string("web/dist") : ui.web_dir.string();
  return {503,
          "text/html; charset=utf-8",
          fmt::format("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>brandcoach</title>"
                      "<p>The web UI is not built ({} is missing). Run <code>./run</code>, or "
                      "<code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code>. The API is "
                      "served under <code>/api</code> and <code>/v1</code>.</p></html>\n",
                      where),
          {{"Cache-Control", "no-cache"}}};
}

}  // namespace

Response web_page(const Request& request, const std::string& route, const Services& services) {
  const UiOptions& ui = services.ui;
  if (ui.web_dir.empty() || !fs::is_directory(ui.web_dir)) return not_built(ui);
  if (route == "/assets/{file}") {
    const std::string name = path_parameter(route, request.path);
    if (!safe_asset_name(name)) return error_response(Error::not_found("no asset " + name));
    return file_response(ui.web_dir / "assets" / name, request.accept_encoding, true);
  }
  const fs::path page = ui.web_dir / (route == "/admin" ? "admin.html" : "index.html");
  if (!fs::exists(page)) return not_built(ui);
  return file_response(page, request.accept_encoding, false);
}

Response ui_config(const Services& services) {
  const UiOptions& ui = services.ui;
  nlohmann::json assistants = nlohmann::json::array();
  for (const auto& a : services.coach.assistants().all())
    assistants.push_back({{"id", a.id}, {"title", a.title}});
  Response response = json_response(
      200, {{"product_name", ui.product_name},
            {"logo_url", ui.logo_file.empty() ? nlohmann::json(nullptr) : nlohmann::json("/api/ui/logo")},
            {"primary_color", ui.primary_color},
            {"accent_color", ui.accent_color},
            {"welcome_message", ui.welcome_message},
            {"local_mode", services.auth.local_mode()},
            {"assistants", std::move(assistants)}});
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

Response ui_logo(const Request& request, const Services& services) {
  if (services.ui.logo_file.empty()) return error_response(Error::not_found("no logo is configured"));
  Response response = file_response(services.ui.logo_file, request.accept_encoding, false);
  return response;
}

}  // namespace brandcoach::http
