// `brandcoach eval memory`: replays scripted users ("lives") session by session, each session in its
// own `brandcoach chat --new-session` process on the same data folder, and scores the answers to
// probe questions: recall (an expected value appears) and stale answers (a superseded value stated
// as current, i.e. on a line that does not mark it as earlier).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "brandcoach/text/text.hpp"
#include "brandcoach/cli/app.hpp"

extern char** environ;

namespace brandcoach::cli {

namespace fs = std::filesystem;

namespace {

struct Probe {
  std::string ask;
  std::vector<std::string> expect;
  std::vector<std::string> stale;
};

struct Session {
  std::vector<std::string> messages;
  std::vector<Probe> probes;
};

struct Life {
  std::string user;
  std::vector<Session> sessions;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string one_line(std::string text) {
  for (auto& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

Result<std::vector<std::string>> strings(const nlohmann::json& json, const std::string& where) {
  if (!json.is_array()) return Error::invalid(where + " must be an array of strings");
  std::vector<std::string> out;
  for (const auto& item : json) {
    if (!item.is_string()) return Error::invalid(where + " must be an array of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<std::vector<Life>> read_lives(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::not_found("cannot read " + path);
  std::vector<Life> lives;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", path, number);
    auto json = parse_json(line);
    if (!json.is_object() || !json.contains("user") || !json["user"].is_string() ||
        !json.contains("sessions") || !json["sessions"].is_array()) {
      return Error::invalid(where + ": expected {\"user\", \"sessions\": [...]}", "lives");
    }
    Life life;
    life.user = json["user"].get<std::string>();
    if (auto status = coach::validate_user_id(life.user); !status)
      return Error::invalid(where + ": bad user id");
    for (const auto& s : json["sessions"]) {
      Session session;
      auto messages = strings(s.value("messages", nlohmann::json::array()), where + ": messages");
      if (!messages) return messages.error();
      session.messages = std::move(messages).value();
      for (const auto& p : s.value("probes", nlohmann::json::array())) {
        if (!p.is_object() || !p.contains("ask") || !p["ask"].is_string()) {
          return Error::invalid(where + ": a probe needs \"ask\"");
        }
        Probe probe;
        probe.ask = p["ask"].get<std::string>();
        auto expect = strings(p.value("expect", nlohmann::json::array()), where + ": expect");
        if (!expect) return expect.error();
        auto stale = strings(p.value("stale", nlohmann::json::array()), where + ": stale");
        if (!stale) return stale.error();
        probe.expect = std::move(expect).value();
        probe.stale = std::move(stale).value();
        session.probes.push_back(std::move(probe));
      }
      life.sessions.push_back(std::move(session));
    }
    lives.push_back(std::move(life));
  }
  return lives;
}

// Runs `argv` with stdin from `input_file` and stdout to `output_file`; returns the exit status.
Result<int> run_process(const std::vector<std::string>& argv, const fs::path& input_file,
                        const fs::path& output_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, input_file.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Error::internal(fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return Error::internal("waitpid failed");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool marks_history(const std::string& line) {
  static constexpr std::string_view kMarkers[] = {
      "earlier", "previously", "before",     "first said", "changed",  "no longer",  "used to",
      " was ",   " were ",     "up from",    "down from",  "replaced", "instead of", "shut",
      "closed",  "dropped",    "moved from", "old ",       "former",   "originally"};
  const std::string folded = lower(line);
  return std::any_of(std::begin(kMarkers), std::end(kMarkers),
                     [&](std::string_view m) { return folded.find(m) != std::string::npos; });
}

}  // namespace

int eval_memory(Config config, const std::string& lives_path, const std::vector<std::string>& passthrough,
                bool json_output) {
  auto lives = read_lives(lives_path);
  if (!lives) return fail(lives.error());
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return fail(Error::internal("cannot find the brandcoach binary: " + ec.message()));
  const fs::path work = fs::path(config.storage.data_dir) / "eval-memory";
  // The scripted users are replayed into a database of their own, new each run: replaying into the
  // configured one would mix them with real users and with their own earlier replays.
  const fs::path replay = work / "replay";
  fs::remove_all(replay, ec);
  fs::create_directories(replay, ec);
  if (ec) return fail(Error::unavailable("cannot create " + replay.string() + ": " + ec.message()));
  std::vector<std::string> child_args;
  for (size_t i = 0; i < passthrough.size(); ++i) {
    if (passthrough[i] == "--data-dir" && i + 1 < passthrough.size()) {
      ++i;
      continue;
    }
    child_args.push_back(passthrough[i]);
  }
  child_args.insert(child_args.end(), {"--data-dir", replay.string()});

  size_t probes = 0, recalled = 0, stale = 0, sessions = 0, turns = 0;
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& life : *lives) {
    for (size_t s = 0; s < life.sessions.size(); ++s) {
      const auto& session = life.sessions[s];
      const fs::path input = work / "input.txt";
      const fs::path output = work / "output.jsonl";
      {
        std::ofstream out(input, std::ios::trunc);
        for (const auto& m : session.messages) out << one_line(m) << "\n";
        for (const auto& p : session.probes) out << one_line(p.ask) << "\n";
      }
      std::vector<std::string> argv = {self.string()};
      argv.insert(argv.end(), child_args.begin(), child_args.end());
      for (const auto& a : {"chat", "--json", "--new-session", "--user"}) argv.emplace_back(a);
      argv.push_back(life.user);
      auto rc = run_process(argv, input, output);
      if (!rc) return fail(rc.error());
      if (*rc != 0) {
        return fail(
            Error::internal(fmt::format("chat for {} session {} exited with {}", life.user, s + 1, *rc)));
      }
      std::ifstream replies(output);
      std::vector<std::string> answers;
      std::string line;
      while (std::getline(replies, line)) {
        auto json = parse_json(line);
        answers.push_back(json.is_object() ? json.value("reply", std::string()) : std::string());
      }
      ++sessions;
      turns += answers.size();
      if (answers.size() != session.messages.size() + session.probes.size()) {
        return fail(
            Error::internal(fmt::format("{} session {}: {} replies for {} messages", life.user, s + 1,
                                        answers.size(), session.messages.size() + session.probes.size())));
      }
      for (size_t p = 0; p < session.probes.size(); ++p) {
        const auto& probe = session.probes[p];
        const std::string& answer = answers[session.messages.size() + p];
        const std::string folded = lower(answer);
        ++probes;
        const bool hit = std::any_of(probe.expect.begin(), probe.expect.end(), [&](const std::string& e) {
          return folded.find(lower(e)) != std::string::npos;
        });
        bool stated_stale = false;
        std::istringstream lines(answer);
        for (std::string answer_line; std::getline(lines, answer_line);) {
          for (const auto& old : probe.stale) {
            if (!old.empty() && lower(answer_line).find(lower(old)) != std::string::npos &&
                !marks_history(answer_line)) {
              stated_stale = true;
            }
          }
        }
        recalled += hit ? 1 : 0;
        stale += stated_stale ? 1 : 0;
        if (!hit || stated_stale) {
          failures.push_back({{"user", life.user},
                              {"session", s + 1},
                              {"ask", probe.ask},
                              {"expect", probe.expect},
                              {"stale", probe.stale},
                              {"missed", !hit},
                              {"stated_stale", stated_stale},
                              {"answer", answer}});
        }
      }
    }
  }
  fs::remove(work / "input.txt", ec);
  fs::remove(work / "output.jsonl", ec);
  fs::remove_all(replay, ec);
  const double recall = probes ? static_cast<double>(recalled) / static_cast<double>(probes) : 0.0;
  if (json_output) {
    std::cout << nlohmann::json{{"lives", lives->size()}, {"sessions", sessions}, {"turns", turns},
                                {"probes", probes},       {"recalled", recalled}, {"recall", recall},
                                {"stale", stale},         {"failures", failures}}
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    std::cout << fmt::format("lives {}, sessions {} (one process each), turns {}\n", lives->size(), sessions,
                             turns);
    std::cout << fmt::format("probes {}: recalled {} ({:.1f}%), stale answers {}\n", probes, recalled,
                             100 * recall, stale);
    for (const auto& f : failures) {
      std::cout << fmt::format(
          "\n{} s{} {}{}: {}\n  expect {} stale {}\n  answer: {}\n", f["user"].get<std::string>(),
          f["session"].get<size_t>(), f["missed"].get<bool>() ? "MISSED" : "",
          f["stated_stale"].get<bool>() ? " STALE" : "", f["ask"].get<std::string>(), f["expect"].dump(),
          f["stale"].dump(), text::utf8_prefix(one_line(f["answer"].get<std::string>()), 600));
    }
  }
  return 0;
}

}  // namespace brandcoach::cli
