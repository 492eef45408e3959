// Package reference is the root of plugincheck's oracle: small, independent
// Go models of the wire formats Slurm's auth and cred plugins produce and
// consume. A conformance check compares a plugin under test against these
// models, so each is written from the published formats and checked against
// the real implementation (munged, Slurm's own encodings), never derived
// from the code under test.
//
//   - reference/pack models Slurm's pack.c byte layout and its
//     release-dependent unpack limits.
//   - reference/munge models MUNGE v3 credentials as munged 0.5.15 encodes
//     and decodes them.
package reference
