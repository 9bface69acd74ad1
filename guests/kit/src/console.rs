//! The console: `print!` and `println!` send text to the Launcher with
//! `LHCALL_SEND_DMA` to key 0 ([`abi::LGUEST_CONSOLE_DMA_KEY`]), as the 2.6.23 Guest's
//! hvc console did; and input, which arrives in buffers the Guest binds at the same key.
//!
//! Output: each `print!` formats into a buffer on the stack and sends it when it is full
//! or the `print!` ends, so a line costs one hypercall and nothing is left unsent. Nothing
//! is shared, so printing from an interrupt handler is safe; lines can only interleave at
//! buffer boundaries.
//!
//! Input ([`bind_input`], [`read`]): the driver binds [`INPUT_BUFS`] buffers at key 0 with
//! the console's IRQ (`LHCALL_BIND_DMA`). The Launcher fills a free one (`used_len` 0)
//! with what was typed or piped, sets its `used_len` and raises the IRQ; it fills them in
//! turn, so [`read`] takes bytes out in the same order and gives a buffer back by zeroing
//! its `used_len` once it has taken all of it. Input that arrives before the buffers are
//! bound waits in the Launcher. When input ends the Launcher sets
//! [`abi::LGUEST_CONSOLE_S_EOF`] in the console's descriptor and raises the IRQ once
//! more: [`input_ended`] is true once that is set and every byte has been read. The IRQ
//! handler does nothing: its job is to end a HALT ([`read_blocking`] shows the pattern).
use crate::bus::{self, Device};
use crate::dma::{bind_dma, dma_from, send_dma};
use crate::idt::Gate;
use crate::traps::{self, TrapFrame};
use crate::{Global, hcall, irq, virt_to_phys};
use abi::{
    FIRST_EXTERNAL_VECTOR, LGUEST_CONSOLE_DMA_KEY, LGUEST_CONSOLE_S_EOF, LGUEST_DEVICE_S_ACKNOWLEDGE,
    LGUEST_DEVICE_S_DRIVER, LGUEST_DEVICE_S_DRIVER_OK, LGUEST_DEVICE_S_FAILED, LGUEST_DEVICE_T_CONSOLE,
    LguestDma,
};
use core::fmt::{self, Write};
use core::sync::atomic::{Ordering, compiler_fence};

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

/// Input buffers bound at once.
pub const INPUT_BUFS: usize = 4;
/// Bytes in each input buffer.
pub const INPUT_BUF: usize = 256;

/// One input buffer, aligned to its size so that it never crosses a page (one section).
#[repr(C, align(256))]
struct InputBuf([u8; INPUT_BUF]);

struct Input {
    /// The console device, once [`bind_input`] has bound the buffers.
    dev: Option<Device>,
    bufs: [InputBuf; INPUT_BUFS],
    dmas: [LguestDma; INPUT_BUFS],
    /// The buffer the next input byte is in.
    next: usize,
    /// Bytes of that buffer already read.
    taken: usize,
}

static INPUT: Global<Input> = Global::new(Input {
    dev: None,
    bufs: [const { InputBuf([0; INPUT_BUF]) }; INPUT_BUFS],
    dmas: [LguestDma { used_len: 0, addr: [0; 16], len: [0; 16] }; INPUT_BUFS],
    next: 0,
    taken: 0,
});

/// Use the input state. Input is read from one place at a time (the kernel, interrupts
/// off, as a system call or a HALT loop); the IRQ handler does not touch it.
fn with_input<R>(f: impl FnOnce(&mut Input) -> R) -> R {
    // SAFETY: see above; interrupts are off, so nothing else runs while `f` does, and
    // the Launcher writes only buffers whose used_len is 0, which `f` only reads.
    irq::without_interrupts(|| f(unsafe { &mut *INPUT.get() }))
}

fn input_irq(_frame: &mut TrapFrame) {}

/// Bind the input buffers at key 0, raising the console's IRQ, so that typed or piped
/// input starts arriving; true if they are bound (now or already). False if there is no
/// console or the Host had no room (the console is then marked FAILED).
pub fn bind_input() -> bool {
    with_input(|input| {
        if input.dev.is_some() {
            return true;
        }
        let Some(dev) = bus::find(LGUEST_DEVICE_T_CONSOLE, 0) else { return false };
        // All status bits go in before the binding: from then on the Launcher may set the
        // EOF bit, and our read-modify-write of the status must not race with it.
        dev.set_status(LGUEST_DEVICE_S_ACKNOWLEDGE);
        dev.set_status(LGUEST_DEVICE_S_DRIVER);
        dev.set_status(LGUEST_DEVICE_S_DRIVER_OK);
        for (buf, dma) in input.bufs.iter().zip(input.dmas.iter_mut()) {
            *dma = LguestDma { used_len: 0, addr: [0; 16], len: [0; 16] };
            dma.addr[0] = virt_to_phys(buf.0.as_ptr());
            dma.len[0] = INPUT_BUF as u16;
        }
        traps::set_handler(FIRST_EXTERNAL_VECTOR + dev.irq() as u8, Gate::INTERRUPT, input_irq);
        compiler_fence(Ordering::SeqCst);
        // SAFETY: the descriptors and buffers are statics that stay bound for good.
        if unsafe { bind_dma(LGUEST_CONSOLE_DMA_KEY, input.dmas.as_ptr(), INPUT_BUFS as u32, dev.irq()) } {
            input.dev = Some(dev);
            true
        } else {
            dev.set_status(LGUEST_DEVICE_S_FAILED);
            false
        }
    })
}

impl Input {
    fn used_len(&self, i: usize) -> usize {
        // SAFETY: a field of a static; volatile because the Host writes it.
        (unsafe { (&raw const self.dmas[i].used_len).read_volatile() } as usize).min(INPUT_BUF)
    }

    fn ready(&self) -> bool {
        self.dev.is_some() && self.used_len(self.next) > self.taken
    }
}

/// Take up to `buf.len()` bytes of input that has arrived, without waiting; how many.
pub fn read(buf: &mut [u8]) -> usize {
    with_input(|input| {
        let mut done = 0;
        while done < buf.len() && input.ready() {
            let (i, len) = (input.next, input.used_len(input.next));
            let n = (len - input.taken).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&input.bufs[i].0[input.taken..input.taken + n]);
            done += n;
            input.taken += n;
            if input.taken == len {
                compiler_fence(Ordering::SeqCst);
                // SAFETY: as in used_len; zero gives the buffer back to the Launcher.
                unsafe { (&raw mut input.dmas[i].used_len).write_volatile(0) };
                input.next = (i + 1) % INPUT_BUFS;
                input.taken = 0;
            }
        }
        done
    })
}

/// Whether input is waiting to be [`read`].
pub fn input_ready() -> bool {
    with_input(|input| input.ready())
}

/// Whether input has ended (`LGUEST_CONSOLE_S_EOF`) and all of it has been read.
pub fn input_ended() -> bool {
    with_input(|input| match input.dev {
        Some(dev) => !input.ready() && dev.status() & LGUEST_CONSOLE_S_EOF != 0,
        None => false,
    })
}

/// Read at least one byte of input, HALTing until some arrives; 0 once input has ended
/// (or if the buffers cannot be bound).
pub fn read_blocking(buf: &mut [u8]) -> usize {
    if buf.is_empty() || !bind_input() {
        return 0;
    }
    loop {
        let n = read(buf);
        if n > 0 || input_ended() {
            return n;
        }
        // With interrupts off the input's IRQ cannot slip in between the look and the
        // HALT: it stays pending, and HALT returns at once.
        let flags = irq::save_fl();
        irq::disable();
        if !input_ready() && !input_ended() {
            hcall::halt();
        }
        irq::restore_fl(flags);
    }
}
