package gateway

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Credentials are the access keys the Lambda API accepts: access key id →
// secret access key. Callers sign their requests with AWS Signature
// Version 4 (service lambda) as they do for Lambda, so AWS SDKs and the
// AWS CLI work unchanged given one of these keys.
type Credentials map[string]string

// CredentialsFromEnv reads the access keys given to ferry, from any of:
//
//	FERRY_AWS_ACCESS_KEY_ID, FERRY_AWS_SECRET_ACCESS_KEY   one key pair
//	FERRY_ACCESS_KEYS        id:secret pairs, comma- or newline-separated
//	FERRY_ACCESS_KEYS_FILE   a file of id:secret lines (a mounted Secret)
//
// Keys never come from ferry.yaml: a config file is committed and shipped
// in images, a secret is not. The names are not AWS_ACCESS_KEY_ID so that
// ferry's own credentials (which a function's outbound calls may use) are
// not mistaken for the keys callers must present.
func CredentialsFromEnv(getenv func(string) string) (Credentials, error) {
	c := Credentials{}
	id, secret := getenv("FERRY_AWS_ACCESS_KEY_ID"), getenv("FERRY_AWS_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		c[id] = secret
	case id != "" || secret != "":
		return nil, errors.New("FERRY_AWS_ACCESS_KEY_ID and FERRY_AWS_SECRET_ACCESS_KEY are set together")
	}
	if err := c.parse("FERRY_ACCESS_KEYS", getenv("FERRY_ACCESS_KEYS")); err != nil {
		return nil, err
	}
	if path := getenv("FERRY_ACCESS_KEYS_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("FERRY_ACCESS_KEYS_FILE: %w", err)
		}
		if err := c.parse("FERRY_ACCESS_KEYS_FILE "+path, string(b)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parse adds id:secret pairs separated by commas or lines; # starts a
// comment line. Errors name the line, never the secret.
func (c Credentials) parse(where, s string) error {
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(s, ",", "\n")))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, secret, ok := strings.Cut(line, ":")
		id, secret = strings.TrimSpace(id), strings.TrimSpace(secret)
		if !ok || id == "" || secret == "" {
			return fmt.Errorf("%s: entry %d: want ACCESS_KEY_ID:SECRET_ACCESS_KEY", where, n)
		}
		c[id] = secret
	}
	return nil
}

// maxClockSkew is how far a request's X-Amz-Date may be from the server's
// clock, as AWS allows.
const maxClockSkew = 5 * time.Minute

// authError is a refused request: Lambda's status, error code and message.
type authError struct {
	status        int
	code, message string
}

func (e *authError) Error() string { return e.code + ": " + e.message }

func (e *authError) write(w http.ResponseWriter) {
	serviceError(w, e.status, e.code, "message", e.message, nil)
}

// verifySigV4 checks r's AWS Signature Version 4 (Authorization header)
// against creds for service lambda in region. body is the request's body,
// already read: the payload hash is computed from it. now is the server's
// clock.
func verifySigV4(r *http.Request, body []byte, creds Credentials, region string, now time.Time) *authError {
	const algorithm = "AWS4-HMAC-SHA256"
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			return &authError{http.StatusForbidden, "InvalidSignatureException", "Query-string (presigned) authentication is not supported by ferry; sign the Authorization header."}
		}
		return &authError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	rest, ok := strings.CutPrefix(auth, algorithm+" ")
	if !ok {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires '" + algorithm + "' as the algorithm."}
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	credential, signedHeaders, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if credential == "" || signedHeaders == "" || signature == "" {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters."}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException", "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term."}
	}
	keyID, day, scopeRegion, service := scope[0], scope[1], scope[2], scope[3]
	secret, known := creds[keyID]
	if !known {
		return &authError{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	if service != "lambda" {
		return &authError{http.StatusForbidden, "InvalidSignatureException", "Credential should be scoped to correct service: 'lambda'."}
	}
	if scopeRegion != region {
		return &authError{http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", scopeRegion)}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signed, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	if !strings.HasPrefix(amzDate, day) {
		return &authError{http.StatusForbidden, "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP."}
	}
	const stamp = "20060102T150405Z"
	if signed.Before(now.Add(-maxClockSkew)) {
		return &authError{http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			amzDate, now.Add(-maxClockSkew).UTC().Format(stamp), now.UTC().Format(stamp))}
	}
	if signed.After(now.Add(maxClockSkew)) {
		return &authError{http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 5 min.)",
			amzDate, now.Add(maxClockSkew).UTC().Format(stamp), now.UTC().Format(stamp))}
	}
	names := strings.Split(signedHeaders, ";")
	hasHost := false
	for _, n := range names {
		hasHost = hasHost || n == "host"
	}
	if !hasHost {
		return &authError{http.StatusForbidden, "InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization."}
	}

	var canon bytes.Buffer
	canon.WriteString(r.Method + "\n")
	canon.WriteString(canonicalURI(r) + "\n")
	canon.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, n := range names {
		canon.WriteString(n + ":" + canonicalHeaderValue(r, n) + "\n")
	}
	canon.WriteString("\n" + signedHeaders + "\n")
	sum := sha256.Sum256(body)
	canon.WriteString(hex.EncodeToString(sum[:]))

	canonSum := sha256.Sum256(canon.Bytes())
	toSign := algorithm + "\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(canonSum[:])
	key := hmacSHA256([]byte("AWS4"+secret), day)
	key = hmacSHA256(key, scopeRegion)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if subtle.ConstantTimeCompare([]byte(want), []byte(signature)) != 1 {
		return &authError{http.StatusForbidden, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	io.WriteString(h, data)
	return h.Sum(nil)
}

// canonicalURI is the path as the client sent it, URI-encoded once more,
// as SigV4 does for every service but S3.
func canonicalURI(r *http.Request) string {
	path, _, _ := strings.Cut(r.RequestURI, "?")
	if path == "" || !strings.HasPrefix(path, "/") {
		path = r.URL.EscapedPath()
	}
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '/' || c == '-' || c == '.' || c == '_' || c == '~' ||
			(c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// canonicalQuery sorts parameters by name, then value, each URI-encoded.
func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, enc(k)+"="+enc(v))
		}
	}
	return strings.Join(parts, "&")
}

// canonicalHeaderValue is a signed header's value: its values joined by
// commas, runs of spaces collapsed. Go's server keeps Host and
// Content-Length outside Header.
func canonicalHeaderValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if v := r.Header.Get("Content-Length"); v != "" {
			return v
		}
		return strconv.FormatInt(r.ContentLength, 10)
	}
	var vals []string
	for _, v := range r.Header.Values(name) {
		vals = append(vals, strings.Join(strings.Fields(v), " "))
	}
	return strings.Join(vals, ",")
}
