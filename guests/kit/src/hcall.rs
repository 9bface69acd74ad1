//! Hypercalls: the Guest's requests of the Host.
//!
//! A hypercall is `int $0x1F` with the call number in %eax and arguments in %edx, %ebx
//! and %ecx; the Host answers in %eax and leaves the other registers alone. Cheap calls
//! whose answer the Guest does not wait for can instead be queued in the `lguest_data`
//! ring ([`async_hcall`]); the Host runs queued calls, in order, before every synchronous
//! one, so the Guest never sees them out of order.

use crate::{irq, lguest_data};
use abi::{HCALL_DONE, HCALL_PENDING, Hcall, LHCALL_RING_SIZE};
use core::arch::asm;
use core::sync::atomic::{AtomicUsize, Ordering, compiler_fence};

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
    // No interrupt handler may claim the same slot between our check and our write.
    let flags = irq::save_fl();
    irq::disable();
    let next = NEXT_CALL.load(Ordering::Relaxed);
    let data = lguest_data::as_ptr();
    // SAFETY: `data` is the lguest_data static and `next` < LHCALL_RING_SIZE; the slot's
    // registers are the Guest's until it marks the slot pending, which comes last.
    unsafe {
        let status = &raw mut (*data).hcall_status[next];
        if status.read_volatile() != HCALL_DONE {
            // The Host has not got round to this slot yet: the ring is full.
            hcall(call, arg1, arg2, arg3);
        } else {
            let slot = &raw mut (*data).hcalls[next];
            (&raw mut (*slot).eax).write_volatile(call as u32);
            (&raw mut (*slot).edx).write_volatile(arg1);
            (&raw mut (*slot).ebx).write_volatile(arg2);
            (&raw mut (*slot).ecx).write_volatile(arg3);
            // The registers must be in place before the Host can see the slot pending.
            compiler_fence(Ordering::Release);
            status.write_volatile(HCALL_PENDING);
            NEXT_CALL.store((next + 1) % LHCALL_RING_SIZE, Ordering::Relaxed);
        }
    }
    irq::restore_fl(flags);
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
