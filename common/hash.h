/* Hashing helpers (OpenSSL). */
#ifndef HO11Y_COMMON_HASH_H
#define HO11Y_COMMON_HASH_H

#include <stddef.h>

/** Writes the lowercase hex SHA-256 of data into out (65 bytes with the NUL). Thread-safe. */
void ho11y_sha256_hex(const void *data, size_t len, char out[65]);

/** The value of a lowercase hex digit (0-9, a-f), or -1 for any other character. Pure. */
int ho11y_hex_digit(char c);

/** 64-bit FNV-1a of a string, for hash tables (not for security). */
unsigned long long ho11y_fnv1a(const char *s);

#endif
