// Loading of an `extends` chain: depth first, parents before children, each file once (a diamond
// is fine), cycles reported with the whole chain. Relative paths resolve against the extending file.
#include "policy/resolve.h"

#include <algorithm>
#include <set>

#include "policy/raw_node.h"
#include "policy/variables.h"

namespace moat::policy {

namespace {

constexpr std::size_t kMaxExtendsDepth = 32;

std::string dir_of(const std::string& file) {
  const std::size_t slash = file.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : file.substr(0, slash);
}

class ChainLoader {
 public:
  ChainLoader(const std::vector<std::string>& search_path, DiagnosticSink& sink)
      : search_path_(search_path), sink_(sink) {}

  void load(const std::string& file, const SourceRef& at, int length) {
    if (std::find(stack_.begin(), stack_.end(), file) != stack_.end()) {
      std::string cycle;
      for (auto it = std::find(stack_.begin(), stack_.end(), file); it != stack_.end(); ++it) {
        cycle += *it + " -> ";
      }
      sink_.error(at, length, "extends-cycle", "'extends' makes a cycle: " + cycle + file,
                  "a profile cannot extend itself, directly or through others");
      return;
    }
    if (done_.contains(file)) return;
    if (stack_.size() >= kMaxExtendsDepth) {
      sink_.error(at, length, "too-complex", "'extends' is nested more than 32 deep");
      return;
    }
    std::optional<RawNode> raw = load_raw_file(file, at, length, sink_);
    if (!raw) return;
    Profile profile = validate_profile(*raw, file, sink_);
    stack_.push_back(file);
    for (const Entry& e : profile.extends) {
      std::optional<std::string> parent;
      if (is_path_reference(e.text)) {
        parent = absolute_path(e.text, dir_of(file));
      } else if (!is_valid_profile_name(e.text)) {
        sink_.error(e.at, e.length, "bad-value",
                    "'" + e.text + "' is neither a profile name nor a path",
                    "names use letters, digits, '.', '_' and '-'; paths contain '/' or end in .yaml");
        continue;
      } else {
        parent = find_profile(e.text, search_path_, file);
        if (!parent) {
          std::string dirs;
          for (auto d = search_path_.rbegin(); d != search_path_.rend(); ++d) {
            dirs += (dirs.empty() ? "" : ", ") + *d;
          }
          sink_.error(e.at, e.length, "profile-not-found",
                      "no profile named '" + e.text + "' on the search path",
                      "searched: " + dirs);
          continue;
        }
      }
      load(*parent, e.at, e.length);
    }
    stack_.pop_back();
    done_.insert(file);
    chain_.files.push_back(file);
    chain_.profiles.push_back(std::move(profile));
  }

  Chain take() { return std::move(chain_); }

 private:
  const std::vector<std::string>& search_path_;
  DiagnosticSink& sink_;
  std::vector<std::string> stack_;
  std::set<std::string> done_;
  Chain chain_;
};

}  // namespace

std::string absolute_path(const std::string& path, const std::string& base_dir) {
  if (!path.empty() && path[0] == '/') return normalize_path(path);
  return normalize_path(base_dir + "/" + path);
}

Chain load_chain(const std::string& file, const std::vector<std::string>& search_path,
                 DiagnosticSink& sink) {
  ChainLoader loader(search_path, sink);
  loader.load(file, SourceRef{file, 0, 0}, 1);
  return loader.take();
}

}  // namespace moat::policy
