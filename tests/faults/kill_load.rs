//! The kill-point driver: one scenario (a source, a warehouse, a load type) runs generation
//! after generation of `kill_data`, and each kill point SIGKILLs `etl exec` once, at an
//! observable moment of the load (or after a share of an undisturbed run's duration), then
//! checks what must hold after any kill:
//!
//! - the target equals its contents before the load or after it, never a mix;
//! - no `__etl_new` or stage table is left;
//! - the killed run's audit record says `success` exactly when its rows committed, and, once
//!   the next run has cleaned up, `failed` otherwise (PostgreSQL; SQLite: see `kill_sqlite`);
//! - the next run succeeds, and the target then equals a fresh load of the same rows (`ref`),
//!   without duplicate keys.
//!
//! Every kill run also runs the fixture's `gate` task, held by the test: the run cannot end
//! before the kill, so every kill point is a real kill. Which phase each kill hit is printed
//! from what the databases showed just before it (run with `--nocapture` to see the table).

use std::fmt;
use std::time::{Duration, Instant};

use crate::common::db::mysql_query_at;
use crate::common::MyTestDb;
use crate::kill_data::{Data, Source};
use crate::pg_hold::PgHold;
use crate::rig::{wait_until, Running, Sandbox};
use crate::warehouse::Warehouse;

/// When to kill.
#[derive(Clone, Copy, Debug)]
pub enum Point {
    /// As soon as the run's audit record says `running`.
    Running,
    /// The MariaDB read waits for a row lock the test holds, at this share of the rows (0.0:
    /// the first row, before any batch reached the warehouse).
    SourceStalled(f64),
    /// The COPY into PostgreSQL has processed this share of the rows the load moves.
    Copied(f64),
    /// The swap (full load) or the merge (incremental) waits for a lock the test holds on the
    /// target (PostgreSQL).
    FinishBlocked,
    /// The load has committed; the run waits in the `gate` task.
    Committed,
    /// This share of an undisturbed run's duration after the start.
    Elapsed(f64),
}

pub struct Scenario {
    pub name: &'static str,
    pub source: Source,
    /// "F" or "I".
    pub load_type: &'static str,
    pub rows: u64,
    /// COPY streams of the load (`parallel`); above 1 its new table is committed before the
    /// swap, so a kill may leave it until the next run.
    pub parallel: u32,
    pub points: &'static [Point],
}

/// What one kill found.
pub struct Outcome {
    pub point: Point,
    /// What the databases showed just before the kill.
    pub seen: String,
    /// Whether the target then held the load's rows (committed) or the old ones.
    pub committed: bool,
    /// The killed run's audit record(s) after the next run, `status` each.
    pub records_after_recovery: Vec<String>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<22} -> target {:<6} audit {:<18} seen: {}",
            format!("{:?}", self.point),
            if self.committed { "after" } else { "before" },
            self.records_after_recovery.join(","),
            self.seen
        )
    }
}

struct Rig {
    sandbox: Sandbox,
    dw: Warehouse,
    my: MyTestDb,
    data: Data,
    load_type: &'static str,
    /// `parallel=N` for the fixture's load.
    parallel: String,
}

impl Rig {
    fn args<'a>(&'a self, tasks: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "exec",
            "projects/faults_kill/project.rhai",
            "--load-type",
            self.load_type,
            "--param",
            self.data.source.param(),
            "--param",
            &self.parallel,
        ];
        for t in tasks {
            args.extend(["--task", t]);
        }
        args
    }

    /// A count from MariaDB, on a session of its own: the test's session holds the locks, and
    /// inside its transaction InnoDB's tables show no other transaction.
    fn my_count(&self, sql: &str) -> i64 {
        let rows = mysql_query_at(self.my.url(), sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows[0][0]
            .as_deref()
            .expect("count")
            .parse()
            .expect("count")
    }

    /// Whether the run's locking read of the source waits for a row lock.
    fn source_waits(&self) -> bool {
        self.my_count(
            "SELECT count(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' \
             AND trx_query LIKE '%LOCK IN SHARE MODE%'",
        ) > 0
    }

    fn gate_waits(&self) -> bool {
        self.my_count(&format!(
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = '{}' AND INFO LIKE 'UPDATE gate%'",
            self.my.name()
        )) > 0
    }

    /// The audit status of the run's record(s) so far, "none" before the first.
    fn audit_now(&self, after: i64) -> String {
        let records = self.dw.audit_after(after);
        if records.is_empty() {
            return "none".into();
        }
        records
            .iter()
            .map(|r| r.status.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn observe(&self, after: i64) -> String {
        let mut seen = format!("audit {}; {}", self.audit_now(after), self.dw.activity());
        if self.source_waits() {
            seen.push_str("; source read waits for a row lock");
        }
        if self.gate_waits() {
            seen.push_str("; gate task waits");
        }
        seen
    }

    fn committed(&self, after: i64) -> bool {
        self.dw
            .audit_after(after)
            .iter()
            .any(|r| r.status == "success" && r.target_table.as_deref() == Some("big"))
    }
}

/// Runs a scenario's kill points in order and returns what each found.
pub fn run(scenario: &Scenario, dw: Warehouse) -> Vec<Outcome> {
    let my = MyTestDb::new(scenario.name);
    my.execute("CREATE TABLE gate (id int PRIMARY KEY, n int); INSERT INTO gate VALUES (1, 0);");
    let sandbox = Sandbox::new()
        .with_fixture("faults_kill")
        .connection("warehouse", &dw.url())
        .connection("src", my.url());
    let csv = sandbox.path("projects/faults_kill/data/big.csv");
    std::fs::create_dir_all(csv.parent().expect("data dir")).expect("mkdir data");
    let data = Data::new(scenario.source, scenario.rows, &my, csv);
    let mut rig = Rig {
        sandbox,
        dw,
        my,
        data,
        load_type: scenario.load_type,
        parallel: format!("parallel={}", scenario.parallel),
    };

    // Generation 0, loaded in full; then one undisturbed run of the scenario's load type,
    // whose duration places the `Elapsed` points.
    let full = {
        let mut a = rig.args(&["load"]);
        a[3] = "F";
        a
    };
    rig.sandbox.etl(&full).ok();
    rig.data.next_generation(&rig.my);
    let started = Instant::now();
    rig.sandbox.etl(&rig.args(&["load"])).ok();
    let undisturbed = started.elapsed();
    eprintln!(
        "{}: {} rows, an undisturbed {} load took {undisturbed:?}",
        scenario.name,
        rig.data.rows(),
        scenario.load_type
    );

    let mut outcomes = Vec::new();
    for point in scenario.points {
        rig.data.next_generation(&rig.my);
        outcomes.push(kill_once(&rig, *point, undisturbed));
    }
    eprintln!("{} kill points:", scenario.name);
    for o in &outcomes {
        eprintln!("  {o}");
    }
    outcomes
}

/// Locks the test holds while a kill run runs, released after the kill.
struct Holds<'a> {
    my: &'a MyTestDb,
    pg: Option<PgHold>,
}

impl Drop for Holds<'_> {
    fn drop(&mut self) {
        drop(self.pg.take());
        self.my.execute("ROLLBACK");
    }
}

fn kill_once(rig: &Rig, point: Point, undisturbed: Duration) -> Outcome {
    let before = rig.dw.fingerprint("big");
    let last = rig.dw.last_audit_id();

    // The gate row always; the row the source read must stop at; the target lock.
    rig.my
        .execute("START TRANSACTION; SELECT n FROM gate WHERE id = 1 FOR UPDATE;");
    let mut holds = Holds {
        my: &rig.my,
        pg: None,
    };
    if let Point::SourceStalled(share) = point {
        assert_eq!(
            rig.data.source,
            Source::MySql,
            "{point:?} needs a MariaDB source"
        );
        let id = ((rig.data.rows() as f64 * share) as u64).max(1);
        rig.my
            .execute(&format!("SELECT id FROM big WHERE id = {id} FOR UPDATE"));
    }
    if let Point::FinishBlocked = point {
        let sql = if rig.load_type == "F" {
            // ACCESS SHARE on the target: the swap needs ACCESS EXCLUSIVE.
            "SELECT count(*) FROM big".to_string()
        } else {
            format!(
                "SELECT id FROM big WHERE id = {} FOR UPDATE",
                rig.data.a_changed_id()
            )
        };
        holds.pg = Some(PgHold::start(rig.dw.pg_db().url(), &sql));
    }

    let mut run = rig.sandbox.spawn(&rig.args(&["load", "gate"]));
    wait_for(rig, &mut run, point, last, undisturbed);
    let seen = rig.observe(last);
    let killed = run.kill();
    assert_eq!(killed.code, None, "killed by a signal:\n{}", killed.output);
    drop(holds);
    rig.dw.wait_for_sessions_to_end();

    let what = format!("{point:?} ({seen})");
    let at_kill = rig.dw.fingerprint("big");
    let committed = rig.committed(last);
    let leftovers = rig.dw.leftovers();
    // Streams write a committed new table: a kill before the swap committed leaves it, for
    // the next run to drop. One stream writes it in the load's transaction, gone with it.
    let expected: &[&str] = match leftovers.as_slice() {
        [t] if rig.parallel != "parallel=1" && !committed && t.ends_with(".big__etl_new") => {
            &[t.as_str()]
        }
        _ => &[],
    };
    assert_eq!(leftovers, expected, "{what}: leftovers");
    let killed_records: Vec<i64> = rig.dw.audit_after(last).iter().map(|r| r.id).collect();

    // The next run cleans up and loads; `ref` is the same rows loaded afresh.
    rig.sandbox.etl(&rig.args(&["load", "ref"])).ok();
    let after = rig.dw.fingerprint("big");
    assert_eq!(
        after,
        rig.dw.fingerprint("ref"),
        "{what}: the next run's table is not the source's"
    );
    assert_eq!(rig.dw.duplicate_keys("big"), 0, "{what}: duplicate keys");
    assert_ne!(before, after, "{what}: the generation changed nothing");
    if committed {
        assert_eq!(
            at_kill, after,
            "{what}: the audit says success but the rows are not all there"
        );
    } else {
        assert_eq!(
            at_kill, before,
            "{what}: the target changed without a successful record"
        );
    }
    assert_eq!(
        rig.dw.leftovers(),
        Vec::<String>::new(),
        "{what}: leftovers after the next run"
    );
    let records = rig.dw.audit_after(last);
    let records_after_recovery: Vec<String> = records
        .iter()
        .filter(|r| killed_records.contains(&r.id))
        .map(|r| r.status.clone())
        .collect();
    let next: Vec<&str> = records
        .iter()
        .filter(|r| !killed_records.contains(&r.id))
        .map(|r| r.status.as_str())
        .collect();
    assert_eq!(
        next,
        ["success", "success"],
        "{what}: the next run's records (load, ref)"
    );
    if committed {
        assert_eq!(records_after_recovery, ["success"], "{what}");
    } else {
        assert!(
            records_after_recovery.iter().all(|s| s != "success"),
            "{what}: {records_after_recovery:?}"
        );
    }
    if rig.dw.is_pg() && !committed {
        // PostgreSQL closes the records of runs that died, when the next load of the table
        // takes its lock, naming the run that found them.
        let next_run = &records
            .iter()
            .find(|r| !killed_records.contains(&r.id))
            .expect("the next run's record")
            .run_id;
        for r in records.iter().filter(|r| killed_records.contains(&r.id)) {
            assert_eq!(r.status, "failed", "{what}: {r:?}");
            let error = r.error_message.as_deref().unwrap_or_default();
            assert!(
                error.contains("the run stopped without recording an outcome")
                    && error.contains(next_run.as_str()),
                "{what}: {error}"
            );
        }
    }
    Outcome {
        point,
        seen,
        committed,
        records_after_recovery,
    }
}

/// Waits for the kill point's moment, or for a later phase if the load got past it first
/// (the report then says which phase was hit). The run never ends by itself: `gate` holds it.
fn wait_for(rig: &Rig, run: &mut Running, point: Point, last: i64, undisturbed: Duration) {
    let past_copy = |rig: &Rig| rig.committed(last) || rig.dw.etl_waits_for_a_lock();
    let what = format!("{point:?}");
    let alive = |run: &mut Running| run.assert_alive(&what);
    match point {
        Point::Running => wait_until("the running record", || {
            alive(run);
            rig.audit_now(last) != "none"
        }),
        Point::SourceStalled(_) => wait_until("the source read to stall", || {
            alive(run);
            // InnoDB refreshes its transaction tables only when nobody read them for 0.1 s:
            // polled faster, they never show the new lock wait.
            std::thread::sleep(Duration::from_millis(120));
            rig.source_waits()
        }),
        Point::Copied(share) => {
            let moves = if rig.load_type == "F" {
                rig.data.rows()
            } else {
                rig.data.changed()
            };
            let want = (moves as f64 * share) as i64;
            wait_until("the COPY to get that far", || {
                alive(run);
                rig.dw.copy_progress().is_some_and(|n| n >= want) || past_copy(rig)
            })
        }
        Point::FinishBlocked => wait_until("the swap or merge to wait for the lock", || {
            alive(run);
            rig.dw.etl_waits_for_a_lock()
        }),
        Point::Committed => wait_until("the commit and the gate", || {
            alive(run);
            rig.committed(last) && rig.gate_waits()
        }),
        Point::Elapsed(share) => {
            let at = run.started + undisturbed.mul_f64(share);
            // The chosen kill time itself, not a wait for something to happen.
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            alive(run);
        }
    }
}
