// Command mkimage writes an image tarball holding static binaries at the
// root of an otherwise empty filesystem, for the end-to-end cluster's
// images that cannot be pulled there (the pod sandbox's pause image).
//
//	go run ./deploy/e2e/mkimage -o out.tar -tag NAME:TAG [-tag ...] -entrypoint /pause BINARY...
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type tags []string

func (t *tags) String() string     { return strings.Join(*t, ",") }
func (t *tags) Set(s string) error { *t = append(*t, s); return nil }

func main() {
	out := flag.String("o", "", "the image tarball to write")
	entrypoint := flag.String("entrypoint", "", "the image's entrypoint")
	var names tags
	flag.Var(&names, "tag", "a name for the image (repeatable)")
	flag.Parse()
	if err := run(*out, *entrypoint, names, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(out, entrypoint string, names []string, binaries []string) error {
	if out == "" || len(names) == 0 || len(binaries) == 0 {
		return errors.New("usage: mkimage -o OUT.tar -tag NAME:TAG [-entrypoint PATH] BINARY…")
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, b := range binaries {
		data, err := os.ReadFile(b)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.Base(b), Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return err
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{entrypoint}, User: "65535:65535"})
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	refs := map[name.Reference]v1.Image{}
	for _, n := range names {
		tag, err := name.NewTag(n)
		if err != nil {
			return err
		}
		refs[tag] = img
	}
	return tarball.MultiRefWriteToFile(out, refs)
}
