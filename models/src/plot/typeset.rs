//! Text on the PNG pictures, laid out from the font's own metrics.
//!
//! plotters' `ab_glyph` text drawing places each glyph at the truncated pen position
//! without the glyph's left bearing, so letters drift apart ("Accurac y") and its layout
//! box is shorter than the text. [`Typeset`] wraps a backend and draws text itself: the pen
//! advances by each glyph's advance plus kerning in floating point, each outline is placed
//! at its exact bounds, and the box plotters lays labels out with is the box drawn.

use ab_glyph::{Font, FontRef, Glyph, PxScale, ScaleFont, point};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind};

/// A backend whose text is laid out by [`layout`] in `font`; everything else is `B`'s.
pub struct Typeset<B> {
    inner: B,
    font: FontRef<'static>,
}

impl<B> Typeset<B> {
    /// `inner` with text set in the TrueType `font`.
    pub fn new(inner: B, font: FontRef<'static>) -> Self {
        Typeset { inner, font }
    }
}

/// One line of text at `size` pixels: each glyph's coverage, by pixel offsets from the
/// line's top-left corner, and the line's `(width, height)`.
fn layout(font: &FontRef<'static>, size: f32, text: &str, mut ink: impl FnMut(i32, i32, f32)) -> (u32, u32) {
    let scaled = font.as_scaled(PxScale::from(size));
    let (ascent, descent) = (scaled.ascent(), scaled.descent());
    let mut pen = 0.0f32;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            pen += scaled.kern(p, id);
        }
        let glyph: Glyph = id.with_scale_and_position(PxScale::from(size), point(pen, ascent));
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            let (x0, y0) = (bounds.min.x as i32, bounds.min.y as i32);
            outline.draw(|x, y, coverage| ink(x0 + x as i32, y0 + y as i32, coverage));
        }
        pen += scaled.h_advance(id);
        previous = Some(id);
    }
    (pen.ceil().max(0.0) as u32, (ascent - descent).ceil().max(0.0) as u32)
}

impl<B: DrawingBackend> DrawingBackend for Typeset<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (iw, ih): (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, (iw, ih), src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        Ok(layout(&self.font, style.size() as f32, text, |_, _, _| {}))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let mut pixels = Vec::new();
        let (width, height) = layout(&self.font, style.size() as f32, text, |x, y, c| pixels.push((x, y, c)));
        let (width, height) = (width as i32, height as i32);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0,
            HPos::Center => -width / 2,
            HPos::Right => -width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let (w, h) = self.get_size();
        for (x, y, coverage) in pixels {
            let (x, y) = transform.transform(x + dx, y + dy);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h && coverage > 0.0 {
                let ink = BackendColor { alpha: color.alpha * f64::from(coverage.min(1.0)), rgb: color.rgb };
                self.inner.draw_pixel((x, y), ink)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> FontRef<'static> {
        FontRef::try_from_slice(super::super::FONT).unwrap()
    }

    /// The columns of the line's box that hold ink.
    fn inked_columns(text: &str, size: f32) -> (u32, Vec<bool>) {
        let mut columns = vec![false; 1000];
        let (width, _) = layout(&font(), size, text, |x, _, c| {
            if c > 0.25 {
                columns[x as usize] = true;
            }
        });
        (width, columns)
    }

    #[test]
    fn a_word_has_no_gap_wider_than_its_narrowest_letter_spacing() {
        // plotters drew "Accurac y" and "cross-en tropy": a blank gap of several pixels
        // inside a word. Laid out by advances, no gap inside these words exceeds 3 px at
        // 22 px (the widest natural one, between "r" and "a", is 1–2 px).
        for word in ["Accuracy", "cross-entropy", "epoch", "Loss"] {
            let (width, columns) = inked_columns(word, 22.0);
            let first = columns.iter().position(|&c| c).unwrap();
            let last = columns.iter().rposition(|&c| c).unwrap();
            let mut widest = 0;
            let mut run = 0;
            for &c in &columns[first..=last] {
                run = if c { 0 } else { run + 1 };
                widest = widest.max(run);
            }
            assert!(widest <= 3, "{word}: a gap of {widest} px inside the word");
            // The box plotters lays labels out with holds the ink, give or take a bearing.
            assert!(last as u32 <= width + 2 && width <= last as u32 + 4, "{word}: box {width}, ink to {last}");
        }
    }

    #[test]
    fn the_box_grows_with_the_text_and_the_size() {
        let f = font();
        let (w1, h1) = layout(&f, 14.0, "0.05", |_, _, _| {});
        let (w2, h2) = layout(&f, 28.0, "0.05", |_, _, _| {});
        let (w3, _) = layout(&f, 14.0, "0.050", |_, _, _| {});
        assert!(w2 >= 2 * w1 - 2 && h2 >= 2 * h1 - 2, "{w1}×{h1} vs {w2}×{h2}");
        assert!(w3 > w1);
    }
}
