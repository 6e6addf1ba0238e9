fn main() -> std::process::ExitCode {
    bounded_malloc();
    etl::cli::main()
}

/// glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), after which
/// the result chunks and Arrow buffers a source decodes land in the heap arenas of the worker
/// threads and stay resident there: a 1M-row Snowflake load peaked at 115 MiB. A fixed
/// threshold keeps every block of 256 KiB or more in its own mapping, returned on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bounded_malloc() {
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bounded_malloc() {}
