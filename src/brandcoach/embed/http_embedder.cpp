// The OpenAI-compatible embedder: POST {base_url}/embeddings through a net::Client, batched.
//
// Every call owns its client, so calls on different threads share nothing but the learned dimension
// (an atomic).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "brandcoach/embed/embed.hpp"

namespace brandcoach::embed {

namespace {

using json = nlohmann::json;

class HttpEmbedder final : public Embedder {
 public:
  explicit HttpEmbedder(HttpOptions options) : options_(std::move(options)) {}

  std::string id() const override { return "http:" + options_.model; }

  size_t dimension() const override {
    return options_.dimension != 0 ? options_.dimension : learned_dimension_.load();
  }

  Result<std::vector<Vector>> embed_documents(const std::vector<std::string>& texts) override {
    if (auto status = check_options(); !status) return status.error();
    std::vector<Vector> out;
    out.reserve(texts.size());
    if (texts.empty()) return out;
    net::Client client(options_.base_url,
                       {options_.api_key, options_.max_retries, options_.connect_timeout_ms,
                        options_.timeout_ms, options_.upstream});
    for (size_t first = 0; first < texts.size(); first += options_.batch_size) {
      const size_t count = std::min(options_.batch_size, texts.size() - first);
      auto batch = embed_batch(client, texts, first, count);
      if (!batch) return batch.error();
      for (auto& v : batch.value()) out.push_back(std::move(v));
    }
    return out;
  }

  Result<Vector> embed_query(std::string_view text, const DocumentFrequencies* /*df*/) override {
    auto vectors = embed_documents({std::string(text)});
    if (!vectors) return vectors.error();
    return std::move(vectors.value().front());
  }

 private:
  Status check_options() const {
    if (options_.base_url.empty()) return Error::config("the embeddings base_url is empty", "base_url");
    if (options_.model.empty()) return Error::config("the embeddings model is empty", "model");
    if (options_.batch_size == 0) return Error::config("batch_size must be at least 1", "batch_size");
    if (options_.max_retries < 0) return Error::config("max_retries must not be negative", "max_retries");
    if (options_.timeout_ms <= 0) return Error::config("timeout_ms must be positive", "timeout_ms");
    return ok();
  }

  Result<std::vector<Vector>> embed_batch(net::Client& client, const std::vector<std::string>& texts,
                                          size_t first, size_t count) {
    json input = json::array();
    for (size_t i = first; i < first + count; ++i) input.push_back(texts[i]);
    const json request = {{"model", options_.model}, {"input", std::move(input)}};
    // Invalid UTF-8 in a text becomes U+FFFD instead of an exception.
    const std::string body = request.dump(-1, ' ', false, json::error_handler_t::replace);
    auto answer = client.post("embeddings", body, "embeddings request for model " + options_.model);
    if (!answer) return answer.error();
    return parse(client, *answer, count);
  }

  Result<std::vector<Vector>> parse(const net::Client& client, const std::string& body, size_t count) {
    const json doc = parse_json(body);
    const auto malformed = [&](const std::string& why) {
      return client.failure("embeddings upstream for model " + options_.model +
                            " sent a malformed answer: " + why);
    };
    if (!doc.is_object()) return malformed("not a JSON object");
    const auto data = doc.find("data");
    if (data == doc.end() || !data->is_array()) return malformed("no \"data\" array");
    if (data->size() != count) {
      return malformed(std::to_string(data->size()) + " embeddings for " + std::to_string(count) + " inputs");
    }
    std::vector<Vector> out(count);
    std::vector<bool> seen(count, false);
    for (size_t position = 0; position < data->size(); ++position) {
      const json& item = (*data)[position];
      if (!item.is_object()) return malformed("an item of \"data\" is not an object");
      size_t index = position;  // servers that omit "index" answer in order
      if (const auto found = item.find("index"); found != item.end()) {
        if (!found->is_number_unsigned()) return malformed("\"index\" is not a non-negative integer");
        index = found->get<size_t>();
      }
      if (index >= count || seen[index]) return malformed("\"index\" out of range or repeated");
      seen[index] = true;
      const auto embedding = item.find("embedding");
      if (embedding == item.end() || !embedding->is_array() || embedding->empty()) {
        return malformed("item " + std::to_string(index) + " has no \"embedding\" array");
      }
      Vector& v = out[index];
      v.reserve(embedding->size());
      double norm = 0.0;
      for (const json& x : *embedding) {
        if (!x.is_number()) return malformed("an embedding holds a non-number");
        const auto value = static_cast<float>(x.get<double>());
        if (!std::isfinite(value)) return malformed("an embedding holds a non-finite number");
        v.push_back(value);
        norm += static_cast<double>(value) * value;
      }
      if (auto status = check_dimension(client, v.size()); !status) return status.error();
      norm = std::sqrt(norm);
      if (norm > 0.0) {
        for (float& x : v) x = static_cast<float>(x / norm);
      }
    }
    return out;
  }

  // The first answer fixes the dimension when none was configured; every later vector must match.
  Status check_dimension(const net::Client& client, size_t size) {
    size_t expected = options_.dimension;
    if (expected == 0) {
      expected = learned_dimension_.load();
      if (expected == 0 && learned_dimension_.compare_exchange_strong(expected, size)) expected = size;
    }
    if (size != expected) {
      return client.failure("embeddings upstream for model " + options_.model + " returned a " +
                            std::to_string(size) + "-dimensional vector; expected " +
                            std::to_string(expected));
    }
    return ok();
  }

  HttpOptions options_;
  std::atomic<size_t> learned_dimension_{0};  // 0 until the first answer when options_.dimension == 0
};

}  // namespace

std::unique_ptr<Embedder> make_http_embedder(const HttpOptions& options) {
  return std::make_unique<HttpEmbedder>(options);
}

}  // namespace brandcoach::embed
