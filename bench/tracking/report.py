"""Markdown table of the tracking benchmark, both sides and the ratio."""
import json
import sys

rows = {r["side"]: r for r in (json.loads(line) for line in open(sys.argv[1]) if line.strip())}
m, r = rows["mlflow"], rows["retrain"]


def line(label, key_path, unit, better="higher"):
    def get(d):
        for k in key_path:
            d = d.get(k, {}) if isinstance(d, dict) else {}
        return d if isinstance(d, (int, float)) else None

    a, b = get(m), get(r)
    if a is None or b is None:
        return
    denominator = a if better == "higher" else b
    ratio = f"{(b / a if better == 'higher' else a / b):,.1f}x" if denominator else "n/a"
    print(f"| {label} | {a:,.1f} {unit} | {b:,.1f} {unit} | {ratio} |")


print("| measurement | mlflow server 3.17.2 | retrain server | retrain advantage |")
print("|---|---|---|---|")
line("log-metric, 8 clients: throughput", ["log_metric", "requests_per_s"], "req/s")
line("log-metric: p50 latency", ["log_metric", "p50_ms"], "ms", "lower")
line("log-metric: p99 latency", ["log_metric", "p99_ms"], "ms", "lower")
line("log-batch of 100 metrics, 8 clients", ["log_batch_100", "metrics_per_s"], "metrics/s")
line("log-batch: p99 latency", ["log_batch_100", "p99_ms"], "ms", "lower")
line("populate runs (create + log-batch), 8 clients", ["populate_runs_per_s"], "runs/s")
line(f"runs/search, filter + order, {m['search_runs']['runs']:,} runs: p50", ["search_runs", "p50_ms"], "ms", "lower")
line("runs/search: p99", ["search_runs", "p99_ms"], "ms", "lower")
line("start until /health answers", ["start_s"], "s", "lower")
line("memory idle (RSS)", ["idle_rss_mib"], "MiB", "lower")
line("memory after the load (RSS)", ["loaded_rss_mib"], "MiB", "lower")
errors = m["log_metric"]["errors"] + r["log_metric"]["errors"] + m["log_batch_100"]["errors"] + r["log_batch_100"]["errors"]
print(f"\nFailed requests during the write scenarios: {errors}.")
if "search_runs_at_scale" in r:
    s = r["search_runs_at_scale"]
    print(f"\nretrain at {s['runs']:,} runs in one experiment: runs/search p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms "
          f"({s['results']} results per page).")

# Signing in: retrain server without and with --auth, the load signed with
# HTTP Basic on every request; the better of two rounds of each.
auth_rounds = {side: [v for k, v in rows.items() if k.startswith(f"retrain-{side}-")] for side in ("open", "auth")}
if all(auth_rounds.values()):
    def best(side, path, better="higher"):
        values = []
        for row in auth_rounds[side]:
            d = row
            for k in path:
                d = d[k]
            values.append(d)
        return max(values) if better == "higher" else min(values)

    print("\n| with sign-in | retrain server | retrain server --auth (Basic on every request) | cost |")
    print("|---|---|---|---|")
    for label, path, unit, better in [
        ("log-metric, 8 clients: throughput", ["log_metric", "requests_per_s"], "req/s", "higher"),
        ("log-metric: p50 latency", ["log_metric", "p50_ms"], "ms", "lower"),
        ("log-metric: p99 latency", ["log_metric", "p99_ms"], "ms", "lower"),
        ("log-batch of 100 metrics, 8 clients", ["log_batch_100", "metrics_per_s"], "metrics/s", "higher"),
        ("populate runs (create + log-batch)", ["populate_runs_per_s"], "runs/s", "higher"),
    ]:
        a, b = best("open", path, better), best("auth", path, better)
        cost = (1 - b / a) if better == "higher" else (b / a - 1)
        print(f"| {label} | {a:,.2f} {unit} | {b:,.2f} {unit} | {cost * 100:+.1f}% |")
    rounds = ", ".join(
        f"{r['log_metric']['requests_per_s']:,.0f}" for side in ("open", "auth") for r in auth_rounds[side]
    )
    print(f"\nlog-metric req/s of each round (open, open, auth, auth): {rounds}.")
