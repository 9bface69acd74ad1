//! The console device: what the Guest sends to key 0 (LGUEST_CONSOLE_DMA_KEY) is written
//! to the Launcher's standard output, unchanged, as a serial console would.

use std::io::Write;

pub(crate) struct Console {
    out: Box<dyn Write + Send>,
}

impl Console {
    pub fn new(out: Box<dyn Write + Send>) -> Console {
        Console { out }
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
}
