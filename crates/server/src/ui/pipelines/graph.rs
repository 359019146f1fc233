//! A pipeline's task graph drawn as SVG on the server, so it reads
//! without a script: tasks in columns by their depth (the longest chain
//! of `needs` before them), each column ordered by where its upstream
//! tasks sit so that edges cross little, edges as curves with
//! arrowheads. Each task is coloured by its state in one run and links to
//! that task instance; sensors are drawn as pills and gates as diamonds
//! (each with its kind written under the name), so a graph shows where a
//! run waits and where it decides.

use std::collections::HashMap;
use std::fmt::Write;

use retrain_flow::pipeline::Pipeline;

const NODE_WIDTH: f64 = 170.0;
const NODE_HEIGHT: f64 = 40.0;
const COLUMN_GAP: f64 = 70.0;
const ROW_GAP: f64 = 18.0;
const MARGIN: f64 = 10.0;

/// What the graph shows of one task in the chosen run.
pub(super) struct NodeState {
    /// Airflow's state name, `none` when the task has no instance yet.
    pub(super) state: String,
    /// The task instance's page, when the run has one.
    pub(super) href: Option<String>,
}

/// How a task is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Operator,
    Sensor,
    Gate,
}

fn shape(kind: &str) -> Shape {
    if kind.starts_with("sensor") {
        Shape::Sensor
    } else if kind == "gate" {
        Shape::Gate
    } else {
        Shape::Operator
    }
}

/// Each task's column: 0 for tasks that need nothing, else one more than
/// the deepest task it needs. Pipelines are checked to have no cycles.
fn depths(pipeline: &Pipeline) -> HashMap<&str, usize> {
    fn depth<'a>(pipeline: &'a Pipeline, task: &'a str, known: &mut HashMap<&'a str, usize>) -> usize {
        if let Some(d) = known.get(task) {
            return *d;
        }
        // Guards against a cycle all the same: a task in progress counts as 0.
        known.insert(task, 0);
        let needs = pipeline.tasks.get(task).map(|t| t.needs.as_slice()).unwrap_or_default();
        let d = needs.iter().map(|n| depth(pipeline, n, known) + 1).max().unwrap_or(0);
        known.insert(task, d);
        d
    }
    let mut known = HashMap::new();
    for name in pipeline.tasks.keys() {
        depth(pipeline, name, &mut known);
    }
    known
}

/// Where each task is drawn: its column and its row within the column.
fn layout(pipeline: &Pipeline) -> (HashMap<&str, (usize, usize)>, usize, usize) {
    let depths = depths(pipeline);
    let columns = depths.values().max().map_or(0, |d| d + 1);
    let mut placed: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut tallest = 0;
    for column in 0..columns {
        let mut tasks: Vec<(&str, f64, usize)> = pipeline
            .tasks
            .values()
            .enumerate()
            .filter(|(_, t)| depths.get(t.name.as_str()) == Some(&column))
            .map(|(order, t)| {
                // The mean row of its upstream tasks, file order to break ties.
                let rows: Vec<f64> = t
                    .needs
                    .iter()
                    .filter_map(|n| placed.get(n.as_str()))
                    .map(|(_, row)| *row as f64)
                    .collect();
                let centre =
                    if rows.is_empty() { order as f64 } else { rows.iter().sum::<f64>() / rows.len() as f64 };
                (t.name.as_str(), centre, order)
            })
            .collect();
        tasks.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)));
        tallest = tallest.max(tasks.len());
        for (row, (name, _, _)) in tasks.into_iter().enumerate() {
            placed.insert(name, (column, row));
        }
    }
    (placed, columns, tallest)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The graph of `pipeline`, each task coloured by `state_of` it.
pub(super) fn svg(pipeline: &Pipeline, state_of: impl Fn(&str) -> NodeState) -> String {
    let (placed, columns, tallest) = layout(pipeline);
    let width = MARGIN * 2.0 + columns as f64 * NODE_WIDTH + columns.saturating_sub(1) as f64 * COLUMN_GAP;
    let height = MARGIN * 2.0 + tallest as f64 * NODE_HEIGHT + tallest.saturating_sub(1) as f64 * ROW_GAP;
    let corner = |name: &str| {
        let (column, row) = placed.get(name).copied().unwrap_or_default();
        (MARGIN + column as f64 * (NODE_WIDTH + COLUMN_GAP), MARGIN + row as f64 * (NODE_HEIGHT + ROW_GAP))
    };
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="Task graph of {}">"#,
        escape(&pipeline.name)
    );
    out.push_str(
        r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>"#,
    );
    for task in pipeline.tasks.values() {
        let (x2, y2) = corner(&task.name);
        for need in &task.needs {
            let (x1, y1) = corner(need);
            let (from_x, from_y) = (x1 + NODE_WIDTH, y1 + NODE_HEIGHT / 2.0);
            let (to_x, to_y) = (x2, y2 + NODE_HEIGHT / 2.0);
            let bend = (to_x - from_x) / 2.0;
            let _ = write!(
                out,
                r#"<path class="edge" d="M {from_x} {from_y} C {} {from_y}, {} {to_y}, {to_x} {to_y}" marker-end="url(#arrow)"><title>{} → {}</title></path>"#,
                from_x + bend,
                to_x - bend,
                escape(need),
                escape(&task.name)
            );
        }
    }
    for task in pipeline.tasks.values() {
        let (x, y) = corner(&task.name);
        let node = state_of(&task.name);
        let shape = shape(&task.kind);
        let name = escape(&task.name);
        let kind = escape(&task.kind);
        let state = escape(&node.state);
        if let Some(href) = &node.href {
            let _ = write!(out, r#"<a href="{}">"#, escape(href));
        }
        let _ = write!(out, r#"<g class="node state-{state} {}">"#, format!("{shape:?}").to_lowercase());
        let _ = write!(out, "<title>{name} · {kind} · {state}</title>");
        let (w, h) = (NODE_WIDTH, NODE_HEIGHT);
        match shape {
            Shape::Operator => {
                let _ = write!(out, r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6"/>"#);
            }
            Shape::Sensor => {
                let _ = write!(out, r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{}"/>"#, h / 2.0);
            }
            Shape::Gate => {
                let (cx, cy) = (x + w / 2.0, y + h / 2.0);
                let _ = write!(
                    out,
                    r#"<polygon points="{x},{cy} {},{y} {},{cy} {},{} "/>"#,
                    cx,
                    x + w,
                    cx,
                    y + h
                );
                let _ = cy;
            }
        }
        let (cx, name_y, kind_y) = (x + w / 2.0, y + h / 2.0 - 2.0, y + h / 2.0 + 12.0);
        let _ = write!(out, r#"<text x="{cx}" y="{name_y}" class="name">{name}</text>"#);
        let _ = write!(out, r#"<text x="{cx}" y="{kind_y}" class="kind">{kind}</text>"#);
        out.push_str("</g>");
        if node.href.is_some() {
            out.push_str("</a>");
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const PIPELINE: &str = "name: p
start_date: 2026-11-01
tasks:
  wait: {sensor: file, path: x}
  a: {op: shell, command: x, needs: [wait]}
  b: {op: shell, command: x, needs: [wait]}
  gate_it: {gate: 'true', needs: [a, b]}
  last: {op: shell, command: x, needs: [gate_it, a]}
";

    fn pipeline() -> Pipeline {
        retrain_flow::pipeline::parse(PIPELINE, Path::new("p.yaml")).unwrap()
    }

    #[test]
    fn tasks_sit_in_columns_by_their_longest_chain_of_needs() {
        let pipeline = pipeline();
        let (placed, columns, tallest) = layout(&pipeline);
        assert_eq!((columns, tallest), (4, 2));
        assert_eq!(placed["wait"], (0, 0));
        assert_eq!((placed["a"].0, placed["b"].0), (1, 1));
        assert_eq!(placed["gate_it"], (2, 0));
        assert_eq!(placed["last"].0, 3, "after the gate, though it needs `a` too");
    }

    #[test]
    fn the_svg_draws_every_task_edge_and_kind() {
        let svg = svg(&pipeline(), |task| NodeState {
            state: if task == "a" { "failed".into() } else { "success".into() },
            href: Some(format!("/t/{task}?x=1&y=<2>")),
        });
        for task in ["wait", "a", "b", "gate_it", "last"] {
            assert!(svg.contains(&format!(r#"class="name">{task}</text>"#)), "{task}: {svg}");
        }
        assert_eq!(svg.matches(r#"class="edge""#).count(), 6);
        assert!(svg.contains(r#"class="node state-failed operator""#));
        assert!(svg.contains(r#"class="node state-success sensor""#) && svg.contains("sensor:file"));
        assert!(svg.contains(r#"class="node state-success gate""#) && svg.contains("<polygon"));
        assert!(svg.contains("/t/a?x=1&amp;y=&lt;2&gt;"), "links are escaped");
    }
}
