/*
 * The reference for the password benches: the system's libsodium called
 * directly, with Palisade's default Argon2id parameters (m=19456 KiB, t=2,
 * p=1, 16-byte salt, 32-byte tag).
 *
 *   cc -O2 -o sodium_pwhash sodium_pwhash.c $(pkg-config --cflags --libs libsodium)
 *
 *   sodium_pwhash hash            one crypto_pwhash_str of the first line of
 *                                 standard input, printed (what `palisade
 *                                 password hash` does)
 *   sodium_pwhash verify HASH     crypto_pwhash_str_verify of the first line
 *                                 of standard input against HASH: prints
 *                                 `valid` (exit 0) or `invalid` (exit 1)
 *   sodium_pwhash loop N          N crypto_pwhash_str calls in one process:
 *                                 prints min and median wall and thread CPU
 *                                 milliseconds per hash, the minor page
 *                                 faults per hash and the mean user and
 *                                 system time per hash
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define M_COST_KIB 19456
#define T_COST 2

static const size_t MEMLIMIT = (size_t)M_COST_KIB * 1024;

static size_t read_line(char *buf, size_t cap)
{
    if (fgets(buf, (int)cap, stdin) == NULL) {
        buf[0] = 0;
        return 0;
    }
    size_t len = strlen(buf);
    if (len > 0 && buf[len - 1] == '\n') buf[--len] = 0;
    if (len > 0 && buf[len - 1] == '\r') buf[--len] = 0;
    return len;
}

static double ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long minor_faults(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

/* User and system CPU time of this process so far, in milliseconds. */
static void cpu_ms(double *user, double *sys)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    *user = usage.ru_utime.tv_sec * 1e3 + usage.ru_utime.tv_usec / 1e3;
    *sys = usage.ru_stime.tv_sec * 1e3 + usage.ru_stime.tv_usec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summary(const char *what, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%s: min %.2f ms, median %.2f ms\n", what, v[0], v[n / 2]);
}

int main(int argc, char **argv)
{
    char pw[1026];
    char out[crypto_pwhash_STRBYTES];
    if (sodium_init() < 0) return 2;
    if (argc == 2 && strcmp(argv[1], "hash") == 0) {
        size_t len = read_line(pw, sizeof pw);
        if (crypto_pwhash_str(out, pw, len, T_COST, MEMLIMIT) != 0) return 2;
        sodium_memzero(pw, sizeof pw);
        puts(out);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "verify") == 0) {
        size_t len = read_line(pw, sizeof pw);
        int ok = crypto_pwhash_str_verify(argv[2], pw, len) == 0;
        sodium_memzero(pw, sizeof pw);
        puts(ok ? "valid" : "invalid");
        return ok ? 0 : 1;
    }
    if (argc == 3 && strcmp(argv[1], "loop") == 0) {
        int n = atoi(argv[2]);
        if (n < 1) return 2;
        double *wall = calloc((size_t)n, sizeof *wall);
        double *cpu = calloc((size_t)n, sizeof *cpu);
        if (wall == NULL || cpu == NULL) return 2;
        const char *password = "correct horse battery staple";
        long faults = minor_faults();
        double user0, sys0, user1, sys1;
        cpu_ms(&user0, &sys0);
        for (int i = 0; i < n; i++) {
            double w = ms(CLOCK_MONOTONIC), c = ms(CLOCK_THREAD_CPUTIME_ID);
            if (crypto_pwhash_str(out, password, strlen(password), T_COST, MEMLIMIT) != 0) return 2;
            cpu[i] = ms(CLOCK_THREAD_CPUTIME_ID) - c;
            wall[i] = ms(CLOCK_MONOTONIC) - w;
        }
        faults = minor_faults() - faults;
        cpu_ms(&user1, &sys1);
        printf("libsodium %s crypto_pwhash_str, m=%d KiB t=%d p=1, %d hashes\n",
               sodium_version_string(), M_COST_KIB, T_COST, n);
        summary("wall", wall, n);
        summary("thread cpu", cpu, n);
        printf("minor page faults: %.1f per hash\n", (double)faults / n);
        printf("mean per hash: user %.2f ms, system %.2f ms\n", (user1 - user0) / n,
               (sys1 - sys0) / n);
        return 0;
    }
    fprintf(stderr, "usage: %s hash | verify HASH | loop N\n", argv[0]);
    return 2;
}
