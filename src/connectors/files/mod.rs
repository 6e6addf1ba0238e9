//! What every file source shares, whatever the format: which files a path or glob names (in a
//! stable order) and the decompressing reader that sits under the format's parser.

mod compression;
mod incremental;
mod paths;
mod remote;
mod storage;

pub use compression::Compression;
pub use incremental::{ByFile, ByFileSource, DatePattern, FileSelection, OnChange};
pub use paths::{expand, FileRef};
pub use remote::{
    is_url, list as list_objects, spawn as spawn_remote, wait as wait_remote, Object,
};
pub use storage::{resolve as storage_for, Storage, StorageSection};

/// The objects an object-store URL (`s3://bucket/raw/*.csv.gz`) names, as files to read.
pub fn objects(url: &str, storage: Option<&Storage>) -> Result<Vec<FileRef>, String> {
    Ok(list_objects(url, storage)?
        .into_iter()
        .map(|(display, object)| FileRef {
            path: display.clone().into(),
            display,
            object: Some(std::sync::Arc::new(object)),
        })
        .collect())
}
