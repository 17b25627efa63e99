// Kernel half of the BPF fd table (collect/bpf_fd_table.cpp): a task_file iterator that
// writes one 8-byte record per open file of every process — its tgid and, for a socket, the
// socket inode ("socket:[N]" in /proc/PID/fd). It replaces a readlink() per fd, whose d_path
// dominates attribution at a million sockets.
//
// No vmlinux.h: the few kernel types read here are declared below with
// preserve_access_index, so libbpf relocates every field against the running kernel's BTF.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#include <bpf/bpf_helpers.h>

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
struct seq_file;
struct bpf_iter_meta {
  struct seq_file* seq;
  __u64 session_id;
  __u64 seq_num;
};
struct task_struct {
  int tgid;
};
struct inode {
  unsigned short i_mode;
  unsigned long i_ino;
};
struct file {
  struct inode* f_inode;
};
struct bpf_iter__task_file {
  struct bpf_iter_meta* meta;
  struct task_struct* task;
  __u32 fd;
  struct file* file;
};
#pragma clang attribute pop

#define CD_S_IFMT 0170000
#define CD_S_IFSOCK 0140000

// Must match FdRecord in bpf_fd_table.cpp.
struct fd_record {
  __u32 tgid;
  __u32 socket_inode;  // 0: not a socket
};

// The reader's own tgid as the kernel sees it: user space compares it with getpid() to know
// that the tgids above are the pids it sees (same pid namespace).
__u32 reader_tgid = 0;

SEC("iter/task_file")
int task_files(struct bpf_iter__task_file* ctx) {
  struct task_struct* task = ctx->task;
  struct file* file = ctx->file;
  if (!task || !file) return 0;
  if (ctx->meta->seq_num == 0) reader_tgid = bpf_get_current_pid_tgid() >> 32;

  struct fd_record r = {.tgid = (__u32)task->tgid, .socket_inode = 0};
  struct inode* inode = file->f_inode;
  if (inode && (inode->i_mode & CD_S_IFMT) == CD_S_IFSOCK) r.socket_inode = (__u32)inode->i_ino;
  bpf_seq_write(ctx->meta->seq, &r, sizeof r);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
