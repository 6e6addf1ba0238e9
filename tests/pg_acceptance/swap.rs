//! F: the new table is swapped in atomically. A reader polling the target on its own
//! connection while a full reload runs sees the old row count or the new one, nothing else, and
//! never finds the table missing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::common::PgTestDb;
use crate::harness::{
    audit, count, fingerprint, leftover_tables, statuses, wait_for_copy, wait_until, Sandbox,
};

/// `public.big` with `n` rows, filled by the server.
pub fn big_table(n: u64) -> String {
    format!(
        "DROP TABLE IF EXISTS public.big;
         CREATE TABLE public.big AS
         SELECT i::bigint AS id, (i % 1000)::int AS qty, (i / 100.0)::numeric(12,2) AS amount,
                md5(i::text) AS note, timestamp '2024-01-01' + i * interval '1 second' AS updated_at
         FROM generate_series(1, {n}) AS i;"
    )
}

/// What the reader saw.
#[derive(Default)]
struct Seen {
    counts: BTreeMap<i64, u64>,
    errors: Vec<String>,
}

/// A thread running `SELECT count(*)` on the target in a loop, on its own connection.
struct Reader {
    stop: Arc<AtomicBool>,
    reads: Arc<AtomicU64>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    fn start(url: &str, table: &str) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (url, sql) = (url.to_string(), format!("SELECT count(*) FROM {table}"));
        let (stop2, reads2, seen2) = (stop.clone(), reads.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("reader runtime");
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("reader connects");
                tokio::spawn(conn);
                while !stop2.load(Ordering::Relaxed) {
                    let result = client.query_one(sql.as_str(), &[]).await;
                    let mut seen = seen2.lock().expect("seen");
                    match result {
                        Ok(row) => *seen.counts.entry(row.get::<_, i64>(0)).or_default() += 1,
                        Err(e) => seen.errors.push(match e.as_db_error() {
                            Some(db) => format!("{}: {}", db.code().code(), db.message()),
                            None => e.to_string(),
                        }),
                    }
                    drop(seen);
                    reads2.fetch_add(1, Ordering::Relaxed);
                }
            });
        });
        Reader {
            stop,
            reads,
            seen,
            thread: Some(thread),
        }
    }

    fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Waits for one more complete read than now (so it started after this call).
    fn one_more_read(&self) {
        let target = self.reads() + 2;
        wait_until("the reader's next query", || self.reads() >= target);
    }

    fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("thread")
            .join()
            .expect("reader thread panicked");
        std::mem::take(&mut *self.seen.lock().expect("seen"))
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_full_reload_is_swapped_in_atomically_for_a_concurrent_reader() {
    const N: u64 = 1_000;
    const M: u64 = 300_000;
    let dw = PgTestDb::new("pga_swap");
    let src = PgTestDb::new("pga_swap_src");
    src.execute(&big_table(N));
    let s = Sandbox::new(&["pga_full"], &dw, &src);
    s.exec("pga_full", &[]).ok();
    assert_eq!(count(&dw, "app.target"), N as i64);

    src.execute(&big_table(M));
    let reader = Reader::start(dw.url(), "app.target");
    reader.one_more_read();
    let mut run = s.spawn("pga_full", &[]);
    wait_for_copy(&dw, &mut run);
    let at_copy = reader.reads();
    let ran = run.wait().ok();
    let during_load = reader.reads() - at_copy;
    reader.one_more_read();
    let seen = reader.finish();

    assert!(
        seen.errors.is_empty(),
        "the reader got errors: {:?}",
        seen.errors
    );
    let odd: Vec<_> = seen
        .counts
        .keys()
        .filter(|c| **c != N as i64 && **c != M as i64)
        .collect();
    assert!(
        odd.is_empty(),
        "the reader saw counts other than {N} and {M}: {:?}",
        seen.counts
    );
    assert!(seen.counts.contains_key(&(N as i64)), "{:?}", seen.counts);
    assert!(seen.counts.contains_key(&(M as i64)), "{:?}", seen.counts);
    assert!(
        during_load > 0,
        "the reader made no read while the load ran: {:?}",
        seen.counts
    );
    eprintln!(
        "reader: {:?} ({during_load} reads during the load)",
        seen.counts
    );

    assert_eq!(ran.figures("load"), (M, M, 0));
    assert_eq!(
        crate::harness::text(
            &dw,
            "SELECT count(DISTINCT id), min(id), max(id) FROM app.target"
        ),
        [format!("{M}|1|{M}")]
    );
    let records = audit(&dw, "app.target");
    assert_eq!(
        records
            .iter()
            .map(|r| (r.status.as_str(), r.load_type.as_str(), r.number_of_records))
            .collect::<Vec<_>>(),
        [
            ("success", "F", Some(N as i64)),
            ("success", "F", Some(M as i64))
        ]
    );
    assert_eq!(leftover_tables(&dw), Vec::<String>::new());
    // The primary key from `key` survived the swap under its own name.
    assert_eq!(
        crate::harness::text(
            &dw,
            "SELECT conname FROM pg_constraint WHERE conrelid = 'app.target'::regclass AND contype = 'p'"
        ),
        ["target_pkey"]
    );
}

/// A session in the middle of a long transaction that read `table`: it holds ACCESS SHARE on
/// it until dropped (then it commits).
struct LongReader {
    done: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LongReader {
    fn start(url: &str, table: &str) -> LongReader {
        let (url, sql) = (url.to_string(), format!("SELECT count(*) FROM {table}"));
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let (ready, started) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("reader runtime");
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("reader connects");
                tokio::spawn(conn);
                client.batch_execute("BEGIN").await.expect("BEGIN");
                client.query_one(sql.as_str(), &[]).await.expect("read");
                ready.send(()).expect("ready");
                let _ = tokio::task::spawn_blocking(move || wait.recv()).await;
                client.batch_execute("COMMIT").await.expect("COMMIT");
            });
        });
        started.recv().expect("the reader read the table");
        LongReader {
            done: Some(done),
            thread: Some(thread),
        }
    }
}

impl Drop for LongReader {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_swap_blocked_by_a_long_reader_gives_up_cleanly_and_keeps_the_old_table() {
    let dw = PgTestDb::new("pga_swap_lock");
    let src = PgTestDb::new("pga_swap_lock_src");
    src.execute(&big_table(1_000));
    let s = Sandbox::new(&["pga_full"], &dw, &src);
    s.exec("pga_full", &[]).ok();
    let before = fingerprint(&dw, "app.target");
    // Short waits, so the test is quick; the defaults wait 2 s per try, 10 tries.
    s.configure(
        "[env.dev.connections]\n[load]\nswap_lock_timeout_seconds = 0.2\nswap_attempts = 2\n",
    );
    src.execute(&big_table(2_000));

    let reader = LongReader::start(dw.url(), "app.target");
    let ran = s.exec("pga_full", &[]).failed();
    ran.contains("swapping in the new table")
        .contains("other sessions held locks on the table through 2 tries of 0.2s")
        .contains("the old table is unchanged")
        .contains("SQLSTATE 55P03");
    assert_eq!(
        fingerprint(&dw, "app.target"),
        before,
        "the old table changed"
    );
    assert_eq!(leftover_tables(&dw), Vec::<String>::new());
    assert_eq!(statuses(&audit(&dw, "app.target")), ["success", "failed"]);

    // Once the reader is done, the same load goes through.
    drop(reader);
    s.exec("pga_full", &[]).ok();
    assert_eq!(count(&dw, "app.target"), 2_000);
}
