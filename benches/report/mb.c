/* mb.c: the benchmark kernels of crates/cpu/benches/kernels.c, made bootable by QEMU.
 *
 * The benchmark report (benches/report/main.rs) links kernels.c (its `_start` renamed
 * `kernels_linux_start`) with this file and mb.S into ONE static 32-bit ELF, which runs
 * three ways: natively as a Linux process, in our interpreter (which plays Linux for
 * `write` and `exit`), and under `qemu-system-i386 -kernel` as a multiboot kernel. mb.S's
 * `_start` tells a multiboot loader (%eax = 0x2BADB002) from Linux's exec (%eax = 0).
 * Under QEMU this file plays Linux instead: it installs a gate for `int $0x80` and serves
 * the kernel's two system calls, so the benchmark kernel's instructions are the very same
 * bytes in all three runs.
 *
 * The multiboot command line (`-append`) says what to do:
 *   mode=cpu    run the benchmark kernel between two RDTSCs, print
 *               `bench cpu 1 0x<cycles>` and `result 0x<value>`, and exit;
 *   mode=traps  QEMU's nearest equivalents of the lguest Guest's hot paths (what
 *               guests/bench measures): port writes, traps through the IDT, system calls
 *               from ring 3, page faults, and LAPIC timer interrupts; each printed as
 *               `bench <name> <iterations> 0x<cycles>`;
 *   mode=boot   print the first line and idle in HLT for ever (boot time and memory);
 *   mode=empty  print the first line and exit (the baseline for timing from outside).
 * Every mode prints `mbkernel: up` first, on the serial port. The kernel leaves QEMU
 * through isa-debug-exit (port 0xf4), which QEMU turns into exit status 1.
 *
 * Under TCG, RDTSC returns the host's TSC (QEMU's cpu_get_host_ticks()), so cycles here
 * are host TSC cycles; the report converts them with the host TSC frequency it measures. */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

/* --- the machine ------------------------------------------------------------------- */

static inline void outb(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(u16 port, u32 v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

#define COM1 0x3f8

static void putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20)) /* wait for the transmitter to be empty */
		;
	outb(COM1, (u8)c);
}

static void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

/* Hexadecimal: decimal would need 64-bit division, i.e. libgcc. */
static void puthex(u64 v)
{
	puts("0x");
	for (int shift = 60; shift >= 0; shift -= 4)
		putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

static void report(const char *name, u32 n, u64 cycles)
{
	puts("bench ");
	puts(name);
	putc(' ');
	/* n is at most a few million: decimal with 32-bit arithmetic. */
	char digits[12];
	int i = 0;
	do {
		digits[i++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	while (i)
		putc(digits[--i]);
	putc(' ');
	puthex(cycles);
	putc('\n');
}

static __attribute__((noreturn)) void qemu_exit(void)
{
	outl(0xf4, 0); /* isa-debug-exit: QEMU exits with status (0 << 1) | 1 */
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* --- descriptor tables -------------------------------------------------------------- */

struct frame {
	u32 edi, esi, ebp, esp_, ebx, edx, ecx, eax; /* pusha */
	u32 vector, error;
	u32 eip, cs, eflags; /* pushed by the CPU (and esp, ss from ring 3) */
};

extern void isr_3(void), isr_14(void), isr_0x40(void), isr_0x80(void), isr_spurious(void);
extern void enter_user(u32 eip, u32 esp);
extern __attribute__((noreturn)) void leave_user(void);
extern void user_syscalls(void), user_faults(void);
extern void kernels_linux_start(void);

unsigned char kernel_stack[65536] __attribute__((aligned(16)));
static unsigned char trap_stack[16384] __attribute__((aligned(16)));
static unsigned char user_stack[16384] __attribute__((aligned(16)));
u32 kernel_sp; /* saved by enter_user, restored by leave_user */

static u32 tss[26];
static u64 gdt[6];
static u64 idt[256];

static u64 segment(u32 base, u32 limit, u32 access, u32 flags)
{
	return (u64)(limit & 0xffff) | (u64)(base & 0xffffff) << 16 | (u64)access << 40 |
	       (u64)((limit >> 16) & 0xf) << 48 | (u64)flags << 52 | (u64)(base >> 24) << 56;
}

static void set_gate(u8 vector, void (*handler)(void), u8 dpl)
{
	u32 off = (u32)handler;
	/* Interrupt gate, present, 32-bit, selector 0x08. */
	idt[vector] = (u64)(off & 0xffff) | (u64)0x08 << 16 | (u64)(0x8e | dpl << 5) << 40 |
		      (u64)(off >> 16) << 48;
}

static void load_tables(void)
{
	gdt[1] = segment(0, 0xfffff, 0x9a, 0xc); /* 0x08 kernel code */
	gdt[2] = segment(0, 0xfffff, 0x92, 0xc); /* 0x10 kernel data */
	gdt[3] = segment(0, 0xfffff, 0xfa, 0xc); /* 0x1b user code */
	gdt[4] = segment(0, 0xfffff, 0xf2, 0xc); /* 0x23 user data */
	gdt[5] = segment((u32)tss, sizeof(tss) - 1, 0x89, 0); /* 0x28 TSS */
	tss[1] = (u32)(trap_stack + sizeof(trap_stack)); /* esp0 */
	tss[2] = 0x10;					 /* ss0 */
	tss[25] = sizeof(tss) << 16;			 /* no I/O bitmap */

	for (int v = 0; v < 256; v++)
		set_gate((u8)v, isr_spurious, 0);
	set_gate(3, isr_3, 0);
	set_gate(14, isr_14, 0);
	set_gate(0x40, isr_0x40, 0);
	set_gate(0x80, isr_0x80, 3);

	struct __attribute__((packed)) {
		u16 limit;
		u32 base;
	} gdtr = {sizeof(gdt) - 1, (u32)gdt}, idtr = {sizeof(idt) - 1, (u32)idt};
	__asm__ volatile("lgdt %0\n\t"
			 "ljmp $0x08, $1f\n"
			 "1:\tmovw $0x10, %%ax\n\t"
			 "movw %%ax, %%ds\n\t"
			 "movw %%ax, %%es\n\t"
			 "movw %%ax, %%fs\n\t"
			 "movw %%ax, %%gs\n\t"
			 "movw %%ax, %%ss\n\t"
			 "lidt %1\n\t"
			 "movw $0x28, %%ax\n\t"
			 "ltr %%ax"
			 :
			 : "m"(gdtr), "m"(idtr)
			 : "eax", "memory");

	/* Mask the 8259s: the only interrupt we want is the LAPIC timer's. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

/* Identity-map the first 16 MiB for user and kernel, except the page at 0xa00000 (the
 * user page-fault target; 0xa0000000, the kernel's, has no page table at all), and the
 * LAPIC's page uncached. */
#define LAPIC_BASE 0xfee00000u
static u32 page_dir[1024] __attribute__((aligned(4096)));
static u32 page_tables[4][1024] __attribute__((aligned(4096)));
static u32 lapic_table[1024] __attribute__((aligned(4096)));

static void enable_paging(void)
{
	for (u32 t = 0; t < 4; t++) {
		for (u32 i = 0; i < 1024; i++)
			page_tables[t][i] = (t << 22 | i << 12) | 7; /* present, writable, user */
		page_dir[t] = (u32)page_tables[t] | 7;
	}
	page_tables[2][0x200] = 0; /* 0xa00000 */
	lapic_table[(LAPIC_BASE >> 12) & 0x3ff] = LAPIC_BASE | 0x1b; /* P, RW, PWT, PCD */
	page_dir[LAPIC_BASE >> 22] = (u32)lapic_table | 3;
	__asm__ volatile("movl %0, %%cr3\n\t"
			 "movl %%cr0, %%eax\n\t"
			 "orl $0x80010000, %%eax\n\t" /* PG, WP */
			 "movl %%eax, %%cr0"
			 :
			 : "r"(page_dir)
			 : "eax", "memory");
}

static volatile u32 *lapic(u32 reg)
{
	return (volatile u32 *)(LAPIC_BASE + reg);
}

/* --- traps ------------------------------------------------------------------------- */

enum { MODE_CPU, MODE_TRAPS, MODE_BOOT, MODE_EMPTY } mode;

static u64 cpu_start, cpu_end;
static u32 cpu_result;
static volatile u32 clock_ran;
static volatile u64 clock_at;

void trap(struct frame *f)
{
	switch (f->vector) {
	case 3:
		break;
	case 14: /* skip the faulting 5-byte `movl addr, %eax` */
		f->eip += 5;
		break;
	case 0x40: /* the LAPIC timer */
		clock_at = rdtsc();
		clock_ran = 1;
		*lapic(0xb0) = 0; /* EOI */
		break;
	case 0x80:
		if (mode == MODE_CPU) {
			/* Linux's write(1, buf, 4) and exit(0), as the benchmark kernel uses them. */
			if (f->eax == 4) {
				cpu_end = rdtsc();
				cpu_result = *(u32 *)f->ecx;
				f->eax = 4;
			} else {
				report("cpu", 1, cpu_end - cpu_start);
				puts("result ");
				puthex(cpu_result);
				putc('\n');
				qemu_exit();
			}
		} else if (f->eax == 0) {
			leave_user();
		}
		break;
	default:
		puts("mbkernel: unexpected trap ");
		puthex(f->vector);
		puts(" at ");
		puthex(f->eip);
		putc('\n');
		qemu_exit();
	}
}

/* --- the measurements --------------------------------------------------------------- */

#define N 100000u      /* traps, faults, system calls: as guests/bench trap_bench.rs */
#define N_PORT 1000000u /* port writes: as the hypercalls of hcall_bench.rs */
#define IRQS 2000u
#define IRQ_DELTA_NS 10000u /* the LAPIC timer counts 1 per ns at divide-by-1 in QEMU */

static u64 time_user(void (*prog)(void))
{
	u64 t = rdtsc();
	enter_user((u32)prog, (u32)(user_stack + sizeof(user_stack)));
	return rdtsc() - t;
}

/* The sum over IRQS interrupts of the cycles from arming the timer to the handler; the
 * report subtracts IRQ_DELTA_NS for each. */
static u64 irq_latency(int halting)
{
	u64 total = 0;
	for (u32 i = 0; i < IRQS; i++) {
		clock_ran = 0;
		u64 t = rdtsc();
		*lapic(0x380) = IRQ_DELTA_NS; /* initial count: one-shot */
		if (halting) {
			while (!clock_ran)
				__asm__ volatile("sti; hlt; cli");
		} else {
			__asm__ volatile("sti");
			while (!clock_ran)
				;
			__asm__ volatile("cli");
		}
		total += clock_at - t;
	}
	return total;
}

static volatile struct {
	u32 eax, edx, ebx, ecx;
} ring[64];
static volatile u8 ring_status[64];

static void traps(void)
{
	enable_paging();
	u64 t;

	t = rdtsc();
	for (u32 i = 0; i < N_PORT; i++)
		outb(0x80, 0);
	report("port_write", N_PORT, rdtsc() - t);

	/* A virtio-style queue: a 16-byte request and a status byte stored in a ring of 64,
	 * one port write ("kick") per full ring: the analogue of lguest's async hypercalls. */
	t = rdtsc();
	for (u32 i = 0; i < N_PORT; i++) {
		u32 slot = i & 63;
		ring[slot].eax = 0;
		ring[slot].edx = i;
		ring[slot].ebx = 0;
		ring[slot].ecx = 0;
		ring_status[slot] = 0;
		if (slot == 63)
			outb(0x80, 0);
	}
	report("port_write_batched", N_PORT, rdtsc() - t);

	t = rdtsc();
	for (u32 i = 0; i < N_PORT; i++)
		__asm__ volatile("" : : "r"(i));
	report("empty_loop", N_PORT, rdtsc() - t);

	t = rdtsc();
	for (u32 i = 0; i < N; i++)
		__asm__ volatile("int3");
	report("kernel_trap", N, rdtsc() - t);

	t = rdtsc();
	for (u32 i = 0; i < N; i++)
		__asm__ volatile("movl 0xa0000000, %%eax" : : : "eax", "memory");
	report("kernel_page_fault", N, rdtsc() - t);

	report("syscall", N, time_user(user_syscalls));
	report("user_page_fault", N, time_user(user_faults));

	*lapic(0xf0) = 0x1ff;  /* software enable, spurious vector 0xff */
	*lapic(0x3e0) = 0xb;   /* divide by 1 */
	*lapic(0x320) = 0x40;  /* timer: vector 0x40, one-shot, unmasked */
	report("irq_latency", IRQS, irq_latency(0));
	report("irq_latency_halt", IRQS, irq_latency(1));
}

static int has(const char *s, const char *word)
{
	for (; *s; s++) {
		const char *a = s, *b = word;
		while (*b && *a == *b)
			a++, b++;
		if (!*b)
			return 1;
	}
	return 0;
}

void mb_main(const u32 *info)
{
	puts("mbkernel: up\n");
	const char *cmdline = (info[0] & 4) ? (const char *)info[4] : "";
	mode = has(cmdline, "mode=traps")  ? MODE_TRAPS
	       : has(cmdline, "mode=boot") ? MODE_BOOT
	       : has(cmdline, "mode=cpu")  ? MODE_CPU
					   : MODE_EMPTY;
	load_tables();
	switch (mode) {
	case MODE_CPU:
		cpu_start = rdtsc();
		kernels_linux_start(); /* ends in exit(), served by trap() */
		break;
	case MODE_TRAPS:
		traps();
		break;
	case MODE_BOOT:
		for (;;)
			__asm__ volatile("cli; hlt");
	case MODE_EMPTY:
		break;
	}
	qemu_exit();
}
