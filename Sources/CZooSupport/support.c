#include "CZooSupport.h"
#ifdef __linux__
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#endif

int czoo_die_with_parent(void) {
#ifdef __linux__
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -1;
    /* The parent may have died before the call: then we were re-parented. */
    if (getppid() != parent || parent == 1) return -1;
    return 0;
#else
    return -1;
#endif
}
