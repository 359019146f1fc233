"""The MLflow side's model: scikit-learn's RandomForestClassifier with 100
trees on iris, columns named as retrain's built-in iris, logged with an
input example (so it has a signature) and registered as version 1."""

import sys

import mlflow
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

name = sys.argv[1]
x, y = load_iris(return_X_y=True, as_frame=True)
x.columns = COLUMNS
model = RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y)
with mlflow.start_run():
    mlflow.sklearn.log_model(
        model,
        name="model",
        input_example=x.iloc[:2],
        registered_model_name=name,
        skops_trusted_types=["sklearn.tree._tree.Tree"],
    )
