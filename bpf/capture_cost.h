/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared by bpf/capture_cost.bpf.c and tests/bench/capture_cost_bench.cpp. */
#ifndef PINTRACE_CAPTURE_COST_H
#define PINTRACE_CAPTURE_COST_H

/* Real pages the bodies run on: iteration i uses page i % COST_PAGES. */
#define COST_PAGES 4096

/* Pairing in a per-CPU ring of this many recent grabs (ring_pair), and
 * in a row of this many slots per CPU (parked_pair, parked_miss). */
#define COST_RING 8

/* Rows of parked grabs: one per CPU of a 64-CPU host (docs/pairing.md). */
#define COST_ROWS 64

#endif
