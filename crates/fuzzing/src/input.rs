//! Fuzzer bytes read as a stream of small decisions.
//!
//! Every read succeeds: past the end of the input it yields zeros, so any byte string is a
//! valid input and a shorter one is a prefix of the same run, which is what lets the
//! fuzzer's mutations (and its minimiser) work well.

/// A cursor over the fuzzer's bytes.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 != 0
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        if n <= 256 { u32::from(self.u8()) % n } else { self.u32() % n }
    }

    /// Up to `max` bytes: a length byte, then that many bytes (fewer at the end of input).
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let want = (self.u8() as usize).min(max);
        let n = want.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// A 32-bit value biased towards the edges where range checks go wrong.
    pub fn edgy(&mut self) -> u32 {
        const EDGES: [u32; 16] = [
            0,
            1,
            2,
            0xFFF,
            0x1000,
            0x7FFF_FFFF,
            0x8000_0000,
            0xBFFF_FFFF,
            0xC000_0000,
            0xFFBF_FFFF,
            0xFFC0_0000,
            0xFFFF_F000,
            0xFFFF_FFF0,
            0xFFFF_FFFC,
            0xFFFF_FFFF,
            0xFFFF_FFFE,
        ];
        match self.u8() % 4 {
            0 => EDGES[(self.u8() % 16) as usize],
            1 => EDGES[(self.u8() % 16) as usize].wrapping_add(u32::from(self.u8())).wrapping_sub(128),
            2 => u32::from(self.u8()),
            _ => self.u32(),
        }
    }
}
