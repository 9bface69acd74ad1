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
#ifndef REPS_DOT
#define REPS_DOT 2000u
#endif
#ifndef STEPS_NBODY
#define STEPS_NBODY 200000u
#endif
#ifndef REPS_TRIG
#define REPS_TRIG 100000u
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

/* The x87 kernels (built with -mfpmath=387: every double operation is an x87
 * instruction, in the 64-bit precision Linux starts processes with). Their results are
 * bits of doubles, so native and interpreted runs must agree exactly. */

/* Floating point, streaming: a dot product of two arrays of doubles. */
#define DOT_N 4096
static double xs[DOT_N], ys[DOT_N];

__attribute__((noinline)) unsigned dot(unsigned reps)
{
	for (unsigned i = 0; i < DOT_N; i++) {
		xs[i] = (double)(i % 97) / 7.0 - 3.0;
		ys[i] = 1.0 / (double)(i + 1);
	}
	double total = 0.0;
	for (unsigned r = 0; r < reps; r++) {
		double s = 0.0;
		for (unsigned i = 0; i < DOT_N; i++)
			s += xs[i] * ys[i];
		total += s * (double)(r + 1);
	}
	union { double d; unsigned long long u; } v = { total };
	return (unsigned)v.u ^ (unsigned)(v.u >> 32);
}

/* Floating point, dependent arithmetic with divisions and square roots: five bodies
 * under gravity, stepped with Euler's method. */
struct body { double x, y, z, vx, vy, vz, m; };
static struct body bodies[5] = {
	{ 0, 0, 0, 0, 0, 0, 39.47841760435743 },
	{ 4.84, -1.16, -0.10, 0.606, 2.81, -0.025, 0.0377 },
	{ 8.34, 4.12, -0.40, -1.01, 1.82, 0.008, 0.0113 },
	{ 12.89, -15.11, -0.22, 1.08, 0.868, -0.010, 0.0017 },
	{ 15.37, -25.91, 0.17, 0.979, 0.594, -0.034, 0.0020 },
};

__attribute__((noinline)) unsigned nbody(unsigned steps)
{
	const double dt = 0.001;
	for (unsigned s = 0; s < steps; s++) {
		for (int i = 0; i < 5; i++) {
			for (int j = i + 1; j < 5; j++) {
				double dx = bodies[i].x - bodies[j].x;
				double dy = bodies[i].y - bodies[j].y;
				double dz = bodies[i].z - bodies[j].z;
				double d2 = dx * dx + dy * dy + dz * dz;
				double mag = dt / (d2 * __builtin_sqrt(d2));
				bodies[i].vx -= dx * bodies[j].m * mag;
				bodies[i].vy -= dy * bodies[j].m * mag;
				bodies[i].vz -= dz * bodies[j].m * mag;
				bodies[j].vx += dx * bodies[i].m * mag;
				bodies[j].vy += dy * bodies[i].m * mag;
				bodies[j].vz += dz * bodies[i].m * mag;
			}
		}
		for (int i = 0; i < 5; i++) {
			bodies[i].x += dt * bodies[i].vx;
			bodies[i].y += dt * bodies[i].vy;
			bodies[i].z += dt * bodies[i].vz;
		}
	}
	union { double d; unsigned long long u; } v = { bodies[1].x + bodies[2].y };
	return (unsigned)v.u ^ (unsigned)(v.u >> 32);
}

/* Floating point, transcendental: FSIN, FCOS, FPATAN and FYL2X. Their last bit may differ
 * from the processor's (the crate docs say how often), so the result is a coarse sum. */
static inline double x87_sin(double x) { double r; __asm__("fsin" : "=t"(r) : "0"(x)); return r; }
static inline double x87_cos(double x) { double r; __asm__("fcos" : "=t"(r) : "0"(x)); return r; }
static inline double x87_atan2(double y, double x)
{
	double r;
	__asm__("fpatan" : "=t"(r) : "0"(x), "u"(y) : "st(1)");
	return r;
}
static inline double x87_log2(double x)
{
	double r;
	__asm__("fld1; fxch; fyl2x" : "=t"(r) : "0"(x));
	return r;
}

__attribute__((noinline)) unsigned trig(unsigned reps)
{
	double s = 0.0;
	for (unsigned r = 0; r < reps; r++) {
		double x = (double)(r % 1000) * 0.001 + 0.5;
		s += x87_sin(x) * x87_cos(x) + x87_atan2(x, 2.0) + x87_log2(x + 1.0);
	}
	return (unsigned)(s * 16.0);
}

void _start(void)
{
#if KERNEL == 0
	unsigned result = alu(REPS_ALU);
#elif KERNEL == 1
	unsigned result = sieve(REPS_SIEVE);
#elif KERNEL == 2
	unsigned result = sort(REPS_SORT);
#elif KERNEL == 3
	unsigned result = dot(REPS_DOT);
#elif KERNEL == 4
	unsigned result = nbody(STEPS_NBODY);
#else
	unsigned result = trig(REPS_TRIG);
#endif
	sys_write(1, &result, 4);
	sys_exit(0);
}
