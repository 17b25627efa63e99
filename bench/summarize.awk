# Turns bench/run.sh's samples (TSV: pair kind rep wall_s cpu_s rss_kib exit) into the markdown
# table of docs/benchmarks.md. Medians per pair; every ratio against the floor uses the floor
# runs of the same pair (they alternate with the command's runs, so they share the load).
# Variables: names (pair names joined by "\t"), limit (the per-run time limit in seconds).
# Plain POSIX awk (Debian's default is mawk: no asort).

function median(list, n,    a, i, j, k, t) {
  n = split(list, a, " ")
  if (n == 0) return -1
  for (i = 2; i <= n; i++) {
    t = a[i] + 0
    for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
    a[j + 1] = t
  }
  k = int((n + 1) / 2)
  return n % 2 ? a[k] + 0 : (a[k] + a[k + 1]) / 2
}
function ratio(a, b) { return (a >= 0.01 && b >= 0.01) ? sprintf("%.2f", a / b) : "n/a" }
function speed(ref, x) { return (ref >= 0.01 && x >= 0.01) ? sprintf("%.1f", ref / x) : "n/a" }

BEGIN { FS = "\t"; npairs = split(names, name, "\t") }
{
  p = $1 + 1
  if ($2 == "floor") {
    fw[p] = fw[p] " " $4; fc[p] = fc[p] " " $5; allfw = allfw " " $4; allfc = allfc " " $5
    nfloor++
    if ($6 > floorrss) floorrss = $6
  } else {
    cw[p] = cw[p] " " $4; cc[p] = cc[p] " " $5; runs[p]++
    if ($6 > rss[p]) rss[p] = $6
    if ($7 == 124 || $7 == 137) stopped[p] = 1
  }
}
END {
  for (p = 1; p <= npairs; p++) {
    mw[p] = median(cw[p]); mc[p] = median(cc[p]); mfw[p] = median(fw[p]); mfc[p] = median(fc[p])
    # A run stopped by the time limit: its wall and CPU times are lower bounds (shown with ">").
  }
  # Pair order is fixed by run.sh: 5 = ss -tanp, 6 = lsof.
  ssw = mw[5]; ssc = mc[5]; lsw = mw[6]; lsc = mc[6]
  print "| command | runs | wall (s) | CPU (s) | × floor, wall | × floor, CPU | ss -tanp ÷ this (wall / CPU) | lsof ÷ this (wall / CPU) | peak RSS (MiB) |"
  print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  fwall = median(allfw); fcpu = median(allfc)
  printf "| raw sock_diag dump (floor) | %d | %.3f | %.3f | 1.00 | 1.00 | %s / %s | %s / %s | %.1f |\n", \
    nfloor, fwall, fcpu, speed(ssw, fwall), speed(ssc, fcpu), speed(lsw, fwall), speed(lsc, fcpu), \
    floorrss / 1024
  for (p = 1; p <= npairs; p++) {
    r = (name[p] ~ /\\\|/ || stopped[p]) ? "—" : sprintf("%.1f", rss[p] / 1024)
    gt = stopped[p] ? "> " : ""
    printf "| `%s`%s | %d | %s%.3f | %s | %s | %s | %s / %s | %s / %s | %s |\n", name[p], \
      stopped[p] ? " (stopped at " limit " s)" : "", runs[p], gt, mw[p], \
      mc[p] < 0.01 ? "n/a" : gt sprintf("%.3f", mc[p]), ratio(mw[p], mfw[p]), \
      ratio(mc[p], mfc[p]), speed(ssw, mw[p]), speed(ssc, mc[p]), speed(lsw, mw[p]), \
      speed(lsc, mc[p]), r
  }
  print ""
  print "Targets (issue 4), wall / CPU:"
  print ""
  a = ratio(mw[1], mfw[1]); b = ratio(mc[1], mfc[1])
  printf "- check without attribution ≤ 1.25× the floor: %s× / %s× — %s\n", a, b, verdict(a != "n/a" && a + 0 <= 1.25, b != "n/a" && b + 0 <= 1.25, b != "n/a")
  printf "- check peak RSS < 64 MiB: %.1f MiB without attribution, %.1f MiB with — %s\n", \
    rss[1] / 1024, rss[2] / 1024, (rss[1] < 65536 && rss[2] < 65536) ? "holds" : \
    (rss[1] < 65536 ? "holds without attribution only" : "does NOT hold")
  a = speed(ssw, mw[2]); b = speed(ssc, mc[2])
  printf "- check with attribution ≥ 15× faster than ss -tanp: %s× / %s× — %s%s\n", a, b, \
    verdict(a != "n/a" && a + 0 >= 15, b != "n/a" && b + 0 >= 15, b != "n/a"), stopped[5] ? " (ss -tanp was stopped: a lower bound)" : ""
  a = speed(lsw, mw[2]); b = speed(lsc, mc[2])
  printf "- check with attribution ≥ 5× faster than lsof -nP -iTCP: %s× / %s× — %s%s\n", a, b, \
    verdict(a != "n/a" && a + 0 >= 5, b != "n/a" && b + 0 >= 5, b != "n/a"), stopped[6] ? " (lsof was stopped: a lower bound)" : ""
  if (npairs >= 7) {
    printf "\nWithout BPF (--fd-scan procfs, as an unprivileged or BPF-less host runs): %s× / %s× faster than ss -tanp, %s× / %s× faster than lsof\n", \
      speed(ssw, mw[7]), speed(ssc, mc[7]), speed(lsw, mw[7]), speed(lsc, mc[7])
  }
  print ""
  print "Targets (issue 17), wall / CPU:"
  print ""
  a = ratio(mw[2], mfw[2]); b = ratio(mc[2], mfc[2])
  printf "- check with attribution ≤ 1.2× the floor (wall; CPU stated beside): %s× wall, %s× CPU — %s\n", \
    a, b, (a != "n/a" && a + 0 <= 1.2) ? "holds" : "does NOT hold"
  printf "- check with attribution peak RSS ≤ 32 MiB: %.1f MiB (without attribution %.1f MiB) — %s\n", \
    rss[2] / 1024, rss[1] / 1024, (rss[2] > 0 && rss[2] <= 32768) ? "holds" : "does NOT hold"
  if (npairs >= 7)
    printf "- --fd-scan procfs: %s× the floor wall, %s× CPU\n", ratio(mw[7], mfw[7]), ratio(mc[7], mfc[7])
  if (npairs >= 8) {
    printf "- serve: one /metrics scrape ≤ one check with attribution: %.3f s vs %.3f s wall, %.3f s vs %.3f s CPU — %s; exporter peak RSS %.1f MiB\n", \
      mw[8], mw[2], mc[8], mc[2], verdict(mw[8] <= mw[2], mc[8] <= mc[2], mc[8] >= 0.01), rss[8] / 1024
  }
}
function verdict(w, c, cpu_known) {
  if (!cpu_known) return w ? "holds on wall time (CPU time unknown)" : "does NOT hold on wall time"
  if (w && c) return "holds"
  if (c) return "holds on CPU time, not on wall time"
  if (w) return "holds on wall time, not on CPU time"
  return "does NOT hold"
}
