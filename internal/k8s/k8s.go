// Package k8s writes the Kubernetes objects that run a ferry app, built
// from ferry.yaml: a Deployment of `ferry serve` with probes on its health
// endpoints, the restricted Pod Security settings, resources derived from
// the functions' memory and concurrency, and a termination sequence that
// drains; a Service; a ConfigMap with the config the pods run; a
// HorizontalPodAutoscaler, or a KEDA ScaledObject scaling on in-flight
// invocations; and a CronJob per schedule and per Azure timer trigger.
//
// Schedules run once per tick whatever the replica count because no
// replica fires them: the pods run `ferry serve --schedules=false`, and
// each schedule's CronJob runs `ferry fire-schedule`, which sends the
// schedule's event to the Service as an asynchronous (Event) invocation,
// so one replica runs it, with the async queue's retries and destinations.
// An Azure app's timer is fired the Functions host's way: `ferry
// fire-schedule --azure-app` POSTs /admin/functions/{name} to the Service.
package k8s

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/internal/image"
	"github.com/ferrywasm/ferry/lambdaspec"
)

// Defaults for what ferry.yaml's kubernetes: block leaves out.
const (
	DefaultReplicas    = 2
	DefaultMaxReplicas = 10
	DefaultTargetCPU   = 70
	// DefaultKEDAThreshold is the in-flight invocations per replica KEDA
	// aims at.
	DefaultKEDAThreshold = 10
	DefaultPrometheus    = "http://prometheus-operated.monitoring.svc:9090"

	// BaseMemoryMB is ferry's own memory: the Go runtime, the HTTP server,
	// the modules and their compiled code.
	BaseMemoryMB = 128
	// PreStopSeconds is how long a terminating pod keeps serving before
	// ferry gets SIGTERM, so that Service endpoints stop sending it new
	// requests first (endpoint removal is asynchronous to the kill).
	PreStopSeconds = 5
	// DefaultDrain is ferry serve's --drain-timeout default.
	DefaultDrain = 25 * time.Second

	configDir  = "/etc/ferry"
	configFile = "ferry.yaml"
)

// Options configure Generate.
type Options struct {
	// Config is the parsed ferry.yaml; its kubernetes: block supplies
	// what the fields below leave empty.
	Config *config.File
	// Name, Namespace and Image override the kubernetes: block.
	Name, Namespace, Image string
	// KEDA writes a ScaledObject instead of the HorizontalPodAutoscaler,
	// also when the kubernetes: block has no keda: settings.
	KEDA bool
	// Version is ferry's version, for the app.kubernetes.io/version label.
	Version string
	// ControlFrom are the peers the NetworkPolicy admits to the pods
	// besides the app's own CronJobs: the callers of the Lambda API and the
	// Azure admin routes (SDKs, the AWS CLI, Prometheus for /metrics).
	ControlFrom []Peer
	// HTTPFrom are the peers admitted for the HTTP routes; nil admits any
	// (public routes, as API Gateway's), when the app has HTTP routes.
	HTTPFrom []Peer
}

// Peer names pods that may connect: those of Namespace (every namespace
// when "") whose labels match Pods (every pod when empty).
type Peer struct {
	Namespace string
	Pods      map[string]string
}

// CredentialsSecret names the Secret the pods read the access keys from
// (app name + this suffix); the user creates it. Its keys are
// SecretKeyID, SecretKeySecret and SecretAzureMasterKey.
const (
	CredentialsSecret    = "-credentials"
	SecretKeyID          = "aws_access_key_id"
	SecretKeySecret      = "aws_secret_access_key"
	SecretAzureMasterKey = "azure_master_key"
	// ScratchMarginMB is the scratch volume's room beyond the functions'
	// /tmp: the compilation cache, the async spool, Azure queue state.
	ScratchMarginMB = 1024
)

// Object is one manifest.
type Object struct {
	Kind, Name string
	// Value is a k8s.io/api type, or ScaledObject.
	Value any
}

// Generate returns the app's objects in the order to apply them.
func Generate(o Options) ([]Object, error) {
	g, err := newGenerator(o)
	if err != nil {
		return nil, err
	}
	rc, _ := image.RuntimeConfig(g.cfg)
	yml, err := config.Marshal(rc)
	if err != nil {
		return nil, err
	}
	yml = append([]byte(fmt.Sprintf("# Written by ferry k8s from %s: the modules are the image's (ferry image puts\n# them in %s); paths ferry writes are under %s, an emptyDir.\n",
		filepath.Base(g.cfg.Path), image.ModulesDir, image.ScratchDir)), yml...)

	objs := []Object{
		{"ConfigMap", g.name, g.configMap(yml)},
		{"Deployment", g.name, g.deployment(yml)},
		{"Service", g.name, g.service()},
		{"NetworkPolicy", g.name, networkPolicy(o, g.cfg, g.meta(g.name, nil), g.selector, g.name)},
	}
	scaling, err := g.autoscaler()
	if err != nil {
		return nil, err
	}
	objs = append(objs, scaling...)
	cronJobs, err := g.cronJobs()
	if err != nil {
		return nil, err
	}
	return append(objs, cronJobs...), nil
}

// generator holds what the objects of one app share: names, labels, the
// image, sizes, the pod security settings, credentials and volumes.
type generator struct {
	o                         Options
	cfg                       *config.File
	kc                        config.Kubernetes
	name, ns, img, serviceURL string
	labels, selector          map[string]string
	sz                        sizing
	restricted                *corev1.SecurityContext
	podSecurity               *corev1.PodSecurityContext
	credEnv                   []corev1.EnvVar
	volumes                   []corev1.Volume
	mounts                    []corev1.VolumeMount
}

func newGenerator(o Options) (*generator, error) {
	cfg, kc := o.Config, o.Config.Kubernetes
	name := cmp.Or(o.Name, kc.Name, defaultName(cfg.Path))
	if !dnsLabel.MatchString(name) || len(name) > 52 {
		return nil, fmt.Errorf("app name %q is not a Kubernetes name (lower-case letters, digits and -, at most 52); set kubernetes.name or --name", name)
	}
	g := &generator{
		o: o, cfg: cfg, kc: kc, name: name,
		ns:         cmp.Or(o.Namespace, kc.Namespace),
		img:        cmp.Or(o.Image, kc.Image, name+":latest"),
		serviceURL: fmt.Sprintf("http://%s:%d", name, image.Port),
		labels: map[string]string{
			"app.kubernetes.io/name":       name,
			"app.kubernetes.io/instance":   name,
			"app.kubernetes.io/version":    cmp.Or(o.Version, "dev"),
			"app.kubernetes.io/component":  "functions",
			"app.kubernetes.io/managed-by": "ferry",
		},
		// The selector names the component: the CronJobs' pods carry the
		// same name and instance (component "schedule"), and a Service or
		// HPA selecting them would route requests to them and count them.
		selector: map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name, "app.kubernetes.io/component": "functions"},
	}
	g.sz = g.sizing()
	scratchMB := g.sz.scratchMB
	restricted := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		ReadOnlyRootFilesystem:   ptr(true),
		RunAsNonRoot:             ptr(true),
		RunAsUser:                ptr(int64(image.UID)),
		RunAsGroup:               ptr(int64(image.GID)),
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	podSecurity := &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr(true),
		RunAsUser:      ptr(int64(image.UID)),
		RunAsGroup:     ptr(int64(image.GID)),
		FSGroup:        ptr(int64(image.GID)),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	// The access keys come from a Secret the user creates (never from the
	// ConfigMap); optional, so that a missing Secret gives ferry's own
	// message ("refusing to listen ... without credentials") in the log.
	secret := name + CredentialsSecret
	fromSecret := func(env, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: env, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key, Optional: ptr(true),
		}}}
	}
	credEnv := []corev1.EnvVar{
		fromSecret("FERRY_AWS_ACCESS_KEY_ID", SecretKeyID),
		fromSecret("FERRY_AWS_SECRET_ACCESS_KEY", SecretKeySecret),
	}
	if len(cfg.AzureApps) > 0 {
		credEnv = append(credEnv, fromSecret("FERRY_AZURE_MASTER_KEY", SecretAzureMasterKey))
	}
	scratchSize := resource.MustParse(fmt.Sprintf("%dMi", scratchMB))
	volumes := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &scratchSize}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: configDir, ReadOnly: true},
		{Name: "scratch", MountPath: "/tmp"},
	}
	g.restricted, g.podSecurity, g.credEnv, g.volumes, g.mounts = restricted, podSecurity, credEnv, volumes, mounts
	return g, nil
}

// meta is an object's metadata: the app's labels, plus extra.
func (g *generator) meta(n string, extra map[string]string) metav1.ObjectMeta {
	l := map[string]string{}
	for k, v := range g.labels {
		l[k] = v
	}
	for k, v := range extra {
		l[k] = v
	}
	return metav1.ObjectMeta{Name: n, Namespace: g.ns, Labels: l}
}

// sizing is the pod's memory, scratch space and termination timing.
type sizing struct {
	requestMB, limitMB, scratchMB int64
	drain                         time.Duration
	grace                         int64
}

// sizing derives the pod's memory and scratch space from the functions'
// and apps' memory, ephemeral storage and concurrency, and its drain from
// the longest timeout.
func (g *generator) sizing() sizing {
	// Drain: a request accepted just before SIGTERM may run for the longest
	// timeout; the grace period covers the preStop pause, that drain and a
	// margin to exit, so ferry never gets SIGKILL while it drains.
	var longest time.Duration
	// Memory: the request is ferry plus one warm instance of every function
	// (minInstances of those that keep more) at its full memory size; the
	// limit adds one function's burst, its other instances up to its
	// concurrency, at full size, for the largest such burst. Each instance
	// is held to its memory size by ferry (Runtime.OutOfMemory, as on
	// Lambda); a limit for every instance of every function at once (Σ
	// memory × concurrency, 9 GB for the samples) would be no limit at all.
	requestMB, burstMB := int64(BaseMemoryMB), int64(0)
	for _, fn := range g.cfg.Functions {
		timeout, memory, concurrency := fn.Timeout, int64(fn.Memory), int64(fn.Concurrency)
		if timeout == 0 {
			timeout = lambdaspec.DefaultTimeout
		}
		if memory == 0 {
			memory = lambdaspec.DefaultMemoryMB
		}
		if concurrency == 0 {
			concurrency = lambdaspec.DefaultConcurrency
		}
		longest = max(longest, timeout)
		warm := int64(max(fn.MinInstances, 1))
		requestMB += memory * warm
		burstMB = max(burstMB, memory*max(concurrency-warm, 0))
	}
	for _, a := range g.cfg.AzureApps {
		// The custom handler's instances, sized as a function's.
		memory, concurrency := int64(a.Memory), int64(a.Concurrency)
		if memory == 0 {
			memory = lambdaspec.DefaultMemoryMB
		}
		if concurrency == 0 {
			concurrency = lambdaspec.DefaultConcurrency
		}
		requestMB += memory
		burstMB = max(burstMB, memory*(concurrency-1))
	}
	limitMB := requestMB + burstMB
	// /tmp of every instance lives on the scratch volume: cap it (and the
	// container's ephemeral storage) at what the instances may use, so a
	// function cannot fill the node's disk.
	var scratchMB int64 = ScratchMarginMB
	for _, fn := range g.cfg.Functions {
		eph, concurrency := int64(fn.EphemeralStorage), int64(fn.Concurrency)
		if eph == 0 {
			eph = lambdaspec.DefaultEphemeralStorageMB
		}
		if concurrency == 0 {
			concurrency = lambdaspec.DefaultConcurrency
		}
		scratchMB += eph * concurrency
	}
	for _, a := range g.cfg.AzureApps {
		concurrency := int64(a.Concurrency)
		if concurrency == 0 {
			concurrency = lambdaspec.DefaultConcurrency
		}
		scratchMB += lambdaspec.DefaultEphemeralStorageMB * concurrency
	}
	drain := max(DefaultDrain, longest+5*time.Second)
	grace := int64(PreStopSeconds) + int64(drain/time.Second) + 5
	return sizing{requestMB: requestMB, limitMB: limitMB, scratchMB: scratchMB, drain: drain, grace: grace}
}

func probe(path string, period, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}},
		PeriodSeconds:    period,
		FailureThreshold: failures,
		TimeoutSeconds:   2,
	}
}

func (g *generator) configMap(yml []byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: g.meta(g.name, nil),
		Data:       map[string]string{configFile: string(yml)},
	}
}

func (g *generator) deployment(yml []byte) *appsv1.Deployment {
	sum := sha256.Sum256(yml)
	env := append([]corev1.EnvVar{
		{Name: "FERRY_CACHE_DIR", Value: image.ScratchDir},
		{Name: "FERRY_CACHE_SEED", Value: image.CacheSeedDir},
	}, g.credEnv...)
	env = append(env, eventSourceEnv(g.cfg, g.name)...)
	name, img, labels, selector := g.name, g.img, g.labels, g.selector
	drain, grace, requestMB, limitMB, scratchMB := g.sz.drain, g.sz.grace, g.sz.requestMB, g.sz.limitMB, g.sz.scratchMB
	podSecurity, restricted, mounts, volumes := g.podSecurity, g.restricted, g.mounts, g.volumes
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: g.meta(name, nil),
		Spec: appsv1.DeploymentSpec{
			// No replicas: the autoscaler owns the count, and kubectl apply
			// would reset it to a fixed one at every apply.
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr(intstr.FromInt32(0)), MaxSurge: ptr(intstr.FromString("25%"))},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: labels,
					Annotations: map[string]string{
						// A new config rolls the pods; a ConfigMap change alone does not.
						"ferry.dev/config-sha256": hex.EncodeToString(sum[:]),
						"prometheus.io/scrape":    "true",
						"prometheus.io/port":      strconv.Itoa(image.Port),
						"prometheus.io/path":      "/metrics",
					},
				},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken:  ptr(false),
					SecurityContext:               podSecurity,
					TerminationGracePeriodSeconds: ptr(grace),
					Containers: []corev1.Container{{
						Name:            "ferry",
						Image:           img,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            []string{"serve", "-f", configDir + "/" + configFile, "--schedules=false", "--drain-timeout", drain.String()},
						Env:             env,
						Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: image.Port, Protocol: corev1.ProtocolTCP}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:              resource.MustParse("250m"),
								corev1.ResourceMemory:           resource.MustParse(fmt.Sprintf("%dMi", requestMB)),
								corev1.ResourceEphemeralStorage: resource.MustParse(fmt.Sprintf("%dMi", ScratchMarginMB)),
							},
							Limits: corev1.ResourceList{
								corev1.ResourceMemory: resource.MustParse(fmt.Sprintf("%dMi", limitMB)),
								// The scratch volume plus room for logs.
								corev1.ResourceEphemeralStorage: resource.MustParse(fmt.Sprintf("%dMi", scratchMB+256)),
							},
						},
						// The listener is up before the modules compile, so the
						// startup probe passes at once; /readyz keeps the pod out
						// of the Service until every module is loaded and warm.
						StartupProbe:   probe("/healthz", 1, 60),
						ReadinessProbe: probe("/readyz", 2, 1),
						LivenessProbe:  probe("/healthz", 10, 3),
						Lifecycle: &corev1.Lifecycle{
							PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: PreStopSeconds}},
						},
						VolumeMounts:    mounts,
						SecurityContext: restricted,
					}},
					Volumes: volumes,
				},
			},
		},
	}
}

func (g *generator) service() *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: g.meta(g.name, nil),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: g.selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: image.Port, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// autoscaler is the HorizontalPodAutoscaler, or KEDA's ScaledObject with
// a trigger per event source (and the TriggerAuthentications they use).
func (g *generator) autoscaler() ([]Object, error) {
	kc, o, name, ns, meta := g.kc, g.o, g.name, g.ns, g.meta
	minReplicas := int32(firstInt(kc.Autoscaling.MinReplicas, kc.Replicas, DefaultReplicas))
	maxReplicas := int32(firstInt(kc.Autoscaling.MaxReplicas, DefaultMaxReplicas))
	maxReplicas = max(maxReplicas, minReplicas)
	queueTriggers, queueAuths, err := eventSourceTriggers(g.cfg, name, meta)
	if err != nil {
		return nil, err
	}
	// Event sources scale on their queues' depth, which only KEDA reads.
	if kd := kc.KEDA; kd != nil || o.KEDA || len(queueTriggers) > 0 {
		if kd == nil {
			kd = &config.KEDA{}
		}
		kmin := int32(0)
		if kd.MinReplicas != nil {
			kmin = int32(*kd.MinReplicas)
		}
		kmax := int32(firstInt(kd.MaxReplicas, int(maxReplicas)))
		query := cmp.Or(kd.Query, fmt.Sprintf(`sum(ferry_instances{state="busy",namespace="%s",pod=~"%s-.*"})`, cmp.Or(ns, "default"), name))
		so := &ScaledObject{
			APIVersion: "keda.sh/v1alpha1", Kind: "ScaledObject",
			Metadata: meta(name, nil),
			Spec: ScaledObjectSpec{
				ScaleTargetRef:  ScaleTarget{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
				PollingInterval: 30, CooldownPeriod: 300,
				MinReplicaCount: &kmin, MaxReplicaCount: &kmax,
				Triggers: []ScaleTrigger{{Type: "prometheus", Metadata: map[string]string{
					"serverAddress": cmp.Or(kd.ServerAddress, DefaultPrometheus),
					"query":         query,
					"threshold":     strconv.Itoa(firstInt(kd.Threshold, DefaultKEDAThreshold)),
				}}},
			},
		}
		so.Spec.Triggers = append(so.Spec.Triggers, queueTriggers...)
		return append(queueAuths, Object{"ScaledObject", name, so}), nil
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: meta(name, nil),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    &minReplicas,
			MaxReplicas:    maxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(firstInt(kc.Autoscaling.TargetCPU, DefaultTargetCPU)))},
				},
			}},
		},
	}
	return []Object{{"HorizontalPodAutoscaler", name, hpa}}, nil
}

// cronJob is the CronJob that fires one schedule with args.
func (g *generator) cronJob(cjName, schedule, timeZone string, suspend bool, args []string) Object {
	name, img, meta, podSecurity, restricted, credEnv, mounts, volumes := g.name, g.img, g.meta, g.podSecurity, g.restricted, g.credEnv, g.mounts, g.volumes
	return Object{"CronJob", cjName, &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: meta(cjName, map[string]string{"app.kubernetes.io/component": "schedule"}),
		Spec: batchv1.CronJobSpec{
			Schedule: schedule,
			TimeZone: ptr(timeZone),
			// A tick missed by more than a minute is skipped, as ferry
			// serve does not catch up on missed firings either.
			StartingDeadlineSeconds:    ptr(int64(60)),
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			Suspend:                    ptr(suspend),
			SuccessfulJobsHistoryLimit: ptr(int32(1)),
			FailedJobsHistoryLimit:     ptr(int32(3)),
			JobTemplate: batchv1.JobTemplateSpec{
				Spec: batchv1.JobSpec{
					// A failed POST (no ready replica, queue full) is retried;
					// once ferry answered 202 the event is its to run.
					BackoffLimit:            ptr(int32(3)),
					ActiveDeadlineSeconds:   ptr(int64(120)),
					TTLSecondsAfterFinished: ptr(int32(3600)),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
							"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name,
							"app.kubernetes.io/component": "schedule", "app.kubernetes.io/managed-by": "ferry",
						}},
						Spec: corev1.PodSpec{
							AutomountServiceAccountToken: ptr(false),
							RestartPolicy:                corev1.RestartPolicyNever,
							SecurityContext:              podSecurity,
							Containers: []corev1.Container{{
								Name:            "fire",
								Image:           img,
								ImagePullPolicy: corev1.PullIfNotPresent,
								Args:            args,
								Env:             credEnv, // to sign its Invoke call, or the Azure master key
								Resources: corev1.ResourceRequirements{
									Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
									Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
								},
								VolumeMounts:    mounts[:1],
								SecurityContext: restricted,
							}},
							Volumes: volumes[:1],
						},
					},
				},
			},
		},
	}}
}

// cronJobs is a CronJob per schedule and per Azure timer trigger.
func (g *generator) cronJobs() ([]Object, error) {
	cfg, name, serviceURL, cronJob := g.cfg, g.name, g.serviceURL, g.cronJob
	var objs []Object
	used := map[string]string{}
	for _, fn := range cfg.Functions {
		for _, s := range fn.Schedules {
			cron, err := s.Schedule.StandardCron()
			if err != nil {
				return nil, fmt.Errorf("%s:%d: function %s: schedule %s: %v", cfg.Path, s.Line, fn.Name, s.Name, err)
			}
			cjName := cronJobName(name, s.Name)
			if other, dup := used[cjName]; dup {
				return nil, fmt.Errorf("%s:%d: schedules %s and %s both make CronJob %s; rename one", cfg.Path, s.Line, other, s.Name, cjName)
			}
			used[cjName] = s.Name
			// EventBridge evaluates schedules in UTC.
			objs = append(objs, cronJob(cjName, cron, "Etc/UTC", !s.Enabled, FireArgs(configDir+"/"+configFile, serviceURL, s.Name)))
		}
	}
	for _, a := range cfg.AzureApps {
		timers, err := AzureTimers(cfg, a)
		if err != nil {
			return nil, err
		}
		for _, t := range timers {
			rule := t.App + "-" + t.Function
			cjName := cronJobName(name, rule)
			if other, dup := used[cjName]; dup {
				return nil, fmt.Errorf("%s:%d: azure app %s: timer %s and schedule %s both make CronJob %s; rename one", cfg.Path, a.Line, t.App, t.Function, other, cjName)
			}
			used[cjName] = "azure timer " + rule
			objs = append(objs, cronJob(cjName, t.Cron, t.TimeZone, false, FireAzureArgs(configDir+"/"+configFile, serviceURL, t.App, t.Function)))
		}
	}
	return objs, nil
}

// networkPolicy admits to the pods' port the app's CronJobs and
// o.ControlFrom (the Lambda API's and Azure admin routes' callers) and,
// when the app has HTTP routes, o.HTTPFrom (anyone when nil). A
// NetworkPolicy sees ports, not paths: with public HTTP routes the control
// surface is reachable too, and its credentials (AWS Signature V4, the
// Azure master key) are what protects it.
func networkPolicy(o Options, cfg *config.File, meta metav1.ObjectMeta, selector map[string]string, name string) *networkingv1.NetworkPolicy {
	port := []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromString("http"))}}
	peer := func(p Peer) networkingv1.NetworkPolicyPeer {
		np := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: p.Pods}}
		if p.Namespace != "" {
			np.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": p.Namespace}}
		}
		return np
	}
	control := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
		"app.kubernetes.io/name": name, "app.kubernetes.io/component": "schedule",
	}}}}
	for _, p := range o.ControlFrom {
		control = append(control, peer(p))
	}
	rules := []networkingv1.NetworkPolicyIngressRule{{From: control, Ports: port}}
	hasHTTP := len(cfg.AzureApps) > 0
	for _, fn := range cfg.Functions {
		hasHTTP = hasHTTP || len(fn.HTTP) > 0
	}
	if hasHTTP {
		rule := networkingv1.NetworkPolicyIngressRule{Ports: port}
		for _, p := range o.HTTPFrom {
			rule.From = append(rule.From, peer(p))
		}
		rules = append(rules, rule)
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: meta,
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selector},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     rules,
		},
	}
}

// ParsePeer parses a --control-from/--http-from value: NAMESPACE (its
// pods), NAMESPACE/k=v,k2=v2 (its pods with those labels) or /k=v (the
// app's namespace's pods with those labels).
func ParsePeer(s string) (Peer, error) {
	ns, labels, _ := strings.Cut(s, "/")
	p := Peer{Namespace: ns}
	if ns != "" && !dnsLabel.MatchString(ns) {
		return p, fmt.Errorf("%q: namespace %q is not a Kubernetes name", s, ns)
	}
	for _, kv := range strings.Split(labels, ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return p, fmt.Errorf("%q: want NAMESPACE[/key=value,...]", s)
		}
		if p.Pods == nil {
			p.Pods = map[string]string{}
		}
		p.Pods[k] = v
	}
	if ns == "" && p.Pods == nil {
		return p, fmt.Errorf("%q: name a namespace, pod labels or both", s)
	}
	return p, nil
}

// FireArgs are the arguments of a schedule's CronJob: `ferry
// fire-schedule`, which posts the schedule's event to url as an Event
// invocation.
func FireArgs(configPath, url, rule string) []string {
	return []string{"fire-schedule", "-f", configPath, "--url", url, rule}
}

// FireAzureArgs are the arguments of an Azure timer's CronJob: `ferry
// fire-schedule --azure-app`, which runs the function through the Functions
// host's admin API (POST /admin/functions/{name}).
func FireAzureArgs(configPath, url, app, function string) []string {
	return []string{"fire-schedule", "-f", configPath, "--url", url, "--azure-app", app, function}
}

// AzureTimer is an Azure app's timer-triggered function as a CronJob
// schedule.
type AzureTimer struct {
	App, Function string
	// Cron is the five-field schedule, evaluated in TimeZone (an IANA
	// name: the app's WEBSITE_TIME_ZONE, else Etc/UTC).
	Cron, TimeZone string
}

// AzureTimers loads the Azure app a (its function.json files, with its
// environment as app settings) and returns its timers as CronJob
// schedules. A schedule that is not a whole number of minutes, or that a
// five-field cron cannot express, is an error at a's line.
func AzureTimers(cfg *config.File, a config.AzureApp) ([]AzureTimer, error) {
	where := fmt.Sprintf("%s:%d: azure app %s", cfg.Path, a.Line, a.Path)
	app, err := azure.Load(a.Path, func(k string) string { return a.Environment[k] })
	if err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	var out []AzureTimer
	for _, f := range app.Functions {
		if f.Trigger.Type != azure.TimerTrigger {
			continue
		}
		fjson := filepath.Join(a.Path, f.Name, "function.json")
		if strings.HasPrefix(f.Schedule.String(), "%") {
			return nil, fmt.Errorf("%s: function %s: schedule %s comes from an app setting, which each pod reads from its own environment; write the expression in %s", where, f.Name, f.Schedule, fjson)
		}
		cron, err := f.Schedule.StandardCron()
		if err != nil {
			return nil, fmt.Errorf("%s: function %s (%s): %v", where, f.Name, fjson, err)
		}
		tz := f.Schedule.Location().String()
		if f.Schedule.Location() == time.UTC || tz == "UTC" {
			tz = "Etc/UTC"
		}
		out = append(out, AzureTimer{App: app.Name, Function: f.Name, Cron: cron, TimeZone: tz})
	}
	return out, nil
}

// ScaledObject is KEDA's keda.sh/v1alpha1 ScaledObject, with the fields
// ferry writes (KEDA's own Go module is far larger than this).
type ScaledObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       ScaledObjectSpec  `json:"spec"`
}

// ScaledObjectSpec is a ScaledObject's spec.
type ScaledObjectSpec struct {
	ScaleTargetRef  ScaleTarget    `json:"scaleTargetRef"`
	PollingInterval int32          `json:"pollingInterval"`
	CooldownPeriod  int32          `json:"cooldownPeriod"`
	MinReplicaCount *int32         `json:"minReplicaCount,omitempty"`
	MaxReplicaCount *int32         `json:"maxReplicaCount,omitempty"`
	Triggers        []ScaleTrigger `json:"triggers"`
}

// ScaleTarget is the workload a ScaledObject scales.
type ScaleTarget struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name"`
}

// ScaleTrigger is one KEDA trigger.
type ScaleTrigger struct {
	Type              string             `json:"type"`
	Metadata          map[string]string  `json:"metadata"`
	AuthenticationRef *AuthenticationRef `json:"authenticationRef,omitempty"`
}

// YAML writes objs as one multi-document YAML stream.
func YAML(objs []Object) ([]byte, error) {
	var buf bytes.Buffer
	for i, o := range objs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		b, err := Marshal(o)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// Marshal writes one object as YAML, without the empty status and
// creationTimestamp fields the API types carry.
func Marshal(o Object) ([]byte, error) {
	b, err := yaml.Marshal(o.Value)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	prune(m)
	return yaml.Marshal(m)
}

// prune drops null values (creationTimestamp: null) and empty status
// maps, recursively; other empty maps (emptyDir: {}) mean something.
func prune(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			prune(e)
			if m, ok := e.(map[string]any); e == nil || k == "status" && ok && len(m) == 0 {
				delete(x, k)
			}
		}
	case []any:
		for _, e := range x {
			prune(e)
		}
	}
}

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	notDNS   = regexp.MustCompile(`[^a-z0-9-]+`)
)

// defaultName is the config's directory name as a Kubernetes name, else
// "ferry".
func defaultName(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "ferry"
	}
	n := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(filepath.Base(filepath.Dir(abs))), "-"), "-")
	if n == "" || len(n) > 52 {
		return "ferry"
	}
	return n
}

// cronJobName is <app>-<rule> as a Kubernetes name of at most 52
// characters (a CronJob's limit, leaving room for its Jobs' suffixes).
func cronJobName(app, rule string) string {
	n := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(rule), "-"), "-")
	if n != "" && len(app)+1+len(n) <= 52 {
		return app + "-" + n
	}
	h := sha256.Sum256([]byte(rule))
	suffix := hex.EncodeToString(h[:])[:8]
	room := 52 - len(app) - 2 - len(suffix) // app-n-suffix
	if room < 0 {
		return strings.TrimRight(app[:52-len(suffix)-1], "-") + "-" + suffix
	}
	if n = strings.Trim(n[:min(room, len(n))], "-"); n == "" {
		return app + "-" + suffix
	}
	return app + "-" + n + "-" + suffix
}

func ptr[T any](v T) *T { return &v }

func firstInt(v ...int) int {
	for _, n := range v {
		if n != 0 {
			return n
		}
	}
	return 0
}
