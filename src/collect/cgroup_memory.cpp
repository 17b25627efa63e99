// Socket memory of the processes' memory cgroups, v1 and v2 (see the header).
#include "collect/cgroup_memory.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <utility>

#include "collect/proc_paths.h"
#include "util/file.h"

namespace cd {

namespace {

constexpr std::size_t kMaxCgroupFileBytes = 1u << 20;  // memory.stat is ~2 KiB
// A v1 page counter at PAGE_COUNTER_MAX (LONG_MAX / PAGE_SIZE pages) reads 9223372036854771712
// bytes with 4 KiB pages; anything this large is "never limited", whatever the page size.
constexpr int64_t kUnlimitedFrom = int64_t(1) << 62;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto oct = [](char c) { return c >= '0' && c <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
      out += char((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
      continue;
    }
    out += s[i];
  }
  return out;
}

std::optional<int64_t> parse_i64(std::string_view s) {
  s = trim_right(s);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

struct Key {
  int version;
  std::string path;
  auto operator<=>(const Key&) const = default;
};

// Reads one cgroup's files into `g`; false when the cgroup has no memory accounting to read
// (cgroup2 without the memory controller enabled there).
bool read_group(const std::string& dir, CgroupSockMemory& g) {
  auto read = [&](std::string_view leaf) {
    return read_file(dir + "/" + std::string(leaf), kMaxCgroupFileBytes);
  };
  auto note = [&](const Error& e) {
    if (g.error.empty()) g.error = e.message;
  };
  auto number = [&](std::string_view leaf, std::optional<int64_t>& into, bool* unlimited) {
    auto text = read(leaf);
    if (!text) {
      note(text.error());
      return;
    }
    std::string_view t = trim_right(*text);
    if (unlimited && t == "max") {
      *unlimited = true;
      return;
    }
    auto v = parse_i64(t);
    if (!v) {
      note(Error{dir + "/" + std::string(leaf) + ": not a number", 0});
      return;
    }
    if (unlimited && *v >= kUnlimitedFrom) {
      *unlimited = true;
      return;
    }
    into = *v;
  };
  if (g.version == 1) {
    number("memory.kmem.tcp.usage_in_bytes", g.tcp_usage, nullptr);
    number("memory.kmem.tcp.limit_in_bytes", g.tcp_limit, &g.tcp_limit_unlimited);
    number("memory.kmem.tcp.max_usage_in_bytes", g.tcp_max_usage, nullptr);
    number("memory.kmem.tcp.failcnt", g.tcp_failcnt, nullptr);
    return true;
  }
  auto current = read("memory.current");
  if (!current && current.error().err == ENOENT) return false;  // no memory controller here
  number("memory.current", g.current, nullptr);
  number("memory.max", g.max, &g.max_unlimited);
  number("memory.high", g.high, &g.high_unlimited);
  if (auto stat = read("memory.stat")) {
    auto kv = parse_cgroup_keyed(*stat);
    if (auto it = kv.find("sock"); it != kv.end())
      g.sock = it->second;
    else
      note(Error{dir + "/memory.stat: no \"sock\" line", 0});
  } else {
    note(stat.error());
  }
  if (auto ev = read("memory.events"))
    g.events = parse_cgroup_keyed(*ev);
  else
    note(ev.error());
  return true;
}

}  // namespace

std::map<std::string, int64_t> parse_cgroup_keyed(std::string_view text) {
  std::map<std::string, int64_t> out;
  for (std::string_view line : split(text, '\n')) {
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    if (auto v = parse_i64(line.substr(sp + 1))) out[std::string(line.substr(0, sp))] = *v;
  }
  return out;
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo) {
  std::vector<CgroupMount> out;
  for (std::string_view line : split(mountinfo, '\n')) {
    auto dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    std::vector<std::string_view> head = split(line.substr(0, dash), ' ');
    std::vector<std::string_view> tail = split(line.substr(dash + 3), ' ');
    if (head.size() < 5 || tail.size() < 3) continue;
    CgroupMount m;
    if (tail[0] == "cgroup2") {
      m.version = 2;
    } else if (tail[0] == "cgroup") {
      std::vector<std::string_view> opts = split(tail[2], ',');
      if (std::find(opts.begin(), opts.end(), "memory") == opts.end()) continue;
      m.version = 1;
    } else {
      continue;
    }
    m.root = unescape(head[3]);
    m.mount_point = unescape(head[4]);
    out.push_back(std::move(m));
  }
  return out;
}

ProcCgroups parse_proc_cgroups(std::string_view text) {
  ProcCgroups out;
  for (std::string_view line : split(text, '\n')) {
    auto a = line.find(':');
    if (a == std::string_view::npos) continue;
    auto b = line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    std::string_view id = line.substr(0, a);
    std::string_view controllers = line.substr(a + 1, b - a - 1);
    std::string path(line.substr(b + 1));
    if (path.empty()) continue;
    if (id == "0" && controllers.empty()) {
      out.v2 = std::move(path);
      continue;
    }
    std::vector<std::string_view> names = split(controllers, ',');
    if (std::find(names.begin(), names.end(), "memory") != names.end())
      out.v1_memory = std::move(path);
  }
  return out;
}

std::optional<std::string> cgroup_dir(const CgroupMount& m, std::string_view path) {
  std::string_view rest = path;
  if (m.root != "/") {
    if (!path.starts_with(m.root)) return std::nullopt;
    rest = path.substr(m.root.size());
    if (!rest.empty() && rest.front() != '/') return std::nullopt;
  }
  std::string dir = m.mount_point;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (rest == "/") rest = {};
  if (dir == "/" && !rest.empty()) dir.clear();
  dir += rest;
  return dir;
}

std::string fs_root_of(const ProcFs& proc) {
  const std::string& root = proc.root();
  auto slash = root.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return root.substr(0, slash);
}

const std::vector<std::string_view>& cgroup_memory_files(int version) {
  static const std::vector<std::string_view> kV1 = {
      "memory.kmem.tcp.usage_in_bytes", "memory.kmem.tcp.limit_in_bytes",
      "memory.kmem.tcp.max_usage_in_bytes", "memory.kmem.tcp.failcnt"};
  static const std::vector<std::string_view> kV2 = {"memory.current", "memory.max", "memory.high",
                                                    "memory.stat", "memory.events"};
  return version == 1 ? kV1 : kV2;
}

namespace {

struct Plan {
  std::map<Key, std::vector<int32_t>> groups;  // every level, pids below it
  std::map<Key, std::string> dirs;             // absolute directory as the reader sees it
  uint32_t unreadable = 0;                     // /proc/PID/cgroup that could not be read
  std::string first_error;
  bool have_mounts = false;
};

// The ancestors of `path` (itself first) down to the mount's root, the hierarchy's root "/"
// excepted.
std::vector<std::string> levels(const CgroupMount& m, const std::string& path) {
  std::vector<std::string> out;
  std::string p = path;
  while (!p.empty() && p != "/") {
    if (m.root != "/" && p.size() < m.root.size()) break;
    if (!cgroup_dir(m, p)) break;
    out.push_back(p);
    auto slash = p.rfind('/');
    if (slash == std::string::npos) break;
    p.resize(slash);
  }
  return out;
}

const CgroupMount* mount_for(const std::vector<CgroupMount>& mounts, int version,
                             const std::string& path) {
  const CgroupMount* best = nullptr;
  for (const CgroupMount& m : mounts) {
    if (m.version != version || !cgroup_dir(m, path)) continue;
    if (!best || m.root.size() > best->root.size()) best = &m;
  }
  return best;
}

Result<Plan> plan_groups(const ProcFs& proc, const std::vector<int32_t>& pids) {
  auto mountinfo = proc.read(proc_paths::kSelfMountinfo);
  if (!mountinfo) return std::unexpected(mountinfo.error());
  const std::vector<CgroupMount> mounts = parse_cgroup_mounts(*mountinfo);
  Plan plan;
  plan.have_mounts = !mounts.empty();
  if (mounts.empty()) return plan;
  const std::string fs_root = fs_root_of(proc);
  for (int32_t pid : pids) {
    auto text = proc.read(std::to_string(pid) + "/cgroup");
    if (!text) {
      if (text.error().err == ENOENT || text.error().err == ESRCH) continue;  // exited
      ++plan.unreadable;
      if (plan.first_error.empty()) plan.first_error = text.error().message;
      continue;
    }
    ProcCgroups pc = parse_proc_cgroups(*text);
    const CgroupMount* m = nullptr;
    int version = 0;
    std::string path;
    if (pc.v1_memory && (m = mount_for(mounts, 1, *pc.v1_memory))) {
      version = 1;
      path = *pc.v1_memory;
    } else if (pc.v2 && (m = mount_for(mounts, 2, *pc.v2))) {
      version = 2;
      path = *pc.v2;
    } else {
      continue;
    }
    for (const std::string& level : levels(*m, path)) {
      Key k{version, level};
      plan.groups[k].push_back(pid);
      if (!plan.dirs.contains(k)) {
        std::string dir = *cgroup_dir(*m, level);
        plan.dirs[k] = fs_root == "/" ? dir : fs_root + dir;
      }
    }
  }
  return plan;
}

}  // namespace

std::vector<std::string> memory_cgroup_dirs(const ProcFs& proc, const std::vector<int32_t>& pids) {
  std::vector<std::string> out;
  auto plan = plan_groups(proc, pids);
  if (!plan) return out;
  const std::string fs_root = fs_root_of(proc);
  for (const auto& [key, dir] : plan->dirs) {
    if (out.size() >= kMaxCgroups) break;
    out.push_back(fs_root == "/" ? dir : dir.substr(fs_root.size()));
  }
  return out;
}

CgroupMemory read_cgroup_memory(const ProcFs& proc,
                                const std::vector<std::pair<int32_t, uint64_t>>& owners,
                                std::vector<std::string>& missing) {
  CgroupMemory out;
  std::vector<int32_t> pids;
  std::map<int32_t, uint64_t> sockets;
  for (const auto& [pid, n] : owners) {
    pids.push_back(pid);
    sockets[pid] += n;
  }
  auto plan = plan_groups(proc, pids);
  if (!plan) {
    // A recording made before cgroups were recorded has no self/mountinfo: unknown without a
    // word, as the recorded machine did not fail to read it.
    if (plan.error().err != ENOENT)
      missing.push_back("cgroup socket memory: " + plan.error().message);
    return out;
  }
  out.read = true;
  if (!plan->have_mounts && !pids.empty()) {
    missing.push_back(
        "cgroup socket memory: no cgroup v1 memory or cgroup2 hierarchy is mounted in this mount "
        "namespace (ip netns exec mounts a fresh /sys without them; check --netns NAME keeps "
        "them)");
    return out;
  }
  uint32_t failed = 0;
  std::string first_failure;
  for (auto& [key, members] : plan->groups) {
    if (out.groups.size() >= kMaxCgroups) {
      ++out.not_read;
      continue;
    }
    CgroupSockMemory g;
    g.version = key.version;
    g.path = key.path;
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    g.pid_count = uint32_t(members.size());
    for (int32_t pid : members) g.sockets += sockets[pid];
    const std::string& dir = plan->dirs.at(key);
    g.dir = fs_root_of(proc) == "/" ? dir : dir.substr(fs_root_of(proc).size());
    g.pids.assign(members.begin(),
                  members.begin() + std::ptrdiff_t(std::min(members.size(), kCgroupSamplePids)));
    if (!read_group(plan->dirs.at(key), g)) continue;
    if (!g.error.empty()) {
      ++failed;
      if (first_failure.empty()) first_failure = g.path + ": " + g.error;
    }
    out.groups.push_back(std::move(g));
  }
  if (failed > 0)
    missing.push_back("socket memory of " + std::to_string(failed) + " memory cgroup" +
                      (failed == 1 ? "" : "s") + " unknown in part (" + first_failure + ")");
  if (plan->unreadable > 0)
    missing.push_back("memory cgroup of " + std::to_string(plan->unreadable) + " process" +
                      (plan->unreadable == 1 ? "" : "es") + " unknown (" + plan->first_error + ")");
  if (out.not_read > 0)
    missing.push_back("socket memory of " + std::to_string(out.not_read) +
                      " memory cgroups not read (at most " + std::to_string(kMaxCgroups) + ")");
  return out;
}

}  // namespace cd
