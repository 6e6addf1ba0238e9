use tokio::sync::mpsc;

use super::{Io, PIPELINE_DEPTH};
use crate::data::{Batch, Schema};
use crate::error::{EtlError, Result};

/// The receiving end of a bounded pipeline of batches. Dropping it stops the producer at its
/// next send, so an abandoned load never keeps reading.
pub struct BatchStream {
    pub schema: Schema,
    rx: mpsc::Receiver<Result<Batch>>,
    cancel: tokio_util::sync::CancellationToken,
    handle: tokio::runtime::Handle,
}

/// The producing end, handed to the code that reads the source.
pub struct BatchSender {
    tx: mpsc::Sender<Result<Batch>>,
    cancel: tokio_util::sync::CancellationToken,
}

impl BatchSender {
    /// Sends a batch from a blocking thread. `Err(Cancelled)` means: stop reading, nobody
    /// wants more rows (the consumer went away or the run was cancelled).
    pub fn send_blocking(&self, batch: Batch) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(EtlError::Cancelled);
        }
        self.tx
            .blocking_send(Ok(batch))
            .map_err(|_| EtlError::Cancelled)
    }

    pub async fn send(&self, batch: Batch) -> Result<()> {
        tokio::select! {
            r = self.tx.send(Ok(batch)) => r.map_err(|_| EtlError::Cancelled),
            _ = self.cancel.cancelled() => Err(EtlError::Cancelled),
        }
    }

    /// Runs an async producer from its blocking thread until it ends or the run is cancelled:
    /// a query that has not sent its first row is then dropped (and cancelled on the server).
    pub fn block_on(
        &self,
        handle: &tokio::runtime::Handle,
        produce: impl std::future::Future<Output = Result<()>>,
    ) -> Result<()> {
        handle.block_on(async {
            tokio::select! {
                r = produce => r,
                _ = self.cancel.cancelled() => Err(EtlError::Cancelled),
            }
        })
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled() || self.tx.is_closed()
    }
}

impl BatchStream {
    /// Runs `produce` on tokio's blocking pool (for synchronous readers: files, SQLite).
    /// An error it returns is delivered to the consumer as the stream's last item.
    pub fn spawn_blocking<F>(io: &Io, schema: Schema, produce: F) -> BatchStream
    where
        F: FnOnce(&BatchSender) -> Result<()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(PIPELINE_DEPTH);
        let sender = BatchSender {
            tx,
            cancel: io.cancel.clone(),
        };
        io.handle.spawn_blocking(move || {
            if let Err(e) = produce(&sender) {
                if !matches!(e, EtlError::Cancelled) || sender.cancel.is_cancelled() {
                    let _ = sender.tx.blocking_send(Err(e));
                }
            }
        });
        BatchStream {
            schema,
            rx,
            cancel: io.cancel.clone(),
            handle: io.handle.clone(),
        }
    }

    /// Runs an async producer on the runtime (for async drivers).
    pub fn spawn<F, Fut>(io: &Io, schema: Schema, produce: F) -> BatchStream
    where
        F: FnOnce(BatchSender) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(PIPELINE_DEPTH);
        let sender = BatchSender {
            tx: tx.clone(),
            cancel: io.cancel.clone(),
        };
        let cancel = io.cancel.clone();
        io.handle.spawn(async move {
            // A cancelled run drops the producer, and with it the queries it waits on.
            let produced = tokio::select! {
                r = produce(sender) => r,
                _ = cancel.cancelled() => Err(EtlError::Cancelled),
            };
            if let Err(e) = produced {
                if !matches!(e, EtlError::Cancelled) || cancel.is_cancelled() {
                    let _ = tx.send(Err(e)).await;
                }
            }
        });
        BatchStream {
            schema,
            rx,
            cancel: io.cancel.clone(),
            handle: io.handle.clone(),
        }
    }

    /// Next batch, waiting on the calling (blocking) thread. None at the end of the data. A
    /// cancellation ends the wait even when the producer is stuck (a query that has not sent
    /// its first row).
    pub fn next_blocking(&mut self) -> Option<Result<Batch>> {
        if self.cancel.is_cancelled() {
            return Some(Err(EtlError::Cancelled));
        }
        let handle = self.handle.clone();
        handle.block_on(self.next())
    }

    pub async fn next(&mut self) -> Option<Result<Batch>> {
        tokio::select! {
            b = self.rx.recv() => b,
            _ = self.cancel.cancelled() => Some(Err(EtlError::Cancelled)),
        }
    }
}
