package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/suite"
)

// chromium is Debian's headless browser (make test installs it).
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		return testenv.Need(t, "chromium (apt-get install chromium)", "/usr/bin/chromium")
	}
	return path
}

// headless runs Chromium on a local page with no network use of its own.
func headless(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, chromium(t), append(base, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return out
}

// TestHTMLReportInChromium renders the HTML report of a plugin that fails a
// MUST clause in a real browser and checks what a reader sees: the verdict,
// one row per clause with its result, and the failure's evidence. The
// screenshot is kept in bin/artifacts.
func TestHTMLReportInChromium(t *testing.T) {
	host := need(t, filepath.Join(realDir(t, "22.05"), "libslurmfull.so"))
	plugin := need(t, filepath.Join(fixtures(t), "auth_bad_tamper.so"))
	dir := t.TempDir()
	page, summaryPath := filepath.Join(dir, "report.html"), filepath.Join(dir, "summary.json")
	r := cli(t, "--slurm-lib", host, "--no-color", "--html-report", page, "--summary-json", summaryPath, plugin)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %s", r.code, r.stderr)
	}
	var sum suite.Summary
	data, err := os.ReadFile(summaryPath)
	if err == nil {
		err = json.Unmarshal(data, &sum)
	}
	if err != nil {
		t.Fatal(err)
	}
	if html, _ := os.ReadFile(page); regexp.MustCompile(`(?i)(src|href)="https?:`).Match(html) {
		t.Errorf("the report loads something from the network")
	}

	dom := string(headless(t, "--dump-dom", "file://"+page))
	if m := regexp.MustCompile(`<div class="verdict not-conformant" id="verdict-0">([^<]*)</div>`).FindStringSubmatch(dom); m == nil || m[1] != sum.Verdict {
		t.Errorf("rendered verdict %q, want %q", m, sum.Verdict)
	}
	rows := regexp.MustCompile(`<tr class="clause [a-z-]+" data-result="([a-z-]+)" id="0-([A-Z0-9-]+)"( hidden="")?>`).FindAllStringSubmatch(dom, -1)
	if len(rows) != len(sum.Clauses) {
		t.Fatalf("%d clause rows rendered, want %d", len(rows), len(sum.Clauses))
	}
	for i, c := range sum.Clauses {
		if rows[i][2] != c.ID || rows[i][1] != resultClassOf(c.Result) || rows[i][3] != "" {
			t.Errorf("row %d: %q, want %s %s shown", i, rows[i][0], c.ID, c.Result)
		}
	}
	tamper := dom[strings.Index(dom, `id="0-AUTH-TAMPER"`):]
	tamper = tamper[:strings.Index(tamper, "</tr>")]
	if !strings.Contains(tamper, `<pre class="evidence">`) || !strings.Contains(tamper, "verifies as uid") {
		t.Errorf("AUTH-TAMPER's row shows no evidence:\n%s", tamper)
	}

	artifacts := filepath.Join(testenv.RepoRoot(t), "bin", "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "report.png")
	headless(t, "--window-size=1280,1800", "--screenshot="+shot, "file://"+page)
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("no screenshot at %s: %v", shot, err)
	}
}

func resultClassOf(r suite.Result) string {
	return strings.ReplaceAll(strings.ToLower(string(r)), " ", "-")
}
