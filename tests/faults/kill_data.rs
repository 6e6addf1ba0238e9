//! The rows the kill-point loads move, generation after generation: generation 0 holds
//! `start` rows; each later generation g changes every tenth row (`id % 10 == g % 10`: new
//! values, `updated_at` moved g days on) and adds `start / 20` rows. A full load of generation
//! g and an incremental one after generation g-1 end with the same table, and no two
//! generations look alike. Some notes are NULL and some '' (they must stay apart).

use chrono::{Duration, NaiveDate};

use crate::common::MyTestDb;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    MySql,
    Csv,
}

impl Source {
    pub fn param(self) -> &'static str {
        match self {
            Source::MySql => "source=mysql",
            Source::Csv => "source=csv",
        }
    }
}

pub struct Data {
    pub source: Source,
    start: u64,
    pub generation: u64,
    csv_path: std::path::PathBuf,
}

/// Rows added per generation, and which rows generation `g` changes.
fn added(start: u64) -> u64 {
    (start / 20).max(1)
}

impl Data {
    /// Writes generation 0 into MariaDB's `big` or the CSV file.
    pub fn new(source: Source, start: u64, my: &MyTestDb, csv_path: std::path::PathBuf) -> Data {
        let d = Data {
            source,
            start,
            generation: 0,
            csv_path,
        };
        match source {
            Source::MySql => my.execute(&format!(
                "CREATE TABLE big (id bigint PRIMARY KEY, qty int, amount decimal(12,2), note varchar(60), updated_at datetime(6));
                 INSERT INTO big SELECT seq, {} FROM seq_1_to_{start};",
                my_values("seq", 0).replace(" ;; ", ", ")
            )),
            Source::Csv => d.write_csv(),
        }
        d
    }

    /// Rows in the source now.
    pub fn rows(&self) -> u64 {
        self.start + self.generation * added(self.start)
    }

    /// Rows an incremental load of the current generation reads: those it changed or added,
    /// and the row on the previous watermark.
    pub fn changed(&self) -> u64 {
        let before = self.start + (self.generation - 1) * added(self.start);
        let tenth = (1..=before)
            .filter(|id| id % 10 == self.generation % 10)
            .count() as u64;
        tenth + added(self.start) + 1
    }

    /// An id the current generation changed (the merge updates its row).
    pub fn a_changed_id(&self) -> u64 {
        match self.generation % 10 {
            0 => 10,
            r => r,
        }
    }

    pub fn next_generation(&mut self, my: &MyTestDb) {
        self.generation += 1;
        let g = self.generation;
        let (from, to) = (self.rows() - added(self.start) + 1, self.rows());
        match self.source {
            Source::MySql => my.execute(&format!(
                "UPDATE big SET {} WHERE id % 10 = {};
                 INSERT INTO big SELECT seq, {} FROM seq_{from}_to_{to};",
                my_values("id", g)
                    .split(" ;; ")
                    .zip(["qty", "amount", "note", "updated_at"])
                    .map(|(v, c)| format!("{c} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                g % 10,
                my_values("seq", g).replace(" ;; ", ", ")
            )),
            Source::Csv => self.write_csv(),
        }
    }

    fn write_csv(&self) {
        use std::fmt::Write;
        let g = self.generation;
        let mut out = String::with_capacity(self.rows() as usize * 64);
        out.push_str("id,qty,amount,note,updated_at\n");
        let base = NaiveDate::from_ymd_opt(2024, 1, 1)
            .expect("date")
            .and_hms_opt(0, 0, 0)
            .expect("time");
        for id in 1..=self.rows() {
            let created = if id <= self.start {
                0
            } else {
                (id - self.start - 1) / added(self.start) + 1
            };
            // The last generation up to g that changed this row, if after its creation.
            let touched = (g as i64) - ((g as i64 - (id % 10) as i64).rem_euclid(10));
            let last = if touched > created as i64 {
                touched as u64
            } else {
                created
            };
            let note = if id % 97 == 0 {
                String::new()
            } else if id % 89 == 0 {
                "\"\"".into()
            } else {
                format!("\"note {id}, g{last}\"")
            };
            let at = base + Duration::seconds(id as i64) + Duration::days(last as i64);
            writeln!(
                out,
                "{id},{},{}.{:02},{note},{}",
                (id * 7 + last) % 1000,
                (id * 3 + last) % 100_000,
                id % 100,
                at.format("%Y-%m-%d %H:%M:%S")
            )
            .expect("write");
        }
        std::fs::write(&self.csv_path, out).expect("write the CSV file");
    }
}

/// The values of row `id` (an SQL expression) in generation `g`, as the CSV file has them:
/// qty, amount, note and updated_at, separated by ` ;; `.
fn my_values(id: &str, g: u64) -> String {
    format!(
        "({id} * 7 + {g}) % 1000 ;; concat(({id} * 3 + {g}) % 100000, '.', lpad({id} % 100, 2, '0')) ;; \
         CASE WHEN {id} % 97 = 0 THEN NULL WHEN {id} % 89 = 0 THEN '' ELSE concat('note ', {id}, ', g{g}') END ;; \
         '2024-01-01' + INTERVAL {id} SECOND + INTERVAL {g} DAY"
    )
}
