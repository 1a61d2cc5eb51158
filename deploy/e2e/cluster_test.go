package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// cluster is the node cluster.sh brought up.
type cluster struct {
	t          *testing.T
	bin        string // the combined Kubernetes binary (kubectl is one of its commands)
	kubeconfig string
	ctrAddress string
	logs       string
}

// up brings the cluster up (building what the cache lacks) and registers
// its teardown.
func up(t *testing.T, ctx context.Context) *cluster {
	t.Helper()
	script := filepath.Join(repoRoot(t), "deploy", "e2e", "cluster.sh")
	down := func() {
		cmd := exec.Command("bash", script, "down")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("cluster.sh down: %v\n%s", err, out)
		}
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", script, "up")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Cleanup(down)
	if err != nil {
		t.Fatalf("cluster.sh up: %v\n%s", err, stderr.Bytes())
	}
	t.Logf("cluster up (build included) in %s", time.Since(start).Round(time.Second))
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	c := &cluster{t: t, bin: env["CLUSTER_BIN"], kubeconfig: env["KUBECONFIG"], ctrAddress: env["CONTAINERD_ADDRESS"], logs: env["LOGS"]}
	if c.bin == "" || c.kubeconfig == "" || c.ctrAddress == "" {
		t.Fatalf("cluster.sh up printed no environment:\n%s", out)
	}
	return c
}

// kubectl runs kubectl with stdin, returning its output; an error carries
// its stderr.
func (c *cluster) kubectl(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	out, _, err := c.kubectlWarn(ctx, stdin, args...)
	return out, err
}

// kubectlWarn is kubectl that also returns what kubectl printed on stderr
// (the API server's warnings).
func (c *cluster) kubectlWarn(ctx context.Context, stdin []byte, args ...string) ([]byte, string, error) {
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"kubectl", "--kubeconfig", c.kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, stderr.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, stderr.String(), nil
}

// must is kubectl that fails the test on an error.
func (c *cluster) must(ctx context.Context, args ...string) []byte {
	c.t.Helper()
	out, err := c.kubectl(ctx, nil, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// getJSON decodes kubectl get -o json into v.
func (c *cluster) getJSON(ctx context.Context, v any, args ...string) error {
	out, err := c.kubectl(ctx, nil, append([]string{"get", "-o", "json"}, args...)...)
	if err != nil {
		return err
	}
	return json.Unmarshal(out, v)
}

// restrictedNamespace creates a namespace that enforces, audits and warns
// on Pod Security "restricted".
func (c *cluster) restrictedNamespace(ctx context.Context, ns string) {
	c.t.Helper()
	c.must(ctx, "create", "namespace", ns)
	c.must(ctx, "label", "namespace", ns,
		"pod-security.kubernetes.io/enforce=restricted",
		"pod-security.kubernetes.io/warn=restricted",
		"pod-security.kubernetes.io/audit=restricted")
}

// apply sends manifests through a server-side dry run, then applies them,
// both with strict field validation; any warning the API server returns
// (Pod Security, unknown or deprecated fields) fails the test.
func (c *cluster) apply(ctx context.Context, ns string, manifests []byte) {
	c.t.Helper()
	for _, dry := range []string{"server", "none"} {
		out, warn, err := c.kubectlWarn(ctx, manifests, "apply", "-n", ns, "--server-side", "--field-manager", "ferry-e2e",
			"--validate=strict", "--dry-run="+dry, "-f", "-")
		if err != nil {
			c.t.Fatalf("apply (dry run %s): %v", dry, err)
		}
		if strings.Contains(warn, "Warning") {
			c.t.Fatalf("apply (dry run %s) warned:\n%s", dry, warn)
		}
		c.t.Logf("apply (dry run %s):\n%s", dry, bytes.TrimSpace(out))
	}
}

// pods lists the pods matching a label selector.
func (c *cluster) pods(ctx context.Context, ns, selector string) ([]corev1.Pod, error) {
	var l corev1.PodList
	err := c.getJSON(ctx, &l, "pods", "-n", ns, "-l", selector)
	return l.Items, err
}

// readyEndpoints returns the addresses of a Service's ready endpoints.
func (c *cluster) readyEndpoints(ctx context.Context, ns, service string) (map[string]bool, error) {
	var l discoveryv1.EndpointSliceList
	if err := c.getJSON(ctx, &l, "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name="+service); err != nil {
		return nil, err
	}
	ready := map[string]bool{}
	for _, s := range l.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				for _, a := range e.Addresses {
					ready[a] = true
				}
			}
		}
	}
	return ready, nil
}

// jobsOf returns the Jobs a CronJob created that still exist.
func (c *cluster) jobsOf(ctx context.Context, ns, cronJob string) ([]batchv1.Job, error) {
	var l batchv1.JobList
	if err := c.getJSON(ctx, &l, "jobs", "-n", ns); err != nil {
		return nil, err
	}
	var out []batchv1.Job
	for _, j := range l.Items {
		for _, o := range j.OwnerReferences {
			if o.Kind == "CronJob" && o.Name == cronJob {
				out = append(out, j)
			}
		}
	}
	return out, nil
}

// importImage loads an image tarball into the node's containerd.
func (c *cluster) importImage(ctx context.Context, tarball string) {
	c.t.Helper()
	out, err := exec.CommandContext(ctx, "ctr", "--address", c.ctrAddress, "-n", "k8s.io", "images", "import", tarball).CombinedOutput()
	if err != nil {
		c.t.Fatalf("ctr images import %s: %v\n%s", tarball, err, out)
	}
}

// diagnose logs what explains a failure in ns: the pods, events and the
// logs of its containers.
func (c *cluster) diagnose(ctx context.Context, ns string) {
	if !c.t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for _, args := range [][]string{
		{"get", "pods,endpointslices,jobs", "-n", ns, "-o", "wide"},
		{"get", "events", "-n", ns, "--sort-by", ".lastTimestamp"},
		{"logs", "-n", ns, "-l", "app.kubernetes.io/managed-by=ferry", "--all-containers", "--prefix", "--tail", "40"},
	} {
		out, err := c.kubectl(ctx, nil, args...)
		c.t.Logf("kubectl %s:\n%s%v", strings.Join(args, " "), out, err)
	}
}

// eventually runs check every second until it returns nil; after timeout
// the test fails with check's last error. Kubernetes is eventually
// consistent: this is for its state, never to wait out a fixed time.
func eventually(t *testing.T, ctx context.Context, timeout time.Duration, what string, check func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not after %s: %v", what, timeout, err)
		case <-time.After(time.Second):
		}
	}
}

// metricSum adds the values of a Prometheus counter's series whose labels
// contain every one of match, scraped from each pod's /metrics.
func metricSum(ctx context.Context, podIPs []string, name string, match ...string) (float64, error) {
	byPod, err := metricByPod(ctx, podIPs, name, match...)
	var sum float64
	for _, v := range byPod {
		sum += v
	}
	return sum, err
}

// metricByPod is metricSum per pod IP.
func metricByPod(ctx context.Context, podIPs []string, name string, match ...string) (map[string]float64, error) {
	byPod := map[string]float64{}
	for _, ip := range podIPs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ip+":8080/metrics", nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
	lines:
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, name+"{") {
				continue
			}
			for _, m := range match {
				if !strings.Contains(line, m) {
					continue lines
				}
			}
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err != nil {
				resp.Body.Close()
				return nil, fmt.Errorf("%s: %q: %v", ip, line, err)
			}
			byPod[ip] += v
		}
		resp.Body.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return byPod, nil
}

func podIPs(pods []corev1.Pod) []string {
	var ips []string
	for _, p := range pods {
		if p.Status.PodIP != "" && p.DeletionTimestamp == nil {
			ips = append(ips, p.Status.PodIP)
		}
	}
	return ips
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// run runs a command in dir, failing the test with its output on an error.
func run(t *testing.T, ctx context.Context, dir, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}
