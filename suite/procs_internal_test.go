package suite

import (
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

// TestPlanJobsLongFirst: the specs a plan runs are handed out the long
// ones first, each group in the plan's order, and a spec the filters left
// out is no job.
func TestPlanJobsLongFirst(t *testing.T) {
	var plan types.Report
	plan.SpecReports = append(plan.SpecReports, types.SpecReport{LeafNodeType: types.NodeTypeReportBeforeSuite, State: types.SpecStatePassed})
	for i, s := range Specs() {
		state := types.SpecStatePassed
		if i%5 == 0 {
			state = types.SpecStateSkipped
		}
		plan.SpecReports = append(plan.SpecReports, types.SpecReport{LeafNodeType: types.NodeTypeIt,
			ContainerHierarchyTexts: []string{s.Clause}, LeafNodeText: s.Text, State: state})
	}
	jobs, err := planJobs(plan)
	if err != nil {
		t.Fatal(err)
	}
	long, short := 0, 0
	lastSlot := map[bool]int{}
	for i, j := range jobs {
		r := plan.SpecReports[j.slot]
		if r.State != types.SpecStatePassed || r.LeafNodeText != j.spec.Text || Specs()[j.idx] != j.spec {
			t.Fatalf("job %d: slot %d (%s %q) is spec %d %q", i, j.slot, r.State, r.LeafNodeText, j.idx, j.spec.Text)
		}
		isLong := j.spec.Long != ""
		if isLong {
			long++
			if short > 0 {
				t.Errorf("long spec %s %q handed out after %d short ones", j.spec.Clause, j.spec.Text, short)
			}
		} else {
			short++
		}
		if j.slot < lastSlot[isLong] {
			t.Errorf("job %d (slot %d) out of the plan's order", i, j.slot)
		}
		lastSlot[isLong] = j.slot
	}
	if long == 0 || short == 0 {
		t.Errorf("%d long and %d short jobs: the registry marks no spec Long, or all", long, short)
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
