//! The console: `print!` and `println!` send text to the Launcher with
//! `LHCALL_SEND_DMA` to key 0 ([`abi::LGUEST_CONSOLE_DMA_KEY`]), as the 2.6.23 Guest's
//! hvc console did.
//!
//! Each `print!` formats into a buffer on the stack and sends it when it is full or the
//! `print!` ends, so a line costs one hypercall and nothing is left unsent. Nothing is
//! shared, so printing from an interrupt handler is safe; lines can only interleave at
//! buffer boundaries.

use crate::dma::{dma_from, send_dma};
use abi::LGUEST_CONSOLE_DMA_KEY;
use core::fmt::{self, Write};

/// Bytes one hypercall carries at most when printing formatted text.
const CHUNK: usize = 256;

/// Send `bytes` to the console as they are.
pub fn write_bytes(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let (mut dma, len) = dma_from(bytes);
        send_dma(LGUEST_CONSOLE_DMA_KEY, &mut dma);
        bytes = &bytes[len..];
    }
}

/// Formatted text on its way to the console.
struct Chunk {
    buf: [u8; CHUNK],
    len: usize,
}

impl Chunk {
    fn flush(&mut self) {
        write_bytes(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl Write for Chunk {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == CHUNK {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// What `print!` calls.
#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    let mut chunk = Chunk { buf: [0; CHUNK], len: 0 };
    // Our write_str never fails; an error can only come from a Display impl, and a
    // console has nobody to report it to.
    let _ = chunk.write_fmt(args);
    chunk.flush();
}

/// Print to the lguest console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::console::_print(format_args!($($arg)*))
    };
}

/// Print a line to the lguest console.
#[macro_export]
macro_rules! println {
    () => {
        $crate::print!("\n")
    };
    ($($arg:tt)*) => {
        $crate::console::_print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
