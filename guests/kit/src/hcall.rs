//! Hypercalls: the Guest's requests of the Host.
//!
//! A hypercall is `int $0x1F` with the call number in %eax and arguments in %edx, %ebx
//! and %ecx; the Host answers in %eax and leaves the other registers alone. Cheap calls
//! whose answer the Guest does not wait for can instead be queued in the `lguest_data`
//! ring ([`async_hcall`]); the Host runs queued calls, in order, before every synchronous
//! one, so the Guest never sees them out of order.

use crate::lguest_data;
use abi::{HCALL_DONE, HCALL_PENDING, Hcall, LHCALL_RING_SIZE};
use core::arch::asm;
use core::sync::atomic::AtomicUsize;

/// Make hypercall `call` and return what the Host put in %eax.
///
/// # Safety
/// Some calls change what the Guest's memory, stack or traps are (`NEW_PGTABLE`,
/// `SET_PTE`, `SET_STACK`, `LOAD_IDT_ENTRY`, `BIND_DMA`...): the caller must make what it
/// asks for consistent with the Rust code that runs afterwards, and pass addresses of the
/// kind each call takes (guest-physical for memory the Host reads, see `abi`).
pub unsafe fn hcall(call: Hcall, arg1: u32, arg2: u32, arg3: u32) -> u32 {
    let ret: u32;
    // SAFETY: the trap goes to the Host, which runs the call and comes back to the next
    // instruction with only %eax changed; it may read and write guest memory (hence no
    // `nomem`), and it pushes nothing on our stack.
    unsafe {
        asm!(
            "int $0x1f",
            inlateout("eax") call as u32 => ret,
            in("edx") arg1,
            in("ebx") arg2,
            in("ecx") arg3,
            options(att_syntax, nostack),
        );
    }
    ret
}

/// The ring slot the next [`async_hcall`] fills.
static NEXT_CALL: AtomicUsize = AtomicUsize::new(0);

/// Queue hypercall `call` in the async ring; the Host runs it before the next synchronous
/// hypercall (or at [`flush_async`]). When the ring is full, the call is made
/// synchronously instead, which also empties the ring.
///
/// # Safety
/// As for [`hcall`]; and since the call runs later, any memory it names must stay as it
/// is until then.
pub unsafe fn async_hcall(call: Hcall, arg1: u32, arg2: u32, arg3: u32) {
    // This is on the path of every page-table update a kernel batches, so it is written
    // out by hand, 16 instructions when the ring has room: the interrupt flag saved,
    // cleared and restored inline (the stores of `irq::save_fl`, `irq::disable` and
    // `irq::restore_fl`); the status byte tested in place; the registers already where a
    // synchronous call wants them, should the ring be full (that path is out of line).
    //
    // SAFETY: the asm touches only lguest_data and NEXT_CALL, which is always below
    // LHCALL_RING_SIZE, so both indexes stay inside the ring. Interrupts are off (in
    // lguest_data.irq_enabled) from before the slot is claimed until NEXT_CALL moves on,
    // so no handler claims the same slot; the registers are stored before the status
    // byte that makes the slot pending. A full ring makes the call synchronously, which
    // drains the ring first; the Host then changes only %eax.
    unsafe {
        asm!(
            "movl {ld}+{irq_enabled}, {flags}",
            "movl $0, {ld}+{irq_enabled}",
            "movl {next_call}, {n}",
            "cmpb ${done}, {ld}+{status}({n})",
            "jne 2f",
            "shll $4, {n}",
            "movl %eax, {ld}+{hcalls}({n})",
            "movl %edx, {ld}+{hcalls}+4({n})",
            "movl %ebx, {ld}+{hcalls}+8({n})",
            "movl %ecx, {ld}+{hcalls}+12({n})",
            "shrl $4, {n}",
            "movb ${pending}, {ld}+{status}({n})",
            "incl {n}",
            "andl ${mask}, {n}",
            "movl {n}, {next_call}",
            "3:",
            "movl {flags}, {ld}+{irq_enabled}",
            ".pushsection .text.unlikely.lguest_async_hcall, \"ax\"",
            "2:",
            "int $0x1f",
            "jmp 3b",
            ".popsection",
            ld = sym lguest_data::LGUEST_DATA,
            next_call = sym NEXT_CALL,
            irq_enabled = const abi::OFF_IRQ_ENABLED,
            status = const abi::OFF_HCALL_STATUS,
            hcalls = const abi::OFF_HCALLS,
            done = const HCALL_DONE,
            pending = const HCALL_PENDING,
            mask = const LHCALL_RING_SIZE - 1,
            flags = out(reg) _,
            n = out(reg) _,
            inout("eax") call as u32 => _,
            in("edx") arg1,
            in("ebx") arg2,
            in("ecx") arg3,
            options(att_syntax, nostack),
        );
    }
}

/// `LHCALL_FLUSH_ASYNC`: have the Host run every queued async hypercall now.
pub fn flush_async() {
    // SAFETY: FLUSH_ASYNC only runs calls the Guest already queued.
    unsafe { hcall(Hcall::FlushAsync, 0, 0, 0) };
}

/// `LHCALL_HALT`: sleep until an interrupt is pending. With no interrupt source set up
/// (no clock event, no bound DMA) nothing can wake the Guest, and the Host ends it.
pub fn halt() {
    // SAFETY: HALT changes no Guest state.
    unsafe { hcall(Hcall::Halt, 0, 0, 0) };
}

/// `LHCALL_GET_WALLCLOCK`: the Host's time of day, in seconds since the Unix epoch.
pub fn get_wallclock() -> u32 {
    // SAFETY: GET_WALLCLOCK only returns a value.
    unsafe { hcall(Hcall::GetWallclock, 0, 0, 0) }
}

/// The time-stamp counter, which ticks at `lguest_data::tsc_khz()` kHz.
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc reads a counter into %edx:%eax and touches nothing else.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(att_syntax, nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}
