/*
 * The generator's own metric families: every upstream ho11y_* metric with its name, type,
 * labels and buckets, the process_* metrics client_golang exposes, and ours (request duration,
 * requests in flight, downstream errors).
 *
 * Upstream (reference: client_golang defaults in ho11y's main.go):
 *   ho11y_total{http_status_code}           counter, one per GET / with its final status
 *   ho11y_randval                           gauge, N(0,1) every 5 s
 *   ho11y_randhist                          histogram, buckets -2 .. 2.5 step 0.5
 *   ho11y_downstream_payload_bytes{downstream}  summary without quantiles
 *   ho11y_downstream_duration_seconds       histogram, buckets 0.0001 * 2^k (k < 10), exemplar
 *                                           {traceid="1-..."}
 */
#ifndef HO11Y_GENERATOR_INSTRUMENTS_H
#define HO11Y_GENERATOR_INSTRUMENTS_H

#include <stdatomic.h>

#include "generator/metrics.h"

struct gen_instruments {
    struct metrics_registry *reg; /* borrowed */
    struct metric_family *total;
    struct metric *randval;
    struct metric *randhist;
    struct metric_family *payload;
    struct metric *duration;
    struct metric_family *downstream_errors;
    struct metric *request_duration;
    struct metric *in_flight;
    _Atomic(struct metric *) total_by_code[600]; /* cache of ho11y_total children */
};

/** Registers every family in reg (kept, not owned). Call once, before serving. */
void gen_instruments_init(struct gen_instruments *ins, struct metrics_registry *reg);

/** ho11y_total{http_status_code="<code>"} (code 100..599; others map to a NULL no-op child). */
struct metric *gen_instruments_total(struct gen_instruments *ins, int code);

/** One pass of upstream's randValues: sets ho11y_randval and observes ho11y_randhist. */
void gen_instruments_randomize(struct gen_instruments *ins);

/**
 * Registers process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_virtual_memory_max_bytes, process_start_time_seconds,
 * process_open_fds, process_max_fds (read from /proc at scrape time, as client_golang does) and
 * ho11y_process_resident_memory_peak_bytes (VmHWM).
 */
void gen_process_metrics_register(struct metrics_registry *reg);

#endif
