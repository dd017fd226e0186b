// The sizes a program may reach. Kept here, in the language, so that the
// validator, the generator's bounds and the sim's filesystems agree.

/**
 * The largest file a program may make or write into: the simulated
 * filesystems' s_maxbytes (64 MiB). The sim holds every file's data, its
 * shadow model and the final read-back in memory. A real kernel's limit is
 * terabytes: a write the sim refused with -EFBIG would succeed there, so a
 * program that reaches past this is refused when it is read, never run to a
 * result the kernel would not give.
 */
export const MAX_FILE_BYTES = 2 ** 26;
