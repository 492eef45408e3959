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
// bundle's product.yaml. Its keys are those of Kubernetes conformance's
// PRODUCT.yaml, which vendors know; plugincheck's earlier names (product,
// contact, url) still work.
type Product struct {
	Vendor      string
	Product     string // name
	Version     string
	Contact     string // contact_email_address
	URL         string // website_url
	RepoURL     string
	DocsURL     string
	LogoURL     string
	Type        string
	Description string
	// Plugin is the certified plugin's file name; "" means the file given
	// to certify.
	Plugin string
}

// productKeys are product.yaml's keys, in the order the template lists
// them; a key may also be written by its older name.
var productKeys = []struct {
	name, old string
	required  bool
	url       bool
	comment   string
	field     func(p *Product) *string
}{
	{"vendor", "", true, false, "the company or project that ships the plugin", func(p *Product) *string { return &p.Vendor }},
	{"name", "product", true, false, "the product the plugin belongs to", func(p *Product) *string { return &p.Product }},
	{"version", "", true, false, "the product's version", func(p *Product) *string { return &p.Version }},
	{"contact_email_address", "contact", true, false, "whom to ask about this certification", func(p *Product) *string { return &p.Contact }},
	{"website_url", "url", false, true, "the product's web site", func(p *Product) *string { return &p.URL }},
	{"repo_url", "", false, true, "where its source is", func(p *Product) *string { return &p.RepoURL }},
	{"documentation_url", "", false, true, "its documentation", func(p *Product) *string { return &p.DocsURL }},
	{"product_logo_url", "", false, true, "a logo", func(p *Product) *string { return &p.LogoURL }},
	{"type", "", false, false, "e.g. distribution, installer, hosted; free text", func(p *Product) *string { return &p.Type }},
	{"description", "", false, false, "a few lines on what the plugin does", func(p *Product) *string { return &p.Description }},
	{"plugin", "", false, false, "the plugin's file name; default: the file given to certify", func(p *Product) *string { return &p.Plugin }},
}

// ProductTemplate is a commented product.yaml for a vendor to fill in
// (plugincheck certify --init-product).
func ProductTemplate() string {
	var b strings.Builder
	b.WriteString("# product.yaml: what plugincheck certify certifies. The keys are those of\n")
	b.WriteString("# Kubernetes conformance's PRODUCT.yaml; the required ones come first.\n")
	for _, k := range productKeys {
		req := "optional"
		if k.required {
			req = "required"
		}
		val := `""`
		if k.name == "description" {
			val = "|\n  "
		}
		fmt.Fprintf(&b, "\n# %s (%s)\n%s: %s\n", k.comment, req, k.name, val)
	}
	return b.String()
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
			return nil, &ProductError{Msg: "empty product statement (want " + requiredKeys() + ")"}
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
		return nil, &ProductError{Line: root.Line, Msg: "want a mapping of " + requiredKeys() + ", not " + nodeKind(root)}
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
			if pk.name == key || pk.old != "" && pk.old == key {
				idx = j
			}
		}
		if idx < 0 {
			return nil, &ProductError{Line: k.Line, Msg: fmt.Sprintf("unknown key %q (known: %s)", key, knownKeys())}
		}
		if name := productKeys[idx].name; seen[name] {
			return nil, &ProductError{Line: k.Line, Msg: fmt.Sprintf("key %q given twice", key)}
		}
		seen[productKeys[idx].name] = true
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
	for _, pk := range productKeys {
		if v := *pk.field(p); pk.url && v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return nil, &ProductError{Msg: fmt.Sprintf("key %q must be an http(s) URL, not %q", pk.name, v)}
			}
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
		if pk.old != "" {
			names[i] += " (or " + pk.old + ")"
		}
	}
	return strings.Join(names, ", ")
}

func requiredKeys() string {
	var names []string
	for _, pk := range productKeys {
		if pk.required {
			names = append(names, pk.name)
		}
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
