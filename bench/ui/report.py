"""The web UI benchmark's report from results.jsonl, as Markdown."""

import json
import sys

PAGE_BUDGET_BYTES = 200 * 1024


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    mlflow = next(r for r in rows if r.get("side") == "mlflow" and "searches" in r)
    measured = [r for r in rows if r.get("side") == "retrain" and "pages" in r]
    small, large = measured[0], measured[-1]
    print(f"| page | p50 at {small['runs']:,} runs | p99 | p50 at {large['runs']:,} runs | p99 | HTML + assets, gzipped |")
    print("|---|---|---|---|---|---|")
    for a, b in zip(small["pages"], large["pages"]):
        weight = (b["bytes"] + large["asset_bytes"]) / 1024
        flag = "" if b["status"] == 200 else f" (status {b['status']})"
        print(f"| `{b['path']}`{flag} | {a['p50_ms']:.1f} ms | {a['p99_ms']:.1f} ms | {b['p50_ms']:.1f} ms "
              f"| {b['p99_ms']:.1f} ms | {weight:.0f} KB{'' if weight * 1024 <= PAGE_BUDGET_BYTES else ' (over budget)'} |")
    table = [p for p in small["pages"] if p["path"].startswith("/experiments/") and "?order" in p["path"] and "filter" not in p["path"]]
    table_large = [p for p in large["pages"] if p["path"].startswith("/experiments/") and "?order" in p["path"] and "filter" not in p["path"]]
    print()
    print(f"| runs table sorted by a metric | mlflow server 3.17.2, `runs/search` its UI calls | retrain, the whole page | ratio |")
    print("|---|---|---|---|")
    sorted_search = next(s for s in mlflow["searches"] if "metric" in s["what"])
    if table:
        print(f"| {small['runs']:,} runs | {sorted_search['p50_ms']:.1f} ms | {table[0]['p50_ms']:.1f} ms "
              f"| {sorted_search['p50_ms'] / max(table[0]['p50_ms'], 0.01):.1f}x |")
    if table_large:
        print(f"| {large['runs']:,} runs | not populated | {table_large[0]['p50_ms']:.1f} ms | - |")
    newest = next(s for s in mlflow["searches"] if "newest" in s["what"])
    print()
    print(f"MLflow's runs/search, newest first, at {mlflow['runs']:,} runs: p50 {newest['p50_ms']:.1f} ms, "
          f"slowest {newest['max_ms']:.1f} ms; sorted by a metric: slowest {sorted_search['max_ms']:.1f} ms.")
    for r in rows:
        if r.get("step") == "populate":
            print(f"populated {r['side']}: {r['runs']:,} runs, {r['populate_s']} s")


if __name__ == "__main__":
    main(sys.argv[1])
