//! The rules of the 2.6.23 Host that a Linux Guest gets where they differ from the ones this
//! project's own (seed-revision) Guests are held to, one tiny Linux-shaped kernel each
//! (`common::mini_linux`): the release layout of `lguest_data` with the time in it, no
//! hypercall 11, DMA sections that may cross a page, `in`/`out` emulated, a SET_PMD for the
//! top entry ignored, GDT limits left alone. Where it makes the point, the same kernel is
//! also run with `--lguest-data seed` to show the stricter rule.

mod common;
use common::mini_linux::*;
use common::*;

/// How a mini kernel's run ended: its console output is binary, so kept as bytes.
struct Mini {
    status: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Mini {
    fn last_err_line(&self) -> &str {
        self.stderr.lines().last().unwrap_or("")
    }
}

/// Run a mini kernel; `extra` are more `lguest run` arguments.
fn run_mini(asm: &Asm, tag: &str, extra: &[&str]) -> Mini {
    let kernel = temp_file(&format!("mini-linux-{tag}"), &asm.elf());
    let out = lguest()
        .arg("run")
        .arg(&kernel)
        .args(extra)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run lguest");
    Mini {
        status: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
}

fn powered_off(r: &Mini) -> &[u8] {
    assert_eq!(r.status, 0, "stderr: {}\nstdout: {:?}", r.stderr, r.stdout);
    &r.stdout
}

#[test]
fn a_linux_guest_gets_the_release_lguest_data_with_the_time_in_it() {
    let mut a = Asm::new();
    // time.tv_sec (12), then reserve_mem, guestid and tsc_khz (1108, 1112, 1116).
    a.load_eax(LGUEST_DATA + 12).store_eax(SCRATCH);
    a.load_eax(LGUEST_DATA + 1108).store_eax(SCRATCH + 4);
    a.load_eax(LGUEST_DATA + 1112).store_eax(SCRATCH + 8);
    a.load_eax(LGUEST_DATA + 1116).store_eax(SCRATCH + 12);
    a.send(SCRATCH, 16).power_off();
    let r = run_mini(&a, "release-data", &["--guestid", "77", "--trace", "hcalls"]);
    let out = powered_off(&r);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let sec = u32_at(out, 0) as u64;
    assert!(sec <= now && now - sec < 60, "lguest_data.time.tv_sec {sec}, now {now}");
    assert_eq!(u32_at(out, 4), 4 << 20, "reserve_mem");
    assert_eq!(u32_at(out, 8) & 0xFFFF, 77, "guestid");
    assert_eq!(u32_at(out, 12), 1_000_000, "tsc_khz");
    assert!(r.stderr.contains("lguest_data revision: 2.6.23 release"), "{}", r.stderr);
}

#[test]
fn hypercall_11_does_not_exist_for_a_linux_guest() {
    let mut a = Asm::new();
    a.hcall(11, 0, 0, 0).power_off();
    let r = run_mini(&a, "hcall11", &[]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.last_err_line().starts_with("lguest: killed guest: unknown hypercall 11 at eip="),
        "{}",
        r.stderr
    );
}

/// A kernel that sends 32 bytes straddling the page boundary at 0x105000.
fn crossing_dma() -> Asm {
    let mut a = Asm::new();
    a.data(0x10_4FF0, b"from one page into the next one!");
    a.send(0x10_4FF0, 32).power_off();
    a
}

#[test]
fn a_linux_guests_dma_section_may_cross_a_page() {
    let r = run_mini(&crossing_dma(), "cross", &[]);
    assert_eq!(powered_off(&r), b"from one page into the next one!");
}

#[test]
fn a_seed_guests_dma_section_may_not() {
    let r = run_mini(&crossing_dma(), "cross-seed", &["--lguest-data", "seed"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.last_err_line().contains("crosses a page boundary"), "{}", r.stderr);
}

#[test]
fn port_input_in_a_linux_kernel_reads_all_ones_and_output_is_stepped_over() {
    let mut a = Asm::new();
    a.mov_eax(0x1234_5678).mov_edx(0x3F8).bytes(&[0xEC]).store_eax(SCRATCH); // in (%dx),%al
    a.mov_eax(0).bytes(&[0x66, 0xED]).store_eax(SCRATCH + 4); // in (%dx),%ax
    a.mov_eax(0).bytes(&[0xE5, 0x80]).store_eax(SCRATCH + 8); // in $0x80,%eax
    a.bytes(&[0xEE, 0xE6, 0x80]); // out %al,(%dx); out %al,$0x80
    a.mov_eax(0x600D).store_eax(SCRATCH + 12);
    a.send(SCRATCH, 16).power_off();
    let r = run_mini(&a, "ports", &[]);
    let out = powered_off(&r);
    // The 2.6.23 Host ORed 0xFFFF into %eax for a byte-sized `in`, %ah included.
    assert_eq!(u32_at(out, 0), 0x1234_FFFF);
    assert_eq!(u32_at(out, 4), 0xFFFF_FFFF);
    assert_eq!(u32_at(out, 8), 0xFFFF_FFFF);
    assert_eq!(u32_at(out, 12), 0x600D, "the code after the `out`s ran");
}

/// The page directory the Launcher built for a 64 MiB Guest without an initrd: the top
/// page of RAM.
const BOOT_PGDIR: u32 = (64 << 20) - 4096;

fn set_pmd_top() -> Asm {
    let mut a = Asm::new();
    a.hcall(LHCALL_SET_PMD, BOOT_PGDIR, 1023, 0).mov_eax(0x600D).store_eax(SCRATCH);
    a.send(SCRATCH, 4).power_off();
    a
}

#[test]
fn set_pmd_for_the_top_entry_is_ignored_for_a_linux_guest() {
    let r = run_mini(&set_pmd_top(), "pmd", &[]);
    assert_eq!(u32_at(powered_off(&r), 0), 0x600D);
}

#[test]
fn set_pmd_for_the_top_entry_is_sudden_death_for_a_seed_guest() {
    let r = run_mini(&set_pmd_top(), "pmd-seed", &["--lguest-data", "seed"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.last_err_line().contains("page directory entry 1023 covers the reserved top"), "{}", r.stderr);
}

/// A kernel that loads a GDT whose TLS entry (6) is a flat 4 GiB data segment based just
/// above its scratch buffer, then sends its limit (`lsl`) and what `%gs:-4` reads.
fn tls_gdt() -> Asm {
    let descriptor = |base: u32, access: u8| -> [u8; 8] {
        let lo = (base << 16) | 0xFFFF;
        let hi = (base & 0xFF00_0000) | 0x00CF_0000 | ((access as u32) << 8) | ((base >> 16) & 0xFF);
        let mut d = [0u8; 8];
        d[..4].copy_from_slice(&lo.to_le_bytes());
        d[4..].copy_from_slice(&hi.to_le_bytes());
        d
    };
    let mut gdt = vec![0u8; 32 * 8];
    gdt[12 * 8..13 * 8].copy_from_slice(&descriptor(0, 0x9A)); // kernel code, ring 0 asked
    gdt[13 * 8..14 * 8].copy_from_slice(&descriptor(0, 0x92)); // kernel data
    gdt[6 * 8..7 * 8].copy_from_slice(&descriptor(virt(SCRATCH + 4), 0xF2)); // TLS, user data
    let mut a = Asm::new();
    a.data(GDT, &gdt).data(SCRATCH, b"TLS!");
    a.hcall(LHCALL_LOAD_GDT, GDT, 32, 0);
    a.mov_ecx(6 * 8 + 3).bytes(&[0x0F, 0x03, 0xC1]).store_eax(SCRATCH + 8); // lsl %ecx,%eax
    a.bytes(&[0x8E, 0xE9]); // mov %ecx,%gs
    a.bytes(&[0x65, 0xA1, 0xFC, 0xFF, 0xFF, 0xFF]).store_eax(SCRATCH + 12); // mov %gs:-4,%eax
    a.send(SCRATCH + 8, 8).power_off();
    a
}

#[test]
fn a_linux_guests_segments_keep_their_limits_so_gs_minus_4_wraps_around() {
    let r = run_mini(&tls_gdt(), "tls", &[]);
    let out = powered_off(&r);
    assert_eq!(u32_at(out, 0), 0xFFFF_FFFF, "the limit is not cut");
    assert_eq!(&out[4..8], b"TLS!", "%gs:-4 read the word below the segment's base");
}
