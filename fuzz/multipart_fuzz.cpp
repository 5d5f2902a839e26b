// multipart/form-data bodies (file uploads). The input's first line is the Content-Type header, the
// rest the body.
#include <cstdint>
#include <string_view>

#include "brandcoach/http/http.hpp"
#include "fuzz_support.hpp"

using namespace brandcoach;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = fuzz::as_text(data, size);
  const size_t line_end = input.find('\n');
  const std::string_view content_type = input.substr(0, line_end);
  const std::string_view body =
      line_end == std::string_view::npos ? std::string_view{} : input.substr(line_end + 1);
  auto parts = http::parse_multipart(content_type, body);
  if (parts) {
    // Every part lies inside the body.
    size_t total = 0;
    for (const auto& part : *parts) total += part.data.size();
    if (total > body.size()) __builtin_trap();
  }
  return 0;
}
