//! The bridge from script threads to the async core: every connector's blocking call goes
//! through `Io::block_on`, which gives up when the run is cancelled (the server then rolls
//! back whatever the call had open).

use std::future::Future;

use tokio_util::sync::CancellationToken;

use crate::error::{EtlError, Result};

/// What a blocking caller (a script thread) needs to reach the async core.
#[derive(Clone)]
pub struct Io {
    pub handle: tokio::runtime::Handle,
    pub cancel: CancellationToken,
}

impl Io {
    /// Runs `fut` to completion from a blocking thread, or stops at cancellation.
    pub fn block_on<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        if self.cancel.is_cancelled() {
            return Err(EtlError::Cancelled);
        }
        self.handle.block_on(async {
            tokio::select! {
                r = fut => r,
                _ = self.cancel.cancelled() => Err(EtlError::Cancelled),
            }
        })
    }
}
