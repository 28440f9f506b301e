//! Import, helper: catches a panic in one piece of work so that it costs that piece, not the run.
//!
//! [`catch`] runs a closure and turns a panic into a [`CaughtPanic`] carrying its message
//! and the place in the source where it happened. While a [`QuietPanics`] is alive, the
//! process's panic hook records such caught panics instead of printing them: what the
//! user sees is the problem line of the file, not "thread 'parse-0' panicked at …".
//! Panics outside [`catch`] still go to the hook that was there before.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::{Arc, Mutex, PoisonError};

/// A panic caught by [`catch`]: what it said, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaughtPanic {
    /// The panic's message, followed by ` at file:line:column` when the hook saw it.
    pub message: String,
}

impl fmt::Display for CaughtPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

thread_local! {
    /// How many [`catch`] calls this thread is inside.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
    /// What the hook saw of the last panic on this thread inside [`catch`].
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Run `work`; a panic in it comes back as `Err` instead of unwinding further.
///
/// `work` may leave whatever it was changing half done when it panics, so callers
/// must only catch work whose effects they then throw away (one file's records).
pub fn catch<R>(work: impl FnOnce() -> R) -> Result<R, CaughtPanic> {
    CATCHING.with(|depth| depth.set(depth.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(work));
    CATCHING.with(|depth| depth.set(depth.get().saturating_sub(1)));
    result.map_err(|payload| {
        let message = LAST_PANIC
            .with(|last| last.borrow_mut().take())
            .unwrap_or_else(|| payload_text(payload.as_ref()).to_string());
        CaughtPanic { message }
    })
}

/// The text a panic was raised with (`panic!("…")`, `expect("…")`, an index out of bounds).
fn payload_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "a panic without a message"
    }
}

type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// The hook in place before the first [`QuietPanics`], and how many are alive.
static INSTALLED: Mutex<(usize, Option<Arc<Hook>>)> = Mutex::new((0, None));

/// While alive, panics inside [`catch`] are recorded for it rather than printed; the
/// hook that was in place before is put back when the last one is dropped. Several
/// may be alive at once (imports run by tests in parallel).
#[must_use = "panics are quiet only while this is alive"]
pub struct QuietPanics {
    _private: (),
}

impl QuietPanics {
    pub fn install() -> Self {
        let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
        if installed.0 == 0 {
            let previous: Arc<Hook> = Arc::new(panic::take_hook());
            let fallback = Arc::clone(&previous);
            panic::set_hook(Box::new(move |info| {
                if CATCHING.with(Cell::get) > 0 {
                    let text = format!("{}{}", payload_text(info.payload()), place(info));
                    LAST_PANIC.with(|last| *last.borrow_mut() = Some(text));
                } else {
                    fallback(info);
                }
            }));
            installed.1 = Some(previous);
        }
        installed.0 += 1;
        QuietPanics { _private: () }
    }
}

fn place(info: &PanicHookInfo<'_>) -> String {
    info.location().map_or_else(String::new, |location| {
        format!(
            " at {}:{}:{}",
            location.file(),
            location.line(),
            location.column()
        )
    })
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
        installed.0 = installed.0.saturating_sub(1);
        // The hook cannot be changed by a thread that is panicking (it would abort);
        // ours then stays, passing panics outside `catch` on as before.
        if installed.0 > 0 || std::thread::panicking() {
            return;
        }
        if let Some(previous) = installed.1.take() {
            drop(panic::take_hook());
            match Arc::try_unwrap(previous) {
                Ok(hook) => panic::set_hook(hook),
                Err(shared) => panic::set_hook(Box::new(move |info| shared(info))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_says_what_and_where() {
        let _quiet = QuietPanics::install();
        let values: Vec<u8> = Vec::new();
        let index = values.len() + 3;
        let caught = catch(|| values[index]).unwrap_err();
        assert!(
            caught.message.starts_with(
                "index out of bounds: the len is 0 but the index is 3 at src/import/panics.rs:"
            ),
            "{caught}"
        );
        assert_eq!(catch(|| 7), Ok(7));
    }

    #[test]
    fn without_the_hook_the_payload_is_the_message() {
        let caught = catch(|| panic!("the {} went wrong", "parse")).unwrap_err();
        assert!(
            caught.message.starts_with("the parse went wrong"),
            "{caught}"
        );
        let caught = catch(|| std::panic::panic_any(42_u32)).unwrap_err();
        assert!(
            caught.message.starts_with("a panic without a message"),
            "{caught}"
        );
    }
}
