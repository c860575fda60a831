// While one is alive on a thread, libbpf's warnings (the verifier's last words among them) are
// collected for an error message instead of being printed on the user's terminal.
#pragma once

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <string>

namespace moat::sys {

class LibbpfLog {
 public:
  LibbpfLog() : previous_(libbpf_set_print(&LibbpfLog::keep)) { current() = &text_; }
  ~LibbpfLog() {
    current() = nullptr;
    libbpf_set_print(previous_);
  }
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;

  // The last LINES lines: they name the failing program and what the verifier said.
  std::string tail(int lines = 4) const {
    std::string t = text_;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    size_t pos = t.size();
    for (int n = 0; n < lines && pos != std::string::npos && pos > 0; ++n) {
      pos = t.rfind('\n', pos - 1);
    }
    return pos == std::string::npos ? t : t.substr(pos + 1);
  }

 private:
  // libbpf has one process-wide print callback; the text goes to this thread's live LibbpfLog.
  static std::string*& current() {
    static thread_local std::string* text = nullptr;
    return text;
  }
  static int keep(libbpf_print_level level, const char* fmt, va_list args) {
    std::string* text = current();
    if (text == nullptr || level == LIBBPF_DEBUG) return 0;
    char line[1024];
    int n = std::vsnprintf(line, sizeof line, fmt, args);
    if (n > 0) text->append(line);
    return n;
  }

  libbpf_print_fn_t previous_;
  std::string text_;
};

}  // namespace moat::sys
