/*
 * What /proc tells about this process, for the process_* metrics that Prometheus clients export.
 * Linux only; every function reads /proc afresh and is thread-safe.
 */
#ifndef HO11Y_COMMON_PROC_H
#define HO11Y_COMMON_PROC_H

/* The fields of /proc/self/stat the metrics use. */
struct proc_stat {
    unsigned long utime, stime;   /* clock ticks */
    unsigned long long starttime; /* clock ticks after boot */
    long rss;                     /* pages */
};

/** Reads /proc/self/stat into st (caller's storage); -1 when it cannot be read or parsed. */
int proc_self_stat(struct proc_stat *st);

/**
 * When this process started, in Unix seconds, as the Prometheus Go client computes it: the boot
 * time plus the start time of /proc/self/stat. An exec'ed image (the operator re-executes
 * itself) keeps the start of the first. 0 when /proc does not tell.
 */
double proc_start_time(void);

/**
 * The open file descriptors: the entries of /proc/self/fd, the one reading them included, as
 * the Prometheus Go client counts them. -1 when the directory cannot be read.
 */
long proc_open_fds(void);

#endif
