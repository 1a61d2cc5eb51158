// Command coredns is CoreDNS with only the plugins the end-to-end cluster's
// Corefile uses: cluster DNS for Services and nothing that reaches beyond
// the machine. Its own module (not the cluster's) because CoreDNS's
// requirements would move dependencies the Kubernetes build shares, and
// rebuild most of it.
package main

import (
	_ "github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() { coremain.Run() }
