// Command pause is the pod sandbox's process for the end-to-end cluster
// (kubelet's registry.k8s.io/pause image cannot be pulled there): it holds
// the pod's namespaces open until it is told to stop.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
