package config

// The kubernetes section: what `ferry k8s` and `ferry image` generate.

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	dnsLabelPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	imagePattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9._/:@-]*$`)
)

func (p *parser) kubernetes(n *yaml.Node) Kubernetes {
	k := Kubernetes{Line: n.Line}
	m, ok := p.fields(n, "kubernetes", kubernetesKeys...)
	if !ok {
		return k
	}
	at := func(key string) string { return "kubernetes: " + key }
	for _, f := range []struct {
		key string
		dst *string
		max int
	}{{"name", &k.Name, 52}, {"namespace", &k.Namespace, 63}} {
		// A name leaves room for the suffixes of CronJobs and their Jobs.
		if v := m[f.key]; v != nil {
			if s, ok := p.str(v, at(f.key)); ok {
				if !dnsLabelPattern.MatchString(s) || len(s) > f.max {
					p.fail(v, at(f.key), "%q is not a Kubernetes name (lower-case letters, digits and -, at most %d)", s, f.max)
				}
				*f.dst = s
			}
		}
	}
	if v := m["image"]; v != nil {
		if s, ok := p.nonEmpty(v, at("image")); ok {
			if !imagePattern.MatchString(s) {
				p.fail(v, at("image"), "%q is not an image reference like registry.example.com/app:1.0", s)
			}
			k.Image = s
		}
	}
	positive := func(n *yaml.Node, where string) int {
		v, ok := p.integer(n, where)
		if ok && v < 1 {
			p.fail(n, where, "%d is below the minimum of 1", v)
		}
		return v
	}
	if v := m["replicas"]; v != nil {
		k.Replicas = positive(v, at("replicas"))
	}
	if v := m["autoscaling"]; v != nil {
		if a, ok := p.fields(v, at("autoscaling"), autoscalingKeys...); ok {
			if n := a["minReplicas"]; n != nil {
				k.Autoscaling.MinReplicas = positive(n, at("autoscaling: minReplicas"))
			}
			if n := a["maxReplicas"]; n != nil {
				k.Autoscaling.MaxReplicas = positive(n, at("autoscaling: maxReplicas"))
			}
			if n := a["targetCPU"]; n != nil {
				if c := positive(n, at("autoscaling: targetCPU")); c > 100 {
					p.fail(n, at("autoscaling: targetCPU"), "%d is above 100 (percent of the CPU request)", c)
				} else {
					k.Autoscaling.TargetCPU = c
				}
			}
			if lo, hi := k.Autoscaling.MinReplicas, k.Autoscaling.MaxReplicas; lo > 0 && hi > 0 && lo > hi {
				p.fail(v, at("autoscaling"), "minReplicas %d is above maxReplicas %d", lo, hi)
			}
		}
	}
	if v := m["keda"]; v != nil {
		if a, ok := p.fields(v, at("keda"), kedaKeys...); ok {
			kd := &KEDA{}
			if n := a["serverAddress"]; n != nil {
				if s, ok := p.nonEmpty(n, at("keda: serverAddress")); ok {
					if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
						p.fail(n, at("keda: serverAddress"), "%q is not an http:// or https:// URL", s)
					}
					kd.ServerAddress = s
				}
			}
			if n := a["query"]; n != nil {
				kd.Query, _ = p.nonEmpty(n, at("keda: query"))
			}
			if n := a["threshold"]; n != nil {
				kd.Threshold = positive(n, at("keda: threshold"))
			}
			if n := a["minReplicas"]; n != nil {
				if c, ok := p.integer(n, at("keda: minReplicas")); ok {
					if c < 0 {
						p.fail(n, at("keda: minReplicas"), "%d is negative", c)
					}
					kd.MinReplicas = &c
				}
			}
			if n := a["maxReplicas"]; n != nil {
				kd.MaxReplicas = positive(n, at("keda: maxReplicas"))
			}
			if kd.MinReplicas != nil && kd.MaxReplicas > 0 && *kd.MinReplicas > kd.MaxReplicas {
				p.fail(v, at("keda"), "minReplicas %d is above maxReplicas %d", *kd.MinReplicas, kd.MaxReplicas)
			}
			k.KEDA = kd
		}
	}
	return k
}
