"""Turns bench/flow results (one JSON object per system) into Markdown:
both sides' figures, the ratio, and the issue's goals."""

import json
import sys

rows = {r["system"]: r for r in map(json.loads, open(sys.argv[1]))}
ours, theirs = rows["retrain"], rows.get("airflow")


def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value * 1000:,.1f} ms"
    if unit == "s":
        return f"{value:,.3f} s"
    return f"{value:,.0f} MiB"


def line(name, ours_value, theirs_value, unit):
    ratio = f"{theirs_value / ours_value:,.0f}x" if ours_value and theirs_value else "-"
    print(f"| {name} | {fmt(ours_value, unit)} | {fmt(theirs_value, unit)} | {ratio} |")


print("| measurement | retrain | Airflow 3.3.2 | Airflow / retrain |")
print("| --- | --- | --- | --- |")
get = lambda r, *keys: None if r is None else (r[keys[0]] if len(keys) == 1 else r[keys[0]][keys[1]])
line("4-task run, trigger → success (median)", get(ours, "run_s", "median"), get(theirs, "run_s", "median"), "s")
line("per task (run / 4)", ours["per_task_s"], get(theirs, "per_task_s"), "ms")
line("start until the API answers", ours["start_s"], get(theirs, "start_s"), "s")
line("idle memory (PSS, all processes)", ours["idle_pss_mib"], get(theirs, "idle_pss_mib"), "MiB")
print()
print(f"retrain: {ours['run_s']['n']} runs (min {ours['run_s']['min'] * 1000:.0f} ms, max {ours['run_s']['max'] * 1000:.0f} ms); "
      f"one task instance, process start to exit, median {ours['task_s']['median'] * 1000:.1f} ms.")
if theirs:
    print(f"Airflow: {theirs['run_s']['n']} runs (min {theirs['run_s']['min']:.2f} s, max {theirs['run_s']['max']:.2f} s).")
print()
print("| goal | measured | met |")
print("| --- | --- | --- |")
goals = [
    ("per-task overhead ≤ 20 ms (median)", ours["per_task_s"] * 1000, lambda v: v <= 20, "{:.1f} ms"),
    ("`retrain up` answers within 1 s", ours["start_s"], lambda v: v <= 1, "{:.3f} s"),
    ("idle memory ≤ 50 MB", ours["idle_pss_mib"] * 1.048576, lambda v: v <= 50, "{:.1f} MB"),
]
if theirs:
    speedup = theirs["run_s"]["median"] / ours["run_s"]["median"]
    goals.append(("whole run ≥ 50× faster than Airflow", speedup, lambda v: v >= 50, "{:.0f}x"))
for name, value, ok, form in goals:
    print(f"| {name} | {form.format(value)} | {'yes' if ok(value) else 'no'} |")
