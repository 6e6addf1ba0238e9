//! A PostgreSQL session that runs one statement in a transaction and keeps that transaction
//! (and the locks the statement took) open until dropped.

use std::sync::mpsc;
use std::thread::JoinHandle;

pub struct PgHold {
    done: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PgHold {
    /// Returns once the statement has run (its locks are held).
    pub fn start(url: &str, sql: &str) -> PgHold {
        let (url, sql) = (url.to_string(), sql.to_string());
        let (done, wait) = mpsc::channel::<()>();
        let (ready, started) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("the holding session connects");
                tokio::spawn(conn);
                client.batch_execute("BEGIN").await.expect("BEGIN");
                client
                    .batch_execute(&sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                ready.send(()).expect("ready");
                let _ = tokio::task::spawn_blocking(move || wait.recv()).await;
                client.batch_execute("ROLLBACK").await.expect("ROLLBACK");
            });
        });
        started
            .recv()
            .expect("the holding session ran its statement");
        PgHold {
            done: Some(done),
            thread: Some(thread),
        }
    }
}

impl Drop for PgHold {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
