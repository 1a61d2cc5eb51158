package k8s

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrywasm/ferry/internal/config"
)

// TriggerAuthentication is KEDA's keda.sh/v1alpha1 TriggerAuthentication,
// with the fields ferry writes.
type TriggerAuthentication struct {
	APIVersion string                    `json:"apiVersion"`
	Kind       string                    `json:"kind"`
	Metadata   metav1.ObjectMeta         `json:"metadata"`
	Spec       TriggerAuthenticationSpec `json:"spec"`
}

// TriggerAuthenticationSpec is where a trigger's credentials come from:
// the pod's AWS identity, or keys of a Secret.
type TriggerAuthenticationSpec struct {
	PodIdentity     *PodIdentity      `json:"podIdentity,omitempty"`
	SecretTargetRef []SecretTargetRef `json:"secretTargetRef,omitempty"`
}

// PodIdentity names the identity provider, e.g. aws (EKS pod identity or IRSA).
type PodIdentity struct {
	Provider string `json:"provider"`
}

// SecretTargetRef maps a trigger parameter to a Secret's key.
type SecretTargetRef struct {
	Parameter string `json:"parameter"`
	Name      string `json:"name"`
	Key       string `json:"key"`
}

// AuthenticationRef names a TriggerAuthentication.
type AuthenticationRef struct {
	Name string `json:"name"`
}

// wholeRef matches a value that is one ${NAME} reference and nothing else.
var (
	wholeRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
	anyRef   = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// eventSourceSecret is the Secret the pod's event source variables come
// from: each ${NAME} an event source refers to is the Secret's key NAME.
func eventSourceSecret(app string) string { return app + "-event-sources" }

// eventSourceEnv lists the variables the event sources refer to, each
// from the app's Secret, so that ferry serve (and KEDA's *FromEnv
// settings) find them in the container's environment.
func eventSourceEnv(cfg *config.File, app string) []corev1.EnvVar {
	var names []string
	for _, fn := range cfg.Functions {
		for _, es := range fn.EventSources {
			for _, s := range eventSourceStrings(es) {
				for _, m := range anyRef.FindAllStringSubmatch(s, -1) {
					names = append(names, m[1])
				}
			}
		}
	}
	slices.Sort(names)
	var env []corev1.EnvVar
	for _, n := range slices.Compact(names) {
		env = append(env, corev1.EnvVar{Name: n, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: eventSourceSecret(app)}, Key: n}}})
	}
	return env
}

func eventSourceStrings(es config.EventSource) []string {
	switch {
	case es.SQS != nil:
		return []string{es.SQS.Queue, es.SQS.Endpoint, es.SQS.Region}
	case es.Kafka != nil:
		s := append([]string(nil), es.Kafka.BootstrapServers...)
		if es.Kafka.SASL != nil {
			s = append(s, es.Kafka.SASL.Username, es.Kafka.SASL.Password)
		}
		return s
	case es.RabbitMQ != nil:
		return []string{es.RabbitMQ.URL, es.RabbitMQ.VirtualHost}
	}
	return nil
}

// eventSourceTriggers returns KEDA's trigger for each event source of the
// file (aws-sqs-queue, kafka, rabbitmq), so the Deployment scales with the
// queues' depth, to zero when they are empty, and the TriggerAuthentications
// they use. Secrets are never written into the triggers: a value that is a
// ${NAME} reference becomes KEDA's *FromEnv setting (read from the
// container's environment, filled from the app's Secret), and a password
// written literally in ferry.yaml is refused.
func eventSourceTriggers(cfg *config.File, app string, meta func(string, map[string]string) metav1.ObjectMeta) ([]ScaleTrigger, []Object, error) {
	var triggers []ScaleTrigger
	auths := map[string]*TriggerAuthentication{}
	auth := func(suffix string, spec TriggerAuthenticationSpec) *AuthenticationRef {
		n := app + "-" + suffix
		if _, ok := auths[n]; !ok {
			auths[n] = &TriggerAuthentication{APIVersion: "keda.sh/v1alpha1", Kind: "TriggerAuthentication", Metadata: meta(n, nil), Spec: spec}
		}
		return &AuthenticationRef{Name: n}
	}
	for _, fn := range cfg.Functions {
		for _, es := range fn.EventSources {
			where := fmt.Sprintf("%s:%d: function %s: eventSources: %s", cfg.Path, es.Line, fn.Name, es.Kind())
			switch {
			case es.SQS != nil:
				c := es.SQS
				md := map[string]string{"queueLength": strconv.Itoa(cmp.Or(c.BatchSize, 10))}
				region := c.Region
				if m := wholeRef.FindStringSubmatch(c.Queue); m != nil {
					md["queueURLFromEnv"] = m[1]
				} else if strings.Contains(c.Queue, "${") {
					return nil, nil, fmt.Errorf("%s: queue: KEDA reads the queue URL whole from a variable; write queue: ${NAME}", where)
				} else {
					u, r := queueURL(c.Queue)
					md["queueURL"], region = u, cmp.Or(region, r)
				}
				md["awsRegion"] = cmp.Or(region, cfg.Region, "us-east-1")
				if c.Endpoint != "" {
					if strings.Contains(c.Endpoint, "${") {
						return nil, nil, fmt.Errorf("%s: endpoint: KEDA cannot read the endpoint from a variable; write it literally", where)
					}
					md["awsEndpoint"] = c.Endpoint
				}
				triggers = append(triggers, ScaleTrigger{Type: "aws-sqs-queue", Metadata: md,
					AuthenticationRef: auth("aws", TriggerAuthenticationSpec{PodIdentity: &PodIdentity{Provider: "aws"}})})
			case es.Kafka != nil:
				c := es.Kafka
				md := map[string]string{
					"consumerGroup":     cmp.Or(c.ConsumerGroupID, fn.Name),
					"lagThreshold":      strconv.Itoa(cmp.Or(c.BatchSize, 100)),
					"offsetResetPolicy": map[string]string{"LATEST": "latest"}[c.StartingPosition],
				}
				if md["offsetResetPolicy"] == "" {
					md["offsetResetPolicy"] = "earliest"
				}
				servers := strings.Join(c.BootstrapServers, ",")
				if m := wholeRef.FindStringSubmatch(servers); m != nil {
					md["bootstrapServersFromEnv"] = m[1]
				} else if strings.Contains(servers, "${") {
					return nil, nil, fmt.Errorf("%s: bootstrapServers: KEDA reads the brokers whole from a variable; write bootstrapServers: [${NAME}]", where)
				} else {
					md["bootstrapServers"] = servers
				}
				var ref *AuthenticationRef
				if s := c.SASL; s != nil {
					user, pass := wholeRef.FindStringSubmatch(s.Username), wholeRef.FindStringSubmatch(s.Password)
					if pass == nil || user == nil && strings.Contains(s.Username, "${") {
						return nil, nil, fmt.Errorf("%s: sasl: the password must be a ${NAME} reference (ferry k8s writes it to no manifest)", where)
					}
					md["sasl"] = map[string]string{"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}[strings.ToUpper(s.Mechanism)]
					spec := TriggerAuthenticationSpec{SecretTargetRef: []SecretTargetRef{{Parameter: "password", Name: eventSourceSecret(app), Key: pass[1]}}}
					if user != nil {
						spec.SecretTargetRef = append(spec.SecretTargetRef, SecretTargetRef{Parameter: "username", Name: eventSourceSecret(app), Key: user[1]})
					} else {
						md["username"] = s.Username
					}
					ref = auth("kafka-"+fn.Name, spec)
				}
				if c.TLS != nil {
					md["tls"] = "enable"
				}
				for _, topic := range c.Topics {
					tmd := map[string]string{"topic": topic}
					for k, v := range md {
						tmd[k] = v
					}
					triggers = append(triggers, ScaleTrigger{Type: "kafka", Metadata: tmd, AuthenticationRef: ref})
				}
			case es.RabbitMQ != nil:
				c := es.RabbitMQ
				md := map[string]string{"queueName": c.Queue, "mode": "QueueLength", "value": strconv.Itoa(cmp.Or(c.BatchSize, 100))}
				if c.VirtualHost != "" && !strings.Contains(c.VirtualHost, "${") {
					md["vhostName"] = c.VirtualHost
				}
				if m := wholeRef.FindStringSubmatch(c.URL); m != nil {
					md["hostFromEnv"] = m[1]
				} else if u, err := url.Parse(c.URL); err != nil || strings.Contains(c.URL, "${") || u.User != nil {
					return nil, nil, fmt.Errorf("%s: url: KEDA needs the broker URL with its credentials; write url: ${NAME} and put the URL in the Secret %s", where, eventSourceSecret(app))
				} else {
					md["host"] = c.URL
				}
				triggers = append(triggers, ScaleTrigger{Type: "rabbitmq", Metadata: md})
			}
		}
	}
	var objs []Object
	for _, n := range slices.Sorted(mapKeys(auths)) {
		objs = append(objs, Object{"TriggerAuthentication", n, auths[n]})
	}
	return triggers, objs, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// queueURL turns an SQS queue ARN into its URL (KEDA wants the URL); a URL
// is returned as it is. The region is the ARN's or the URL's.
func queueURL(q string) (string, string) {
	if p := strings.Split(q, ":"); len(p) == 6 && p[0] == "arn" {
		return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", p[3], p[4], p[5]), p[3]
	}
	if u, err := url.Parse(q); err == nil {
		if h := strings.Split(u.Hostname(), "."); len(h) >= 3 && h[0] == "sqs" {
			return q, h[1]
		}
	}
	return q, ""
}
