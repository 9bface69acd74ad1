//! Traps: the kernel's entry stubs, its trap frame, the handlers it registers, and the
//! way back out (`lguest_iret`).
//!
//! The Host reflects every exception, software interrupt and virtual IRQ to the gate the
//! Guest loaded for its vector ([`crate::idt`]), pushing what the hardware would:
//! EFLAGS, CS and EIP (and an error code for some exceptions) on the current stack from
//! the kernel, or SS, ESP, EFLAGS, CS, EIP on the `SET_STACK` stack from user mode
//! ([`crate::usermode`]). The kit has one small stub per vector (256 of them, 16 bytes
//! apart) that pushes a zero where the CPU pushed no error code and then the vector
//! number, so every frame has the same shape; the common code saves the segment and
//! general registers on top, making a [`TrapFrame`], and calls the Rust handler the
//! kernel registered with [`set_handler`]. The handler may change the frame (to skip an
//! instruction, return a system-call result, or switch to another task's registers);
//! whatever the frame says when it returns is what runs next.
//!
//! The way out is 2.6.23's `lguest_iret`. `iret` at CPL 1 cannot change EFLAGS.IF, so
//! the Guest's "interrupt flag" — `lguest_data.irq_enabled` — must be put back from the
//! saved EFLAGS by hand. Between that store and the `iret` an interrupt would push a new
//! frame on top of the one about to be popped, and a steady stream of them could grow the
//! stack without bound; so those instructions are the *no-interrupt window*,
//! `[lguest_noirq_start, lguest_noirq_end)`, which the kit registers in `lguest_data` at
//! boot and inside which the Host delivers nothing.

use crate::idt::{self, Gate};
use crate::{Global, crash_fmt, irq, lguest_data};
use abi::X86_EFLAGS_IF;
use abi::segments::LGUEST_KERNEL_DS;

/// Everything a trap saved, lowest address first: what the common entry code pushed
/// (general registers in `pushal` order, then the data segment registers), what the stub
/// pushed (vector, error code), and what the Host pushed as the CPU would have.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapFrame {
    pub edi: u32,
    pub esi: u32,
    pub ebp: u32,
    /// The kernel %esp `pushal` saw; `popal` ignores it. Not the interrupted stack
    /// pointer: that is just past this frame for a trap from the kernel, or [`Self::esp`]
    /// from user mode.
    pub kernel_esp: u32,
    pub ebx: u32,
    pub edx: u32,
    pub ecx: u32,
    pub eax: u32,
    pub ds: u32,
    pub es: u32,
    pub fs: u32,
    pub gs: u32,
    /// Which vector this is (0-31 exceptions, 32 + n IRQ n, or an `int $n`).
    pub vector: u32,
    /// The CPU's error code, or 0 for vectors that have none.
    pub error_code: u32,
    pub eip: u32,
    pub cs: u32,
    /// IF here is `lguest_data.irq_enabled` as it was when the trap came.
    pub eflags: u32,
    /// The user stack pointer: only there when the trap came from user mode.
    pub esp: u32,
    /// The user stack segment: only there when the trap came from user mode.
    pub ss: u32,
}

impl TrapFrame {
    /// Every field zero.
    pub const ZERO: TrapFrame = TrapFrame {
        edi: 0,
        esi: 0,
        ebp: 0,
        kernel_esp: 0,
        ebx: 0,
        edx: 0,
        ecx: 0,
        eax: 0,
        ds: 0,
        es: 0,
        fs: 0,
        gs: 0,
        vector: 0,
        error_code: 0,
        eip: 0,
        cs: 0,
        eflags: 0,
        esp: 0,
        ss: 0,
    };

    /// Whether the trap interrupted user mode (ring 3) rather than the kernel.
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }

    /// Whether interrupts were enabled where the trap came from.
    pub fn irqs_were_enabled(&self) -> bool {
        self.eflags & X86_EFLAGS_IF != 0
    }
}

/// Bytes of a [`TrapFrame`] for a trap from the kernel (no user SS:ESP).
pub const KERNEL_FRAME_SIZE: u32 = core::mem::size_of::<TrapFrame>() as u32 - 8;

/// A trap handler. It runs on the stack the trap came in on, with interrupts off if the
/// gate was an interrupt gate.
pub type Handler = fn(&mut TrapFrame);

/// The registered handlers, by vector.
static HANDLERS: Global<[Option<Handler>; 256]> = Global::new([None; 256]);

/// Have `handler` run for `vector`, entered through a gate of the given kind.
///
/// For exceptions the gate type decides whether interrupts stay on in the handler; for
/// IRQs (vectors 32-63) use [`Gate::INTERRUPT`], as the Host delivers the next IRQ as
/// soon as `irq_enabled` allows; for system calls [`Gate::SYSCALL`].
pub fn set_handler(vector: u8, gate: Gate, handler: Handler) {
    irq::without_interrupts(|| {
        // SAFETY: interrupts are off and there is one CPU, so nothing else touches the
        // table while we write one entry.
        unsafe { (*HANDLERS.get())[vector as usize] = Some(handler) };
    });
    // SAFETY: the stub saves a full frame and calls the handler just registered.
    unsafe { idt::set_gate(vector, stub_address(vector), gate) };
}

/// Forget the handler for `vector` and remove its gate.
pub fn clear_handler(vector: u8) {
    idt::clear_gate(vector);
    irq::without_interrupts(|| {
        // SAFETY: as in set_handler.
        unsafe { (*HANDLERS.get())[vector as usize] = None };
    });
}

/// Whether a handler is registered for `vector`.
pub fn has_handler(vector: u8) -> bool {
    // SAFETY: entries are written with interrupts off and read here as one word.
    unsafe { (*HANDLERS.get())[vector as usize].is_some() }
}

/// Where the entry stub for `vector` is (what a gate for it should point to).
pub fn stub_address(vector: u8) -> u32 {
    let base = &raw const lguest_trap_stubs as u32;
    base + u32::from(vector) * STUB_SIZE
}

/// The no-interrupt window of `lguest_iret`, as `(noirq_start, noirq_end)`.
pub fn noirq_window() -> (u32, u32) {
    (&raw const lguest_noirq_start as u32, &raw const lguest_noirq_end as u32)
}

/// Where a handler-less return path starts: jumping here with a [`TrapFrame`] at %esp
/// restores it and `iret`s (used to start user mode, `crate::usermode`).
pub(crate) fn trap_return_address() -> u32 {
    &raw const lguest_trap_return as u32
}

/// Bytes between two entry stubs.
const STUB_SIZE: u32 = 16;

unsafe extern "C" {
    static lguest_trap_stubs: u8;
    static lguest_trap_return: u8;
    static lguest_noirq_start: u8;
    static lguest_noirq_end: u8;
}

/// Called by the common entry code with the frame it built.
#[unsafe(no_mangle)]
extern "C" fn lguest_trap_dispatch(frame: &mut TrapFrame) {
    // SAFETY: entries are written with interrupts off and read here as one word.
    let handler = unsafe { (*HANDLERS.get())[frame.vector as usize & 0xFF] };
    match handler {
        Some(h) => h(frame),
        None => crash_fmt(format_args!(
            "trap: vector {:#x} (error code {:#x}) at {:#x}:{:#x} has no handler",
            frame.vector, frame.error_code, frame.cs, frame.eip
        )),
    }
}

// The stubs: vectors 8, 10-14 and 17 come with an error code from the CPU; for all
// others the stub pushes a 0 in its place. Each stub is at most 12 bytes and starts on a
// 16-byte boundary, so the stub for vector v is at lguest_trap_stubs + 16 * v.
//
// The common code: save the data segments and general registers (the TrapFrame), load
// the kernel's data segments (a trap from user mode arrives with the user's), call the
// dispatcher on a 16-byte-aligned stack, then undo it all and leave by lguest_iret.
//
// lguest_iret: the saved EFLAGS is 12 bytes up once %eax is pushed; its IF bit becomes
// irq_enabled again. From the store to the iret is the no-interrupt window. %ss is the
// kernel's here whatever the restored %ds holds, so the store goes through it.
core::arch::global_asm!(
    r#"
    .section .text.lguest_traps, "ax"
    .balign 16
    .global lguest_trap_stubs
lguest_trap_stubs:
    .set vector, 0
    .rept 256
    .balign 16
    .if (vector != 8) && (vector < 10 || vector > 14) && (vector != 17)
    pushl $0
    .endif
    pushl $vector
    jmp lguest_trap_common
    .set vector, vector + 1
    .endr

lguest_trap_common:
    pushl %gs
    pushl %fs
    pushl %es
    pushl %ds
    pushal
    movl ${kernel_ds}, %eax
    movl %eax, %ds
    movl %eax, %es
    cld
    movl %esp, %ebx
    andl $-16, %esp
    subl $12, %esp
    pushl %ebx
    call lguest_trap_dispatch
    movl %ebx, %esp

    .global lguest_trap_return
lguest_trap_return:
    popal
    popl %ds
    popl %es
    popl %fs
    popl %gs
    addl $8, %esp

    .global lguest_iret
lguest_iret:
    pushl %eax
    movl 12(%esp), %eax
    andl ${eflags_if}, %eax
    .global lguest_noirq_start
lguest_noirq_start:
    movl %eax, %ss:{lguest_data}+{irq_enabled}
    popl %eax
    iret
    .global lguest_noirq_end
lguest_noirq_end:
    "#,
    kernel_ds = const LGUEST_KERNEL_DS,
    eflags_if = const X86_EFLAGS_IF,
    lguest_data = sym lguest_data::LGUEST_DATA,
    irq_enabled = const abi::OFF_IRQ_ENABLED,
    options(att_syntax)
);
