//! Pictures of training: loss and accuracy per epoch from a metrics CSV, and a confusion
//! matrix, as PNG or SVG (chosen by the output's extension).
//!
//! Text is set in DejaVu Sans, compiled into the binary (`models/assets/fonts`, Bitstream
//! Vera licence), so plotting needs no system fonts or fontconfig; on PNGs it is laid out
//! by the `typeset` module (plotters' own glyph placement leaves gaps inside words).

use std::path::Path;
use std::sync::Once;

use layers::{AtPath, WithPath};
use plotters::coord::Shift;
use plotters::prelude::*;
use thiserror::Error;

mod confusion;
mod typeset;

use confusion::{confusion_size, draw_confusion};
use typeset::Typeset;

/// What went wrong reading metrics or writing a picture.
#[derive(Debug, Error)]
pub enum PlotError {
    /// A metrics file or an output file at fault.
    #[error(transparent)]
    File(#[from] WithPath<PlotFault>),
    /// A confusion matrix that is empty or not square.
    #[error("confusion matrix: {0}")]
    Confusion(String),
    /// Drawing or encoding failed.
    #[error("drawing: {0}")]
    Draw(String),
}

/// What is wrong with a metrics file or an output file (named by [`PlotError::File`]'s
/// `path`).
#[derive(Debug, Error)]
pub enum PlotFault {
    /// Reading or writing the file failed.
    #[error(transparent)]
    Io(std::io::Error),
    /// A metrics file that is not the CSV `append_metrics` writes.
    #[error("line {line}: {reason}")]
    Csv {
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A metrics file without a single epoch.
    #[error("no epoch to plot")]
    Empty,
    /// An output name that ends in neither `.png` nor `.svg`.
    #[error("the output must end in .png or .svg")]
    Extension,
}

/// One epoch of a metrics CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRow {
    /// The epoch (1-based).
    pub epoch: usize,
    /// The learning rate.
    pub lr: f64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy in [0, 1].
    pub train_accuracy: f64,
    /// Test loss.
    pub test_loss: f64,
    /// Test accuracy in [0, 1].
    pub test_accuracy: f64,
}

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
const PNG_SCALE: u32 = 1;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is a valid TrueType file; a failure would only lose the text.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Reads a metrics CSV (the columns of `models::train::append_metrics`, found by name).
pub fn read_metrics(path: &Path) -> Result<Vec<MetricsRow>, PlotError> {
    let text = std::fs::read_to_string(path).map_err(PlotFault::Io).at(path)?;
    let csv = |line: usize, reason: String| PlotError::from(WithPath::new(path, PlotFault::Csv { line, reason }));
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| WithPath::new(path, PlotFault::Empty))?;
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| {
        names.iter().position(|n| *n == name).ok_or_else(|| csv(1, format!("no column {name:?} in the header")))
    };
    let cols = [
        col("epoch")?,
        col("lr")?,
        col("train_loss")?,
        col("train_accuracy")?,
        col("test_loss")?,
        col("test_accuracy")?,
    ];
    let mut rows = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != names.len() {
            return Err(csv(i + 1, format!("{} fields, the header has {}", fields.len(), names.len())));
        }
        let num = |k: usize| -> Result<f64, PlotError> {
            let f = fields[cols[k]];
            f.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| csv(i + 1, format!("{f:?} is not a number")))
        };
        let epoch = fields[cols[0]].parse::<usize>().map_err(|_| csv(i + 1, "the epoch is not a count".into()))?;
        rows.push(MetricsRow {
            epoch,
            lr: num(1)?,
            train_loss: num(2)?,
            train_accuracy: num(3)?,
            test_loss: num(4)?,
            test_accuracy: num(5)?,
        });
    }
    if rows.is_empty() {
        return Err(WithPath::new(path, PlotFault::Empty).into());
    }
    Ok(rows)
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Draw(e.to_string())
}

const TRAIN: RGBColor = RGBColor(31, 119, 180);
const TEST: RGBColor = RGBColor(230, 85, 13);

/// A value axis whose ticks are `step` apart from `first`, a whole multiple of `step`, to the
/// last one at or above the data: the lowest and highest ticks sit just inside the range,
/// so each is labelled (plotters drops a label whose tick rounds to outside it), and every
/// label has the same decimals.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    first: f64,
    step: f64,
    ticks: usize,
    decimals: usize,
}

impl Axis {
    /// About six ticks of 1, 2 or 5 × 10ᵏ around `[lo, hi]` and a twentieth of it more on
    /// each side (so that no point sits on the frame), that margin not past `bounds` (a loss
    /// axis does not go below 0, an accuracy axis not above 100 %).
    fn around(lo: f64, hi: f64, bounds: std::ops::RangeInclusive<f64>) -> Axis {
        let span = (hi - lo).max(1e-3 * hi.abs().max(1e-3));
        let lo = (lo - span / 20.0).max(*bounds.start()).min(lo);
        let hi = (hi + span / 20.0).min(*bounds.end()).max(hi);
        let rough = span / 5.0;
        let magnitude = 10f64.powf(rough.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= rough).unwrap_or(rough);
        let first = (lo / step).floor() * step;
        let ticks = ((hi - first) / step).ceil().max(1.0) as usize + 1;
        let decimals = (-step.log10().floor()).max(0.0) as usize;
        Axis { first, step, ticks, decimals }
    }

    /// From a hair below the first tick to a hair above the last.
    fn range(&self) -> std::ops::Range<f64> {
        let margin = 0.02 * self.step;
        (self.first - margin)..(self.first + (self.ticks - 1) as f64 * self.step + margin)
    }
}

/// Draws loss and accuracy per epoch side by side.
fn draw_metrics<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, rows: &[MetricsRow]) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_err)?;
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
    let first = rows.iter().map(|r| r.epoch).min().unwrap_or(1) as f64;
    let last = rows.iter().map(|r| r.epoch).max().unwrap_or(1) as f64;
    let (x0, x1) = if last > first { (first, last) } else { (first - 0.5, last + 0.5) };
    type Get = fn(&MetricsRow) -> f64;
    type Panel<'a, DB> =
        (&'a DrawingArea<DB, Shift>, &'a str, &'a str, Get, Get, std::ops::RangeInclusive<f64>, SeriesLabelPosition);
    let panels: [Panel<'_, DB>; 2] = [
        (
            &left,
            "Loss per epoch",
            "cross-entropy",
            |r| r.train_loss,
            |r| r.test_loss,
            0.0..=f64::INFINITY,
            SeriesLabelPosition::UpperRight,
        ),
        (
            &right,
            "Accuracy per epoch",
            "accuracy (%)",
            |r| 100.0 * r.train_accuracy,
            |r| 100.0 * r.test_accuracy,
            0.0..=100.0,
            SeriesLabelPosition::LowerRight,
        ),
    ];
    for (area, title, ylabel, train, test, bounds, legend) in panels {
        let values = rows.iter().flat_map(|r| [train(r), test(r)]);
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let axis = Axis::around(lo, hi, bounds);
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FAMILY, 22))
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(58)
            .build_cartesian_2d(x0..x1, axis.range())
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(ylabel)
            .x_labels(rows.len().clamp(2, 10))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_labels(axis.ticks)
            .y_label_formatter(&|v| format!("{v:.*}", axis.decimals))
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 15))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(draw_err)?;
        for (name, color, get) in [("train", TRAIN, train), ("test", TEST, test)] {
            let points: Vec<(f64, f64)> = rows.iter().map(|r| (r.epoch as f64, get(r))).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))
                .map_err(draw_err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, color.filled()))).map_err(draw_err)?;
        }
        chart
            .configure_series_labels()
            .position(legend)
            .label_font((FAMILY, 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(draw_err)?;
    }
    root.present().map_err(draw_err)
}

/// Which picture format `out` asks for.
fn format_of(out: &Path) -> Result<&'static str, PlotError> {
    match out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("png") => Ok("png"),
        Some("svg") => Ok("svg"),
        _ => Err(WithPath::new(out, PlotFault::Extension).into()),
    }
}

/// Draws with `draw` at `size` into `out`, PNG or SVG by its extension.
fn render(
    out: &Path,
    size: (u32, u32),
    draw_png: impl FnOnce(DrawingArea<Typeset<BitMapBackend<'_>>, Shift>) -> Result<(), PlotError>,
    draw_svg: impl FnOnce(DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), PlotError>,
) -> Result<(), PlotError> {
    register_font();
    let io = |source| PlotError::from(WithPath::new(out, PlotFault::Io(source)));
    match format_of(out)? {
        "png" => {
            let (w, h) = (size.0 * PNG_SCALE, size.1 * PNG_SCALE);
            let mut buf = vec![255u8; (w * h * 3) as usize];
            let font = ab_glyph::FontRef::try_from_slice(FONT).map_err(|e| PlotError::Draw(e.to_string()))?;
            draw_png(Typeset::new(BitMapBackend::with_buffer(&mut buf, (w, h)), font).into_drawing_area())?;
            image::save_buffer_with_format(out, &buf, w, h, image::ExtendedColorType::Rgb8, image::ImageFormat::Png)
                .map_err(|e| match e {
                    image::ImageError::IoError(source) => io(source),
                    other => PlotError::Draw(other.to_string()),
                })
        }
        _ => {
            let mut s = String::new();
            draw_svg(SVGBackend::with_string(&mut s, size).into_drawing_area())?;
            std::fs::write(out, s).map_err(io)
        }
    }
}

const METRICS_SIZE: (u32, u32) = (1000, 420);
const CONFUSION_SIZE: (u32, u32) = (560, 560);

/// Plots loss and accuracy per epoch (training and test) from the metrics CSV at
/// `csv_path` into `out_path`, PNG or SVG by its extension.
pub fn metrics_plot(csv_path: &Path, out_path: &Path) -> Result<(), PlotError> {
    format_of(out_path)?;
    let rows = read_metrics(csv_path)?;
    render(out_path, METRICS_SIZE, |a| draw_metrics(a, &rows), |a| draw_metrics(a, &rows))
}

/// The metrics plot as an SVG document.
pub fn metrics_svg(rows: &[MetricsRow]) -> Result<String, PlotError> {
    register_font();
    let mut s = String::new();
    draw_metrics(SVGBackend::with_string(&mut s, METRICS_SIZE).into_drawing_area(), rows)?;
    Ok(s)
}

/// Draws a confusion matrix (`confusion[true][predicted]` counts) into `out`, PNG or SVG by
/// its extension, its axes labelled with `class_names` (numbers where there is none).
pub fn confusion_plot(confusion: &[Vec<usize>], class_names: &[String], out: &Path) -> Result<(), PlotError> {
    let size = confusion_size(confusion.len(), class_names);
    render(out, size, |a| draw_confusion(a, confusion, class_names), |a| draw_confusion(a, confusion, class_names))
}

/// Draws a confusion matrix as a PNG (`out` must end in `.png`).
pub fn confusion_png(confusion: &[Vec<usize>], class_names: &[String], out: &Path) -> Result<(), PlotError> {
    if format_of(out)? != "png" {
        return Err(WithPath::new(out, PlotFault::Extension).into());
    }
    confusion_plot(confusion, class_names, out)
}

/// The confusion matrix as an SVG document.
pub fn confusion_svg(confusion: &[Vec<usize>], class_names: &[String]) -> Result<String, PlotError> {
    register_font();
    let mut s = String::new();
    let size = confusion_size(confusion.len(), class_names);
    draw_confusion(SVGBackend::with_string(&mut s, size).into_drawing_area(), confusion, class_names)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::Axis;

    #[test]
    fn the_axis_ticks_cover_the_data_and_sit_inside_the_range() {
        let cases =
            [(0.0139, 0.2843), (0.204, 0.52), (91.2, 99.6), (80.0, 89.0), (0.5, 0.5), (-3.0, 7.5), (1e-4, 2e-4)];
        for (lo, hi) in cases {
            let axis = Axis::around(lo, hi, f64::NEG_INFINITY..=f64::INFINITY);
            let range = axis.range();
            let last = axis.first + (axis.ticks - 1) as f64 * axis.step;
            assert!(axis.first <= lo && last >= hi, "{lo}..{hi}: ticks {}..{last}", axis.first);
            assert!(range.start < axis.first && last < range.end, "{lo}..{hi}: {range:?}");
            assert!((3..=12).contains(&axis.ticks), "{lo}..{hi}: {} ticks", axis.ticks);
            let mantissa = axis.step / 10f64.powf(axis.step.log10().floor());
            assert!([1.0, 2.0, 5.0].iter().any(|m| (m - mantissa).abs() < 1e-9), "step {}", axis.step);
            let label = format!("{:.*}", axis.decimals, axis.first + axis.step);
            assert!((label.parse::<f64>().unwrap() - (axis.first + axis.step)).abs() < axis.step * 1e-6, "{label}");
        }
    }

    /// A loss that reaches 0.006 gets no tick below 0, an accuracy of 99.9 % none above
    /// 100; data outside the bounds still lies within the ticks.
    #[test]
    fn the_axis_margin_stops_at_its_bounds() {
        let loss = Axis::around(0.006, 0.25, 0.0..=f64::INFINITY);
        assert_eq!(loss.first, 0.0, "{loss:?}");
        let accuracy = Axis::around(92.6, 99.9, 0.0..=100.0);
        let last = accuracy.first + (accuracy.ticks - 1) as f64 * accuracy.step;
        assert!((99.9..=100.0 + 1e-9).contains(&last), "{accuracy:?}");
        let outside = Axis::around(-1.0, 101.0, 0.0..=100.0);
        let last = outside.first + (outside.ticks - 1) as f64 * outside.step;
        assert!(outside.first <= -1.0 && last >= 101.0, "{outside:?}");
    }
}
