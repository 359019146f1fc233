//! `schemas/pipeline.schema.json` (for editors) says exactly what the
//! loader accepts: one definition per op and sensor, the same common keys,
//! and, for every kind, the same argument names as its argument struct —
//! read from the loader itself by asking it about an unknown field.

use std::collections::BTreeSet;

use retrain_flow::ops::{Action, OPS, SENSORS};
use retrain_flow::pipeline::COMMON_KEYS;
use serde_json::{Map, Value, json};

fn schema() -> Value {
    let text = include_str!("../../../../schemas/pipeline.schema.json");
    serde_json::from_str(text).expect("the schema is JSON")
}

/// The argument names a kind accepts, from serde's "expected one of" list.
fn accepted(kind: &str) -> BTreeSet<String> {
    let mut probe = Map::new();
    probe.insert("__probe__".into(), json!(1));
    let error = Action::parse(kind, &probe).expect_err("an unknown field is refused").message;
    let expected =
        error.split("expected one of").nth(1).or_else(|| error.split("expected").nth(1)).unwrap_or("");
    expected.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

fn properties(definition: &Value) -> BTreeSet<String> {
    definition["properties"].as_object().expect("properties").keys().cloned().collect()
}

#[test]
fn the_schema_matches_the_loader() {
    let schema = schema();
    let defs = &schema["$defs"];
    let sensor_only: BTreeSet<String> =
        ["poke_interval", "soft_fail"].iter().map(|k| k.to_string()).collect();
    let common: BTreeSet<String> = COMMON_KEYS
        .iter()
        .map(|k| k.to_string())
        .filter(|k| !["op", "sensor", "gate"].contains(&k.as_str()) && !sensor_only.contains(k))
        .collect();
    for (family, names) in [("op", OPS.as_slice()), ("sensor", SENSORS.as_slice())] {
        for name in names {
            let definition = &defs[format!("{family}_{name}")];
            assert!(definition.is_object(), "no schema for {family}: {name}");
            let mut wanted = accepted(&format!("{family}:{name}"));
            wanted.insert(family.to_owned());
            wanted.extend(common.iter().cloned());
            if family == "sensor" {
                wanted.extend(sensor_only.iter().cloned());
            } else {
                for key in &sensor_only {
                    assert!(!properties(definition).contains(key), "{name} allows {key}");
                }
            }
            assert_eq!(properties(definition), wanted, "{family}: {name}");
        }
    }
    let variants = defs["task"]["oneOf"].as_array().unwrap().len();
    assert_eq!(variants, OPS.len() + SENSORS.len() + 1, "one variant per op and sensor, and the gate");
}
