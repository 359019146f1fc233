"""Turns bench results (JSON lines from both sides) into a Markdown table
of medians and retrain/scikit-learn ratios."""
import json
import statistics
import sys
from collections import defaultdict

PEERS = {
    "random_forest": "RandomForestClassifier(n_estimators=100, n_jobs=-1)",
    "decision_tree": "DecisionTreeClassifier()",
    "gradient_boosting": "HistGradientBoostingClassifier()",
    "logistic_regression": "LogisticRegression()",
    "knn": "KNeighborsClassifier(n_jobs=-1)",
    "gaussian_nb": "GaussianNB()",
    "linear_svm": "LinearSVC()",
}

runs = defaultdict(list)
for line in open(sys.argv[1]):
    if line.strip():
        r = json.loads(line)
        runs[(r["side"], r["model"])].append(r)


def med(side, model, key):
    return statistics.median(r[key] for r in runs[(side, model)])


rounds = min(len(v) for v in runs.values())
print(f"Medians of {rounds} alternating rounds; ratio = retrain / scikit-learn (below 1.0 is faster).\n")
print("| model | scikit-learn peer | fit s (retrain / sklearn) | fit ratio | fit CPU s (retrain / sklearn) | predict s (retrain / sklearn) | predict ratio | accuracy (retrain / sklearn) |")
print("|---|---|---|---|---|---|---|---|")
for model, peer in PEERS.items():
    if ("retrain", model) not in runs or ("scikit-learn", model) not in runs:
        continue
    fr, fs = med("retrain", model, "fit_s"), med("scikit-learn", model, "fit_s")
    pr, ps = med("retrain", model, "predict_s"), med("scikit-learn", model, "predict_s")
    cr, cs = med("retrain", model, "fit_cpu_s"), med("scikit-learn", model, "fit_cpu_s")
    ar, as_ = med("retrain", model, "accuracy"), med("scikit-learn", model, "accuracy")
    print(
        f"| {model} | `{peer}` | {fr:.3f} / {fs:.3f} | {fr / fs:.2f}x | {cr:.2f} / {cs:.2f} "
        f"| {pr:.4f} / {ps:.4f} | {pr / ps:.2f}x | {ar:.4f} / {as_:.4f} |"
    )
