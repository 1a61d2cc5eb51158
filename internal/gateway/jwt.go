package gateway

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// JWTAuthorizer checks bearer tokens on an HTTP API route as API
// Gateway's JWT authorizer does: the token in the Authorization header
// (with or without "Bearer ") must be a JWS signed by a key of the
// issuer's JWKS, with iss equal to Issuer, aud (or client_id, for access
// tokens without aud) one of Audience, exp in the future and nbf and iat
// in the past. A request without a valid token gets 401
// {"message":"Unauthorized"}; a valid token lacking every one of the
// route's Scopes gets 403 {"message":"Forbidden"}. The function sees the
// claims and scopes in requestContext.authorizer.jwt.
//
// API Gateway verifies RSA signatures; ES256/ES384 are accepted too, for
// issuers that sign with EC keys. "none" and HMAC are refused: a shared
// secret would have to be in the JWKS, which is public.
type JWTAuthorizer struct {
	Issuer   string
	Audience []string
	// Scopes, when set, are the route's authorizationScopes: the token's
	// scope (or scp) claim must hold at least one of them.
	Scopes []string
	keys   *jwkSet
}

// NewJWTAuthorizer returns an authorizer whose keys come from jwksURI
// (fetched on first use, cached, fetched again for an unknown key id at
// most every jwksRefetchEvery) or, when jwksURI is empty, from the JWKS
// file jwksFile, read now.
func NewJWTAuthorizer(issuer string, audience, scopes []string, jwksURI, jwksFile string) (*JWTAuthorizer, error) {
	a := &JWTAuthorizer{Issuer: issuer, Audience: audience, Scopes: scopes, keys: &jwkSet{uri: jwksURI}}
	if jwksURI == "" {
		data, err := os.ReadFile(jwksFile)
		if err != nil {
			return nil, fmt.Errorf("jwks: %w", err)
		}
		keys, err := parseJWKS(data)
		if err != nil {
			return nil, fmt.Errorf("jwks %s: %w", jwksFile, err)
		}
		a.keys.keys = keys
	}
	return a, nil
}

// errForbidden is a valid token without the route's scopes.
var errForbidden = errors.New("the token has none of the route's scopes")

// leeway absorbs clock skew between the issuer and this machine.
const jwtLeeway = 30 * time.Second

// Authorize checks r's token and returns what API Gateway puts into the
// event; an error is errForbidden or why the token is refused (never
// sent to the client, which gets API Gateway's bare message).
func (a *JWTAuthorizer) Authorize(ctx context.Context, r *http.Request, now time.Time) (*lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, error) {
	token := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	if token == "" {
		return nil, errors.New("no token")
	}
	if len(token) > 16<<10 {
		return nil, errors.New("token too long")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWS compact token")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("signature is not base64url")
	}
	key, err := a.keys.key(ctx, header.Kid)
	if err != nil {
		return nil, err
	}
	if err := verifyJWS(header.Alg, key, []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return nil, err
	}
	var claims map[string]any
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("payload is not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, errors.New("payload is not a JSON object")
	}
	if iss, _ := claims["iss"].(string); iss != a.Issuer {
		return nil, fmt.Errorf("issuer %q", iss)
	}
	if !a.audienceMatches(claims) {
		return nil, errors.New("audience")
	}
	exp, ok := numericDate(claims["exp"])
	if !ok || !now.Before(exp.Add(jwtLeeway)) {
		return nil, errors.New("the token has expired")
	}
	for _, name := range []string{"nbf", "iat"} {
		if v, present := claims[name]; present {
			t, ok := numericDate(v)
			if !ok || now.Add(jwtLeeway).Before(t) {
				return nil, fmt.Errorf("%s is in the future", name)
			}
		}
	}
	desc := &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{}}
	for k, v := range claims {
		desc.Claims[k] = claimString(v)
	}
	scope, _ := claims["scope"].(string)
	if scope == "" {
		scope, _ = claims["scp"].(string)
	}
	desc.Scopes = strings.Fields(scope)
	if len(a.Scopes) > 0 && !slices.ContainsFunc(desc.Scopes, func(s string) bool { return slices.Contains(a.Scopes, s) }) {
		return nil, errForbidden
	}
	return desc, nil
}

// audienceMatches: aud (a string or an array) holds one of Audience, or,
// for access tokens without aud, client_id is one of them.
func (a *JWTAuthorizer) audienceMatches(claims map[string]any) bool {
	var auds []string
	switch v := claims["aud"].(type) {
	case string:
		auds = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				auds = append(auds, s)
			}
		}
	case nil:
		if c, ok := claims["client_id"].(string); ok {
			auds = []string{c}
		}
	}
	for _, x := range auds {
		if slices.Contains(a.Audience, x) {
			return true
		}
	}
	return false
}

func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// claimString renders a claim as API Gateway's claims map does: strings
// as they are, numbers in JSON form, arrays as "[a b]", objects as JSON.
func claimString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case []any:
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = claimString(x)
		}
		return "[" + strings.Join(s, " ") + "]"
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return errors.New("not base64url")
	}
	return json.Unmarshal(b, v)
}

// verifyJWS checks sig over signed with key under alg; the key's type
// must be the algorithm's, so an RSA key is never used for another
// algorithm (the classic algorithm-confusion attack).
func verifyJWS(alg string, key crypto.PublicKey, signed, sig []byte) error {
	var h hash.Hash
	var ch crypto.Hash
	switch alg {
	case "RS256", "ES256":
		h, ch = sha256.New(), crypto.SHA256
	case "RS384", "ES384":
		h, ch = sha512.New384(), crypto.SHA384
	case "RS512":
		h, ch = sha512.New(), crypto.SHA512
	default:
		return fmt.Errorf("algorithm %q is not accepted", alg)
	}
	h.Write(signed)
	digest := h.Sum(nil)
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg[0] != 'R' {
			return fmt.Errorf("an RSA key cannot verify %s", alg)
		}
		if err := rsa.VerifyPKCS1v15(k, ch, digest, sig); err != nil {
			return errors.New("bad signature")
		}
		return nil
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if alg[0] != 'E' || (alg == "ES256") != (k.Curve == elliptic.P256()) || len(sig) != 2*size {
			return fmt.Errorf("the EC key cannot verify this %s signature", alg)
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errors.New("bad signature")
		}
		return nil
	}
	return errors.New("unsupported key")
}

// jwksRefetchEvery bounds how often an unknown key id makes ferry fetch
// the JWKS again (a key rotation), so that tokens with made-up key ids
// cannot make it hammer the issuer.
const jwksRefetchEvery = 30 * time.Second

// jwkSet is an issuer's public keys by key id.
type jwkSet struct {
	uri     string
	mu      sync.Mutex
	keys    map[string]crypto.PublicKey
	fetched time.Time
}

func (s *jwkSet) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.lookup(kid); ok {
		return k, nil
	}
	if s.uri == "" || time.Since(s.fetched) < jwksRefetchEvery {
		return nil, fmt.Errorf("no key %q in the JWKS", kid)
	}
	s.fetched = time.Now()
	keys, err := fetchJWKS(ctx, s.uri)
	if err != nil {
		return nil, err
	}
	s.keys = keys
	if k, ok := s.lookup(kid); ok {
		return k, nil
	}
	return nil, fmt.Errorf("no key %q in the JWKS", kid)
}

// lookup finds kid; a token without kid matches a JWKS of one key.
func (s *jwkSet) lookup(kid string) (crypto.PublicKey, bool) {
	if k, ok := s.keys[kid]; ok {
		return k, true
	}
	if kid == "" && len(s.keys) == 1 {
		for _, k := range s.keys {
			return k, true
		}
	}
	return nil, false
}

func fetchJWKS(ctx context.Context, uri string) (map[string]crypto.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("jwksUri: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the JWKS: %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetching the JWKS: %w", err)
	}
	return parseJWKS(data)
}

// parseJWKS reads the RSA and EC signing keys of a JSON Web Key Set (RFC
// 7517); keys of other types or for encryption are skipped.
func parseJWKS(data []byte) (map[string]crypto.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty, Kid, Use, Crv, N, E, X, Y string
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JWKS: %w", err)
	}
	keys := map[string]crypto.PublicKey{}
	b64 := func(s string) *big.Int {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil
		}
		return new(big.Int).SetBytes(b)
	}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch k.Kty {
		case "RSA":
			n, e := b64(k.N), b64(k.E)
			if n == nil || e == nil || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31 || n.BitLen() < 2048 {
				return nil, fmt.Errorf("key %q: not a usable RSA public key (2048 bits or more)", k.Kid)
			}
			keys[k.Kid] = &rsa.PublicKey{N: n, E: int(e.Int64())}
		case "EC":
			var curve elliptic.Curve
			switch k.Crv {
			case "P-256":
				curve = elliptic.P256()
			case "P-384":
				curve = elliptic.P384()
			default:
				continue
			}
			// JWK's x and y are the coordinates' fixed-size big-endian
			// octets; as an uncompressed point, the parser also checks that
			// the point is on the curve.
			size := (curve.Params().BitSize + 7) / 8
			x, errX := base64.RawURLEncoding.DecodeString(k.X)
			y, errY := base64.RawURLEncoding.DecodeString(k.Y)
			if errX != nil || errY != nil || len(x) == 0 || len(y) == 0 || len(x) > size || len(y) > size {
				return nil, fmt.Errorf("key %q: not an EC public key", k.Kid)
			}
			point := make([]byte, 1+2*size)
			point[0] = 4
			copy(point[1+size-len(x):1+size], x)
			copy(point[1+2*size-len(y):], y)
			pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
			if err != nil {
				return nil, fmt.Errorf("key %q: not a point on %s", k.Kid, k.Crv)
			}
			keys[k.Kid] = pub
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no RSA or EC signing key")
	}
	return keys, nil
}
