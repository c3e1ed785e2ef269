//! Horizontal bar charts in stacked panels (the energy breakdowns), drawn to an SVG string.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{Axis, fmt_number};
use super::xy::palette;

/// Width of a bar figure, pixels.
const WIDTH: u32 = 800;

/// Height of a panel's frame (caption, axis) and of each bar row, pixels.
const PANEL_FRAME: u32 = 90;
const ROW: u32 = 34;

/// One bar: its name and value (in the figure's unit).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bar {
    /// Text left of the bar.
    pub name: String,
    /// Length of the bar, in the figure's unit.
    pub value: f64,
}

/// A panel of bars, drawn top to bottom in order.
#[derive(Debug, Clone)]
pub(crate) struct BarPanel {
    /// The panel's caption.
    pub title: String,
    /// The bars.
    pub bars: Vec<Bar>,
    /// What the percentages after each value are of (same unit); none when 0.
    pub total: f64,
}

/// A figure of bar panels stacked vertically, sharing a value unit.
#[derive(Debug, Clone)]
pub(crate) struct BarFigure {
    /// The caption above all panels.
    pub title: String,
    /// The value axis title, unit included (e.g. `energy (µJ)`).
    pub value_label: String,
    /// Unit written after each bar's value (e.g. `µJ`).
    pub unit: String,
    /// The panels, top to bottom.
    pub panels: Vec<BarPanel>,
}

/// The text at the end of a bar: its value, unit and share of `total` (one decimal; `<0.1`
/// for a share that would show as 0.0 but is not 0).
pub(crate) fn bar_text(value: f64, unit: &str, total: f64) -> String {
    if total > 0.0 {
        let pct = 100.0 * value / total;
        let pct = if pct == 0.0 || pct.abs() >= 0.05 {
            format!("{pct:.1}")
        } else {
            "<0.1".to_string()
        };
        format!("{} {unit} ({pct}%)", fmt_number(value))
    } else {
        format!("{} {unit}", fmt_number(value))
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

impl BarFigure {
    fn panel_height(p: &BarPanel) -> u32 {
        PANEL_FRAME + ROW * p.bars.len() as u32
    }

    /// The figure as SVG text.
    pub fn render(&self) -> anyhow::Result<String> {
        let height = 40 + self.panels.iter().map(Self::panel_height).sum::<u32>();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE)?;
            let mut rest = root.titled(&self.title, ("sans-serif", 20))?;
            let x = Axis::from_zero(&self.value_label, self.max(), 1.4);
            for (i, panel) in self.panels.iter().enumerate() {
                let (area, below) = rest.split_vertically(Self::panel_height(panel));
                self.draw_panel(&area, &x, panel, i)?;
                rest = below;
            }
            root.present()?;
        }
        Ok(svg)
    }

    /// The longest bar of all panels (they share the value axis).
    fn max(&self) -> f64 {
        self.panels
            .iter()
            .flat_map(|p| &p.bars)
            .map(|b| b.value)
            .fold(0.0, f64::max)
    }

    fn draw_panel(
        &self,
        area: &Area<'_>,
        x: &Axis,
        panel: &BarPanel,
        index: usize,
    ) -> anyhow::Result<()> {
        let names: Vec<String> = panel.bars.iter().rev().map(|b| b.name.clone()).collect();
        let y = Axis::category("", names);
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(x.spec(), y.spec())?;
        let x_fmt = |c: &f64| x.tick_label(*c);
        let y_fmt = |c: &f64| y.tick_label(*c);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(x.label.as_str())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .bold_line_style(BLACK.mix(0.12))
            .draw()?;
        let (r, g, b) = palette(index);
        let color = RGBColor(r, g, b);
        let n = panel.bars.len();
        let rows = panel
            .bars
            .iter()
            .enumerate()
            .map(|(i, bar)| ((n - 1 - i) as f64, bar));
        chart.draw_series(rows.clone().map(|(yc, bar)| {
            Rectangle::new([(0.0, yc - 0.32), (bar.value, yc + 0.32)], color.filled())
        }))?;
        let style =
            TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series(rows.map(|(yc, bar)| {
            EmptyElement::at((bar.value, yc))
                + Text::new(
                    bar_text(bar.value, &self.unit, panel.total),
                    (6, 0),
                    style.clone(),
                )
        }))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_text_has_value_unit_and_share() {
        assert_eq!(bar_text(69192.98, "µJ", 166057.19), "69193 µJ (41.7%)");
        assert_eq!(bar_text(0.0, "µJ", 166057.19), "0 µJ (0.0%)");
        assert_eq!(bar_text(0.3043, "µJ", 166057.19), "0.3043 µJ (<0.1%)");
        assert_eq!(bar_text(3.5, "µJ", 0.0), "3.5 µJ");
    }
}
