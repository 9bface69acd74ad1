//! Everything `unsafe` the translator needs, and nothing else: the memory generated code
//! lives in, the call into it, and the four functions generated code calls back.
//!
//! **Code memory is never writable and executable at once.** One `memfd` is mapped twice:
//! a read-write view the translator writes and patches through, and a read-execute view
//! the processor runs. Neither mapping ever changes protection, so there is no window in
//! which a page is both (and no `mprotect` per block). The arena has a fixed size chosen
//! at creation; the translator flushes it when it is full, so a Guest cannot make the
//! Host's code cache grow. If the kernel refuses (no `memfd_create`, a sandbox forbidding
//! executable mappings), [`CodeMemory::new`] says so and the CPU keeps interpreting.
//!
//! x86 keeps instruction fetch coherent with stores, including stores through another
//! virtual mapping of the same page, for code that is reached only after the store (a
//! call or jump into it) — which is always the case here: code is written or patched only
//! by the dispatcher, between two entries into generated code, on the one thread that
//! runs it.

use super::Translation;
use crate::exec::CodeCache;
use crate::ops::Op;
use crate::state::State;
use std::ptr::NonNull;

/// The arena generated code is written to (read-write view) and run from (read-execute
/// view).
pub(crate) struct CodeMemory {
    rw: NonNull<u8>,
    rx: NonNull<u8>,
    size: usize,
}

impl CodeMemory {
    /// Map `size` bytes (a multiple of the page size) twice. `None` if the host forbids it.
    pub(crate) fn new(size: usize) -> Option<CodeMemory> {
        // SAFETY: memfd_create takes a NUL-terminated name and flags, and returns a new
        // descriptor or -1; nothing else is touched.
        let fd = unsafe { libc::memfd_create(c"lguest-jit".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        let map = |prot: libc::c_int| -> Option<NonNull<u8>> {
            // SAFETY: a fresh shared mapping of our own descriptor at an address the kernel
            // picks; it aliases no Rust object.
            let p = unsafe { libc::mmap(std::ptr::null_mut(), size, prot, libc::MAP_SHARED, fd, 0) };
            if p == libc::MAP_FAILED { None } else { NonNull::new(p.cast::<u8>()) }
        };
        // SAFETY: ftruncate sizes the descriptor we just created.
        let sized = unsafe { libc::ftruncate(fd, size as libc::off_t) } == 0;
        let rw = if sized { map(libc::PROT_READ | libc::PROT_WRITE) } else { None };
        let rx = rw.and_then(|_| map(libc::PROT_READ | libc::PROT_EXEC));
        // SAFETY: the mappings keep the memory alive; the descriptor is no longer needed.
        unsafe { libc::close(fd) };
        match (rw, rx) {
            (Some(rw), Some(rx)) => Some(CodeMemory { rw, rx, size }),
            (rw, _) => {
                if let Some(rw) = rw {
                    // SAFETY: unmapping the mapping made above, which nothing else uses.
                    unsafe { libc::munmap(rw.as_ptr().cast(), size) };
                }
                None
            }
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The address at which the byte at `offset` executes.
    pub(crate) fn exec_addr(&self, offset: usize) -> usize {
        self.rx.as_ptr() as usize + offset
    }

    /// Copy `bytes` to `offset` through the writable view. (The mapped bytes are no Rust
    /// object, so a shared reference to the arena may write them: the dispatcher does
    /// between entries, and the revalidation callback does to a block's stamp while the
    /// code it returns to is not running.)
    pub(crate) fn write(&self, offset: usize, bytes: &[u8]) {
        assert!(
            offset.checked_add(bytes.len()).is_some_and(|end| end <= self.size),
            "code write out of the arena"
        );
        // SAFETY: the range was just checked to lie inside the read-write mapping, which is
        // ours alone (no Rust reference points into it); the one thread that runs the code
        // writes it, never while the bytes written are being executed.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.rw.as_ptr().add(offset), bytes.len()) };
    }

    /// Run generated code at `offset` with the CPU state `st`: returns the exit word the
    /// code leaves in RAX.
    ///
    /// `offset` must be the entry of the arena's runtime (see `emit::Runtime`), and `code`
    /// the executable address of a block head it jumps to.
    pub(crate) fn enter(&self, entry: usize, code: usize, st: &mut State) -> u64 {
        assert!(entry < self.size);
        // SAFETY: `entry` is the runtime's entry sequence, which the translator wrote for
        // this ABI: it saves the callee-saved registers, keeps the stack aligned, and returns
        // with them restored. The code it reaches accesses only `st` (through the pointer
        // passed here, which is exclusively borrowed for the call), guest RAM and the TLB
        // through pointers `st.jit` holds (set by the dispatcher just before, and valid for
        // the call since the Host cannot reach `st` while the CPU runs), and the translator's
        // own tables, whose addresses are fixed for the lifetime of the arena's contents.
        // Every guest-RAM access it makes is inside RAM, because it only uses TLB entries,
        // which are filled for pages inside RAM.
        unsafe {
            let f: extern "sysv64" fn(usize, *mut State) -> u64 = std::mem::transmute(self.exec_addr(entry));
            f(code, st)
        }
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        // SAFETY: both mappings were made by `new` with this size and are used by nothing
        // else once the arena is dropped.
        unsafe {
            libc::munmap(self.rw.as_ptr().cast(), self.size);
            libc::munmap(self.rx.as_ptr().cast(), self.size);
        }
    }
}

/// Called by generated code to run one instruction with its interpreter handler (see
/// `super::helpers::run_op`): `st` is the State generated code runs on, `op` points into
/// the translator's op table.
pub(crate) extern "sysv64" fn run_op(st: *mut State, op: *const Op, block_len: u32) -> u64 {
    // SAFETY: generated code passes the State pointer it was entered with (exclusively
    // borrowed by `CodeMemory::enter` for the whole call), having written every guest
    // register back to it, and `op`, an entry of the translator's op table, which is never
    // moved or freed while code referring to it can run (the table is cleared only
    // together with the arena).
    let (st, op) = unsafe { (&mut *st, &*op) };
    super::helpers::run_op(st, op, block_len)
}

/// Called by a block head whose stamp is stale, to revalidate translation `id` in place.
pub(crate) extern "sysv64" fn revalidate(st: *mut State, id: u32) -> u64 {
    // SAFETY: `st` as for `run_op`. The three pointers in `st.jit` were set by
    // `Jit::execute` from its exclusive borrows of the translations table and the block
    // cache and a shared one of the code memory, none of which it uses until the generated
    // code returns; nothing else refers to them meanwhile (the table and the cache are
    // not touched by `Jit::execute` during the call, the code memory is only shared).
    let (st, translations, cache, code) = unsafe {
        let st = &mut *st;
        let t = &mut *(st.jit.translations as *mut Vec<Translation>);
        let c = &mut *(st.jit.cache as *mut CodeCache);
        let m = &*(st.jit.code as *const CodeMemory);
        (st, t, c, m)
    };
    super::helpers::revalidate(st, translations, cache, code, id)
}

/// Called by generated code to evaluate condition `cc` from the lazy flags.
pub(crate) extern "sysv64" fn condition(st: *const State, cc: u32) -> u64 {
    // SAFETY: as for `run_op`; this only reads the flags.
    let st = unsafe { &*st };
    st.cc.cond(cc as u8 & 15) as u64
}

/// Called by generated code for the carry flag of the lazy flags.
pub(crate) extern "sysv64" fn carry(st: *const State) -> u64 {
    // SAFETY: as for `run_op`; this only reads the flags.
    let st = unsafe { &*st };
    st.cc.cf() as u64
}
