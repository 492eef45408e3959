// Package loader is everything in plugincheck that touches native code.
//
// It inspects a plugin's ELF file (InspectPlugin, OpenObject), works out its API
// generation (package profile) and the host library it needs (Open), and runs it
// in worker processes: the same binary re-executed in a hidden mode that
// loads the host's libslurmfull.so and the plugin and serves calls over a
// pair of pipes (ServeWorkerIfRequested, Sandbox, Worker). Auth and Cred
// are typed facades over those calls in the form the generation's framework
// uses them; BenchRun, RunNative and FuzzWorker run loops inside a worker.
//
// The parent never loads a plugin: a crash, hang, exit or closed
// descriptor in plugin code ends only the worker, and comes back as a
// CrashError, HangError, ExitError or ClobberError naming the function
// that was running. A worker that cannot start is a SetupError; bad input
// to the tool (a path that is no plugin, a missing host) is an InputError.
package loader
