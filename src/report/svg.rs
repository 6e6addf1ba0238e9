//! Inline SVG charts (no script, no external resource): a timeline of runs coloured by status,
//! and bar charts of a value per run. Every mark has a `<title>`, which browsers show on hover.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use super::html::escape;
use super::model::RunStatus;

const WIDTH: f64 = 760.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 30.0;

pub fn color(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Success => "#2da44e",
        RunStatus::Failed => "#cf222e",
        RunStatus::Running => "#bf8700",
    }
}

/// One bar: its value, its colour's status and its hover text.
pub struct Bar {
    pub value: f64,
    pub status: RunStatus,
    pub tip: String,
}

/// The smallest 1, 2, 2.5 or 5 × 10^k at or above `v` (`v` > 0).
fn nice_step(v: f64) -> f64 {
    let base = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * base)
        .find(|s| *s >= v * (1.0 - 1e-9))
        .unwrap_or(10.0 * base)
}

/// The axis for values up to `max`: a round step and how many steps reach the top (1 to 4).
fn axis(max: f64) -> (f64, u32) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 1);
    }
    let step = nice_step(max / 4.0);
    (step, ((max / step).ceil() as u32).clamp(1, 4))
}

/// `950`, `1.2k`, `3.4M`, `0.25`, with `unit` appended.
pub fn compact(v: f64, unit: &str) -> String {
    let (n, suffix) = if v.abs() >= 1e9 {
        (v / 1e9, "G")
    } else if v.abs() >= 1e6 {
        (v / 1e6, "M")
    } else if v.abs() >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = if n.abs() >= 100.0 {
        format!("{n:.0}")
    } else {
        let t = format!("{n:.2}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    format!("{text}{suffix}{unit}")
}

fn open(h: &mut String, height: f64, label: &str) {
    let _ = write!(
        h,
        "<svg class=\"chart\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        escape(label),
        escape(label)
    );
}

/// Bars in run order, the y axis from 0 to a round maximum.
pub fn bar_chart(label: &str, unit: &str, bars: &[Bar], first: &str, last: &str) -> String {
    let height = 190.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = height - TOP - BOTTOM;
    let (step, steps) = axis(bars.iter().map(|b| b.value).fold(0.0, f64::max));
    let max = step * f64::from(steps);
    let mut h = String::new();
    open(&mut h, height, label);
    for i in 0..=steps {
        let v = step * f64::from(i);
        let y = TOP + plot_h - plot_h * f64::from(i) / f64::from(steps);
        let _ = write!(
            h,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" class=\"grid\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            escape(&compact(v, unit))
        );
    }
    if bars.is_empty() {
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"middle\">no runs in this period</text>",
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    let step = plot_w / bars.len().max(1) as f64;
    let bar_w = if step > 4.0 { step * 0.75 } else { step };
    for (i, b) in bars.iter().enumerate() {
        let bh = if max > 0.0 {
            plot_h * b.value / max
        } else {
            0.0
        };
        // A zero still shows as a sliver, so every run is visible.
        let bh = bh.max(1.0);
        let x = LEFT + step * i as f64 + (step - bar_w) / 2.0;
        let _ = write!(
            h,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{}</title></rect>",
            TOP + plot_h - bh,
            color(b.status),
            escape(&b.tip)
        );
    }
    let _ = write!(
        h,
        "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" class=\"baseline\"/>\
         <text x=\"{LEFT}\" y=\"{:.1}\" class=\"axis\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{}</text></svg>",
        WIDTH - RIGHT,
        height - 8.0,
        escape(first),
        WIDTH - RIGHT,
        height - 8.0,
        escape(last),
        y = TOP + plot_h,
    );
    h
}

/// A mark per run on a time axis from `since` to `until`, coloured by status.
pub fn timeline(
    label: &str,
    marks: &[(DateTime<Utc>, RunStatus, String)],
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> String {
    let height = 84.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    let span = (until - since).num_seconds().max(1) as f64;
    let x_of = |t: DateTime<Utc>| {
        LEFT + plot_w * ((t - since).num_seconds() as f64 / span).clamp(0.0, 1.0)
    };
    let mid = 32.0;
    let mut h = String::new();
    open(&mut h, height, label);
    let days = (until - since).num_days().max(1);
    let step_days = (days as f64 / 8.0).ceil().max(1.0) as i64;
    let mut tick = since
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    if tick < since {
        tick += Duration::days(1);
    }
    while tick <= until {
        let x = x_of(tick);
        let _ = write!(
            h,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" class=\"grid\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"middle\">{}</text>",
            TOP,
            mid + 18.0,
            height - 12.0,
            tick.format("%m-%d")
        );
        tick += Duration::days(step_days);
    }
    let _ = write!(
        h,
        "<line x1=\"{LEFT}\" y1=\"{mid}\" x2=\"{:.1}\" y2=\"{mid}\" class=\"baseline\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">runs</text>",
        WIDTH - RIGHT,
        LEFT - 6.0,
        mid + 4.0
    );
    for (t, status, tip) in marks {
        let _ = write!(
            h,
            "<circle cx=\"{:.1}\" cy=\"{mid}\" r=\"6\" fill=\"{}\" fill-opacity=\"0.85\"><title>{}</title></circle>",
            x_of(*t),
            color(*status),
            escape(tip)
        );
    }
    h.push_str("</svg>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_values_are_round() {
        assert_eq!(axis(3.0), (1.0, 3));
        assert_eq!(axis(5000.0), (2000.0, 3));
        assert_eq!(axis(0.137), (0.05, 3));
        assert_eq!(axis(0.0), (1.0, 1));
        assert_eq!(compact(2000.0, ""), "2k");
        assert_eq!(compact(2500.0, ""), "2.5k");
        assert_eq!(compact(12.0, "s"), "12s");
        assert_eq!(compact(0.05, "s"), "0.05s");
        assert_eq!(compact(250.0, ""), "250");
    }

    #[test]
    fn every_bar_has_a_tooltip() {
        let bars = [
            Bar {
                value: 3.0,
                status: RunStatus::Success,
                tip: "a <b>".into(),
            },
            Bar {
                value: 0.0,
                status: RunStatus::Failed,
                tip: "c".into(),
            },
        ];
        let svg = bar_chart("rows", "", &bars, "x", "y");
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("a &lt;b&gt;") && svg.contains("#cf222e"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
