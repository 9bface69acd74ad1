//! Maps a virtual page to a guest-physical frame beyond RAM by editing the boot page
//! tables (they are in guest memory), then reads it: Sudden Death, since the Host must
//! never let a Guest reach memory that is not its own.
#![no_std]
#![no_main]

use guest::{BootInfo, Global, phys_to_virt, println, virt_to_phys};

guest::entry!(kmain);

/// The virtual page we map: above RAM's identity map, below PAGE_OFFSET.
const VADDR: u32 = 0xA000_0000;
const PRESENT: u32 = 1;
const WRITABLE: u32 = 2;

#[repr(C, align(4096))]
struct PageTable([u32; 1024]);

static PAGE_TABLE: Global<PageTable> = Global::new(PageTable([0; 1024]));

fn kmain(boot: &'static BootInfo) -> ! {
    let frame = misbehave::beyond_ram() & !0xFFF;
    println!(
        "outside_ram: mapping virtual {VADDR:#x} to guest-physical {frame:#x}, beyond the {} MiB of RAM",
        boot.mem_size >> 20
    );
    let pde = phys_to_virt(boot.boot_pgdir).cast::<u32>().wrapping_add((VADDR >> 22) as usize);
    // SAFETY: the boot page directory is a page of guest RAM (abi::boot), in the linear
    // map; PAGE_TABLE is ours. The new entries map a page nothing else uses.
    unsafe {
        if pde.read_volatile() & PRESENT != 0 {
            guest::crash_fmt(format_args!("outside_ram: {VADDR:#x} is already mapped; use less RAM"));
        }
        let table = PAGE_TABLE.get();
        (*table).0[(VADDR as usize >> 12) & 0x3FF] = frame | PRESENT | WRITABLE;
        pde.write_volatile(virt_to_phys(table) | PRESENT | WRITABLE);
    }
    println!("outside_ram: reading {VADDR:#x}");
    // SAFETY: the page is mapped (above); the Host should stop us reading it.
    let value = unsafe { (VADDR as usize as *const u32).read_volatile() };
    guest::crash_fmt(format_args!("outside_ram: read {value:#x} from beyond RAM"))
}
