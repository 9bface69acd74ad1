/* Guest kernels for the interpreter benchmark (benches/interp.rs).
 *
 * Each is built as its own static 32-bit executable (KERNEL selects which) with no C
 * library: `_start` runs the kernel, writes its 4-byte result to stdout and exits, using
 * Linux's `int $0x80`. The benchmark runs the very same file natively and in the
 * interpreter (which plays the kernel for those two system calls) and compares both the
 * time and the result. */

/* Repetitions (override with -D, e.g. through BENCH_CFLAGS, for a quick profile). */
#ifndef REPS_ALU
#define REPS_ALU 15000000u
#endif
#ifndef REPS_SIEVE
#define REPS_SIEVE 300u
#endif
#ifndef REPS_SORT
#define REPS_SORT 60u
#endif

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

/* ALU: adds, xors, shifts, rotates and a multiply on registers, no memory. */
__attribute__((noinline)) unsigned alu(unsigned n)
{
	unsigned a = 0x12345678, b = 0x9abcdef0, c = 7, d = 0;
	for (unsigned i = 0; i < n; i++) {
		a += b ^ i;
		b = (b << 3) | (b >> 29);
		c ^= a + (b & 0xff);
		d += (c >> 5) - a;
		a = a * 33 + d;
	}
	return a ^ b ^ c ^ d;
}

/* Memory: the sieve of Eratosthenes over a byte array, again and again. */
#define SIEVE_N 65536
static unsigned char composite[SIEVE_N];

__attribute__((noinline)) unsigned sieve(unsigned reps)
{
	unsigned count = 0;
	for (unsigned r = 0; r < reps; r++) {
		for (unsigned i = 0; i < SIEVE_N; i++)
			composite[i] = 0;
		count = 0;
		for (unsigned i = 2; i < SIEVE_N; i++) {
			if (composite[i])
				continue;
			count++;
			for (unsigned j = i + i; j < SIEVE_N; j += i)
				composite[j] = 1;
		}
	}
	return count;
}

/* Branches: quicksort of pseudo-random numbers (data-dependent, unpredictable). */
#define SORT_N 16384
static unsigned values[SORT_N];

static void quicksort(unsigned *v, int lo, int hi)
{
	while (lo < hi) {
		unsigned pivot = v[(lo + hi) / 2];
		int i = lo, j = hi;
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				unsigned t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				j--;
			}
		}
		if (j - lo < hi - i) {
			quicksort(v, lo, j);
			lo = i;
		} else {
			quicksort(v, i, hi);
			hi = j;
		}
	}
}

__attribute__((noinline)) unsigned sort(unsigned reps)
{
	unsigned seed = 1, check = 0;
	for (unsigned r = 0; r < reps; r++) {
		for (unsigned i = 0; i < SORT_N; i++) {
			seed = seed * 1103515245u + 12345u;
			values[i] = seed >> 7;
		}
		quicksort(values, 0, SORT_N - 1);
		check += values[SORT_N / 2] ^ values[17];
	}
	return check;
}

void _start(void)
{
#if KERNEL == 0
	unsigned result = alu(REPS_ALU);
#elif KERNEL == 1
	unsigned result = sieve(REPS_SIEVE);
#else
	unsigned result = sort(REPS_SORT);
#endif
	sys_write(1, &result, 4);
	sys_exit(0);
}
