#define _GNU_SOURCE 1
#include "CProcessShim.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

int evalnet_set_child_subreaper(void) {
#if defined(__linux__) && defined(PR_SET_CHILD_SUBREAPER)
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int evalnet_child_has_exited(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        return -1;
    }
    return info.si_pid == pid ? 1 : 0;
}

#ifdef __linux__
#include <sched.h>
static cpu_set_t evalnet_saved_cpus;
static int evalnet_have_saved_cpus;

int evalnet_pin_to_current_cpu(void) {
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE) return -1;
    if (sched_getaffinity(0, sizeof evalnet_saved_cpus, &evalnet_saved_cpus) == 0) evalnet_have_saved_cpus = 1;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? cpu : -1;
}

void evalnet_unpin_cpu(void) {
    if (evalnet_have_saved_cpus) sched_setaffinity(0, sizeof evalnet_saved_cpus, &evalnet_saved_cpus);
}
#else
int evalnet_pin_to_current_cpu(void) { return -1; }
void evalnet_unpin_cpu(void) {}
#endif
