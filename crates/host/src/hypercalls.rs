//! Hypercalls: the Guest's explicit requests of the Host.
//!
//! A hypercall arrives as `int $0x1F` from CPL 1 (see `run_loop.rs`), call number in %eax
//! and arguments in %edx, %ebx, %ecx. The very first one must be LHCALL_LGUEST_INIT, which
//! tells us where `lguest_data` is. After that, before serving any synchronous call we
//! drain the async ring, because the Guest queued those calls earlier and expects them
//! done first. Calls that are grossly wrong kill the Guest; they never return an error.

use crate::addr::GuestPhys;
use crate::guest::{End, Guest, Res, TSC_KHZ};
use crate::outcome::KillReason;
use abi::{HCALL_DONE, HCALL_RING_ENTRY_SIZE, Hcall, LHCALL_RING_SIZE, RESERVE_MEM};
use cpu::{Reg, Vcpu};
use tracing::trace;

/// Longest LHCALL_CRASH message we read.
pub const CRASH_MSG_MAX: u32 = 128;

/// The message a Guest sends with LHCALL_CRASH to power off.
pub const POWER_DOWN: &str = "Power down";

/// The four registers of a hypercall.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Args {
    pub eax: u32,
    pub edx: u32,
    pub ebx: u32,
    pub ecx: u32,
}

impl Guest {
    /// Handle the `int $0x1F` the Guest just made.
    pub(crate) fn do_hypercalls(&mut self) -> Res {
        let a = Args {
            eax: self.cpu.reg(Reg::Eax),
            edx: self.cpu.reg(Reg::Edx),
            ebx: self.cpu.reg(Reg::Ebx),
            ecx: self.cpu.reg(Reg::Ecx),
        };
        if self.lguest_data.is_none() {
            if a.eax != Hcall::LguestInit as u32 {
                return Err(KillReason::HypercallBeforeInit(a.eax).into());
            }
            trace!(target: "lguest::hcall", "hcall {} lguest_data={:#x}", Hcall::LguestInit, a.edx);
            return self.initialize(GuestPhys(a.edx));
        }
        self.do_async_hcalls()?;
        if let Some(ret) = self.do_hcall(a, false)? {
            self.cpu.set_reg(Reg::Eax, ret);
        }
        Ok(())
    }

    /// LHCALL_LGUEST_INIT: remember where lguest_data is and fill in the Host's fields
    /// (and, in the 2.6.23 release, the time).
    fn initialize(&mut self, at: GuestPhys) -> Res {
        let ld = self.ld;
        // lguest_data must be in RAM proper, not in the device pages above it.
        if at.0.checked_add(ld.size).is_none_or(|end| end > self.layout.mem_size) {
            return Err(KillReason::BadAddress { what: "lguest_data", addr: at, len: ld.size }.into());
        }
        trace!(target: "lguest::hcall", "  lguest_data revision: {}", self.revision.name());
        self.write_u32("lguest_data", at.offset(ld.reserve_mem), RESERVE_MEM)?;
        self.write_u16("lguest_data", at.offset(ld.guestid), self.guestid)?;
        self.write_u32("lguest_data", at.offset(ld.tsc_khz), TSC_KHZ)?;
        self.lguest_data = Some(at);
        self.next_hcall = 0;
        self.write_timestamp()?;
        self.refresh_direct_traps();
        Ok(())
    }

    /// Write the wall-clock time into `lguest_data.time` (2.6.23 release only): at
    /// LHCALL_LGUEST_INIT and whenever an interrupt is delivered, as the 2.6.23 Host did.
    pub(crate) fn write_timestamp(&mut self) -> Res {
        let (Some(ld), Some(off)) = (self.lguest_data, self.ld.time) else { return Ok(()) };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        self.write_u32("lguest_data time", ld.offset(off), now.as_secs() as u32)?;
        self.write_u32("lguest_data time", ld.offset(off + 4), now.subsec_nanos())
    }

    /// Run the calls queued in the async ring, in order, from where we stopped last
    /// time, marking each slot done. At most one pass around the ring.
    ///
    /// This runs before every synchronous hypercall, so it reads the ring straight out of
    /// guest RAM: LHCALL_LGUEST_INIT checked that all of `lguest_data` lies in RAM, which
    /// never shrinks. Each slot is read only when its turn comes, after the calls before it
    /// ran (one of them may have written the ring, as 2.6.23 allows).
    pub(crate) fn do_async_hcalls(&mut self) -> Res {
        let Some(ld) = self.lguest_data else { return Ok(()) };
        let status_at = (ld.0 + self.ld.hcall_status) as usize;
        let slots_at = (ld.0 + self.ld.hcalls) as usize;
        const ENTRY: usize = HCALL_RING_ENTRY_SIZE as usize;
        for _ in 0..LHCALL_RING_SIZE {
            let n = self.next_hcall;
            let ram = self.mem().as_slice();
            let slot_at = slots_at + n * ENTRY;
            let (Some(&status), Some(slot)) = (ram.get(status_at + n), ram.get(slot_at..slot_at + ENTRY))
            else {
                return Err(KillReason::BadAddress { what: "hcalls", addr: ld, len: self.ld.size }.into());
            };
            if status == HCALL_DONE {
                break;
            }
            let word = |i: usize| u32::from_le_bytes([slot[i], slot[i + 1], slot[i + 2], slot[i + 3]]);
            let a = Args { eax: word(0), edx: word(4), ebx: word(8), ecx: word(12) };
            self.next_hcall = (n + 1) % LHCALL_RING_SIZE;
            self.do_hcall(a, true)?;
            self.write_u8("hcall_status", GuestPhys(status_at as u32 + n as u32), HCALL_DONE)?;
        }
        Ok(())
    }

    /// Perform one hypercall. Returns the value for %eax, if the call has one.
    fn do_hcall(&mut self, a: Args, is_async: bool) -> Res<Option<u32>> {
        let call = Hcall::try_from(a.eax)
            .ok()
            .filter(|&c| self.revision.has_hcall(c))
            .ok_or(KillReason::UnknownHypercall(a.eax))?;
        trace!(
            target: "lguest::hcall",
            "hcall {call}{} edx={:#x} ebx={:#x} ecx={:#x}",
            if is_async { " [async]" } else { "" },
            a.edx,
            a.ebx,
            a.ecx
        );
        let ret = match call {
            Hcall::FlushAsync => None, // Getting here already drained the ring.
            Hcall::LguestInit => return Err(KillReason::AlreadyInitialized.into()),
            Hcall::Crash => return Err(self.crash(GuestPhys(a.edx))),
            Hcall::GetWallclock => Some(wallclock()),
            Hcall::SendDma => {
                self.send_dma(a.edx, GuestPhys(a.ebx))?;
                None
            }
            Hcall::Halt => {
                self.halted = true;
                None
            }
            Hcall::LoadGdt => {
                self.load_guest_gdt(GuestPhys(a.edx), a.ebx)?;
                None
            }
            Hcall::LoadTls => {
                self.guest_load_tls(GuestPhys(a.edx))?;
                None
            }
            Hcall::LoadIdtEntry => {
                self.load_idt_entry(a.edx, a.ebx, a.ecx)?;
                None
            }
            Hcall::SetStack => {
                self.set_stack(a.edx, a.ebx, a.ecx)?;
                None
            }
            Hcall::Ts => {
                let cr0 = self.cpu.cr0();
                let ts = cpu::cr::CR0_TS;
                self.cpu.set_cr0(if a.edx != 0 { cr0 | ts } else { cr0 & !ts });
                None
            }
            Hcall::SetClockevent => {
                self.set_clockevent(a.edx);
                None
            }
            Hcall::NewPgtable => {
                self.guest_new_pagetable(GuestPhys(a.edx))?;
                None
            }
            Hcall::FlushTlb => {
                self.guest_flush_tlb(a.edx != 0)?;
                None
            }
            Hcall::SetPte => {
                self.guest_set_pte(GuestPhys(a.edx), a.ebx, a.ecx)?;
                None
            }
            Hcall::SetPmd => {
                self.guest_set_pmd(GuestPhys(a.edx), a.ebx)?;
                None
            }
            Hcall::BindDma => Some(self.bind_dma(a.edx, GuestPhys(a.ebx), a.ecx >> 8, a.ecx & 0xFF)?),
        };
        if let Some(v) = ret {
            trace!(target: "lguest::hcall", "  -> {v:#x}");
        }
        Ok(ret)
    }

    /// LHCALL_CRASH: read the Guest's message (bounded) and end it.
    fn crash(&mut self, msg: GuestPhys) -> End {
        let size = self.mem().size();
        if msg.0 >= size {
            return KillReason::BadAddress { what: "LHCALL_CRASH message", addr: msg, len: 1 }.into();
        }
        let len = (size - msg.0).min(CRASH_MSG_MAX);
        let bytes = self.mem().slice(msg.0, len).unwrap_or(&[]);
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let text = sanitize(&bytes[..end]);
        if text == POWER_DOWN { End::PowerOff } else { End::Crash(text) }
    }
}

/// Seconds since the epoch, as a 32-bit value (as in 2.6.23).
fn wallclock() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// A Guest message made safe for the user's terminal: invalid UTF-8 and control
/// characters are shown escaped rather than interpreted.
pub(crate) fn sanitize(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
