// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The capture object for kernels without BPF atomics (before 5.12: 5.10).
 * Their verifier refuses a program holding a compare-and-exchange or an
 * exchange anywhere, even in code a load-time constant makes dead ("BPF_STX
 * uses reserved fields"), so the pairing of short-term pins (the only user
 * of those instructions) is compiled out here. Everything else is
 * pintrace.bpf.c itself: the same programs, maps and global variables in
 * the same order, so user space opens this object through pintrace.bpf.c's
 * skeleton (src/capture/load.cpp; a unit test compares the two layouts).
 */
#define PT_NO_ATOMICS 1
#include "pintrace.bpf.c"
