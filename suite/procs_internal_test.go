package suite

import (
	"slices"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

// TestPlanJobsLongFirst: the specs a plan runs are handed out the longest
// sleepers first, then the other long ones, then the rest, each group in
// the plan's order, and a spec the filters left out is no job.
func TestPlanJobsLongFirst(t *testing.T) {
	var plan types.Report
	plan.SpecReports = append(plan.SpecReports, types.SpecReport{LeafNodeType: types.NodeTypeReportBeforeSuite, State: types.SpecStatePassed})
	for i, s := range Specs() {
		state := types.SpecStatePassed
		if i%5 == 0 && s.Sleeps == 0 {
			state = types.SpecStateSkipped
		}
		plan.SpecReports = append(plan.SpecReports, types.SpecReport{LeafNodeType: types.NodeTypeIt,
			ContainerHierarchyTexts: []string{s.Clause}, LeafNodeText: s.Text, State: state})
	}
	jobs, err := planJobs(plan)
	if err != nil {
		t.Fatal(err)
	}
	// A job's group: 0 the most sleeps … the fewest, then long, then short.
	group := func(s *Spec) [2]int {
		switch {
		case s.Sleeps > 0:
			return [2]int{0, -s.Sleeps}
		case s.Long != "":
			return [2]int{1, 0}
		}
		return [2]int{2, 0}
	}
	count := map[int]int{}
	last := [2]int{-1, -1 << 30}
	lastSlot := -1
	for i, j := range jobs {
		r := plan.SpecReports[j.slot]
		if r.State != types.SpecStatePassed || r.LeafNodeText != j.spec.Text || Specs()[j.idx] != j.spec {
			t.Fatalf("job %d: slot %d (%s %q) is spec %d %q", i, j.slot, r.State, r.LeafNodeText, j.idx, j.spec.Text)
		}
		g := group(j.spec)
		count[g[0]]++
		switch {
		case g[0] < last[0] || g[0] == last[0] && g[1] < last[1]:
			t.Errorf("job %d %s %q (group %v) handed out after a job of group %v", i, j.spec.Clause, j.spec.Text, g, last)
		case g == last && j.slot < lastSlot:
			t.Errorf("job %d (slot %d) out of the plan's order", i, j.slot)
		}
		last, lastSlot = g, j.slot
	}
	if count[0] == 0 || count[1] == 0 || count[2] == 0 {
		t.Errorf("%d sleeping, %d long and %d short jobs: the registry marks no spec Sleeps, Long, or all", count[0], count[1], count[2])
	}
	// A plan naming a spec the registry lacks is an error, not a lost spec.
	plan.SpecReports[1].LeafNodeText = "no such spec"
	plan.SpecReports[1].State = types.SpecStatePassed
	if _, err := planJobs(plan); err == nil {
		t.Error("planJobs accepted a spec the registry does not have")
	}
}

// TestSpecsUnique: a spec is found in the registry by clause and text, so
// no two specs may share both.
func TestSpecsUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Specs() {
		k := specKey(s.Clause, s.Text)
		if seen[k] {
			t.Errorf("two specs of %s say %q", s.Clause, s.Text)
		}
		seen[k] = true
	}
}

// TestJobQueueReserved: the sleepers at the head of the queue go to the
// extra children, the other children take every other job first, and a
// reserved job no extra child took is still run.
func TestJobQueueReserved(t *testing.T) {
	sleeper, other := &Spec{Sleeps: 2}, &Spec{}
	q := &jobQueue{jobs: []job{{slot: 0, spec: sleeper}, {slot: 1, spec: sleeper}, {slot: 2, spec: other}, {slot: 3, spec: other}}, reserved: 2}
	var got []int
	take := func(extra bool) bool {
		j, ok := q.take(extra)
		if ok {
			got = append(got, j.slot)
		}
		return ok
	}
	take(true)  // an extra child: the first sleeper
	take(false) // the others: past the reserved ones
	take(false)
	take(false) // only the second sleeper is left, and no extra child took it
	if take(true) || take(false) {
		t.Error("a job was handed out twice")
	}
	if want := []int{0, 2, 3, 1}; !slices.Equal(got, want) {
		t.Errorf("handed out slots %v, want %v", got, want)
	}
}
