// Container identity: /proc/PID/cgroup layouts of each runtime and cgroup driver, the OCI
// config.json annotations containerd and CRI-O write, and the resolver over a runtime root.
#include "collect/container_identity.h"

#include <gtest/gtest.h>

#include "diagnose/diagnose.h"
#include "fake_clock.h"
#include "render/report.h"
#include "snapshot/snapshot.h"
#include "temp_proc_tree.h"
#include "util/file.h"

namespace cd {
namespace {

const std::string kContainerd = "3f9a1c0e8b7d6f5e4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f";
const std::string kCrio = "7c1e4b9a2d3f5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c";
const std::string kDocker = "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d";
const std::string kPodman = "5b2a7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b";

std::string fixture(const std::string& name) {
  auto text = read_file(std::string(CONNDOCTOR_FIXTURES) + "/containers/" + name);
  EXPECT_TRUE(text) << name;
  return text.value_or("");
}

struct CgroupCase {
  const char* file;
  std::string runtime;
  std::string id;
  std::string pod_uid;
};

class CgroupLayouts : public ::testing::TestWithParam<CgroupCase> {};

TEST_P(CgroupLayouts, NameTheContainer) {
  const CgroupCase& c = GetParam();
  auto got = parse_cgroup_container(fixture(c.file));
  ASSERT_TRUE(got) << c.file;
  EXPECT_EQ(got->runtime, c.runtime);
  EXPECT_EQ(got->id, c.id);
  EXPECT_EQ(got->pod_uid, c.pod_uid);
}

INSTANTIATE_TEST_SUITE_P(
    Runtimes, CgroupLayouts,
    ::testing::Values(CgroupCase{"containerd_systemd_v2.cgroup", "containerd", kContainerd,
                                 "8c4e2a6b-1f3d-4e5a-9b7c-0d2e4f6a8b1c"},
                      CgroupCase{"containerd_cgroupfs_v1.cgroup", "", kContainerd,
                                 "8c4e2a6b-1f3d-4e5a-9b7c-0d2e4f6a8b1c"},
                      CgroupCase{"crio_systemd_v2.cgroup", "cri-o", kCrio,
                                 "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"},
                      CgroupCase{"crio_cgroupfs_v1.cgroup", "cri-o", kCrio,
                                 "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"},
                      CgroupCase{"docker_systemd_v1.cgroup", "docker", kDocker, ""},
                      CgroupCase{"docker_cgroupfs_v1.cgroup", "docker", kDocker, ""},
                      CgroupCase{"podman_v2.cgroup", "podman", kPodman, ""}));

TEST(CgroupLayouts, HostProcessesAndConmonAreNotContainers) {
  EXPECT_FALSE(parse_cgroup_container(fixture("host_v2.cgroup")));
  EXPECT_FALSE(parse_cgroup_container(fixture("host_hybrid.cgroup")));
  EXPECT_FALSE(parse_cgroup_container(fixture("crio_conmon_v2.cgroup")));
  EXPECT_FALSE(parse_cgroup_container(""));
  EXPECT_FALSE(parse_cgroup_container("garbage without colons\n"));
  // 63 or 65 digits, or capitals, are not ids.
  EXPECT_FALSE(parse_cgroup_container("0::/docker/" + kDocker.substr(1) + "\n"));
  EXPECT_FALSE(parse_cgroup_container("0::/docker/" + kDocker + "0\n"));
  EXPECT_FALSE(parse_cgroup_container(
      "0::/docker/9EC39B91F3D70E1BEFF50A308F77067065EA6BE0D91A3378375056CD4422CF3D\n"));
}

TEST(OciConfig, ContainerdContainer) {
  auto id = parse_oci_config(fixture("containerd_container_config.json"));
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_TRUE(id->state_read);
  EXPECT_FALSE(id->sandbox);
  EXPECT_EQ(id->pod, "checkout-7f9c");
  EXPECT_EQ(id->pod_namespace, "shop");
  EXPECT_EQ(id->container, "app");
  EXPECT_EQ(id->spec_nofile_soft, 1024u);
  EXPECT_EQ(id->spec_nofile_hard, 1024u);
}

TEST(OciConfig, ContainerdSandbox) {
  auto id = parse_oci_config(fixture("containerd_sandbox_config.json"));
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_TRUE(id->sandbox);
  EXPECT_EQ(id->pod, "checkout-7f9c");
  EXPECT_EQ(id->pod_namespace, "shop");
  EXPECT_FALSE(id->container);
  EXPECT_FALSE(id->spec_nofile_soft);
}

TEST(OciConfig, CrioContainerAndSandbox) {
  auto c = parse_oci_config(fixture("crio_container_config.json"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->sandbox);
  EXPECT_EQ(c->pod, "checkout-7f9c");
  EXPECT_EQ(c->pod_namespace, "shop");
  EXPECT_EQ(c->container, "app");
  EXPECT_FALSE(c->spec_nofile_soft);  // CRI-O writes no rlimits without default_ulimits
  auto s = parse_oci_config(fixture("crio_sandbox_config.json"));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->sandbox);
  EXPECT_EQ(s->container, "POD");
  EXPECT_EQ(s->pod, "checkout-7f9c");
}

TEST(OciConfig, DockerHasNoPod) {
  auto id = parse_oci_config(fixture("docker_config.json"));
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_FALSE(id->pod);
  EXPECT_FALSE(id->container);
  EXPECT_EQ(id->spec_nofile_soft, 1048576u);
}

TEST(OciConfig, BadInput) {
  EXPECT_FALSE(parse_oci_config(""));
  EXPECT_FALSE(parse_oci_config("[1,2]"));
  EXPECT_FALSE(parse_oci_config("{\"annotations\": {"));
  // Wrong types are ignored, not trusted.
  auto id = parse_oci_config(
      R"({"annotations": {"io.kubernetes.cri.container-type": "container",
          "io.kubernetes.cri.sandbox-name": 7}, "process": {"rlimits": [{"type":
          "RLIMIT_NOFILE", "soft": -1, "hard": "x"}]}})");
  ASSERT_TRUE(id);
  EXPECT_FALSE(id->pod);
  EXPECT_FALSE(id->spec_nofile_soft);
  EXPECT_FALSE(id->spec_nofile_hard);
  // A limit whose "type" is not a string is skipped, not an exception (found by writing
  // fuzz/container_identity_fuzz.cpp: json::value() throws on it).
  id = parse_oci_config(
      R"({"process": {"rlimits": [{"type": 5, "soft": 1}, {"type": "RLIMIT_NOFILE",
          "soft": 1024, "hard": 4096}]}})");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->spec_nofile_soft, 1024u);
  EXPECT_EQ(id->spec_nofile_hard, 4096u);
}

TEST(Labels, ForPeople) {
  ContainerIdentity c;
  c.container_id = kContainerd;
  c.runtime = "containerd";
  EXPECT_EQ(c.label(), "container 3f9a1c0e8b7d (containerd)");
  c.pod = "checkout-7f9c";
  c.pod_namespace = "shop";
  c.container = "app";
  EXPECT_EQ(c.label(), "shop/checkout-7f9c (container app)");
  c.sandbox = true;
  EXPECT_EQ(c.label(), "shop/checkout-7f9c (pod sandbox)");
}

// A proc tree whose processes are in containers, and a runtime root laid out as containerd's
// (<root>/<id>/config.json) and CRI-O's (<root>/<id>/userdata/config.json).
TEST(Resolver, ReadsEachRuntimesLayout) {
  test::TempProcTree proc;
  test::TempProcTree roots;  // any temporary directory
  proc.write("10/cgroup", fixture("containerd_systemd_v2.cgroup"));
  proc.write("11/cgroup", fixture("crio_systemd_v2.cgroup"));
  proc.write("12/cgroup", fixture("docker_cgroupfs_v1.cgroup"));
  proc.write("13/cgroup", fixture("host_v2.cgroup"));
  roots.write("containerd/" + kContainerd + "/config.json",
              fixture("containerd_container_config.json"));
  roots.write("crio/" + kCrio + "/userdata/config.json", fixture("crio_container_config.json"));
  ProcFs fs(proc.root());
  IdentityResolver r(fs, {roots.path("containerd"), roots.path("crio")});

  auto a = r.of_pid(10);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->label(), "shop/checkout-7f9c (container app)");
  EXPECT_EQ(a->state_path, roots.path("containerd/" + kContainerd + "/config.json"));
  auto b = r.of_pid(11);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->runtime, "cri-o");
  EXPECT_EQ(b->label(), "shop/checkout-7f9c (container app)");
  EXPECT_EQ(r.missing_summary(), "");

  // Docker's state is not under these roots: the id alone, and `missing` says why.
  auto d = r.of_pid(12);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->state_read);
  EXPECT_EQ(d->label(), "container 9ec39b91f3d7 (docker)");
  EXPECT_NE(r.missing_summary().find("of 1 process in containers unknown"), std::string::npos)
      << r.missing_summary();
  EXPECT_NE(r.missing_summary().find("container 9ec39b91f3d7: no config.json"), std::string::npos)
      << r.missing_summary();

  EXPECT_FALSE(r.of_pid(13));  // not in a container
  EXPECT_FALSE(r.of_pid(14));  // no such process
}

TEST(Resolver, BrokenStateIsNamed) {
  test::TempProcTree proc;
  test::TempProcTree roots;
  proc.write("10/cgroup", fixture("containerd_systemd_v2.cgroup"));
  roots.write(kContainerd + "/config.json", "{cut");
  ProcFs fs(proc.root());
  IdentityResolver r(fs, {roots.root()});
  auto a = r.of_pid(10);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->state_read);
  EXPECT_NE(r.missing_summary().find("not a JSON object"), std::string::npos)
      << r.missing_summary();
}

// The whole pipeline on the fixture /proc and a recorded dump, with fdhog (pid 4242, 1024 of
// 1024 fds) in a containerd container: its finding names the pod in the title, the evidence,
// the text and the JSON, says where its limit came from, and the plan raises the runtime's
// limit; api-server (pid 100, not in a container) keeps null identity and no pod line.
TEST(Pipeline, FindingsNameThePod) {
  test::TempProcTree proc("host_6_18");
  test::TempProcTree roots;
  proc.write("4242/cgroup", fixture("containerd_systemd_v2.cgroup"));
  proc.write("100/cgroup", fixture("host_v2.cgroup"));
  roots.write(kContainerd + "/config.json", fixture("containerd_container_config.json"));
  DiagnoseOptions opt;
  opt.proc_root = proc.root();
  opt.sock_diag_dump = std::string(CONNDOCTOR_FIXTURES) + "/dumps/ports_exhausted.nldump";
  opt.collect.interval_s = 0;
  opt.collect.runtime_roots = {roots.root()};
  FakeClock clock;
  auto d = diagnose(opt, clock);
  ASSERT_TRUE(d) << d.error().message;
  const Finding* fd = nullptr;
  for (const Finding& f : d->analysis.findings)
    if (f.id == "file_descriptors.process" && f.evidence["pid"] == 4242) fd = &f;
  ASSERT_NE(fd, nullptr);
  EXPECT_EQ(fd->title.substr(0, 58), "pid 4242 (fdhog) in shop/checkout-7f9c (container app): 1,");
  EXPECT_EQ(fd->evidence["pod"], "checkout-7f9c");
  EXPECT_EQ(fd->evidence["pod_namespace"], "shop");
  EXPECT_EQ(fd->evidence["container"], "app");
  EXPECT_EQ(fd->evidence["container_id"], kContainerd);
  const std::string src = fd->evidence["soft_limit_source"];
  EXPECT_EQ(src.rfind("the container's default: RLIMIT_NOFILE soft 1024, hard 1024 in the OCI "
                      "spec containerd wrote (" +
                          roots.path(kContainerd + "/config.json") + ")",
                      0),
            0u)
      << src;
  ASSERT_FALSE(fd->remediation.empty());
  bool runtime_step = false;
  for (const RemediationStep& s : fd->remediation)
    runtime_step |=
        s.action.find("a container's limit comes from its runtime") != std::string::npos;
  EXPECT_TRUE(runtime_step);

  const std::string text = report_text(d->snapshot, d->analysis, TextOptions{});
  EXPECT_NE(text.find("\n    pod: shop/checkout-7f9c (container app)\n"), std::string::npos)
      << text;
  auto json = report_json(d->snapshot, d->analysis);
  bool api_seen = false;
  for (const auto& p : json["resources"]["file_descriptors"]["processes"]) {
    if (p["pid"] == 100) {
      api_seen = true;
      EXPECT_TRUE(p["pod"].is_null() && p["container"].is_null() && p["container_id"].is_null());
    }
    if (p["pid"] == 4242) EXPECT_EQ(p["pod"], "checkout-7f9c");
  }
  EXPECT_TRUE(api_seen);
}

}  // namespace
}  // namespace cd
