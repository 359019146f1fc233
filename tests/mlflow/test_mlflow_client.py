"""The official MLflow Python client against `retrain server`.

The server's URL comes from MLFLOW_TRACKING_URI (run.sh starts a server on
a free 127.0.0.1 port). Each test walks a part of the workflow a user of
MLflow runs, and asserts every step's result.
"""
import json
import os
import subprocess
import sys
import tempfile
import uuid

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier


@pytest.fixture(scope="module")
def client():
    assert os.environ["MLFLOW_TRACKING_URI"].startswith("http://127.0.0.1:")
    return MlflowClient()


# The tier runs this file with a 3.x client and with a 2.x one.
MLFLOW_2 = mlflow.__version__.startswith("2.")


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_tracking_workflow(client):
    name = unique("iris")
    experiment_id = mlflow.create_experiment(name, tags={"team": "ml"})
    experiment = client.get_experiment_by_name(name)
    assert experiment.experiment_id == experiment_id
    assert experiment.tags == {"team": "ml"}
    assert client.get_experiment_by_name(unique("absent")) is None

    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run(run_name="rf") as run:
        mlflow.log_param("n_estimators", 100)
        mlflow.log_params({"max_depth": 8, "criterion": "gini"})
        for step in range(20):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"accuracy": 0.97, "f1": 0.96})
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"owner": "ana", "data": "2026-11-01"})
        work = tempfile.mkdtemp()
        with open(os.path.join(work, "notes.txt"), "w") as f:
            f.write("hello")
        os.makedirs(os.path.join(work, "plots"))
        with open(os.path.join(work, "plots", "roc.txt"), "w") as f:
            f.write("roc")
        mlflow.log_artifact(os.path.join(work, "notes.txt"))
        mlflow.log_artifacts(work, artifact_path="report")
        run_id = run.info.run_id

    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "rf"
    assert got.data.params == {"n_estimators": "100", "max_depth": "8", "criterion": "gini"}
    assert got.data.metrics["loss"] == pytest.approx(1.0 / 20)
    assert got.data.metrics["accuracy"] == pytest.approx(0.97)
    assert got.data.tags["stage"] == "dev" and got.data.tags["owner"] == "ana"

    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(20))
    assert [m.value for m in history] == pytest.approx([1.0 / (s + 1) for s in range(20)])

    top = [f.path for f in client.list_artifacts(run_id)]
    assert top == ["notes.txt", "report"]
    assert sorted(f.path for f in client.list_artifacts(run_id, "report")) == ["report/notes.txt", "report/plots"]
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="report")
    assert sorted(os.listdir(local)) == ["notes.txt", "plots"]
    with open(os.path.join(local, "plots", "roc.txt")) as f:
        assert f.read() == "roc"

    with mlflow.start_run(run_name="knn"):
        mlflow.log_param("n_estimators", 10)
        mlflow.log_metric("accuracy", 0.91)
    found = mlflow.search_runs(
        [experiment_id], filter_string="metrics.accuracy > 0.9 and params.n_estimators = '100'"
    )
    assert list(found["run_id"]) == [run_id]
    ordered = mlflow.search_runs([experiment_id], order_by=["metrics.accuracy DESC"])
    assert list(ordered["tags.mlflow.runName"]) == ["rf", "knn"]
    paged = client.search_runs([experiment_id], max_results=1, order_by=["metrics.accuracy ASC"])
    assert [r.info.run_name for r in paged] == ["knn"]
    assert paged.token
    with pytest.raises(MlflowException, match="invalid comparator"):
        client.search_runs([experiment_id], filter_string="metrics.accuracy >>> 1")

    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"


def test_long_values_are_kept_as_mlflow_keeps_them(client):
    # MLflow keeps the start of an over-long param (6,000 characters) or
    # run tag value (8,000) and refuses an experiment name past 500.
    experiment_id = mlflow.create_experiment(unique("limits"))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("config", "é" * 7000)
        mlflow.set_tag("notes", "n" * 9000)
    got = client.get_run(run.info.run_id)
    assert got.data.params["config"] == "é" * 6000
    assert got.data.tags["notes"] == "n" * 8000
    with pytest.raises(MlflowException, match="exceeds the maximum length of 500"):
        mlflow.create_experiment("x" * 501)


def test_model_registry_and_loading(client):
    experiment_id = mlflow.create_experiment(unique("registry"))
    mlflow.set_experiment(experiment_id=experiment_id)
    x, y = load_iris(return_X_y=True)
    model_name = unique("iris-rf")
    versions = []
    for trees in (10, 20):
        with mlflow.start_run() as run:
            model = RandomForestClassifier(n_estimators=trees, random_state=0).fit(x, y)
            mlflow.log_param("n_estimators", trees)
            if MLFLOW_2:
                where = {"artifact_path": "model"}
            else:
                where = {"name": "model", "skops_trusted_types": ["sklearn.tree._tree.Tree"]}
            info = mlflow.sklearn.log_model(model, input_example=x[:2], **where)
            version = mlflow.register_model(info.model_uri, model_name)
            versions.append(version)
        if MLFLOW_2:
            # 2.x reports the model to the run (runs/log-model).
            history = json.loads(client.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])
            assert [(m["artifact_path"], m["run_id"]) for m in history] == [("model", run.info.run_id)]
            assert "sklearn" in history[0]["flavors"]
    assert [v.version for v in versions] == ["1", "2"]

    client.set_registered_model_alias(model_name, "champion", "1")
    assert client.get_model_version_by_alias(model_name, "champion").version == "1"
    client.set_registered_model_alias(model_name, "champion", "2")
    assert client.get_model_version_by_alias(model_name, "champion").version == "2"
    promoted = client.transition_model_version_stage(model_name, "2", "Production", archive_existing_versions=True)
    assert promoted.current_stage == "Production"
    latest = client.get_latest_versions(model_name, stages=["Production"])
    assert [v.version for v in latest] == ["2"]
    registered = client.get_registered_model(model_name)
    assert registered.aliases == {"champion": "2"}
    found = client.search_model_versions(f"name = '{model_name}'")
    assert sorted(v.version for v in found) == ["1", "2"]

    loaded = mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
    predictions = loaded.predict(x[:5])
    assert list(np.asarray(predictions)) == [0, 0, 0, 0, 0]
    by_stage = mlflow.pyfunc.load_model(f"models:/{model_name}/Production")
    assert list(np.asarray(by_stage.predict(x[-2:]))) == [2, 2]
    by_version = mlflow.sklearn.load_model(f"models:/{model_name}/1")
    assert by_version.n_estimators == 10

    client.delete_registered_model_alias(model_name, "champion")
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(model_name, "champion")
    client.delete_registered_model(model_name)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|not found"):
        client.get_registered_model(model_name)


# Set by run.sh when the server signs callers in: the user they sign in as.
SIGNED_IN_AS = os.environ.get("RETRAIN_EXPECT_USER")


@pytest.mark.skipif(not SIGNED_IN_AS, reason="the server signs no one in")
def test_the_caller_is_recorded_and_anonymous_clients_are_refused(client):
    experiment_id = mlflow.create_experiment(unique("who"))
    run = client.create_run(experiment_id)
    assert run.info.user_id == SIGNED_IN_AS
    name = unique("who-model")
    client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    assert version.user_id == SIGNED_IN_AS

    # The same client without credentials gets a clear 401.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    env["MLFLOW_TRACKING_URI"] = os.environ["MLFLOW_TRACKING_URI"]
    anonymous = subprocess.run(
        [sys.executable, "-c", "import mlflow; mlflow.MlflowClient().search_experiments()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert anonymous.returncode != 0
    assert "UNAUTHENTICATED" in anonymous.stderr or "401" in anonymous.stderr, anonymous.stderr[-2000:]
