// Network namespace plumbing for the lab: unshare, name, loopback, sysctls, teardown, clean.
#include "lab/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstring>

#include "util/dir.h"
#include "util/file.h"
#include "util/thread.h"
#include "util/time.h"

namespace cd {

namespace {

// As iproute2's netns_add(): make /run/netns a shared mount point, so that a name mounted here
// propagates to (and is unmounted from) other mount namespaces too.
Result<void> prepare_run_dir() {
  if (::mkdir(kNetnsRunDir, 0755) != 0 && errno != EEXIST) {
    return fail_errno(std::string("mkdir ") + kNetnsRunDir);
  }
  bool made_mount = false;
  while (::mount("", kNetnsRunDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    // EINVAL: not a mount point yet; turn it into one by bind-mounting it onto itself.
    if (errno != EINVAL || made_mount) {
      return fail_errno(std::string("mount --make-shared ") + kNetnsRunDir);
    }
    if (::mount(kNetnsRunDir, kNetnsRunDir, "none", MS_BIND | MS_REC, nullptr) != 0) {
      return fail_errno(std::string("mount --bind ") + kNetnsRunDir);
    }
    made_mount = true;
  }
  return {};
}

// SIOCSIFFLAGS on "lo": a new namespace has loopback, but down.
Result<void> loopback_up() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return fail_errno("socket for SIOCSIFFLAGS");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return fail_errno("SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return fail_errno("SIOCSIFFLAGS lo up");
  return {};
}

bool valid_segment(std::string_view s) {
  if (s.empty() || s == "." || s == "..") return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// A process that is gone or a zombie no longer holds the namespace.
bool process_gone(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!text) return true;
  auto close_paren = text->rfind(')');
  return close_paren == std::string::npos || close_paren + 2 >= text->size() ||
         (*text)[close_paren + 2] == 'Z' || (*text)[close_paren + 2] == 'X';
}

}  // namespace

Result<std::string> net_sysctl_path(std::string_view key) {
  std::string rel;
  std::size_t start = 0;
  int index = 0;
  while (start <= key.size()) {
    std::size_t end = key.find_first_of("./", start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view seg = key.substr(start, end - start);
    if (!valid_segment(seg)) {
      return fail("sysctl '" + std::string(key) + "': malformed key");
    }
    if (index == 0 && seg != "net") {
      return fail("sysctl '" + std::string(key) +
                  "': the lab only sets net.* keys of its own namespace, never host settings");
    }
    rel += "/";
    rel += seg;
    ++index;
    start = end + 1;
  }
  if (index < 2) return fail("sysctl '" + std::string(key) + "': malformed key");
  return "/proc/sys" + rel;
}

Result<std::pair<std::string, std::string>> parse_sysctl_assignment(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {  // an empty value is fine (reserved ports)
    return fail("--set '" + std::string(text) + "': expected KEY=VALUE");
  }
  std::string key(text.substr(0, eq));
  while (!key.empty() && key.back() == ' ') key.pop_back();
  std::string value(text.substr(eq + 1));
  auto path = net_sysctl_path(key);
  if (!path) return std::unexpected(path.error());
  return std::pair{key, value};
}

Result<LabNetns> LabNetns::create(const std::string& name) {
  if (name.size() > 64 || name.rfind(kLabNetnsPrefix, 0) != 0 ||
      name.find('/') != std::string::npos) {
    return fail("lab namespace name '" + name + "' is not cdlab-<something>");
  }
  // unshare() moves the calling thread only, and the lab's children must follow: the whole
  // process has to be one thread (util/thread.h).
  if (auto st = require_single_thread("lab"); !st) return std::unexpected(st.error());

  LabNetns ns;
  ns.name_ = name;

  if (auto r = prepare_run_dir(); !r) {
    Error e = r.error();
    if (e.err == EPERM || e.err == EACCES) e.message += " (the lab needs root: CAP_SYS_ADMIN)";
    return std::unexpected(e);
  }
  std::string path = ns.path();
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0));
  if (!file) {
    if (errno == EEXIST) return fail(path + " exists: a leftover? `conndoctor lab clean`");
    return fail_errno("create " + path);
  }
  ns.file_created_ = true;  // from here on the destructor undoes what was done

  auto inside = NetnsGuard::enter_new();
  if (!inside) return std::unexpected(inside.error());
  ns.id_ = inside->id();
  ns.inside_.emplace(std::move(*inside));

  if (::mount("/proc/self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
    return fail_errno("bind-mount /proc/self/ns/net on " + path);
  }
  ns.mounted_ = true;
  if (auto r = loopback_up(); !r) return std::unexpected(r.error());
  return ns;
}

LabNetns::LabNetns(LabNetns&& o) noexcept
    : name_(std::move(o.name_)),
      inside_(std::move(o.inside_)),
      id_(o.id_),
      file_created_(std::exchange(o.file_created_, false)),
      mounted_(std::exchange(o.mounted_, false)),
      keep_(o.keep_) {}

LabNetns::~LabNetns() {
  if (inside_) {
    kill_netns_processes(id_);
    // Back to where the process came from: the caller renders and exits there, and the lab
    // namespace loses its last process.
    inside_.reset();
  }
  if (keep_ && mounted_) return;
  std::string p = path();
  if (mounted_) ::umount2(p.c_str(), MNT_DETACH);
  if (file_created_) ::unlink(p.c_str());
}

Result<void> LabNetns::inside() const {
  auto now = netns_id_of("/proc/self/ns/net");
  if (!now) return std::unexpected(now.error());
  if (!inside_ || !(*now == id_)) {
    return fail("lab: not inside namespace " + name_ + "; refusing to touch sysctls");
  }
  return {};
}

Result<void> LabNetns::set_sysctl(std::string_view key, std::string_view value) {
  auto path = net_sysctl_path(key);
  if (!path) return std::unexpected(path.error());
  if (auto in = inside(); !in) return std::unexpected(in.error());
  std::string k(key);
  UniqueFd fd(::open(path->c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) {
    // ensure_safe_net_sysctl() [net/sysctl_net.c] makes net.* entries backed by host-wide
    // data read-only in other namespaces, and host-only tables are not registered there.
    if (errno == ENOENT) {
      return fail(k +
                  ": no such sysctl inside a network namespace (host-wide keys are not "
                  "visible there; the lab never changes host settings)");
    }
    if (errno == EACCES || errno == EPERM) {
      return fail(k +
                  ": host-wide setting, read-only inside a network namespace; the lab "
                  "never changes host settings");
    }
    return fail_errno(k + ": open " + *path);
  }
  std::string text(value);
  text += "\n";
  ssize_t n = ::write(fd.get(), text.data(), text.size());
  if (n != ssize_t(text.size())) {
    return fail_errno(k + ": kernel rejected '" + std::string(value) + "'");
  }
  return {};
}

Result<std::string> LabNetns::get_sysctl(std::string_view key) const {
  auto path = net_sysctl_path(key);
  if (!path) return std::unexpected(path.error());
  auto text = read_file(*path);
  if (!text)
    return std::unexpected(
        Error{std::string(key) + ": open " + text.error().message, text.error().err});
  return std::string(trim_right(*text));
}

int kill_netns_processes(NetnsId ns) {
  pid_t self = ::getpid();
  std::vector<pid_t> killed;
  for (pid_t pid : numeric_entries("/proc")) {
    if (pid == self) continue;
    auto id = netns_id_of("/proc/" + std::to_string(pid) + "/ns/net");
    if (!id || !(*id == ns)) continue;
    if (::kill(pid, SIGKILL) == 0) killed.push_back(pid);
  }
  // SIGKILL is not instant: wait (bounded) until each one is reaped or at least a zombie, so
  // that the namespace really loses its processes before the caller unmounts it.
  double deadline = mono_now_s() + 3.0;
  for (pid_t pid : killed) {
    while (mono_now_s() < deadline) {
      int status = 0;
      pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) break;                                       // our child, reaped
      if (r < 0 && errno == ECHILD && process_gone(pid)) break;  // someone else's, gone
      sleep_for_s(0.01);
    }
  }
  return int(killed.size());
}

Result<std::vector<std::string>> remove_leftover_lab_netns(std::string_view prefix) {
  std::vector<std::string> lines;
  std::vector<std::string> failures;
  auto d = open_dir(kNetnsRunDir);
  if (!d) {
    if (d.error().err == ENOENT) return lines;
    return fail_errno(std::string("opendir ") + kNetnsRunDir, d.error().err);
  }
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d->get())) {
    std::string n = e->d_name;
    if (n.rfind(kLabNetnsPrefix, 0) == 0 && n.rfind(prefix, 0) == 0) names.push_back(n);
  }

  for (const std::string& name : names) {
    std::string path = std::string(kNetnsRunDir) + "/" + name;
    auto id = netns_id_of(path);
    // The owning lab process is named in the name (cdlab-<pid>-<scenario>). While it is alive
    // and still inside the namespace, the run is in progress: not a leftover.
    pid_t owner = std::atoi(name.c_str() + kLabNetnsPrefix.size());
    if (id && owner > 0 && owner != ::getpid()) {
      auto owner_ns = netns_id_of("/proc/" + std::to_string(owner) + "/ns/net");
      if (owner_ns && *owner_ns == *id) {
        lines.push_back(name + ": in use by running lab pid " + std::to_string(owner) +
                        ", left alone");
        continue;
      }
    }
    int killed = id ? kill_netns_processes(*id) : 0;
    // EINVAL: not a mount point (a run killed between creating the name and mounting it).
    if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      failures.push_back(name + ": umount: " + std::strerror(errno));
      continue;
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      failures.push_back(name + ": unlink: " + std::strerror(errno));
      continue;
    }
    lines.push_back("removed " + name + " (killed " + std::to_string(killed) + " process" +
                    (killed == 1 ? "" : "es") + ")");
  }
  if (!failures.empty()) {
    std::string msg = "lab clean: could not remove";
    for (const auto& f : failures) msg += "; " + f;
    return fail(msg);
  }
  return lines;
}

}  // namespace cd
