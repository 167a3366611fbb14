/*
 * Child processes of `ho11yctl run`: one ho11y per service replica, plus the load driver.
 *
 * A child runs in its own process group (so a Ctrl-C at the terminal reaches ho11yctl only,
 * which then stops the children in order) and gets SIGTERM if ho11yctl dies without cleaning up
 * (PR_SET_PDEATHSIG), so no child outlives the run. Its standard output and error go to one
 * pipe that the caller drains with proc_read: the JSON log lines tell the port the child listens
 * on and, for the load driver, when it has sent everything and its final counts. The last lines
 * are kept to show why a child died.
 *
 * Not thread-safe: one thread owns the procs.
 */
#ifndef HO11Y_CLI_PROCS_H
#define HO11Y_CLI_PROCS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/error.h"

#define PROC_TAIL_LINES 12
#define PROC_LINE_MAX   8192

struct proc_load_summary {
    int seen; /* the load driver's final "load stopped" line was read */
    long long sent, completed, errors, skipped;
};

/* A generator's span counts from its final "Stopped" line. */
struct proc_span_summary {
    int seen;
    long long exported, dropped, rejected;
};

struct proc {
    char *label;       /* "frontend", "frontend[1]", "load"; owned */
    pid_t pid;         /* 0 before spawning */
    int fd;            /* read end of the output pipe; -1 once closed */
    unsigned port;     /* from the "listening" log line; 0 until known */
    int exited;        /* reaped */
    int status;        /* wait status once exited */
    int stopping;      /* ho11yctl asked it to stop (its exit is expected) */
    int killed;        /* ho11yctl sent SIGKILL */
    int load_finished; /* the load driver logged that it sent every request */
    struct proc_load_summary load;
    struct proc_span_summary spans;
    struct hbuf line; /* the current partial line */
    char *tail[PROC_TAIL_LINES];
    size_t ntail; /* lines written into tail so far (ring index = ntail % size) */
};

/** Prepares p (caller-owned storage) for a child called label (copied). */
void proc_init(struct proc *p, const char *label);

/** Frees what p owns and closes its pipe; does not signal or wait for the child. */
void proc_cleanup(struct proc *p);

/**
 * Starts path with argv[0] = path and exactly the environment envp (NULL-terminated, borrowed).
 * Everything is prepared before fork, so this is safe in a threaded program. On failure writes
 * a message into err. A failing exec shows as the child exiting with status 127 and a line in
 * its output.
 */
enum ho11y_err proc_spawn(struct proc *p, const char *path, char *const envp[], char *err,
                          size_t errlen);

/**
 * Reads what the child wrote (non-blocking) and handles each complete line; with echo set,
 * every line is also written there prefixed with the label. At end of file the pipe is closed.
 */
void proc_read(struct proc *p, FILE *echo);

/** Sends sig to the child when it is running; marks it as stopping for SIGTERM and SIGKILL. */
void proc_signal(struct proc *p, int sig);

/** Records the wait status of the reaped child. */
void proc_reaped(struct proc *p, int status);

/** "exited with status 1", "was killed by signal 9" for a reaped child. */
void proc_describe_exit(const struct proc *p, char *out, size_t outlen);

/** Writes the kept last lines of output, each indented, to out. */
void proc_print_tail(const struct proc *p, FILE *out);

#endif
