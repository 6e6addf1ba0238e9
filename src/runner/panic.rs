//! A Rust panic inside a task (a connector, an API function) as that task's failure, with
//! the panic's own message instead of a task named "?".

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning a panic into the task's error text.
///
/// `AssertUnwindSafe` holds because nothing `f` touches is observed half-updated
/// afterwards: the task context is restored by `with_task`'s guard, each attempt gets a
/// fresh `TaskCtx`, and shared state behind mutexes is poisoned rather than seen torn.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panicked(payload.as_ref()))
}

/// "the task panicked: MESSAGE".
pub fn panicked(payload: &(dyn Any + Send)) -> String {
    format!(
        "the task panicked: {}",
        crate::error::panic_message(payload)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_and_a_formatted_panic_keep_their_message() {
        let err = catch(|| -> () { panic!("plain text") }).unwrap_err();
        assert_eq!(err, "the task panicked: plain text");
        let n = 42;
        let err = catch(|| -> () { panic!("row {n} is broken") }).unwrap_err();
        assert_eq!(err, "the task panicked: row 42 is broken");
    }

    #[test]
    fn a_panic_without_text_still_says_it_panicked() {
        let err = catch(|| std::panic::panic_any(7_u8)).unwrap_err();
        assert_eq!(err, "the task panicked: (a panic without a message)");
    }

    #[test]
    fn no_panic_passes_the_value_through() {
        assert_eq!(catch(|| 5), Ok(5));
    }
}
