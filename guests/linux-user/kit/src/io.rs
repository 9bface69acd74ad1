//! Output, and the small buffers paths are built in.
//!
//! [`println!`] formats a line into a buffer on the stack and writes it with one
//! `write(2)` (more only if it is longer than the buffer), so that lines from processes
//! sharing a pipe or the console never mix within a line, and nothing is buffered across
//! a `fork`. [`CBuf`] is a NUL-terminated string of bounded length made with
//! [`cbuf!`](crate::cbuf), for the paths system calls take.

use crate::fs::write;
use crate::{Errno, Result};
use core::ffi::{CStr, c_char};
use core::fmt::{self, Write};

/// Standard input, output and error.
pub const STDIN: i32 = 0;
pub const STDOUT: i32 = 1;
pub const STDERR: i32 = 2;

/// Write all of `bytes` to `fd`, retrying short writes.
pub fn write_all(fd: i32, mut bytes: &[u8]) -> Result<()> {
    while !bytes.is_empty() {
        match write(fd, bytes) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A line being formatted for `fd`: written out when full and when finished.
struct Line {
    fd: i32,
    buf: [u8; 1024],
    len: usize,
}

impl Line {
    fn flush(&mut self) {
        // Output is best effort, as with a C library's stdio: a closed standard output
        // must not stop the program (it still exits with its own status).
        let _ = write_all(self.fd, &self.buf[..self.len]);
        self.len = 0;
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// Format `args` (and a newline if `newline`) and write it to `fd`: what [`print!`] and
/// friends expand to.
pub fn print_to(fd: i32, args: fmt::Arguments, newline: bool) {
    let mut line = Line { fd, buf: [0; 1024], len: 0 };
    let _ = line.write_fmt(args);
    if newline {
        let _ = line.write_str("\n");
    }
    line.flush();
}

/// Print to standard output.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::io::print_to($crate::io::STDOUT, format_args!($($arg)*), false) };
}

/// Print a line to standard output, in one write.
#[macro_export]
macro_rules! println {
    () => { $crate::io::print_to($crate::io::STDOUT, format_args!(""), true) };
    ($($arg:tt)*) => { $crate::io::print_to($crate::io::STDOUT, format_args!($($arg)*), true) };
}

/// Print a line to standard error, in one write.
#[macro_export]
macro_rules! eprintln {
    ($($arg:tt)*) => { $crate::io::print_to($crate::io::STDERR, format_args!($($arg)*), true) };
}

/// Bytes shown as text: printable ASCII as is, anything else as `\xNN`.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct Bytes<'a>(pub &'a [u8]);

impl fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            match b {
                b' '..=b'~' => f.write_char(b as char)?,
                b'\n' => f.write_str("\\n")?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Longest string a [`CBuf`] holds, its NUL included.
pub const CBUF_MAX: usize = 256;

/// A NUL-terminated string built on the stack, for paths and arguments.
#[derive(Clone)]
pub struct CBuf {
    buf: [u8; CBUF_MAX],
    len: usize,
    overflow: bool,
}

impl CBuf {
    /// An empty string.
    pub const fn new() -> CBuf {
        CBuf { buf: [0; CBUF_MAX], len: 0, overflow: false }
    }

    /// `bytes` as a C string. Panics if it is too long or holds a NUL.
    pub fn from_bytes(bytes: &[u8]) -> CBuf {
        let mut c = CBuf::new();
        c.push(bytes);
        c.finish()
    }

    /// Append `bytes`.
    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == 0 || self.len + 1 >= CBUF_MAX {
                self.overflow = true;
                return;
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
    }

    /// Check the string fits (panics if it did not) and return it.
    pub fn finish(self) -> CBuf {
        assert!(!self.overflow, "a string is over {} bytes or holds a NUL", CBUF_MAX - 1);
        self
    }

    /// The string, as a C string.
    pub fn as_cstr(&self) -> &CStr {
        // The byte after the last is always 0 (the buffer starts zeroed, and push never
        // writes the last byte), and push refuses NULs.
        CStr::from_bytes_until_nul(&self.buf[..=self.len]).expect("a CBuf ends with its NUL")
    }

    /// The string's bytes, without the NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The address of the string, for a system call.
    pub fn as_ptr(&self) -> *const c_char {
        self.buf.as_ptr().cast()
    }
}

impl PartialEq for CBuf {
    fn eq(&self, other: &CBuf) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CBuf {}

/// Quoted, as [`Bytes`] shows it.
impl fmt::Debug for CBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Bytes(self.as_bytes()), f)
    }
}

impl fmt::Display for CBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Bytes(self.as_bytes()), f)
    }
}

impl Default for CBuf {
    fn default() -> CBuf {
        CBuf::new()
    }
}

impl Write for CBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

impl core::ops::Deref for CBuf {
    type Target = CStr;
    fn deref(&self) -> &CStr {
        self.as_cstr()
    }
}

/// A [`CBuf`] made with `format!` syntax: `cbuf!("{}/file", Bytes(dir))`.
#[macro_export]
macro_rules! cbuf {
    ($($arg:tt)*) => {{
        let mut c = $crate::io::CBuf::new();
        let _ = core::fmt::Write::write_fmt(&mut c, format_args!($($arg)*));
        c.finish()
    }};
}

/// Write `words` to `fd` (a pipe, usually: how a child tells its parent what it saw).
pub fn send(fd: i32, words: &[u32]) -> Result<()> {
    let mut bytes = [0u8; 256];
    assert!(words.len() * 4 <= bytes.len(), "send: at most 64 words at once");
    for (chunk, w) in bytes.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    write_all(fd, &bytes[..words.len() * 4])
}

/// Read words [`send`] wrote into `words`, until it is full or the writer closed the
/// pipe: how many whole words came.
pub fn recv(fd: i32, words: &mut [u32]) -> Result<usize> {
    let mut bytes = [0u8; 256];
    let want = (words.len() * 4).min(bytes.len());
    let mut got = 0;
    while got < want {
        match crate::fs::read(fd, &mut bytes[got..want]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    for (w, chunk) in words.iter_mut().zip(bytes[..got].chunks_exact(4)) {
        *w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    Ok(got / 4)
}
