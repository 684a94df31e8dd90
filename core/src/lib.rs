//! gothook-core: heap-free, loader-safe GOT hooking.
//!
//! Everything here is `#![no_std]` without `alloc`: no call in this crate allocates, takes a lock
//! that a malloc hook could hold, or calls into stdio, `dlsym` or `dlerror`.  The `unsafe` surface
//! is confined to three small modules: [`mem`] (the one bounds-checked reader), [`slot`] (the
//! protection-correct compare-and-swap) and [`sys`] (the raw libc calls).  Everything above them
//! is safe Rust.
//!
//! The layers, bottom up:
//! - [`elf`]: ELF constants and per-architecture relocation numbers, as data;
//! - [`mem`]: a loaded image's mapped segments and the only function that turns an address into
//!   a slice, after checking it lies inside one of them;
//! - [`dynamic`]: the PT_DYNAMIC decoder (symbols, imports, hash lookup);
//! - [`loader`]: the walk over loaded libraries and the readiness rule;
//! - [`slot`]: one atomic, protection-correct slot swap;
//! - [`hooks`]: hook sets with originals, incremental refresh and uninstall.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod dynamic;
pub mod elf;
pub mod error;
pub mod hooks;
pub mod intercept;
pub mod loader;
pub mod lock;
pub mod mem;
pub mod slot;
pub mod sys;

pub use dynamic::{Dynamic, Import, ImportKind, Symbol};
pub use error::Error;
pub use loader::{LibInfo, LibKind, Readiness};
