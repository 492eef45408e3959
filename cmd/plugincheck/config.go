package main

import (
	"flag"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/plugincheck/plugincheck/internal/fileinfo"
)

// applyConfig sets the flags a YAML config file names, except those given
// on the command line, which win. Keys are flag names ("auth-ttl",
// "slurm-lib"); a repeatable flag takes a list. An unknown key, a nested
// value or a value the flag rejects is a usage error naming the key.
func applyConfig(fs *flag.FlagSet, path string, notAllowed ...string) error {
	data, err := fileinfo.ReadRegular(path, 1<<20)
	if err != nil {
		return &usageError{fmt.Sprintf("--config %s: %s", path, strings.TrimPrefix(pathless(err), path+" "))}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return &usageError{fmt.Sprintf("--config %s: not YAML: %v", path, err)}
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return &usageError{fmt.Sprintf("--config %s: want a mapping of flag names to values", path)}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	banned := map[string]bool{"config": true}
	for _, n := range notAllowed {
		banned[n] = true
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i].Value, root.Content[i+1]
		if fs.Lookup(key) == nil || banned[key] {
			return &usageError{fmt.Sprintf("--config %s: line %d: unknown key %q", path, root.Content[i].Line, key)}
		}
		if given[key] {
			continue
		}
		var values []string
		switch val.Kind {
		case yaml.ScalarNode:
			values = []string{val.Value}
		case yaml.SequenceNode:
			if _, repeatable := fs.Lookup(key).Value.(*multiFlag); !repeatable {
				return &usageError{fmt.Sprintf("--config %s: line %d: %s takes one value, not a list", path, val.Line, key)}
			}
			for _, item := range val.Content {
				if item.Kind != yaml.ScalarNode {
					return &usageError{fmt.Sprintf("--config %s: line %d: %s: want a list of strings", path, item.Line, key)}
				}
				values = append(values, item.Value)
			}
		default:
			return &usageError{fmt.Sprintf("--config %s: line %d: %s: want a value, not a mapping", path, val.Line, key)}
		}
		for _, v := range values {
			if err := fs.Set(key, v); err != nil {
				return &usageError{fmt.Sprintf("--config %s: line %d: %s: %v", path, val.Line, key, err)}
			}
		}
	}
	return nil
}
