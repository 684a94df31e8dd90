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
//! - [`hooks`]: hook sets with originals, incremental refresh and uninstall;
//! - [`intercept`]: the optional dlopen/dlclose interception set.
//!
//! # Walking and decoding
//!
//! Every library is read inside the walk callback that reported it, so it cannot be unmapped
//! meanwhile; only READY libraries are reported unless [`loader::LIBS_ALL`] is passed.
//!
//! ```
//! use gothook_core::loader;
//!
//! let mut malloc_importers = 0;
//! loader::each(0, |lib| {
//!     if let Ok(d) = lib.decode() {
//!         let _ = d.for_each_import(|imp| {
//!             if imp.name == b"malloc" {
//!                 malloc_importers += 1;
//!                 return false; // one is enough for this library
//!             }
//!             true
//!         });
//!     }
//!     true // keep walking
//! })
//! .unwrap();
//! assert!(malloc_importers > 0, "libc itself imports malloc through its PLT");
//! ```
//!
//! # Hooking
//!
//! ```
//! use gothook_core::hooks::{self, Filter, Hook, Report};
//!
//! extern "C" fn my_getppid() -> i32 {
//!     7
//! }
//!
//! let mut original = 0usize; // receives the real getppid before any slot changes
//! let hooks = [Hook { symbol: b"getppid", replacement: my_getppid as *const () as usize, original: &mut original }];
//! let mut report = Report::default();
//! let set = hooks::install(&hooks, &Filter::default(), &mut report).unwrap();
//! assert_ne!(original, 0);
//! // ... later, after libraries were loaded: O(1) when nothing changed.
//! hooks::refresh(0, &mut report).unwrap();
//! hooks::uninstall(set, &mut report).unwrap();
//! ```
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
pub mod probe;
pub mod slot;
pub mod sys;

pub use dynamic::{Dynamic, Import, ImportKind, Symbol};
pub use error::Error;
pub use loader::{LibInfo, LibKind, Readiness};
