"""The scikit-learn side of the classifier benchmark.

`make-data OUT`: generates make_classification(n_samples=100_000,
n_features=20, n_informative=10, n_classes=3, random_state=0), splits it
75/25 stratified (random_state=0) and writes OUT/train.csv and
OUT/test.csv (features f0..f19, label column `y`).

`run DATA`: fits and predicts every peer classifier on those files and
prints one JSON line per model: fit and predict wall seconds, fit CPU
seconds (all threads of this process) and test accuracy.
"""
import json
import os
import sys
import time

import numpy as np


def make_data(out):
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    x, y = make_classification(n_samples=100_000, n_features=20, n_informative=10, n_classes=3, random_state=0)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    os.makedirs(out, exist_ok=True)
    header = ",".join([f"f{i}" for i in range(20)] + ["y"])
    for name, xs, ys in [("train", xtr, ytr), ("test", xte, yte)]:
        data = np.column_stack([xs, ys])
        fmt = ["%.17g"] * 20 + ["%d"]
        np.savetxt(os.path.join(out, f"{name}.csv"), data, delimiter=",", header=header, comments="", fmt=fmt)


def peers():
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    return {
        "random_forest": lambda: RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=0),
        "decision_tree": lambda: DecisionTreeClassifier(random_state=0),
        "gradient_boosting": lambda: HistGradientBoostingClassifier(random_state=0),
        "logistic_regression": lambda: LogisticRegression(),
        "knn": lambda: KNeighborsClassifier(n_jobs=-1),
        "gaussian_nb": lambda: GaussianNB(),
        "linear_svm": lambda: LinearSVC(random_state=0),
    }


def run(data, models):
    train = np.loadtxt(os.path.join(data, "train.csv"), delimiter=",", skiprows=1)
    test = np.loadtxt(os.path.join(data, "test.csv"), delimiter=",", skiprows=1)
    xtr, ytr = train[:, :-1], train[:, -1].astype(int)
    xte, yte = test[:, :-1], test[:, -1].astype(int)
    for name, make in peers().items():
        if models and name not in models:
            continue
        model = make()
        cpu, wall = time.process_time(), time.perf_counter()
        model.fit(xtr, ytr)
        fit_cpu, fit_wall = time.process_time() - cpu, time.perf_counter() - wall
        wall = time.perf_counter()
        pred = model.predict(xte)
        predict_wall = time.perf_counter() - wall
        print(json.dumps({
            "side": "scikit-learn", "model": name, "fit_s": fit_wall, "fit_cpu_s": fit_cpu,
            "predict_s": predict_wall, "accuracy": float((pred == yte).mean()),
        }), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "make-data":
        make_data(sys.argv[2])
    else:
        run(sys.argv[2], sys.argv[3:])
