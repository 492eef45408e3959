package cluster

import (
	"html/template"
	"io"
)

// htmlReport is the cluster report as one self-contained page: the node ×
// clause table, both matrices with every cell's detail on hover, the
// clauses with their evidence.
var htmlReport = template.Must(template.New("cluster").Funcs(template.FuncMap{
	"cell": func(c Cell, own bool) string {
		s := map[Status]string{Passed: "ok", Failed: "FAIL", NotTested: "–"}[c.Status]
		if own && c.Status != Failed {
			s = "(" + s + ")"
		}
		return s
	},
	"class": func(s Status) string {
		return map[Status]string{Passed: "pass", Failed: "fail", NotTested: "nt"}[s]
	},
	"matrix": func(nodes []*Node, m [][]Cell) matrixView { return matrixView{nodes, m} },
	"status": func(n *Node, id string) Status {
		if st := n.Clauses[id]; st != "" {
			return st
		}
		return NotTested
	},
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>plugincheck cluster: {{.PluginType}}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.pass{background:#dfd}.fail{background:#fcc}.nt{background:#eee}pre{white-space:pre-wrap;margin:.2em 0}
</style></head><body>
<h1>{{.PluginType}} on {{len .Nodes}} node(s)</h1>
<p>{{.Plugin}}{{if .Virtual}} — virtual cluster, Slurm {{.Release}}{{end}}; {{.Launches}} srun launch; {{printf "%.1f" .Seconds}} s;
clock skew between nodes {{printf "%.1f" .SkewMS}} ms (± {{printf "%.1f" .SkewErrMS}} ms)</p>
<h2>Nodes</h2>
<table><tr><th>node</th><th>host</th><th>Slurm</th>{{range $.Clauses}}<th>{{.ID}}</th>{{end}}<th>clock offset</th></tr>
{{range $n := .Nodes}}<tr><td>{{$n.Name}}</td><td>{{$n.Host}}</td><td>{{$n.Slurm}}</td>
{{range $.Clauses}}{{$st := status $n .ID}}<td class="{{class $st}}">{{$st}}</td>{{end}}
<td>{{with $n.Offset}}{{printf "%+.1f ms" .}}{{end}}</td></tr>
{{end}}</table>
{{define "matrix"}}<table><tr><th></th>{{range .Nodes}}<th>{{.Name}}</th>{{end}}</tr>
{{range $i, $row := .M}}<tr><th>{{(index $.Nodes $i).Name}}</th>{{range $j, $c := $row}}<td class="{{class $c.Status}}" title="{{$c.Detail}}">{{cell $c (eq $i $j)}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .Interop}}<h2>Interop</h2><p>A credential created on the row's node, verified on the column's; the diagonal is the node's own (a control). Hover for the detail.</p>
{{template "matrix" (matrix .Nodes .Interop)}}{{end}}
{{if .Refuse}}<h2>Refuse</h2><p>A credential created with another key on the row's node, on the column's: ok means refused.</p>
{{template "matrix" (matrix .Nodes .Refuse)}}{{end}}
<h2>Clauses</h2>
<table>{{range .Results}}<tr class="{{class .Status}}"><td>{{.Status}}</td><td>{{.ID}}</td><td>{{.Level}}</td><td>{{.Detail}}{{range .Evidence}}<pre>{{.}}</pre>{{end}}</td></tr>{{end}}</table>
</body></html>
`))

// matrixView is what the matrix template shows.
type matrixView struct {
	Nodes []*Node
	M     [][]Cell
}

// WriteHTML writes the report as a self-contained HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	return htmlReport.Execute(w, struct {
		*Report
		Clauses []struct{ ID, Level string }
	}{r, Clauses})
}
