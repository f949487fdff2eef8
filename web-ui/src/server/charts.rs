//! Charts as SVG, drawn on the server by plotters (a Rust charting library), so they show
//! without JavaScript, with nothing fetched from anywhere, and a hydrated page only swaps the
//! markup when new minutes arrive. Text is left to the browser's fonts (`<text>` elements).

use plotters::prelude::*;

use crate::model::format;

/// How a chart prints its values.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Count,
    Bytes,
    Milliseconds,
}

impl Unit {
    fn label(self, value: f64) -> String {
        let value = value.max(0.0);
        match self {
            Unit::Count => format::thousands(value.round() as u64),
            Unit::Bytes => format::bytes(value.round() as u64),
            Unit::Milliseconds => format::milliseconds(value.round() as i64),
        }
    }
}

const BRAND: RGBColor = RGBColor(11, 79, 108);
const GRID: RGBColor = RGBColor(211, 218, 225);
const INK: RGBColor = RGBColor(74, 88, 102);

/// Titled per-minute charts, one per series, each with its one-line summary (also the chart's
/// text alternative).
pub fn titled_charts(
    minutes: &[String],
    series: Vec<(&str, Unit, Vec<u64>)>,
) -> Vec<crate::server_fns::streams::Chart> {
    series
        .into_iter()
        .map(|(title, unit, values)| crate::server_fns::streams::Chart {
            title: title.to_owned(),
            summary: crate::model::metrics::summary(title, minutes, &values, |v| {
                unit.label(v as f64)
            }),
            svg: minute_chart(minutes, &values, unit),
        })
        .collect()
}

/// A per-minute line chart, `width`×`height` user units, scaling to its container.
/// `minutes` label the x axis (`HH:MM`), `values` the y axis, one per minute.
pub fn minute_chart(minutes: &[String], values: &[u64], unit: Unit) -> String {
    let (width, height) = (640u32, 220u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let peak = values.iter().copied().max().unwrap_or(0).max(4) as f64 * 1.15;
        let count = values.len().max(2);
        let chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(78)
            .build_cartesian_2d(0f64..(count - 1) as f64, 0f64..peak);
        let Ok(mut chart) = chart else {
            return String::new();
        };
        let label_style = ("sans-serif", 15).into_font().color(&INK);
        let _ = chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(GRID)
            .x_labels(6)
            .y_labels(5)
            .x_label_style(label_style.clone())
            .y_label_style(label_style)
            .x_label_formatter(&|x| minutes.get(x.round() as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|y| unit.label(*y))
            .draw();
        let series = values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64, *v as f64));
        let _ = chart.draw_series(AreaSeries::new(series.clone(), 0.0, BRAND.mix(0.12)));
        let _ = chart.draw_series(LineSeries::new(series, BRAND.stroke_width(2)));
        let _ = root.present();
    }
    responsive(svg, width, height)
}

/// A small line with no axes, for a table cell.
pub fn sparkline(values: &[u64]) -> String {
    let (width, height) = (120u32, 28u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let peak = values.iter().copied().max().unwrap_or(0).max(1) as f64;
        let count = values.len().max(2);
        let chart = ChartBuilder::on(&root)
            .margin(2)
            .build_cartesian_2d(0f64..(count - 1) as f64, 0f64..peak);
        if let Ok(mut chart) = chart {
            let series = values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as f64, *v as f64));
            let _ = chart.draw_series(AreaSeries::new(series.clone(), 0.0, BRAND.mix(0.15)));
            let _ = chart.draw_series(LineSeries::new(series, BRAND.stroke_width(1)));
        }
        let _ = root.present();
    }
    responsive(svg, width, height)
}

/// Lets the SVG scale with the page: a viewBox instead of fixed pixels.
fn responsive(svg: String, width: u32, height: u32) -> String {
    svg.replacen(
        &format!("width=\"{width}\" height=\"{height}\""),
        &format!("viewBox=\"0 0 {width} {height}\" focusable=\"false\" aria-hidden=\"true\""),
        1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_scalable_svg_with_axis_labels() {
        let minutes: Vec<String> = (0..60).map(|m| format!("18:{m:02}")).collect();
        let values: Vec<u64> = (0..60).map(|m| (m * 37) % 500).collect();
        let svg = minute_chart(&minutes, &values, Unit::Count);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("viewBox=\"0 0 640 220\""));
        assert!(svg.contains("18:00"), "x labels are minutes");
        assert!(
            svg.contains("<polyline") || svg.contains("<path"),
            "a line is drawn"
        );
        let empty = minute_chart(&minutes, &[0; 60], Unit::Bytes);
        assert!(empty.contains("0 B"));
        let spark = sparkline(&values);
        assert!(spark.contains("viewBox=\"0 0 120 28\""));
        assert!(!spark.contains("<text"), "a sparkline has no labels");
    }
}
