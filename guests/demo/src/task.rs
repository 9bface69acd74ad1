//! Tasks: a user program running in an address space of its own, and what the kernel
//! keeps about it — its page directory, its registers while it is not running, its state
//! and its counters.
//!
//! A task's address space is the kernel's (every page directory shares the kernel's page
//! tables above PAGE_OFFSET, supervisor-only, so ring 3 cannot touch them) plus:
//!
//! ```text
//!   0x00400000  the program (elf.rs): code and rodata read-only, data and bss writable
//!   ...         nothing: touching it kills the task
//!   STACK_BOTTOM .. STACK_TOP (= PAGE_OFFSET)
//!               the stack, mapped a page at a time when first touched (fault.rs)
//! ```
//!
//! A new task's page tables are built in lazy MMU mode (`paging::lazy_mmu`): the SET_PMD
//! and SET_PTE announcements are queued in the async hypercall ring and the Host gets them
//! all in one `LHCALL_FLUSH_ASYNC`, as Linux batched them when it built a process.

use crate::elf::{self, Image};
use crate::user::Program;
use guest::abi::{PAGE_OFFSET, PAGE_SIZE};
use guest::page_alloc::{alloc_page, free_page};
use guest::paging::{self, PageDir, pte};
use guest::traps::TrapFrame;
use guest::usermode;

/// The top of every task's stack.
pub const STACK_TOP: u32 = PAGE_OFFSET;
/// The most stack a task may have: 64 KiB.
pub const STACK_PAGES: u32 = 16;
/// The lowest address the stack may grow down to.
pub const STACK_BOTTOM: u32 = STACK_TOP - STACK_PAGES * PAGE_SIZE;

/// A process id: 1 for the first task.
pub type Pid = u32;

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for the CPU (or on it).
    Runnable,
    /// Asleep until the clock reaches this tick (`sched::ticks`).
    Sleeping { until: u32 },
    /// In `read`, waiting for console input (or its end).
    Reading,
    /// Finished; the scheduler will say so and give its memory back.
    Ended(End),
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// It called `exit(status)`.
    Exited(u32),
    /// The kernel killed it for a fault it could not fix.
    Killed(Fault),
}

/// A fault a task took that the kernel did not fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub vector: u32,
    pub error_code: u32,
    /// The address a page fault was for (`lguest_data.cr2`); 0 for other faults.
    pub addr: u32,
    pub eip: u32,
}

/// What a task did, for the summary.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// Times the clock took the CPU away from it while another task was waiting.
    pub preempted: u32,
    /// System calls it made.
    pub syscalls: u32,
    /// Page faults the kernel fixed for it (stack growth).
    pub page_faults: u32,
}

/// One task.
pub struct Task {
    pub pid: Pid,
    pub name: &'static str,
    pub pgdir: PageDir,
    /// Its user registers while it is off the CPU: where it will carry on.
    pub frame: TrapFrame,
    pub state: State,
    pub counters: Counters,
    /// Where its program is, so its pages can be given back.
    image: Image,
    /// The lowest stack page mapped so far (STACK_TOP: none yet).
    stack_low: u32,
}

impl Task {
    /// A task that will run `program` from its entry point, in a new address space.
    pub fn new(pid: Pid, program: &Program) -> Result<Task, &'static str> {
        let pgdir = PageDir::new();
        // Lazy MMU mode: queue the page-table announcements, flush them once.
        let image = paging::lazy_mmu(|| elf::load(pgdir, program.elf));
        let image = match image {
            Ok(image) => image,
            Err(e) => {
                // Nothing was mapped: only the directory to give back.
                pgdir.free();
                return Err(e);
            }
        };
        Ok(Task {
            pid,
            name: program.name,
            pgdir,
            frame: usermode::user_frame(image.entry, STACK_TOP),
            state: State::Runnable,
            counters: Counters::default(),
            image,
            stack_low: STACK_TOP,
        })
    }

    /// Pages of program the task has.
    pub fn program_pages(&self) -> u32 {
        (self.image.end - self.image.start) / PAGE_SIZE
    }

    /// Pages of stack the task has.
    pub fn stack_pages(&self) -> u32 {
        (STACK_TOP - self.stack_low) / PAGE_SIZE
    }

    /// A page fault at `addr` with `error_code`: if it is the task's first touch of a
    /// stack page, map one and say so (the task then retries the access); otherwise it is
    /// a fault the kernel cannot fix. Called from the task's trap, so its address space
    /// is the current one, and the mapping is announced at once.
    pub fn grow_stack(&mut self, addr: u32, error_code: u32) -> bool {
        const PRESENT: u32 = 1;
        if error_code & PRESENT != 0 || !(STACK_BOTTOM..STACK_TOP).contains(&addr) {
            return false;
        }
        let page = addr & !(PAGE_SIZE - 1);
        self.pgdir.map(page, alloc_page(), pte::US | pte::RW);
        self.stack_low = self.stack_low.min(page);
        self.counters.page_faults += 1;
        true
    }

    /// Give back everything the task had. Its address space must not be the current one.
    pub fn release(&self) {
        Task::free_address_space(self.pgdir, self.image, self.stack_low);
    }

    fn free_address_space(pgdir: PageDir, image: Image, stack_low: u32) {
        // Taking the page tables apart is batched like building them.
        // The pages go first, read from the page tables; `free` then drops the tables
        // and tells the Host, so nothing maps the pages any more.
        paging::lazy_mmu(|| {
            for range in [image.start..image.end, stack_low..STACK_TOP] {
                for page in range.step_by(PAGE_SIZE as usize) {
                    let entry = pgdir.entry(page);
                    if entry & pte::P != 0 {
                        free_page(entry & pte::FRAME);
                    }
                }
            }
            pgdir.free();
        });
    }
}
