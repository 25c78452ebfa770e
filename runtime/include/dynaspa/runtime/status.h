//===- status.h - a status code with its message ----------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Every fallible C++ entry point of the runtime (and every internal step)
// returns a Status (code + message); the C API turns it into a
// dynaspa_status_t and stores the message as the context's last error. A
// plain class rather than status macros: callers write
// `if (Status s = f(); !s) return s;`.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_STATUS_H
#define DYNASPA_RUNTIME_STATUS_H

#include "dynaspa/runtime/runtime.h"

#include <string>
#include <utility>

namespace dynaspa::runtime {

class [[nodiscard]] Status {
public:
  Status() = default;
  Status(dynaspa_status_t code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  explicit operator bool() const { return code_ == DYNASPA_OK; }
  dynaspa_status_t code() const { return code_; }
  const std::string &message() const { return message_; }

private:
  dynaspa_status_t code_ = DYNASPA_OK;
  std::string message_;
};

inline Status invalidArgument(std::string message) {
  return Status(DYNASPA_INVALID_ARGUMENT, std::move(message));
}

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_STATUS_H
