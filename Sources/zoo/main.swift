import Glibc
import ZooCommands

// A full disk or a file-size limit must surface as a write error with a
// message, not kill the process with SIGXFSZ.
signal(SIGXFSZ, SIG_IGN)
ZooCommand.main()
