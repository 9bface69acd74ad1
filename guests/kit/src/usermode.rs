//! User mode: ring 3, and the kernel stack traps from it arrive on.
//!
//! The Host starts the Guest with flat ring-3 segments in its GDT ([`USER_CS`],
//! [`USER_DS`]). A kernel enters ring 3 the way hardware leaves a trap: it builds an
//! `iret` frame (SS:ESP, EFLAGS, CS:EIP) and returns through it — here through the same
//! path a trap takes back ([`crate::traps`]), which also turns interrupts on if the
//! frame's EFLAGS says so. From then on every trap, interrupt and system call from user
//! mode arrives on the kernel stack named by `LHCALL_SET_STACK` ([`set_stack`]), as on
//! hardware it would on the TSS's `esp0`.
//!
//! User code can only touch pages mapped with the user bit ([`crate::paging`]); the
//! Launcher's boot page tables map everything supervisor-only.
//!
//! Two ways in:
//! - [`enter`]: a one-way trip, for kernels that schedule user tasks from their trap
//!   handlers (they set the kernel stack themselves);
//! - [`run`]: run user code until a trap handler calls [`exit`], then carry on in the
//!   kernel where `run` was called, like a function call into user mode. Tests, benchmarks
//!   and small kernels use this.

use crate::hcall::hcall;
use crate::traps::{TrapFrame, trap_return_address};
use crate::{crash, irq};
use abi::segments::{LGUEST_KERNEL_DS, USER_CS, USER_DS};
use abi::{Hcall, X86_EFLAGS_IF};

pub use abi::segments::{USER_CS as CS, USER_DS as DS};

/// EFLAGS bit 1, always set.
const EFLAGS_FIXED: u32 = 0x2;

/// `LHCALL_SET_STACK`: traps from user mode will be delivered on the kernel data segment
/// with the stack pointer at `esp`; the `pages` (1 or 2) pages below it must be mapped
/// writable, and stay so — the Host checks now so that delivering a trap never faults.
pub fn set_stack(esp: u32, pages: u32) {
    // SAFETY: from now on the Host pushes user trap frames below `esp`, which the caller
    // gives for that purpose.
    unsafe { hcall(Hcall::SetStack, u32::from(LGUEST_KERNEL_DS), esp, pages) };
}

/// The frame that starts user code at `eip` with stack `esp`, interrupts on and every
/// general register zero.
pub fn user_frame(eip: u32, esp: u32) -> TrapFrame {
    let ds = u32::from(USER_DS);
    TrapFrame {
        ds,
        es: ds,
        fs: ds,
        gs: ds,
        eip,
        cs: u32::from(USER_CS),
        eflags: X86_EFLAGS_IF | EFLAGS_FIXED,
        esp,
        ss: ds,
        ..TrapFrame::default()
    }
}

/// Leave the kernel for user mode with the registers in `frame` (see [`user_frame`]).
/// Traps from there arrive on the stack set with [`set_stack`], which the caller must
/// have set.
///
/// # Safety
/// `frame` must describe user-mode code and a stack its page tables map for ring 3, and
/// the kernel must have handlers for what that code will do.
pub unsafe fn enter(frame: &TrapFrame) -> ! {
    // The frame becomes the stack; an interrupt now would push below it.
    irq::disable();
    // SAFETY: the trap return path pops the frame into the registers and irets to ring
    // 3; we never come back to this stack, and nothing is pushed below the frame with
    // interrupts off.
    unsafe {
        core::arch::asm!(
            "movl {frame}, %esp",
            "jmp *{ret}",
            frame = in(reg) frame as *const TrapFrame,
            ret = in(reg) trap_return_address(),
            options(att_syntax, noreturn),
        )
    }
}

/// Run user code from `frame` (see [`user_frame`]) until a trap handler calls [`exit`],
/// and return the value it passed. Traps from user mode are delivered on the current
/// kernel stack, just below this call (`run` makes the `SET_STACK` call itself); the
/// interrupt flag is as it was when `run` returns. Calls to `run` do not nest.
pub fn run(frame: &TrapFrame) -> u32 {
    let flags = irq::save_fl();
    irq::disable();
    // SAFETY: lguest_run_user saves the callee-saved registers and the stack pointer,
    // enters ring 3, and comes back here only through lguest_exit_user, which restores
    // them: to this function it is an ordinary call.
    let value = unsafe { lguest_run_user(frame) };
    irq::restore_fl(flags);
    value
}

/// Abandon user mode and make the pending [`run`] return `value`. For trap handlers of
/// traps from user mode; the handler's own frames are abandoned, so nothing on them may
/// need dropping.
pub fn exit(value: u32) -> ! {
    // SAFETY: a run is pending (checked below), so the saved stack pointer names its
    // frame, which is above us on this same stack.
    unsafe {
        if (&raw const lguest_user_return_esp).read_volatile() == 0 {
            crash("usermode::exit with no usermode::run pending");
        }
        lguest_exit_user(value)
    }
}

unsafe extern "C" {
    fn lguest_run_user(frame: *const TrapFrame) -> u32;
    fn lguest_exit_user(value: u32) -> !;
    static mut lguest_user_return_esp: u32;
}

// lguest_run_user(frame): save the callee-saved registers and %esp, point SET_STACK just
// below them (one page), copy the frame there and leave through the trap return path.
// lguest_exit_user(value): back to the saved %esp, pop the registers, return value.
core::arch::global_asm!(
    r#"
    .section .text.lguest_usermode, "ax"
    .global lguest_run_user
lguest_run_user:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl 20(%esp), %esi
    movl %esp, lguest_user_return_esp
    movl ${set_stack}, %eax
    movl ${kernel_ds}, %edx
    movl %esp, %ebx
    movl $1, %ecx
    int $0x1f
    subl ${size}, %esp
    movl %esp, %edi
    movl ${size}, %ecx
    cld
    rep movsb
    jmp lguest_trap_return

    .global lguest_exit_user
lguest_exit_user:
    movl 4(%esp), %eax
    movl lguest_user_return_esp, %esp
    movl $0, lguest_user_return_esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

    .section .bss.lguest_usermode, "aw", @nobits
    .balign 4
    .global lguest_user_return_esp
lguest_user_return_esp:
    .long 0
    "#,
    set_stack = const Hcall::SetStack as u32,
    kernel_ds = const LGUEST_KERNEL_DS,
    size = const core::mem::size_of::<TrapFrame>(),
    options(att_syntax)
);
