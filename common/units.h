/*
 * Parsers for the units ho11y uses: Go durations ("42ms", "1.5s", "1h2m") and byte sizes with
 * binary units ("187kB" = 191488 bytes, "64MiB"), as the upstream generator reads them.
 */
#ifndef HO11Y_COMMON_UNITS_H
#define HO11Y_COMMON_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/**
 * Parses a Go duration (time.ParseDuration syntax: optional sign, one or more decimal numbers
 * each with a unit ns us µs ms s m h; "0" alone is allowed) into nanoseconds. Negative values
 * and values above INT64_MAX ns are HO11Y_INVAL / HO11Y_LIMIT. Pure, thread-safe.
 */
enum ho11y_err ho11y_duration_parse(const char *s, int64_t *ns);

/**
 * Parses a byte size: a non-negative integer followed by an optional case-insensitive unit
 * b, byte(s), k, kb, kib, kilo, kilobyte(s), m, mb, mib, mega, megabyte(s), g.., t.., p.., e..;
 * units are binary (1 kB = 1024 B) as in the upstream generator. A capital prefix with a lower
 * case "b" alone ("Kb", "Mb") means bits and is refused, as upstream does. Overflow: HO11Y_LIMIT.
 */
enum ho11y_err ho11y_size_parse(const char *s, uint64_t *bytes);

/** Formats nanoseconds the way Go's Duration.String does ("1.5s", "42ms", "0s"). */
void ho11y_duration_format(int64_t ns, char *out, unsigned outlen);

/**
 * d truncated toward zero and saturated into long long's range (infinities included); NaN is 0.
 * A plain cast of an out-of-range double is undefined behaviour, and doubles read from JSON or
 * text from elsewhere can hold anything. Pure.
 */
long long ho11y_dtoll(double d);

/**
 * Formats v as Go's strconv.FormatFloat(v, 'g', -1, 64) does, which is how the Prometheus Go
 * client writes sample values and `le` bounds ("1", "0.0001", "9.999999999999999e-06",
 * "1.234567e+06", "+Inf", "NaN"); with om, appends ".0" when the result has neither '.' nor 'e'
 * (OpenMetrics). out gets at most outlen bytes (32 suffice). Pure.
 */
void ho11y_float_format(double v, bool om, char *out, size_t outlen);

#endif
