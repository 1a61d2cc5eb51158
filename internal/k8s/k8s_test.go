package k8s

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/ferrywasm/ferry/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// decoded is a manifest stream decoded strictly into the k8s.io/api types.
type decoded struct {
	configMaps   []corev1.ConfigMap
	deployments  []appsv1.Deployment
	services     []corev1.Service
	hpas         []autoscalingv2.HorizontalPodAutoscaler
	scaledObject []ScaledObject
	cronJobs     []batchv1.CronJob
	policies     []networkingv1.NetworkPolicy
	triggerAuths []TriggerAuthentication
}

// decodeStrict decodes every document of data into its kind's type;
// an unknown field, a wrong type or an unknown kind is an error.
func decodeStrict(t *testing.T, data []byte) *decoded {
	t.Helper()
	d := &decoded{}
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		var err error
		switch head.APIVersion + " " + head.Kind {
		case "v1 ConfigMap":
			var o corev1.ConfigMap
			err = yaml.UnmarshalStrict(doc, &o)
			d.configMaps = append(d.configMaps, o)
		case "apps/v1 Deployment":
			var o appsv1.Deployment
			err = yaml.UnmarshalStrict(doc, &o)
			d.deployments = append(d.deployments, o)
		case "v1 Service":
			var o corev1.Service
			err = yaml.UnmarshalStrict(doc, &o)
			d.services = append(d.services, o)
		case "autoscaling/v2 HorizontalPodAutoscaler":
			var o autoscalingv2.HorizontalPodAutoscaler
			err = yaml.UnmarshalStrict(doc, &o)
			d.hpas = append(d.hpas, o)
		case "keda.sh/v1alpha1 ScaledObject":
			var o ScaledObject
			err = yaml.UnmarshalStrict(doc, &o)
			d.scaledObject = append(d.scaledObject, o)
		case "networking.k8s.io/v1 NetworkPolicy":
			var o networkingv1.NetworkPolicy
			err = yaml.UnmarshalStrict(doc, &o)
			d.policies = append(d.policies, o)
		case "keda.sh/v1alpha1 TriggerAuthentication":
			var o TriggerAuthentication
			err = yaml.UnmarshalStrict(doc, &o)
			d.triggerAuths = append(d.triggerAuths, o)
		case "batch/v1 CronJob":
			var o batchv1.CronJob
			err = yaml.UnmarshalStrict(doc, &o)
			d.cronJobs = append(d.cronJobs, o)
		default:
			t.Fatalf("document %d: unexpected %s %s", i, head.APIVersion, head.Kind)
		}
		if err != nil {
			t.Fatalf("document %d (%s): %v\n%s", i, head.Kind, err, doc)
		}
	}
	return d
}

func generate(t *testing.T, cfg *config.File, o Options) []byte {
	t.Helper()
	o.Config = cfg
	if o.Version == "" {
		o.Version = "dev"
	}
	objs, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := YAML(objs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSamplesGolden compares the manifests for samples/ferry.yaml with
// testdata/samples.golden (go test -run Golden -update rewrites it).
func TestSamplesGolden(t *testing.T) {
	cfg, err := config.LoadTemplate("../../samples/ferry.yaml") // as ferry k8s reads it
	if err != nil {
		t.Fatal(err)
	}
	got := generate(t, cfg, Options{})
	compareGolden(t, got, "samples.golden")
	checkManifests(t, cfg, decodeStrict(t, got))
}

// compareGolden compares got with testdata/name, or rewrites it with
// -update.
func compareGolden(t *testing.T, got []byte, name string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("manifests differ from %s (run go test ./internal/k8s -run Golden -update and review the diff):\n%s", golden, got)
	}
}

// TestAzureGolden compares the manifests for testdata/azure.yaml (a
// function and the sample Azure app) with testdata/azure.golden: the app
// in the ConfigMap at the image's paths, its ${NAME} reference kept, and
// a CronJob for its timer in the app's time zone.
func TestAzureGolden(t *testing.T) {
	t.Setenv("FERRY_TEST_MASTER_KEY", "do-not-copy")
	cfg, err := config.LoadTemplate(filepath.Join("testdata", "azure.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := generate(t, cfg, Options{})
	compareGolden(t, got, "azure.golden")
	d := decodeStrict(t, got)
	checkManifests(t, cfg, d)
	yml := d.configMaps[0].Data["ferry.yaml"]
	for _, want := range []string{"path: /ferry/azure/azure-app", "module: /ferry/modules/azure-app.wasm", "stateDir: /tmp/ferry/azure/azure-app", "${FERRY_TEST_MASTER_KEY}"} {
		if !strings.Contains(yml, want) {
			t.Errorf("ConfigMap lacks %q:\n%s", want, yml)
		}
	}
	if strings.Contains(string(got), "do-not-copy") {
		t.Error("the master key's value was written")
	}
	var timer *batchv1.CronJob
	for i := range d.cronJobs {
		if d.cronJobs[i].Name == "azure-shop-azure-app-timerexample" {
			timer = &d.cronJobs[i]
		}
	}
	if timer == nil || timer.Spec.Schedule != "*/5 * * * *" || *timer.Spec.TimeZone != "Europe/Paris" || *timer.Spec.Suspend {
		t.Fatalf("the Azure timer's CronJob: %+v", timer)
	}
}

// TestUnconvertibleAzureTimer: a timer firing on seconds, or restricting
// both days, is refused with the config's file and line and the
// function.json; with no WEBSITE_TIME_ZONE the CronJob runs in Etc/UTC.
func TestUnconvertibleAzureTimer(t *testing.T) {
	for _, tt := range []struct{ schedule, want string }{
		{"*/30 * * * * *", "seconds other than 0"},
		{"0 0 0 13 * FRI", "restricts both the day and the day-of-week"},
		{"0 0 9 * * MON-FRI", ""},
	} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "app", "Tick"), 0o755)
		os.WriteFile(filepath.Join(dir, "app", "host.json"), []byte(`{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"}}}`), 0o644)
		os.WriteFile(filepath.Join(dir, "app", "Tick", "function.json"), []byte(`{"bindings":[{"name":"t","type":"timerTrigger","direction":"in","schedule":"`+tt.schedule+`"}]}`), 0o644)
		os.WriteFile(filepath.Join(dir, "m.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
		cfg, err := config.Parse(filepath.Join(dir, "ferry.yaml"), []byte("kubernetes: {name: t}\nazureApps:\n  - path: app\n    module: m.wasm\n"))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Generate(Options{Config: cfg})
		if tt.want == "" {
			if err != nil {
				t.Fatal(err)
			}
			cj := objs[len(objs)-1].Value.(*batchv1.CronJob)
			if cj.Spec.Schedule != "0 9 * * 1-5" || *cj.Spec.TimeZone != "Etc/UTC" {
				t.Errorf("%s: %s in %s", tt.schedule, cj.Spec.Schedule, *cj.Spec.TimeZone)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "ferry.yaml:3: azure app") || !strings.Contains(err.Error(), filepath.Join("Tick", "function.json")) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v", tt.schedule, err)
		}
	}
}

// checkManifests checks the fields the deployment relies on.
func checkManifests(t *testing.T, cfg *config.File, d *decoded) {
	t.Helper()
	if len(d.configMaps) != 1 || len(d.deployments) != 1 || len(d.services) != 1 {
		t.Fatalf("%d ConfigMaps, %d Deployments, %d Services; want one each", len(d.configMaps), len(d.deployments), len(d.services))
	}
	name := d.deployments[0].Name
	for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/component"} {
		if d.deployments[0].Labels[l] == "" || d.services[0].Labels[l] == "" || d.configMaps[0].Labels[l] == "" {
			t.Errorf("label %s missing", l)
		}
	}
	// The Deployment's and the Service's selectors match the Deployment's
	// pods and none of the CronJobs' pods.
	sel := d.deployments[0].Spec.Selector.MatchLabels
	if !maps.Equal(sel, d.services[0].Spec.Selector) {
		t.Errorf("Deployment selector %v, Service selector %v", sel, d.services[0].Spec.Selector)
	}
	if !matches(sel, d.deployments[0].Spec.Template.Labels) {
		t.Errorf("selector %v does not match the Deployment's pods %v", sel, d.deployments[0].Spec.Template.Labels)
	}
	for _, cj := range d.cronJobs {
		if l := cj.Spec.JobTemplate.Spec.Template.Labels; matches(sel, l) {
			t.Errorf("selector %v matches CronJob %s's pods %v", sel, cj.Name, l)
		}
	}
	// The ConfigMap holds the config with the image's module paths.
	yml := d.configMaps[0].Data["ferry.yaml"]
	for _, fn := range cfg.Functions {
		if !strings.Contains(yml, "module: /ferry/modules/"+fn.Name+".wasm") {
			t.Errorf("ConfigMap: function %s is not at /ferry/modules/%s.wasm:\n%s", fn.Name, fn.Name, yml)
		}
	}
	if strings.Contains(yml, "source:") {
		t.Errorf("ConfigMap: a source function is left to build in the pod:\n%s", yml)
	}

	pod := d.deployments[0].Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	// Restricted Pod Security.
	sc := c.SecurityContext
	if sc == nil || !*sc.RunAsNonRoot || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || *sc.RunAsUser != 65532 {
		t.Errorf("container security context %+v", sc)
	}
	if p := pod.SecurityContext; p == nil || !*p.RunAsNonRoot || p.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", p)
	}
	// Scratch on an emptyDir at /tmp, where FERRY_CACHE_DIR points.
	var scratch bool
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			scratch = scratch || v.Name == m.Name && v.EmptyDir != nil && m.MountPath == "/tmp"
		}
	}
	if !scratch {
		t.Errorf("no emptyDir on /tmp: %+v %+v", c.VolumeMounts, pod.Volumes)
	}
	// Probes on ferry's endpoints.
	for what, p := range map[string]*corev1.Probe{"/healthz startup": c.StartupProbe, "/readyz readiness": c.ReadinessProbe, "/healthz liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != strings.Fields(what)[0] {
			t.Errorf("%s probe: %+v", what, p)
		}
	}
	// Drain: preStop, then SIGTERM; ferry's drain covers the longest
	// timeout, and the grace period covers both.
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 1 {
		t.Errorf("preStop %+v", c.Lifecycle)
	}
	if !slices.Contains(c.Args, "--schedules=false") {
		t.Errorf("args %v: the replicas would fire the schedules too", c.Args)
	}
	i := slices.Index(c.Args, "--drain-timeout")
	if i < 0 {
		t.Fatalf("args %v: no --drain-timeout", c.Args)
	}
	drain, err := time.ParseDuration(c.Args[i+1])
	if err != nil {
		t.Fatal(err)
	}
	var longest time.Duration = 3 * time.Second
	var request, burst int64 = BaseMemoryMB, 0
	for _, fn := range cfg.Functions {
		longest = max(longest, fn.Timeout)
		mem, conc := int64(max(fn.Memory, 128)), int64(fn.Concurrency)
		if conc == 0 {
			conc = 10
		}
		warm := int64(max(fn.MinInstances, 1))
		request += mem * warm
		burst = max(burst, mem*(conc-warm))
	}
	for _, a := range cfg.AzureApps {
		mem, conc := int64(max(a.Memory, 128)), int64(a.Concurrency)
		if conc == 0 {
			conc = 10
		}
		request += mem
		burst = max(burst, mem*(conc-1))
	}
	limit := request + burst
	if drain <= longest {
		t.Errorf("drain %s does not cover the longest timeout %s", drain, longest)
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if pre := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second; grace <= pre+drain {
		t.Errorf("terminationGracePeriodSeconds %s <= preStop %s + drain %s", grace, pre, drain)
	}
	// Resources: every function warm, plus the largest one's burst to its
	// concurrency.
	if got := c.Resources.Limits.Memory().Value(); got != limit<<20 {
		t.Errorf("memory limit %d MiB, want %d", got>>20, limit)
	}
	if got := c.Resources.Requests.Memory().Value(); got != request<<20 {
		t.Errorf("memory request %d MiB, want %d", got>>20, request)
	}
	if c.Resources.Requests.Cpu().IsZero() {
		t.Error("no CPU request: the HPA's utilisation target needs one")
	}
	// The Service reaches the container's port.
	if s := d.services[0]; s.Spec.Ports[0].TargetPort.String() != c.Ports[0].Name || !mapsSubset(s.Spec.Selector, d.deployments[0].Spec.Template.Labels) {
		t.Errorf("service %+v does not select the pods", s.Spec)
	}
	// One CronJob per schedule and Azure timer, each firing it through the
	// Service.
	type fire struct {
		args []string
		tz   string
	}
	var fires []fire
	url := fmt.Sprintf("http://%s:8080", name)
	for _, fn := range cfg.Functions {
		for _, s := range fn.Schedules {
			fires = append(fires, fire{FireArgs("/etc/ferry/ferry.yaml", url, s.Name), "Etc/UTC"})
		}
	}
	for _, a := range cfg.AzureApps {
		timers, err := AzureTimers(cfg, a)
		if err != nil {
			t.Fatal(err)
		}
		for _, tm := range timers {
			fires = append(fires, fire{FireAzureArgs("/etc/ferry/ferry.yaml", url, tm.App, tm.Function), tm.TimeZone})
		}
	}
	if len(d.cronJobs) != len(fires) {
		t.Fatalf("%d CronJobs for %d schedules and timers", len(d.cronJobs), len(fires))
	}
	for i, cj := range d.cronJobs {
		c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
		if !slices.Equal(c.Args, fires[i].args) {
			t.Errorf("CronJob %s args %v, want %v", cj.Name, c.Args, fires[i].args)
		}
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || cj.Spec.TimeZone == nil || *cj.Spec.TimeZone != fires[i].tz {
			t.Errorf("CronJob %s: %+v", cj.Name, cj.Spec)
		}
		if c.SecurityContext == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
			t.Errorf("CronJob %s is not restricted", cj.Name)
		}
	}
}

func mapsSubset(sub, super map[string]string) bool {
	for k, v := range sub {
		if super[k] != v {
			return false
		}
	}
	return len(sub) > 0
}

const scheduledConfig = `
kubernetes:
  name: shop
  namespace: prod
  image: registry.example.com/shop:1.0
%s
functions:
  - name: report
    module: m.wasm
    memory: 512
    timeout: 2m
    concurrency: 4
    minInstances: 2
    schedule:
      - expression: cron(0/15 8-17 ? * MON-FRI *)
        name: Report.Business_Hours
      - expression: rate(1 hour)
        enabled: false
`

func parse(t *testing.T, yml string) *config.File {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "ferry.yaml"), []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSchedulesAndKEDA covers CronJobs (converted expressions, suspended
// disabled schedules, names made valid), a long timeout's drain, and the
// KEDA ScaledObject that replaces the HPA, with min replicas 0.
func TestSchedulesAndKEDA(t *testing.T) {
	cfg := parse(t, fmt.Sprintf(scheduledConfig, "  keda: {minReplicas: 0, maxReplicas: 5, threshold: 3}"))
	out := generate(t, cfg, Options{})
	d := decodeStrict(t, out)
	checkManifests(t, cfg, d)
	if len(d.hpas) != 0 || len(d.scaledObject) != 1 {
		t.Fatalf("%d HPAs, %d ScaledObjects; want KEDA's only", len(d.hpas), len(d.scaledObject))
	}
	so := d.scaledObject[0].Spec
	tr := so.Triggers[0]
	if *so.MinReplicaCount != 0 || *so.MaxReplicaCount != 5 || tr.Type != "prometheus" || tr.Metadata["threshold"] != "3" ||
		!strings.Contains(tr.Metadata["query"], `ferry_instances{state="busy"`) || so.ScaleTargetRef.Name != "shop" {
		t.Errorf("ScaledObject %+v", so)
	}
	if d.deployments[0].Namespace != "prod" || d.deployments[0].Spec.Template.Spec.Containers[0].Image != "registry.example.com/shop:1.0" {
		t.Errorf("namespace or image not from the kubernetes block")
	}
	cj := d.cronJobs
	if cj[0].Name != "shop-report-business-hours" || cj[0].Spec.Schedule != "0,15,30,45 8-17 * * 1-5" || *cj[0].Spec.Suspend {
		t.Errorf("CronJob 0: %s %q suspend %v", cj[0].Name, cj[0].Spec.Schedule, *cj[0].Spec.Suspend)
	}
	if cj[1].Name != "shop-report-schedule-2" || cj[1].Spec.Schedule != "0 * * * *" || !*cj[1].Spec.Suspend {
		t.Errorf("CronJob 1: %s %q suspend %v", cj[1].Name, cj[1].Spec.Schedule, *cj[1].Spec.Suspend)
	}
	// --keda without a keda block: defaults, scale to zero.
	cfg = parse(t, fmt.Sprintf(scheduledConfig, ""))
	d = decodeStrict(t, generate(t, cfg, Options{KEDA: true}))
	if len(d.scaledObject) != 1 || *d.scaledObject[0].Spec.MinReplicaCount != 0 || len(d.hpas) != 0 {
		t.Errorf("--keda: %+v", d.scaledObject)
	}
	d = decodeStrict(t, generate(t, cfg, Options{Name: "other", Image: "other:2"}))
	if len(d.hpas) != 1 || d.hpas[0].Spec.ScaleTargetRef.Name != "other" || *d.hpas[0].Spec.MinReplicas != DefaultReplicas {
		t.Errorf("HPA %+v", d.hpas)
	}
}

// TestUnconvertibleSchedule: a schedule five cron fields cannot express
// is refused with its file and line, not approximated.
func TestUnconvertibleSchedule(t *testing.T) {
	cfg := parse(t, "functions:\n  - name: f\n    module: m.wasm\n    schedule:\n      - expression: cron(0 0 L * ? *)\n")
	_, err := Generate(Options{Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "ferry.yaml:5: function f: schedule f-schedule-1: cron(0 0 L * ? *): L (the last day") {
		t.Fatalf("got %v", err)
	}
}

func TestCronJobName(t *testing.T) {
	long := strings.Repeat("x", 60)
	for _, c := range []struct{ app, rule string }{{"a", "b"}, {"app", long}, {strings.Repeat("a", 52), "r"}, {"app", "..."}} {
		n := cronJobName(c.app, c.rule)
		if len(n) > 52 || !dnsLabel.MatchString(n) {
			t.Errorf("cronJobName(%q, %q) = %q", c.app, c.rule, n)
		}
	}
}

// TestExamples decodes deploy/examples strictly, the sidecar example
// included: ferry as a second container, bound to the pod's loopback.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../deploy/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := decodeStrict(t, data)
		if strings.Contains(f, "sidecar") {
			if len(d.deployments) != 1 {
				t.Fatalf("%s: %d Deployments", f, len(d.deployments))
			}
			// A native sidecar: an init container that keeps running.
			var ferry *corev1.Container
			pod := d.deployments[0].Spec.Template.Spec
			for i := range pod.InitContainers {
				if c := &pod.InitContainers[i]; c.Name == "ferry" && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
					ferry = c
				}
			}
			if len(pod.Containers) != 1 || ferry == nil {
				t.Fatalf("%s: want an app container and ferry as a native sidecar", f)
			}
			var addr string
			for _, e := range ferry.Env {
				if e.Name == "FERRY_ADDR" {
					addr = e.Value
				}
			}
			if addr != "127.0.0.1:8080" || !*ferry.SecurityContext.ReadOnlyRootFilesystem {
				t.Errorf("%s: ferry listens on %q, read-only %v", f, addr, *ferry.SecurityContext.ReadOnlyRootFilesystem)
			}
		}
	}
}

// TestNetworkPolicyCredentialsAndStorage: the pods admit the control
// surface's named callers and the app's CronJobs, the HTTP routes' named
// callers (anyone by default); the access keys come from the app's Secret
// (optional), in the Deployment and the CronJobs; /tmp's volume and the
// container's ephemeral storage are bounded.
func TestNetworkPolicyCredentialsAndStorage(t *testing.T) {
	cfg, err := config.LoadTemplate("../../samples/ferry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tools, err := ParsePeer("tools/app=aws-cli")
	if err != nil {
		t.Fatal(err)
	}
	ingress, _ := ParsePeer("ingress-nginx")
	d := decodeStrict(t, generate(t, cfg, Options{ControlFrom: []Peer{tools}, HTTPFrom: []Peer{ingress}}))
	if len(d.policies) != 1 {
		t.Fatalf("%d NetworkPolicies", len(d.policies))
	}
	rules := d.policies[0].Spec.Ingress
	if len(rules) != 2 || len(rules[0].From) != 2 || len(rules[1].From) != 1 {
		t.Fatalf("ingress rules: %+v", rules)
	}
	if cj := rules[0].From[0].PodSelector.MatchLabels; cj["app.kubernetes.io/component"] != "schedule" {
		t.Errorf("CronJobs not admitted: %v", cj)
	}
	if p := rules[0].From[1]; p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "tools" || p.PodSelector.MatchLabels["app"] != "aws-cli" {
		t.Errorf("control peer: %+v", p)
	}
	if p := rules[1].From[0]; p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "ingress-nginx" {
		t.Errorf("HTTP peer: %+v", p)
	}

	pod := d.deployments[0].Spec.Template.Spec
	c := pod.Containers[0]
	secretEnv := func(env []corev1.EnvVar, name string) bool {
		for _, e := range env {
			if e.Name == name && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil &&
				e.ValueFrom.SecretKeyRef.Name == "ferry-samples-credentials" && *e.ValueFrom.SecretKeyRef.Optional {
				return true
			}
		}
		return false
	}
	for _, name := range []string{"FERRY_AWS_ACCESS_KEY_ID", "FERRY_AWS_SECRET_ACCESS_KEY"} {
		if !secretEnv(c.Env, name) {
			t.Errorf("the Deployment has no %s from the Secret", name)
		}
		for _, cj := range d.cronJobs {
			if !secretEnv(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env, name) {
				t.Errorf("CronJob %s has no %s from the Secret", cj.Name, name)
			}
		}
	}
	for _, cm := range d.configMaps {
		if strings.Contains(cm.Data["ferry.yaml"], "FERRY_AWS_SECRET_ACCESS_KEY") {
			t.Error("the ConfigMap names the secret key")
		}
	}
	var scratch *corev1.Volume
	for i, v := range pod.Volumes {
		if v.Name == "scratch" {
			scratch = &pod.Volumes[i]
		}
	}
	if scratch == nil || scratch.EmptyDir.SizeLimit == nil || scratch.EmptyDir.SizeLimit.IsZero() {
		t.Fatalf("scratch volume without sizeLimit: %+v", scratch)
	}
	limit := c.Resources.Limits[corev1.ResourceEphemeralStorage]
	if limit.Cmp(*scratch.EmptyDir.SizeLimit) <= 0 {
		t.Errorf("ephemeral-storage limit %s not above the scratch volume's %s", limit.String(), scratch.EmptyDir.SizeLimit.String())
	}

	for _, bad := range []string{"", "/", "Bad_NS", "ns/novalue"} {
		if _, err := ParsePeer(bad); err == nil {
			t.Errorf("ParsePeer(%q): no error", bad)
		}
	}
}

// matches reports whether a label selector's matchLabels select labels.
func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestEventSourceTriggers: each event source becomes KEDA's trigger for its
// kind, with ${NAME} references read from the container's environment
// (filled from the app's Secret) and never written into a manifest.
func TestEventSourceTriggers(t *testing.T) {
	t.Setenv("RABBIT_URL", "amqp://u:p@rabbit:5672/")
	t.Setenv("KAFKA_PASSWORD", "hunter2-pass")
	cfg := parse(t, `
kubernetes: {name: workers}
functions:
  - name: orders
    module: m.wasm
    eventSources:
      - sqs: {queue: "arn:aws:sqs:eu-west-1:123456789012:orders", batchSize: 5}
      - kafka:
          bootstrapServers: [b1:9092, b2:9092]
          topics: [payments, refunds]
          startingPosition: LATEST
          sasl: {mechanism: SCRAM-SHA-512, username: ferry, password: "${KAFKA_PASSWORD}"}
      - rabbitmq: {url: "${RABBIT_URL}", queue: jobs, batchSize: 20}
`)
	out := generate(t, cfg, Options{})
	if strings.Contains(string(out), "hunter2-pass") || strings.Contains(string(out), "u:p@") {
		t.Fatalf("a secret was written:\n%s", out)
	}
	d := decodeStrict(t, out)
	if len(d.hpas) != 0 || len(d.scaledObject) != 1 {
		t.Fatalf("%d HPAs, %d ScaledObjects: event sources scale with KEDA", len(d.hpas), len(d.scaledObject))
	}
	so := d.scaledObject[0].Spec
	if *so.MinReplicaCount != 0 {
		t.Errorf("minReplicaCount %d: an empty queue scales to zero", *so.MinReplicaCount)
	}
	byType := map[string][]ScaleTrigger{}
	for _, tr := range so.Triggers {
		byType[tr.Type] = append(byType[tr.Type], tr)
	}
	sqs := byType["aws-sqs-queue"]
	if len(sqs) != 1 || sqs[0].Metadata["queueURL"] != "https://sqs.eu-west-1.amazonaws.com/123456789012/orders" ||
		sqs[0].Metadata["awsRegion"] != "eu-west-1" || sqs[0].Metadata["queueLength"] != "5" || sqs[0].AuthenticationRef == nil {
		t.Errorf("aws-sqs-queue %+v", sqs)
	}
	kafka := byType["kafka"]
	if len(kafka) != 2 || kafka[0].Metadata["topic"] != "payments" || kafka[1].Metadata["topic"] != "refunds" ||
		kafka[0].Metadata["bootstrapServers"] != "b1:9092,b2:9092" || kafka[0].Metadata["consumerGroup"] != "orders" ||
		kafka[0].Metadata["offsetResetPolicy"] != "latest" || kafka[0].Metadata["sasl"] != "scram_sha512" || kafka[0].AuthenticationRef == nil {
		t.Errorf("kafka %+v", kafka)
	}
	rabbit := byType["rabbitmq"]
	if len(rabbit) != 1 || rabbit[0].Metadata["hostFromEnv"] != "RABBIT_URL" || rabbit[0].Metadata["queueName"] != "jobs" || rabbit[0].Metadata["value"] != "20" {
		t.Errorf("rabbitmq %+v", rabbit)
	}
	if len(d.triggerAuths) != 2 {
		t.Fatalf("%d TriggerAuthentications, want aws and kafka", len(d.triggerAuths))
	}
	for _, ta := range d.triggerAuths {
		switch ta.Metadata.Name {
		case "workers-aws":
			if ta.Spec.PodIdentity == nil || ta.Spec.PodIdentity.Provider != "aws" {
				t.Errorf("aws %+v", ta.Spec)
			}
		case "workers-kafka-orders":
			if len(ta.Spec.SecretTargetRef) != 1 || ta.Spec.SecretTargetRef[0] != (SecretTargetRef{Parameter: "password", Name: "workers-event-sources", Key: "KAFKA_PASSWORD"}) {
				t.Errorf("kafka %+v", ta.Spec)
			}
		default:
			t.Errorf("unexpected TriggerAuthentication %s", ta.Metadata.Name)
		}
	}
	env := map[string]string{}
	for _, e := range d.deployments[0].Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	if env["RABBIT_URL"] != "workers-event-sources/RABBIT_URL" || env["KAFKA_PASSWORD"] != "workers-event-sources/KAFKA_PASSWORD" {
		t.Errorf("container env from the Secret: %v", env)
	}

	// A password written into ferry.yaml is refused, not copied.
	cfg = parse(t, "functions:\n  - name: f\n    module: m.wasm\n    eventSources:\n      - rabbitmq: {url: 'amqp://u:p@rabbit/', queue: q}\n")
	if _, err := Generate(Options{Config: cfg}); err == nil || !strings.Contains(err.Error(), "write url: ${NAME}") {
		t.Errorf("literal password: %v", err)
	}
}
