//! gothook-core: heap-free, loader-safe GOT hooking.
//!
//! Everything here is `#![no_std]` without `alloc`: no call in this crate allocates, takes a lock
//! that a malloc hook could hold, or calls into stdio, `dlsym` or `dlerror`.  `unsafe` is a
//! compile error (`deny(unsafe_code)`) except in the modules whose `mod` line allows it:
//! [`read`] (the one bounds-checked reader), [`slot`] (the protection-correct compare-and-swap),
//! [`sys`] (the raw libc calls), [`lock`] (the value behind the lock word) and, until they
//! shrink, [`loader`] and [`intercept`].  The decoder ([`dynamic`], [`elf`], [`mem`]) and the
//! hook sets ([`hooks`]) contain none.
//!
//! The layers, bottom up:
//! - [`elf`]: ELF constants and per-architecture relocation numbers, as data;
//! - [`mem`]: an image's PT_LOAD ranges, as plain numbers;
//! - [`read`]: the only code that turns addresses into bytes and bytes into ELF structures: the
//!   [`Memory`] trait over a mapped library ([`ProcessImage`]) or a file in a slice ([`FileImage`]);
//! - [`dynamic`]: the PT_DYNAMIC decoder (symbols, imports, hash lookup);
//! - [`loader`]: the walk over loaded libraries and the readiness rule;
//! - [`rtld`]: glibc's add/remove counters read without the loader's lock, found at run time;
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
//! # Soundness of the decoder API
//!
//! Safe code cannot make the decoder read memory nobody vouched for.  Building an image from
//! raw addresses is `unsafe`:
//!
//! ```compile_fail,E0133
//! #![forbid(unsafe_code)]
//! // Program headers that claim an unmapped PT_LOAD at 0x1000 (and a PT_DYNAMIC inside it).
//! let mut ph = [0u8; 112];
//! ph[0] = 1; // PT_LOAD
//! ph[16..24].copy_from_slice(&0x1000u64.to_le_bytes());
//! ph[40..48].copy_from_slice(&0x40u64.to_le_bytes());
//! ph[56] = 2; // PT_DYNAMIC
//! ph[72..80].copy_from_slice(&0x1000u64.to_le_bytes());
//! ph[96..104].copy_from_slice(&0x40u64.to_le_bytes());
//! let _ = gothook_core::Dynamic::decode(0, &ph, 0);
//! ```
//!
//! and segment ranges are plain numbers that nothing reads through:
//!
//! ```compile_fail,E0599
//! #![forbid(unsafe_code)]
//! let mut s = gothook_core::mem::Segments::default();
//! s.push(0x1000, 64, 4).unwrap();
//! let _ = s.u32(0x1000);
//! ```
//!
//! nor can a library record be forged for the safe `LibInfo::decode`, which trusts the walk:
//!
//! ```compile_fail,E0639
//! #![forbid(unsafe_code)]
//! use gothook_core::loader::{LibInfo, LibKind, Readiness};
//! let segs = gothook_core::mem::Segments::default();
//! let lib = LibInfo {
//!     bias: 0,
//!     name: b"",
//!     name_ptr: b"\0".as_ptr(),
//!     phdr: 0x1000,
//!     phnum: 4,
//!     kind: LibKind::Other,
//!     readiness: Readiness::Ready,
//!     adds: 0,
//!     subs: 0,
//!     index: 0,
//!     segs: &segs,
//! };
//! let _ = lib.decode();
//! ```
//!
//! A library decoded in the walk is borrowed for its callback: it cannot be kept past it,
//!
//! ```compile_fail,E0521
//! #![forbid(unsafe_code)]
//! let mut kept = None;
//! gothook_core::loader::each(0, |lib| {
//!     kept = lib.decode().ok();
//!     true
//! })
//! .unwrap();
//! let _ = kept.map(|d| d.nsyms);
//! ```
//!
//! nor can its `Dynamic` be copied out of the borrow:
//!
//! ```compile_fail,E0507
//! #![forbid(unsafe_code)]
//! let mut kept: Option<gothook_core::Dynamic> = None;
//! gothook_core::loader::each(0, |lib| {
//!     kept = Some(*lib.decode().unwrap());
//!     true
//! })
//! .unwrap();
//! ```
//!
//! nor can a copy of it be edited to point elsewhere:
//!
//! ```compile_fail,E0507
//! #![forbid(unsafe_code)]
//! gothook_core::loader::each(0, |lib| {
//!     let mut forged = *lib;
//!     forged.phdr = 0x1000;
//!     let _ = forged.decode();
//!     true
//! })
//! .unwrap();
//! ```
//!
//! A slot is read only through the library that owns it, never from a bare address:
//!
//! ```compile_fail,E0061
//! #![forbid(unsafe_code)]
//! let _ = gothook_core::slot::peek(0x1000);
//! ```
//!
//! and an address outside that library gives `None`:
//!
//! ```
//! #![forbid(unsafe_code)]
//! use gothook_core::{loader, slot};
//! let mut seen = 0;
//! loader::each(0, |lib| {
//!     assert_eq!(slot::peek_listed(lib, 0x1000), None);
//!     if let Ok(d) = lib.decode() {
//!         assert_eq!(slot::peek(&d, 0x1000), None);
//!         assert_eq!(slot::peek(&d, d.dynamic + 1), None, "misaligned");
//!         seen += 1;
//!     }
//!     true
//! })
//! .unwrap();
//! assert!(seen > 0);
//! ```
//!
//! A hook publishes its original into a typed cell, not through a raw address:
//!
//! ```compile_fail,E0308
//! #![forbid(unsafe_code)]
//! let _ = gothook_core::hooks::Hook {
//!     symbol: b"getppid",
//!     replacement: 0,
//!     original: 0x1000 as *mut usize,
//!     flags: 0,
//! };
//! ```
//!
//! Redirecting calls is the caller's promise that the replacement has the symbol's type, so
//! installing a hook set is `unsafe`:
//!
//! ```compile_fail,E0133
//! #![forbid(unsafe_code)]
//! use gothook_core::hooks::{self, Filter, Hook, Report};
//! let hooks = [Hook { symbol: b"getppid", replacement: 0x1000, original: None, flags: 0 }];
//! let _ = hooks::install(&hooks, &Filter::default(), &mut Report::default());
//! ```
//!
//! and so is a single slot swap, which is reachable from safe code only through it:
//!
//! ```compile_fail,E0133
//! #![forbid(unsafe_code)]
//! gothook_core::loader::each(0, |lib| {
//!     if let Ok(d) = lib.decode() {
//!         let _ = gothook_core::slot::swap_if_ready(&d, true, d.dynamic, 0, 0x1000);
//!     }
//!     true
//! })
//! .unwrap();
//! ```
//!
//! The same forged headers through the safe reader, over bytes that exist, give a status:
//!
//! ```
//! #![forbid(unsafe_code)]
//! use gothook_core::{Dynamic, Error, FileImage};
//! let mut ph = [0u8; 112];
//! ph[0] = 1; // PT_LOAD at 0x1000, 0x40 bytes, file offset 0
//! ph[16..24].copy_from_slice(&0x1000u64.to_le_bytes());
//! ph[40..48].copy_from_slice(&0x40u64.to_le_bytes());
//! ph[56] = 2; // PT_DYNAMIC at 0x1000
//! ph[72..80].copy_from_slice(&0x1000u64.to_le_bytes());
//! ph[96..104].copy_from_slice(&0x40u64.to_le_bytes());
//! let no_bytes: [u8; 0] = [];
//! let r: Result<Dynamic<FileImage<'_>>, Error> =
//!     Dynamic::from_image(&no_bytes, &ph, gothook_core::dynamic::DECODE_ELF64 | (62 << 16));
//! assert!(r.unwrap_err().is_malformed());
//! let mut s = gothook_core::mem::Segments::default();
//! s.push(0x1000, 64, 4).unwrap();
//! assert!(s.contains(0x1000, 4));
//! ```
//!
//! # Hooking
//!
//! ```
//! use core::sync::atomic::{AtomicUsize, Ordering};
//! use gothook_core::hooks::{self, Filter, Hook, Report};
//!
//! extern "C" fn my_getppid() -> i32 {
//!     7
//! }
//!
//! // Receives the real getppid before any slot changes.
//! static ORIGINAL: AtomicUsize = AtomicUsize::new(0);
//! let hooks = [Hook { symbol: b"getppid", replacement: my_getppid as *const () as usize, original: Some(&ORIGINAL), flags: 0 }];
//! let mut report = Report::default();
//! // SAFETY: my_getppid has getppid's type and is static code.
//! let set = unsafe { hooks::install(&hooks, &Filter::default(), &mut report) }.unwrap();
//! assert_ne!(ORIGINAL.load(Ordering::Acquire), 0);
//! // ... later, after libraries were loaded: O(1) when nothing changed.
//! hooks::refresh(0, &mut report).unwrap();
//! hooks::uninstall(set, &mut report).unwrap();
//! ```
#![no_std]
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(clippy::missing_safety_doc)]
#![warn(missing_docs)]

pub mod dynamic;
pub mod elf;
pub mod error;
pub mod hooks;
#[allow(unsafe_code)]
pub mod intercept;
#[allow(unsafe_code)]
pub mod loader;
#[allow(unsafe_code)]
pub mod lock;
pub mod mem;
pub mod probe;
#[allow(unsafe_code)]
pub mod read;
pub mod rtld;
#[allow(unsafe_code)]
pub mod slot;
#[allow(unsafe_code)]
pub mod sys;

pub use dynamic::{Dynamic, Import, ImportKind, Mapped, Symbol};
pub use error::Error;
pub use loader::{LibInfo, LibKind, Readiness};
pub use read::{FileImage, Memory, ProcessImage};
