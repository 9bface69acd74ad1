//! The console: output to the Launcher's standard output, input from its standard input.
//!
//! Output is what the Guest sends to key 0 (LGUEST_CONSOLE_DMA_KEY), written unchanged as a
//! serial console would. Input is read by a helper thread and put into the buffers the
//! Guest bound at key 0, raising their IRQ; bytes the Guest has no buffer for wait (none
//! are lost). When input ends, the Guest is told in the way it understands:
//! - a Guest of the seed revision (this project's kit) finds the `LGUEST_CONSOLE_S_EOF`
//!   status bit in the console's descriptor, and the IRQ is raised once more;
//! - a Linux Guest's driver (2.6.23's `hvc_lguest`) knows no such bit, and a terminal
//!   ends input with a Ctrl-D: that is what it gets, after the last byte (twice if the
//!   input did not end with a newline, since the first Ctrl-D only finishes the line), so
//!   a shell reading commands from a pipe exits at its end, as it would at a terminal.
//!
//! On a terminal, the Launcher puts it in raw mode (no echo, no line editing, and Ctrl-C
//! goes to the Guest) and restores it on every way out: when the console is dropped, which
//! happens however the Guest ends, and when the Launcher is signalled. Three Ctrl-Cs within
//! a second stop the Launcher, as in 2.6.23.

use crate::guest::{End, Guest, Res};
use abi::{LGUEST_CONSOLE_DMA_KEY, LGUEST_CONSOLE_S_EOF, OFF_DESC_STATUS, Revision};
use rustix::termios::{self, LocalModes, OptionalActions, Termios};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::{Event, EventSender};

/// Where console input comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleInput {
    /// The Launcher's standard input (raw mode if it is a terminal).
    Stdin,
    /// None: the Guest's console has no input, and it never ends.
    None,
}

/// The terminal state to put back.
struct RawTerminal {
    saved: Termios,
}

impl RawTerminal {
    /// Put standard input in raw mode if it is a terminal.
    fn enter() -> Option<RawTerminal> {
        let stdin = std::io::stdin();
        if !termios::isatty(&stdin) {
            return None;
        }
        let saved = termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        // Keep output processing (so "\n" still returns the carriage); drop echo, line
        // editing and signal keys, which belong to the Guest now.
        raw.local_modes.remove(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG | LocalModes::IEXTEN);
        termios::tcsetattr(&stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}

pub(crate) struct Console {
    out: Box<dyn Write + Send>,
    /// Input read but not yet taken by the Guest.
    pending: VecDeque<u8>,
    /// Input has ended (or there never was any).
    eof: bool,
    /// We have told the Guest so.
    eof_reported: bool,
    /// The last byte of input, to know whether it ended a line.
    last_byte: Option<u8>,
    input: ConsoleInput,
    _raw: Option<RawTerminal>,
    /// Consecutive lone Ctrl-Cs, and when the first came.
    ctrl_c: (u32, Instant),
}

impl Console {
    pub fn new(out: Box<dyn Write + Send>, input: ConsoleInput, events: EventSender) -> Console {
        let raw = match input {
            ConsoleInput::Stdin => {
                let raw = RawTerminal::enter();
                spawn_reader(events);
                raw
            }
            ConsoleInput::None => None,
        };
        Console {
            out,
            pending: VecDeque::new(),
            eof: false,
            eof_reported: false,
            last_byte: None,
            input,
            _raw: raw,
            ctrl_c: (0, Instant::now()),
        }
    }

    /// Write Guest output. A closed or failing output (say, a pipe whose reader went
    /// away) does not concern the Guest: its bytes are dropped.
    pub fn write(&mut self, bytes: &[u8]) {
        if self.out.write_all(bytes).is_ok() {
            let _ = self.out.flush();
        }
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }

    /// Could more input still arrive?
    pub fn input_open(&self) -> bool {
        self.input == ConsoleInput::Stdin && (!self.eof || !self.pending.is_empty() || !self.eof_reported)
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || (self.eof && !self.eof_reported)
    }
}

/// Read standard input on a thread of its own and pass it on as events.
fn spawn_reader(events: EventSender) {
    let spawned = std::thread::Builder::new().name("console-input".into()).spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => {
                    events.send(Event::ConsoleEof);
                    return;
                }
                Ok(n) => {
                    if !events.send(Event::ConsoleInput(buf[..n].to_vec())) {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    events.send(Event::ConsoleEof);
                    return;
                }
            }
        }
    });
    if spawned.is_err() {
        // No thread, no input: behave as an input that ended at once.
        tracing::warn!("lguest: cannot start the console input thread; the console has no input");
    }
}

impl Guest {
    /// Bytes arrived on standard input.
    pub(crate) fn console_input(&mut self, bytes: &[u8]) -> Res {
        // Ctrl-Cs count whether they come one per read or several in one (pasted, or
        // typed faster than we read); anything else in between starts the count again.
        for &b in bytes {
            if b != 3 {
                self.console.ctrl_c.0 = 0;
                continue;
            }
            let (n, since) = self.console.ctrl_c;
            let n = if n == 0 || since.elapsed() > Duration::from_secs(1) { 1 } else { n + 1 };
            self.console.ctrl_c = (n, if n == 1 { Instant::now() } else { since });
            if n == 3 {
                return Err(End::Stopped("three Ctrl-Cs at the console".into()));
            }
        }
        self.console.pending.extend(bytes);
        self.console.last_byte = bytes.last().copied().or(self.console.last_byte);
        self.deliver_console_input()
    }

    /// Standard input ended.
    pub(crate) fn console_eof(&mut self) -> Res {
        self.console.eof = true;
        if self.revision == Revision::Release {
            /// What a terminal's end-of-file key sends.
            const CTRL_D: u8 = 4;
            let partial_line = self.console.last_byte.is_some_and(|b| b != b'\n');
            self.console.pending.push_back(CTRL_D);
            if partial_line {
                self.console.pending.push_back(CTRL_D);
            }
            self.console.eof_reported = true;
        }
        self.deliver_console_input()
    }

    /// Give the Guest as much waiting input as its buffers take; then, if input has
    /// ended, say so.
    pub(crate) fn deliver_console_input(&mut self) -> Res {
        use crate::io::Delivery;
        while !self.console.pending.is_empty() {
            let mut pending = std::mem::take(&mut self.console.pending);
            let (a, b) = pending.as_slices();
            let result = self.send_to_guest(LGUEST_CONSOLE_DMA_KEY, &[a, b]);
            let delivered = match result {
                Ok(Delivery::Delivered(n)) => n as usize,
                _ => 0,
            };
            pending.drain(..delivered.min(pending.len()));
            self.console.pending = pending;
            result?;
            if delivered == 0 {
                return Ok(());
            }
        }
        if self.console.eof && !self.console.eof_reported && self.is_bound(LGUEST_CONSOLE_DMA_KEY) {
            self.console.eof_reported = true;
            let at = self.layout.device_page.offset(OFF_DESC_STATUS);
            let status = self.read_u16("console descriptor", at)?;
            self.write_u16("console descriptor", at, status | LGUEST_CONSOLE_S_EOF)?;
            if let Some(b) = self.bindings.iter().flatten().find(|b| b.key == LGUEST_CONSOLE_DMA_KEY) {
                let irq = b.irq;
                self.trigger_irq(irq);
            }
        }
        Ok(())
    }
}
