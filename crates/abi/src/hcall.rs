//! Hypercall numbers (`LHCALL_*`) and the async hypercall ring entry.
//!
//! A hypercall is `int $0x1F` with the call number in %eax and up to three arguments in
//! %edx, %ebx and %ecx; a result comes back in %eax.

use core::fmt;

/// Number of slots in the async hypercall ring (`LHCALL_RING_SIZE`).
pub const LHCALL_RING_SIZE: usize = 64;

/// `hcall_status` value of a slot the Guest has filled and the Host has not yet run.
pub const HCALL_PENDING: u8 = 0;

/// `hcall_status` value of a slot that is free (the Host ran it, or it was never used).
pub const HCALL_DONE: u8 = 0xFF;

/// One hypercall number. The discriminants are the `LHCALL_*` values of 2.6.23.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hcall {
    /// `LHCALL_FLUSH_ASYNC`: nothing but draining the async ring.
    FlushAsync = 0,
    /// `LHCALL_LGUEST_INIT`: register `lguest_data` (guest-physical address in %edx).
    LguestInit = 1,
    /// `LHCALL_CRASH`: the Guest gives up; %edx is the guest-physical address of a message.
    Crash = 2,
    /// `LHCALL_LOAD_GDT`: %edx = address of the GDT entries, %ebx = number of entries.
    LoadGdt = 3,
    /// `LHCALL_NEW_PGTABLE`: switch to the page directory at guest-physical %edx.
    NewPgtable = 4,
    /// `LHCALL_FLUSH_TLB`: %edx non-zero means kernel mappings too.
    FlushTlb = 5,
    /// `LHCALL_LOAD_IDT_ENTRY`: %edx = vector, %ebx = low word, %ecx = high word.
    LoadIdtEntry = 6,
    /// `LHCALL_SET_STACK`: %edx = stack segment, %ebx = stack pointer, %ecx = pages.
    SetStack = 7,
    /// `LHCALL_TS`: %edx = task-switched flag (lazy FPU).
    Ts = 8,
    /// `LHCALL_SET_CLOCKEVENT`: %edx = nanoseconds until the one-shot timer fires.
    SetClockevent = 9,
    /// `LHCALL_HALT`: sleep until an interrupt is pending.
    Halt = 10,
    /// `LHCALL_GET_WALLCLOCK`: returns seconds since the epoch in %eax.
    GetWallclock = 11,
    /// `LHCALL_BIND_DMA`: %edx = key, %ebx = address of `lguest_dma`s, %ecx = count<<8 | irq.
    BindDma = 12,
    /// `LHCALL_SEND_DMA`: %edx = key, %ebx = address of one `lguest_dma`.
    SendDma = 13,
    /// `LHCALL_SET_PTE`: %edx = page directory, %ebx = virtual address, %ecx = new pte.
    SetPte = 14,
    /// `LHCALL_SET_PMD`: %edx = page directory, %ebx = index of the changed entry.
    SetPmd = 15,
    /// `LHCALL_LOAD_TLS`: %edx = address of the three TLS GDT entries, %ebx = cpu (0).
    LoadTls = 16,
}

impl Hcall {
    /// Every hypercall, in numeric order.
    pub const ALL: [Hcall; 17] = [
        Hcall::FlushAsync,
        Hcall::LguestInit,
        Hcall::Crash,
        Hcall::LoadGdt,
        Hcall::NewPgtable,
        Hcall::FlushTlb,
        Hcall::LoadIdtEntry,
        Hcall::SetStack,
        Hcall::Ts,
        Hcall::SetClockevent,
        Hcall::Halt,
        Hcall::GetWallclock,
        Hcall::BindDma,
        Hcall::SendDma,
        Hcall::SetPte,
        Hcall::SetPmd,
        Hcall::LoadTls,
    ];

    /// The C name of the call, e.g. `"LHCALL_SEND_DMA"`.
    pub const fn name(self) -> &'static str {
        match self {
            Hcall::FlushAsync => "LHCALL_FLUSH_ASYNC",
            Hcall::LguestInit => "LHCALL_LGUEST_INIT",
            Hcall::Crash => "LHCALL_CRASH",
            Hcall::LoadGdt => "LHCALL_LOAD_GDT",
            Hcall::NewPgtable => "LHCALL_NEW_PGTABLE",
            Hcall::FlushTlb => "LHCALL_FLUSH_TLB",
            Hcall::LoadIdtEntry => "LHCALL_LOAD_IDT_ENTRY",
            Hcall::SetStack => "LHCALL_SET_STACK",
            Hcall::Ts => "LHCALL_TS",
            Hcall::SetClockevent => "LHCALL_SET_CLOCKEVENT",
            Hcall::Halt => "LHCALL_HALT",
            Hcall::GetWallclock => "LHCALL_GET_WALLCLOCK",
            Hcall::BindDma => "LHCALL_BIND_DMA",
            Hcall::SendDma => "LHCALL_SEND_DMA",
            Hcall::SetPte => "LHCALL_SET_PTE",
            Hcall::SetPmd => "LHCALL_SET_PMD",
            Hcall::LoadTls => "LHCALL_LOAD_TLS",
        }
    }
}

impl fmt::Display for Hcall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A call number that is not one of the 17 hypercalls of this ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownHcall(pub u32);

impl fmt::Display for UnknownHcall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown hypercall {}", self.0)
    }
}

impl TryFrom<u32> for Hcall {
    type Error = UnknownHcall;

    fn try_from(n: u32) -> Result<Self, Self::Error> {
        Hcall::ALL.get(n as usize).copied().ok_or(UnknownHcall(n))
    }
}

/// One slot of the async hypercall ring (`struct hcall_ring` in 2.6.23): the registers of
/// a hypercall the Guest wants run later.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HcallRing {
    pub eax: u32,
    pub edx: u32,
    pub ebx: u32,
    pub ecx: u32,
}
