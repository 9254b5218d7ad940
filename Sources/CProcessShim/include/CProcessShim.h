#ifndef EVALNET_CPROCESSSHIM_H
#define EVALNET_CPROCESSSHIM_H

#include <sys/types.h>

/// Makes the calling process a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`), so
/// orphaned descendants are re-parented to it and can be reaped. Returns 0 on success,
/// -1 when unsupported or refused.
int evalnet_set_child_subreaper(void);

/// 1 if `pid` (a child of the caller) has exited and is waiting to be reaped, 0 if it is
/// still running, -1 on error (errno set). Does not reap it (`WNOWAIT`), so the zombie
/// keeps its process-group id reserved until the caller reaps it.
int evalnet_child_has_exited(pid_t pid);

/// Pins the calling thread (and threads and processes it starts later) to the CPU it is
/// running on, remembering its previous CPU set. Returns that CPU, or -1 when unsupported or
/// refused. For benchmarks that compare figures measured on one core.
int evalnet_pin_to_current_cpu(void);

/// Gives the calling thread back the CPU set it had before `evalnet_pin_to_current_cpu`.
void evalnet_unpin_cpu(void);

#endif
