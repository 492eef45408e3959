package cluster

import (
	"fmt"
	"os"
	"strconv"
)

// Allocation is where the agents run: the job plugincheck runs in, or the
// nodes srun is to ask for.
type Allocation struct {
	Nodes     int    // 0: every node of the allocation
	Partition string // "" : the default partition
	// Bcast copies the agent binary to each node's local disk with srun
	// --bcast (no shared filesystem for the binary either).
	Bcast string
}

// InAllocation is the job plugincheck runs inside, and its node count; ok
// is false outside one.
func InAllocation() (job string, nodes int, ok bool) {
	job = os.Getenv("SLURM_JOB_ID")
	nodes, _ = strconv.Atoi(os.Getenv("SLURM_JOB_NUM_NODES"))
	if nodes == 0 {
		nodes, _ = strconv.Atoi(os.Getenv("SLURM_NNODES"))
	}
	return job, nodes, job != "" && nodes > 0
}

// SrunArgs is the one srun that starts an agent (agent: its argv) on each
// of n nodes. --input=all gives every agent what the coordinator writes;
// each task's stdout comes back merged. Inside an allocation srun takes its
// nodes; outside, it asks for n (in the partition), so the one launch is
// the allocation too.
func SrunArgs(n int, a Allocation, agent []string) []string {
	args := []string{"srun", "--job-name=plugincheck-cluster",
		fmt.Sprintf("--nodes=%d", n), fmt.Sprintf("--ntasks=%d", n), "--ntasks-per-node=1",
		"--input=all", "--kill-on-bad-exit=0"}
	if a.Partition != "" {
		args = append(args, "--partition="+a.Partition)
	}
	if a.Bcast != "" {
		args = append(args, "--bcast="+a.Bcast)
	}
	return append(append(args, "--"), agent...)
}
