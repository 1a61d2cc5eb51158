package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestMarshalWritesKnownKeys checks Marshal's YAML structs against the key
// lists the parser accepts (keys.go): a key Marshal writes that the parser
// does not know would make `ferry image` and `ferry k8s` write a config the
// pod cannot load.
func TestMarshalWritesKnownKeys(t *testing.T) {
	for _, c := range []struct {
		v    any
		keys []string
	}{
		{fileYAML{}, fileKeys},
		{asyncYAML{}, queueKeys},
		{azureAppYAML{}, azureAppKeys},
		{functionYAML{}, functionKeys},
		{buildYAML{}, buildKeys},
		{functionAsyncYAML{}, functionAsyncKeys},
		{destYAML{}, destinationKeys},
		{routeYAML{}, routeKeys},
		{corsYAML{}, corsKeys},
		{authorizerYAML{}, authorizerKeys},
		{jwtYAML{}, jwtKeys},
		{scheduleYAML{}, scheduleKeys},
	} {
		typ := reflect.TypeOf(c.v)
		for i := range typ.NumField() {
			key, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
			if !slices.Contains(c.keys, key) {
				t.Errorf("%s.%s writes %q, which the parser rejects (it knows %v)", typ.Name(), typ.Field(i).Name, key, c.keys)
			}
		}
	}
}
