//! The run-summary table, built one way for every place that shows it: a row per task with
//! its status, rows and duration, then the columns the caller adds (the attempts in the run's
//! log, what changed in `etl watch`, the target and window in the notification). Text goes
//! through `crate::table`; the notification lays the same header and rows out in HTML.

use std::time::Duration;

use crate::runner::{RunReport, TaskOutcome};

/// The columns every summary starts with.
const COLUMNS: [&str; 4] = ["task", "status", "rows", "duration"];

pub struct Summary {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Summary {
    /// An empty table: the four common columns, then `extra`.
    pub fn new(extra: &[&str]) -> Summary {
        Summary {
            header: COLUMNS.iter().chain(extra).map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// One row per task of a run, with the extra cells `extra` gives for each.
    pub fn of_report(
        report: &RunReport,
        extra_columns: &[&str],
        extra: impl Fn(&TaskOutcome) -> Vec<String>,
    ) -> Summary {
        let mut summary = Summary::new(extra_columns);
        for o in &report.outcomes {
            summary.row(
                &o.name,
                o.status.as_str(),
                &o.rows.to_string(),
                &duration(o.duration),
                extra(o),
            );
        }
        summary
    }

    /// A row: the four common cells, then the extra ones (missing ones stay empty, so a
    /// continuation row can leave the task and duration blank).
    pub fn row(
        &mut self,
        task: &str,
        status: &str,
        rows: &str,
        duration: &str,
        extra: Vec<String>,
    ) {
        let mut cells: Vec<String> = [task, status, rows, duration]
            .iter()
            .map(|c| c.to_string())
            .chain(extra)
            .collect();
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    pub fn header(&self) -> &[String] {
        &self.header
    }

    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// The table as text: the header underlined, then the rows.
    pub fn render(&self) -> String {
        let mut all = vec![self.header.clone()];
        all.extend(self.rows.iter().cloned());
        crate::table::render(&all)
    }
}

/// `12ms`, `3.42s`, `2m 05s`, `1h 02m`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{}ms", d.as_millis())
    } else if s < 60.0 {
        format!("{s:.2}s")
    } else if s < 3600.0 {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{}h {:02}m", d.as_secs() / 3600, (d.as_secs() % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::TaskStatus;

    fn outcome(name: &str, status: TaskStatus, rows: u64, ms: u64) -> TaskOutcome {
        TaskOutcome {
            name: name.into(),
            status,
            rows,
            duration: Duration::from_millis(ms),
            attempts: 1,
            error: None,
            checks: Vec::new(),
        }
    }

    #[test]
    fn a_run_gives_one_row_per_task_and_the_extra_columns_its_caller_asks_for() {
        let report = RunReport {
            outcomes: vec![
                outcome("orders", TaskStatus::Success, 3000, 1250),
                outcome("report", TaskStatus::Skipped, 0, 0),
            ],
            duration: Duration::from_millis(1300),
        };
        let table = Summary::of_report(&report, &["attempts"], |o| vec![o.attempts.to_string()]);
        assert_eq!(
            table.render(),
            "task    status   rows  duration  attempts\n\
             ------  -------  ----  --------  --------\n\
             orders  success  3000  1.25s     1\n\
             report  skipped  0     0ms       1\n"
        );
    }

    #[test]
    fn a_continuation_row_leaves_the_task_and_duration_empty() {
        let mut table = Summary::new(&["target"]);
        table.row("orders", "success", "5", "12ms", vec!["dw.orders".into()]);
        table.row("", "  load success", "2", "", vec!["dw.items".into()]);
        table.row("check", "success", "0", "3ms", vec![]);
        assert_eq!(
            table.header(),
            ["task", "status", "rows", "duration", "target"]
        );
        assert_eq!(table.rows()[1], ["", "  load success", "2", "", "dw.items"]);
        assert_eq!(table.rows()[2], ["check", "success", "0", "3ms", ""]);
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(Duration::from_millis(12)), "12ms");
        assert_eq!(duration(Duration::from_millis(3420)), "3.42s");
        assert_eq!(duration(Duration::from_secs(125)), "2m 05s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h 02m");
    }
}
