// Package e2e is ferry's end-to-end suite on a real Kubernetes node:
// TestKubernetesE2E brings up a one-node cluster on this machine with
// cluster.sh (etcd, API server, controller manager, scheduler, kubelet on
// containerd, kube-proxy, CoreDNS), runs `ferry image` and `ferry k8s`
// output in it, and tears it down.
//
// The subfolders cluster/ and coredns/ are separate Go modules (the
// Kubernetes and CoreDNS builds), so that ferry's go.mod carries neither;
// pause/, caller/ and mkimage/ are small programs of ferry's module that
// cluster.sh turns into the images it cannot pull.
package e2e
