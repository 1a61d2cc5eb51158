package eventsource

import (
	"strings"
	"testing"
)

// TestFilterCriteria checks Lambda's filter pattern syntax against records
// shaped as each source presents them.
func TestFilterCriteria(t *testing.T) {
	record := filterRecord(map[string]any{"messageId": "m1", "attributes": map[string]string{"ApproximateReceiveCount": "1"},
		"messageAttributes": map[string]any{"tenant": map[string]any{"stringValue": "Acme", "dataType": "String"}}}, "body",
		[]byte(`{"kind":"order","total":120,"tags":["eu","vip"],"customer":{"email":"a@example.com"},"note":null}`))
	cases := []struct {
		pattern string
		match   bool
	}{
		{`{"body":{"kind":["order"]}}`, true},
		{`{"body":{"kind":["refund"]}}`, false},
		{`{"body":{"kind":[{"prefix":"ord"}]}}`, true},
		{`{"body":{"kind":[{"suffix":"der"}]}}`, true},
		{`{"body":{"kind":[{"prefix":{"equals-ignore-case":"ORD"}}]}}`, true},
		{`{"body":{"kind":[{"equals-ignore-case":"ORDER"}]}}`, true},
		{`{"body":{"kind":[{"anything-but":["refund","return"]}]}}`, true},
		{`{"body":{"kind":[{"anything-but":"order"}]}}`, false},
		{`{"body":{"kind":[{"anything-but":{"prefix":"or"}}]}}`, false},
		{`{"body":{"total":[{"numeric":[">",100,"<=",120]}]}}`, true},
		{`{"body":{"total":[{"numeric":["<",100]}]}}`, false},
		{`{"body":{"total":[120.0]}}`, true},
		{`{"body":{"tags":["vip"]}}`, true},
		{`{"body":{"tags":["us"]}}`, false},
		{`{"body":{"missing":[{"exists":false}]}}`, true},
		{`{"body":{"kind":[{"exists":true}]}}`, true},
		{`{"body":{"kind":[{"exists":false}]}}`, false},
		{`{"body":{"note":[null]}}`, true},
		{`{"body":{"customer":{"email":[{"wildcard":"*@example.com"}]}}}`, true},
		{`{"body":{"customer":{"email":[{"wildcard":"*@other.com"}]}}}`, false},
		{`{"body":{"$or":[{"kind":["refund"]},{"total":[{"numeric":[">=",100]}]}]}}`, true},
		{`{"body":{"$or":[{"kind":["refund"]},{"total":[{"numeric":[">=",500]}]}]}}`, false},
		{`{"messageAttributes":{"tenant":{"stringValue":["Acme"]}}}`, true},
		{`{"attributes":{"ApproximateReceiveCount":["1"]}}`, true},
		{`{"body":{"kind":["order"]},"messageId":["other"]}`, false},
	}
	for _, c := range cases {
		fs, err := compileFilters(FilterCriteria{Filters: []Filter{{Pattern: c.pattern}}})
		if err != nil {
			t.Errorf("%s: %v", c.pattern, err)
			continue
		}
		if got := fs.match(record); got != c.match {
			t.Errorf("%s: match %v, want %v", c.pattern, got, c.match)
		}
	}

	// A plain-text body is matched as a string.
	plain := filterRecord(map[string]any{}, "body", []byte("hello world"))
	fs, _ := compileFilters(FilterCriteria{Filters: []Filter{{Pattern: `{"body":[{"prefix":"hello"}]}`}}})
	if !fs.match(plain) {
		t.Error("prefix on a plain-text body did not match")
	}
	// Any of several filters.
	fs, _ = compileFilters(FilterCriteria{Filters: []Filter{{Pattern: `{"body":["x"]}`}, {Pattern: `{"body":["hello world"]}`}}})
	if !fs.match(plain) {
		t.Error("the second filter did not match")
	}

	for _, bad := range []string{`not json`, `{"body":"order"}`, `{"body":{"kind":[]}}`, `{"body":{"kind":[{"numeric":[">"]}]}}`, `{"body":{"kind":[{"frobnicate":1}]}}`, `{"$or":[{"a":["b"]}]}`} {
		_, err := compileFilters(FilterCriteria{Filters: []Filter{{Pattern: bad}}})
		if err == nil || !strings.Contains(err.Error(), "filterCriteria.filters[0].pattern") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
}
