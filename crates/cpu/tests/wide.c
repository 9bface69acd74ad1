/* 64-bit integer arithmetic as a 32-bit compiler emits it: MUL and IMUL into EDX:EAX,
 * ADC and SBB chains, SHLD and SHRD by constants and by CL, DIV and IDIV of 32-bit and
 * of EDX:EAX dividends. Built like benches/kernels.c (no C library, and no libgcc, which
 * machines without gcc's 32-bit multilib lack; `_start` writes a 4-byte result and
 * exits) by tests/wide.rs, which runs it natively and on both engines. */

typedef unsigned long long u64;
typedef long long i64;

static inline void sys_write(int fd, const void *buf, unsigned len)
{
	int ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(4), "b"(fd), "c"(buf), "d"(len) : "memory");
}

static inline __attribute__((noreturn)) void sys_exit(int code)
{
	__asm__ volatile("int $0x80" : : "a"(1), "b"(code));
	__builtin_unreachable();
}

/* EDX:EAX / d with EDX < d (so that the quotient fits): quotient, remainder in *rem. */
static inline unsigned udiv(unsigned hi, unsigned lo, unsigned d, unsigned *rem)
{
	unsigned q;
	__asm__("divl %4" : "=a"(q), "=d"(*rem) : "0"(lo), "1"(hi), "rm"(d));
	return q;
}

/* The signed product a * b * 64 (|a|, |b| <= 2^14: up to 2^34, so EDX is more than a
 * sign) divided by d, |d| >= 16 (so that the quotient fits): IDIV of EDX:EAX. */
static inline int sdiv(int a, int b, int d, int *rem)
{
	int q;
	long long n = (long long)a * b * 64;
	__asm__("idivl %4" : "=a"(q), "=d"(*rem) : "0"((unsigned)n), "1"((unsigned)(n >> 32)), "rm"(d));
	return q;
}

__attribute__((noinline)) unsigned wide(unsigned reps)
{
	u64 state = 0x9E3779B97F4A7C15ull, h = 0xCBF29CE484222325ull, acc = 1;
	i64 s = -1234567890123ll;
	unsigned r32 = 0;
	for (unsigned r = 0; r < reps; r++) {
		state += 0x9E3779B97F4A7C15ull;
		u64 z = state;
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		z ^= z >> 31;
		h = (h ^ (z & 0xFF)) * 0x100000001B3ull;
		unsigned sh = (unsigned)z & 63;
		acc += (z << sh) ^ (z >> (63 - sh)) ^ (u64)((i64)z >> sh);
		acc -= h;
		unsigned d = (unsigned)(z >> 40) | 1, rem;
		acc ^= udiv((unsigned)(acc >> 32) % d, (unsigned)acc, d, &rem) + rem;
		int sd = (int)(z >> 45) - (1 << 18), srem;
		if (sd > -16 && sd < 16)
			sd = 17;
		s = s * 3 + sdiv((int)(z & 0x7FFF) - 0x4000, (int)((z >> 16) & 0x7FFF) - 0x4000, sd, &srem) + srem;
		s += (i64)(z & 0xFFFF) * 0x10001;
		unsigned a = (unsigned)z, b = (unsigned)(z >> 32) | 1;
		r32 += a / b + a % b + (unsigned)((int)a / (int)((b | 2) >> 1)) + (unsigned)((int)a % (int)((b | 2) >> 1));
		r32 += (unsigned)(((u64)a * b) >> 32) + (unsigned)(((i64)(int)a * (int)b) >> 32);
	}
	return (unsigned)(h ^ (h >> 32)) ^ (unsigned)(acc ^ (acc >> 32)) ^ (unsigned)s ^ r32;
}

void _start(void)
{
	unsigned result = wide(REPS);
	sys_write(1, &result, 4);
	sys_exit(0);
}
