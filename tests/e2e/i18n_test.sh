#!/usr/bin/env bash
# Chinese output (--lang zh, po/zh_CN.po) on a real diagnosis: the lab drains a port pool and the
# report says so in Chinese (临时端口, 连接复用, 端口耗尽's words), the locale variables choose the
# language when --lang is absent (this machine need not have a zh_CN locale), JSON stays
# machine English under LANG=zh_CN.UTF-8, `top --once` labels its screen in Chinese, and an
# unknown --lang is one line of bad usage.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
fail() { echo "FAIL: $*"; exit 1; }
has() { grep -qF -- "$2" "$1" || fail "$3 (no '$2' in $(basename "$1")): $(head -c 600 "$1")"; }
lacks() { ! grep -qF -- "$2" "$1" || fail "$3 ('$2' in $(basename "$1"))"; }
cjk() { python3 -c 'import sys; t=open(sys.argv[1],encoding="utf-8").read(); sys.exit(0 if any("\u4e00"<=c<="\u9fff" for c in t) else 1)' "$1"; }
unset LANGUAGE LC_ALL LC_MESSAGES

# 1. The lab's port exhaustion, reported in Chinese.
out=$LAB_TMP/lab_zh.txt
LANG=C "$CONNDOCTOR" lab run port-exhaustion --lang zh --color never >"$out" 2>"$LAB_TMP/lab_zh.err"
rc=$?
((rc == 2)) || fail "lab run port-exhaustion --lang zh exited $rc (critical is 2): $(head -c 500 "$LAB_TMP/lab_zh.err")"
# The lab's own lines come first, then the report with its verdict line.
grep -q '^严重: 到 127.0.0.1:8080 的临时端口' "$out" ||
  fail "no Chinese verdict naming the tuple: $(grep -m1 -E '^(critical|严重)' "$out")"
has "$out" "端口耗尽" "the exhaustion is not called 端口耗尽"
has "$out" "EADDRNOTAVAIL" "the generator's EADDRNOTAVAIL is not reported"
ns=$(sed -n 's/^实验场景 port-exhaustion,命名空间 \([^(]*\)(已删除)$/\1/p' "$out")
[[ -n $ns ]] || fail "the lab's first line is not Chinese or does not say the namespace was removed: $(head -1 "$out")"
[[ -e /run/netns/$ns ]] && fail "namespace $ns left behind"
has "$out" "应用层" "the layer is not named in Chinese"
has "$out" "[严重]" "the finding's severity tag is not Chinese"
has "$out" "连接复用" "plan A (connection reuse) is not in Chinese"
has "$out" "短连接" "the field's word for short connections is missing"
has "$out" "TIME_WAIT" "TIME_WAIT must stay as it is"
has "$out" "net.ipv4.ip_local_port_range" "sysctl names must stay as they are"
has "$out" "实验场景 port-exhaustion" "the lab's own text is not Chinese"
lacks "$out" "ephemeral ports to 127.0.0.1:8080" "the finding title stayed English"
lacks "$out" "Reuse connections in the client" "plan A stayed English"
# Plan A's runtime advice: the prose in Chinese, the code verbatim.
has "$out" "Go: 一个进程共享一个 http.Client; &http.Transport{MaxIdleConns: 1000" \
  "Go's pool advice is not Chinese prose around verbatim code"
lacks "$out" "one shared http.Client for the process" "Go's pool advice stayed English"

# 1b. A load generator's own observations (connect_fail_worker): Chinese around errno names
# and addresses that stay as they are.
rf=$LAB_TMP/lab_refused_zh.txt
LANG=C "$CONNDOCTOR" lab run connect-refused --lang zh --color never >"$rf" 2>"$LAB_TMP/lab_refused_zh.err"
rc=$?
((rc <= 2)) || fail "lab run connect-refused --lang zh exited $rc: $(head -c 500 "$LAB_TMP/lab_refused_zh.err")"
grep -q '^  观察到: 向 127.0.0.1:8080 发起 150 次阻塞 connect: 0 个连接成功, *150 次以 ECONNREFUSED 失败' "$rf" ||
  fail "the generator's observation is not Chinese: $(grep -m2 -E 'observed|观察到' "$rf")"
has "$rf" "那里没有进程监听,每个 SYN 都由 RST 应答" "the generator's reason is not Chinese"
lacks "$rf" "blocking connects to" "the generator's observation stayed English"

# 2. No --lang: LANG=zh_CN.UTF-8 chooses Chinese for text, JSON keeps English keys and text.
zh=$LAB_TMP/check_zh.txt
LANG=zh_CN.UTF-8 "$CONNDOCTOR" check --interval 0 --color never >"$zh" 2>/dev/null
(($? <= 2)) || fail "check under LANG=zh_CN.UTF-8 failed"
cjk "$zh" || fail "LANG=zh_CN.UTF-8 did not choose Chinese: $(head -3 "$zh")"
head -1 "$zh" | grep -qE '^(正常|提示|警告|严重|未知)' || fail "verdict not Chinese: $(head -1 "$zh")"
js=$LAB_TMP/check_zh.json
LANG=zh_CN.UTF-8 "$CONNDOCTOR" check --interval 0 --json >"$js" 2>/dev/null
(($? <= 2)) || fail "check --json under LANG=zh_CN.UTF-8 failed"
python3 - "$js" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
text = open(sys.argv[1], encoding="utf-8").read()
bad = [c for c in text if "\u2e80" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef"]
if bad:
    sys.exit("FAIL: JSON under LANG=zh_CN.UTF-8 holds Chinese: " + "".join(bad[:20]))
for key in ("schema", "status", "summary", "findings"):
    if key not in r:
        sys.exit("FAIL: JSON lost its key " + key)
if r["status"] not in ("ok", "warning", "critical", "unknown"):
    sys.exit("FAIL: status not a machine word: " + r["status"])
PY
# --lang en overrides the locale.
en=$LAB_TMP/check_en.txt
LANG=zh_CN.UTF-8 "$CONNDOCTOR" check --interval 0 --color never --lang en >"$en" 2>/dev/null
! cjk "$en" || fail "--lang en under LANG=zh_CN.UTF-8 still printed Chinese: $(head -2 "$en")"

# 3. top's screen labels.
top=$LAB_TMP/top_zh.txt
LANG=C "$CONNDOCTOR" top --once --every 0.5 --lang zh >"$top" 2>"$LAB_TMP/top.err"
(($? <= 2)) || fail "top --once --lang zh failed: $(head -c 300 "$LAB_TMP/top.err")"
has "$top" "更新于" "top's title line is not Chinese"
has "$top" "s 排序 ? 帮助 q 退出" "top's key line is not Chinese"
has "$top" "主视图" "top's view names are not Chinese"

# 4. An unknown language is bad usage, said in one line.
LANG=C "$CONNDOCTOR" check --lang fr >"$LAB_TMP/fr.out" 2>"$LAB_TMP/fr.err"
rc=$?
((rc == 3)) || fail "--lang fr exited $rc, not 3"
[[ -s $LAB_TMP/fr.out ]] && fail "--lang fr printed a report"
(($(wc -l <"$LAB_TMP/fr.err") == 1)) || fail "--lang fr: not one line: $(cat "$LAB_TMP/fr.err")"
grep -q -- '--lang' "$LAB_TMP/fr.err" || fail "--lang fr: the error does not name --lang: $(cat "$LAB_TMP/fr.err")"

lab_assert_host_untouched
echo "i18n: lab, check, JSON, top and --lang errors as expected"
