//! Reading a pipeline file key by key and checking it to its end: each
//! value is read on its own, a wrong one is recorded as a fault with its
//! line and read as its default, so that one fault does not hide the next.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use chrono::DateTime;
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::ops::Action;
use crate::schedule::Schedule;
use crate::template;

use super::text::{parse_date, parse_duration, yaml_error};
use super::{
    DEFAULT_POKE_INTERVAL, DEFAULT_SENSOR_TIMEOUT, Fault, Pipeline, PipelineError, RetryPolicy, SensorTiming,
    Task,
};

/// Where the checks of one file put what they find.
#[derive(Default)]
struct Faults(Vec<Fault>);

impl Faults {
    fn push(&mut self, line: Option<u32>, message: impl Into<String>) {
        self.0.push(Fault { line, message: message.into() });
    }

    /// The value, or `None` with the fault recorded.
    fn keep<T, E: fmt::Display>(&mut self, line: Option<u32>, result: Result<T, E>) -> Option<T> {
        result.map_err(|e| self.push(line, e.to_string())).ok()
    }

    /// The faults of one part of the file (a task, `default_args`): on
    /// the part's line unless they name their own, and prefixed with what
    /// the part is.
    fn scoped(&mut self, prefix: String, line: u32) -> Scoped<'_> {
        Scoped { faults: self, prefix, line }
    }
}

struct Scoped<'a> {
    faults: &'a mut Faults,
    prefix: String,
    line: u32,
}

impl Scoped<'_> {
    fn push(&mut self, line: Option<u32>, message: impl fmt::Display) {
        let message = format!("{}{message}", self.prefix);
        self.faults.push(Some(line.unwrap_or(self.line)), message);
    }

    fn keep<T, E: fmt::Display>(&mut self, line: Option<u32>, result: Result<T, E>) -> Option<T> {
        result.map_err(|e| self.push(line, e)).ok()
    }
}

/// A pipeline file's top-level keys as written, each with its line. The
/// values are checked one by one afterwards, so that a wrong one does not
/// stop the others from being checked.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPipeline {
    name: Option<Spanned<Value>>,
    description: Option<Spanned<Value>>,
    schedule: Option<Spanned<Value>>,
    start_date: Option<Spanned<Value>>,
    end_date: Option<Spanned<Value>>,
    catchup: Option<Spanned<Value>>,
    max_active_runs: Option<Spanned<Value>>,
    default_args: Option<Spanned<Keys>>,
    on_failure: Option<Spanned<Value>>,
    on_success: Option<Spanned<Value>>,
    params: Option<Spanned<Value>>,
    tasks: Option<Spanned<IndexMap<String, Spanned<Keys>>>>,
}

/// The keys a pipeline file may have at the top.
const TOP_LEVEL_KEYS: [&str; 12] = [
    "name",
    "description",
    "schedule",
    "start_date",
    "end_date",
    "catchup",
    "max_active_runs",
    "default_args",
    "on_failure",
    "on_success",
    "params",
    "tasks",
];

/// The task keys `default_args` sets for every task.
const DEFAULT_ARGS_KEYS: [&str; 5] =
    ["retries", "retry_delay", "retry_exponential_backoff", "max_retry_delay", "timeout"];

/// A mapping's keys as written, each with its line.
type Keys = IndexMap<String, Spanned<Value>>;

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

/// A pipeline read as far as it goes, with every fault found on the way.
pub(crate) struct Checked {
    /// What could be read; a faulty value reads as its default and a
    /// faulty task is left out.
    pub(crate) pipeline: Pipeline,
    faults: Faults,
}

impl Checked {
    /// Records a fault only the caller can see (the project's channels and files).
    pub(crate) fn add(&mut self, line: Option<u32>, message: impl Into<String>) {
        self.faults.push(line, message);
    }

    /// The pipeline if nothing was found wrong with it.
    pub(crate) fn finish(self) -> Result<Pipeline, PipelineError> {
        if self.faults.0.is_empty() {
            Ok(self.pipeline)
        } else {
            Err(PipelineError::from_faults(&self.pipeline.file, self.faults.0))
        }
    }
}

/// Reads and checks pipeline text to its end. Only text that is not a YAML
/// mapping stops the check at once.
pub(crate) fn check(text: &str, file: &Path) -> Result<Checked, PipelineError> {
    let unreadable = |e: serde_saphyr::Error| {
        let (line, message) = yaml_error(&e);
        PipelineError::single(file, line, message)
    };
    let keys: IndexMap<String, Spanned<IgnoredAny>> = serde_saphyr::from_str(text).map_err(unreadable)?;
    let raw: RawPipeline = serde_saphyr::from_str(text).map_err(unreadable)?;
    let mut faults = Faults::default();
    for (key, value) in &keys {
        if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
            faults.push(
                Some(value.referenced.line() as u32),
                format!("unknown key '{key}'; a pipeline has {}", TOP_LEVEL_KEYS.join(", ")),
            );
        }
    }

    let name = match typed::<String>(&mut faults, "name", raw.name) {
        Some((line, name)) => {
            if !is_identifier(&name, true) {
                faults.push(Some(line), format!("name '{name}' may use only letters, digits, '_' and '-'"));
            }
            name
        }
        None => {
            faults.push(None, "'name' is missing: every pipeline has a name");
            String::new()
        }
    };
    let description = typed(&mut faults, "description", raw.description).map(|(_, d)| d).unwrap_or_default();
    let schedule = typed::<String>(&mut faults, "schedule", raw.schedule)
        .and_then(|(line, text)| faults.keep(Some(line), Schedule::parse(&text)))
        .unwrap_or(Schedule::Manual);
    let start_date = match typed::<String>(&mut faults, "start_date", raw.start_date) {
        Some((line, text)) => {
            faults.keep(Some(line), parse_date(&text).map_err(|m| format!("start_date: {m}")))
        }
        None => {
            faults.push(None, "'start_date' is missing: write the first interval's start, e.g. 2026-11-01");
            None
        }
    };
    let end_date = typed::<String>(&mut faults, "end_date", raw.end_date).and_then(|(line, text)| {
        faults.keep(Some(line), parse_date(&text).map_err(|m| format!("end_date: {m}")))
    });
    let catchup = typed(&mut faults, "catchup", raw.catchup).is_some_and(|(_, c)| c);
    let max_active_runs = match typed::<u32>(&mut faults, "max_active_runs", raw.max_active_runs) {
        Some((line, 0)) => {
            faults.push(Some(line), "max_active_runs must be at least 1");
            1
        }
        Some((_, n)) => n,
        None => 1,
    };
    let on_failure = typed(&mut faults, "on_failure", raw.on_failure).map(|(_, c)| c).unwrap_or_default();
    let on_success = typed(&mut faults, "on_success", raw.on_success).map(|(_, c)| c).unwrap_or_default();
    let params = typed(&mut faults, "params", raw.params).map(|(_, p)| p).unwrap_or_default();

    let (base_retry, base_timeout) = defaults(raw.default_args, &mut faults);
    let mut tasks = IndexMap::new();
    let mut declared = BTreeSet::new();
    match raw.tasks {
        Some(raw_tasks) if !raw_tasks.value.is_empty() => {
            for (task_name, body) in raw_tasks.value {
                declared.insert(task_name.clone());
                let line = body.referenced.line() as u32;
                let mut scope = faults.scoped(format!("task '{task_name}': "), line);
                if let Some(task) =
                    parse_task(&task_name, line, body.value, base_retry, base_timeout, &mut scope)
                {
                    tasks.insert(task_name, task);
                }
            }
        }
        Some(raw_tasks) => {
            faults.push(Some(raw_tasks.referenced.line() as u32), "a pipeline needs at least one task")
        }
        None => faults.push(None, "'tasks' is missing: a pipeline needs at least one task"),
    }
    let pipeline = Pipeline {
        name,
        description,
        file: file.to_path_buf(),
        schedule,
        start_date: start_date.unwrap_or(DateTime::UNIX_EPOCH),
        end_date,
        catchup,
        max_active_runs,
        on_failure,
        on_success,
        params,
        tasks,
    };
    check_graph(&pipeline, &declared, &mut faults);
    check_templates(&pipeline, &mut faults);
    Ok(Checked { pipeline, faults })
}

/// A top-level value of type `T` with its line; a value of another type
/// is a fault.
fn typed<T: DeserializeOwned>(
    faults: &mut Faults,
    key: &str,
    raw: Option<Spanned<Value>>,
) -> Option<(u32, T)> {
    let raw = raw?;
    let line = raw.referenced.line() as u32;
    faults.keep(
        Some(line),
        serde_json::from_value(raw.value).map(|v| (line, v)).map_err(|e| format!("'{key}': {e}")),
    )
}

/// The retry policy and timeout `default_args` gives every task.
fn defaults(raw: Option<Spanned<Keys>>, faults: &mut Faults) -> (RetryPolicy, Option<Duration>) {
    let airflow_defaults = RetryPolicy {
        retries: 0,
        delay: Duration::from_secs(300),
        exponential_backoff: false,
        max_delay: Duration::from_secs(24 * 3600),
    };
    let Some(raw) = raw else { return (airflow_defaults, None) };
    let mut scope = faults.scoped("default_args: ".into(), raw.referenced.line() as u32);
    let entries = Entries::new(raw.value);
    for (key, (line, _)) in &entries.0 {
        if !DEFAULT_ARGS_KEYS.contains(&key.as_str()) {
            scope.push(
                Some(*line),
                format!("unknown key '{key}'; default_args sets {}", DEFAULT_ARGS_KEYS.join(", ")),
            );
        }
    }
    let retry = entries.retry_policy(&mut scope, airflow_defaults);
    (retry, entries.duration(&mut scope, "timeout"))
}

/// A mapping's entries with their lines, read by typed getters that record
/// a wrong value as a fault and read it as absent, so checking goes on.
struct Entries(BTreeMap<String, (u32, Value)>);

impl Entries {
    fn new(keys: Keys) -> Entries {
        Entries(
            keys.into_iter()
                .map(|(key, value)| (key, (value.referenced.line() as u32, value.value)))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&(u32, Value)> {
        self.0.get(key)
    }

    fn text(&self, scope: &mut Scoped<'_>, key: &str) -> Option<(u32, String)> {
        match self.get(key)? {
            (line, Value::String(s)) => Some((*line, s.clone())),
            (line, Value::Number(n)) if key != "op" && key != "sensor" => Some((*line, n.to_string())),
            (line, other) => {
                scope.push(Some(*line), format!("'{key}' must be a string, got {other}"));
                None
            }
        }
    }

    fn duration(&self, scope: &mut Scoped<'_>, key: &str) -> Option<Duration> {
        let (line, text) = self.text(scope, key)?;
        scope.keep(Some(line), parse_duration(&text).map_err(|m| format!("{key}: {m}")))
    }

    fn flag(&self, scope: &mut Scoped<'_>, key: &str) -> Option<bool> {
        let (line, value) = self.get(key)?;
        scope.keep(Some(*line), value.as_bool().ok_or(format!("'{key}' must be true or false")))
    }

    fn count(&self, scope: &mut Scoped<'_>, key: &str) -> Option<u32> {
        let (line, value) = self.get(key)?;
        let count = value.as_u64().and_then(|v| u32::try_from(v).ok());
        scope.keep(Some(*line), count.ok_or(format!("'{key}' must be a whole number ≥ 0")))
    }

    /// `base` with what these entries change of it: `default_args` and
    /// each task write retries alike.
    fn retry_policy(&self, scope: &mut Scoped<'_>, base: RetryPolicy) -> RetryPolicy {
        RetryPolicy {
            retries: self.count(scope, "retries").unwrap_or(base.retries),
            delay: self.duration(scope, "retry_delay").unwrap_or(base.delay),
            exponential_backoff: self
                .flag(scope, "retry_exponential_backoff")
                .unwrap_or(base.exponential_backoff),
            max_delay: self.duration(scope, "max_retry_delay").unwrap_or(base.max_delay),
        }
    }
}

/// One task, or `None` when it cannot be read as any kind of task; its
/// faults go to `scope`.
fn parse_task(
    name: &str,
    line: u32,
    body: Keys,
    base_retry: RetryPolicy,
    base_timeout: Option<Duration>,
    scope: &mut Scoped<'_>,
) -> Option<Task> {
    if !is_identifier(name, false) {
        scope.push(None, "task names may use only letters, digits and '_'");
    }
    let (common, mut args): (Keys, Keys) =
        body.into_iter().partition(|(key, _)| COMMON_KEYS.contains(&key.as_str()));
    let common = Entries::new(common);
    let mut arg_lines: BTreeMap<String, u32> =
        args.iter().map(|(key, value)| (key.clone(), value.referenced.line() as u32)).collect();
    let mut args: Map<String, Value> = args.drain(..).map(|(key, value)| (key, value.value)).collect();

    let kinds: Vec<&str> = ["op", "sensor", "gate"].into_iter().filter(|k| common.get(k).is_some()).collect();
    let kind = match kinds.as_slice() {
        [] => {
            scope.push(None, "needs one of 'op', 'sensor' or 'gate'");
            return None;
        }
        [first, second, ..] => {
            scope.push(None, format!("has both '{first}' and '{second}'; choose one"));
            return None;
        }
        ["gate"] => {
            let (condition_line, condition) = common.text(scope, "gate")?;
            args.insert("condition".into(), Value::String(condition));
            arg_lines.insert("condition".into(), condition_line);
            "gate".to_owned()
        }
        [family] => format!("{family}:{}", common.text(scope, family)?.1),
    };
    if let Err(e) = Action::parse(&kind, &args) {
        scope.push(e.field.as_ref().and_then(|f| arg_lines.get(f)).copied(), e.message);
    }

    let needs = match common.get("needs") {
        None => Vec::new(),
        Some((_, Value::String(s))) => vec![s.clone()],
        Some((need_line, value)) => {
            let names = value
                .as_array()
                .and_then(|items| items.iter().map(|v| v.as_str().map(str::to_owned)).collect());
            scope
                .keep(Some(*need_line), names.ok_or("'needs' must be a list of task names".to_owned()))
                .unwrap_or_default()
        }
    };
    let trigger_rule = common
        .text(scope, "trigger_rule")
        .and_then(|(rule_line, rule)| {
            let parsed = serde_json::from_value(Value::String(rule.clone())).map_err(|_| {
                format!("unknown trigger_rule '{rule}'; use all_success, all_done, one_failed or none_failed")
            });
            scope.keep(Some(rule_line), parsed)
        })
        .unwrap_or_default();
    let retry = common.retry_policy(scope, base_retry);
    let is_sensor = kind.starts_with("sensor:");
    for key in ["poke_interval", "soft_fail"] {
        if !is_sensor && let Some((key_line, _)) = common.get(key) {
            scope.push(Some(*key_line), format!("'{key}' applies to sensors only"));
        }
    }
    let own_timeout = common.duration(scope, "timeout");
    let (timeout, sensor) = if is_sensor {
        let timing = SensorTiming {
            poke_interval: common.duration(scope, "poke_interval").unwrap_or(DEFAULT_POKE_INTERVAL),
            timeout: own_timeout.unwrap_or(DEFAULT_SENSOR_TIMEOUT),
            soft_fail: common.flag(scope, "soft_fail").unwrap_or(false),
        };
        (base_timeout, Some(timing))
    } else {
        (own_timeout.or(base_timeout), None)
    };
    Some(Task { name: name.to_owned(), line, needs, trigger_rule, retry, timeout, sensor, kind, args })
}

/// `needs` name tasks the file declares, and the graph has no cycle.
fn check_graph(pipeline: &Pipeline, declared: &BTreeSet<String>, faults: &mut Faults) {
    for task in pipeline.tasks.values() {
        for need in &task.needs {
            if need == &task.name {
                faults.push(Some(task.line), format!("task '{}' needs itself", task.name));
            } else if !declared.contains(need) {
                faults.push(Some(task.line), format!("task '{}' needs unknown task '{need}'", task.name));
            }
        }
    }
    if let Some(cycle) = find_cycle(pipeline) {
        let line = pipeline.tasks.get(&cycle[0]).map(|t| t.line);
        faults.push(line, format!("tasks form a cycle: {}", cycle.join(" -> ")));
    }
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
                cycle.push(name.to_owned());
                return Some(cycle);
            }
            Mark::New => {}
        }
        marks.insert(name.to_owned(), Mark::Open);
        path.push(name.to_owned());
        for need in pipeline.tasks.get(name).map(|t| t.needs.as_slice()).unwrap_or_default() {
            if let Some(cycle) = visit(pipeline, need, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(name.to_owned(), Mark::Done);
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

/// Every template names only variables that exist: the run's own
/// (`ds`, `params.X` declared under `params`, …), and `outputs.T` of a
/// task T upstream of the one using it.
fn check_templates(pipeline: &Pipeline, faults: &mut Faults) {
    for task in pipeline.tasks.values() {
        let upstream = pipeline.upstream_of(&task.name);
        let mut strings = Vec::new();
        collect_strings(&Value::Object(task.args.clone()), &mut strings);
        let mut scope = faults.scoped(format!("task '{}': ", task.name), task.line);
        for text in strings {
            let is_condition =
                task.kind == "gate" && task.args.get("condition") == Some(&Value::String(text.clone()));
            let names = if is_condition {
                template::expression_variables(&text)
            } else {
                template::template_variables(&text)
            };
            for name in scope.keep(None, names).unwrap_or_default() {
                scope.keep(None, check_variable(pipeline, &upstream, &name));
            }
        }
    }
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

fn is_identifier(name: &str, allow_dash: bool) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || (allow_dash && c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::parse;

    fn check(text: &str) -> Result<Pipeline, PipelineError> {
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

    /// Files with several mistakes, and every fault each must report, as
    /// (line, what the message says); `None` is a fault of the whole file.
    #[test]
    fn every_fault_in_a_file_is_reported_with_its_line() {
        type Faults = &'static [(Option<u32>, &'static str)];
        let cases: [(&str, Faults); 4] = [
            (
                "name: p\ntasks:\n  a: {op: fly}\n",
                &[(None, "'start_date' is missing"), (Some(3), "unknown op 'fly'")],
            ),
            (
                "name: bad name\nstart_date: soon\nschedule: '61 * * * *'\ncolour: red\nmax_active_runs: 0\ntasks:\n  a: {op: shell, command: x, timeout: soon, retries: -1}\n  b: {op: shell, command: '{{ dss }}', needs: [a, c]}\n",
                &[
                    (Some(1), "name 'bad name'"),
                    (Some(2), "start_date"),
                    (Some(3), "schedule"),
                    (Some(4), "unknown key 'colour'"),
                    (Some(5), "max_active_runs"),
                    (Some(7), "'retries' must be a whole number"),
                    (Some(7), "timeout: 'soon' is not a duration"),
                    (Some(8), "needs unknown task 'c'"),
                    (Some(8), "undefined variable 'dss'"),
                ],
            ),
            (
                "name: p\nstart_date: 2026-11-01\ndefault_args: {retries: x, colour: red}\ntasks:\n  a: {command: x}\n  b: {op: shell, command: x, needs: [a], poke_interval: 5s}\n",
                &[
                    (Some(3), "default_args: unknown key 'colour'"),
                    (Some(3), "default_args: 'retries' must be a whole number"),
                    (Some(5), "task 'a': needs one of 'op', 'sensor' or 'gate'"),
                    (Some(6), "'poke_interval' applies to sensors only"),
                ],
            ),
            (
                "name: p\nstart_date: 2026-11-01\ntasks:\n  a: {op: shell, command: x, needs: [b]}\n  b: {op: shell, command: x, needs: [a]}\n  c: {op: shell, command: x, needs: [c]}\n",
                &[(Some(4), "cycle"), (Some(6), "needs itself")],
            ),
        ];
        for (text, expected) in cases {
            let error = check(text).unwrap_err();
            let found: Vec<String> =
                error.faults.iter().map(|f| format!("{:?} {}", f.line, f.message)).collect();
            assert_eq!(found.len(), expected.len(), "{text:?} gave {found:#?}");
            for (line, what) in expected {
                assert!(
                    error.faults.iter().any(|f| f.line == *line && f.message.contains(what)),
                    "{text:?}: no fault {line:?} {what:?} in {found:#?}"
                );
            }
            let lines: Vec<Option<u32>> = error.faults.iter().map(|f| f.line).collect();
            assert!(lines.is_sorted(), "faults are in line order: {lines:?}");
            assert_eq!(error.to_string().lines().count(), expected.len(), "one line per fault");
        }
    }
}
