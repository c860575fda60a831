// Internal: an .npmrc as a client may see it inside a sandbox: its registry settings kept, every
// credential removed. For clients that insist on reading the user file (yarn classic as root).
#pragma once

#include <string>
#include <string_view>

namespace moat::policy::tools {

// `text` (npm's ini form) without the lines that hold or may hold a credential: every per-host
// setting ("//host/:_authToken"), keys naming auth, tokens, passwords, users, e-mail, client
// certificates and keys, proxies, comments (a commented-out token is still a token), sections,
// and keys built from environment variables. The user part of a URL value is cut off. What is
// kept stays as written, one line each.
std::string redact_npmrc(std::string_view text);

}  // namespace moat::policy::tools
