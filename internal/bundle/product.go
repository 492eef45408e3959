package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Product is the vendor's statement of what is being certified, the
// bundle's product.yaml.
type Product struct {
	Vendor      string `yaml:"vendor"`
	Product     string `yaml:"product"`
	Version     string `yaml:"version"`
	Contact     string `yaml:"contact"`
	URL         string `yaml:"url,omitempty"`
	Plugin      string `yaml:"plugin"`
	Description string `yaml:"description,omitempty"`
}

// productKeys are product.yaml's keys, in the order the documentation
// lists them; required ones first.
var productKeys = []struct {
	name     string
	required bool
	field    func(p *Product) *string
}{
	{"vendor", true, func(p *Product) *string { return &p.Vendor }},
	{"product", true, func(p *Product) *string { return &p.Product }},
	{"version", true, func(p *Product) *string { return &p.Version }},
	{"contact", true, func(p *Product) *string { return &p.Contact }},
	{"url", false, func(p *Product) *string { return &p.URL }},
	{"plugin", true, func(p *Product) *string { return &p.Plugin }},
	{"description", false, func(p *Product) *string { return &p.Description }},
}

// ProductError is a product statement that does not follow the schema.
type ProductError struct {
	Line int
	Msg  string
}

func (e *ProductError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// ReadProduct reads and checks a product statement file.
func ReadProduct(path string) (*Product, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	p, err := ParseProduct(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, data, nil
}

// ParseProduct checks a product statement against its schema: one YAML
// mapping of the known keys, each a string (version may be written as a
// number), the required ones non-empty, url an http(s) URL, plugin a file
// name. An unknown key, a duplicate key or a value of another type is an
// error naming the key.
func ParseProduct(data []byte) (*Product, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ProductError{Msg: "empty product statement (want vendor, product, version, contact, plugin)"}
		}
		return nil, &ProductError{Msg: "not valid YAML: " + strings.TrimPrefix(firstLine(err.Error()), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &ProductError{Line: extra.Line, Msg: "more than one YAML document"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, &ProductError{Line: root.Line, Msg: "want a mapping of vendor, product, version, contact, plugin, not " + nodeKind(root)}
	}
	p := &Product{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, &ProductError{Line: k.Line, Msg: "a key must be a plain name, not " + nodeKind(k)}
		}
		key := k.Value
		idx := -1
		for j, pk := range productKeys {
			if pk.name == key {
				idx = j
			}
		}
		if idx < 0 {
			return nil, &ProductError{Line: k.Line, Msg: fmt.Sprintf("unknown key %q (known: %s)", key, knownKeys())}
		}
		if seen[key] {
			return nil, &ProductError{Line: k.Line, Msg: fmt.Sprintf("key %q given twice", key)}
		}
		seen[key] = true
		ok := v.Kind == yaml.ScalarNode && (v.Tag == "!!str" || key == "version" && (v.Tag == "!!int" || v.Tag == "!!float"))
		if !ok {
			return nil, &ProductError{Line: v.Line, Msg: fmt.Sprintf("key %q must be a string, not %s", key, nodeKind(v))}
		}
		*productKeys[idx].field(p) = strings.TrimSpace(v.Value)
	}
	for _, pk := range productKeys {
		if pk.required && *pk.field(p) == "" {
			return nil, &ProductError{Msg: fmt.Sprintf("key %q is required and must not be empty", pk.name)}
		}
	}
	if p.URL != "" {
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, &ProductError{Msg: fmt.Sprintf("key \"url\" must be an http(s) URL, not %q", p.URL)}
		}
	}
	if strings.ContainsAny(p.Plugin, "/\x00") || p.Plugin == "." || p.Plugin == ".." {
		return nil, &ProductError{Msg: fmt.Sprintf("key \"plugin\" must be the plugin's file name, not a path: %q", p.Plugin)}
	}
	for _, pk := range productKeys {
		if v := *pk.field(p); strings.ContainsAny(v, "\n\r") && pk.name != "description" {
			return nil, &ProductError{Msg: fmt.Sprintf("key %q must be one line", pk.name)}
		}
	}
	return p, nil
}

func knownKeys() string {
	names := make([]string, len(productKeys))
	for i, pk := range productKeys {
		names[i] = pk.name
	}
	return strings.Join(names, ", ")
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		case "!!timestamp":
			return "a timestamp"
		case "!!binary":
			return "binary data"
		}
		return "a " + strings.TrimPrefix(n.Tag, "!!")
	}
	return "something else"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
