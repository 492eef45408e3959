package worker

import "runtime"

// Plugin calls must all run on one OS thread: thread_config and
// thread_clear keep thread-local state, and errno is per thread. Package
// initialisation runs on the main thread, so lock it there.
func init() {
	if Requested() {
		runtime.LockOSThread()
	}
}
