//! Line charts as SVG, drawn on the server.
//!
//! A page that shows a metric's history, run durations or the registry's
//! events over a champion's metric builds a [`Chart`] and puts its
//! [`Chart::svg`] into the HTML: the chart reads without JavaScript, its
//! small point sets carry native tooltips, and `app.js` adds hover values
//! for every line from the raw values each line carries.
//!
//! Every point is drawn up to [`MAX_POINTS`] per line, unlike charts that
//! sample a few hundred; beyond that a line keeps the lowest and highest
//! value of each stretch, so spikes survive, and the chart says it was
//! thinned and from how many points.

use std::fmt::Write;

use chrono::DateTime;

/// Points drawn per line before a line is thinned.
pub(crate) const MAX_POINTS: usize = 10_000;
/// Lines whose points each get a marker with a tooltip, at most this many
/// points each; denser lines rely on the script's hover.
const MARKED_POINTS: usize = 200;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;
/// Colours cycle through this many series classes (`s0` …), which the
/// stylesheet gives a colour in light and dark.
const PALETTE: usize = 8;

/// A chart of one or more lines over a shared x axis.
pub(crate) struct Chart {
    title: String,
    x_is_time: bool,
    x_label: String,
    y_label: String,
    log_y: bool,
    series: Vec<Series>,
    markers: Vec<Marker>,
}

struct Series {
    label: String,
    points: Vec<(f64, f64)>,
}

/// A vertical line at a moment with what happened then.
struct Marker {
    x: f64,
    label: String,
}

impl Chart {
    pub(crate) fn new(title: impl Into<String>) -> Chart {
        Chart {
            title: title.into(),
            x_is_time: false,
            x_label: String::new(),
            y_label: String::new(),
            log_y: false,
            series: Vec::new(),
            markers: Vec::new(),
        }
    }

    /// The x values are moments, in milliseconds since the epoch (UTC).
    pub(crate) fn time_x(mut self) -> Chart {
        self.x_is_time = true;
        self
    }

    pub(crate) fn x_label(mut self, label: impl Into<String>) -> Chart {
        self.x_label = label.into();
        self
    }

    pub(crate) fn y_label(mut self, label: impl Into<String>) -> Chart {
        self.y_label = label.into();
        self
    }

    /// Draw y on a logarithmic scale; values ≤ 0 are then left out.
    pub(crate) fn log_y(mut self, log: bool) -> Chart {
        self.log_y = log;
        self
    }

    /// A line through `points` (x, y), in any order.
    pub(crate) fn series(mut self, label: impl Into<String>, points: Vec<(f64, f64)>) -> Chart {
        self.series.push(Series { label: label.into(), points });
        self
    }

    /// A vertical line at `x` labelled `label` (an event at that moment).
    pub(crate) fn marker(mut self, x: f64, label: impl Into<String>) -> Chart {
        self.markers.push(Marker { x, label: label.into() });
        self
    }

    /// The chart as an SVG figure with its legend, safe to put into a page
    /// as it is: every text in it is escaped.
    pub(crate) fn svg(&self) -> String {
        let lines: Vec<Line> = self.series.iter().map(|s| Line::of(s, self.log_y)).collect();
        let drawn: Vec<&Line> = lines.iter().filter(|l| !l.points.is_empty()).collect();
        let mut out = String::new();
        let _ = write!(out, r#"<figure class="chart"><figcaption>{}</figcaption>"#, escape(&self.title));
        let Some(frame) = Frame::around(&drawn, &self.markers, self.x_is_time, self.log_y) else {
            out.push_str(r#"<p class="muted small">No values to draw.</p></figure>"#);
            return out;
        };
        let _ = write!(
            out,
            r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}" data-chart data-x-time="{time}" data-log-y="{log}" data-frame="{frame}">"#,
            title = escape(&self.title),
            time = self.x_is_time,
            log = self.log_y,
            frame = frame.describe(),
        );
        frame.draw_axes(&mut out, &self.x_label, &self.y_label);
        for marker in &self.markers {
            let x = frame.px(marker.x);
            let _ = write!(
                out,
                r#"<g class="marker"><line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{bottom}"/><title>{label}</title></g>"#,
                bottom = HEIGHT - BOTTOM,
                label = escape(&marker.label),
            );
        }
        for (index, line) in lines.iter().enumerate() {
            line.draw(&mut out, &frame, index % PALETTE);
        }
        out.push_str("</svg>");
        legend(&mut out, &lines);
        out.push_str("</figure>");
        out
    }
}

/// The lines' names and colours, and what was left out of each, when
/// there is more than one line or something to say.
fn legend(out: &mut String, lines: &[Line]) {
    let notes: Vec<String> = lines.iter().filter_map(Line::note).collect();
    if lines.len() < 2 && notes.is_empty() {
        return;
    }
    out.push_str(r#"<ul class="legend small">"#);
    for (index, line) in lines.iter().enumerate() {
        let _ = write!(
            out,
            r#"<li><span class="swatch s{}"></span>{}</li>"#,
            index % PALETTE,
            escape(&line.label)
        );
    }
    for note in notes {
        let _ = write!(out, r#"<li class="muted">{}</li>"#, escape(&note));
    }
    out.push_str("</ul>");
}

/// One series as it is drawn: its points sorted by x, without values the
/// scale cannot show, thinned beyond [`MAX_POINTS`].
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
    /// How many points the series had before thinning.
    total: usize,
    /// Points left out: not finite, or ≤ 0 on a logarithmic scale.
    left_out: usize,
}

impl Line {
    fn of(series: &Series, log_y: bool) -> Line {
        let mut points: Vec<(f64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
            .collect();
        let left_out = series.points.len() - points.len();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = points.len();
        Line { label: series.label.clone(), points: thin(points), total, left_out }
    }

    fn note(&self) -> Option<String> {
        let mut notes = Vec::new();
        if self.points.len() < self.total {
            notes.push(format!(
                "thinned to {} of {} points (lowest and highest of each stretch kept)",
                self.points.len(),
                self.total
            ));
        }
        if self.left_out > 0 {
            notes.push(format!("{} points not drawn (not finite, or ≤ 0 on a log scale)", self.left_out));
        }
        (!notes.is_empty()).then(|| format!("{}: {}", self.label, notes.join("; ")))
    }

    fn draw(&self, out: &mut String, frame: &Frame, colour: usize) {
        if self.points.is_empty() {
            return;
        }
        let mut pixels = String::with_capacity(self.points.len() * 12);
        let mut values = String::with_capacity(self.points.len() * 16);
        for (i, &(x, y)) in self.points.iter().enumerate() {
            if i > 0 {
                pixels.push(' ');
                values.push(' ');
            }
            let _ = write!(pixels, "{:.1},{:.1}", frame.px(x), frame.py(y));
            let _ = write!(values, "{x},{y}");
        }
        let _ = write!(
            out,
            r#"<polyline class="line s{colour}" points="{pixels}" data-label="{label}" data-values="{values}"/>"#,
            label = escape(&self.label),
        );
        if self.points.len() <= MARKED_POINTS {
            let _ = write!(out, r#"<g class="points s{colour}">"#);
            for &(x, y) in &self.points {
                let _ = write!(
                    out,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.5"><title>{}: {} at {}</title></circle>"#,
                    frame.px(x),
                    frame.py(y),
                    escape(&self.label),
                    short(y),
                    frame.x_text(x),
                );
            }
            out.push_str("</g>");
        }
    }
}

/// `points` (sorted by x) kept whole up to [`MAX_POINTS`]; beyond, split
/// into stretches of equal count, each drawn by its lowest and highest
/// point in x order.
fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let stretches = MAX_POINTS / 2;
    let mut kept = Vec::with_capacity(MAX_POINTS);
    for i in 0..stretches {
        let stretch = &points[i * points.len() / stretches..(i + 1) * points.len() / stretches];
        let low = stretch.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        let high = stretch.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(&low), Some(&high)) = (low, high) {
            if low.0 <= high.0 {
                kept.extend([low, high]);
            } else {
                kept.extend([high, low]);
            }
        }
    }
    kept.dedup();
    kept
}

/// The plot's scales: which values the drawing area spans.
struct Frame {
    x: (f64, f64),
    /// On a logarithmic scale, the span of log10(y).
    y: (f64, f64),
    x_is_time: bool,
    log_y: bool,
}

impl Frame {
    fn around(lines: &[&Line], markers: &[Marker], x_is_time: bool, log_y: bool) -> Option<Frame> {
        let xs = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).chain(markers.iter().map(|m| m.x));
        let x = span(xs)?;
        let ys = lines.iter().flat_map(|l| l.points.iter().map(|p| if log_y { p.1.log10() } else { p.1 }));
        let (low, high) = span(ys)?;
        let pad = (high - low) * 0.05;
        let x_room = if x_is_time { TIME_ROOM } else { relative_room(x.0) };
        let y_room = relative_room(low);
        Some(Frame { x: widen(x, x_room), y: widen((low - pad, high + pad), y_room), x_is_time, log_y })
    }

    /// The scales for the script's hover: x0 x1 y0 y1 left right top bottom.
    fn describe(&self) -> String {
        format!(
            "{} {} {} {} {LEFT} {} {TOP} {}",
            self.x.0,
            self.x.1,
            self.y.0,
            self.y.1,
            WIDTH - RIGHT,
            HEIGHT - BOTTOM
        )
    }

    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (WIDTH - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        let y = if self.log_y { y.log10() } else { y };
        HEIGHT - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (HEIGHT - TOP - BOTTOM)
    }

    fn x_text(&self, x: f64) -> String {
        if self.x_is_time { moment(x, self.x.1 - self.x.0) } else { short(x) }
    }

    fn draw_axes(&self, out: &mut String, x_label: &str, y_label: &str) {
        let (bottom, right) = (HEIGHT - BOTTOM, WIDTH - RIGHT);
        out.push_str(r#"<g class="axes">"#);
        let y_ticks = if self.log_y { log_ticks(self.y) } else { nice_ticks(self.y) };
        for value in y_ticks {
            let y = self.py(if self.log_y { 10f64.powf(value) } else { value });
            let text = if self.log_y { short(10f64.powf(value)) } else { short(value) };
            let _ = write!(
                out,
                r#"<line class="grid" x1="{LEFT}" x2="{right}" y1="{y:.1}" y2="{y:.1}"/><text x="{x:.1}" y="{y:.1}" text-anchor="end" dominant-baseline="middle">{text}</text>"#,
                x = LEFT - 6.0,
            );
        }
        let x_ticks = if self.x_is_time { time_ticks(self.x) } else { nice_ticks(self.x) };
        for value in x_ticks {
            let x = self.px(value);
            let _ = write!(
                out,
                r#"<line class="tick" x1="{x:.1}" x2="{x:.1}" y1="{bottom}" y2="{tick:.1}"/><text x="{x:.1}" y="{label:.1}" text-anchor="middle">{text}</text>"#,
                tick = bottom + 4.0,
                label = bottom + 16.0,
                text = escape(&self.x_text(value)),
            );
        }
        let _ = write!(
            out,
            r#"<line class="axis" x1="{LEFT}" x2="{right}" y1="{bottom}" y2="{bottom}"/><line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}"/>"#
        );
        if !x_label.is_empty() {
            let _ = write!(
                out,
                r#"<text class="label" x="{right}" y="{y}" text-anchor="end">{}</text>"#,
                escape(x_label),
                y = HEIGHT - 2.0
            );
        }
        if !y_label.is_empty() {
            let _ = write!(
                out,
                r#"<text class="label" x="12" y="{TOP}" transform="rotate(-90 12 {TOP})" text-anchor="end">{}</text>"#,
                escape(y_label)
            );
        }
        out.push_str("</g>");
    }
}

/// The lowest and highest of `values`, or `None` when there are none.
fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |span, v| match span {
        None => Some((v, v)),
        Some((low, high)) => Some((low.min(v), high.max(v))),
    })
}

/// The room either side of a single moment: a minute, so its ticks read
/// as times of that day rather than years around it.
const TIME_ROOM: f64 = 60_000.0;

/// The room either side of a single value: a tenth of it, or 1 around 0.
fn relative_room(value: f64) -> f64 {
    if value == 0.0 { 1.0 } else { value.abs() * 0.1 }
}

/// A span wide enough to divide by: a single value gets `room` either side.
fn widen((low, high): (f64, f64), room: f64) -> (f64, f64) {
    if high > low {
        return (low, high);
    }
    (low - room, high + room)
}

/// About five round values (1, 2 or 5 times a power of ten apart) inside
/// `span`.
fn nice_ticks((low, high): (f64, f64)) -> Vec<f64> {
    let raw = (high - low) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// Powers of ten inside a span of log10 values; round values when the
/// span holds fewer than two.
fn log_ticks((low, high): (f64, f64)) -> Vec<f64> {
    let powers: Vec<f64> = (low.ceil() as i64..=high.floor() as i64).map(|p| p as f64).collect();
    if powers.len() >= 2 {
        return powers;
    }
    nice_ticks((10f64.powf(low), 10f64.powf(high))).into_iter().filter(|v| *v > 0.0).map(f64::log10).collect()
}

/// About five moments on round steps (minutes, hours, days) inside a span
/// of milliseconds.
fn time_ticks((low, high): (f64, f64)) -> Vec<f64> {
    const MINUTE: f64 = 60_000.0;
    const STEPS: [f64; 12] = [
        1000.0,
        5000.0,
        15_000.0,
        MINUTE,
        5.0 * MINUTE,
        15.0 * MINUTE,
        60.0 * MINUTE,
        3.0 * 60.0 * MINUTE,
        6.0 * 60.0 * MINUTE,
        24.0 * 60.0 * MINUTE,
        7.0 * 24.0 * 60.0 * MINUTE,
        30.0 * 24.0 * 60.0 * MINUTE,
    ];
    let raw = (high - low) / 5.0;
    let step = STEPS.into_iter().find(|s| *s >= raw).unwrap_or(raw);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A moment, written as precisely as a span of `span` ms needs.
fn moment(ms: f64, span: f64) -> String {
    let Some(t) = DateTime::from_timestamp_millis(ms as i64) else { return short(ms) };
    let format = match span {
        s if s < 120_000.0 => "%H:%M:%S",
        s if s < 2.0 * 86_400_000.0 => "%m-%d %H:%M",
        _ => "%Y-%m-%d",
    };
    t.format(format).to_string()
}

/// A value as an axis or tooltip writes it.
fn short(value: f64) -> String {
    super::render::num(minijinja::Value::from(value))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    #[test]
    fn every_point_is_drawn_up_to_the_limit() {
        let points: Vec<(f64, f64)> = (0..MAX_POINTS).map(|i| (i as f64, (i % 7) as f64)).collect();
        let svg = Chart::new("loss").series("loss", points).svg();
        let drawn = svg.split(r#"points=""#).nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(drawn.split(' ').count(), MAX_POINTS);
        assert!(!svg.contains("thinned"), "{}", &svg[..200]);
    }

    #[test]
    fn a_longer_line_is_thinned_visibly_and_keeps_its_spike() {
        let mut points: Vec<(f64, f64)> = (0..50_000).map(|i| (i as f64, 1.0)).collect();
        points[31_337].1 = 99.0;
        let svg = Chart::new("loss").series("loss", points).svg();
        assert!(svg.contains("thinned to"), "the chart says it was thinned");
        assert!(svg.contains("of 50000 points"));
        let values = svg.split(r#"data-values=""#).nth(1).unwrap().split('"').next().unwrap();
        assert!(values.split(' ').count() <= MAX_POINTS);
        assert!(values.contains("31337,99"), "the spike survives thinning");
    }

    #[test]
    fn text_is_escaped_and_small_lines_get_tooltips() {
        let svg =
            Chart::new("<b>title</b>").series("a&b", vec![(2.0, 1.0), (1.0, 0.5)]).marker(1.5, "\"x\"").svg();
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt;b&gt;title"));
        assert!(svg.contains("a&amp;b"));
        assert!(svg.contains("&quot;x&quot;"));
        assert_eq!(count(&svg, "<circle"), 2);
        let values = svg.split(r#"data-values=""#).nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(values, "1,0.5 2,1", "points are drawn in x order");
    }

    #[test]
    fn a_log_scale_leaves_out_what_it_cannot_show() {
        let svg =
            Chart::new("loss").log_y(true).series("loss", vec![(0.0, 0.0), (1.0, 10.0), (2.0, 1000.0)]).svg();
        assert!(svg.contains("1 points not drawn"));
        assert!(svg.contains(">100<"), "a tick at each power of ten");
    }

    #[test]
    fn nothing_to_draw_says_so() {
        assert!(Chart::new("x").svg().contains("No values to draw"));
        assert!(Chart::new("x").series("nan", vec![(1.0, f64::NAN)]).svg().contains("No values to draw"));
        let single = Chart::new("x").series("one", vec![(5.0, 5.0)]).svg();
        assert!(single.contains("<polyline"), "one point still draws");
        let at = 1_796_418_000_000.0; // 2026-12-04 21:00 UTC
        let single = Chart::new("x").time_x().series("one", vec![(at, 5.0)]).svg();
        assert!(single.contains(">12-04 21:00<"), "a single moment is framed by minutes: {single}");
    }

    #[test]
    fn time_axes_tick_on_round_moments() {
        let day = 86_400_000.0;
        let ticks = time_ticks((0.0, 10.0 * day));
        assert!(ticks.iter().all(|t| t % day == 0.0), "{ticks:?}");
        assert_eq!(moment(0.0, 10.0 * day), "1970-01-01");
        assert_eq!(moment(3_600_000.0, 60_000.0), "01:00:00");
        let ticks: Vec<String> = nice_ticks((0.0, 1.0)).into_iter().map(short).collect();
        assert_eq!(ticks, ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
    }
}
