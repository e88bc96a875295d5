//! SVG charts drawn with plotters, returned as strings for inlining into the HTML
//! report. Text is measured with an embedded font so the layout is the same on every
//! machine (no fontconfig).

use std::sync::Once;

use plotters::coord::CoordTranslate;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn font() {
    REGISTER.call_once(|| {
        // The embedded font is valid by construction; a failure would only make text
        // measurement fall back, so it is not worth a panic.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Series colours: V0.2, V0.3, then further series.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0xd6, 0x5f, 0x3e),
    RGBColor(0x2a, 0x7a, 0xb9),
    RGBColor(0x5b, 0xa0, 0x5b),
    RGBColor(0x9b, 0x6f, 0xc4),
    RGBColor(0xe0, 0xa8, 0x2e),
    RGBColor(0x4f, 0xb3, 0xb3),
    RGBColor(0x8c, 0x8c, 0x8c),
    RGBColor(0xc4, 0x5a, 0x9b),
];

/// A chart that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("chart `{chart}`: {message}")]
pub struct ChartError {
    chart: String,
    message: String,
}

fn err(chart: &str) -> impl Fn(String) -> ChartError + '_ {
    move |message| ChartError {
        chart: chart.into(),
        message,
    }
}

/// One latency curve: (percentile in 0..100, latency ms).
pub struct Curve {
    /// Legend.
    pub name: String,
    /// Points, ascending percentile.
    pub points: Vec<(f64, f64)>,
}

/// Latency by percentile on a log axis of 1/(1 − p), as HdrHistogram plots draw it.
pub fn latency(title: &str, curves: &[Curve]) -> Result<String, ChartError> {
    let x_of = |p: f64| 1.0 / (1.0 - (p / 100.0).min(0.999_99));
    let mapped: Vec<Curve> = curves
        .iter()
        .map(|c| Curve {
            name: c.name.clone(),
            points: c.points.iter().map(|(p, y)| (x_of(*p), *y)).collect(),
        })
        .collect();
    lines(title, "percentile", "latency (ms)", &mapped, &|x| {
        // 90%, 99%, 99.9%, 99.99%: as many decimals as the nines need.
        let t = format!("{:.4}", (1.0 - 1.0 / x) * 100.0);
        format!("{}%", t.trim_end_matches('0').trim_end_matches('.'))
    })
}

/// A time-window query's latency against the event count, both on a log x axis.
pub fn growth(title: &str, curves: &[Curve]) -> Result<String, ChartError> {
    lines(
        title,
        "events in the table",
        "p50 latency (ms)",
        curves,
        &size_label,
    )
}

/// The recall–latency frontier, as ann-benchmarks plots it: x recall@k (linear, up
/// to 1), y p50 latency in ms (logarithmic), one curve per search design, a marker per
/// `ef_search`.
pub fn frontier(title: &str, curves: &[Curve]) -> Result<String, ChartError> {
    font();
    let e = err(title);
    let points = || curves.iter().flat_map(|c| c.points.iter());
    let min_x = points().map(|(x, _)| *x).fold(1.0, f64::min);
    let low_x = ((min_x - 0.05) * 20.0).floor() / 20.0;
    let min_y = points().map(|(_, y)| *y).fold(f64::MAX, f64::min).max(0.01);
    let max_y = points().map(|(_, y)| *y).fold(min_y * 10.0, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = frame(&root, title)
            .build_cartesian_2d(low_x.max(0.0)..1.01, (min_y / 1.5..max_y * 1.5).log_scale())
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("recall@k (exact search = 1)")
            .y_desc("p50 latency (ms)")
            .x_label_formatter(&|x| format!("{x:.2}"))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        draw_curves(&mut chart, curves, true).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// A stretch of time shaded on a chart over time: (from s, to s, label).
pub type Window = (f64, f64, String);

/// Latency over time (x: seconds, linear; y: ms, logarithmic, since a store down for
/// seconds and a healthy op differ by thousands), with `windows` shaded.
pub fn over_time(title: &str, curves: &[Curve], windows: &[Window]) -> Result<String, ChartError> {
    font();
    let e = err(title);
    let points = || curves.iter().flat_map(|c| c.points.iter());
    let max_x = points()
        .map(|(x, _)| *x)
        .chain(windows.iter().map(|w| w.1))
        .fold(1.0, f64::max);
    let min_y = points().map(|(_, y)| *y).fold(f64::MAX, f64::min).max(0.01);
    let max_y = points().map(|(_, y)| *y).fold(min_y * 10.0, f64::max);
    let (low, high) = (min_y / 1.5, max_y * 2.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = frame(&root, title)
            .build_cartesian_2d(0.0..max_x + 1.0, (low..high).log_scale())
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("seconds into the repetition")
            .y_desc("latency (ms)")
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        let shade = RGBColor(0xe3, 0x3b, 0x3b);
        for (from, to, label) in windows {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(*from, low), (*to, high)],
                    shade.mix(0.15).filled(),
                )))
                .map_err(|x| e(x.to_string()))?;
            chart
                .draw_series(std::iter::once(Text::new(
                    label.clone(),
                    (*from, high / 1.3),
                    ("sans-serif", 11).into_font().color(&shade),
                )))
                .map_err(|x| e(x.to_string()))?;
        }
        // A second in which no op completed has no point: the markers show the gap that
        // the line bridges.
        draw_curves(&mut chart, curves, true).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// One input of a tornado chart: its name and the payback (months) at its low, base and
/// high value; `None` never pays back.
pub struct TornadoRow {
    /// The input.
    pub name: String,
    /// Payback at low, base and high.
    pub payback: [Option<f64>; 3],
}

/// Months drawn for "never pays back".
const NEVER_MONTHS: f64 = 10_000.0;

/// Payback per input as bars from the base (low end in the first colour, high end in
/// the second), on a log axis of months: the widest bars move the decision most.
pub fn tornado(title: &str, rows: &[TornadoRow]) -> Result<String, ChartError> {
    font();
    let e = err(title);
    let months = |p: Option<f64>| p.unwrap_or(NEVER_MONTHS).clamp(0.5, NEVER_MONTHS);
    let n = rows.len() as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (680, 60 + 30 * rows.len() as u32))
            .into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        // The inputs' names need a wide label area.
        let mut chart = frame(&root, title)
            .y_label_area_size(230)
            .build_cartesian_2d((0.5..NEVER_MONTHS * 1.5).log_scale(), 0.0..n)
            .map_err(|x| e(x.to_string()))?;
        let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
        chart
            .configure_mesh()
            .x_desc("payback (months; right edge = never)")
            .y_labels(rows.len() * 2 + 1)
            .y_label_formatter(&|y| {
                let i = (n - y - 0.5).round();
                let near_middle = (y.fract() - 0.5).abs() < 0.01;
                match names.get(i as usize) {
                    Some(name) if near_middle && i >= 0.0 => name.clone(),
                    _ => String::new(),
                }
            })
            .disable_y_mesh()
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for (i, r) in rows.iter().enumerate() {
            let y = n - i as f64 - 1.0;
            let base = months(r.payback[1]);
            for (side, colour) in [(r.payback[0], PALETTE[0]), (r.payback[2], PALETTE[1])] {
                let end = months(side);
                let (from, to) = if end < base { (end, base) } else { (base, end) };
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(from, y + 0.2), (to.max(from * 1.02), y + 0.8)],
                        colour.filled(),
                    )))
                    .map_err(|x| e(x.to_string()))?;
            }
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// A line chart's frame: caption, margin and room for the axis labels.
fn frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(52);
    builder
}

/// Each curve in its palette colour (with a dot per point when `markers`), and the
/// legend in the upper left.
fn draw_curves<'a, CT>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    curves: &[Curve],
    markers: bool,
) -> Result<(), String>
where
    CT: CoordTranslate<From = (f64, f64)>,
{
    for (i, c) in curves.iter().enumerate() {
        let col = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                c.points.iter().copied(),
                col.stroke_width(2),
            ))
            .map_err(|x| x.to_string())?
            .label(c.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], col.stroke_width(2)));
        if markers {
            chart
                .draw_series(c.points.iter().map(|p| Circle::new(*p, 2, col.filled())))
                .map_err(|x| x.to_string())?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(|x| x.to_string())
}

/// Line series over a logarithmic x axis (x ≥ 1).
fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    curves: &[Curve],
    x_fmt: &dyn Fn(f64) -> String,
) -> Result<String, ChartError> {
    font();
    let e = err(title);
    let xs = curves.iter().flat_map(|c| c.points.iter().map(|(x, _)| *x));
    let min_x = xs
        .clone()
        .fold(f64::MAX, f64::min)
        .clamp(1.0, f64::MAX / 2.0);
    let max_x = xs.fold(min_x * 10.0, f64::max);
    let max_y = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|(_, y)| *y))
        .fold(0.1, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = frame(&root, title)
            .build_cartesian_2d((min_x..max_x * 1.2).log_scale(), 0.0..max_y * 1.1)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|x| x_fmt(*x))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        draw_curves(&mut chart, curves, false).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// Measured points and the curve fitted through them.
pub struct Fitted {
    /// Legend.
    pub name: String,
    /// Measured (x, y), drawn as dots.
    pub points: Vec<(f64, f64)>,
    /// The fit sampled across the measured range, drawn as a line.
    pub curve: Vec<(f64, f64)>,
}

fn size_label(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.0}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.0}K", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// A metric against dataset size on log–log axes, where a power law is a straight
/// line: dots measured, lines fitted.
pub fn fitted(title: &str, y_desc: &str, series: &[Fitted]) -> Result<String, ChartError> {
    font();
    let e = err(title);
    let all = || series.iter().flat_map(|s| s.points.iter().chain(&s.curve));
    let positive = |v: f64| v.is_finite() && v > 0.0;
    let (mut min_x, mut max_x, mut min_y, mut max_y) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in all().filter(|(x, y)| positive(*x) && positive(*y)) {
        (min_x, max_x) = (min_x.min(*x), max_x.max(*x));
        (min_y, max_y) = (min_y.min(*y), max_y.max(*y));
    }
    if min_x > max_x {
        return Err(e("no positive values to draw".into()));
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = frame(&root, title)
            .build_cartesian_2d(
                (min_x / 1.5..max_x * 1.5).log_scale(),
                (min_y / 2.0..max_y * 2.0).log_scale(),
            )
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("entities seeded")
            // A log axis's minor lines at every unit would grey the chart out.
            .max_light_lines(2)
            .y_desc(y_desc)
            .x_label_formatter(&|x| size_label(*x))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        let lines: Vec<Curve> = series
            .iter()
            .map(|s| Curve {
                name: s.name.clone(),
                points: s.curve.clone(),
            })
            .collect();
        draw_curves(&mut chart, &lines, false).map_err(&e)?;
        for (i, s) in series.iter().enumerate() {
            let col = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(s.points.iter().map(|p| Circle::new(*p, 4, col.filled())))
                .map_err(|x| e(x.to_string()))?;
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// Residuals of fits, in percent of the fitted value, against dataset size (log x),
/// a zero line through the middle: a pattern in them is growth the power law missed.
pub fn residuals(title: &str, curves: &[Curve]) -> Result<String, ChartError> {
    font();
    let e = err(title);
    let xs = || curves.iter().flat_map(|c| c.points.iter().map(|(x, _)| *x));
    let min_x = xs().fold(f64::MAX, f64::min).max(1.0);
    let max_x = xs().fold(min_x * 10.0, f64::max);
    let reach = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|(_, y)| y.abs()))
        .fold(5.0, f64::max)
        * 1.3;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = frame(&root, title)
            .build_cartesian_2d((min_x / 1.5..max_x * 1.5).log_scale(), -reach..reach)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("entities seeded")
            // A log axis's minor lines at every unit would grey the chart out.
            .max_light_lines(2)
            .y_desc("measured vs fitted (%)")
            .x_label_formatter(&|x| size_label(*x))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        chart
            .draw_series(LineSeries::new(
                [(min_x / 1.5, 0.0), (max_x * 1.5, 0.0)],
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(|x| e(x.to_string()))?;
        draw_curves(&mut chart, curves, true).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// One bar made of stacked segments (values in the chart's unit).
pub struct StackedBar {
    /// Label under the bar.
    pub label: String,
    /// Segment values, in the order of the chart's `segments`.
    pub values: Vec<f64>,
}

/// Stacked bars with a legend of segment names.
pub fn stacked(
    title: &str,
    y_desc: &str,
    segments: &[String],
    bars: &[StackedBar],
    size: (u32, u32),
) -> Result<String, ChartError> {
    font();
    let e = err(title);
    let max_y = bars
        .iter()
        .map(|b| b.values.iter().sum::<f64>())
        .fold(0.0, f64::max)
        .max(1e-9);
    let n = bars.len().max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart: ChartContext<'_, _, Cartesian2d<RangedCoordf64, RangedCoordf64>> =
            ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 16))
                .margin(8)
                .x_label_area_size(40)
                .y_label_area_size(62)
                .build_cartesian_2d(0.0..n, 0.0..max_y * 1.35)
                .map_err(|x| e(x.to_string()))?;
        let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bars.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - i as f64 - 0.5).abs() < 0.01 {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(y_desc)
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for (s, name) in segments.iter().enumerate() {
            let col = PALETTE[s % PALETTE.len()];
            let rects = bars.iter().enumerate().map(|(i, b)| {
                let base: f64 = b.values.iter().take(s).sum();
                let top = base + b.values.get(s).copied().unwrap_or(0.0);
                Rectangle::new(
                    [(i as f64 + 0.2, base), (i as f64 + 0.8, top)],
                    col.filled(),
                )
            });
            chart
                .draw_series(rects)
                .map_err(|x| e(x.to_string()))?
                .label(name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], col.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_series() {
        let s = latency(
            "get",
            &[
                Curve {
                    name: "V0.2".into(),
                    points: vec![(0.0, 0.5), (50.0, 1.0), (99.0, 5.0), (99.9, 9.0)],
                },
                Curve {
                    name: "V0.3".into(),
                    points: vec![(0.0, 1.5), (50.0, 3.0), (99.0, 15.0)],
                },
            ],
        )
        .unwrap();
        assert!(s.starts_with("<svg") && s.contains("V0.3") && s.contains("<polyline"));
        let b = stacked(
            "storage",
            "MB",
            &["PostgreSQL".into(), "objects".into()],
            &[
                StackedBar {
                    label: "V0.2".into(),
                    values: vec![320.0, 267.0],
                },
                StackedBar {
                    label: "V0.3".into(),
                    values: vec![65.0, 267.0],
                },
            ],
            (480, 300),
        )
        .unwrap();
        assert!(b.matches("<rect").count() >= 5, "{b}");
        assert!(b.contains("objects") && b.contains("V0.2"));
        // Labels come from user files (deployment ids): plotters escapes SVG text.
        let hostile = stacked(
            "t",
            "u",
            &["<script>alert(1)</script>".into()],
            &[StackedBar {
                label: "a&b<c>".into(),
                values: vec![1.0],
            }],
            (300, 200),
        )
        .unwrap();
        assert!(!hostile.contains("<script>") && hostile.contains("&lt;script&gt;"));
    }
}
