//! hostile_stack: stacks the Host must push trap frames on, made hostile. SET_STACK (the
//! stack for traps from user mode) on unmapped or read-only memory, or naming a segment
//! the GDT does not have; that stack made read-only after SET_STACK accepted it; and a
//! kernel stack at the very top of the segment limit, just below the reserved region.
//!
//! Variants:
//! - `set_stack_unmapped`, `set_stack_read_only`: refused at SET_STACK (Sudden Death);
//! - `set_stack_bad_segment`: accepted (only the RPL is checked then), Sudden Death at
//!   the first trap from user mode, which has no usable stack to go to;
//! - `kernel_stack_made_read_only`: SET_PTE makes the accepted stack read-only; the next
//!   trap from user mode cannot push its frame (Sudden Death, not a fault in the Host);
//! - `stack_at_segment_top`: %esp at 0xffc00000 with the page below mapped: pushes and a
//!   trap frame land just under the limit, and the Guest carries on;
//! - `stack_past_segment_top`: %esp above the limit: the push is #SS, whose frame cannot
//!   go anywhere (Sudden Death).
#![no_std]
#![no_main]

use conform::{UserSpace, check, check_eq, ok, probe, record_traps, say, user_prog};
use guest::abi::segments::LGUEST_KERNEL_DS;
use guest::abi::{Hcall, PAGE_OFFSET, RESERVED_START};
use guest::idt::{Gate, SYSCALL_VECTOR};
use guest::page_alloc::alloc_page;
use guest::paging::{self, pte};
use guest::{BootInfo, Global, phys_to_virt, traps, usermode, virt_to_phys};
use hostile::raw_hcall;

guest::entry!(kmain);

/// A user address nothing maps, and one for a read-only page.
const UNMAPPED: u32 = 0xA000_0000;
const READ_ONLY: u32 = 0xA040_0000;

user_prog!(SYSCALL, "1: int $0x80", "2: ud2");
// Push onto a stack whose top is the segment limit (+1), trap there, pop; %eax gets the
// value pushed last. (Two words, because a handler given a kernel frame reads a whole
// `TrapFrame`, whose last two words are only pushed for traps from user mode.)
probe!(
    TOP_OF_LIMIT,
    "movl %esp, %ecx",
    "movl $0xffc00000, %esp",
    "pushl $0x1234",
    "pushl $0x5678",
    "1: int3",
    "2: popl %eax",
    "popl %edx",
    "movl %ecx, %esp"
);
probe!(PAST_LIMIT, "movl %esp, %ecx", "movl $0xffc00008, %esp", "1: pushl $0", "2: movl %ecx, %esp");

#[repr(C, align(4096))]
struct Page([u8; 4096]);
static KSTACK: Global<Page> = Global::new(Page([0; 4096]));

fn kmain(_boot: &'static BootInfo) -> ! {
    conform::run(
        "hostile_stack",
        "set_stack_unmapped",
        &[
            ("set_stack_unmapped", set_stack_unmapped),
            ("set_stack_read_only", set_stack_read_only),
            ("set_stack_bad_segment", set_stack_bad_segment),
            ("kernel_stack_made_read_only", kernel_stack_made_read_only),
            ("stack_at_segment_top", stack_at_segment_top),
            ("stack_past_segment_top", stack_past_segment_top),
        ],
    )
}

fn set_stack(ss: u32, esp: u32) {
    // SAFETY: user mode runs only where the variant says, with this stack in mind.
    unsafe { raw_hcall(Hcall::SetStack as u32, ss, esp, 1) };
}

fn set_stack_unmapped() {
    say!("SET_STACK on unmapped {UNMAPPED:#x}");
    set_stack(u32::from(LGUEST_KERNEL_DS), UNMAPPED + 0x1000);
    conform::fail(format_args!("the Host accepted an unmapped stack"));
}

fn set_stack_read_only() {
    paging::init().map(READ_ONLY, alloc_page(), pte::A | pte::D);
    say!("SET_STACK on read-only {READ_ONLY:#x}");
    set_stack(u32::from(LGUEST_KERNEL_DS), READ_ONLY + 0x1000);
    conform::fail(format_args!("the Host accepted a read-only stack"));
}

/// Enter user mode to make a system call, after SET_STACK was made with `ss`, `esp`.
fn syscall_from_user() -> ! {
    traps::set_handler(SYSCALL_VECTOR, Gate::SYSCALL, |_| {
        conform::fail(format_args!("the system call arrived"));
    });
    say!("a system call from user mode");
    // SAFETY: the user program and its stack are mapped by UserSpace; the system call
    // handler never returns to it.
    unsafe { usermode::enter(&usermode::user_frame(conform::USER_CODE, conform::USER_STACK_TOP)) }
}

fn set_stack_bad_segment() {
    paging::init();
    let _space = UserSpace::new(&SYSCALL);
    let top = virt_to_phys(KSTACK.get()) + PAGE_OFFSET + 4096;
    say!("SET_STACK with selector 0xfff9, beyond the GDT");
    set_stack(0xFFF9, top);
    syscall_from_user();
}

fn kernel_stack_made_read_only() {
    paging::init();
    let _space = UserSpace::new(&SYSCALL);
    let stack = KSTACK.get() as u32;
    set_stack(u32::from(LGUEST_KERNEL_DS), stack + 4096);
    say!("SET_STACK accepted {stack:#x}; now SET_PTE makes it read-only");
    paging::kernel().map(stack, virt_to_phys(KSTACK.get()), pte::A | pte::D);
    syscall_from_user();
}

/// Map the page just below the reserved region (its own page table, announced).
fn map_top_page() {
    let dir = paging::init();
    let table = alloc_page();
    let index = (RESERVED_START >> 22) - 1;
    // SAFETY: a fresh table, and a directory entry the kit does not use.
    unsafe {
        let t = phys_to_virt(table).cast::<u32>();
        t.add(1023).write_volatile(alloc_page() | pte::P | pte::RW | pte::A | pte::D);
        phys_to_virt(dir.0)
            .cast::<u32>()
            .add(index as usize)
            .write_volatile(table | pte::P | pte::RW | pte::A);
        raw_hcall(Hcall::SetPmd as u32, dir.0, index, 0);
    }
}

fn stack_at_segment_top() {
    map_top_page();
    record_traps(Gate::TRAP);
    conform::expect_at(TOP_OF_LIMIT.resume);
    let popped = TOP_OF_LIMIT.call();
    let seen = conform::seen();
    check!(seen.len() == 1, "expected one trap, saw {}", seen.len());
    check_eq!(seen[0].frame.vector, 3, "vector of the int3");
    let frame_top = seen[0].frame_at + traps::KERNEL_FRAME_SIZE;
    check_eq!(frame_top, RESERVED_START - 8, "top of the trap frame (below the two pushed words)");
    check_eq!(popped, 0x5678, "the word popped after the trap");
    ok!("a stack topped at the segment limit takes pushes and a trap frame just below {RESERVED_START:#x}");
}

fn stack_past_segment_top() {
    map_top_page();
    record_traps(Gate::TRAP);
    say!("a push with %esp at 0xffc00008, past the segment limit");
    PAST_LIMIT.call();
    conform::fail(format_args!("a push past the segment limit went through"));
}
