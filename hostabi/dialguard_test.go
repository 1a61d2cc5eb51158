package hostabi

import (
	"net/netip"
	"testing"
)

// TestRestricted: the addresses a wildcard allowedOutboundHosts entry may
// not reach, including IPv4 written as IPv6 (mapped, NAT64), and public
// ones it may.
func TestRestricted(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1":              true,
		"127.255.0.9":            true,
		"::1":                    true,
		"::ffff:127.0.0.1":       true,
		"64:ff9b::a9fe:a9fe":     true, // 169.254.169.254 through NAT64
		"169.254.169.254":        true,
		"fd00:ec2::254":          true,
		"fe80::1":                true,
		"10.1.2.3":               true,
		"172.16.0.1":             true,
		"172.31.255.255":         true,
		"192.168.1.1":            true,
		"100.100.100.200":        true,
		"0.0.0.0":                true,
		"::":                     true,
		"224.0.0.1":              true,
		"255.255.255.255":        true,
		"8.8.8.8":                false,
		"172.32.0.1":             false,
		"2606:4700:4700::1111":   false,
		"::ffff:93.184.216.34":   false,
		"64:ff9b::808:808":       false,
		"192.0.2.1":              false, // documentation range: public as far as reaching goes
		"2001:db8::1":            false,
		"100.63.255.255":         false,
		"169.253.255.255":        false,
		"fec0::1":                false,
		"ff02::1":                true,
		"fc00::1":                true,
		"198.18.0.1":             true,
		"192.0.0.8":              true,
		"11.0.0.1":               false,
		"2001:4860:4860::8888":   false,
		"::ffff:10.0.0.1":        true,
		"::ffff:192.168.0.1":     true,
		"64:ff9b::7f00:1":        true,
		"64:ff9b::c0a8:1":        true,
		"fe80::1%eth0":           true,
		"1.1.1.1":                false,
		"100.64.0.1":             true,
		"2001:db8:ffff::ffff:ff": false,
	} {
		ip, err := netip.ParseAddr(addr)
		if err != nil {
			continue
		}
		if got := restricted(ip) != ""; got != want {
			t.Errorf("restricted(%s) = %v, want %v", addr, got, want)
		}
	}
	if err := checkAddr("[::ffff:127.0.0.1]:80"); err == nil || err.Error() != "ferry: 127.0.0.1 is a loopback address, reached only through an allowedOutboundHosts entry that names it (not a wildcard)" {
		t.Errorf("checkAddr: %v", err)
	}
}
