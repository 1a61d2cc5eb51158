// Package migrate turns an existing serverless app into a ferry app: it
// reads a SAM template, a CloudFormation template (CDK's synthesized
// cdk.out/*.template.json included), a serverless.yml or an Azure
// Functions app folder, writes the ferry.yaml that serves the same
// functions, routes, schedules and asynchronous settings, ports each Go
// handler in place (the one import line, and its go.mod), and reports
// for every resource and event whether it was ported, needs attention,
// or is not supported, with what to do.
//
// It is what `ferry migrate` runs. Nothing is written until Write, so
// that --dry-run can show the same changes as a diff.
package migrate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ferrywasm/ferry/internal/config"
	"gopkg.in/yaml.v3"
)

// Options are ferry migrate's inputs.
type Options struct {
	// Path is the template, serverless.yml, Azure app folder, or a
	// project folder holding one of them.
	Path string
	// OutDir is where ferry.yaml goes; "" puts it next to the template.
	OutDir string
	// Overrides are --parameter-overrides: CloudFormation parameter
	// values, and Serverless Framework options (stage, region).
	Overrides map[string]string
	// Region and AccountID are what AWS::Region and AWS::AccountId
	// resolve to; Region is written to ferry.yaml.
	Region, AccountID string
	// SDK says how a ported handler's go.mod gets ferry's guest SDK.
	SDK SDK
}

// Status is what became of a resource or an event.
type Status string

const (
	Ported       Status = "ported"
	Attention    Status = "needs attention"
	NotSupported Status = "not supported"
)

// Item is one line of the report: a resource, an event, or a finding in
// a handler's code.
type Item struct {
	// Resource is the template's name for it: a logical ID, a
	// function's key, with /Event for an event.
	Resource string `json:"resource"`
	// Type is the resource or event type as the template writes it.
	Type   string `json:"type"`
	Status Status `json:"status"`
	// Detail says what it became in ferry.yaml, or why not.
	Detail string `json:"detail"`
	// Action is what to do about it; "" when nothing.
	Action string `json:"action,omitempty"`
	// File and Line locate it, when known.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// Change is a file migrate writes: Old is nil for a new file.
type Change struct {
	Path     string `json:"path"`
	Old, New []byte `json:"-"`
}

// Result is a migration, not yet written.
type Result struct {
	// Input is the file read (the template), and Kind what it is: sam,
	// cloudformation, serverless or azure.
	Input string `json:"input"`
	Kind  string `json:"kind"`
	// ConfigPath is where ferry.yaml goes and Config its content.
	ConfigPath string `json:"config"`
	Config     []byte `json:"-"`
	// Changes are the files that differ from what is on disk (ferry.yaml
	// included), in path order; empty when migrate has nothing to change.
	Changes []Change `json:"-"`
	Items   []Item   `json:"items"`
}

// ExitStatus is 0 when every item was ported, else 1.
func (r *Result) ExitStatus() int {
	for _, it := range r.Items {
		if it.Status != Ported {
			return 1
		}
	}
	return 0
}

// Write writes the changes.
func (r *Result) Write() error {
	for _, c := range r.Changes {
		mode := os.FileMode(0o644)
		if st, err := os.Stat(c.Path); err == nil {
			mode = st.Mode().Perm()
		}
		if err := os.MkdirAll(filepath.Dir(c.Path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(c.Path, c.New, mode); err != nil {
			return err
		}
	}
	return nil
}

// Diff is the unified diff of the changes, with paths relative to base.
func (r *Result) Diff(base string) string {
	var b strings.Builder
	for _, c := range r.Changes {
		name := c.Path
		if rel, err := filepath.Rel(base, c.Path); err == nil {
			name = filepath.ToSlash(rel)
		}
		b.WriteString(unifiedDiff(name, c.Old, c.New))
	}
	return b.String()
}

// IsBadInput reports whether err is a problem with the input (exit 2)
// rather than with the machine.
func IsBadInput(err error) bool {
	var b *badInput
	return errors.As(err, &b)
}

// migration is the state of one run.
type migration struct {
	opts    Options
	res     *Result
	baseDir string // the template's directory: relative paths start here
	outDir  string
	cfg     config.File
	// handlers are the Go handler directories to port, in order.
	handlers []handler
	// generated holds the extra files to write (none yet), by path.
}

// handler is a Go handler directory a function runs.
type handler struct {
	dir      string // absolute
	function string // the ferry function (or Azure app) it serves
	azure    bool
}

// Run reads the input and works out the migration.
func Run(opts Options) (*Result, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	input, kind, err := detect(opts.Path)
	if err != nil {
		return nil, err
	}
	m := &migration{opts: opts, res: &Result{Input: input, Kind: kind}, baseDir: filepath.Dir(input)}
	if kind == "azure" {
		m.baseDir = input
	}
	m.outDir = m.baseDir
	if opts.OutDir != "" {
		if m.outDir, err = filepath.Abs(opts.OutDir); err != nil {
			return nil, err
		}
	}
	m.res.ConfigPath = filepath.Join(m.outDir, "ferry.yaml")
	m.cfg.Region = opts.Region
	if kind != "azure" && opts.AccountID != "123456789012" {
		m.cfg.AccountID = opts.AccountID
	}
	switch kind {
	case "azure":
		err = m.azure(input)
	case "serverless":
		err = m.serverless(input)
	default:
		err = m.cloudFormation(input)
	}
	if err != nil {
		return nil, err
	}
	if len(m.cfg.Functions) == 0 && len(m.cfg.AzureApps) == 0 {
		return nil, &badInput{fmt.Sprintf("%s: no function ferry can serve was found (%s)", input, summary(m.res.Items))}
	}
	if err := m.port(); err != nil {
		return nil, err
	}
	if err := m.writeConfig(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(m.res.Changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return m.res, nil
}

// summary lists the items, for the error when no function is left.
func summary(items []Item) string {
	if len(items) == 0 {
		return "the input declares no functions"
	}
	var parts []string
	for _, it := range items {
		parts = append(parts, it.Resource+": "+string(it.Status)+": "+it.Detail)
	}
	return strings.Join(parts, "; ")
}

// add appends a report item, located in the input when it has a line.
func (m *migration) add(it Item) {
	if it.File == "" && it.Line != 0 {
		it.File = m.res.Input
	}
	m.res.Items = append(m.res.Items, it)
}

// rel writes an absolute path as ferry.yaml will: relative to its
// directory, starting with ./ or ../.
func (m *migration) rel(abs string) string {
	r, err := filepath.Rel(m.outDir, abs)
	if err != nil {
		return abs
	}
	r = filepath.ToSlash(r)
	if r == "." {
		return "."
	}
	if !strings.HasPrefix(r, "../") {
		r = "./" + r
	}
	return r
}

// writtenBy starts every ferry.yaml migrate writes.
const writtenBy = "# Written by ferry migrate"

// writeConfig renders ferry.yaml and checks it with ferry's own parser.
func (m *migration) writeConfig() error {
	body, err := config.Marshal(&m.cfg)
	if err != nil {
		return err
	}
	rel, _ := filepath.Rel(m.outDir, m.res.Input)
	if rel == "." {
		rel = "the app in this folder"
	}
	header := fmt.Sprintf("%s from %s. Run it with: ferry serve -f ferry.yaml\n", writtenBy, filepath.ToSlash(rel))
	// A ferry.yaml of the user's own is never overwritten; one migrate
	// wrote is, so that migrating again after a template change works.
	if old, err := os.ReadFile(m.res.ConfigPath); err == nil && !bytes.HasPrefix(old, []byte(writtenBy)) {
		return &badInput{fmt.Sprintf("%s exists and was not written by ferry migrate: move it away, or write elsewhere with -o DIR", m.res.ConfigPath)}
	}
	data := append([]byte(header), body...)
	// The sources exist (they were ported in place, or will be), so
	// ferry's strict parser checks everything but ${NAME} values.
	if _, err := config.ParseTemplate(m.res.ConfigPath, data); err != nil {
		return &badInput{fmt.Sprintf("the ferry.yaml written from %s would not load:\n%v", m.res.Input, err)}
	}
	m.res.Config = data
	return m.change(m.res.ConfigPath, data)
}

// change records a file's new content, if it differs from the file's.
func (m *migration) change(path string, data []byte) error {
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if bytes.Equal(old, data) {
			return nil
		}
	case errors.Is(err, os.ErrNotExist):
		old = nil
	default:
		return err
	}
	for i, c := range m.res.Changes {
		if c.Path == path {
			m.res.Changes[i].New = data
			return nil
		}
	}
	m.res.Changes = append(m.res.Changes, Change{Path: path, Old: old, New: data})
	return nil
}

// detect finds the input file (or Azure app folder) and its kind.
func detect(path string) (string, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", "", &badInput{fmt.Sprintf("%s: %v", path, errors.Unwrap(err))}
	}
	if st.IsDir() {
		if exists(filepath.Join(abs, "host.json")) {
			return abs, "azure", nil
		}
		for _, name := range []string{"template.yaml", "template.yml", "template.json", "serverless.yml", "serverless.yaml"} {
			if p := filepath.Join(abs, name); exists(p) {
				return detect(p)
			}
		}
		for _, dir := range []string{filepath.Join(abs, "cdk.out"), abs} {
			stacks, _ := filepath.Glob(filepath.Join(dir, "*.template.json"))
			switch len(stacks) {
			case 0:
				continue
			case 1:
				return detect(stacks[0])
			default:
				return "", "", &badInput{fmt.Sprintf("%s holds %d stacks (%s): name the one to migrate", dir, len(stacks), strings.Join(baseNames(stacks), ", "))}
			}
		}
		return "", "", &badInput{fmt.Sprintf("%s holds no template.yaml, template.json, serverless.yml, cdk.out/*.template.json or host.json", path)}
	}
	root, err := readYAML(abs)
	if err != nil {
		return "", "", err
	}
	switch {
	case mapGet(root, "Resources") != nil:
		if tr := mapGet(root, "Transform"); tr != nil && strings.Contains(flatText(tr), "AWS::Serverless") {
			return abs, "sam", nil
		}
		return abs, "cloudformation", nil
	case mapGet(root, "service") != nil && (mapGet(root, "functions") != nil || mapGet(root, "provider") != nil):
		return abs, "serverless", nil
	}
	return "", "", &badInput{fmt.Sprintf("%s is not a SAM or CloudFormation template (no Resources) nor a serverless.yml (no service and functions)", path)}
}

// flatText joins the scalars of a node (its top two levels).
func flatText(n *yaml.Node) string {
	if n = deref(n); n == nil {
		return ""
	}
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	var parts []string
	for _, c := range n.Content {
		if c = deref(c); c != nil && c.Kind == yaml.ScalarNode {
			parts = append(parts, c.Value)
		}
	}
	return strings.Join(parts, " ")
}

func baseNames(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// readYAML parses a YAML (or JSON) file into its document node; a syntax
// error names the file and line.
func readYAML(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return nil, &badInput{fmt.Sprintf("%s:%s: %s", path, m[1], m[2])}
		}
		return nil, &badInput{fmt.Sprintf("%s: %s", path, strings.TrimPrefix(msg, "yaml: "))}
	}
	root := deref(&doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, &badInput{fmt.Sprintf("%s:1: not a template: want a mapping at the top level", path)}
	}
	return root, nil
}
