// Runs the real brandcoach binary for black-box tests: fork/exec with captured output.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace brandcoach::testing {

/// A child process whose stdout and stderr are pipes; killed (SIGKILL) if still running at the end.
class Process {
 public:
  /// Starts `args` with the parent's environment minus BRANDCOACH_* variables, plus `env` ("K=V").
  /// BRANDCOACH_ROUTE_MODEL_DIR is kept: the test suite sets it so every child shares one trained
  /// router model instead of training its own.
  explicit Process(std::vector<std::string> args, const std::string& stdin_text = {},
                   bool keep_stdin_open = false, std::vector<std::string> env = {}) {
    for (char** e = environ; e && *e; ++e) {
      const std::string_view variable(*e);
      if (variable.rfind("BRANDCOACH_", 0) != 0 || variable.rfind("BRANDCOACH_ROUTE_MODEL_DIR=", 0) == 0)
        env.emplace_back(*e);
    }
    // Built before fork: the child of a multithreaded parent (a fake server's threads) may only make
    // async-signal-safe calls until exec, and an allocation there can deadlock on a lock another
    // thread held at the fork, leaving a child that never starts.
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int out[2], err[2], in[2];
    if (pipe(out) != 0 || pipe(err) != 0 || pipe(in) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      dup2(err[1], STDERR_FILENO);
      for (int fd : {out[0], out[1], err[0], err[1], in[0], in[1]}) close(fd);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    close(in[0]);
    stdout_fd_ = out[0];
    stderr_fd_ = err[0];
    stdin_fd_ = in[1];
    if (!stdin_text.empty()) write_stdin(stdin_text);
    if (!keep_stdin_open) close_stdin();
  }
  ~Process() {
    if (pid_ > 0 && !exit_code_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close_stdin();
    close(stdout_fd_);
    close(stderr_fd_);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void write_stdin(const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(stdin_fd_, text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
  }
  void close_stdin() {
    if (stdin_fd_ >= 0) close(stdin_fd_);
    stdin_fd_ = -1;
  }

  /// Reads stdout until a full line arrives (or the timeout passes); returns it without the newline.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto newline = stdout_.find('\n');
      if (newline != std::string::npos) {
        std::string line = stdout_.substr(0, newline);
        stdout_.erase(0, newline + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !pump(stdout_fd_, stdout_, static_cast<int>(left.count())))
        return std::nullopt;
    }
  }

  /// Sends a signal.
  void signal(int sig) { kill(pid_, sig); }

  /// Waits for exit (collecting all output); returns the exit code, or 128+signal.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exit_code_) {
      int status = 0;
      const pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        continue;
      }
      pump(stdout_fd_, stdout_, 20);
      pump(stderr_fd_, stderr_, 20);
    }
    while (pump(stdout_fd_, stdout_, 0)) {
    }
    while (pump(stderr_fd_, stderr_, 0)) {
    }
    return *exit_code_;
  }

  const std::string& out() const { return stdout_; }
  const std::string& err() const { return stderr_; }
  pid_t pid() const { return pid_; }

 private:
  // Reads what is available on fd within timeout_ms; false at end of file or timeout with nothing read.
  static bool pump(int fd, std::string& into, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char buffer[65536];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return false;
    into.append(buffer, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1, stderr_fd_ = -1, stdin_fd_ = -1;
  std::string stdout_, stderr_;
  std::optional<int> exit_code_;
};

}  // namespace brandcoach::testing
