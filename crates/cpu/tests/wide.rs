//! 64-bit arithmetic on the 32-bit CPU: what the translator runs natively for it (MUL and
//! IMUL into EDX:EAX, DIV and IDIV, ADC and SBB, SHLD and SHRD) gives the processor's
//! results, and a division the translator met raises #DE exactly where and as the
//! interpreter does.

mod support;

use cpu::{Cpu, Engine, Exception, Exit, PhysMem, Reg, Vcpu};
use std::path::PathBuf;
use std::process::Command;

/// `tests/wide.c` built as a static 32-bit executable doing `reps` rounds.
fn build(reps: u32) -> PathBuf {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wide.c");
    let out = support::tmp_path(&format!("wide-{reps}.elf"));
    let status = Command::new("gcc")
        .args(["-m32", "-O2", "-march=i686", "-mno-sse", "-mno-mmx", "-ffreestanding", "-nostdlib"])
        .args(["-static", "-no-pie", "-fno-pic", "-fno-stack-protector", "-fno-asynchronous-unwind-tables"])
        .args(["-Wl,-Ttext-segment=0x100000", "-Wl,--build-id=none"])
        .arg(format!("-DREPS={reps}u"))
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run gcc (gcc with 32-bit support is needed for this test)");
    assert!(status.success(), "gcc failed on {}", src.display());
    out
}

#[test]
fn wide_arithmetic_computes_what_the_processor_computes_on_every_engine() {
    let elf = build(20_000);
    let (_, native) = support::native_kernel(&elf, 1);
    for engine in [Engine::Interp, Engine::Jit, Engine::Check] {
        let (_, _, got, stats) = support::kernel_on(&elf, engine);
        assert_eq!(got, native, "{engine}: {got:#x}, the processor {native:#x}");
        if engine == Engine::Jit && Engine::translator_available() {
            let s = stats.expect("the translator's statistics");
            assert!(s.blocks > 0, "nothing was translated: {s:?}");
        }
    }
    let _ = std::fs::remove_file(&elf);
}

const CODE: u32 = 0x1000;

/// A flat ring-0 CPU on the check engine, translating every block on first sight, with
/// `code` at [`CODE`].
fn flat_cpu(code: &[u8]) -> Cpu {
    let mut mem = PhysMem::new(1 << 20);
    mem.write(CODE, code).unwrap();
    let mut cpu = support::flat_kernel_cpu(mem);
    cpu.set_reg(Reg::Esp, 0x8000);
    cpu.set_eip(CODE);
    cpu
}

/// `xor ebx, ebx; <division by ECX>; add ebx, 1; int 0x80`: (EAX, EDX, ECX) in, and
/// either the quotient and remainder or #DE at the division with EBX still 0.
#[test]
fn divisions_fault_exactly_as_the_interpreter_says() {
    const DIV_ECX: [u8; 2] = [0xF7, 0xF1];
    const IDIV_ECX: [u8; 2] = [0xF7, 0xF9];
    /// (what, the division's bytes, EAX EDX ECX, the quotient and remainder or #DE).
    type Case = (&'static str, [u8; 2], [u32; 3], Option<(u32, u32)>);
    let cases: [Case; 8] = [
        ("div", DIV_ECX, [100, 0, 7], Some((14, 2))),
        ("div by zero", DIV_ECX, [100, 0, 0], None),
        ("div, quotient too wide", DIV_ECX, [0, 7, 7], None),
        ("div, EDX:EAX / EDX", [0xF7, 0xF2], [5, 3, 0], None),
        ("idiv", IDIV_ECX, [(-7i32) as u32, u32::MAX, 2], Some(((-3i32) as u32, u32::MAX))),
        ("idiv by zero", IDIV_ECX, [1, 0, 0], None),
        ("idiv, INT_MIN / -1", IDIV_ECX, [0x8000_0000, u32::MAX, u32::MAX], None),
        ("idiv, quotient too wide", IDIV_ECX, [0, 1, 1], None),
    ];
    for (what, div, [eax, edx, ecx], want) in cases {
        let mut code = vec![0x31, 0xDB];
        code.extend_from_slice(&div);
        code.extend_from_slice(&[0x83, 0xC3, 0x01, 0xCD, 0x80]);
        let mut cpu = flat_cpu(&code);
        cpu.set_reg(Reg::Eax, eax);
        cpu.set_reg(Reg::Edx, edx);
        cpu.set_reg(Reg::Ecx, ecx);
        let exit = cpu.run(100);
        match want {
            Some((q, r)) => {
                assert!(matches!(exit, Exit::SoftInt { vector: 0x80, .. }), "{what}: {exit}");
                assert_eq!((cpu.reg(Reg::Eax), cpu.reg(Reg::Edx), cpu.reg(Reg::Ebx)), (q, r, 1), "{what}");
            }
            None => {
                assert_eq!(exit, Exit::Exception(Exception { vector: 0, error_code: None }), "{what}");
                assert_eq!(cpu.eip(), CODE + 2, "{what}: #DE at the division");
                assert_eq!((cpu.reg(Reg::Eax), cpu.reg(Reg::Edx)), (eax, edx), "{what}: EDX:EAX untouched");
            }
        }
    }
}

/// A conditional jump on SF, ZF or PF right after a multiply whose flags the translator
/// records tests the multiply's result (once, a stale PF from the recording itself was
/// tested instead).
#[test]
fn a_jcc_after_imul_tests_the_products_flags() {
    // xor ebx, ebx; mov eax, 3; imul eax, eax, 5 (15: PF set); jnp +3; add ebx, 1; int 0x80
    let code = [0x31, 0xDB, 0xB8, 3, 0, 0, 0, 0x6B, 0xC0, 5, 0x7B, 0x03, 0x83, 0xC3, 0x01, 0xCD, 0x80];
    let mut cpu = flat_cpu(&code);
    let exit = cpu.run(100);
    assert!(matches!(exit, Exit::SoftInt { vector: 0x80, .. }), "{exit}");
    assert_eq!((cpu.reg(Reg::Eax), cpu.reg(Reg::Ebx)), (15, 1), "JNP was taken after a product with PF set");
}
