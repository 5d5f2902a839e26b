// Every public JSON body schema of the chat APIs. The input's first byte picks the parser ('0':
// POST /api/chat, '1': /v1/chat/completions, '2': /v1/responses; any byte, modulo 3), the rest is the
// body. A body that parses is then framed as its API would stream it (the start of the stream and one
// delta), which serialises what the request echoes back (model, metadata, tools, instructions).
#include <cstdint>
#include <string>
#include <string_view>

#include "brandcoach/http/http.hpp"
#include "fuzz_assistants.hpp"
#include "fuzz_support.hpp"

using namespace brandcoach;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  (void)fuzz::assistants();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body = fuzz::as_text(data + 1, size - 1);
  Result<http::ChatRequest> chat = Error::internal("unset");
  switch (data[0] % 3) {
    case 0:
      chat = http::parse_chat_request(body);
      break;
    case 1:
      chat = http::parse_openai_chat_request(body, fuzz::assistants());
      break;
    default:
      chat = http::parse_openai_responses_request(body, fuzz::assistants());
      break;
  }
  if (!chat) {
    (void)http::error_response(chat.error());
    return 0;
  }
  if (!chat->format) __builtin_trap();  // never null once parsed
  coach::TurnEvents events;
  chat->format->configure(events, {});
  (void)chat->format->start();
  (void)chat->format->delta(chat->message);
  (void)chat->format->error(Error::invalid("fuzz", "message"));
  return 0;
}
