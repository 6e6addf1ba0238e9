//! The report page: one self-contained HTML file (inline CSS and SVG, no script, no link to
//! anything outside it), written as well-formed markup (every element closed).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::model::{ProjectHistory, RunRow, RunStatus};
use super::svg::{self, Bar};
use crate::summary::duration;

/// Text and attribute values made safe for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Bars per chart at most: the latest runs.
pub const MAX_BARS: usize = 200;
/// Failures listed per project.
pub const MAX_FAILURES: usize = 10;
/// Runs listed per project.
pub const MAX_RUNS_LISTED: usize = 25;

pub struct PageInfo {
    pub generated: DateTime<Utc>,
    pub since: DateTime<Utc>,
    pub days: u32,
    /// Where the audit table was read ("sqlite /srv/dw.db").
    pub source: String,
    pub project: Option<String>,
    pub records: usize,
    /// The record limit was reached: older history was not read.
    pub truncated: bool,
}

const CSS: &str = "
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #1f2328; margin: 24px; font-size: 14px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 18px; margin: 32px 0 6px 0; padding-top: 12px; border-top: 2px solid #d1d9e0; }
h3 { font-size: 15px; margin: 18px 0 6px 0; }
.meta { color: #59636e; margin: 0 0 16px 0; }
table { border-collapse: collapse; margin: 4px 0 8px 0; }
th { text-align: left; border-bottom: 1px solid #d1d9e0; padding: 4px 10px; font-weight: 600; }
td { padding: 3px 10px; border-bottom: 1px solid #eef1f4; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.overview td, .runs td, .watermarks td { white-space: nowrap; }
.success { color: #1a7f37; font-weight: 600; }
.failed { color: #cf222e; font-weight: 600; }
.running { color: #9a6700; font-weight: 600; }
.muted { color: #59636e; }
pre { background: #f6f8fa; padding: 8px; border-radius: 4px; font-size: 12px; white-space: pre-wrap; margin: 4px 0 12px 0; }
svg.chart { display: block; margin: 2px 0 10px 0; }
svg.chart .axis { font-size: 11px; fill: #59636e; }
svg.chart .grid { stroke: #eef1f4; stroke-width: 1; }
svg.chart .baseline { stroke: #8c959f; stroke-width: 1; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; border-radius: 2px; }
";

fn status_cell(s: &str) -> String {
    format!("<td class=\"{}\">{}</td>", escape(s), escape(s))
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn seconds(run: &RunRow) -> String {
    duration(std::time::Duration::from_secs_f64(run.seconds()))
}

fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

pub fn page(projects: &[ProjectHistory], info: &PageInfo) -> String {
    let mut h = String::new();
    let title = match &info.project {
        Some(p) => format!("etl runs: {p}"),
        None => "etl runs".to_string(),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n\
         <p class=\"meta\">The last {} days ({} to {} UTC) of the audit table in {}: {} records. Generated {} UTC.{}</p>\n",
        escape(&title),
        escape(&title),
        info.days,
        info.since.format("%Y-%m-%d %H:%M"),
        info.generated.format("%Y-%m-%d %H:%M"),
        escape(&info.source),
        info.records,
        info.generated.format("%Y-%m-%d %H:%M:%S"),
        if info.truncated {
            " Only the newest records were read: older history is not shown."
        } else {
            ""
        }
    );
    if projects.is_empty() {
        h.push_str("<p>No runs recorded.</p>\n</body></html>\n");
        return h;
    }
    overview(&mut h, projects);
    for p in projects {
        project(&mut h, p, info);
    }
    h.push_str("</body></html>\n");
    h
}

fn overview(h: &mut String, projects: &[ProjectHistory]) {
    h.push_str(
        "<table class=\"overview\"><tr><th>project</th><th>runs</th><th>succeeded</th><th>failed</th>\
         <th>last run</th><th>last status</th><th>last success</th><th>tables</th></tr>\n",
    );
    for p in projects {
        let last = p.runs.last();
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#project-{}\">{}</a></td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td>{}<td>{}</td><td class=\"num\">{}</td></tr>",
            anchor(&p.name),
            escape(&p.name),
            p.runs.len(),
            p.count(RunStatus::Success),
            p.count(RunStatus::Failed),
            time(last.map(|r| r.started)),
            last.map(|r| status_cell(r.status.as_str()))
                .unwrap_or_else(|| "<td></td>".into()),
            time(p.last_success().map(|r| r.started)),
            p.watermarks.len()
        );
    }
    h.push_str("</table>\n");
}

fn project(h: &mut String, p: &ProjectHistory, info: &PageInfo) {
    let _ = writeln!(
        h,
        "<section id=\"project-{}\"><h2>{}</h2>\n<p class=\"meta\">{} runs: {} succeeded, {} failed{}.</p>",
        anchor(&p.name),
        escape(&p.name),
        p.runs.len(),
        p.count(RunStatus::Success),
        p.count(RunStatus::Failed),
        match p.count(RunStatus::Running) {
            0 => String::new(),
            n => format!(", {n} running or interrupted"),
        }
    );
    h.push_str(
        "<p class=\"legend muted\">status:<span style=\"background:#2da44e\"></span>success\
         <span style=\"background:#cf222e\"></span>failed<span style=\"background:#bf8700\"></span>running</p>\n",
    );
    let tip = |r: &RunRow| {
        format!(
            "{} {} UTC, {} ({}), {} rows, {}{}",
            r.run_id,
            r.started.format("%Y-%m-%d %H:%M:%S"),
            r.status.as_str(),
            r.load_type,
            r.rows,
            seconds(r),
            if r.windows.is_empty() {
                String::new()
            } else {
                format!(", window {}", r.windows.join(", "))
            }
        )
    };
    h.push_str("<h3>Runs over time</h3>\n");
    let marks: Vec<_> = p
        .runs
        .iter()
        .map(|r| (r.started, r.status, tip(r)))
        .collect();
    h.push_str(&svg::timeline(
        &format!("Runs of {} over time, by status", p.name),
        &marks,
        info.since,
        info.generated,
    ));
    let shown = &p.runs[p.runs.len().saturating_sub(MAX_BARS)..];
    let first = shown
        .first()
        .map(|r| r.started.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let last = shown
        .last()
        .map(|r| r.started.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let note = if shown.len() < p.runs.len() {
        format!(" (the latest {} of {} runs)", shown.len(), p.runs.len())
    } else {
        String::new()
    };
    let _ = writeln!(h, "<h3>Rows per run{}</h3>", escape(&note));
    let bars: Vec<Bar> = shown
        .iter()
        .map(|r| Bar {
            value: r.rows as f64,
            status: r.status,
            tip: tip(r),
        })
        .collect();
    h.push_str(&svg::bar_chart(
        &format!("Rows loaded per run of {}", p.name),
        "",
        &bars,
        &first,
        &last,
    ));
    let _ = writeln!(h, "\n<h3>Duration per run{}</h3>", escape(&note));
    let bars: Vec<Bar> = shown
        .iter()
        .map(|r| Bar {
            value: r.seconds(),
            status: r.status,
            tip: tip(r),
        })
        .collect();
    h.push_str(&svg::bar_chart(
        &format!("Duration per run of {} in seconds", p.name),
        "s",
        &bars,
        &first,
        &last,
    ));
    watermarks(h, p);
    failures(h, p);
    failed_checks(h, p);
    runs(h, p);
    h.push_str("</section>\n");
}

fn watermarks(h: &mut String, p: &ProjectHistory) {
    h.push_str("\n<h3>Watermarks</h3>\n");
    if p.watermarks.is_empty() {
        h.push_str("<p class=\"muted\">No loads recorded.</p>\n");
        return;
    }
    h.push_str(
        "<table class=\"watermarks\"><tr><th>target table</th><th>connection</th><th>watermark (latest data_max_date)</th>\
         <th>last load</th><th>status</th><th>rows</th><th>window</th><th>loads</th><th>failed</th></tr>\n",
    );
    for w in &p.watermarks {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"watermark\">{}</td><td>{}</td>{}<td class=\"num\">{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&w.table),
            escape(&w.database),
            escape(w.watermark.as_deref().unwrap_or("")),
            time(w.last_load),
            status_cell(&w.last_status),
            w.last_rows.map(|n| n.to_string()).unwrap_or_default(),
            escape(&w.last_window),
            w.loads,
            w.failed
        );
    }
    h.push_str("</table>\n");
}

fn failures(h: &mut String, p: &ProjectHistory) {
    h.push_str("\n<h3>Latest failures</h3>\n");
    if p.failures.is_empty() {
        h.push_str("<p class=\"muted\">No failures in this period.</p>\n");
        return;
    }
    for f in p.failures.iter().take(MAX_FAILURES) {
        let target = f
            .target_table
            .as_deref()
            .map(|t| format!(", table {t}"))
            .unwrap_or_default();
        let window = if f.window.is_empty() {
            String::new()
        } else {
            format!(", window {}", f.window)
        };
        let _ = writeln!(
            h,
            "<div class=\"failure\"><p><span class=\"failed\">{}</span> UTC, run <code>{}</code>, task <b>{}</b>{} ({}){}</p>\
             <pre class=\"error\">{}</pre></div>",
            escape(&time(f.when)),
            escape(&f.run_id),
            escape(&f.task),
            escape(&target),
            escape(&f.load_type),
            escape(&window),
            escape(&f.error)
        );
    }
    if p.failures.len() > MAX_FAILURES {
        let _ = writeln!(
            h,
            "<p class=\"muted\">{} earlier failures not shown (etl runs --project {} lists them).</p>",
            p.failures.len() - MAX_FAILURES,
            escape(&p.name)
        );
    }
}

fn failed_checks(h: &mut String, p: &ProjectHistory) {
    h.push_str("\n<h3>Failed checks</h3>\n");
    if p.failed_checks.is_empty() {
        h.push_str("<p class=\"muted\">No check failed in this period.</p>\n");
        return;
    }
    h.push_str("<table><tr><th>checked</th><th>run</th><th>table</th><th>check</th><th>severity</th><th>failing</th><th>examples</th></tr>\n");
    for c in p.failed_checks.iter().take(MAX_FAILURES) {
        let examples = c
            .samples
            .as_deref()
            .or(c.detail.as_deref())
            .unwrap_or("")
            .replace('\n', "; ");
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&time(c.checked_at)),
            escape(&c.run_id),
            escape(&c.target_table),
            escape(&c.check_name),
            escape(&c.severity),
            c.failing_rows,
            escape(&examples)
        );
    }
    h.push_str("</table>\n");
}

fn runs(h: &mut String, p: &ProjectHistory) {
    let _ = writeln!(
        h,
        "\n<h3>Latest runs</h3>\n<table class=\"runs\"><tr><th>started (UTC)</th><th>run</th><th>env</th><th>type</th>\
         <th>status</th><th>records</th><th>rows</th><th>duration</th><th>window</th><th>failed tasks</th></tr>"
    );
    for r in p.runs.iter().rev().take(MAX_RUNS_LISTED) {
        let mut failed = r.failed_tasks.join(", ");
        if r.notify_failed {
            if !failed.is_empty() {
                failed.push_str("; ");
            }
            failed.push_str("notification not sent");
        }
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td>{}<td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            time(Some(r.started)),
            escape(&r.run_id),
            escape(&r.environment),
            escape(&r.load_type),
            status_cell(r.status.as_str()),
            r.records,
            r.rows,
            seconds(r),
            escape(&r.windows.join(", ")),
            escape(&failed)
        );
    }
    h.push_str("</table>\n");
}
