//! The run notification's content: subject, a text part and an HTML part with the run summary
//! (each task's status, rows, duration, attempts, target table and window loaded), the errors
//! with their script positions, the last lines of the log, the log's path, and the files
//! attached or left out.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::settings::Outcome;
use crate::report::html::escape;
use crate::summary::{duration, Summary};

/// One task of the run (from the runner's report).
#[derive(Clone, Debug)]
pub struct TaskLine {
    pub name: String,
    pub status: String,
    pub rows: u64,
    pub duration: Duration,
    pub attempts: u32,
    pub error: Option<String>,
    /// What the task's checks found.
    pub checks: Vec<crate::audit_checks::CheckRecord>,
}

/// One load of the run (from its audit record).
#[derive(Clone, Debug)]
pub struct LoadLine {
    pub task: String,
    pub table: String,
    pub status: String,
    pub rows: Option<i64>,
    pub window: String,
    pub max_date: Option<String>,
}

/// A file of the run's output and whether it was attached.
#[derive(Clone, Debug)]
pub struct FileLine {
    pub name: String,
    pub bytes: u64,
    pub attached: bool,
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub project: String,
    pub env: String,
    pub run_id: String,
    pub load_type: String,
    pub version: String,
    pub outcome: Outcome,
    pub started: DateTime<Utc>,
    pub duration: Duration,
    pub dry_run: bool,
    pub tasks: Vec<TaskLine>,
    pub loads: Vec<LoadLine>,
    pub log_path: Option<PathBuf>,
    pub log_tail: Vec<String>,
    pub files: Vec<FileLine>,
    pub attach_max_bytes: u64,
}

/// `1.5 MiB`
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

impl RunSummary {
    fn status_word(&self) -> &'static str {
        match self.outcome {
            Outcome::Success => "succeeded",
            Outcome::Failure if self.tasks.iter().any(|t| t.status == "cancelled") => "CANCELLED",
            Outcome::Failure => "FAILED",
        }
    }

    /// `[etl] shop (prod): FAILED in 3.42s`
    pub fn subject(&self) -> String {
        format!(
            "[etl] {} ({}): {} in {}{}",
            self.project,
            self.env,
            self.status_word(),
            duration(self.duration),
            if self.dry_run { " (dry run)" } else { "" }
        )
    }

    /// The summary table: a row per task, and one per further load of a task that loaded
    /// several tables.
    fn table(&self) -> Summary {
        let with_checks = self.tasks.iter().any(|t| !t.checks.is_empty());
        let mut table = if with_checks {
            Summary::new(&["attempts", "target", "window", "max_date", "checks"])
        } else {
            Summary::new(&["attempts", "target", "window", "max_date"])
        };
        for t in &self.tasks {
            let loads: Vec<&LoadLine> = self.loads.iter().filter(|l| l.task == t.name).collect();
            let status = match (&t.error, t.status.as_str()) {
                (Some(why), "skipped" | "cancelled") => format!("{} ({why})", t.status),
                _ => t.status.clone(),
            };
            let mut extra = vec![t.attempts.to_string()];
            if let [one] = loads.as_slice() {
                extra.extend([
                    one.table.clone(),
                    one.window.clone(),
                    one.max_date.clone().unwrap_or_default(),
                ]);
            }
            if with_checks {
                extra.resize(4, String::new());
                extra.push(crate::audit_checks::tally(&t.checks));
            }
            let rows = t.rows.to_string();
            table.row(&t.name, &status, &rows, &duration(t.duration), extra);
            if loads.len() > 1 {
                for l in loads {
                    let rows = l.rows.map(|r| r.to_string()).unwrap_or_default();
                    let extra = vec![
                        String::new(),
                        l.table.clone(),
                        l.window.clone(),
                        l.max_date.clone().unwrap_or_default(),
                    ];
                    table.row("", &format!("  load {}", l.status), &rows, "", extra);
                }
            }
        }
        table
    }

    fn failures(&self) -> impl Iterator<Item = (&TaskLine, &str)> {
        self.tasks
            .iter()
            .filter_map(|t| match (&t.error, t.status.as_str()) {
                (Some(e), "failed") => Some((t, e.as_str())),
                _ => None,
            })
    }

    /// The checks that failed, one line each (error and warn severity alike).
    fn failed_checks(&self) -> Vec<String> {
        self.tasks
            .iter()
            .flat_map(|t| t.checks.iter().filter(|c| c.status != "passed"))
            .map(crate::audit_checks::failure_line)
            .collect()
    }

    fn headline(&self) -> String {
        format!(
            "Run {} of project {} (version {}) in environment {}, load type {}, started {} UTC: {} in {}.",
            self.run_id,
            self.project,
            self.version,
            self.env,
            self.load_type,
            self.started.format("%Y-%m-%d %H:%M:%S"),
            self.status_word(),
            duration(self.duration)
        )
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.headline());
        out.push_str(&self.table().render());
        for (t, e) in self.failures() {
            let _ = writeln!(out, "\nTask '{}' failed:\n{e}", t.name);
        }
        let checks = self.failed_checks();
        if !checks.is_empty() {
            let _ = writeln!(out, "\nFailed checks:");
            for c in checks {
                let _ = writeln!(out, "  {c}");
            }
        }
        if !self.log_tail.is_empty() {
            let _ = writeln!(out, "\nLast {} lines of the log:", self.log_tail.len());
            for l in &self.log_tail {
                let _ = writeln!(out, "{l}");
            }
        }
        if let Some(p) = &self.log_path {
            let _ = writeln!(out, "\nLog file: {}", p.display());
        }
        self.files_text(&mut out);
        out
    }

    fn files_text(&self, out: &mut String) {
        let attached: Vec<&FileLine> = self.files.iter().filter(|f| f.attached).collect();
        let left: Vec<&FileLine> = self.files.iter().filter(|f| !f.attached).collect();
        if !attached.is_empty() {
            let _ = writeln!(out, "\nAttached:");
            for f in attached {
                let _ = writeln!(out, "  {} ({})", f.name, size(f.bytes));
            }
        }
        if !left.is_empty() {
            let _ = writeln!(
                out,
                "\nNot attached (over the {} limit of [smtp] attach_max_bytes):",
                size(self.attach_max_bytes)
            );
            for f in left {
                let _ = writeln!(out, "  {} ({})", f.name, size(f.bytes));
            }
        }
    }

    pub fn html(&self) -> String {
        let ok = self.outcome == Outcome::Success;
        let color = if ok { "#1a7f37" } else { "#cf222e" };
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>{}</title></head>\
             <body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2328;font-size:14px\">\
             <h2 style=\"margin:0 0 8px 0\"><span style=\"color:{color}\">{}</span> {} <span style=\"color:#59636e;font-weight:normal\">({})</span></h2>\
             <p style=\"margin:0 0 12px 0\">{}</p>",
            escape(&self.subject()),
            if ok { "&#10004;" } else { "&#10008;" },
            escape(&self.project),
            escape(&self.env),
            escape(&self.headline()),
        );
        let th = "style=\"text-align:left;border-bottom:1px solid #d1d9e0;padding:4px 10px\"";
        let table = self.table();
        h.push_str("<table style=\"border-collapse:collapse\"><tr>");
        for c in table.header() {
            let _ = write!(h, "<th {th}>{c}</th>");
        }
        h.push_str("</tr>");
        for row in table.rows() {
            h.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let style = match (i, cell.split(' ').next().unwrap_or_default().trim()) {
                    (1, "success") => "color:#1a7f37;font-weight:bold;",
                    (1, "failed") => "color:#cf222e;font-weight:bold;",
                    (1, _) => "color:#9a6700;",
                    (2..=4, _) => "text-align:right;",
                    _ => "",
                };
                let _ = write!(
                    h,
                    "<td style=\"{style}padding:3px 10px;border-bottom:1px solid #eef1f4\">{}</td>",
                    escape(cell)
                );
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
        let pre = "style=\"background:#f6f8fa;padding:8px;border-radius:4px;font-size:12px;white-space:pre-wrap\"";
        for (t, e) in self.failures() {
            let _ = write!(
                h,
                "<h3 style=\"color:#cf222e\">Task '{}' failed</h3><pre {pre}>{}</pre>",
                escape(&t.name),
                escape(e)
            );
        }
        let checks = self.failed_checks();
        if !checks.is_empty() {
            let _ = write!(
                h,
                "<h3 style=\"color:#9a6700\">Failed checks</h3><pre {pre}>{}</pre>",
                escape(&checks.join("\n"))
            );
        }
        if !self.log_tail.is_empty() {
            let _ = write!(
                h,
                "<h3>Last {} lines of the log</h3><pre {pre}>{}</pre>",
                self.log_tail.len(),
                escape(&self.log_tail.join("\n"))
            );
        }
        if let Some(p) = &self.log_path {
            let _ = write!(
                h,
                "<p>Log file: <code>{}</code></p>",
                escape(&p.display().to_string())
            );
        }
        let mut files = String::new();
        self.files_text(&mut files);
        if !files.is_empty() {
            let _ = write!(h, "<pre {pre}>{}</pre>", escape(files.trim()));
        }
        h.push_str("</body></html>\n");
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_sizes() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(10 * 1024 * 1024), "10.0 MiB");
    }
}
