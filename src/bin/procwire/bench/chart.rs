//! The `--svg` chart, one band per placement: throughput by chunk size of the kernel wires,
//! the in-memory model on its own scale (it moves several times what a kernel wire does and
//! would squash them), and 1-byte round-trip latency. One colour per row; procwire's median
//! as a solid line with its min-max range over repeats as whiskers, the raw loop on the same
//! wire as a dashed line of the same colour; the legend says so.

use plotters::prelude::*;

use super::plan::{Placement, Row, human_bytes};
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

/// Renders the chart of `report` as SVG text: per placement, a throughput panel of the kernel
/// wires, the model row on its own scale, and a panel of 1-byte round-trip latency.
pub fn render(report: &Report, out: &mut String) -> ChartResult {
    let placements = report.placements();
    let chunks = report.chunks();
    if placements.is_empty() || chunks.is_empty() {
        return Err("nothing to chart: the report has no throughput cells".into());
    }
    let (w, h) = (1500u32, 440u32);
    let root =
        SVGBackend::with_string(out, (w, h * placements.len() as u32 + 40)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "procwire bench (solid: procwire, median of repeats; dashed: raw loop on the same \
             wire, for the model a kernel socketpair; whiskers: min to max over repeats)",
            ("sans-serif", 17),
        )
        .map_err(err)?;
    let is_model = |row: &Row| row.subject.kind().is_model();
    let kernel: Vec<(usize, &Row)> = report
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !is_model(r))
        .collect();
    let model: Vec<(usize, &Row)> = report
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| is_model(r))
        .collect();
    let rows_of = |set: &[(usize, &Row)]| -> Vec<usize> { set.iter().map(|(i, _)| *i).collect() };
    let ymax = |set: &[usize]| {
        report
            .throughput
            .iter()
            .filter(|c| set.iter().any(|&i| report.rows[i].label == c.row))
            .map(|c| c.procwire_gb_s.max.max(c.raw_gb_s.max))
            .fold(0.0, f64::max)
            * 1.1
    };
    let (kernel_max, model_max) = (ymax(&rows_of(&kernel)), ymax(&rows_of(&model)));
    for (band, &placement) in root
        .split_evenly((placements.len(), 1))
        .iter()
        .zip(&placements)
    {
        let cpus = report.cpus(placement);
        let where_ = format!("{} (CPUs {} and {})", placement.describe(), cpus.0, cpus.1);
        let (left, rest) = band.split_horizontally(w * 45 / 100);
        let (middle, right) = rest.split_horizontally(w * 25 / 100);
        if !kernel.is_empty() {
            throughput_panel(
                report,
                &left,
                placement,
                &kernel,
                kernel_max,
                &format!("throughput, {where_}"),
            )?;
        }
        if !model.is_empty() {
            throughput_panel(
                report,
                &middle,
                placement,
                &model,
                model_max,
                &format!("model between threads, {}", placement.describe()),
            )?;
        }
        latency_panel(
            report,
            &right,
            placement,
            &format!("1-byte round trip, {}", placement.describe()),
        )?;
    }
    root.present().map_err(err)?;
    Ok(())
}

type Area<'a, 'b> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// GB/s by chunk size for `rows` (index into `report.rows`, for the colour).
fn throughput_panel(
    report: &Report,
    area: &Area<'_, '_>,
    placement: Placement,
    rows: &[(usize, &Row)],
    ymax: f64,
    caption: &str,
) -> ChartResult {
    let chunks = report.chunks();
    let x_of = |chunk: usize| chunks.iter().position(|&c| c == chunk).unwrap_or(0) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(50)
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
    for &(i, row) in rows {
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
    legend_keys(&mut chart)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Legend entries that explain the line styles and the whiskers.
fn legend_keys<DB: DrawingBackend, C: plotters::coord::CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, C>,
) -> ChartResult
where
    DB::ErrorType: 'static,
{
    let grey = BLACK.mix(0.6);
    chart
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
        .map_err(err)?
        .label("dashed: raw loop")
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 5, y), (x + 9, y), (x + 14, y)], grey)
        });
    chart
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
        .map_err(err)?
        .label("whisker: min to max over repeats")
        .legend(move |(x, y)| PathElement::new(vec![(x + 7, y - 6), (x + 7, y + 6)], grey));
    Ok(())
}

/// Median 1-byte round trip per row (bars, colours as in the throughput legend, the median
/// written above) with the p99 as a whisker, in µs.
fn latency_panel(
    report: &Report,
    area: &Area<'_, '_>,
    placement: Placement,
    caption: &str,
) -> ChartResult {
    let cells: Vec<(usize, &super::report::LatencyCell)> = report
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            report
                .latency
                .iter()
                .find(|l| l.row == r.label && l.placement == placement)
                .map(|l| (i, l))
        })
        .collect();
    let ymax = cells
        .iter()
        .map(|(_, l)| l.procwire_us.median * 3.0)
        .fold(1.0, f64::max);
    let n = cells.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..ymax)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|_| String::new())
        .x_desc("row (colours as in the throughput panel)")
        .y_desc("µs, median (bar) and p99 (whisker, clipped at 3x the median)")
        .draw()
        .map_err(err)?;
    for (x, (i, l)) in cells.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let x = x as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x - 0.35, 0.0), (x + 0.35, l.procwire_us.median)],
                colour.filled(),
            )))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{:.1}", l.procwire_us.median),
                (x - 0.3, l.procwire_us.median * 1.04 + ymax * 0.02),
                ("sans-serif", 12),
            )))
            .map_err(err)?;
        let top = l.procwire_us.p99.min(ymax);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, l.procwire_us.median), (x, top)],
                BLACK.stroke_width(1),
            )))
            .map_err(err)?;
    }
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
        // The legend explains the whiskers and the dashes; the model has its own panel and
        // there is a latency panel per placement.
        assert!(svg.contains("whisker: min to max over repeats"));
        assert!(svg.contains("dashed: raw loop"));
        assert!(svg.contains("model between threads, same CPU"));
        assert!(svg.contains("1-byte round trip, different CPUs"));
        assert!(
            svg.contains("7.7"),
            "the socketpair 4 MiB median is written on its bar"
        );
    }

    #[test]
    fn an_empty_report_is_an_error_not_a_blank_picture() {
        let mut report = crate::bench::report::fixture::sample();
        report.throughput.clear();
        let mut svg = String::new();
        assert!(render(&report, &mut svg).is_err());
    }
}
