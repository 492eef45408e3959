package bundle

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader/profile"
	"github.com/plugincheck/plugincheck/suite"
)

func TestParseProduct(t *testing.T) {
	const base = "vendor: V\nproduct: P\ncontact: c@example.org\nplugin: auth_x.so\n"
	rows := []struct {
		name, yaml string
		want       string // error substring; "" for valid
	}{
		{"minimal", base + "version: \"1.0\"\n", ""},
		{"version as a number", base + "version: 2.10\n", ""},
		{"all keys", base + "version: 1\nurl: https://example.org/x\ndescription: |\n  two\n  lines\n", ""},
		{"unknown key", base + "version: 1\ncolour: blue\n", `line 6: unknown key "colour"`},
		{"list value", base + "version: 1\nurl: [a]\n", `line 6: key "url" must be a string, not a list`},
		{"mapping value", "vendor: {a: b}\n", `line 1: key "vendor" must be a string, not a mapping`},
		{"boolean value", base + "version: true\n", `key "version" must be a string, not a boolean`},
		{"number where a string is wanted", base + "version: 1\n" + "description: 5\n", `key "description" must be a string, not a number`},
		{"empty value", base + "version:\n", `key "version" must be a string, not null`},
		{"missing key", "vendor: V\nproduct: P\nversion: 1\nplugin: auth_x.so\n", `key "contact_email_address" is required`},
		{"blank required key", base + "version: \" \"\n", `key "version" is required`},
		{"duplicate key", base + "version: 1\nvendor: W\n", "vendor"},
		{"bad url", base + "version: 1\nurl: ftp://x\n", `key "website_url" must be an http(s) URL`},
		{"Kubernetes conformance names", "vendor: V\nname: P\nversion: 1\ncontact_email_address: c@example.org\nwebsite_url: https://example.org\n" +
			"repo_url: https://example.org/src\ndocumentation_url: https://example.org/doc\nproduct_logo_url: https://example.org/logo.png\ntype: installer\nplugin: auth_x.so\n", ""},
		{"a key by both its names", base + "version: 1\nname: Q\n", `key "name" given twice`},
		{"bad repo_url", base + "version: 1\nrepo_url: file:///src\n", `key "repo_url" must be an http(s) URL`},
		{"plugin path", strings.Replace(base, "auth_x.so", "lib/auth_x.so", 1) + "version: 1\n", "file name, not a path"},
		{"not a mapping", "- a\n- b\n", "want a mapping"},
		{"empty", "", "empty product statement"},
		{"two documents", base + "version: 1\n---\nvendor: W\n", "more than one YAML document"},
		{"not YAML", "vendor: [\n", "not valid YAML"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			p, err := ParseProduct([]byte(row.yaml))
			switch {
			case row.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case row.want == "" && (p.Vendor != "V" || p.Plugin != "auth_x.so" || p.Version == ""):
				t.Errorf("parsed %+v", p)
			case row.want != "" && err == nil:
				t.Fatalf("accepted; want an error saying %q", row.want)
			case row.want != "" && (!strings.Contains(err.Error(), row.want) || strings.Contains(err.Error(), "\n")):
				t.Errorf("error %q does not say %q in one line", err, row.want)
			}
		})
	}
}

// TestProductTemplate: certify --init-product's template names every key,
// is refused until the required ones are filled, and parses then, with
// the plugin left to default to the certified file.
func TestProductTemplate(t *testing.T) {
	tmpl := ProductTemplate()
	for _, k := range productKeys {
		if !strings.Contains(tmpl, "\n"+k.name+": ") {
			t.Errorf("the template lacks %s", k.name)
		}
	}
	if _, err := ParseProduct([]byte(tmpl)); err == nil || !strings.Contains(err.Error(), `key "vendor" is required`) {
		t.Errorf("the unfilled template: %v, want vendor required", err)
	}
	filled := strings.NewReplacer(`vendor: ""`, "vendor: V", `name: ""`, "name: P", `version: ""`, `version: "1.0"`,
		`contact_email_address: ""`, "contact_email_address: c@example.org").Replace(tmpl)
	p, err := ParseProduct([]byte(filled))
	if err != nil || p.Vendor != "V" || p.Product != "P" || p.Contact != "c@example.org" || p.Plugin != "" {
		t.Errorf("the filled template: %+v, %v", p, err)
	}
}

func TestNewerThan(t *testing.T) {
	rows := []struct {
		a, b string
		want bool
	}{
		{"v1.2.4", "v1.2.3", true},
		{"v1.10.0", "v1.9.9", true},
		{"v1.2.3", "v1.2.3", false},
		{"v1.2.3", "v1.2.4", false},
		{"v1.2.3", "v1.2.3-rc.1", true},
		{"v1.2.3-rc.2", "v1.2.3-rc.1", true},
		{"v1.2.3-rc.10", "v1.2.3-rc.9", true},
		{"v1.2.3-rc.1", "v1.2.3-1", true}, // alphanumeric identifiers rank above numeric ones
		{"v0.0.0-20260102000000-abcdef012345", "v0.0.0-20260101000000-abcdef012345", true},
		{"v1.2.3+dirty", "v1.2.3", false},
		{"(devel)", "v1.0.0", false},
		{"v9.0.0", "(devel)", false},
		{"", "v1.0.0", false},
		{"v1.2", "v1.0.0", false},
	}
	for _, row := range rows {
		if got := NewerThan(row.a, row.b); got != row.want {
			t.Errorf("NewerThan(%q, %q) = %v, want %v", row.a, row.b, got, row.want)
		}
	}
}

func TestManifest(t *testing.T) {
	dir := t.TempDir()
	for _, f := range Required {
		os.WriteFile(filepath.Join(dir, f), []byte("content of "+f), 0o644)
	}
	os.MkdirAll(filepath.Join(dir, "extra"), 0o755)
	os.WriteFile(filepath.Join(dir, "extra", "notes.txt"), []byte("n"), 0o644)
	data, err := WriteManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(Required)+1 || !strings.HasSuffix(lines[0], "  console.log") || !strings.HasSuffix(lines[2], "  extra/notes.txt") {
		t.Fatalf("MANIFEST:\n%s", data)
	}
	if entries, problems := checkManifest(dir, data); len(problems) > 0 || len(entries) != len(lines) {
		t.Fatalf("fresh manifest: %v", problems)
	}
	os.WriteFile(filepath.Join(dir, "extra", "notes.txt"), []byte("N"), 0o644)
	os.Remove(filepath.Join(dir, JUnit))
	_, problems := checkManifest(dir, data)
	var msgs []string
	for _, p := range problems {
		msgs = append(msgs, p.Error())
	}
	got := strings.Join(msgs, "\n")
	for _, want := range []string{"extra/notes.txt: SHA-256 differs from MANIFEST", "junit.xml: listed in MANIFEST but missing"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}

	for _, bad := range []struct{ manifest, want string }{
		{"", "empty"},
		{strings.Repeat("a", 64) + "  x", "newline"},
		{strings.Repeat("a", 63) + "  x\n", "line 1 is not"},
		{strings.Repeat("A", 64) + "  x\n", "line 1 is not"},
		{strings.Repeat("a", 64) + "  /etc/passwd\n", "outside the bundle"},
		{strings.Repeat("a", 64) + "  a/../../x\n", "outside the bundle"},
		{strings.Repeat("a", 64) + "  MANIFEST.sig\n", "cannot cover"},
		{strings.Repeat("a", 64) + "  x\n" + strings.Repeat("b", 64) + "  x\n", "second time"},
	} {
		if _, err := ParseManifest([]byte(bad.manifest)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseManifest(%q) = %v, want %q", bad.manifest, err, bad.want)
		}
	}
	if e, err := ParseManifest([]byte(strings.Repeat("a", 64) + " *binary name\n")); err != nil || e[0].Path != "binary name" {
		t.Errorf("sha256sum's binary mode line: %v %v", e, err)
	}
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k")
	pub, err := GenerateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", fi.Mode())
	}
	if _, err := GenerateKey(path); err == nil {
		t.Error("GenerateKey overwrote a key")
	}
	priv, err := ReadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadPublicKey(path + ".pub"); !got.Equal(pub) || !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatal("key pair does not match")
	}
	// The other accepted forms of the same key.
	seed := priv.Seed()
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	pkix, _ := x509.MarshalPKIXPublicKey(pub)
	for name, data := range map[string][]byte{
		"seed":        seed,
		"seed base64": []byte(base64.StdEncoding.EncodeToString(seed) + "\n"),
		"key base64":  []byte(base64.StdEncoding.EncodeToString(priv)),
		"pkcs8 pem":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, data, 0o600)
		if k, err := ReadPrivateKey(p); err != nil || !k.Equal(priv) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, data := range map[string][]byte{
		"pub base64": []byte(base64.StdEncoding.EncodeToString(pub) + "\n"),
		"pkix pem":   pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, data, 0o644)
		if k, err := ReadPublicKey(p); err != nil || !k.Equal(pub) {
			t.Errorf("%s: %v", name, err)
		}
	}
	broken := append([]byte(nil), priv...)
	broken[40] ^= 1
	os.WriteFile(filepath.Join(dir, "broken"), broken, 0o600)
	if _, err := ReadPrivateKey(filepath.Join(dir, "broken")); err == nil {
		t.Error("accepted a private key whose public half does not match")
	}
	if _, err := ReadPublicKey(path); err == nil {
		t.Error("accepted a 64-byte private key as a public key")
	}

	// Sign and check.
	os.WriteFile(filepath.Join(dir, Manifest), []byte("m\n"), 0o644)
	if err := Sign(dir, priv); err != nil {
		t.Fatal(err)
	}
	if err := checkSignature(dir, []byte("m\n"), pub); err != nil {
		t.Errorf("good signature: %v", err)
	}
	if err := checkSignature(dir, []byte("M\n"), pub); err == nil || !strings.HasPrefix(err.Error(), "MANIFEST.sig: ") {
		t.Errorf("signature of other bytes: %v", err)
	}
}

func TestBuildID(t *testing.T) {
	// A synthetic note section: an unrelated note, then the build-id.
	note := func(name string, typ uint32, desc []byte) []byte {
		n := append([]byte(name), 0)
		for len(n)%4 != 0 {
			n = append(n, 0)
		}
		d := append([]byte(nil), desc...)
		for len(d)%4 != 0 {
			d = append(d, 0)
		}
		h := make([]byte, 12)
		binary.LittleEndian.PutUint32(h[0:], uint32(len(name)+1))
		binary.LittleEndian.PutUint32(h[4:], uint32(len(desc)))
		binary.LittleEndian.PutUint32(h[8:], typ)
		return append(append(h, n...), d...)
	}
	data := append(note("GNU", 1, []byte{0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}), note("GNU", 3, []byte{0xde, 0xad, 0xbe, 0xef, 0x01})...)
	if got := findBuildID(data, binary.LittleEndian); got != "deadbeef01" {
		t.Errorf("findBuildID = %q", got)
	}
	if got := findBuildID(data[:len(data)-4], binary.LittleEndian); got != "" {
		t.Errorf("truncated note: %q", got)
	}

	id, err := BuildID(testenv.Fixture(t, "auth_good_2205.so"))
	if err != nil || len(id) != 40 {
		t.Errorf("fixture build-id %q, %v", id, err)
	}
	if _, err := BuildID(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("no error for a missing file")
	}
}

func TestRequiredClauses(t *testing.T) {
	auth := RequiredClauses(profile.Auth)
	ids := map[string]bool{}
	for _, c := range auth {
		if c.Level != suite.Must {
			t.Errorf("%s is %s", c.ID, c.Level)
		}
		ids[c.ID] = true
	}
	for _, want := range []string{"PLG-TYPE", "LIFE-INIT", "ERR-SET", "AUTH-TAMPER", "AUTH-EXPIRY"} {
		if !ids[want] {
			t.Errorf("auth plugins: %s not required", want)
		}
	}
	for _, not := range []string{"AUTH-REPLAY", "AUTH-LEAK", "AUTH-THREAD"} {
		if ids[not] {
			t.Errorf("auth plugins: %s (not MUST) required", not)
		}
	}
	for _, c := range RequiredClauses(profile.Cred) {
		if strings.HasPrefix(c.ID, "AUTH-") {
			t.Errorf("cred plugins: %s required", c.ID)
		}
	}
}
