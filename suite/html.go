package suite

import (
	_ "embed"
	"html/template"
	"io"
	"strings"
)

// The HTML report is one self-contained page — no script, style or font
// from the network — so that it can be archived in a bundle, mailed, or
// opened from a CI artifact years later.

//go:embed html_report.tmpl
var htmlReportText string

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"resultClass": resultClass,
	"clauseText":  func(id string) string { return Contract[id].Text },
	"clauseSource": func(id string) string {
		return Contract[id].Source
	},
	"title": func(id string) string {
		for _, c := range Clauses {
			if c.ID == id {
				return c.Title
			}
		}
		return ""
	},
	"evidence": func(cr ClauseResult) []SpecResult {
		var out []SpecResult
		for _, s := range cr.Specs {
			if s.Result == Failed || s.Result == Warning || s.Result == NotTested {
				out = append(out, s)
			}
		}
		return out
	},
}).Parse(htmlReportText))

// resultClass is the CSS class, and filter value, of a result.
func resultClass(r Result) string {
	return strings.ReplaceAll(strings.ToLower(string(r)), " ", "-")
}

// WriteHTML writes the HTML report of one or more plugins' runs: for each,
// the verdict, the plugin and host facts, and the clause table with level
// and result, each failure's evidence and each clause's full text, with
// filters by result.
func WriteHTML(w io.Writer, summaries []*Summary) error {
	return htmlReport.Execute(w, summaries)
}
