"""Turns bench/serving results into Markdown: both sides, ratios, goals."""

import json
import sys

rows = {r["system"]: r for r in map(json.loads, open(sys.argv[1]))}
ours, theirs = rows["retrain"], rows["mlflow"]


def load(r, c):
    return next(w for w in r["wrk"] if w["connections"] == c)


print("| measurement | retrain serve | mlflow models serve | ratio |")
print("| --- | --- | --- | --- |")
for c in (1, 8, 32):
    a, b = load(ours, c), load(theirs, c)
    print(f"| 1 row, concurrency {c}: throughput | {a['requests_per_s']:,.0f} req/s | {b['requests_per_s']:,.0f} req/s "
          f"| {a['requests_per_s'] / b['requests_per_s']:,.0f}x |")
    print(f"| 1 row, concurrency {c}: p50 / p99 | {a['p50_s'] * 1000:.2f} / {a['p99_s'] * 1000:.2f} ms "
          f"| {b['p50_s'] * 1000:.1f} / {b['p99_s'] * 1000:.1f} ms | {b['p99_s'] / a['p99_s']:,.0f}x (p99) |")
print(f"| 1,000-row request, p50 | {ours['rows_1000_p50_s'] * 1000:.2f} ms | {theirs['rows_1000_p50_s'] * 1000:.1f} ms "
      f"| {theirs['rows_1000_p50_s'] / ours['rows_1000_p50_s']:,.1f}x |")
print(f"| cold start to first answer | {ours['cold_start_s'] * 1000:.0f} ms | {theirs['cold_start_s']:.1f} s "
      f"| {theirs['cold_start_s'] / ours['cold_start_s']:,.0f}x |")
print(f"| memory after load (RSS, all processes) | {ours['loaded_rss_mib']:.0f} MiB | {theirs['loaded_rss_mib']:.0f} MiB "
      f"| {theirs['loaded_rss_mib'] / ours['loaded_rss_mib']:,.0f}x |")
print()
failed = sum(w["non_2xx"] for r in (ours, theirs) for w in r["wrk"])
print(f"Non-2xx responses under load: {failed}.")
print()
c32 = load(ours, 32)
print("| goal | measured | met |")
print("| --- | --- | --- |")
speedup = c32["requests_per_s"] / load(theirs, 32)["requests_per_s"]
for name, value, ok in [
    ("≥ 100× MLflow's throughput at concurrency 32", f"{speedup:,.0f}x", speedup >= 100),
    ("p99 ≤ 5 ms (concurrency 32)", f"{c32['p99_s'] * 1000:.2f} ms", c32["p99_s"] <= 0.005),
    ("cold start to first answer ≤ 200 ms", f"{ours['cold_start_s'] * 1000:.0f} ms", ours["cold_start_s"] <= 0.2),
]:
    print(f"| {name} | {value} | {'yes' if ok else 'no'} |")
