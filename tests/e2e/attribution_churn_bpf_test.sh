#!/usr/bin/env bash
# The churn attribution scenario again, with check reading every process's fds through the
# BPF task_file iterator (--fd-scan bpf) instead of /proc/PID/fd: same verdict, same owner.
# Skipped (77) where the BPF fd scan cannot run: built without BPF, no CAP_BPF.
exec env FD_SCAN=bpf bash "$(dirname "${BASH_SOURCE[0]}")/attribution_churn_test.sh"
