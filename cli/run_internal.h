/*
 * Shared between the files of `ho11yctl run` (cli/run.c: options, start-up and the event loop;
 * cli/run_report.c: metrics, trace printing and the summary). Not a public interface.
 */
#ifndef HO11Y_CLI_RUN_INTERNAL_H
#define HO11Y_CLI_RUN_INTERNAL_H

#include <stddef.h>
#include <poll.h>
#include <stdint.h>

#include "api/topology.h"
#include "cli/otlp_recv.h"
#include "cli/procs.h"

#define RUN_MAX_CODES 64

/* Counts by HTTP status code. */
struct run_codes {
    long code[RUN_MAX_CODES];
    long long count[RUN_MAX_CODES];
    size_t n;
};

struct run_service {
    const struct topo_service *s;
    size_t first;     /* index of replica 0 in run.procs */
    size_t nreplicas; /* 0: callers get a port that refuses connections */
    int started;
    int has_callers;
    int dead_fd; /* bound, not listening: the port of a service with no replicas */
    unsigned dead_port;
};

struct run {
    /* options */
    const char *file;
    const char *name;
    const char *ho11y;
    const char *otlp_endpoint;
    double rate;
    int rate_set;
    long long requests;  /* 0 = not given */
    int64_t duration_ns; /* 0 = not given */
    int64_t trace_wait_ns;
    int verbose;
    /* state */
    struct topology *t;
    struct run_service *svcs;
    struct proc *procs; /* service replicas in start order, then the load driver */
    size_t nprocs;
    size_t cap; /* room in procs */
    long load;  /* index of the load driver in procs, or -1 */
    const char *load_target;
    double load_rate;
    struct otlp_recv *recv;
    char *traces_url;
    int sigfd;
    int signals;      /* SIGINT/SIGTERM/SIGHUP received */
    long failed;      /* the first child that exited unexpectedly, or -1 */
    int start_failed; /* start-up did not complete */
    int64_t start_mono;
    int64_t last_load_poll;
    int requests_done;
    /* figures for the summary */
    struct run_codes answered; /* GET / answers of the services nobody calls */
    int answered_partial;      /* some entry replica could not be asked */
    uint64_t traces_printed, traces_incomplete;
};

/*
 * cli/run_exec.c. `fds` is scratch space for poll(2) with room for nprocs + 1 entries of the
 * final process count.
 */

/** Starts every service, leaves first, waiting for each batch to listen. 0 or -1 (reported). */
int run__start_services(struct run *r, struct pollfd *fds);

/** Starts the load driver when r->load_rate > 0 and waits for it. 0 or -1 (reported). */
int run__start_load(struct run *r, struct pollfd *fds);

/** Waits up to timeout_ms for output, signals and exits, handles them, prints traces. */
void run__poll(struct run *r, struct pollfd *fds, int timeout_ms);

/** Stops the load driver, reads the counts, stops the services, prints the remaining traces. */
void run__stop_all(struct run *r, struct pollfd *fds);

/** Reports the child r->failed: its label, pid, exit status and last log lines. */
void run__report_failure(struct run *r);

/* cli/run_report.c */

/** Prints every finished trace the receiver holds (all of them with all set). */
void run__print_traces(struct run *r, int all);

/** Reads ho11y_total of every replica of the services nobody calls into r->answered. */
void run__scrape_answers(struct run *r);

/** The load driver's ho11y_load_in_flight, or -1 when it cannot be read. */
long run__load_in_flight(struct run *r);

/** Prints the summary to stdout. */
void run__print_summary(struct run *r, const char *why);

/** The service a call to url reaches ("http://backend:8765/..." is "backend"), or NULL. */
const char *run__url_label(void *arg, const char *url);

#endif
