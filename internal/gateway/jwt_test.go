package gateway_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// issuer is a token issuer made in the test: an RSA and an EC key, its
// JWKS served over loopback.
type issuer struct {
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	jwks    []byte
	fetches atomic.Int32
	srv     *httptest.Server
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pad := func(n *big.Int) []byte { return n.FillBytes(make([]byte, 32)) }
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": b64(rk.N.Bytes()), "e": b64(big.NewInt(int64(rk.E)).Bytes())},
		{"kty": "EC", "kid": "ec-1", "use": "sig", "crv": "P-256", "x": b64(pad(ek.X)), "y": b64(pad(ek.Y))},
	}})
	is := &issuer{rsa: rk, ec: ek, jwks: jwks}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(is.jwks)
	}))
	t.Cleanup(is.srv.Close)
	return is
}

// token signs claims as a JWS with alg under kid.
func (is *issuer) token(t *testing.T, alg, kid string, claims map[string]any) string {
	t.Helper()
	hdr, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	body, _ := json.Marshal(claims)
	signed := b64(hdr) + "." + b64(body)
	digest := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, is.rsa, crypto.SHA256, digest[:])
	case "ES256":
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, is.ec, digest[:])
		if err == nil {
			sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		}
	case "HS256": // keyed with the RSA public modulus: the algorithm-confusion attack
		m := hmac.New(sha256.New, is.rsa.N.Bytes())
		m.Write([]byte(signed))
		sig = m.Sum(nil)
	case "none":
	default:
		t.Fatalf("alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + b64(sig)
}

// TestJWTAuthorizer: an HTTP API route with a JWT authorizer answers 401
// {"message":"Unauthorized"} to a missing, forged, expired, early,
// foreign or mis-addressed token, 403 {"message":"Forbidden"} to a valid
// one without the route's scopes, and runs the function with
// requestContext.authorizer.jwt (claims and scopes) for a valid one,
// signed RS256 or ES256 by a key of the JWKS served over loopback.
func TestJWTAuthorizer(t *testing.T) {
	is := newIssuer(t)
	const iss, aud = "https://issuer.test", "ferry-api"
	open, err := gateway.NewJWTAuthorizer(iss, []string{aud, "other-api"}, nil, is.srv.URL+"/.well-known/jwks.json", "")
	if err != nil {
		t.Fatal(err)
	}
	scoped, err := gateway.NewJWTAuthorizer(iss, []string{aud}, []string{"items:write"}, is.srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	fn := sampletest.Load(t, "../../samples/http-api", adapter.Config{Name: "http-api"})
	s := gateway.NewServer()
	err = s.Deploy(gateway.Deployment{Functions: map[string]*adapter.Function{"http-api": fn}, Routes: []gateway.Route{
		{Function: "http-api", Path: "/secure/{proxy+}", HTTP: events.HTTPRoute{Format: events.FormatHTTPAPI}, JWT: open},
		{Function: "http-api", Path: "/write/{proxy+}", HTTP: events.HTTPRoute{Format: events.FormatHTTPAPI}, JWT: scoped},
		{Function: "http-api", Path: "/public/{proxy+}", HTTP: events.HTTPRoute{Format: events.FormatHTTPAPI}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	now := time.Now().Unix()
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": iss, "aud": aud, "sub": "user-42", "exp": now + 600, "iat": now - 10, "scope": "items:read profile"}
		if edit != nil {
			edit(c)
		}
		return c
	}
	valid := is.token(t, "RS256", "rsa-1", claims(nil))
	for _, tt := range []struct {
		name, path, auth string
		status           int
	}{
		{"no token", "/secure/a", "", 401},
		{"not a JWT", "/secure/a", "Bearer abc.def", 401},
		{"RS256", "/secure/a", "Bearer " + valid, 200},
		{"without Bearer", "/secure/a", valid, 200},
		{"ES256", "/secure/a", "Bearer " + is.token(t, "ES256", "ec-1", claims(nil)), 200},
		{"aud array", "/secure/a", is.token(t, "RS256", "rsa-1", claims(func(c map[string]any) { c["aud"] = []string{"x", "other-api"} })), 200},
		{"client_id without aud", "/secure/a", is.token(t, "RS256", "rsa-1", claims(func(c map[string]any) { delete(c, "aud"); c["client_id"] = aud })), 200},
		{"expired", "/secure/a", is.token(t, "RS256", "rsa-1", claims(func(c map[string]any) { c["exp"] = now - 3600 })), 401},
		{"no exp", "/secure/a", is.token(t, "RS256", "rsa-1", claims(func(c map[string]any) { delete(c, "exp") })), 401},
		{"nbf ahead", "/secure/a", is.token(t, "RS256", "rsa-1", claims(func(c map[string]any) { c["nbf"] = now + 3600 })), 401},
		{"iat ahead", "/secure/a", is.token(t, "RS256", "rsa-1", claims(func(c map[string]any) { c["iat"] = now + 3600 })), 401},
		{"other issuer", "/secure/a", is.token(t, "RS256", "rsa-1", claims(func(c map[string]any) { c["iss"] = "https://evil.test" })), 401},
		{"other audience", "/secure/a", is.token(t, "RS256", "rsa-1", claims(func(c map[string]any) { c["aud"] = "evil-api" })), 401},
		{"alg none", "/secure/a", is.token(t, "none", "rsa-1", claims(nil)), 401},
		{"HS256 keyed with the public key", "/secure/a", is.token(t, "HS256", "rsa-1", claims(nil)), 401},
		{"RS256 claimed, EC key", "/secure/a", strings.Replace(is.token(t, "ES256", "ec-1", claims(nil)), b64([]byte(`{"alg":"ES256"`)), b64([]byte(`{"alg":"RS256"`)), 1), 401},
		{"unknown kid", "/secure/a", is.token(t, "RS256", "rsa-2", claims(nil)), 401},
		{"tampered payload", "/secure/a", tamper(valid), 401},
		{"scope missing", "/write/a", "Bearer " + valid, 403},
		{"scope present", "/write/a", "Bearer " + is.token(t, "RS256", "rsa-1", claims(func(c map[string]any) { c["scope"] = "items:read items:write" })), 200},
		{"public route", "/public/a", "", 200},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := map[int]string{401: `{"message":"Unauthorized"}`, 403: `{"message":"Forbidden"}`}[tt.status]
		if resp.StatusCode != tt.status || (want != "" && string(b) != want) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, resp.StatusCode, b, tt.status, want)
			continue
		}
		if tt.name == "RS256" {
			var reply struct {
				Caller string   `json:"caller"`
				Scopes []string `json:"scopes"`
			}
			if err := json.Unmarshal(b, &reply); err != nil || reply.Caller != "user-42" || strings.Join(reply.Scopes, " ") != "items:read profile" {
				t.Errorf("the function saw caller %q scopes %q (%v): %s", reply.Caller, reply.Scopes, err, b)
			}
		}
	}
	// An unknown key id fetches the JWKS again at most every 30 s, so
	// tokens with made-up key ids cannot make ferry hammer the issuer.
	if n := is.fetches.Load(); n > 3 {
		t.Errorf("the JWKS was fetched %d times", n)
	}
}

// tamper changes the subject of a signed token, keeping its signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	body = []byte(strings.Replace(string(body), "user-42", "admin-1", 1))
	return parts[0] + "." + b64(body) + "." + parts[2]
}

// TestJWTAuthorizerJWKSFile: the keys may come from a JWKS file; a file
// that is not a JWKS, or has no signing key, is refused when loaded.
func TestJWTAuthorizerJWKSFile(t *testing.T) {
	is := newIssuer(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "jwks.json")
	os.WriteFile(good, is.jwks, 0o644)
	a, err := gateway.NewJWTAuthorizer("https://issuer.test", []string{"ferry-api"}, nil, "", good)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("Authorization", "Bearer "+is.token(t, "ES256", "ec-1", map[string]any{
		"iss": "https://issuer.test", "aud": "ferry-api", "sub": "s", "exp": time.Now().Unix() + 60, "groups": []string{"a", "b"}, "n": 7,
	}))
	jwt, err := a.Authorize(req.Context(), req, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// API Gateway hands every claim over as a string.
	if jwt.Claims["sub"] != "s" || jwt.Claims["groups"] != "[a b]" || jwt.Claims["n"] != "7" {
		t.Errorf("claims: %v", jwt.Claims)
	}
	for name, content := range map[string]string{"not JSON": "{", "no keys": `{"keys":[]}`, "short RSA": `{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB"}]}`} {
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := gateway.NewJWTAuthorizer("i", []string{"a"}, nil, "", p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
