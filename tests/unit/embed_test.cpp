// Embedders: the offline hashing embedder, document frequencies, and the HTTP embedder against a fake
// OpenAI-compatible server over real sockets.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "brandcoach/embed/embed.hpp"
#include "support/fake_openai_server.hpp"

namespace brandcoach::embed {
namespace {

using testing::FakeOpenAiServer;
using Fault = FakeOpenAiServer::Fault;

double dot(const Vector& a, const Vector& b) {
  double sum = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

double norm(const Vector& v) {
  return std::sqrt(dot(v, v));
}

Vector embed_one(Embedder& embedder, const std::string& text) {
  auto vectors = embedder.embed_documents({text});
  if (!vectors) throw std::runtime_error(vectors.error().message);
  return vectors.value().at(0);
}

double cosine(Embedder& embedder, const std::string& a, const std::string& b) {
  return dot(embed_one(embedder, a), embed_one(embedder, b));
}

// ---------------------------------------------------------------------------------------------
// Hashing embedder

TEST(HashingEmbedder, IsDeterministicAcrossCallsAndInstances) {
  auto first = make_hashing_embedder();
  auto second = make_hashing_embedder();
  const std::string text = "How should I price my coaching packages for small businesses?";
  const Vector a = embed_one(*first, text);
  EXPECT_EQ(a, embed_one(*first, text));
  EXPECT_EQ(a, embed_one(*second, text));
  EXPECT_EQ(a, first->embed_query(text, nullptr).value());
}

// Non-zero buckets as "bucket:value " with two decimals.
std::string signature(const Vector& v) {
  std::string out;
  char item[32];
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == 0.0f) continue;
    std::snprintf(item, sizeof item, "%zu:%+.2f ", i, static_cast<double>(v[i]));
    out += item;
  }
  return out;
}

TEST(HashingEmbedder, HashesArePinnedAcrossPlatformsAndReleases) {
  // Stored vectors outlive the binary that made them. If this test fails, the vector space changed:
  // bump the version in id() so stores re-embed, then update the expected values.
  auto embedder = make_hashing_embedder({.dimension = 64});
  EXPECT_EQ(embedder->id(), "hashing:64:v1");
  EXPECT_EQ(signature(embed_one(*embedder, "price")),
            "9:-0.22 17:+0.22 18:-0.22 26:+0.22 31:+0.22 34:+0.22 47:+0.22 48:+0.22 54:+0.74 60:-0.22 ");
  EXPECT_EQ(signature(embed_one(*embedder, "caf\xC3\xA9 prices rise")),
            "4:+0.12 7:-0.12 8:+0.12 9:-0.12 16:-0.29 17:+0.12 18:+0.29 19:+0.12 20:+0.12 26:+0.12 29:-0.12 "
            "31:+0.12 34:+0.12 36:+0.12 38:+0.12 40:+0.12 45:+0.12 46:+0.12 47:+0.12 49:+0.12 50:+0.12 "
            "51:+0.12 54:+0.53 56:+0.33 58:+0.33 60:-0.12 63:+0.12 ");
}

TEST(HashingEmbedder, VectorsHaveUnitNorm) {
  auto embedder = make_hashing_embedder();
  const std::vector<std::string> texts = {"brand",
                                          "Building a personal brand on LinkedIn in 2024",
                                          "cr\xC3\xA8me br\xC3\xBBl\xC3\xA9 caf\xC3\xA9",
                                          "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
                                          "broken \xC3 utf8 \xFF bytes",
                                          std::string(5000, 'x')};
  for (const auto& text : texts) {
    EXPECT_NEAR(norm(embed_one(*embedder, text)), 1.0, 1e-5) << text.substr(0, 40);
  }
}

TEST(HashingEmbedder, DimensionIsRespected) {
  for (const size_t dimension : {64u, 100u, 512u, 8192u}) {
    auto embedder = make_hashing_embedder({.dimension = dimension});
    EXPECT_EQ(embedder->dimension(), dimension);
    EXPECT_EQ(embedder->id(), "hashing:" + std::to_string(dimension) + ":v1");
    auto vectors = embedder->embed_documents({"one text", "another text", ""});
    ASSERT_TRUE(vectors);
    ASSERT_EQ(vectors->size(), 3u);
    for (const auto& v : *vectors) EXPECT_EQ(v.size(), dimension);
    EXPECT_EQ(embedder->embed_query("a query", nullptr)->size(), dimension);
  }
}

TEST(HashingEmbedder, ValidateRejectsDimensionsOutOfRange) {
  EXPECT_TRUE(validate(HashingOptions{.dimension = 64}));
  EXPECT_TRUE(validate(HashingOptions{.dimension = 8192}));
  for (const size_t dimension : {0u, 63u, 8193u, 100000u}) {
    const auto status = validate(HashingOptions{.dimension = dimension});
    ASSERT_FALSE(status) << dimension;
    EXPECT_EQ(status.error().kind, ErrorKind::invalid_config);
    EXPECT_EQ(status.error().param, "dimension");
    EXPECT_THROW(make_hashing_embedder({.dimension = dimension}), std::invalid_argument);
  }
}

TEST(HashingEmbedder, ParaphraseSharingStemsScoresHigherThanUnrelatedText) {
  auto embedder = make_hashing_embedder();
  const double paraphrase = cosine(*embedder, "pricing my services", "how to price a service");
  const double unrelated = cosine(*embedder, "pricing my services", "instagram video ideas");
  EXPECT_GT(paraphrase, 0.5);
  EXPECT_LT(std::abs(unrelated), 0.15);
  EXPECT_GT(paraphrase, unrelated + 0.4);

  const double brand = cosine(*embedder, "building a strong personal brand", "personal branding tips");
  const double other = cosine(*embedder, "building a strong personal brand", "quarterly tax deadlines");
  EXPECT_GT(brand, other + 0.3);
}

TEST(HashingEmbedder, InflectionsMapClose) {
  auto embedder = make_hashing_embedder();
  EXPECT_GT(cosine(*embedder, "customers", "customer"), 0.7);
  EXPECT_GT(cosine(*embedder, "branding", "brand"), 0.6);
  EXPECT_GT(cosine(*embedder, "pricing strategies", "price strategy"), 0.6);
  // Derivations the stemmer keeps apart still share character n-grams.
  EXPECT_GT(cosine(*embedder, "brandable", "brand"), 0.25);
  EXPECT_LT(std::abs(cosine(*embedder, "brandable", "invoice")), 0.15);
}

TEST(HashingEmbedder, EmptyTextGivesZeroVectorWithoutNaN) {
  auto embedder = make_hashing_embedder();
  DocumentFrequencies df;
  df.add(embed_one(*embedder, "some stored document"));
  for (const std::string text : {"", "   ", "?!", "how to do it"}) {  // the last is all stopwords
    const Vector doc = embed_one(*embedder, text);
    const Vector query = embedder->embed_query(text, &df).value();
    for (const Vector* v : {&doc, &query}) {
      ASSERT_EQ(v->size(), 512u);
      for (const float x : *v) {
        ASSERT_FALSE(std::isnan(x));
        ASSERT_EQ(x, 0.0f);
      }
    }
  }
}

TEST(HashingEmbedder, IdfWeightingMovesQueryTowardRareBuckets) {
  auto embedder = make_hashing_embedder();
  // "brand" is in every stored document, "podcast" in one: the query should lean toward podcast.
  DocumentFrequencies df;
  df.df.assign(512, 0);
  for (const std::string text :
       {"brand voice", "brand colours", "brand story", "brand podcast", "brand audit"}) {
    df.add(embed_one(*embedder, text));
  }
  const std::string query = "brand podcast";
  const Vector plain = embedder->embed_query(query, nullptr).value();
  const Vector weighted = embedder->embed_query(query, &df).value();
  EXPECT_NEAR(norm(weighted), 1.0, 1e-5);
  EXPECT_NE(plain, weighted);
  const Vector podcast = embed_one(*embedder, "podcast");
  const Vector brand = embed_one(*embedder, "brand");
  EXPECT_GT(dot(weighted, podcast), dot(plain, podcast));
  EXPECT_LT(dot(weighted, brand), dot(plain, brand));
  EXPECT_GT(dot(weighted, podcast), dot(weighted, brand));

  // No documents: no weighting.
  DocumentFrequencies empty;
  EXPECT_EQ(embedder->embed_query(query, &empty).value(), plain);
}

TEST(HashingEmbedder, QueryRejectsFrequenciesOfAnotherDimension) {
  auto embedder = make_hashing_embedder({.dimension = 128});
  DocumentFrequencies df;
  df.add(Vector(256, 1.0f));
  const auto query = embedder->embed_query("brand", &df);
  ASSERT_FALSE(query);
  EXPECT_EQ(query.error().kind, ErrorKind::invalid_input);
}

TEST(HashingEmbedder, IsThreadSafe) {
  auto embedder = make_hashing_embedder();
  const std::vector<std::string> texts = {"pricing my services", "instagram video ideas", "brand voice guide",
                                          "\xC3\xA9t\xC3\xA9 caf\xC3\xA9"};
  const auto expected = embedder->embed_documents(texts).value();
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (embedder->embed_documents(texts).value() != expected) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const int m : mismatches) EXPECT_EQ(m, 0);
}

// ---------------------------------------------------------------------------------------------
// DocumentFrequencies

TEST(DocumentFrequencies, AddAndRemoveRoundTrip) {
  DocumentFrequencies df;
  const Vector a = {0.5f, 0.0f, -0.5f, 0.0f};
  const Vector b = {0.0f, 0.0f, 1.0f, 0.0f};
  df.add(a);
  df.add(b);
  EXPECT_EQ(df.documents, 2u);
  EXPECT_EQ(df.df, (std::vector<uint32_t>{1, 0, 2, 0}));
  df.remove(a);
  EXPECT_EQ(df.documents, 1u);
  EXPECT_EQ(df.df, (std::vector<uint32_t>{0, 0, 1, 0}));
  df.remove(b);
  EXPECT_EQ(df.documents, 0u);
  EXPECT_EQ(df.df, (std::vector<uint32_t>{0, 0, 0, 0}));
  df.remove(b);  // more removes than adds never wrap around
  EXPECT_EQ(df.documents, 0u);
  EXPECT_EQ(df.df, (std::vector<uint32_t>{0, 0, 0, 0}));
}

TEST(DocumentFrequencies, IdfFollowsBm25AndFallsAsFrequencyRises) {
  DocumentFrequencies df;
  df.documents = 100;
  df.df = {0, 1, 10, 50, 99, 100};
  EXPECT_NEAR(df.idf(1), std::log(1.0 + (100 - 1 + 0.5) / (1 + 0.5)), 1e-12);
  for (size_t b = 1; b < df.df.size(); ++b) {
    EXPECT_LT(df.idf(b), df.idf(b - 1)) << b;
    EXPECT_GT(df.idf(b), 0.0) << b;
  }
  EXPECT_DOUBLE_EQ(df.idf(1000), df.idf(0));  // beyond the table: never seen
}

// ---------------------------------------------------------------------------------------------
// HTTP embedder

constexpr const char* kKey = "sk-test-SECRET-4f9a8b7c6d";

HttpOptions options_for(const FakeOpenAiServer& server) {
  HttpOptions options;
  options.base_url = server.base_url();
  options.api_key = kKey;
  options.model = "text-embedding-3-small";
  options.timeout_ms = 5000;
  return options;
}

Vector normalised(const std::vector<double>& raw) {
  double sum = 0.0;
  for (const double x : raw) sum += x * x;
  Vector out;
  for (const double x : raw) out.push_back(static_cast<float>(x / std::sqrt(sum)));
  return out;
}

void expect_near(const Vector& actual, const Vector& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) ASSERT_NEAR(actual[i], expected[i], 1e-6) << i;
}

TEST(HttpEmbedder, BatchesRequestsAndKeepsOrderByIndex) {
  FakeOpenAiServer server(testing::embeddings_handler(8));
  auto embedder = make_http_embedder(options_for(server));
  std::vector<std::string> texts;
  for (int i = 0; i < 150; ++i) texts.push_back("text number " + std::to_string(i));
  auto vectors = embedder->embed_documents(texts);
  ASSERT_TRUE(vectors) << vectors.error().message;
  ASSERT_EQ(vectors->size(), 150u);
  for (size_t i = 0; i < texts.size(); ++i) {
    expect_near((*vectors)[i], normalised(testing::fake_embedding(texts[i], 8)));
    EXPECT_NEAR(norm((*vectors)[i]), 1.0, 1e-5);
  }
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  size_t next = 0;
  for (const auto& request : requests) {
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, "/v1/embeddings");
    EXPECT_EQ(request.header("authorization"), std::string("Bearer ") + kKey);
    EXPECT_EQ(request.header("content-type"), "application/json");
    const auto body = request.json();
    ASSERT_FALSE(body.is_discarded());
    EXPECT_EQ(body["model"], "text-embedding-3-small");
    for (const auto& input : body["input"]) EXPECT_EQ(input, texts[next++]);
  }
  EXPECT_EQ(requests[0].json()["input"].size(), 64u);
  EXPECT_EQ(requests[1].json()["input"].size(), 64u);
  EXPECT_EQ(requests[2].json()["input"].size(), 22u);
  EXPECT_EQ(embedder->dimension(), 8u);
}

TEST(HttpEmbedder, SendsNoAuthorizationWithoutKeyAndAcceptsTrailingSlash) {
  FakeOpenAiServer server(testing::embeddings_handler(4));
  auto options = options_for(server);
  options.api_key.clear();
  options.base_url += "/";
  auto embedder = make_http_embedder(options);
  ASSERT_TRUE(embedder->embed_documents({"hello"}));
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/v1/embeddings");
  EXPECT_FALSE(server.requests()[0].headers.contains("authorization"));
}

TEST(HttpEmbedder, EmbedQueryIgnoresFrequenciesAndEmbedsOneText) {
  FakeOpenAiServer server(testing::embeddings_handler(6));
  auto embedder = make_http_embedder(options_for(server));
  EXPECT_EQ(embedder->id(), "http:text-embedding-3-small");
  DocumentFrequencies df;
  df.add(Vector(6, 1.0f));
  auto query = embedder->embed_query("what is a brand?", &df);
  ASSERT_TRUE(query) << query.error().message;
  expect_near(*query, normalised(testing::fake_embedding("what is a brand?", 6)));
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(server.requests()[0].json()["input"], nlohmann::json::array({"what is a brand?"}));
}

TEST(HttpEmbedder, NoTextsMeansNoRequest) {
  FakeOpenAiServer server(testing::embeddings_handler(4));
  auto embedder = make_http_embedder(options_for(server));
  auto vectors = embedder->embed_documents({});
  ASSERT_TRUE(vectors);
  EXPECT_TRUE(vectors->empty());
  EXPECT_EQ(server.request_count(), 0u);
}

TEST(HttpEmbedder, RetriesRateLimitsThenSucceeds) {
  FakeOpenAiServer server(testing::embeddings_handler(4));
  server.inject(Fault::rate_limited, 2);
  auto embedder = make_http_embedder(options_for(server));
  auto vectors = embedder->embed_documents({"a", "b"});
  ASSERT_TRUE(vectors) << vectors.error().message;
  expect_near((*vectors)[1], normalised(testing::fake_embedding("b", 4)));
  EXPECT_EQ(server.request_count(), 3u);
}

TEST(HttpEmbedder, HonoursRetryAfterSeconds) {
  std::atomic<int> calls{0};
  FakeOpenAiServer server([&calls, embeddings = testing::embeddings_handler(4)](const auto& request) {
    if (calls++ > 0) return embeddings(request);
    auto reply = FakeOpenAiServer::Reply::openai_error(503, "warming up");
    reply.headers.emplace_back("Retry-After", "1");
    return reply;
  });
  const auto start = std::chrono::steady_clock::now();
  auto vectors = make_http_embedder(options_for(server))->embed_documents({"a"});
  ASSERT_TRUE(vectors) << vectors.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(950));
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(HttpEmbedder, RetriesServerErrorsAndDroppedConnections) {
  FakeOpenAiServer server(testing::embeddings_handler(4));
  server.inject(Fault::server_error, 1);
  server.inject(Fault::disconnect, 1);
  auto options = options_for(server);
  options.max_retries = 2;
  auto embedder = make_http_embedder(options);
  auto vectors = embedder->embed_documents({"a"});
  ASSERT_TRUE(vectors) << vectors.error().message;
  EXPECT_EQ(server.request_count(), 3u);
}

TEST(HttpEmbedder, GivesUpAfterMaxRetriesAsUnavailable) {
  FakeOpenAiServer server(testing::embeddings_handler(4));
  server.inject(Fault::rate_limited, 10);
  auto options = options_for(server);
  options.max_retries = 2;
  auto embedder = make_http_embedder(options);
  auto vectors = embedder->embed_documents({"a"});
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().kind, ErrorKind::unavailable);
  EXPECT_NE(vectors.error().message.find("429"), std::string::npos) << vectors.error().message;
  EXPECT_NE(vectors.error().message.find("Rate limit reached"), std::string::npos) << vectors.error().message;
  EXPECT_EQ(server.request_count(), 3u);  // the first try and two retries
}

TEST(HttpEmbedder, DoesNotRetryClientErrors) {
  FakeOpenAiServer server([](const FakeOpenAiServer::Request&) {
    return FakeOpenAiServer::Reply::openai_error(400, "'input' is too long", "invalid_request_error");
  });
  auto embedder = make_http_embedder(options_for(server));
  auto vectors = embedder->embed_documents({"a"});
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().kind, ErrorKind::unavailable);
  EXPECT_NE(vectors.error().message.find("400"), std::string::npos) << vectors.error().message;
  EXPECT_NE(vectors.error().message.find("'input' is too long"), std::string::npos)
      << vectors.error().message;
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(HttpEmbedder, MalformedJsonIsAnError) {
  FakeOpenAiServer server(testing::embeddings_handler(4));
  server.inject(Fault::malformed_json, 1);
  auto embedder = make_http_embedder(options_for(server));
  auto vectors = embedder->embed_documents({"a"});
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().kind, ErrorKind::unavailable);
  EXPECT_NE(vectors.error().message.find("malformed"), std::string::npos) << vectors.error().message;
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(HttpEmbedder, AnswersOfTheWrongShapeAreErrors) {
  using Reply = FakeOpenAiServer::Reply;
  const std::vector<nlohmann::json> answers = {
      {{"data", {{{"index", 0}, {"embedding", {1.0, 2.0}}}}}},  // one embedding for two inputs
      {{"data", {{{"index", 0}, {"embedding", {1.0, 2.0}}}, {{"index", 0}, {"embedding", {1.0, 2.0}}}}}},
      {{"data", {{{"index", 0}, {"embedding", {1.0, 2.0}}}, {{"index", 1}, {"embedding", {1.0, "x"}}}}}},
      {{"data", {{{"index", 0}, {"embedding", {1.0, 2.0}}}, {{"index", 5}, {"embedding", {1.0, 2.0}}}}}},
      {{"data", "none"}},
      nlohmann::json::array(),
  };
  for (const auto& answer : answers) {
    FakeOpenAiServer server([&](const FakeOpenAiServer::Request&) { return Reply::json(answer); });
    auto vectors = make_http_embedder(options_for(server))->embed_documents({"a", "b"});
    ASSERT_FALSE(vectors) << answer.dump();
    EXPECT_EQ(vectors.error().kind, ErrorKind::unavailable);
  }
}

TEST(HttpEmbedder, DimensionMismatchWithConfiguredDimensionIsAnError) {
  FakeOpenAiServer server(testing::embeddings_handler(8));
  auto options = options_for(server);
  options.dimension = 16;
  auto embedder = make_http_embedder(options);
  EXPECT_EQ(embedder->dimension(), 16u);
  auto vectors = embedder->embed_documents({"a"});
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().kind, ErrorKind::unavailable);
  EXPECT_NE(vectors.error().message.find("expected 16"), std::string::npos) << vectors.error().message;
}

TEST(HttpEmbedder, FirstAnswerFixesTheDimension) {
  FakeOpenAiServer server(testing::embeddings_handler(8));
  auto embedder = make_http_embedder(options_for(server));
  EXPECT_EQ(embedder->dimension(), 0u);
  ASSERT_TRUE(embedder->embed_documents({"a"}));
  EXPECT_EQ(embedder->dimension(), 8u);
  server.set_handler(testing::embeddings_handler(12));
  auto vectors = embedder->embed_documents({"b"});
  ASSERT_FALSE(vectors);
  EXPECT_NE(vectors.error().message.find("expected 8"), std::string::npos) << vectors.error().message;
  EXPECT_EQ(embedder->dimension(), 8u);
}

TEST(HttpEmbedder, TimeoutIsAnError) {
  FakeOpenAiServer server(testing::embeddings_handler(4));
  server.inject(Fault::slow, 1, std::chrono::seconds(3));
  auto options = options_for(server);
  options.timeout_ms = 200;
  options.max_retries = 0;
  auto embedder = make_http_embedder(options);
  const auto start = std::chrono::steady_clock::now();
  auto vectors = embedder->embed_documents({"a"});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().kind, ErrorKind::unavailable);
  EXPECT_NE(vectors.error().message.find("Timeout"), std::string::npos) << vectors.error().message;
  EXPECT_LT(elapsed, std::chrono::milliseconds(2000));
}

TEST(HttpEmbedder, SlowAnswerIsRetried) {
  FakeOpenAiServer server(testing::embeddings_handler(4));
  server.inject(Fault::slow, 1, std::chrono::seconds(3));
  auto options = options_for(server);
  options.timeout_ms = 300;
  options.max_retries = 1;
  auto vectors = make_http_embedder(options)->embed_documents({"a"});
  ASSERT_TRUE(vectors) << vectors.error().message;
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(HttpEmbedder, UnreachableServerIsUnavailable) {
  int port = 0;
  {
    FakeOpenAiServer server(testing::embeddings_handler(4));
    port = server.port();
  }
  HttpOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  options.model = "m";
  options.max_retries = 1;
  auto vectors = make_http_embedder(options)->embed_documents({"a"});
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().kind, ErrorKind::unavailable);
  EXPECT_NE(vectors.error().message.find("network error"), std::string::npos) << vectors.error().message;
}

TEST(HttpEmbedder, ApiKeyNeverAppearsInAnErrorMessage) {
  // A hostile or careless upstream that quotes the credential back.
  FakeOpenAiServer server([](const FakeOpenAiServer::Request& request) {
    return FakeOpenAiServer::Reply::openai_error(
        401, "Incorrect API key provided: " + request.header("authorization") + ".", "invalid_request_error");
  });
  auto embedder = make_http_embedder(options_for(server));
  auto vectors = embedder->embed_documents({"a"});
  ASSERT_FALSE(vectors);
  EXPECT_NE(vectors.error().message.find("401"), std::string::npos) << vectors.error().message;
  EXPECT_EQ(vectors.error().message.find(kKey), std::string::npos) << vectors.error().message;
  EXPECT_EQ(vectors.error().message.find("SECRET"), std::string::npos) << vectors.error().message;

  // The same on the retry path, and with a plain-text body.
  server.set_handler([](const FakeOpenAiServer::Request& request) {
    FakeOpenAiServer::Reply reply;
    reply.status = 503;
    reply.content_type = "text/plain";
    reply.body = "upstream overloaded for " + request.header("authorization");
    return reply;
  });
  auto options = options_for(server);
  options.max_retries = 1;
  vectors = make_http_embedder(options)->embed_documents({"a"});
  ASSERT_FALSE(vectors);
  EXPECT_NE(vectors.error().message.find("503"), std::string::npos) << vectors.error().message;
  EXPECT_EQ(vectors.error().message.find("SECRET"), std::string::npos) << vectors.error().message;
}

TEST(HttpEmbedder, BadOptionsAreConfigErrors) {
  HttpOptions options;
  options.base_url = "http://127.0.0.1:1/v1";
  options.model = "m";
  options.batch_size = 0;
  auto vectors = make_http_embedder(options)->embed_documents({"a"});
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().kind, ErrorKind::invalid_config);
  EXPECT_EQ(vectors.error().param, "batch_size");
  options.batch_size = 8;
  options.model.clear();
  vectors = make_http_embedder(options)->embed_documents({"a"});
  ASSERT_FALSE(vectors);
  EXPECT_EQ(vectors.error().param, "model");
}

}  // namespace
}  // namespace brandcoach::embed
