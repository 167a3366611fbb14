#include "proc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int proc_self_stat(struct proc_stat *st)
{
    FILE *f = fopen("/proc/self/stat", "r");
    char buf[1024];
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    memset(st, 0, sizeof(*st));
    /* Fields after the command: state(3) ... utime(14) stime(15) ... starttime(22) vsize(23)
     * rss(24). */
    if (!p)
        return -1;
    /* NOLINTNEXTLINE(cert-err34-c): the kernel writes these numbers */
    int got = sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
                     "%*d %*d %llu %*u %ld",
                     &st->utime, &st->stime, &st->starttime, &st->rss);
    return got == 4 ? 0 : -1;
}

/* The boot time (Unix seconds) from the "btime" line of /proc/stat; 0 when not found. */
static long long boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    long long btime = 0;
    int line_start = 1;
    /* The "intr" line is longer than the buffer: only a piece that starts a line counts. */
    while (f && !btime && fgets(line, sizeof(line), f)) {
        if (line_start && strncmp(line, "btime ", 6) == 0) {
            char *end;
            long long v = strtoll(line + 6, &end, 10);
            if (end != line + 6 && v > 0)
                btime = v;
        }
        line_start = strchr(line, '\n') != NULL;
    }
    if (f)
        fclose(f);
    return btime;
}

double proc_start_time(void)
{
    struct proc_stat st;
    long long btime = boot_time();
    if (!btime || proc_self_stat(&st))
        return 0;
    return (double)btime + (double)st.starttime / (double)sysconf(_SC_CLK_TCK);
}

long proc_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    const struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}
