//! Backfill windows running at once take turns per target table: a warehouse may refuse two
//! loads of one project into one table at the same time (PostgreSQL's load lock does), and
//! waiting here is cheaper than failing there.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::connectors::Io;
use crate::error::{EtlError, Result};

static BUSY: Mutex<Vec<String>> = Mutex::new(Vec::new());
static FREED: Condvar = Condvar::new();

/// A table's turn; it ends when dropped.
pub struct TableTurn {
    key: String,
}

/// Waits (on the calling script thread) until no other load of this process holds `table` of
/// `connection`. Loads into different tables never wait for each other. Cancellation is seen
/// within a short wait even when nobody frees the table.
pub fn table_turn(connection: &str, table: &str, io: &Io) -> Result<TableTurn> {
    let key = format!("{connection}\u{1f}{table}");
    let mut busy = BUSY.lock().unwrap_or_else(|p| p.into_inner());
    let mut waited = false;
    while busy.contains(&key) {
        if io.cancel.is_cancelled() {
            return Err(EtlError::Cancelled);
        }
        if !waited {
            tracing::debug!(table, "Waiting for another window's load into {table}.");
            waited = true;
        }
        // The timeout only bounds how late a cancellation is noticed; a freed table wakes
        // the waiters at once.
        busy = FREED
            .wait_timeout(busy, Duration::from_millis(200))
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    busy.push(key.clone());
    Ok(TableTurn { key })
}

impl Drop for TableTurn {
    fn drop(&mut self) {
        BUSY.lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k| *k != self.key);
        FREED.notify_all();
    }
}

/// The keys currently held (for tests).
#[cfg(test)]
fn held() -> std::collections::HashSet<String> {
    BUSY.lock().unwrap().iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn io(rt: &tokio::runtime::Runtime) -> Io {
        Io {
            handle: rt.handle().clone(),
            cancel: tokio_util::sync::CancellationToken::new(),
        }
    }

    #[test]
    fn loads_into_one_table_take_turns_and_wake_at_once() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let io = io(&rt);
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (io, inside, most) = (io.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    let _turn = table_turn("dw", "turn_test.t", &io).unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "two loads held one table");
        assert!(!held().contains("dw\u{1f}turn_test.t"));
    }

    #[test]
    fn a_cancelled_run_stops_waiting() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let io = io(&rt);
        let _mine = table_turn("dw", "turn_test.cancel", &io).unwrap();
        let other = io.clone();
        let waiter = std::thread::spawn(move || table_turn("dw", "turn_test.cancel", &other));
        std::thread::sleep(Duration::from_millis(50));
        io.cancel.cancel();
        assert!(matches!(waiter.join().unwrap(), Err(EtlError::Cancelled)));
    }

    #[test]
    fn different_tables_do_not_wait() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let io = io(&rt);
        let _a = table_turn("dw", "turn_test.a", &io).unwrap();
        let _b = table_turn("dw", "turn_test.b", &io).unwrap();
        let h = held();
        assert!(h.contains("dw\u{1f}turn_test.a") && h.contains("dw\u{1f}turn_test.b"));
    }
}
