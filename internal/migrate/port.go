package migrate

import (
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// The guest SDK: its module, and the packages a port imports.
const (
	SDKModule      = "github.com/ferrywasm/ferry/hostabi/guest"
	sdkLambda      = SDKModule + "/lambda"
	sdkAzfunc      = SDKModule + "/azfunc"
	awsLambda      = "github.com/aws/aws-lambda-go/lambda"
	unreleasedSDK  = "v0.0.0-00010101000000-000000000000" // the version go mod edit gives a replaced module
	ferryRootMod   = "github.com/ferrywasm/ferry"
	ferryGuestPath = "hostabi/guest"
)

// SDK says where a ported handler's go.mod gets the guest SDK module.
type SDK struct {
	// Dir is a local checkout of the module (ferry's hostabi/guest): the
	// go.mod requires it at an unreleased version and replaces it with
	// Dir, so that builds work offline from this checkout.
	Dir string
	// Version, when set instead, is a released version required as is,
	// with no replace.
	Version string
}

// port ports every handler directory in place and scans its code.
func (m *migration) port() error {
	seen := map[string]bool{}
	mods := map[string]bool{}
	for _, h := range m.handlers {
		if seen[h.dir] {
			continue
		}
		seen[h.dir] = true
		if err := m.portSources(h); err != nil {
			return err
		}
		modDir := findGoMod(h.dir)
		if modDir == "" {
			m.add(Item{Resource: h.function, Type: "go.mod", Status: Attention,
				Detail: m.rel(h.dir) + " is in no Go module", Action: "run go mod init in it, then ferry migrate again"})
		} else if !mods[modDir] {
			mods[modDir] = true
			if err := m.portGoMod(modDir, h.function); err != nil {
				return err
			}
		}
		if err := m.scan(h); err != nil {
			return err
		}
	}
	return nil
}

// findGoMod returns the directory of the go.mod that holds dir, or "".
func findGoMod(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if exists(filepath.Join(d, "go.mod")) {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// goFiles lists the package's non-test Go files.
func goFiles(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "_test.go") })
}

// portSources ports the handler package's Go files in place.
func (m *migration) portSources(h handler) error {
	for _, file := range goFiles(h.dir) {
		src, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var out []byte
		if h.azure {
			out, err = portAzure(file, src)
		} else {
			out, err = portLambda(file, src)
		}
		if err != nil {
			return err
		}
		if out != nil {
			if err := m.change(file, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// edit replaces the bytes [start, end) of a source.
type edit struct {
	start, end int
	text       string
}

// applyEdits applies non-overlapping edits to a copy of src.
func applyEdits(src []byte, edits []edit) []byte {
	slices.SortFunc(edits, func(a, b edit) int { return b.start - a.start })
	out := slices.Clone(src)
	for _, e := range edits {
		out = slices.Concat(out[:e.start], []byte(e.text), out[e.end:])
	}
	return out
}

// portLambda changes the import of aws-lambda-go's lambda package to the
// guest SDK's, by editing the import path's bytes only, so that every
// comment and blank stays; gofmt then sorts the import block as it would.
// It returns nil when the file has nothing to change.
func portLambda(file string, src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return nil, &badInput{fmt.Sprintf("%v", err)}
	}
	var edits []edit
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == awsLambda {
			edits = append(edits, edit{fset.Position(imp.Path.Pos()).Offset, fset.Position(imp.Path.End()).Offset, strconv.Quote(sdkLambda)})
		}
	}
	if len(edits) == 0 {
		return nil, nil
	}
	out, err := format.Source(applyEdits(src, edits))
	if err != nil {
		return nil, fmt.Errorf("%s: the ported file does not format: %v", file, err)
	}
	return out, nil
}

// portAzure changes net/http's ListenAndServe calls to azfunc's and
// imports azfunc, dropping the net/http import if nothing else uses it.
func portAzure(file string, src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		return nil, &badInput{fmt.Sprintf("%v", err)}
	}
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	var httpSpec *ast.ImportSpec
	httpName := "http"
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "net/http" {
			httpSpec = imp
			if imp.Name != nil {
				httpName = imp.Name.Name
			}
		}
	}
	if httpSpec == nil || httpName == "_" || httpName == "." {
		return nil, nil
	}
	var edits []edit
	others := 0
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Name == httpName && x.Obj == nil {
			if sel.Sel.Name == "ListenAndServe" {
				edits = append(edits, edit{off(sel.Pos()), off(sel.End()), "azfunc.ListenAndServe"})
			} else {
				others++
			}
		}
		return true
	})
	if len(edits) == 0 {
		return nil, nil
	}
	quoted := strconv.Quote(sdkAzfunc)
	if others == 0 {
		// net/http is no longer used: its line goes.
		start, end := lineBounds(src, off(httpSpec.Pos()), off(httpSpec.End()))
		edits = append(edits, edit{start, end, ""})
	}
	edits = append(edits, addImport(f, src, off, quoted))
	out, err := format.Source(applyEdits(src, edits))
	if err != nil {
		return nil, fmt.Errorf("%s: the ported file does not format: %v", file, err)
	}
	return out, nil
}

// lineBounds widens [start, end) to the whole lines holding it.
func lineBounds(src []byte, start, end int) (int, int) {
	for start > 0 && src[start-1] != '\n' {
		start--
	}
	for end < len(src) && src[end] != '\n' {
		end++
	}
	if end < len(src) {
		end++
	}
	return start, end
}

// addImport adds an import as goimports would: in the last import group
// when that group is not the standard library's, else as a new group
// after it.
func addImport(f *ast.File, src []byte, off func(token.Pos) int, quoted string) edit {
	var last *ast.GenDecl
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			last = g
		}
	}
	if last == nil || !last.Lparen.IsValid() {
		at := 0
		if last != nil {
			_, at = lineBounds(src, off(last.Pos()), off(last.End()))
		} else {
			_, at = lineBounds(src, off(f.Name.Pos()), off(f.Name.End()))
		}
		return edit{at, at, "\nimport " + quoted + "\n"}
	}
	at, _ := lineBounds(src, off(last.Rparen), off(last.Rparen))
	text := "\t" + quoted + "\n"
	if n := len(last.Specs); n > 0 {
		p, _ := strconv.Unquote(last.Specs[n-1].(*ast.ImportSpec).Path.Value)
		first, _, _ := strings.Cut(p, "/")
		if !strings.Contains(first, ".") {
			text = "\n" + text
		}
	}
	return edit{at, at, text}
}

// portGoMod makes the handler's module require the guest SDK: from the
// local checkout (a replace) or at a released version.
func (m *migration) portGoMod(modDir, function string) error {
	path := filepath.Join(modDir, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		return &badInput{err.Error()}
	}
	if f.Module != nil && (f.Module.Mod.Path == ferryRootMod || f.Module.Mod.Path == SDKModule) {
		return nil // a handler inside ferry's own tree has the SDK already
	}
	sdk := m.opts.SDK
	if sdk.Version != "" {
		if err := requireAtLeast(f, SDKModule, sdk.Version, false); err != nil {
			return err
		}
	} else {
		if sdk.Dir == "" {
			return fmt.Errorf("no guest SDK: give its checkout (ferry's hostabi/guest) or a released version")
		}
		sdkMod, sdkSum, err := readSDK(sdk.Dir)
		if err != nil {
			return err
		}
		if !hasRequire(f, SDKModule) {
			if err := f.AddRequire(SDKModule, unreleasedSDK); err != nil {
				return err
			}
		}
		if !hasReplace(f, SDKModule, sdk.Dir) {
			if err := f.AddReplace(SDKModule, "", sdk.Dir, ""); err != nil {
				return err
			}
		}
		// The SDK's own requirements and Go version: go build checks that
		// the main module lists them (-mod=readonly).
		for _, r := range sdkMod.Require {
			if err := requireAtLeast(f, r.Mod.Path, r.Mod.Version, true); err != nil {
				return err
			}
		}
		if sdkMod.Go != nil && (f.Go == nil || semver.Compare("v"+f.Go.Version, "v"+sdkMod.Go.Version) < 0) {
			if err := f.AddGoStmt(sdkMod.Go.Version); err != nil {
				return err
			}
			// A toolchain line older than the go line is what go mod tidy
			// drops.
			if f.Toolchain != nil && semver.Compare("v"+strings.TrimPrefix(f.Toolchain.Name, "go"), "v"+sdkMod.Go.Version) < 0 {
				f.DropToolchainStmt()
			}
		}
		if err := m.mergeGoSum(filepath.Join(modDir, "go.sum"), sdkSum); err != nil {
			return err
		}
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return err
	}
	// Unchanged requirements format as they were; a file already ported
	// formats to itself.
	if string(out) != string(data) {
		orig, _ := modfile.Parse(path, data, nil)
		if orig != nil {
			if again, err := orig.Format(); err == nil && string(again) == string(out) {
				return nil
			}
		}
		return m.change(path, out)
	}
	return nil
}

func hasRequire(f *modfile.File, path string) bool {
	return slices.ContainsFunc(f.Require, func(r *modfile.Require) bool { return r.Mod.Path == path })
}

func hasReplace(f *modfile.File, path, dir string) bool {
	return slices.ContainsFunc(f.Replace, func(r *modfile.Replace) bool { return r.Old.Path == path && r.New.Path == dir })
}

// requireAtLeast requires path at version unless a newer one is required.
func requireAtLeast(f *modfile.File, path, version string, indirect bool) error {
	for _, r := range f.Require {
		if r.Mod.Path == path {
			if semver.Compare(r.Mod.Version, version) >= 0 {
				return nil
			}
			return f.AddRequire(path, version)
		}
	}
	f.AddNewRequire(path, version, indirect)
	return nil
}

// readSDK reads the guest SDK module's go.mod and go.sum.
func readSDK(dir string) (*modfile.File, []byte, error) {
	path := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("the guest SDK checkout %s has no go.mod: %v", dir, err)
	}
	f, err := modfile.ParseLax(path, data, nil)
	if err != nil {
		return nil, nil, err
	}
	if f.Module == nil || f.Module.Mod.Path != SDKModule {
		return nil, nil, fmt.Errorf("%s is not module %s", path, SDKModule)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil && !os.IsNotExist(err) {
		return nil, nil, err
	}
	return f, sum, nil
}

// mergeGoSum adds the SDK's checksums the handler's go.sum lacks.
func (m *migration) mergeGoSum(path string, sdkSum []byte) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	have := map[string]bool{}
	var lines []string
	for _, l := range strings.Split(string(old), "\n") {
		if l = strings.TrimSpace(l); l != "" && !have[l] {
			have[l] = true
			lines = append(lines, l)
		}
	}
	added := false
	for _, l := range strings.Split(string(sdkSum), "\n") {
		if l = strings.TrimSpace(l); l != "" && !have[l] {
			have[l] = true
			lines = append(lines, l)
			added = true
		}
	}
	if !added {
		return nil
	}
	slices.SortStableFunc(lines, compareSumLines)
	return m.change(path, []byte(strings.Join(lines, "\n")+"\n"))
}

// compareSumLines orders go.sum lines as the go command writes them: by
// module path, then version.
func compareSumLines(a, b string) int {
	fa, fb := strings.Fields(a), strings.Fields(b)
	if len(fa) < 2 || len(fb) < 2 {
		return strings.Compare(a, b)
	}
	if c := strings.Compare(fa[0], fb[0]); c != 0 {
		return c
	}
	va, vb := strings.TrimSuffix(fa[1], "/go.mod"), strings.TrimSuffix(fb[1], "/go.mod")
	if c := semver.Compare(va, vb); c != 0 {
		return c
	}
	return strings.Compare(fa[1], fb[1])
}

// risky are imports whose use does not work in WebAssembly, and what to do.
var risky = map[string][2]string{
	"C":                                     {"cgo (import \"C\") cannot be compiled to WebAssembly", "replace the C code with Go, or keep this function on AWS Lambda"},
	"os/exec":                               {"os/exec: a WebAssembly module cannot start processes", "do the work in Go, or call a service over HTTP instead"},
	"syscall":                               {"syscall: most system calls do not exist under WASI", "use the os, net/http and io packages instead"},
	"golang.org/x/sys/unix":                 {"golang.org/x/sys/unix: Unix system calls do not exist under WASI", "use the os, net/http and io packages instead"},
	"plugin":                                {"plugin: WebAssembly cannot load Go plugins", "link the code into the handler"},
	"unsafe":                                {"unsafe: pointers are 32 bits in WebAssembly", "check that no unsafe code assumes 64-bit pointers or a memory layout"},
	"github.com/aws/aws-sdk-go/aws/session": {"the AWS SDK for Go v1 builds its own transport", "give it ferry's client: session.NewSession(&aws.Config{HTTPClient: lambda.HTTPClient()}), and allowedOutboundHosts: [https://*.amazonaws.com]"},
}

// scan reports the handler's code that cannot run, or needs settings, in
// WebAssembly.
func (m *migration) scan(h handler) error {
	sc := &scanned{found: map[string]bool{}}
	fset := token.NewFileSet()
	modDir, modPath := findGoMod(h.dir), ""
	if modDir != "" {
		if data, err := os.ReadFile(filepath.Join(modDir, "go.mod")); err == nil {
			modPath = modfile.ModulePath(data)
		}
	}
	// The handler's package, then each package of its own module it
	// imports: the code that is compiled into the module.
	queue, queued := []string{h.dir}, map[string]bool{h.dir: true}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		for _, file := range goFiles(dir) {
			f, err := parser.ParseFile(fset, file, nil, 0)
			if err != nil {
				return &badInput{err.Error()}
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if rest, ok := strings.CutPrefix(p, modPath+"/"); ok && modPath != "" {
					if d := filepath.Join(modDir, filepath.FromSlash(rest)); !queued[d] {
						queued[d] = true
						queue = append(queue, d)
					}
				}
			}
			m.scanFile(h, fset, file, f, sc)
		}
	}
	return m.outboundAdvice(h, sc)
}

// scanned is what the scan of a handler's code found.
type scanned struct {
	found   map[string]bool // reported already
	origins []string        // of the absolute URLs in the code
	// httpUse: net/http clients; ownTransport: a new http.Transport;
	// awsV2: the AWS SDK for Go v2.
	httpUse, ownTransport, awsV2 bool
}

// scanFile notes what one file does that WebAssembly cannot, or that
// needs settings.
func (m *migration) scanFile(h handler, fset *token.FileSet, file string, f *ast.File, sc *scanned) {
	names := map[string]string{} // local name → import path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if _, ok := risky[p]; ok && !sc.found[p] {
			sc.found[p] = true
			pos := fset.Position(imp.Pos())
			w := risky[p]
			m.add(Item{Resource: h.function, Type: "code", Status: Attention, File: file, Line: pos.Line, Detail: w[0], Action: w[1]})
		}
		if strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2/") {
			sc.awsV2 = true
		}
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		names[name] = p
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			x, ok := n.X.(*ast.Ident)
			if !ok {
				return true
			}
			switch names[x.Name] {
			case "net":
				if strings.HasPrefix(n.Sel.Name, "Dial") || strings.HasPrefix(n.Sel.Name, "Listen") {
					key := "net." + n.Sel.Name
					if !sc.found[key] {
						sc.found[key] = true
						m.add(Item{Resource: h.function, Type: "code", Status: Attention, File: file, Line: fset.Position(n.Pos()).Line,
							Detail: key + ": WebAssembly under WASI has no sockets", Action: "talk HTTP through net/http instead (ferry sends it through the host)"})
					}
				}
			case "net/http":
				switch n.Sel.Name {
				case "Get", "Post", "Head", "PostForm", "NewRequest", "NewRequestWithContext", "DefaultClient", "Client", "DefaultTransport":
					sc.httpUse = true
				case "Transport":
					sc.httpUse, sc.ownTransport = true, true
				}
			}
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				s, _ := strconv.Unquote(n.Value)
				if o := origin(s); o != "" && !slices.Contains(sc.origins, o) {
					sc.origins = append(sc.origins, o)
				}
			}
		}
		return true
	})
}

// outboundAdvice reports the outbound HTTP the code sends, and the
// settings it needs under ferry.
func (m *migration) outboundAdvice(h handler, sc *scanned) error {
	origins, httpUse, ownTransport, awsV2 := sc.origins, sc.httpUse, sc.ownTransport, sc.awsV2
	if httpUse || awsV2 {
		var detail, action []string
		hosts := origins
		if awsV2 {
			detail = append(detail, "the AWS SDK for Go v2 sends HTTP requests")
			action = append(action, "load its config with config.WithHTTPClient(lambda.HTTPClient())")
			hosts = append(hosts, "https://*.amazonaws.com")
		}
		if httpUse {
			detail = append(detail, "the code sends HTTP requests with net/http")
		}
		if ownTransport {
			action = append(action, "use lambda.HTTPClient() or lambda.Transport() instead of a new http.Transport")
		}
		if len(hosts) > 0 {
			action = append(action, "allow its hosts in ferry.yaml: allowedOutboundHosts: ["+strings.Join(hosts, ", ")+"]")
		} else {
			action = append(action, "list the hosts it calls under allowedOutboundHosts in ferry.yaml (ferry denies all by default)")
		}
		m.add(Item{Resource: h.function, Type: "outbound HTTP", Status: Attention, File: h.dir,
			Detail: strings.Join(detail, "; "), Action: strings.Join(action, "; ")})
	}
	return nil
}

// origin returns scheme://host[:port] of an absolute http(s) URL, or "".
func origin(s string) string {
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") || strings.ContainsAny(s, " \n%") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
