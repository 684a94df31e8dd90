//! Error values: small, copyable, each with a fixed message.  Never allocates.

/// Why a gothook operation failed.  Each variant maps 1:1 to a C status code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    /// An argument is invalid (NULL, unknown flag, zero count, empty name).
    Invalid,
    /// The library is not fully loaded; nothing was written.
    NotReady,
    /// The dynamic section or one of its tables is malformed or not mapped; the value names the
    /// check that failed (for people; the C status is the same for every check).
    Malformed(&'static str),
    /// The object has no PT_DYNAMIC segment.
    NoDynamic,
    /// Symbol, library or hook set not found.
    NotFound,
    /// A slot did not hold the expected value.
    Changed,
    /// `mprotect` failed.
    Protect,
    /// gothook's lock is already held by this thread.
    Busy,
    /// A fixed-capacity table is full.
    Full,
    /// Unsupported ELF class, encoding, machine or relocation format.
    Unsupported,
    /// An address lies outside the owner's mapped segments or is misaligned.
    Range,
}

impl Error {
    /// The fixed, human-readable message for this error, NUL-terminated for C callers.
    pub const fn c_message(self) -> &'static core::ffi::CStr {
        match self {
            Error::Invalid => c"invalid argument (NULL pointer, unknown flag or empty value)",
            Error::NotReady => c"library is not fully loaded yet; nothing was written",
            Error::Malformed(_) => {
                c"malformed dynamic section or table outside the mapped segments"
            }
            Error::NoDynamic => c"object has no PT_DYNAMIC segment",
            Error::NotFound => c"not found",
            Error::Changed => c"slot changed concurrently; nothing was written",
            Error::Protect => c"mprotect failed; the slot was not written",
            Error::Busy => c"gothook is already running on this thread (re-entry)",
            Error::Full => c"a fixed-capacity table is full",
            Error::Unsupported => c"unsupported ELF class, encoding, machine or relocation format",
            Error::Range => c"address outside the owner's mapped segments or misaligned",
        }
    }
}

impl Error {
    /// The fixed, human-readable message for this error.
    pub fn message(self) -> &'static str {
        core::str::from_utf8(self.c_message().to_bytes()).unwrap_or("error")
    }
}

impl Error {
    /// Whether this is a `Malformed` error, whichever check failed.
    pub const fn is_malformed(self) -> bool {
        matches!(self, Error::Malformed(_))
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())?;
        if let Error::Malformed(check) = self {
            write!(f, " ({check})")?;
        }
        Ok(())
    }
}

impl core::error::Error for Error {}

/// Result alias used throughout the crate.
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    /// Formats `e` into a fixed buffer (no allocation, as everywhere in this crate).
    struct Text {
        buf: [u8; 160],
        len: usize,
    }

    impl Write for Text {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            self.buf
                .get_mut(self.len..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    fn text(e: &Error) -> Text {
        let mut t = Text {
            buf: [0; 160],
            len: 0,
        };
        write!(t, "{e}").unwrap();
        t
    }

    impl PartialEq<&str> for Text {
        fn eq(&self, other: &&str) -> bool {
            &self.buf[..self.len] == other.as_bytes()
        }
    }

    impl core::fmt::Debug for Text {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str(core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?"))
        }
    }

    #[test]
    fn malformed_names_its_check_and_is_a_core_error() {
        let e = Error::Malformed("string table ends outside its segment");
        assert_eq!(
            text(&e),
            "malformed dynamic section or table outside the mapped segments \
             (string table ends outside its segment)"
        );
        assert!(e.is_malformed() && !Error::Range.is_malformed());
        let dynamic: &dyn core::error::Error = &e;
        assert!(dynamic.source().is_none());
        assert_eq!(text(&Error::NotFound), "not found");
    }
}
