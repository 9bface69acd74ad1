/* mb.S: the assembly half of the multiboot side of the benchmark kernels (mb.c has the
 * rest and the story). The multiboot header, the entry point that tells a multiboot
 * loader from Linux's exec, the trap stubs, and the trip to ring 3 and back. */

	.section .multiboot, "a"
	.align 4
	.long 0x1BADB002		/* multiboot magic */
	.long 0				/* flags: nothing asked; load the ELF as it is */
	.long -0x1BADB002		/* checksum: magic + flags + checksum = 0 */

	.text
	.globl _start
_start:
	/* A multiboot loader enters with this value in %eax and the info in %ebx; Linux's
	 * exec (and the interpreter playing it) with %eax = 0. Linux goes straight to the
	 * benchmark kernel, untouched. */
	cmpl $0x2BADB002, %eax
	je 1f
	jmp kernels_linux_start
1:	cld
	movl %ebx, %edx
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb
	movl $kernel_stack + 65536, %esp
	pushl %edx
	call mb_main
2:	cli
	hlt
	jmp 2b

/* One stub per vector we use: push a zero where the CPU pushes no error code, then the
 * vector, save the registers and call trap(struct frame *) in mb.c. */
.macro stub vector, has_error
	.globl isr_\vector
isr_\vector:
	.if \has_error == 0
	pushl $0
	.endif
	pushl $\vector
	jmp isr_common
.endm

	stub 3, 0
	stub 14, 1
	stub 0x40, 0
	stub 0x80, 0

isr_common:
	pusha
	pushl %esp
	call trap
	addl $4, %esp
	popa
	addl $8, %esp
	iret

	.globl isr_spurious
isr_spurious:
	iret

/* enter_user(eip, esp): run user code at CPL 3 until it makes system call 0, which calls
 * leave_user() and so returns from here. */
	.globl enter_user
enter_user:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl %esp, kernel_sp
	movl 20(%esp), %eax
	movl 24(%esp), %ecx
	movw $0x23, %dx
	movw %dx, %ds
	movw %dx, %es
	pushl $0x23			/* ss */
	pushl %ecx			/* esp */
	pushl $0x2			/* eflags: interrupts off */
	pushl $0x1B			/* cs */
	pushl %eax			/* eip */
	iret

	.globl leave_user
leave_user:
	movl kernel_sp, %esp
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

/* The user programs: the same instructions as the lguest Guest's (guests/bench
 * trap_bench.rs), 100000 of each. */
	.globl user_syscalls
user_syscalls:
	movl $100000, %esi
1:	movl $1, %eax
	int $0x80
	decl %esi
	jnz 1b
	movl $0, %eax
	int $0x80

	.globl user_faults
user_faults:
	movl $100000, %esi
1:	movl 0x00a00000, %eax		/* 5 bytes; the #PF handler skips them */
	decl %esi
	jnz 1b
	movl $0, %eax
	int $0x80

	.section .note.GNU-stack, "", @progbits
