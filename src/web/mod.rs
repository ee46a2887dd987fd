//! The scoring kernel's boundary (wasm32 only): a handful of `#[wasm_bindgen]` functions over
//! numbers, text and bytes. The page adapter (`www/shim/`, plain JS) owns the page — listeners,
//! storage, delivery — and calls these to score.
//!
//! One kernel per page: a compiled model ([`crate::model::binary`]) and one visitor's
//! [`State`]. The kernel imports nothing from the page, so it is never re-entered; it never
//! formats a number (the page formats) and never panics (a bug traps, and the shim switches the
//! widget off).
//!
//! Without the `std` feature this is the production kernel: `no_std`, a small free-list
//! allocator, and a panic handler that traps. With `debug` it is also the lazily loaded debug
//! bundle, which adds [`compile`]: the JSON reader and validator, with every message.

use crate::engine::{self, Detail, Event, State};
#[cfg(feature = "debug")]
use crate::model::{binary, ValidModel};
use crate::model::{Compiled, Dimension};
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use wasm_bindgen::prelude::*;

/// What `apply` answers for bytes that are not a valid event.
pub const REJECTED: i32 = -1;
/// What `apply` answers before a model was loaded.
pub const NO_MODEL: i32 = -2;

/// The loaded model and the visitor's state.
struct Kernel {
    model: Compiled,
    state: State,
}

/// The page's one kernel. Wasm runs one thread here and the kernel never calls out while it
/// holds the slot, so no two borrows of it can overlap.
struct Slot(UnsafeCell<Option<Kernel>>);

// SAFETY: wasm32-unknown-unknown without the atomics feature has exactly one thread.
unsafe impl Sync for Slot {}

#[cfg(target_feature = "atomics")]
compile_error!("the kernel keeps its state in a single-threaded slot: build it without atomics");

static KERNEL: Slot = Slot(UnsafeCell::new(None));

fn with_kernel<R>(f: impl FnOnce(&mut Option<Kernel>) -> R) -> R {
    // SAFETY: see `Slot`; `f` never reaches another export, so the borrow is unique.
    f(unsafe { &mut *KERNEL.0.get() })
}

/// Loads a compiled model and starts a fresh visitor state. Answers 0, or why the bytes cannot
/// be used: 1 not a compiled model, 2 another format version, 3 damaged, 4 malformed.
#[wasm_bindgen]
pub fn load(model: &[u8]) -> u32 {
    match Compiled::read(model.into()) {
        Ok(model) => with_kernel(|k| {
            let state = State::new(&model);
            *k = Some(Kernel { model, state });
            0
        }),
        Err(e) => e as u32,
    }
}

/// The loaded model as the page needs it, as UTF-8 JSON (empty before a model is loaded):
/// the page section `leadscore build` wrote ([`binary::page`]). Text crosses the boundary as
/// bytes only, so the glue carries no text encoder or decoder of its own.
#[wasm_bindgen]
pub fn describe() -> Vec<u8> {
    with_kernel(|k| {
        k.as_ref()
            .map(|k| k.model.page().to_vec())
            .unwrap_or_default()
    })
}

/// Replaces the visitor state with stored bytes ([`state`]'s), aligned to the model. False,
/// with a fresh state, when the bytes are corrupt or foreign.
#[wasm_bindgen]
pub fn restore(state: &[u8]) -> bool {
    with_kernel(|k| {
        let Some(k) = k else { return false };
        match State::from_bytes(state, &k.model) {
            Some(s) => {
                k.state = s;
                true
            }
            None => {
                k.state = State::new(&k.model);
                false
            }
        }
    })
}

/// Starts a fresh visitor state.
#[wasm_bindgen]
pub fn reset() {
    with_kernel(|k| {
        if let Some(k) = k {
            k.state = State::new(&k.model);
        }
    })
}

/// The visitor state as bytes, to store (empty before a model is loaded).
#[wasm_bindgen]
pub fn state() -> Vec<u8> {
    with_kernel(|k| k.as_ref().map(|k| k.state.to_bytes()).unwrap_or_default())
}

/// Applies one event (the page adapter's byte form, see [`Event::from_bytes`]) at `now`
/// (milliseconds since the epoch; a time that is not finite or beyond ±8.64e15 is rejected). Answers `tier + 256 * previous_tier` (0 = unqualified,
/// `i + 1` = the model's tier `i`), [`REJECTED`] or [`NO_MODEL`].
#[wasm_bindgen]
pub fn apply(event: &[u8], now: f64) -> i32 {
    with_kernel(|k| {
        let Some(k) = k else { return NO_MODEL };
        let (Some(event), Some(now)) = (Event::from_bytes(event), millis(now)) else {
            return REJECTED;
        };
        match engine::advance(&mut k.state, &k.model, &event, now) {
            Ok(score) => {
                let [tier, previous] = score.tier_numbers;
                i32::from(tier) + 256 * i32::from(previous)
            }
            Err(_) => REJECTED,
        }
    })
}

/// The score at `now` and what explains it, as numbers: fit, engagement, intent, product,
/// total, probability (NaN without calibration), tier, previous tier, visits, visible seconds;
/// then five per contribution: rule index, dimension (0 fit, 1 engagement, 2 intent,
/// 3 product), points, times fired, points decayed — highest points first.
#[wasm_bindgen]
pub fn explain(now: f64) -> Vec<f64> {
    with_kernel(|k| {
        let (Some(k), Some(now)) = (k, millis(now)) else {
            return Vec::new();
        };
        // The kernel's state is always aligned to its model (`load`, `restore` and `reset` make
        // it so), so the score is read without `engine::score`'s check and copy.
        let s = engine::score_aligned(&k.state, &k.model, k.state.time(now), Detail::Explained);
        let mut out = Vec::with_capacity(10 + 5 * s.contributions.len());
        out.extend_from_slice(&[
            s.fit,
            s.engagement,
            s.intent,
            s.product,
            s.total,
            s.probability.unwrap_or(f64::NAN),
            f64::from(s.tier_numbers[0]),
            f64::from(s.tier_numbers[1]),
            f64::from(k.state.visits),
            k.state.seconds,
        ]);
        for c in &s.contributions {
            out.extend_from_slice(&[
                c.index as f64,
                dimension_number(c.dimension),
                c.points,
                f64::from(c.times),
                c.decayed,
            ]);
        }
        out
    })
}

/// True when a download of the URL path `path` (UTF-8) fires one of the model's download rules.
#[wasm_bindgen]
pub fn is_download(path: &[u8]) -> bool {
    let path = core::str::from_utf8(path).unwrap_or_default();
    with_kernel(|k| {
        k.as_ref()
            .is_some_and(|k| engine::is_download(&k.model, path))
    })
}

/// Reads and validates a model given as JSON text and compiles it, as `leadscore build` does.
/// The error lists every problem, one per line (`path: message`), as `leadscore check` does.
#[cfg(feature = "debug")]
#[wasm_bindgen]
pub fn compile(json: &str) -> Result<Vec<u8>, String> {
    let model = ValidModel::from_json(json).map_err(|errors| {
        errors
            .0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    binary::write(&model).map_err(|e| e.to_string())
}

#[cfg(feature = "debug")]
use alloc::string::ToString;

/// The time of an event or a score, if it is one: a finite number of milliseconds within the
/// range of JavaScript dates (±8.64e15). Anything else is refused, so that one bad clock reading
/// cannot pin the visitor's state at the end of time.
fn millis(now: f64) -> Option<i64> {
    (now.abs() <= 8.64e15).then_some(now as i64)
}

fn dimension_number(d: Dimension) -> f64 {
    d.index() as f64
}

#[cfg(not(feature = "std"))]
mod runtime {
    //! What a `no_std` cdylib must bring: an allocator and a panic handler.

    // SAFETY: the kernel runs on one thread (wasm32 without atomics).
    #[global_allocator]
    static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
        unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

    /// A panic is a bug: trap, and let the page adapter switch the widget off.
    #[panic_handler]
    fn trap(_: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }
}
