/* src/core/stop.c — the process-wide stop request (enevo/io.h). */
#include <signal.h>

#include "enevo/io.h"

static volatile sig_atomic_t stop_signal;

void enevo_request_stop(int signo) { stop_signal = signo ? signo : 1; }

int enevo_stop_requested(void) { return stop_signal; }

void enevo_clear_stop(void) { stop_signal = 0; }
