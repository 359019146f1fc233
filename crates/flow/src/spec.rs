//! Pipeline files: YAML read with serde (unknown keys rejected at every
//! level), then checked as a whole (task names, `needs`, cycles, each
//! task's arguments, template variables) so that a mistake is reported
//! with its file and line before anything runs — the equivalent of
//! Airflow's DAG-import test.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::ops::Action;
use crate::schedule::Schedule;
use crate::template;

/// A mistake in a pipeline file, with where it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct SpecError {
    pub file: PathBuf,
    pub line: Option<u32>,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// A checked pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    pub schedule: Schedule,
    pub start_date: DateTime<Utc>,
    pub end_date: Option<DateTime<Utc>>,
    pub catchup: bool,
    pub max_active_runs: u32,
    pub on_failure: Vec<String>,
    pub on_success: Vec<String>,
    /// Defaults for `{{ params.X }}`; a run's `conf` overrides them.
    pub params: Map<String, Value>,
    /// Tasks in file order.
    pub tasks: IndexMap<String, Task>,
}

/// How often and how long to retry a failed task instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub retries: u32,
    pub delay: Duration,
    pub exponential_backoff: bool,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The wait before try `next_try` (2 for the first retry).
    pub fn delay_before(&self, next_try: u32) -> Duration {
        if !self.exponential_backoff {
            return self.delay;
        }
        let doublings = next_try.saturating_sub(2).min(30);
        self.delay.saturating_mul(1 << doublings).min(self.max_delay)
    }
}

/// When a task runs, given its upstream tasks' final states (Airflow's
/// trigger rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerRule {
    #[default]
    AllSuccess,
    AllDone,
    OneFailed,
    NoneFailed,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub name: String,
    /// Line of the task's key in its file.
    pub line: u32,
    pub needs: Vec<String>,
    pub trigger_rule: TriggerRule,
    pub retry: RetryPolicy,
    /// Wall-clock limit of one try (one poke for a sensor).
    pub timeout: Option<Duration>,
    /// Sensors: wait between pokes and give up after `sensor_timeout`.
    pub sensor: Option<SensorTiming>,
    /// `op: train`, `sensor: file` or `gate`.
    pub kind: String,
    /// The task's own arguments, templates not yet rendered.
    pub args: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SensorTiming {
    pub poke_interval: Duration,
    pub timeout: Duration,
    /// At the timeout the sensor is skipped instead of failed.
    pub soft_fail: bool,
}

const DEFAULT_POKE_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_SENSOR_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    retries: Option<u32>,
    retry_delay: Option<String>,
    retry_exponential_backoff: Option<bool>,
    max_retry_delay: Option<String>,
    timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    schedule: Option<Spanned<String>>,
    start_date: Spanned<String>,
    #[serde(default)]
    end_date: Option<Spanned<String>>,
    #[serde(default)]
    catchup: bool,
    #[serde(default = "one")]
    max_active_runs: u32,
    #[serde(default)]
    default_args: Option<Spanned<RawDefaults>>,
    #[serde(default)]
    on_failure: Vec<String>,
    #[serde(default)]
    on_success: Vec<String>,
    #[serde(default)]
    params: Map<String, Value>,
    tasks: Spanned<IndexMap<String, Spanned<RawTask>>>,
}

/// A task's keys as written, each with its line.
type RawTask = IndexMap<String, Spanned<Value>>;

fn one() -> u32 {
    1
}

/// Keys every task may have, whatever it does.
pub const COMMON_KEYS: [&str; 13] = [
    "op",
    "sensor",
    "gate",
    "needs",
    "trigger_rule",
    "retries",
    "retry_delay",
    "retry_exponential_backoff",
    "max_retry_delay",
    "timeout",
    "poke_interval",
    "soft_fail",
    "description",
];

/// Reads and checks one pipeline file.
pub fn load(path: &Path) -> Result<Pipeline, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|e| SpecError {
        file: path.to_path_buf(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(&text, path)
}

/// Parses and checks pipeline text; `file` is used in errors only.
pub fn parse(text: &str, file: &Path) -> Result<Pipeline, SpecError> {
    let error = |line: Option<u32>, message: String| SpecError { file: file.to_path_buf(), line, message };
    let raw: RawPipeline = serde_saphyr::from_str(text).map_err(|e| {
        let (line, message) = yaml_error(&e);
        error(line, message)
    })?;
    let name = raw.name.value.clone();
    if !is_identifier(&name, true) {
        return Err(error(
            Some(raw.name.referenced.line() as u32),
            format!("name '{name}' may use only letters, digits, '_' and '-'"),
        ));
    }
    let schedule = match &raw.schedule {
        Some(s) => Schedule::parse(&s.value).map_err(|m| error(Some(s.referenced.line() as u32), m))?,
        None => Schedule::Manual,
    };
    let start_date = parse_date(&raw.start_date.value)
        .map_err(|m| error(Some(raw.start_date.referenced.line() as u32), format!("start_date: {m}")))?;
    let end_date = match &raw.end_date {
        Some(d) => Some(
            parse_date(&d.value)
                .map_err(|m| error(Some(d.referenced.line() as u32), format!("end_date: {m}")))?,
        ),
        None => None,
    };
    if raw.max_active_runs == 0 {
        return Err(error(None, "max_active_runs must be at least 1".into()));
    }
    let defaults_line = raw.default_args.as_ref().map(|d| d.referenced.line() as u32);
    let defaults = raw.default_args.map(|d| d.value).unwrap_or_default();
    let base_retry = RetryPolicy {
        retries: defaults.retries.unwrap_or(0),
        delay: optional_duration(defaults.retry_delay.as_deref(), Duration::from_secs(300))
            .map_err(|m| error(defaults_line, format!("default_args.retry_delay: {m}")))?,
        exponential_backoff: defaults.retry_exponential_backoff.unwrap_or(false),
        max_delay: optional_duration(defaults.max_retry_delay.as_deref(), Duration::from_secs(24 * 3600))
            .map_err(|m| error(defaults_line, format!("default_args.max_retry_delay: {m}")))?,
    };
    let base_timeout = match defaults.timeout.as_deref() {
        Some(t) => {
            Some(parse_duration(t).map_err(|m| error(defaults_line, format!("default_args.timeout: {m}")))?)
        }
        None => None,
    };

    let tasks_line = raw.tasks.referenced.line() as u32;
    if raw.tasks.value.is_empty() {
        return Err(error(Some(tasks_line), "a pipeline needs at least one task".into()));
    }
    let mut tasks = IndexMap::new();
    for (task_name, body) in raw.tasks.value {
        let line = body.referenced.line() as u32;
        let task = parse_task(&task_name, line, body.value, base_retry, base_timeout)
            .map_err(|(l, m)| error(Some(l.unwrap_or(line)), format!("task '{task_name}': {m}")))?;
        tasks.insert(task_name, task);
    }
    let pipeline = Pipeline {
        name,
        description: raw.description,
        file: file.to_path_buf(),
        schedule,
        start_date,
        end_date,
        catchup: raw.catchup,
        max_active_runs: raw.max_active_runs,
        on_failure: raw.on_failure,
        on_success: raw.on_success,
        params: raw.params,
        tasks,
    };
    check_graph(&pipeline).map_err(|(line, m)| error(line, m))?;
    check_templates(&pipeline).map_err(|(line, m)| error(Some(line), m))?;
    Ok(pipeline)
}

type TaskError = (Option<u32>, String);

fn parse_task(
    name: &str,
    line: u32,
    body: RawTask,
    base_retry: RetryPolicy,
    base_timeout: Option<Duration>,
) -> Result<Task, TaskError> {
    if !is_identifier(name, false) {
        return Err((None, "task names may use only letters, digits and '_'".into()));
    }
    let mut common = BTreeMap::new();
    let mut args = Map::new();
    let mut arg_lines = BTreeMap::new();
    for (key, value) in body {
        let key_line = value.referenced.line() as u32;
        if COMMON_KEYS.contains(&key.as_str()) {
            common.insert(key, (key_line, value.value));
        } else {
            arg_lines.insert(key.clone(), key_line);
            args.insert(key, value.value);
        }
    }
    let text = |key: &str| -> Result<Option<(u32, String)>, TaskError> {
        match common.get(key) {
            None => Ok(None),
            Some((l, Value::String(s))) => Ok(Some((*l, s.clone()))),
            Some((l, Value::Number(n))) if key != "op" && key != "sensor" => Ok(Some((*l, n.to_string()))),
            Some((l, other)) => Err((Some(*l), format!("'{key}' must be a string, got {other}"))),
        }
    };
    let duration = |key: &str| -> Result<Option<Duration>, TaskError> {
        match text(key)? {
            None => Ok(None),
            Some((l, s)) => parse_duration(&s).map(Some).map_err(|m| (Some(l), format!("{key}: {m}"))),
        }
    };
    let kinds: Vec<&str> = ["op", "sensor", "gate"].into_iter().filter(|k| common.contains_key(*k)).collect();
    let kind = match kinds.as_slice() {
        [] => return Err((None, "needs one of 'op', 'sensor' or 'gate'".into())),
        [_, _, ..] => return Err((None, format!("has both '{}' and '{}'; choose one", kinds[0], kinds[1]))),
        ["gate"] => {
            let (l, condition) = text("gate")?.ok_or((None, "'gate' needs a condition".to_string()))?;
            args.insert("condition".into(), Value::String(condition));
            arg_lines.insert("condition".into(), l);
            "gate".to_string()
        }
        [family] => {
            let (_, op) = text(family)?.unwrap_or_default();
            format!("{family}:{op}")
        }
    };
    Action::parse(&kind, &args).map_err(|e| {
        let key_line = e.field.as_ref().and_then(|f| arg_lines.get(f)).copied();
        (key_line, e.message)
    })?;

    let needs = match common.get("needs") {
        None => Vec::new(),
        Some((l, value)) => match value {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or((Some(*l), "'needs' must be a list of task names".to_string()))?,
            _ => return Err((Some(*l), "'needs' must be a list of task names".into())),
        },
    };
    let trigger_rule = match text("trigger_rule")? {
        None => TriggerRule::default(),
        Some((l, rule)) => serde_json::from_value(Value::String(rule.clone())).map_err(|_| {
            (
                Some(l),
                format!(
                    "unknown trigger_rule '{rule}'; use all_success, all_done, one_failed or none_failed"
                ),
            )
        })?,
    };
    let mut retry = base_retry;
    if let Some((l, value)) = common.get("retries") {
        retry.retries = value
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or((Some(*l), "'retries' must be a whole number ≥ 0".to_string()))?;
    }
    if let Some(d) = duration("retry_delay")? {
        retry.delay = d;
    }
    if let Some(d) = duration("max_retry_delay")? {
        retry.max_delay = d;
    }
    if let Some((l, value)) = common.get("retry_exponential_backoff") {
        retry.exponential_backoff = value
            .as_bool()
            .ok_or((Some(*l), "'retry_exponential_backoff' must be true or false".to_string()))?;
    }
    let is_sensor = kind.starts_with("sensor:");
    let poke_interval = duration("poke_interval")?;
    let own_timeout = duration("timeout")?;
    for key in ["poke_interval", "soft_fail"] {
        if !is_sensor && let Some((l, _)) = common.get(key) {
            return Err((Some(*l), format!("'{key}' applies to sensors only")));
        }
    }
    let soft_fail = match common.get("soft_fail") {
        None => false,
        Some((l, value)) => {
            value.as_bool().ok_or((Some(*l), "'soft_fail' must be true or false".to_string()))?
        }
    };
    let (timeout, sensor) = if is_sensor {
        let timing = SensorTiming {
            poke_interval: poke_interval.unwrap_or(DEFAULT_POKE_INTERVAL),
            timeout: own_timeout.unwrap_or(DEFAULT_SENSOR_TIMEOUT),
            soft_fail,
        };
        (base_timeout, Some(timing))
    } else {
        (own_timeout.or(base_timeout), None)
    };
    Ok(Task { name: name.to_string(), line, needs, trigger_rule, retry, timeout, sensor, kind, args })
}

/// `needs` name existing tasks and the graph has no cycle.
fn check_graph(pipeline: &Pipeline) -> Result<(), (Option<u32>, String)> {
    for task in pipeline.tasks.values() {
        for need in &task.needs {
            if need == &task.name {
                return Err((Some(task.line), format!("task '{}' needs itself", task.name)));
            }
            if !pipeline.tasks.contains_key(need) {
                return Err((Some(task.line), format!("task '{}' needs unknown task '{need}'", task.name)));
            }
        }
    }
    if let Some(cycle) = find_cycle(pipeline) {
        let line = pipeline.tasks.get(&cycle[0]).map(|t| t.line);
        return Err((line, format!("tasks form a cycle: {}", cycle.join(" -> "))));
    }
    Ok(())
}

/// A cycle in the `needs` graph, as the task names along it, if any.
fn find_cycle(pipeline: &Pipeline) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        pipeline: &Pipeline,
        name: &str,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(name).copied().unwrap_or(Mark::New) {
            Mark::Done => return None,
            Mark::Open => {
                let start = path.iter().position(|n| n == name).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            Mark::New => {}
        }
        marks.insert(name.to_string(), Mark::Open);
        path.push(name.to_string());
        for need in pipeline.tasks.get(name).map(|t| t.needs.as_slice()).unwrap_or_default() {
            if let Some(cycle) = visit(pipeline, need, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(name.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for name in pipeline.tasks.keys() {
        if let Some(mut cycle) = visit(pipeline, name, &mut marks, &mut Vec::new()) {
            // Report it in the direction data flows.
            cycle.reverse();
            return Some(cycle);
        }
    }
    None
}

impl Pipeline {
    /// Every task `name` depends on, directly or not.
    pub fn upstream_of(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&str> = vec![name];
        while let Some(current) = stack.pop() {
            for need in self.tasks.get(current).map(|t| t.needs.as_slice()).unwrap_or_default() {
                if seen.insert(need.clone()) {
                    stack.push(need);
                }
            }
        }
        seen
    }

    /// Every task that depends on `name`, directly or not.
    pub fn downstream_of(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![name.to_string()];
        while let Some(current) = stack.pop() {
            for task in self.tasks.values() {
                if task.needs.contains(&current) && seen.insert(task.name.clone()) {
                    stack.push(task.name.clone());
                }
            }
        }
        seen
    }
}

/// Every template names only variables that exist: the run's own
/// (`ds`, `params.X` declared under `params`, …), and `outputs.T` of a
/// task T upstream of the one using it.
fn check_templates(pipeline: &Pipeline) -> Result<(), (u32, String)> {
    for task in pipeline.tasks.values() {
        let upstream = pipeline.upstream_of(&task.name);
        let mut strings = Vec::new();
        collect_strings(&Value::Object(task.args.clone()), &mut strings);
        for text in strings {
            let is_condition =
                task.kind == "gate" && task.args.get("condition") == Some(&Value::String(text.clone()));
            let names = if is_condition {
                template::expression_variables(&text)
            } else {
                template::template_variables(&text)
            }
            .map_err(|m| (task.line, format!("task '{}': {m}", task.name)))?;
            for name in names {
                check_variable(pipeline, &upstream, &name)
                    .map_err(|m| (task.line, format!("task '{}': {m}", task.name)))?;
            }
        }
    }
    Ok(())
}

fn check_variable(pipeline: &Pipeline, upstream: &BTreeSet<String>, name: &str) -> Result<(), String> {
    let mut parts = name.split('.');
    let root = parts.next().unwrap_or_default();
    let child = parts.next();
    match root {
        "params" => match child {
            Some(param) if !pipeline.params.contains_key(param) => {
                Err(format!("template uses params.{param}, which the pipeline's 'params' does not declare"))
            }
            _ => Ok(()),
        },
        "outputs" => match child {
            Some(task) if !upstream.contains(task) => Err(format!(
                "template uses outputs.{task}, but '{task}' is not upstream of this task (add it to 'needs')"
            )),
            _ => Ok(()),
        },
        _ if template::CONTEXT_NAMES.contains(&root) => Ok(()),
        _ => Err(format!(
            "template uses undefined variable '{root}'; available: {}",
            template::CONTEXT_NAMES.join(", ")
        )),
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// A YAML error's line and its message without the location the
/// message repeats ("error: line 3 column 5: …").
pub fn yaml_error(error: &serde_saphyr::Error) -> (Option<u32>, String) {
    let line = error.location().map(|l| l.line() as u32);
    let text = error.to_string();
    let first = text.lines().next().unwrap_or("invalid YAML");
    let message = first
        .strip_prefix("error: ")
        .and_then(|rest| rest.strip_prefix("line "))
        .and_then(|rest| rest.split_once(": "))
        .map_or(first, |(_, message)| message);
    (line, message.to_string())
}

fn is_identifier(name: &str, allow_dash: bool) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || (allow_dash && c == '-'))
}

/// `2026-11-01` (midnight UTC) or an RFC 3339 time.
pub fn parse_date(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| format!("'{text}' is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

/// `500ms`, `30s`, `10m`, `6h`, `1d`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("'{text}' is not a duration; write e.g. 30s, 10m, 6h or 1d");
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

fn optional_duration(text: Option<&str>, default: Duration) -> Result<Duration, String> {
    text.map(parse_duration).unwrap_or(Ok(default))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Pipeline, SpecError> {
        parse(text, Path::new("p.yaml"))
    }

    const GOOD: &str = "name: p
schedule: '@daily'
start_date: 2026-11-01
default_args: {retries: 2, retry_delay: 30s, retry_exponential_backoff: true, timeout: 30m}
params: {rows: 10}
tasks:
  wait: {sensor: file, path: 'data/{{ ds }}/data.csv', poke_interval: 10s, timeout: 6h}
  run: {op: shell, needs: [wait], command: 'echo {{ params.rows }} {{ outputs.wait }}'}
";

    #[test]
    fn a_good_pipeline_loads_with_its_defaults() {
        let p = check(GOOD).unwrap();
        assert_eq!(p.tasks.len(), 2);
        let wait = &p.tasks["wait"];
        assert_eq!(wait.line, 7);
        assert_eq!(wait.sensor.unwrap().poke_interval, Duration::from_secs(10));
        assert_eq!(wait.sensor.unwrap().timeout, Duration::from_secs(6 * 3600));
        let run = &p.tasks["run"];
        assert_eq!(run.timeout, Some(Duration::from_secs(1800)));
        assert_eq!(run.retry.retries, 2);
        assert_eq!(run.retry.delay_before(2), Duration::from_secs(30));
        assert_eq!(run.retry.delay_before(3), Duration::from_secs(60));
        assert_eq!(p.upstream_of("run").into_iter().collect::<Vec<_>>(), ["wait"]);
    }

    fn error_of(text: &str) -> String {
        check(text).unwrap_err().to_string()
    }

    #[test]
    fn mistakes_name_the_line_and_what_is_wrong() {
        let base = "name: p\nstart_date: 2026-11-01\ntasks:\n";
        let cases = [
            ("  a: {op: shell, command: x, colour: red}\n", "p.yaml:4:", "colour"),
            ("  a: {op: fly}\n", "p.yaml:4:", "unknown op 'fly'"),
            ("  a: {command: x}\n", "p.yaml:4:", "needs one of 'op', 'sensor' or 'gate'"),
            ("  a: {op: shell, command: x, needs: [b]}\n", "p.yaml:4:", "unknown task 'b'"),
            (
                "  a: {op: shell, command: x, needs: [b]}\n  b: {op: shell, command: x, needs: [a]}\n",
                ":4:",
                "cycle",
            ),
            ("  a: {op: shell, command: '{{ dss }}'}\n", ":4:", "undefined variable 'dss'"),
            ("  a: {op: shell, command: '{{ params.nope }}'}\n", ":4:", "params.nope"),
            (
                "  a: {op: shell, command: '{{ outputs.b.x }}'}\n  b: {op: shell, command: x}\n",
                ":4:",
                "upstream",
            ),
            ("  a: {op: shell, command: '{{ ds '}\n", ":4:", "template"),
            ("  a: {op: shell, command: x, timeout: soon}\n", ":4:", "not a duration"),
            ("  a: {op: shell, command: x, trigger_rule: sometimes}\n", ":4:", "trigger_rule"),
            ("  a: {op: shell}\n", ":4:", "command"),
        ];
        for (tasks, place, what) in cases {
            let message = error_of(&format!("{base}{tasks}"));
            assert!(message.contains(place) && message.contains(what), "{tasks:?} gave {message}");
        }
        let unknown_top = error_of(
            "name: p\nstart_date: 2026-11-01\nschedul: '@daily'\ntasks:\n  a: {op: shell, command: x}\n",
        );
        assert!(unknown_top.contains(":3") && unknown_top.contains("schedul"), "{unknown_top}");
        let bad_cron = error_of(
            "name: p\nstart_date: 2026-11-01\nschedule: '61 * * * *'\ntasks:\n  a: {op: shell, command: x}\n",
        );
        assert!(bad_cron.contains(":3:") && bad_cron.contains("schedule"), "{bad_cron}");
        let bad_date = error_of("name: p\nstart_date: yesterday\ntasks:\n  a: {op: shell, command: x}\n");
        assert!(bad_date.contains(":2:") && bad_date.contains("start_date"), "{bad_date}");
    }

    #[test]
    fn durations_read_like_airflow_users_write_them() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("ten").is_err());
    }
}
