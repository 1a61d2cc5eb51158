//go:build goexperiment.jsonv2

package awshandler

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/eventfixtures"
)

// TestSkeletonDecodes: the skeleton of every aws-lambda-go event type
// decodes whole, so priming reaches every type in it rather than stop at
// an error part way.
func TestSkeletonDecodes(t *testing.T) {
	type bytes struct {
		Array [4]byte // an array of numbers in JSON, not base64
		Slice []byte
	}
	for _, typ := range append(eventfixtures.Types, reflect.TypeFor[primedEvent](), reflect.TypeFor[withLoud](), reflect.TypeFor[bytes]()) {
		var b strings.Builder
		skeleton(&b, typ, map[reflect.Type]bool{})
		if err := json.Unmarshal([]byte(b.String()), reflect.New(typ).Interface()); err != nil {
			t.Errorf("%v: %v\n%s", typ, err, b.String())
		}
	}
}
