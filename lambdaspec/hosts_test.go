package lambdaspec

import (
	"net/url"
	"testing"
)

func TestHostPolicy(t *testing.T) {
	policy, err := ParseHostPolicy([]string{
		"https://api.example.com",
		"https://*.amazonaws.com",
		"http://127.0.0.1:*",
		"*://[::1]:8080",
		"http://localhost:9000/",
		"HTTPS://Upper.Example.COM",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url    string
		allow  bool
		origin string
	}{
		{"https://api.example.com/v1?x=1", true, "https://api.example.com"},
		{"https://api.example.com:443/", true, "https://api.example.com"},
		{"https://API.example.com/", true, "https://api.example.com"},
		{"http://api.example.com/", false, "http://api.example.com"},             // scheme differs
		{"https://api.example.com:8443/", false, "https://api.example.com:8443"}, // port differs
		{"https://evil.com/api.example.com", false, "https://evil.com"},
		{"https://api.example.com.evil.com/", false, "https://api.example.com.evil.com"},
		{"https://s3.us-east-1.amazonaws.com/b/k", true, "https://s3.us-east-1.amazonaws.com"},
		{"https://bucket.s3.amazonaws.com/k", true, "https://bucket.s3.amazonaws.com"},
		{"https://amazonaws.com/", false, "https://amazonaws.com"}, // *. is subdomains only
		{"https://notamazonaws.com/", false, "https://notamazonaws.com"},
		{"http://127.0.0.1:34567/x", true, "http://127.0.0.1:34567"},
		{"http://127.0.0.1/x", true, "http://127.0.0.1"},
		{"https://127.0.0.1:34567/x", false, "https://127.0.0.1:34567"},
		{"http://[::1]:8080/", true, "http://[::1]:8080"},
		{"https://[::1]:8080/", true, "https://[::1]:8080"},
		{"http://[::1]:8081/", false, "http://[::1]:8081"},
		{"http://localhost:9000/", true, "http://localhost:9000"},
		{"https://upper.example.com/", true, "https://upper.example.com"},
		{"ftp://api.example.com/", false, "ftp://api.example.com"},
	} {
		u, _ := url.Parse(c.url)
		allow, origin := policy.Allows(u)
		if allow != c.allow || origin != c.origin {
			t.Errorf("%s: allowed %v (origin %s), want %v (%s)", c.url, allow, origin, c.allow, c.origin)
		}
	}
	var none HostPolicy
	u, _ := url.Parse("http://127.0.0.1/")
	if ok, _ := none.Allows(u); ok {
		t.Error("an empty policy allowed a request")
	}
	anything, _ := ParseHostPolicy([]string{"*://*:*"})
	if ok, _ := anything.Allows(u); !ok {
		t.Error("*://*:* refused a request")
	}
}

func TestParseHostPatternErrors(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":           `"example.com" has no scheme: write scheme://host[:port], e.g. https://example.com`,
		"ftp://example.com":     `"ftp://example.com": scheme "ftp" is not http, https or *`,
		"https://example.com/a": `"https://example.com/a": only scheme://host[:port]; no path, query or user`,
		"https://u@example.com": `"https://u@example.com": only scheme://host[:port]; no path, query or user`,
		"https://":              `"https://" has no host (use * for any host)`,
		"https://a.*.com":       `"https://a.*.com": * may only be the whole host or its first label (*.example.com)`,
		"https://exa mple.com":  `"https://exa mple.com": "exa mple.com" is not a host name`,
		"https://example.com:0": `"https://example.com:0": port "0" is not a number from 1 to 65535 or *`,
		"https://[::1":          `"https://[::1": unclosed [ in an IPv6 address`,
		"https://[zz]:80":       `"https://[zz]:80": "zz" is not an IPv6 address`,
	} {
		_, err := ParseHostPattern(in)
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", in, err, want)
		}
	}
}
