//! The `--svg` chart: throughput by chunk size, one panel per placement, one colour per row;
//! procwire's median as a solid line with its min-max range as whiskers, the raw loop on the
//! same wire as a dashed line of the same colour.

use plotters::prelude::*;

use super::plan::human_bytes;
use super::report::Report;

const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

type ChartResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Renders the chart of `report` as SVG text.
pub fn render(report: &Report, out: &mut String) -> ChartResult {
    let placements = report.placements();
    let chunks = report.chunks();
    if placements.is_empty() || chunks.is_empty() {
        return Err("nothing to chart: the report has no throughput cells".into());
    }
    let width = 640 * placements.len() as u32;
    let root = SVGBackend::with_string(out, (width, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "procwire bench: throughput by chunk size (solid: procwire; dashed: raw loop, for the model a kernel socketpair)",
            ("sans-serif", 20),
        )
        .map_err(err)?;
    let ymax = report
        .throughput
        .iter()
        .map(|c| c.procwire_gb_s.max.max(c.raw_gb_s.max))
        .fold(0.0, f64::max)
        * 1.1;
    let x_of = |chunk: usize| chunks.iter().position(|&c| c == chunk).unwrap_or(0) as f64;
    let panels = root.split_evenly((1, placements.len()));
    for (panel, &placement) in panels.iter().zip(&placements) {
        let cpus = report.cpus(placement);
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{} (CPUs {} and {})", placement.describe(), cpus.0, cpus.1),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.3f64..(chunks.len() as f64 - 0.7), 0f64..ymax.max(0.1))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(chunks.len())
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < chunks.len() {
                    human_bytes(chunks[i as usize])
                } else {
                    String::new()
                }
            })
            .x_desc("chunk size")
            .y_desc("GB/s")
            .draw()
            .map_err(err)?;
        for (i, row) in report.rows.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let cells: Vec<_> = report
                .throughput
                .iter()
                .filter(|c| c.row == row.label && c.placement == placement)
                .collect();
            let ours: Vec<(f64, f64)> = cells
                .iter()
                .map(|c| (x_of(c.chunk), c.procwire_gb_s.median))
                .collect();
            let raw: Vec<(f64, f64)> = cells
                .iter()
                .map(|c| (x_of(c.chunk), c.raw_gb_s.median))
                .collect();
            chart
                .draw_series(LineSeries::new(ours.clone(), colour.stroke_width(2)))
                .map_err(err)?
                .label(row.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(ours.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(err)?;
            chart
                .draw_series(cells.iter().map(|c| {
                    let x = x_of(c.chunk);
                    PathElement::new(
                        vec![(x, c.procwire_gb_s.min), (x, c.procwire_gb_s.max)],
                        colour.stroke_width(1),
                    )
                }))
                .map_err(err)?;
            chart
                .draw_series(DashedLineSeries::new(raw, 5, 4, colour.stroke_width(1)))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

fn err<E: std::fmt::Display>(e: E) -> Box<dyn std::error::Error + Send + Sync> {
    format!("drawing the chart: {e}").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_both_panels_every_row_and_the_raw_lines() {
        let report = crate::bench::report::fixture::sample();
        let mut svg = String::new();
        render(&report, &mut svg).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("same CPU (CPUs 0 and 0)"));
        assert!(svg.contains("different CPUs (CPUs 0 and 1)"));
        for row in &report.rows {
            // One legend entry per panel.
            assert_eq!(svg.matches(row.label.as_str()).count(), 2, "{}", row.label);
        }
        for label in ["4 KiB", "64 KiB", "1 MiB", "GB/s"] {
            assert!(svg.contains(label), "{label}");
        }
        // 5 rows x 2 panels dashed raw-loop lines, each drawn as several short segments.
        assert!(svg.matches("<polyline").count() >= 5 * 2 * 2);
    }

    #[test]
    fn an_empty_report_is_an_error_not_a_blank_picture() {
        let mut report = crate::bench::report::fixture::sample();
        report.throughput.clear();
        let mut svg = String::new();
        assert!(render(&report, &mut svg).is_err());
    }
}
