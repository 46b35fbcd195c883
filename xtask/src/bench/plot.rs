//! The bench's PNG plots, beside its text tables: frames delivered against
//! frames offered (bridge part), and the delay distribution of each bridge
//! (delay part). Drawn with plotters; text is rendered by ab_glyph from
//! Debian's DejaVu Sans (fonts-dejavu-core), so nothing links fontconfig.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use super::bridge::{Row, CASES};
use super::delay::{self, Subject};
use super::summary::format_rate;
use crate::{Error, Result};

/// The font file, from Debian's fonts-dejavu-core.
pub(super) const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

const SIZE: (u32, u32) = (1000, 640);

/// Registers the font once; its bytes live as long as the program.
fn font() -> Result {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let bytes = std::fs::read(FONT).map_err(|e| {
                format!("cannot read {FONT} for the plots' text ({e}): install fonts-dejavu-core")
            })?;
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{FONT} is not a font plotters can use"))
        })
        .clone()
        .map_err(Error::Failed)
}

fn failed(path: &Path) -> impl FnOnce(String) -> Error + '_ {
    move |e| Error::Failed(format!("cannot draw {}: {e}", path.display()))
}

const COLORS: [RGBColor; 7] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0x7f, 0x7f, 0x7f),
];

/// Delivered against offered frames per second, one line per bridge, for
/// each frame size of the bridge part; returns the files written.
pub(super) fn delivered(rows: &[Row], out_dir: &Path) -> Result<Vec<PathBuf>> {
    font()?;
    let mut written = Vec::new();
    let mut sizes: Vec<u16> = CASES.iter().map(|c| c.frame_bytes).collect();
    sizes.dedup();
    for frame_bytes in sizes {
        let mut duts = Vec::new();
        for row in rows.iter().filter(|r| r.case.frame_bytes == frame_bytes) {
            if !duts.contains(&row.dut) {
                duts.push(row.dut);
            }
        }
        let lines: Vec<(&str, Vec<(f64, f64)>)> = duts
            .iter()
            .map(|&dut| {
                let mut points: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| r.dut == dut && r.case.frame_bytes == frame_bytes)
                    .filter_map(Row::summary)
                    .map(|s| (s.offered_rate / 1e3, s.delivered_rate / 1e3))
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                (dut.name(), points)
            })
            .filter(|(_, p)| !p.is_empty())
            .collect();
        if lines.is_empty() {
            continue;
        }
        let max = lines
            .iter()
            .flat_map(|(_, p)| p.iter().flat_map(|&(x, y)| [x, y]))
            .fold(1.0, f64::max)
            * 1.05;
        let path = out_dir.join(format!("bridge-{frame_bytes}B.png"));
        draw_lines(
            &path,
            &format!("{frame_bytes}-byte frames: delivered vs offered (medians, flood included)"),
            ("offered, kfps", "delivered, kfps"),
            (0.0..max, 0.0..max),
            Some(max),
            &lines,
        )
        .map_err(failed(&path))?;
        written.push(path);
    }
    Ok(written)
}

/// The delay distribution of each bridge (and the floor), one PNG per
/// load: the share of probes slower than x, on log scales, so the median
/// and the tail show in one picture.
pub(super) fn delays(rows: &[delay::Row], out_dir: &Path) -> Result<Vec<PathBuf>> {
    font()?;
    let mut written = Vec::new();
    let mut loads: Vec<delay::Load> = Vec::new();
    for row in rows {
        if !loads.contains(&row.load) {
            loads.push(row.load);
        }
    }
    let floor = rows.iter().find(|r| r.subject == Subject::Floor);
    for load in loads {
        let mut subjects: Vec<&delay::Row> = rows.iter().filter(|r| r.load == load).collect();
        if let (Some(floor), false) = (floor, subjects.iter().any(|r| r.subject == Subject::Floor))
        {
            subjects.push(floor);
        }
        let lines: Vec<(&str, Vec<(f64, f64)>)> = subjects
            .iter()
            .map(|row| (row.subject.name(), survival(&row.pooled().ns)))
            .filter(|(_, p)| !p.is_empty())
            .collect();
        if lines.is_empty() {
            continue;
        }
        let slowest = lines
            .iter()
            .flat_map(|(_, p)| p.iter().map(|&(x, _)| x))
            .fold(10.0, f64::max);
        let fewest = lines
            .iter()
            .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
            .fold(1.0, f64::min);
        let path = out_dir.join(format!("delay-{}.png", load.slug()));
        draw_log_lines(
            &path,
            &format!(
                "one-way delay, probes at {} fps{}",
                delay::PROBE_RATE,
                match load {
                    delay::Load::Probes => String::new(),
                    delay::Load::Background(fps) =>
                        format!(" among 64-byte frames at {} fps", format_rate(fps as f64)),
                }
            ),
            ("delay, us (log)", "share of probes slower (log)"),
            (1.0..slowest * 1.5, fewest * 0.5..1.0),
            &lines,
        )
        .map_err(failed(&path))?;
        written.push(path);
    }
    Ok(written)
}

/// `(delay in us, share of probes slower)` from sorted delays in ns,
/// thinned to at most about 400 points.
fn survival(sorted_ns: &[u64]) -> Vec<(f64, f64)> {
    let n = sorted_ns.len();
    if n == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(400).max(1);
    let mut points: Vec<(f64, f64)> = (0..n)
        .step_by(step)
        .map(|i| (sorted_ns[i] as f64 / 1e3, (n - i) as f64 / n as f64))
        .collect();
    points.push((sorted_ns[n - 1] as f64 / 1e3, 1.0 / n as f64));
    points
}

type Lines<'a> = [(&'a str, Vec<(f64, f64)>)];

fn draw_lines(
    path: &Path,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    (xs, ys): (std::ops::Range<f64>, std::ops::Range<f64>),
    diagonal: Option<f64>,
    lines: &Lines<'_>,
) -> Result<(), String> {
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(xs, ys)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| e.to_string())?;
    if let Some(max) = diagonal {
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (max, max)], BLACK.mix(0.25)))
            .map_err(|e| e.to_string())?
            .label("delivered = offered")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.25)));
    }
    for (i, (name, points)) in lines.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

fn draw_log_lines(
    path: &Path,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    (xs, ys): (std::ops::Range<f64>, std::ops::Range<f64>),
    lines: &Lines<'_>,
) -> Result<(), String> {
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(xs.log_scale(), ys.log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (name, points)) in lines.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survival_runs_from_everything_to_the_slowest() {
        let ns: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        let points = survival(&ns);
        assert_eq!(points[0], (1.0, 1.0));
        assert_eq!(*points.last().unwrap(), (1000.0, 0.001));
        assert!(points.len() <= 402);
        assert!(points
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 >= w[1].1));
        assert!(survival(&[]).is_empty());
    }

    #[test]
    fn plots_are_drawn_as_png() {
        if !Path::new(FONT).exists() {
            println!("SKIPPED: {FONT} missing (fonts-dejavu-core)");
            return;
        }
        let dir = crate::target_dir().join("plot-test");
        std::fs::create_dir_all(&dir).unwrap();
        let rows = vec![delay::Row {
            load: delay::Load::Probes,
            subject: Subject::Floor,
            runs: vec![delay::Delays {
                ns: (1..=500).map(|i| i * 997).collect(),
                ..delay::Delays::default()
            }],
        }];
        let written = delays(&rows, &dir).unwrap();
        assert_eq!(written.len(), 1);
        let png = std::fs::read(&written[0]).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
