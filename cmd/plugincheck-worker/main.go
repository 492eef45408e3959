// Command plugincheck-worker is the process plugincheck runs a plugin in,
// as a binary of its own: it links the loader's worker and nothing else,
// so it starts in a fraction of the time the whole plugincheck takes.
// plugincheck uses it when it lies beside plugincheck's own binary (make
// build puts it there) or PLUGINCHECK_WORKER_BINARY names it, and only if
// it was built from the same source; otherwise plugincheck runs workers in
// its own binary.
package main

import "github.com/plugincheck/plugincheck/loader"

func main() { loader.WorkerMain() }
