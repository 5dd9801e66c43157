//! The confusion matrix's picture: rows are true labels, columns predictions.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{CONFUSION_SIZE, FAMILY, PlotError, draw_err};

/// The longest class name drawn whole; longer ones end in `…`.
const NAME_CHARS: usize = 14;

/// A class's label on the confusion matrix: its name, shortened to [`NAME_CHARS`].
fn short_name(names: &[String], class: usize) -> String {
    match names.get(class) {
        Some(n) if n.chars().count() > NAME_CHARS => {
            format!("{}…", n.chars().take(NAME_CHARS - 1).collect::<String>().trim_end())
        }
        Some(n) => n.clone(),
        None => class.to_string(),
    }
}

/// The confusion matrix's picture size for `k` classes named `names`: cells wide enough for
/// the longest (shortened) name at 14 px, the whole no wider than 1600 px.
pub(super) fn confusion_size(k: usize, names: &[String]) -> (u32, u32) {
    let longest = (0..k).map(|c| short_name(names, c).chars().count()).max().unwrap_or(1) as u32;
    let cell = (longest * 8 + 10).clamp(44, 120).min(1400 / (k as u32).max(1)).max(8);
    let side = (cell * k as u32 + 120).clamp(CONFUSION_SIZE.0, 1600);
    (side, side)
}

/// Draws a confusion matrix: rows are true labels, columns predictions, each cell shaded
/// by its share of its row and labelled with its count; the axes name the classes.
pub(super) fn draw_confusion<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    confusion: &[Vec<usize>],
    names: &[String],
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let k = confusion.len();
    if k == 0 || confusion.iter().any(|r| r.len() != k) {
        return Err(PlotError::Confusion(format!("expected a square matrix, got {k} rows")));
    }
    let total: usize = confusion.iter().flatten().sum();
    let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
    root.fill(&WHITE).map_err(draw_err)?;
    let accuracy = if total > 0 { 100.0 * correct as f64 / total as f64 } else { 0.0 };
    let caption = format!("Confusion matrix ({total} images, {accuracy:.2} % correct)");
    let longest = (0..k).map(|c| short_name(names, c).chars().count()).max().unwrap_or(1) as u32;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, (FAMILY, 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size((longest * 8 + 30).max(50))
        .build_cartesian_2d(0..k as i32, 0..k as i32)
        .map_err(draw_err)?;
    let flip = move |v: i32| k as i32 - 1 - v;
    let label = |v: i32| if (0..k as i32).contains(&v) { short_name(names, v as usize) } else { String::new() };
    let cell = chart.backend_coord(&(1, 0)).0 - chart.backend_coord(&(0, 0)).0;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(k)
        .y_labels(k)
        .x_desc("predicted")
        .y_desc("true label")
        .x_label_offset(cell / 2)
        .y_label_offset(-cell / 2)
        .x_label_formatter(&|v| label(*v))
        .y_label_formatter(&|v| label(flip(*v)))
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(draw_err)?;
    for (t, row) in confusion.iter().enumerate() {
        let row_total = row.iter().sum::<usize>().max(1) as f64;
        for (p, &n) in row.iter().enumerate() {
            let share = n as f64 / row_total;
            let (x, y) = (p as i32, flip(t as i32));
            let color = if t == p {
                RGBColor(255 - (share * 200.0) as u8, 255 - (share * 120.0) as u8, 255 - (share * 170.0) as u8)
            } else {
                let s = share.sqrt().min(1.0);
                RGBColor(255 - (s * 40.0) as u8, 255 - (s * 190.0) as u8, 255 - (s * 190.0) as u8)
            };
            chart.draw_series([Rectangle::new([(x, y), (x + 1, y + 1)], color.filled())]).map_err(draw_err)?;
            chart
                .draw_series([Rectangle::new([(x, y), (x + 1, y + 1)], RGBColor(220, 220, 220).stroke_width(1))])
                .map_err(draw_err)?;
            if n > 0 {
                let ink = if t == p && share > 0.6 { WHITE } else { BLACK };
                let style =
                    TextStyle::from((FAMILY, 13).into_font()).color(&ink).pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    ));
                let (cx, cy) = chart.backend_coord(&(x, y + 1));
                let (dx, dy) = chart.backend_coord(&(x + 1, y));
                root.draw_text(&n.to_string(), &style, ((cx + dx) / 2, (cy + dy) / 2)).map_err(draw_err)?;
            }
        }
    }
    root.present().map_err(draw_err)
}
