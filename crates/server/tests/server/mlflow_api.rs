//! The MLflow REST API in-process: the router with a temporary SQLite
//! store and artifact directory (or, in the S3 tier, a bucket named by
//! `RETRAIN_TEST_S3_URI`), driven with `oneshot`.

use axum::Router;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Reply, json_request, request, send, tracking_app, with_query};

struct Api {
    app: Router,
    _dir: tempfile::TempDir,
}

async fn start() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let app = tracking_app(dir.path()).await.build();
    Api { app, _dir: dir }
}

impl Api {
    /// `method` on `uri` with `headers` and an optional raw body.
    async fn call(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
        send(&self.app, request(method, uri, headers, body.map(str::to_owned))).await
    }

    /// `method` on `uri` with `headers` and a JSON body.
    async fn call_json(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
        send(&self.app, json_request(method, uri, headers, body)).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let reply = self.call_json(Method::POST, &format!("/api/2.0/mlflow/{path}"), &[], &body).await;
        (reply.status, reply.json())
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
        let reply =
            self.call(Method::GET, &with_query(&format!("/api/2.0/mlflow/{path}"), query), &[], None).await;
        (reply.status, reply.json())
    }
}

#[tokio::test]
async fn health_version_and_server_info() {
    let s = start().await;
    assert_eq!(s.call(Method::GET, "/health", &[], None).await.text(), "OK");
    assert_eq!(s.call(Method::GET, "/version", &[], None).await.text(), retrain_server::VERSION);
    let info = s.call(Method::GET, "/api/3.0/mlflow/server-info", &[], None).await.json();
    assert_eq!(info["store_type"], "SqlStore");
}

#[tokio::test]
async fn tracking_workflow_over_http() {
    let s = start().await;
    let (status, body) =
        s.post("experiments/create", json!({"name": "iris", "tags": [{"key": "team", "value": "ml"}]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let exp = body["experiment_id"].as_str().unwrap().to_owned();
    let (status, body) = s.post("experiments/create", json!({"name": "iris"})).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("RESOURCE_ALREADY_EXISTS"))
    );
    let (_, body) = s.get("experiments/get-by-name", &[("experiment_name", "iris")]).await;
    assert_eq!(body["experiment"]["artifact_location"], format!("mlflow-artifacts:/{exp}"));
    let (status, body) = s.get("experiments/get", &[("experiment_id", "999")]).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("RESOURCE_DOES_NOT_EXIST"))
    );

    let (status, body) = s
        .post("runs/create", json!({"experiment_id": exp, "run_name": "rf", "start_time": 1, "user_id": "ana", "tags": [{"key": "k", "value": "v"}]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let run_id = body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    assert_eq!(body["run"]["info"]["run_uuid"], run_id.as_str());
    assert_eq!(body["run"]["info"]["status"], "RUNNING");

    for step in 0..3 {
        let (status, _) = s
            .post("runs/log-metric", json!({"run_id": run_id, "run_uuid": run_id, "key": "loss", "value": 1.0 / (step as f64 + 1.0), "timestamp": 100 + step, "step": step}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    s.post("runs/log-parameter", json!({"run_id": run_id, "key": "n_estimators", "value": "100"})).await;
    let (status, body) = s
        .post("runs/log-batch", json!({"run_id": run_id, "metrics": [{"key": "acc", "value": 0.97, "timestamp": 5, "step": 0}, {"key": "odd", "value": "NaN", "timestamp": 5}], "params": [{"key": "max_depth", "value": "8"}], "tags": [{"key": "stage", "value": "dev"}]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        s.post("runs/log-parameter", json!({"run_id": run_id, "key": "n_estimators", "value": "5"})).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_PARAMETER_VALUE"))
    );
    s.post("runs/set-tag", json!({"run_id": run_id, "key": "note", "value": "x"})).await;
    let (status, _) = s.post("runs/delete-tag", json!({"run_id": run_id, "key": "note"})).await;
    assert_eq!(status, StatusCode::OK);

    let (_, body) = s.get("runs/get", &[("run_id", &run_id), ("run_uuid", &run_id)]).await;
    let metrics = body["run"]["data"]["metrics"].as_array().unwrap();
    let loss = metrics.iter().find(|m| m["key"] == "loss").unwrap();
    assert_eq!((loss["step"].as_i64(), loss["value"].as_f64()), (Some(2), Some(1.0 / 3.0)));
    assert_eq!(metrics.iter().find(|m| m["key"] == "odd").unwrap()["value"], "NaN");
    assert_eq!(body["run"]["data"]["params"].as_array().unwrap().len(), 2);

    let (_, body) = s
        .get("metrics/get-history", &[("run_id", &run_id), ("metric_key", "loss"), ("max_results", "2")])
        .await;
    assert_eq!(body["metrics"].as_array().unwrap().len(), 2);
    let token = body["next_page_token"].as_str().unwrap().to_owned();
    let (_, body) = s
        .get("metrics/get-history", &[("run_id", &run_id), ("metric_key", "loss"), ("page_token", &token)])
        .await;
    assert_eq!(body["metrics"].as_array().unwrap().len(), 1);

    let (status, body) = s
        .post("runs/search", json!({"experiment_ids": [exp], "filter": "metrics.acc > 0.9 and params.max_depth = '8'", "order_by": ["metrics.acc DESC"], "max_results": 10}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["runs"].as_array().unwrap().len(), 1);
    let (status, body) =
        s.post("runs/search", json!({"experiment_ids": [exp], "filter": "metrics.acc >>> 1"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("invalid comparator"), "{body}");

    // MLflow 2.x's log_model reports each model; the run's tag lists them.
    for path in ["model", "model-2"] {
        let model = json!({"run_id": run_id, "artifact_path": path, "utc_time_created": "2026-11-28 10:00:00.000000",
            "model_uuid": "u1", "signature": {"inputs": "[]"},
            "flavors": {"sklearn": {"pickled_model": "model.pkl", "config": {"big": true}}, "python_function": {"env": "conda.yaml"}}});
        let (status, body) =
            s.post("runs/log-model", json!({"run_id": run_id, "model_json": model.to_string()})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, body) = s.get("runs/get", &[("run_id", &run_id)]).await;
    let tags = body["run"]["data"]["tags"].as_array().unwrap();
    let history = tags.iter().find(|t| t["key"] == "mlflow.log-model.history").unwrap();
    let history: Value = serde_json::from_str(history["value"].as_str().unwrap()).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    assert_eq!(
        history[1],
        json!({"run_id": run_id, "artifact_path": "model-2", "utc_time_created": "2026-11-28 10:00:00.000000",
            "model_uuid": "u1", "flavors": {"sklearn": {"pickled_model": "model.pkl"}, "python_function": {"env": "conda.yaml"}}})
    );
    for (model_json, said) in [
        ("{\"artifact_path\": ", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        (
            "{\"artifact_path\": \"m\", \"run_id\": \"r\"}",
            "missing mandatory fields: flavors, utc_time_created",
        ),
        (
            "{\"artifact_path\": \"m\", \"run_id\": \"r\", \"utc_time_created\": \"t\", \"flavors\": 1}",
            "'flavors'",
        ),
    ] {
        let (status, body) =
            s.post("runs/log-model", json!({"run_id": run_id, "model_json": model_json})).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("INVALID_PARAMETER_VALUE"))
        );
        assert!(body["message"].as_str().unwrap().contains(said), "{body}");
    }
    s.post("runs/set-tag", json!({"run_id": run_id, "key": "mlflow.log-model.history", "value": "oops"}))
        .await;
    let model = json!({"run_id": run_id, "artifact_path": "m", "utc_time_created": "t", "flavors": {}});
    let (status, body) =
        s.post("runs/log-model", json!({"run_id": run_id, "model_json": model.to_string()})).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_STATE")),
        "{body}"
    );

    let (_, body) =
        s.post("runs/update", json!({"run_id": run_id, "status": "FINISHED", "end_time": 9})).await;
    assert_eq!(body["run_info"]["status"], "FINISHED");
    s.post("runs/delete", json!({"run_id": run_id})).await;
    let (_, body) = s.post("runs/search", json!({"experiment_ids": [exp]})).await;
    assert!(body["runs"].as_array().unwrap().is_empty());
    let (_, body) = s.post("runs/search", json!({"experiment_ids": [exp], "run_view_type": "ALL"})).await;
    assert_eq!(body["runs"].as_array().unwrap().len(), 1);

    // The UI's alias prefix serves the same API.
    let resp = s.call(Method::GET, "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0", &[], None).await;
    assert_eq!(resp.status, StatusCode::OK);
}

/// What an error answer's message must say.
enum Said {
    Exactly(&'static str),
    Containing(&'static str),
    Anything,
}

#[tokio::test]
async fn bad_requests_are_4xx_in_mlflow_shape() {
    let s = start().await;
    const INVALID: Option<&str> = Some("INVALID_PARAMETER_VALUE");
    let metric =
        |body: Value| (Method::POST, "/api/2.0/mlflow/runs/log-metric".to_owned(), Some(body.to_string()));
    let create =
        |body: &str| (Method::POST, "/api/2.0/mlflow/experiments/create".to_owned(), Some(body.to_owned()));
    let get = |path: &str, query: &[(&str, &str)]| {
        (Method::GET, with_query(&format!("/api/2.0/mlflow/{path}"), query), None)
    };
    let cases = [
        (create("{\"name\": "), StatusCode::BAD_REQUEST, INVALID, Said::Containing("malformed JSON")),
        (
            create("{}"),
            StatusCode::BAD_REQUEST,
            INVALID,
            Said::Exactly("Missing value for required parameter 'name'."),
        ),
        (create("[1, 2]"), StatusCode::BAD_REQUEST, INVALID, Said::Containing("must be a JSON object")),
        (
            metric(json!({"run_id": "x", "key": "a", "value": "high"})),
            StatusCode::BAD_REQUEST,
            INVALID,
            Said::Containing("value"),
        ),
        (
            metric(json!({"key": "a", "value": 1})),
            StatusCode::BAD_REQUEST,
            INVALID,
            Said::Exactly("Missing value for required parameter 'run_id'."),
        ),
        (
            metric(json!({"run_id": "nope", "key": "a", "value": 1})),
            StatusCode::NOT_FOUND,
            Some("RESOURCE_DOES_NOT_EXIST"),
            Said::Anything,
        ),
        (get("runs/get", &[]), StatusCode::BAD_REQUEST, INVALID, Said::Anything),
        (
            get("metrics/get-history", &[("run_id", "x"), ("metric_key", "m"), ("max_results", "many")]),
            StatusCode::BAD_REQUEST,
            INVALID,
            Said::Containing("'max_results'"),
        ),
        (
            (Method::POST, "/api/2.0/mlflow/no/such/endpoint".to_owned(), Some("{}".to_owned())),
            StatusCode::NOT_FOUND,
            Some("ENDPOINT_NOT_FOUND"),
            Said::Anything,
        ),
        (
            (
                Method::POST,
                "/api/2.0/mlflow/experiments/search".to_owned(),
                Some(json!({"max_results": 0}).to_string()),
            ),
            StatusCode::BAD_REQUEST,
            None,
            Said::Anything,
        ),
    ];
    for ((method, uri, body), status, code, said) in cases {
        let headers: &[(&str, &str)] =
            if body.is_some() { &[("content-type", "application/json")] } else { &[] };
        let reply = s.call(method, &uri, headers, body.as_deref()).await;
        let answer = reply.json();
        assert_eq!(reply.status, status, "{uri} {body:?}: {answer}");
        if let Some(code) = code {
            assert_eq!(answer["error_code"], code, "{uri} {body:?}: {answer}");
        }
        let message = answer["message"].as_str().unwrap_or_default();
        match said {
            Said::Exactly(text) => assert_eq!(message, text, "{uri} {body:?}"),
            Said::Containing(text) => assert!(message.contains(text), "{uri} {body:?}: {answer}"),
            Said::Anything => assert!(answer["message"].is_string(), "{uri} {body:?}: {answer}"),
        }
    }
}

#[tokio::test]
async fn proxied_artifacts_round_trip() {
    let s = start().await;
    let (_, body) = s.post("runs/create", json!({"experiment_id": "0"})).await;
    let run_id = body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let root = format!("/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts");
    for (path, content) in
        [("model/MLmodel", "flavors: {}"), ("model/model.bin", "bytes"), ("notes.txt", "hello")]
    {
        let resp = s.call(Method::PUT, &format!("{root}/{path}"), &[], Some(content)).await;
        assert_eq!(resp.status, StatusCode::OK);
    }
    let got = s.call(Method::GET, &format!("{root}/notes.txt"), &[], None).await;
    assert_eq!(got.headers["content-disposition"], "attachment; filename=\"notes.txt\"");
    assert_eq!(got.text(), "hello");

    let dir = format!("0/{run_id}/artifacts/model");
    let listing = s
        .call(Method::GET, &with_query("/api/2.0/mlflow-artifacts/artifacts", &[("path", &dir)]), &[], None)
        .await
        .json();
    let names: Vec<&str> =
        listing["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(names, ["MLmodel", "model.bin"]);

    let (_, body) = s.get("artifacts/list", &[("run_id", &run_id)]).await;
    assert_eq!(body["root_uri"], format!("mlflow-artifacts:/0/{run_id}/artifacts"));
    let files = body["files"].as_array().unwrap();
    assert_eq!(files[0], json!({"path": "model", "is_dir": true}));
    assert_eq!(files[1], json!({"path": "notes.txt", "is_dir": false, "file_size": 5}));
    let (_, body) = s.get("artifacts/list", &[("run_id", &run_id), ("path", "model")]).await;
    assert_eq!(body["files"][0]["path"], "model/MLmodel");

    let resp = s.call(Method::DELETE, &format!("{root}/model"), &[], None).await;
    assert_eq!(resp.status, StatusCode::OK);
    let missing = s.call(Method::GET, &format!("{root}/model/MLmodel"), &[], None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error_code"], "RESOURCE_DOES_NOT_EXIST");
    let escape = "/api/2.0/mlflow-artifacts/artifacts/0/a%2F..%2F..%2F..%2Fescape";
    let traversal = s.call(Method::PUT, escape, &[], Some("x")).await;
    assert_eq!(traversal.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn registry_over_http_with_audit_trail() {
    let s = start().await;
    let (_, body) = s.post("runs/create", json!({"experiment_id": "0"})).await;
    let run_id = body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let (status, body) = s
        .post("logged-models", json!({"experiment_id": "0", "name": "model", "source_run_id": run_id, "params": [{"key": "C", "value": "1"}]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let model_id = body["model"]["info"]["model_id"].as_str().unwrap().to_owned();
    let ready = json!({"model_id": model_id, "status": "LOGGED_MODEL_READY"});
    let body = s
        .call_json(Method::PATCH, &format!("/api/2.0/mlflow/logged-models/{model_id}"), &[], &ready)
        .await
        .json();
    assert_eq!(body["model"]["info"]["status"], "LOGGED_MODEL_READY");
    let (_, body) =
        s.post("logged-models/search", json!({"experiment_ids": ["0"], "filter": "name = 'model'"})).await;
    assert_eq!(body["models"].as_array().unwrap().len(), 1);

    let (status, _) = s.post("registered-models/create", json!({"name": "iris"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s.post("registered-models/create", json!({"name": "iris"})).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("RESOURCE_ALREADY_EXISTS"))
    );
    for _ in 0..2 {
        let (status, body) = s
            .post("model-versions/create", json!({"name": "iris", "source": format!("models:/{model_id}"), "model_id": model_id, "run_id": run_id}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, body) = s.get("model-versions/get", &[("name", "iris"), ("version", "2")]).await;
    assert_eq!(
        (body["model_version"]["current_stage"].as_str(), body["model_version"]["status"].as_str()),
        (Some("None"), Some("READY"))
    );
    // The user is the signed-in user, not the client program: a version
    // created by a client that names itself has no user until sign-in exists.
    let created = s
        .call_json(
            Method::POST,
            "/api/2.0/mlflow/model-versions/create",
            &[("user-agent", "mlflow-python-client/3.17.2")],
            &json!({"name": "iris", "source": format!("models:/{model_id}")}),
        )
        .await
        .json();
    assert_eq!(
        (created["model_version"]["version"].as_str(), created["model_version"]["user_id"].as_str()),
        (Some("3"), Some(""))
    );
    let third = json!({"name": "iris", "version": "3"});
    let deleted = s.call_json(Method::DELETE, "/api/2.0/mlflow/model-versions/delete", &[], &third).await;
    assert_eq!(deleted.status, StatusCode::OK);
    let (_, body) = s.get("model-versions/get-download-uri", &[("name", "iris"), ("version", "1")]).await;
    assert_eq!(body["artifact_uri"], format!("mlflow-artifacts:/0/models/{model_id}/artifacts"));

    let actor = [("x-retrain-actor", "ana")];
    let alias = json!({"name": "iris", "alias": "champion", "version": "1", "reason": "first"});
    let set_alias =
        s.call_json(Method::POST, "/api/2.0/mlflow/registered-models/alias", &actor, &alias).await;
    assert_eq!(set_alias.status, StatusCode::OK);
    let transition =
        json!({"name": "iris", "version": "2", "stage": "Production", "archive_existing_versions": "true"});
    let body = s
        .call_json(Method::POST, "/api/2.0/mlflow/model-versions/transition-stage", &actor, &transition)
        .await
        .json();
    assert_eq!(body["model_version"]["current_stage"], "Production");
    let (_, body) = s.get("registered-models/alias", &[("name", "iris"), ("alias", "champion")]).await;
    assert_eq!(body["model_version"]["version"], "1");
    assert_eq!(body["model_version"]["aliases"], json!(["champion"]));
    let (_, body) = s
        .post("registered-models/get-latest-versions", json!({"name": "iris", "stages": ["Production"]}))
        .await;
    assert_eq!(body["model_versions"][0]["version"], "2");
    // GET takes the same message from a query string: a list given once,
    // or repeated.
    for (query, versions) in [
        (&[("name", "iris"), ("stages", "Production")][..], json!(["2"])),
        (&[("name", "iris"), ("stages", "Production"), ("stages", "None")][..], json!(["1", "2"])),
    ] {
        let (status, body) = s.get("registered-models/get-latest-versions", query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut got: Vec<&str> = body["model_versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(json!(got), versions, "{query:?}");
    }
    let query = [
        ("filter", "name LIKE '%'"),
        ("order_by", "name DESC"),
        ("order_by", "last_updated_timestamp"),
        ("max_results", "1"),
    ];
    let (status, body) = s.get("registered-models/search", &query).await;
    assert_eq!(
        (status, body["registered_models"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let (_, body) = s.get("registered-models/get", &[("name", "iris")]).await;
    assert_eq!(body["registered_model"]["aliases"], json!([{"alias": "champion", "version": "1"}]));
    let (_, body) = s.get("model-versions/search", &[("filter", "name='iris'")]).await;
    assert_eq!(body["model_versions"].as_array().unwrap().len(), 2);
    let (_, body) = s.get("registered-models/search", &[("filter", "name LIKE 'ir%'")]).await;
    assert_eq!(body["registered_models"].as_array().unwrap().len(), 1);

    let (status, body) = s.get("registered-models/audit", &[("name", "iris")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stages"], json!({"Production": ["2"]}));
    assert_eq!(body["aliases"], json!({"champion": "1"}));
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!((events[0]["actor"].as_str(), events[0]["reason"].as_str()), (Some("ana"), Some("first")));
    let (_, body) = s.get("registered-models/audit", &[("name", "iris"), ("at", "2000-01-01")]).await;
    assert_eq!((body["stages"].clone(), body["events"].clone()), (json!({}), json!([])));
    let (status, _) = s.get("registered-models/audit", &[("name", "iris"), ("at", "yesterday")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, body) = s
        .post("model-versions/transition-stage", json!({"name": "iris", "version": "1", "stage": "Live"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = s.get("model-versions/get", &[("name", "iris"), ("version", "7")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.get("registered-models/get", &[("name", "nope")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let iris = json!({"name": "iris"});
    let resp = s.call_json(Method::DELETE, "/api/2.0/mlflow/registered-models/delete", &[], &iris).await;
    assert_eq!(resp.status, StatusCode::OK);
    let (status, _) = s.get("registered-models/get", &[("name", "iris")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
