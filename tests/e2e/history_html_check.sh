#!/usr/bin/env bash
# history_html_check.sh REPORT.html OUTDIR: loads an HTML incident report in Debian's headless
# Chromium and fails unless (1) the file names no external resource and carries its
# default-src 'none' policy, (2) Chromium logs no console message and no blocked load, (3) its
# network log holds no request other than the file itself, and (4) the screenshot is not blank
# (thousands of pixels away from the background, several colours: the charts are drawn).
# A helper of history_port_exhaustion_test.sh (not a test of its own).
set -uo pipefail
html=$1
out=$2
mkdir -p "$out"
fail() { echo "FAIL: html: $*"; exit 1; }

grep -q "Content-Security-Policy\" content=\"default-src 'none'" "$html" || fail "no default-src 'none' policy"
# What could load something: attributes that take a URL, CSS url()/@import, elements that embed.
# (A URL in the text, e.g. a plan's "session.mount('https://', ...)", loads nothing.)
refs='[[:space:]](src|href|action|srcset|poster|data)[[:space:]]*=|url\(|@import|<(script|link|iframe|object|embed|base)'
if grep -Eiq "$refs" "$html"; then
  fail "the report references something outside itself: $(grep -Eio ".{30}($refs).{30}" "$html" | head -3)"
fi

profile=$(mktemp -d)
# Chromium's own background traffic (updates, sign-in, spelling) is switched off where a flag
# exists, and every host name resolves to nothing, so that nothing leaves the machine; what the
# browser still tries is in the network log without a page initiator, and ignored below.
timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --no-first-run --user-data-dir="$profile" --disable-sync \
  --disable-extensions --disable-default-apps --no-pings --disable-domain-reliability \
  --disable-features=SpellCheck,Translate,OptimizationHints,MediaRouter,NetworkTimeServiceQuerying \
  --host-resolver-rules="MAP * ~NOTFOUND" --enable-logging=stderr \
  --v=0 --log-net-log="$out/netlog.json" --window-size=1000,2400 \
  --screenshot="$out/screenshot.png" "file://$(realpath "$html")" >"$out/chromium.out" 2>"$out/chromium.err"
rc=$?
rm -rf "$profile"
((rc == 0)) || fail "chromium exited $rc: $(tail -3 "$out/chromium.err")"
# Page messages come as CONSOLE(...) lines; a blocked load says "Refused to" or
# "Content Security Policy". D-Bus noise of a headless machine is not the page's.
if grep -Eq "CONSOLE|Refused to|Content Security Policy|Uncaught" "$out/chromium.err"; then
  fail "console: $(grep -E 'CONSOLE|Refused to|Content Security Policy|Uncaught' "$out/chromium.err" | head -3)"
fi

python3 - "$out/netlog.json" "$out/screenshot.png" "$(realpath "$html")" <<'PY' || exit 1
import json, struct, sys, zlib
netlog, png, page = sys.argv[1], sys.argv[2], sys.argv[3]
def fail(msg): print("FAIL: html:", msg); sys.exit(1)

# (3) no request started by the page: the browser's own jobs say initiator "not an origin",
# anything the page (a file:// origin, "null") or a frame of it asked for says otherwise.
log, _ = json.JSONDecoder().raw_decode(open(netlog).read())
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
page_requests, browser_requests = [], set()
for e in log.get("events", []):
    p = e.get("params", {})
    if names.get(e.get("type")) != "URL_REQUEST_START_JOB": continue
    if p.get("initiator", "not an origin") == "not an origin": browser_requests.add(p.get("url", "")[:60])
    else: page_requests.append((p.get("initiator"), p.get("url")))
if page_requests: fail("the page made network requests: %s" % page_requests[:5])

# (4) decode the PNG (8-bit RGB/RGBA, no interlace) and count what differs from the background.
data = open(png, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n": fail("the screenshot is not a PNG")
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR": ihdr = struct.unpack(">IIBBBBB", chunk)
    elif kind == b"IDAT": idat += chunk
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = ihdr
if depth != 8 or ctype not in (2, 6) or interlace: fail("unexpected PNG format %s" % (ihdr,))
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, away = set(), 0
bg = None
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    for x in range(0, stride, bpp * 2):  # every other pixel is enough
        px = bytes(line[x:x + 3])
        if bg is None: bg = px
        colours.add(px)
        if px != bg: away += 1
if away < 5000 or len(colours) < 8:
    fail("the screenshot looks blank: %d pixels off the background, %d colours" % (away, len(colours)))
print("html: no external reference, no console message, no page request (%d browser-internal, ignored);"
      " screenshot %dx%d, %d colours, %d pixels drawn" % (len(browser_requests), w, h, len(colours), away))
PY
