//! Every comparator against every kind of field of every search, as a
//! table: the comparators are data, the seeded objects are data, and what
//! each filter should find is worked out here from the objects' values.
//! A combination a field takes returns exactly those objects; one it does
//! not take is refused as `INVALID_PARAMETER_VALUE`, never a database
//! error.

use retrain_registry::entities::{Param, ViewType};
use retrain_registry::{ErrorCode, Result, SqlStore};

use retrain_registry::per_backend;

use crate::common::{metric, tag};

per_backend! {
    every_comparator_on_every_field_of_every_search:
        sqlite_every_comparator_on_every_field_of_every_search,
        postgres_every_comparator_on_every_field_of_every_search;
}

const COMPARATORS: [&str; 10] = ["=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN"];

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Number,
    /// A version number, also accepted quoted.
    Version,
}

impl Kind {
    fn takes(self, comparator: &str) -> bool {
        match self {
            Kind::Text => matches!(comparator, "=" | "!=" | "LIKE" | "ILIKE" | "IN" | "NOT IN"),
            Kind::Number | Kind::Version => matches!(comparator, "=" | "!=" | "<" | "<=" | ">" | ">="),
        }
    }
}

/// A field's value on one object (`None`: the object has none, which no
/// comparison matches).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Number(f64),
}

fn text(s: &str) -> Option<Value> {
    Some(Value::Text(s.into()))
}

fn number(n: i64) -> Option<Value> {
    Some(Value::Number(n as f64))
}

/// What a filter compares with.
#[derive(Debug, Clone)]
enum Literal {
    Text(String),
    Number(f64),
    List(Vec<String>),
}

impl Literal {
    fn sql(&self) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        match self {
            Literal::Text(s) => quote(s),
            Literal::Number(n) => n.to_string(),
            Literal::List(items) => {
                format!("({})", items.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", "))
            }
        }
    }
}

/// One search's objects: each object's name and its value of each field.
struct Objects {
    search: &'static str,
    fields: Vec<(&'static str, Kind)>,
    rows: Vec<(String, Vec<Option<Value>>)>,
}

/// SQL's LIKE with `%` and `_`.
fn like(value: &str, pattern: &str) -> bool {
    fn go(v: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('%', rest)) => (0..=v.len()).any(|i| go(&v[i..], rest)),
            Some(('_', rest)) => !v.is_empty() && go(&v[1..], rest),
            Some((c, rest)) => v.first() == Some(c) && go(&v[1..], rest),
        }
    }
    go(&value.chars().collect::<Vec<_>>(), &pattern.chars().collect::<Vec<_>>())
}

/// Whether `value <comparator> literal` holds, as the database should say.
fn holds(value: &Value, comparator: &str, literal: &Literal) -> bool {
    let ordered = |a: f64, b: f64| match comparator {
        "=" => a == b,
        "!=" => a != b,
        "<" => a < b,
        "<=" => a <= b,
        ">" => a > b,
        ">=" => a >= b,
        _ => unreachable!("{comparator} on a number"),
    };
    match (value, literal) {
        (Value::Number(a), Literal::Number(b)) => ordered(*a, *b),
        (Value::Number(a), Literal::Text(b)) => ordered(*a, b.parse().unwrap()),
        (Value::Text(a), Literal::Text(b)) => match comparator {
            "=" => a == b,
            "!=" => a != b,
            "LIKE" => like(a, b),
            "ILIKE" => like(&a.to_lowercase(), &b.to_lowercase()),
            _ => unreachable!("{comparator} on text"),
        },
        (Value::Text(a), Literal::List(items)) => items.contains(a) == (comparator == "IN"),
        other => unreachable!("{other:?}"),
    }
}

/// Every comparator on every field, each with a literal of the field's
/// kind (a refused comparator gets one too), and a literal of the wrong
/// kind: `(filter, the names it finds or None when it is refused)`.
fn cases(objects: &Objects) -> Vec<(String, Option<Vec<String>>)> {
    let mut cases = Vec::new();
    for (column, (field, kind)) in objects.fields.iter().enumerate() {
        let values: Vec<&Value> = objects.rows.iter().filter_map(|(_, v)| v[column].as_ref()).collect();
        // The middle value, so that orderings split the objects.
        let middle = values[values.len() / 2].clone();
        let mut literals: Vec<(String, Literal)> = Vec::new();
        for comparator in COMPARATORS {
            let literal = match (&middle, comparator) {
                (Value::Text(_), "IN" | "NOT IN") => Literal::List(
                    values
                        .iter()
                        .step_by(2)
                        .map(|v| match v {
                            Value::Text(s) => s.clone(),
                            Value::Number(_) => unreachable!(),
                        })
                        .collect(),
                ),
                (Value::Text(s), "LIKE") => {
                    Literal::Text(format!("{}%", s.chars().take(3).collect::<String>()))
                }
                (Value::Text(s), "ILIKE") => {
                    Literal::Text(format!("{}%", s.chars().take(3).collect::<String>().to_uppercase()))
                }
                (Value::Text(s), _) => Literal::Text(s.clone()),
                (Value::Number(n), "IN" | "NOT IN") => Literal::List(vec![n.to_string()]),
                (Value::Number(n), _) => Literal::Number(*n),
            };
            literals.push((comparator.to_owned(), literal));
        }
        // The wrong kind of literal: a number for text, text for a number
        // (which a version number takes when it is one).
        match &middle {
            Value::Text(_) => literals.push(("=".into(), Literal::Number(1.0))),
            Value::Number(n) => literals.push(("=".into(), Literal::Text(n.to_string()))),
        }
        for (comparator, literal) in literals {
            let filter = format!("{field} {comparator} {}", literal.sql());
            let of_kind = match (&middle, &literal) {
                (Value::Text(_), Literal::Number(_)) => false,
                (Value::Number(_), Literal::Text(_)) => *kind == Kind::Version,
                _ => true,
            };
            let expected = (of_kind && kind.takes(&comparator)).then(|| {
                let mut names: Vec<String> = objects
                    .rows
                    .iter()
                    .filter(|(_, v)| {
                        v[column].as_ref().is_some_and(|value| holds(value, &comparator, &literal))
                    })
                    .map(|(name, _)| name.clone())
                    .collect();
                names.sort();
                names
            });
            cases.push((filter, expected));
        }
    }
    cases
}

/// Runs every case of `objects` through `search` (which answers the
/// names it found).
async fn check<F, Fut>(backend: &str, objects: &Objects, search: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Vec<String>>>,
{
    for (filter, expected) in cases(objects) {
        let found = search(filter.clone()).await.map(|mut names| {
            names.sort();
            names
        });
        match (expected, found) {
            (Some(expected), Ok(found)) => {
                assert_eq!(found, expected, "{backend}: {} search with {filter}", objects.search)
            }
            (None, Err(e)) => assert_eq!(
                e.code,
                ErrorCode::InvalidParameterValue,
                "{backend}: {} search with {filter}: {e}",
                objects.search
            ),
            (expected, found) => {
                panic!(
                    "{backend}: {} search with {filter}: expected {expected:?}, got {found:?}",
                    objects.search
                )
            }
        }
    }
}

async fn every_comparator_on_every_field_of_every_search(backend: &str, store: SqlStore) {
    // Experiments (and "Default", which has no tag).
    for (name, team) in [("alpha", "ml"), ("beta", "ops"), ("Gamma", "ML")] {
        store.create_experiment(name, None, &[tag("team", team)]).await.unwrap();
    }
    let (experiments, _) = store.search_experiments(ViewType::All, None, None, &[], None).await.unwrap();
    let objects = Objects {
        search: "experiments",
        fields: vec![
            ("attributes.name", Kind::Text),
            ("name", Kind::Text),
            ("attributes.experiment_id", Kind::Number),
            ("attributes.creation_time", Kind::Number),
            ("attributes.last_update_time", Kind::Number),
            ("tags.team", Kind::Text),
        ],
        rows: experiments
            .iter()
            .map(|e| {
                let team = e.tags.iter().find(|t| t.key == "team").map(|t| Value::Text(t.value.clone()));
                (
                    e.name.clone(),
                    vec![
                        text(&e.name),
                        text(&e.name),
                        number(e.experiment_id.parse().unwrap()),
                        number(e.creation_time),
                        number(e.last_update_time),
                        team,
                    ],
                )
            })
            .collect(),
    };
    check(backend, &objects, |filter| {
        let store = &store;
        async move {
            let (found, _) = store.search_experiments(ViewType::All, Some(&filter), None, &[], None).await?;
            Ok(found.into_iter().map(|e| e.name).collect())
        }
    })
    .await;

    // Runs: one without the metric, one finished.
    let exp = store.create_experiment("runs", None, &[]).await.unwrap();
    let mut run_ids = Vec::new();
    for (i, (user, model, acc)) in
        [("ana", "rf", Some(0.5)), ("bob", "knn", Some(0.9)), ("Cy", "svm", None)].into_iter().enumerate()
    {
        let run = store
            .create_run(&exp, user, Some(&format!("run-{i}")), Some(10 * (i as i64 + 1)), &[])
            .await
            .unwrap();
        let id = run.info.run_id;
        let metrics: Vec<_> = acc.map(|acc| metric("acc", acc, 0)).into_iter().collect();
        let params = [Param { key: "model".into(), value: model.into() }];
        store
            .log_batch(&id, &metrics, &params, &[tag("team", if i == 1 { "B" } else { "a" })])
            .await
            .unwrap();
        run_ids.push(id);
    }
    store.update_run(&run_ids[1], Some("FINISHED"), Some(100), None).await.unwrap();
    let (runs, _) =
        store.search_runs(std::slice::from_ref(&exp), None, ViewType::All, None, &[], None).await.unwrap();
    let objects = Objects {
        search: "runs",
        fields: vec![
            ("attributes.run_id", Kind::Text),
            ("attributes.run_name", Kind::Text),
            ("attributes.status", Kind::Text),
            ("attributes.user_id", Kind::Text),
            ("attributes.artifact_uri", Kind::Text),
            ("attributes.start_time", Kind::Number),
            ("attributes.end_time", Kind::Number),
            ("params.model", Kind::Text),
            ("tags.team", Kind::Text),
            ("metrics.acc", Kind::Number),
        ],
        rows: runs
            .iter()
            .map(|r| {
                let param =
                    r.data.params.iter().find(|p| p.key == "model").map(|p| Value::Text(p.value.clone()));
                let team = r.data.tags.iter().find(|t| t.key == "team").map(|t| Value::Text(t.value.clone()));
                let acc = r.data.metrics.iter().find(|m| m.key == "acc").map(|m| Value::Number(m.value));
                (
                    r.info.run_name.clone(),
                    vec![
                        text(&r.info.run_id),
                        text(&r.info.run_name),
                        text(&r.info.status),
                        text(&r.info.user_id),
                        text(&r.info.artifact_uri),
                        number(r.info.start_time),
                        r.info.end_time.and_then(number),
                        param,
                        team,
                        acc,
                    ],
                )
            })
            .collect(),
    };
    check(backend, &objects, |filter| {
        let (store, exp) = (&store, exp.clone());
        async move {
            let (found, _) = store.search_runs(&[exp], Some(&filter), ViewType::All, None, &[], None).await?;
            Ok(found.into_iter().map(|r| r.info.run_name).collect())
        }
    })
    .await;

    // Logged models: one without a source run, one ready.
    for (name, run) in [("lm-a", Some(&run_ids[0])), ("lm-b", Some(&run_ids[1])), ("LM-c", None)] {
        let model = store
            .create_logged_model(&exp, Some(name), run.map(String::as_str), None, &[], &[tag("flavor", name)])
            .await
            .unwrap();
        if name == "lm-b" {
            store.finalize_logged_model(&model.info.model_id, "LOGGED_MODEL_READY").await.unwrap();
        }
    }
    let (models, _) = store.search_logged_models(std::slice::from_ref(&exp), None, None, None).await.unwrap();
    let objects = Objects {
        search: "logged models",
        fields: vec![
            ("attributes.name", Kind::Text),
            ("attributes.model_id", Kind::Text),
            ("attributes.status", Kind::Text),
            ("attributes.source_run_id", Kind::Text),
            ("tags.flavor", Kind::Text),
        ],
        rows: models
            .iter()
            .map(|m| {
                let info = &m.info;
                (
                    info.name.clone(),
                    vec![
                        text(&info.name),
                        text(&info.model_id),
                        text(info.status.as_ref()),
                        info.source_run_id.as_deref().and_then(text),
                        text(&info.name),
                    ],
                )
            })
            .collect(),
    };
    check(backend, &objects, |filter| {
        let (store, exp) = (&store, exp.clone());
        async move {
            let (found, _) = store.search_logged_models(&[exp], Some(&filter), None, None).await?;
            Ok(found.into_iter().map(|m| m.info.name).collect())
        }
    })
    .await;

    // Registered models and their versions: one version from a run, one
    // staged, one model without a tag.
    for (name, team) in [("model-a", Some("ml")), ("model-b", Some("ops")), ("Model-c", None)] {
        let tags: Vec<_> = team.map(|t| tag("team", t)).into_iter().collect();
        store.create_registered_model(name, "", &tags).await.unwrap();
    }
    let (models, _) = store.search_registered_models(None, None, &[], None).await.unwrap();
    let objects = Objects {
        search: "registered models",
        fields: vec![("name", Kind::Text), ("attributes.name", Kind::Text), ("tags.team", Kind::Text)],
        rows: models
            .iter()
            .map(|m| {
                let team = m.tags.iter().find(|t| t.key == "team").map(|t| Value::Text(t.value.clone()));
                (m.name.clone(), vec![text(&m.name), text(&m.name), team])
            })
            .collect(),
    };
    check(backend, &objects, |filter| {
        let store = &store;
        async move {
            let (found, _) = store.search_registered_models(Some(&filter), None, &[], None).await?;
            Ok(found.into_iter().map(|m| m.name).collect())
        }
    })
    .await;

    let source = format!("runs:/{}/model", run_ids[0]);
    for (name, source, run) in [
        ("model-a", source.as_str(), Some(run_ids[0].as_str())),
        ("model-a", "s3://bucket/a/2", None),
        ("model-b", "s3://bucket/b/1", None),
    ] {
        let tags = [tag("origin", source)];
        store.create_model_version(name, source, run, None, &tags, None, "", "").await.unwrap();
    }
    store.transition_stage("model-a", "2", "Staging", false, "ana", "").await.unwrap();
    let (versions, _) = store.search_model_versions(None, None, None).await.unwrap();
    let objects = Objects {
        search: "model versions",
        fields: vec![
            ("name", Kind::Text),
            ("attributes.run_id", Kind::Text),
            ("attributes.source_path", Kind::Text),
            ("attributes.source", Kind::Text),
            ("attributes.current_stage", Kind::Text),
            ("attributes.version_number", Kind::Version),
            ("tags.origin", Kind::Text),
        ],
        rows: versions
            .iter()
            .map(|v| {
                (
                    format!("{}/{}", v.name, v.version),
                    vec![
                        text(&v.name),
                        v.run_id.as_deref().and_then(text),
                        text(&v.source),
                        text(&v.source),
                        text(v.current_stage.as_ref()),
                        number(v.version.parse().unwrap()),
                        text(&v.source),
                    ],
                )
            })
            .collect(),
    };
    check(backend, &objects, |filter| {
        let store = &store;
        async move {
            let (found, _) = store.search_model_versions(Some(&filter), None, None).await?;
            Ok(found.into_iter().map(|v| format!("{}/{}", v.name, v.version)).collect())
        }
    })
    .await;
}
