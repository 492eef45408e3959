package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/plugincheck/plugincheck/suite"
)

// listCmd prints every spec: clause, level, labels and text.
func listCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-18s %-7s %-36s %s\n", "CLAUSE", "LEVEL", "LABELS", "SPEC")
	for _, s := range suite.Specs() {
		fmt.Fprintf(stdout, "%-18s %-7s %-36s %s\n", s.Clause, s.Level, strings.Join(s.Labels(), ","), s.Text)
	}
	return nil
}
