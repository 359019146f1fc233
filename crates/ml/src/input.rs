//! Scoring requests in the formats of MLflow's scoring protocol, turned
//! into a [`Dataset`] of named columns: `dataframe_split`,
//! `dataframe_records`, `instances` and `inputs` (JSON), and CSV with a
//! header. Rows without column names are taken in the model's column
//! order when their width matches it. Every mistake names the field, row
//! or column.

use std::path::Path;

use serde_json::{Map, Value};

use crate::data::{self, Dataset, Matrix};
use crate::error::{Error, Result};

/// The request's fields that carry data; exactly one must be present.
const JSON_FIELDS: [&str; 4] = ["dataframe_split", "dataframe_records", "instances", "inputs"];

fn source() -> &'static Path {
    Path::new("request")
}

fn invalid(message: impl Into<String>) -> Error {
    Error::csv(source(), message)
}

/// Columns as parsed, before they are turned into a matrix.
struct Columns {
    /// `None` when the rows came without names.
    names: Option<Vec<String>>,
    rows: Vec<Vec<f64>>,
}

/// Parses a JSON scoring request; `model_features` names the columns of
/// rows sent without names.
pub fn from_json(body: &[u8], model_features: &[String]) -> Result<Dataset> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid(
            "the body is empty; send a JSON object with one of dataframe_split, dataframe_records, instances, inputs",
        ));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(invalid(
            "the body must be a JSON object with one of dataframe_split, dataframe_records, instances, inputs",
        ));
    };
    let present: Vec<&str> = JSON_FIELDS.iter().copied().filter(|f| object.contains_key(*f)).collect();
    let unknown: Vec<&str> =
        object.keys().map(String::as_str).filter(|k| !JSON_FIELDS.contains(k) && *k != "params").collect();
    if present.len() != 1 || !unknown.is_empty() {
        let received: Vec<&str> = object.keys().map(String::as_str).collect();
        return Err(invalid(format!(
            "the body must have exactly one of the fields {} (and optionally params); received {}",
            JSON_FIELDS.join(", "),
            if received.is_empty() { "none".to_owned() } else { received.join(", ") }
        )));
    }
    let field = present[0];
    let columns = match (field, &object[field]) {
        ("dataframe_split", Value::Object(split)) => dataframe_split(split)?,
        ("dataframe_split", _) => {
            return Err(invalid("dataframe_split must be an object with columns and data"));
        }
        (_, Value::Array(items)) => rows_of(field, items)?,
        ("inputs", Value::Object(by_column)) => columns_of(by_column)?,
        (_, _) => return Err(invalid(format!("{field} must be a list of rows"))),
    };
    to_dataset(columns, model_features)
}

/// Parses CSV with a header; a column named like the model's target is ignored.
pub fn from_csv(text: &str, target: &str) -> Result<Dataset> {
    data::parse_features_text(source(), text, target)
}

fn dataframe_split(split: &Map<String, Value>) -> Result<Columns> {
    if let Some(key) = split.keys().find(|k| !["columns", "data", "index"].contains(&k.as_str())) {
        return Err(invalid(format!(
            "dataframe_split: unknown field '{key}'; expected columns, data, index"
        )));
    }
    let names = match split.get("columns") {
        None => None,
        Some(Value::Array(names)) => Some(
            names
                .iter()
                .map(|n| match n {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(invalid(format!("dataframe_split.columns: {other} is not a column name"))),
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        Some(_) => return Err(invalid("dataframe_split.columns must be a list of names")),
    };
    let Some(Value::Array(data)) = split.get("data") else {
        return Err(invalid("dataframe_split.data must be a list of rows"));
    };
    let mut rows = Vec::with_capacity(data.len());
    for (i, row) in data.iter().enumerate() {
        let Value::Array(cells) = row else {
            return Err(invalid(format!("dataframe_split.data[{i}] must be a list of values")));
        };
        if let Some(names) = &names
            && cells.len() != names.len()
        {
            return Err(invalid(format!(
                "dataframe_split.data[{i}] has {} values but there are {} columns",
                cells.len(),
                names.len()
            )));
        }
        let column = |j: usize| names.as_ref().map_or_else(|| format!("#{j}"), |n| n[j].clone());
        rows.push(cells.iter().enumerate().map(|(j, v)| number(v, &column(j), i)).collect::<Result<_>>()?);
    }
    Ok(Columns { names, rows })
}

/// A list of records (objects) or of plain rows (lists).
fn rows_of(field: &str, items: &[Value]) -> Result<Columns> {
    match items.first() {
        Some(Value::Object(_)) => {
            let mut names: Vec<String> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let Value::Object(record) = item else {
                    return Err(invalid(format!("{field}[{i}] must be an object like the rows before it")));
                };
                for key in record.keys() {
                    if !names.contains(key) {
                        names.push(key.clone());
                    }
                }
            }
            let mut rows = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let record = item.as_object().map(|r| r as &Map<String, Value>);
                rows.push(
                    names
                        .iter()
                        .map(|name| match record.and_then(|r| r.get(name)) {
                            Some(v) => number(v, name, i),
                            None => Ok(f64::NAN),
                        })
                        .collect::<Result<_>>()?,
                );
            }
            Ok(Columns { names: Some(names), rows })
        }
        _ => {
            let mut rows = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Value::Array(cells) = item else {
                    return Err(invalid(format!("{field}[{i}] must be a list of values or an object")));
                };
                rows.push(
                    cells
                        .iter()
                        .enumerate()
                        .map(|(j, v)| number(v, &format!("#{j}"), i))
                        .collect::<Result<_>>()?,
                );
            }
            Ok(Columns { names: None, rows })
        }
    }
}

/// `inputs` as a dict of columns: `{"a": [1, 2], "b": [3, 4]}`.
fn columns_of(by_column: &Map<String, Value>) -> Result<Columns> {
    let mut names = Vec::new();
    let mut columns = Vec::new();
    for (name, values) in by_column {
        let values = match values {
            Value::Array(values) => values.clone(),
            single => vec![single.clone()],
        };
        names.push(name.clone());
        columns.push(values);
    }
    let rows = columns.first().map_or(0, Vec::len);
    if let Some((name, column)) = names.iter().zip(&columns).find(|(_, c)| c.len() != rows) {
        return Err(invalid(format!(
            "inputs: column '{name}' has {} values, the first column {rows}",
            column.len()
        )));
    }
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        out.push(names.iter().zip(&columns).map(|(name, c)| number(&c[i], name, i)).collect::<Result<_>>()?);
    }
    Ok(Columns { names: Some(names), rows: out })
}

fn number(value: &Value, column: &str, row: usize) -> Result<f64> {
    match value {
        Value::Number(n) => {
            n.as_f64().ok_or_else(|| invalid(format!("row {row}, column '{column}': {n} is out of range")))
        }
        Value::Null => Ok(f64::NAN),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(invalid(format!("row {row}, column '{column}': '{s}' is not a number"))),
        },
        other => Err(invalid(format!("row {row}, column '{column}': {other} is not a number"))),
    }
}

fn to_dataset(columns: Columns, model_features: &[String]) -> Result<Dataset> {
    if columns.rows.is_empty() {
        return Err(invalid("the request has no rows"));
    }
    let width = columns.rows[0].len();
    if let Some(i) = columns.rows.iter().position(|r| r.len() != width) {
        return Err(invalid(format!("row {i} has {} values, row 0 has {width}", columns.rows[i].len())));
    }
    let features = match columns.names {
        Some(names) => names,
        None if width == model_features.len() => model_features.to_vec(),
        None => {
            return Err(invalid(format!(
                "rows without column names have {width} values, but the model expects {} columns: {}",
                model_features.len(),
                model_features.join(", ")
            )));
        }
    };
    let rows = columns.rows.len();
    let mut first_missing = None;
    for (i, row) in columns.rows.iter().enumerate() {
        if let Some(j) = row.iter().position(|v| v.is_nan()) {
            first_missing = Some(data::MissingCell { line: i as u64, column: features[j].clone() });
            break;
        }
    }
    Ok(Dataset {
        source: source().to_path_buf(),
        x: Matrix::new(rows, width, columns.rows.into_iter().flatten().collect()),
        features,
        target: None,
        first_missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features() -> Vec<String> {
        ["a", "b"].iter().map(|s| s.to_string()).collect()
    }

    fn parse(body: &str) -> Result<Dataset> {
        from_json(body.as_bytes(), &features())
    }

    #[test]
    fn every_format_gives_the_same_rows() {
        let bodies = [
            r#"{"dataframe_split": {"columns": ["b", "a"], "data": [[2, 1], [4, 3]]}}"#,
            r#"{"dataframe_records": [{"b": 2, "a": 1}, {"b": 4, "a": 3}]}"#,
            r#"{"instances": [{"b": 2, "a": 1}, {"b": 4, "a": 3}]}"#,
            r#"{"inputs": {"b": [2, 4], "a": [1, 3]}}"#,
            r#"{"inputs": [{"b": 2, "a": 1}, {"b": 4, "a": 3}], "params": {}}"#,
        ];
        for body in bodies {
            let d = parse(body).unwrap();
            let m = d.aligned_to(&features(), &[]).unwrap();
            assert_eq!((m.row(0).to_vec(), m.row(1).to_vec()), (vec![1.0, 2.0], vec![3.0, 4.0]), "{body}");
        }
        let positional = parse(r#"{"instances": [[1, 2], [3, 4]]}"#).unwrap();
        assert_eq!(positional.features, features());
    }

    #[test]
    fn mistakes_name_what_is_wrong() {
        let cases = [
            ("", "empty"),
            ("{\"dataframe_split\": {", "not valid JSON"),
            ("[1]", "JSON object"),
            ("{\"data\": []}", "exactly one"),
            ("{\"instances\": [], \"inputs\": []}", "exactly one"),
            (
                r#"{"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}"#,
                "has 1 values but there are 2 columns",
            ),
            (r#"{"dataframe_records": [{"a": "x", "b": 1}]}"#, "column 'a': 'x' is not a number"),
            (r#"{"dataframe_records": [{"a": true, "b": 1}]}"#, "column 'a'"),
            (r#"{"instances": [[1, 2, 3]]}"#, "expects 2 columns"),
            (r#"{"inputs": {"a": [1, 2], "b": [1]}}"#, "column 'b' has 1 values"),
            (r#"{"dataframe_records": []}"#, "no rows"),
        ];
        for (body, expected) in cases {
            let message = parse(body).unwrap_err().to_string();
            assert!(message.contains(expected), "{body:?}: {message}");
        }
    }

    #[test]
    fn csv_requests_read_a_header() {
        let d = from_csv("b,a,target\n2,1,x\n", "target").unwrap();
        assert_eq!(d.features, ["b", "a"]);
        assert!(from_csv("", "target").is_err());
    }
}
