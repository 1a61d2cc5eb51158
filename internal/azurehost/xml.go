package azurehost

import (
	"bytes"
	"encoding/xml"
)

func xmlUnmarshal(b []byte, v any) error { return xml.Unmarshal(b, v) }

func xmlEscape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
