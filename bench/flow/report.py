"""Turns bench/flow results (one JSON object per system) into Markdown:
both sides' figures, the ratio, and the issue's goals."""

import json
import sys

rows = {r["system"]: r for r in (json.loads(line) for line in open(sys.argv[1]) if line.strip())}
ours, theirs = rows["retrain"], rows.get("airflow")


def get(row, *keys):
    for key in keys:
        row = row.get(key) if isinstance(row, dict) else None
    return row


def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value * 1000:,.1f} ms" if value < 1 else f"{value:,.2f} s"


def ratio(a, b):
    if not a or not b:
        return "-"
    r = b / a
    return f"{r:,.0f}x" if r >= 10 else f"{r:.1f}x"


def line(name, keys, unit="s"):
    a, b = get(ours, *keys), get(theirs, *keys)
    print(f"| {name} | {fmt(a, unit)} | {fmt(b, unit)} | {ratio(a, b)} |")


n_ours, n_theirs = ours["run_s"]["n"], get(theirs, "run_s", "n")
print(f"Medians over {n_ours} retrain runs" + (f" and {n_theirs} Airflow runs" if theirs else "")
      + "; ratio = Airflow / retrain (how many times retrain is ahead).")
print()
print("| measurement | retrain | Airflow 3.3.2 | ratio |")
print("| --- | --- | --- | --- |")
line("4-task run, trigger → success", ["run_s", "median"])
line("per task (trigger → success / 4)", ["per_task_s"])
line("run queued → started, as the scheduler records it", ["pickup_s", "median"])
line("run started → ended, as the scheduler records it", ["recorded_run_s", "median"])
line("one task instance, start → end, as recorded", ["task_s", "median"])
line("start until the API answers", ["start_s"])
line("idle memory (PSS, every process)", ["idle_pss_mib"], "MiB")
fg = ours["foreground_run_s"]
print(f"| 4-task run triggered by `retrain pipelines trigger` (a process) → success | "
      f"{fmt(ours['cli_run_s']['median'], 's')} | - | - |")
print(f"| `retrain pipelines run noop`, process start to exit | {fmt(fg['median'], 's')} | - | - |")
print()
spread = lambda r: f"{fmt(r['run_s']['min'], 's')} to {fmt(r['run_s']['max'], 's')}"
print("Both sides' runs are triggered by the same REST call, Airflow's `POST /api/v2/dags/noop/dagRuns`, "
      "which `retrain up` serves too.")
print(f"retrain: triggered runs took {spread(ours)}; a foreground `retrain pipelines run` "
      f"(its own scheduler and tracking server) {fmt(fg['min'], 's')} to {fmt(fg['max'], 's')}. "
      f"A task instance is the `retrain task run` process running `sh -c true`.")
if theirs:
    print(f"Airflow (API server, scheduler with the LocalExecutor, DAG processor and triggerer on "
          f"SQLite, as `airflow standalone` runs them but without its two log servers): "
          f"triggered runs took {spread(theirs)}; all four components heartbeating "
          f"{theirs['ready_s']:.1f} s after start; `airflow db migrate` on a new database took "
          f"{theirs['migrate_s']:.1f} s (before the start, not counted in it).")
print()
print("| goal | measured | met |")
print("| --- | --- | --- |")
goals = [
    ("per-task overhead ≤ 20 ms (median)", ours["per_task_s"] * 1000, lambda v: v <= 20, "{:.1f} ms"),
    ("`retrain up` answers within 1 s of start", ours["start_s"], lambda v: v <= 1, "{:.3f} s"),
    ("idle memory ≤ 50 MB", ours["idle_pss_mib"] * 1.048576, lambda v: v <= 50, "{:.1f} MB"),
]
if theirs:
    speedup = theirs["run_s"]["median"] / ours["run_s"]["median"]
    goals.append(("whole run ≥ 50× faster than Airflow's scheduler", speedup, lambda v: v >= 50, "{:.0f}x"))
for name, value, ok, form in goals:
    print(f"| {name} | {form.format(value)} | {'yes' if ok(value) else 'no'} |")
