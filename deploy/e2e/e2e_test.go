package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const (
	samplesNS = "ferry-e2e-samples"
	azureNS   = "ferry-e2e-azure"
	sidecarNS = "ferry-e2e-sidecar"
	kedaNS    = "ferry-e2e-keda"
	// The pods of the samples' Deployment (and not the CronJobs').
	samplesPods = "app.kubernetes.io/name=ferry-samples,app.kubernetes.io/component=functions"
)

// TestKubernetesE2E runs ferry's images and manifests on a one-node
// Kubernetes cluster brought up on this machine by cluster.sh (root only;
// FERRY_E2E=0 skips it). A cold run builds Kubernetes from the Go module
// proxy first (~700 CPU-seconds): give go test a -timeout of 60m.
func TestKubernetesE2E(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("TestKubernetesE2E brings up a Kubernetes node on this machine (deploy/e2e/cluster.sh): it needs Linux and root")
	}
	if os.Getenv("FERRY_E2E") == "0" {
		t.Skip("FERRY_E2E=0: the Kubernetes end-to-end suite is skipped")
	}
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		// Leave time for the teardown before go test's own timeout.
		ctx, cancel = context.WithDeadline(ctx, d.Add(-90*time.Second))
		defer cancel()
	}
	root := repoRoot(t)
	tmp := t.TempDir()
	ferry := filepath.Join(tmp, "ferry")
	run(t, ctx, root, "go", "build", "-o", ferry, "./cmd/ferry")

	c := up(t, ctx)

	// The images, imported into the node's containerd as kubelet cannot
	// pull them: the samples, the sample Azure app, and the sidecar
	// example's function (price, the hello sample under that name).
	key := make([]byte, 16)
	rand.Read(key)
	masterKey := hex.EncodeToString(key)
	azureYAML := filepath.Join(tmp, "azure", "ferry.yaml")
	// The master key comes from the app's Secret, as ferry k8s's README says.
	writeFile(t, azureYAML, fmt.Sprintf(`kubernetes: {name: azure-shop, image: "azure-shop:e2e"}
azureApps:
  - path: %s
`, filepath.Join(root, "samples", "azure-app")))
	ordersYAML := filepath.Join(tmp, "orders", "ferry.yaml")
	writeFile(t, ordersYAML, fmt.Sprintf("functions:\n  - name: price\n    source: %s\n", filepath.Join(root, "samples", "hello")))
	start := time.Now()
	for _, img := range []struct{ config, tag, out string }{
		{filepath.Join(root, "samples", "ferry.yaml"), "", "samples.tar"},
		{azureYAML, "", "azure.tar"},
		{ordersYAML, "ferry-orders:1.0", "orders.tar"},
	} {
		args := []string{"image", "-f", img.config, "-o", filepath.Join(tmp, img.out)}
		if img.tag != "" {
			args = append(args, "--tag", img.tag)
		}
		run(t, ctx, root, ferry, args...)
		c.importImage(ctx, filepath.Join(tmp, img.out))
	}
	t.Logf("ferry image ×3 and import in %s", time.Since(start).Round(time.Second))

	// ferry k8s's manifests, applied in namespaces that enforce Pod Security
	// "restricted": a dry run, then for real, any warning a failure.
	for _, ns := range []string{samplesNS, azureNS, sidecarNS, kedaNS} {
		c.restrictedNamespace(ctx, ns)
		t.Cleanup(func() { c.diagnose(ctx, ns) })
	}
	// The access keys ferry k8s's pods and CronJobs read from the app's
	// Secret (without them ferry would not listen beyond loopback).
	rand.Read(key)
	secretKey := hex.EncodeToString(key)
	for _, sec := range []struct{ ns, name string }{{samplesNS, "ferry-samples-credentials"}, {azureNS, "azure-shop-credentials"}} {
		c.must(ctx, "create", "secret", "generic", sec.name, "-n", sec.ns, "--from-literal=aws_access_key_id="+accessKeyID,
			"--from-literal=aws_secret_access_key="+secretKey, "--from-literal=azure_master_key="+masterKey)
	}
	applied := time.Now()
	c.apply(ctx, samplesNS, run(t, ctx, root, ferry, "k8s", "-f", "samples/ferry.yaml", "--namespace", samplesNS))
	// The Azure app goes in as an earlier ferry wrote it (selectors without
	// the component label), and is upgraded the README's way below.
	azureManifests := run(t, ctx, root, ferry, "k8s", "-f", azureYAML, "--namespace", azureNS)
	c.apply(ctx, azureNS, withoutComponentSelector(t, azureManifests))
	c.apply(ctx, sidecarNS, sidecarExample(t, root))

	t.Run("Ready", func(t *testing.T) {
		for _, ns := range []string{samplesNS, azureNS} {
			out, err := c.kubectl(ctx, nil, "rollout", "status", "-n", ns, "deployment", "--timeout", "10m")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		}
		t.Logf("samples and Azure app rolled out %s after apply", time.Since(applied).Round(time.Second))
		// The Deployment has no replicas field (the autoscaler owns the
		// count): it starts at 1, and the HPA raises it to its minimum.
		var pods []corev1.Pod
		eventually(t, ctx, 5*time.Minute, "the HPA's 2 samples replicas Ready", func() error {
			var d appsv1.Deployment
			if err := c.getJSON(ctx, &d, "deployment", "-n", samplesNS, "ferry-samples"); err != nil {
				return err
			}
			if d.Status.ReadyReplicas != 2 || d.Status.Replicas != 2 {
				return fmt.Errorf("%d replicas, %d ready", d.Status.Replicas, d.Status.ReadyReplicas)
			}
			var err error
			pods, err = c.pods(ctx, samplesNS, samplesPods)
			return err
		})
		t.Logf("2 samples replicas Ready %s after apply", time.Since(applied).Round(time.Second))
		for _, p := range pods {
			var ready time.Time
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady {
					ready = cond.LastTransitionTime.Time
				}
			}
			t.Logf("pod %s: created %s, Ready %s later; RSS %s", p.Name, p.CreationTimestamp.Format(time.TimeOnly),
				ready.Sub(p.CreationTimestamp.Time).Round(time.Second), c.rss(t, ctx, p))
			checkRestricted(t, p)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("SelectorUpgrade", func(t *testing.T) { testSelectorUpgrade(t, ctx, c, azureManifests) })
	t.Run("Service", func(t *testing.T) { testService(t, ctx, c) })
	t.Run("InvokeAPI", func(t *testing.T) { testInvokeAPI(t, ctx, c, secretKey) })
	t.Run("CronJobOnce", func(t *testing.T) { testCronJobOnce(t, ctx, c) })
	t.Run("AzureTimer", func(t *testing.T) { testAzureTimer(t, ctx, c, masterKey) })
	t.Run("Sidecar", func(t *testing.T) { testSidecar(t, ctx, c) })
	t.Run("KEDA", func(t *testing.T) { testKEDA(t, ctx, c, ferry, root) })
	t.Run("Liveness", func(t *testing.T) { testLiveness(t, ctx, c) })
	t.Run("Drain", func(t *testing.T) { testDrain(t, ctx, c, secretKey) })
	t.Run("RollingUpdate", func(t *testing.T) { testRollingUpdate(t, ctx, c) })
}

// withoutComponentSelector is manifests with the Deployment's and the
// Service's selectors as ferry k8s wrote them before they named the
// component.
func withoutComponentSelector(t *testing.T, manifests []byte) []byte {
	t.Helper()
	var out [][]byte
	for _, doc := range bytes.Split(manifests, []byte("\n---\n")) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		spec, _ := m["spec"].(map[string]any)
		switch m["kind"] {
		case "Deployment":
			delete(spec["selector"].(map[string]any)["matchLabels"].(map[string]any), "app.kubernetes.io/component")
		case "Service":
			delete(spec["selector"].(map[string]any), "app.kubernetes.io/component")
		}
		b, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return bytes.Join(out, []byte("\n---\n"))
}

// testSelectorUpgrade upgrades the Azure app, deployed with the selectors
// of an earlier ferry, the README's way: apply alone fails (a Deployment's
// selector is immutable); deleting the Deployment with --cascade=orphan
// and applying works, the new Deployment adopting the old pods'
// ReplicaSet.
func testSelectorUpgrade(t *testing.T, ctx context.Context, c *cluster, manifests []byte) {
	_, _, err := c.kubectlWarn(ctx, manifests, "apply", "-n", azureNS, "--server-side", "--field-manager", "ferry-e2e", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("apply over the old selector: %v, want a field is immutable error", err)
	}
	c.must(ctx, "delete", "deployment", "-n", azureNS, "azure-shop", "--cascade=orphan")
	c.apply(ctx, azureNS, manifests)
	out, err := c.kubectl(ctx, nil, "rollout", "status", "-n", azureNS, "deployment/azure-shop", "--timeout", "10m")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rs appsv1.ReplicaSetList
	// The pod template is unchanged, so the old ReplicaSet is adopted as
	// the current one (a changed template would roll it over).
	eventually(t, ctx, 2*time.Minute, "the old ReplicaSet adopted", func() error {
		if err := c.getJSON(ctx, &rs, "replicasets", "-n", azureNS); err != nil {
			return err
		}
		for _, r := range rs.Items {
			if len(r.OwnerReferences) != 1 || r.OwnerReferences[0].Name != "azure-shop" {
				return fmt.Errorf("ReplicaSet %s owned by %v", r.Name, r.OwnerReferences)
			}
		}
		return nil
	})
	t.Logf("%d ReplicaSet(s), all the new Deployment's", len(rs.Items))
	// The new Deployment, without a replicas field, starts at 1: the HPA
	// brings it back to its minimum.
	eventually(t, ctx, 5*time.Minute, "the HPA's 2 Azure replicas Ready after the upgrade", func() error {
		var d appsv1.Deployment
		if err := c.getJSON(ctx, &d, "deployment", "-n", azureNS, "azure-shop"); err != nil {
			return err
		}
		if d.Status.ReadyReplicas != 2 || d.Status.Replicas != 2 {
			return fmt.Errorf("%d replicas, %d ready", d.Status.Replicas, d.Status.ReadyReplicas)
		}
		return nil
	})
}

// serviceURL is the samples' Service, through its cluster IP (kube-proxy's
// rules on this node).
func serviceURL(t *testing.T, ctx context.Context, c *cluster, ns, name string) string {
	t.Helper()
	var svc corev1.Service
	if err := c.getJSON(ctx, &svc, "service", "-n", ns, name); err != nil {
		t.Fatal(err)
	}
	return "http://" + svc.Spec.ClusterIP + ":8080"
}

// testService: the samples' routes answer through the Service, whose
// endpoints are the Deployment's pods and only those.
func testService(t *testing.T, ctx context.Context, c *cluster) {
	url := serviceURL(t, ctx, c, samplesNS, "ferry-samples")
	for _, path := range []string{"/http-api/items/1", "/apigw-rest/items/1", "/url/items/1"} {
		status, body := get(ctx, url+path)
		if status != http.StatusOK {
			t.Errorf("GET %s through the Service: %d %s", path, status, body)
		}
	}
	pods, err := c.pods(ctx, samplesNS, samplesPods)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, 2*time.Minute, "the Service's endpoints are the Deployment's pods", func() error {
		eps, err := c.readyEndpoints(ctx, samplesNS, "ferry-samples")
		if err != nil {
			return err
		}
		ips := podIPs(pods)
		if len(eps) != len(ips) {
			return fmt.Errorf("endpoints %v, pods %v", eps, ips)
		}
		for _, ip := range ips {
			if !eps[ip] {
				return fmt.Errorf("endpoints %v, pods %v", eps, ips)
			}
		}
		return nil
	})
}

// testInvokeAPI calls the Lambda Invoke API through the Service with
// aws-sdk-go-v2.
func testInvokeAPI(t *testing.T, ctx context.Context, c *cluster, secretKey string) {
	client := lambdaClient(serviceURL(t, ctx, c, samplesNS, "ferry-samples"), secretKey)
	if _, err := lambdaClient(serviceURL(t, ctx, c, samplesNS, "ferry-samples"), "wrong").Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`"x"`)}); err == nil {
		t.Error("Invoke signed with a wrong secret succeeded")
	}
	for i := range 4 {
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(fmt.Sprintf(`"e2e %d"`, i))})
		if err != nil {
			t.Fatal(err)
		}
		if out.StatusCode != 200 || out.FunctionError != nil || !bytes.Contains(out.Payload, []byte(fmt.Sprintf("e2e %d", i))) {
			t.Fatalf("Invoke hello: %d %v %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
		}
	}
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("errors"), Payload: []byte(`{"mode":"error"}`)})
	if err != nil || aws.ToString(out.FunctionError) == "" {
		t.Fatalf("Invoke errors: %v %+v", err, out)
	}
}

// accessKeyID is the access key the suite puts in the apps' Secrets.
const accessKeyID = "AKIDFERRYE2E"

// lambdaClient is aws-sdk-go-v2's Lambda client for the ferry at url.
func lambdaClient(url, secretKey string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretKey, ""),
	})
}

// testCronJobOnce: hello's schedule CronJob ticks; with 2 replicas behind
// the Service, each tick runs hello exactly once. The sample's schedule is
// rate(5 minutes); the test sets the CronJob to every minute, since what it
// checks is once per tick, not the period (a tick could otherwise be five
// minutes away).
func testCronJobOnce(t *testing.T, ctx context.Context, c *cluster) {
	const cronJob = "ferry-samples-hello-schedule-1"
	pods, err := c.pods(ctx, samplesNS, samplesPods)
	if err != nil {
		t.Fatal(err)
	}
	ips := podIPs(pods)
	scheduled := func() (float64, error) {
		return metricSum(ctx, ips, "ferry_invocations_total", `function="hello"`, `trigger="event"`)
	}
	suspend := func(on bool) {
		c.must(ctx, "patch", "cronjob", "-n", samplesNS, cronJob, "--type", "merge", "-p", fmt.Sprintf(`{"spec":{"suspend":%v}}`, on))
	}
	c.must(ctx, "patch", "cronjob", "-n", samplesNS, cronJob, "--type", "merge", "-p", `{"spec":{"schedule":"* * * * *"}}`)
	// succeeded records every Job of the CronJob seen to succeed (the
	// CronJob keeps only the last one).
	succeeded := map[string]bool{}
	finished := func() error {
		jobs, err := c.jobsOf(ctx, samplesNS, cronJob)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.Status.Succeeded > 0 {
				succeeded[j.Name] = true
			}
			if j.Status.Active > 0 {
				return fmt.Errorf("job %s active", j.Name)
			}
		}
		return nil
	}
	// Count from a quiet start: no tick running, the earlier ones done.
	suspend(true)
	eventually(t, ctx, 3*time.Minute, "the CronJob's earlier jobs finished", finished)
	for k := range succeeded {
		delete(succeeded, k)
	}
	var before float64
	eventually(t, ctx, time.Minute, "hello's event invocations counted", func() error {
		before, err = scheduled()
		return err
	})
	seen := map[string]bool{}
	jobs, err := c.jobsOf(ctx, samplesNS, cronJob)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		seen[j.Name] = true
	}
	suspend(false)
	eventually(t, ctx, 4*time.Minute, "a new CronJob tick succeeded", func() error {
		finished()
		for name := range succeeded {
			if !seen[name] {
				return nil
			}
		}
		return errors.New("no new job succeeded")
	})
	suspend(true)
	eventually(t, ctx, 3*time.Minute, "the CronJob's jobs finished", finished)
	ticks := 0
	for name := range succeeded {
		if !seen[name] {
			ticks++
		}
	}
	// The invocation is asynchronous: ferry answered 202, then runs it.
	eventually(t, ctx, time.Minute, "each tick ran hello once", func() error {
		after, err := scheduled()
		if err != nil {
			return err
		}
		if after-before != float64(ticks) {
			return fmt.Errorf("%d ticks succeeded, hello ran %v times on %d replicas", ticks, after-before, len(ips))
		}
		return nil
	})
	t.Logf("%d tick(s), hello ran once per tick across %d replicas", ticks, len(ips))
	// The Service's selector does not take the CronJob's pods in.
	var svc corev1.Service
	if err := c.getJSON(ctx, &svc, "service", "-n", samplesNS, "ferry-samples"); err != nil {
		t.Fatal(err)
	}
	var sel []string
	for k, v := range svc.Spec.Selector {
		sel = append(sel, k+"="+v)
	}
	selected, err := c.pods(ctx, samplesNS, strings.Join(sel, ","))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range selected {
		if p.Labels["app.kubernetes.io/component"] != "functions" {
			t.Errorf("the Service's selector %v selects pod %s (%v)", svc.Spec.Selector, p.Name, p.Labels)
		}
	}
}

// testAzureTimer: the Azure app's timer CronJob runs TimerExample through
// the Functions admin API. The sample's schedule is every 5 minutes; the
// test makes it every minute (the conversion is internal/k8s's unit tests').
func testAzureTimer(t *testing.T, ctx context.Context, c *cluster, masterKey string) {
	const cronJob = "azure-shop-azure-app-timerexample"
	// HttpExample is authLevel function: the master key from the Secret
	// opens it, nothing else does.
	url := serviceURL(t, ctx, c, azureNS, "azure-shop") + "/api/HttpExample?name=e2e"
	if status, body := get(ctx, url+"&code="+masterKey); status != http.StatusOK {
		t.Errorf("GET /api/HttpExample with the master key: %d %s", status, body)
	}
	if status, body := get(ctx, url); status != http.StatusUnauthorized {
		t.Errorf("GET /api/HttpExample without a key: %d %s", status, body)
	}
	// The timer's POST goes through the Service to any ready pod, and the
	// set of pods can change meanwhile (the HPA restoring its minimum):
	// the pods are listed at each check, each compared with its own count
	// before the patch (none for a pod that came later).
	timerRuns := func() (map[string]float64, error) {
		pods, err := c.pods(ctx, azureNS, "app.kubernetes.io/component=functions")
		if err != nil {
			return nil, err
		}
		var ready []corev1.Pod
		for _, p := range pods {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					ready = append(ready, p)
				}
			}
		}
		return metricByPod(ctx, podIPs(ready), "ferry_invocations_total", `trigger="timer"`)
	}
	before, err := timerRuns()
	if err != nil {
		t.Fatal(err)
	}
	c.must(ctx, "patch", "cronjob", "-n", azureNS, cronJob, "--type", "merge", "-p", `{"spec":{"schedule":"* * * * *"}}`)
	eventually(t, ctx, 4*time.Minute, "the Azure timer's CronJob succeeded and TimerExample ran", func() error {
		jobs, err := c.jobsOf(ctx, azureNS, cronJob)
		if err != nil {
			return err
		}
		var ok bool
		for _, j := range jobs {
			ok = ok || j.Status.Succeeded > 0
		}
		if !ok {
			return fmt.Errorf("%d jobs, none succeeded", len(jobs))
		}
		after, err := timerRuns()
		if err != nil {
			return err
		}
		for ip, n := range after {
			if n > before[ip] {
				return nil
			}
		}
		return fmt.Errorf("no timer invocation in the /metrics of pods %v (before the patch: %v)", after, before)
	})
	c.must(ctx, "patch", "cronjob", "-n", azureNS, cronJob, "--type", "merge", "-p", `{"spec":{"suspend":true}}`)
}

// sidecarExample is deploy/examples/sidecar.yaml with its app container
// replaced by caller (the AWS CLI image cannot be pulled here): it invokes
// price on 127.0.0.1:8080 every 2 s and prints the answers.
func sidecarExample(t *testing.T, root string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "examples", "sidecar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
		var probe struct{ Kind string }
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			t.Fatal(err)
		}
		if probe.Kind != "Deployment" {
			out = append(out, doc)
			continue
		}
		var d appsv1.Deployment
		if err := yaml.UnmarshalStrict(doc, &d); err != nil {
			t.Fatal(err)
		}
		app := &d.Spec.Template.Spec.Containers[0]
		app.Image = "ferry-e2e/caller:1"
		app.ImagePullPolicy = corev1.PullNever
		app.Command = []string{"/caller", "-url", "http://127.0.0.1:8080", "-function", "price", "-payload", `"sidecar"`}
		app.Args = nil
		b, err := yaml.Marshal(&d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return bytes.Join(out, []byte("\n---\n"))
}

// testSidecar: the example's pods start (ferry first, as a native
// sidecar), and the app container's calls over the pod's loopback succeed.
func testSidecar(t *testing.T, ctx context.Context, c *cluster) {
	out, err := c.kubectl(ctx, nil, "rollout", "status", "-n", sidecarNS, "deployment/orders", "--timeout", "10m")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	eventually(t, ctx, 2*time.Minute, "the app container's calls to price succeed", func() error {
		logs, err := c.kubectl(ctx, nil, "logs", "-n", sidecarNS, "deployment/orders", "-c", "app", "--tail", "5")
		if err != nil {
			return err
		}
		if !bytes.Contains(logs, []byte(`200 "Hello sidecar`)) {
			return fmt.Errorf("app's log: %s", logs)
		}
		return nil
	})
}

// testKEDA applies ferry k8s --keda's ScaledObject against KEDA's CRD,
// taken from KEDA's Go module (no KEDA operator runs: this checks the
// object against the CRD's schema, not the scaling).
func testKEDA(t *testing.T, ctx context.Context, c *cluster, ferry, root string) {
	const kedaModule = "github.com/kedacore/keda/v2@v2.21.0"
	out := run(t, ctx, root, "go", "mod", "download", "-json", kedaModule)
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s: %v %s", kedaModule, err, mod.Error)
	}
	crd, err := os.ReadFile(filepath.Join(mod.Dir, "config", "crd", "bases", "keda.sh_scaledobjects.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.kubectl(ctx, crd, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	c.must(ctx, "wait", "--for", "condition=Established", "crd/scaledobjects.keda.sh", "--timeout", "2m")
	manifests := run(t, ctx, root, ferry, "k8s", "-f", "samples/ferry.yaml", "--namespace", kedaNS, "--keda")
	var scaled []byte
	for _, doc := range bytes.Split(manifests, []byte("\n---\n")) {
		if bytes.Contains(doc, []byte("kind: ScaledObject")) {
			scaled = doc
		}
	}
	if scaled == nil {
		t.Fatalf("no ScaledObject in ferry k8s --keda:\n%s", manifests)
	}
	c.apply(ctx, kedaNS, scaled)
	c.must(ctx, "get", "scaledobject", "-n", kedaNS, "ferry-samples")
}

// testLiveness stops one pod's ferry (SIGSTOP: it hangs, it does not
// exit): readiness takes the pod out of the Service, liveness fails and
// kubelet restarts the container, which comes back Ready.
func testLiveness(t *testing.T, ctx context.Context, c *cluster) {
	pods, err := c.pods(ctx, samplesNS, samplesPods)
	if err != nil || len(pods) == 0 {
		t.Fatal(err, len(pods))
	}
	p := pods[0]
	restarts := p.Status.ContainerStatuses[0].RestartCount
	pid := c.containerPID(t, ctx, p)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped ferry (pid %d) in pod %s", pid, p.Name)
	eventually(t, ctx, 2*time.Minute, "the hung pod leaves the Service's endpoints", func() error {
		eps, err := c.readyEndpoints(ctx, samplesNS, "ferry-samples")
		if err != nil {
			return err
		}
		if eps[p.Status.PodIP] {
			return fmt.Errorf("%s still a ready endpoint", p.Status.PodIP)
		}
		return nil
	})
	eventually(t, ctx, 5*time.Minute, "kubelet restarts the hung container and it is Ready again", func() error {
		var now corev1.Pod
		if err := c.getJSON(ctx, &now, "pod", "-n", samplesNS, p.Name); err != nil {
			return err
		}
		cs := now.Status.ContainerStatuses[0]
		if cs.RestartCount <= restarts || !cs.Ready {
			return fmt.Errorf("restarts %d, ready %v", cs.RestartCount, cs.Ready)
		}
		return nil
	})
	out := c.must(ctx, "get", "events", "-n", samplesNS, "--field-selector", "involvedObject.name="+p.Name, "-o", "jsonpath={.items[*].message}")
	if !bytes.Contains(out, []byte("Liveness probe failed")) {
		t.Errorf("no liveness failure among the pod's events: %s", out)
	}
}

// testDrain deletes a pod with a request in flight: the pod leaves the
// Service's endpoints while its listener still answers (the preStop
// pause), the request in flight completes, and ferry exits 0.
func testDrain(t *testing.T, ctx context.Context, c *cluster, secretKey string) {
	pods, err := c.pods(ctx, samplesNS, samplesPods)
	if err != nil || len(pods) == 0 {
		t.Fatal(err, len(pods))
	}
	p := pods[0]
	podURL := "http://" + p.Status.PodIP + ":8080"
	// A 4 s invocation, started before the delete.
	inflight := make(chan string, 1)
	go func() {
		out, err := lambdaClient(podURL, secretKey).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("errors"), Payload: []byte(`{"mode":"wait","ms":4000}`)})
		if err != nil {
			inflight <- err.Error()
			return
		}
		inflight <- fmt.Sprintf("%d %s %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
	}()
	time.Sleep(500 * time.Millisecond) // the request is on its way
	watch := exec.CommandContext(ctx, c.bin, "kubectl", "--kubeconfig", c.kubeconfig, "get", "pod", "-n", samplesNS, p.Name,
		"--watch", "-o", "jsonpath={.status.containerStatuses[0].state.terminated.exitCode}{\"\\n\"}")
	watchOut, _ := watch.StdoutPipe()
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	exitCodes := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(watchOut)
		exitCodes <- string(b)
	}()
	c.must(ctx, "delete", "pod", "-n", samplesNS, p.Name, "--wait=false")
	deleted := time.Now()

	// Poll the pod's own listener and the Service's endpoints.
	var outOfEndpoints, lastAnswer time.Time
	var readyz503 bool
	for time.Since(deleted) < 90*time.Second {
		status, _ := get(ctx, podURL+"/readyz")
		if status != 0 {
			lastAnswer = time.Now()
			readyz503 = readyz503 || status == http.StatusServiceUnavailable
		}
		if outOfEndpoints.IsZero() {
			if eps, err := c.readyEndpoints(ctx, samplesNS, "ferry-samples"); err == nil && !eps[p.Status.PodIP] {
				outOfEndpoints = time.Now()
			}
		}
		if status == 0 && !outOfEndpoints.IsZero() {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	select {
	case r := <-inflight:
		if !strings.HasPrefix(r, "200 ") {
			t.Errorf("the request in flight at the delete: %s", r)
		}
	case <-time.After(time.Minute):
		t.Errorf("the request in flight at the delete did not finish")
	}
	if outOfEndpoints.IsZero() || lastAnswer.IsZero() || !outOfEndpoints.Before(lastAnswer) {
		t.Errorf("out of the endpoints at %s, listener last answered at %s (deleted at %s): want out of the endpoints first",
			outOfEndpoints.Format(time.StampMilli), lastAnswer.Format(time.StampMilli), deleted.Format(time.StampMilli))
	}
	t.Logf("deleted %s: out of the endpoints after %s, listener answered until %s after, /readyz 503 seen: %v",
		p.Name, outOfEndpoints.Sub(deleted).Round(100*time.Millisecond), lastAnswer.Sub(deleted).Round(100*time.Millisecond), readyz503)
	eventually(t, ctx, 2*time.Minute, "the deleted pod is gone", func() error {
		out, err := c.kubectl(ctx, nil, "get", "pod", "-n", samplesNS, p.Name, "--ignore-not-found", "-o", "name")
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(out)) > 0 {
			return errors.New("still there")
		}
		return nil
	})
	watch.Process.Kill()
	codes := strings.Fields(<-exitCodes)
	if len(codes) == 0 || codes[len(codes)-1] != "0" {
		t.Errorf("ferry's exit codes seen while the pod terminated: %v, want 0", codes)
	}
	out, err := c.kubectl(ctx, nil, "rollout", "status", "-n", samplesNS, "deployment/ferry-samples", "--timeout", "5m")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// testRollingUpdate restarts the Deployment (a new ReplicaSet, pods
// replaced one by one) under continuous requests through the Service, and
// counts them: none may fail.
func testRollingUpdate(t *testing.T, ctx context.Context, c *cluster) {
	url := serviceURL(t, ctx, c, samplesNS, "ferry-samples") + "/http-api/items/1"
	stop := make(chan struct{})
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, body := get(ctx, url)
				if status == http.StatusOK {
					ok.Add(1)
					continue
				}
				failed.Add(1)
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s: %d %s", time.Now().Format(time.StampMilli), status, body))
				mu.Unlock()
			}
		}()
	}
	c.must(ctx, "rollout", "restart", "-n", samplesNS, "deployment/ferry-samples")
	out, err := c.kubectl(ctx, nil, "rollout", "status", "-n", samplesNS, "deployment/ferry-samples", "--timeout", "10m")
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("rolling update: %d requests answered 200, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 || ok.Load() == 0 {
		t.Errorf("%d requests failed during the rolling update (of %d):\n%s", failed.Load(), ok.Load()+failed.Load(), strings.Join(failures[:min(len(failures), 20)], "\n"))
	}
}

// checkRestricted checks that what the manifests ask for is what runs.
func checkRestricted(t *testing.T, p corev1.Pod) {
	t.Helper()
	sc := p.Spec.Containers[0].SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("pod %s: security context %+v", p.Name, sc)
	}
}

// containerPID is the host pid of pod p's ferry process.
func (c *cluster) containerPID(t *testing.T, ctx context.Context, p corev1.Pod) int {
	t.Helper()
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	out, err := exec.CommandContext(ctx, "ctr", "--address", c.ctrAddress, "-n", "k8s.io", "tasks", "ls").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no task %s in ctr tasks ls:\n%s", id, out)
	return 0
}

// rss is the resident memory of pod p's ferry process.
func (c *cluster) rss(t *testing.T, ctx context.Context, p corev1.Pod) string {
	pid := c.containerPID(t, ctx, p)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return fmt.Sprintf("%d MiB", kb/1024)
		}
	}
	return "unknown"
}

func get(ctx context.Context, url string) (int, string) { return do(ctx, http.MethodGet, url, "") }

// do sends one request; status 0 is a transport error, in the body.
func do(ctx context.Context, method, url, body string) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
